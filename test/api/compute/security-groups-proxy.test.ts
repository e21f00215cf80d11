/**
 * Nova's security group proxy (os-security-groups, os-security-group-rules, a server's
 * os-security-groups) up to 2.35, in Nova's shapes and messages
 * (nova/api/openstack/compute/security_groups.py), over the same groups the Networking
 * API shows.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startCloud, type TestCloud } from '../../support.js';
import { tenant } from './server-fixtures.js';

let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
});
after(async () => cloud.close());

const nova = (method: string, path: string, body?: unknown, token = cloud.demoToken, version?: string) =>
  cloud.req(method, `/compute/v2.1${path}`, { token, body, version });

async function group(name: string, token = cloud.demoToken) {
  const res = await nova('POST', '/os-security-groups', { security_group: { name, description: `${name} group` } }, token);
  assert.equal(res.status, 200, res.text);
  return res.body.security_group;
}

async function rule(body: Record<string, unknown>) {
  return nova('POST', '/os-security-group-rules', { security_group_rule: body });
}

test('a group made through the proxy has Nova’s shape and is the Networking API’s group', async () => {
  const g = await group('proxy-web');
  assert.deepEqual(Object.keys(g).sort(), ['description', 'id', 'name', 'rules', 'tenant_id']);
  assert.deepEqual([g.name, g.description, g.tenant_id, g.rules], ['proxy-web', 'proxy-web group', cloud.demoProjectId, []]);
  const neutron = await cloud.req('GET', `/network/v2.0/security-groups/${g.id}`, { token: cloud.demoToken });
  assert.equal(neutron.body.security_group.name, 'proxy-web');
});

test('the list is the project’s groups, the default one included, sorted by name', async () => {
  await group('zz-last');
  const res = await nova('GET', '/os-security-groups');
  assert.equal(res.status, 200);
  const names = res.body.security_groups.map((g: { name: string }) => g.name);
  assert.ok(names.includes('default') && names.includes('zz-last'));
  assert.deepEqual(names, [...names].sort());
});

test('the default group shows its ingress rule from the group itself, with Nova’s ports and group', async () => {
  const list = (await nova('GET', '/os-security-groups')).body.security_groups;
  const def = list.find((g: { name: string }) => g.name === 'default');
  const fromItself = def.rules.find((r: { group: { name?: string } }) => r.group.name === 'default');
  assert.deepEqual(fromItself, { id: fromItself.id, parent_group_id: def.id, ip_protocol: null, from_port: null, to_port: null, group: { name: 'default', tenant_id: cloud.demoProjectId }, ip_range: {} });
});

test('the proxy is gone from 2.36: 404', async () => {
  assert.equal((await nova('GET', '/os-security-groups', undefined, cloud.demoToken, '2.36')).status, 404);
  assert.equal((await nova('POST', '/os-security-group-rules', { security_group_rule: {} }, cloud.demoToken, '2.36')).status, 404);
});

const badGroups: [string, unknown, string][] = [
  ['no body', {}, "The request body can't be empty"],
  ['no security_group', { other: 1 }, 'Missing parameter security_group'],
  ['a name over 255 characters', { security_group: { name: 'n'.repeat(260), description: 'd' } }, 'name has 260 characters, more than 255.'],
  ['a description over 255 characters', { security_group: { name: 'n', description: 'd'.repeat(256) } }, 'description has 256 characters, more than 255.'],
  ['no description', { security_group: { name: 'n' } }, 'description is not a string or unicode'],
];
for (const [what, body, message] of badGroups) {
  test(`creating a group with ${what} is 400: ${message}`, async () => {
    const res = await nova('POST', '/os-security-groups', body);
    assert.equal(res.status, 400);
    assert.equal(res.body.badRequest.message, message);
  });
}

test('an id that is not a uuid is 400; an unknown one, or another project’s, is 404', async () => {
  const bad = await nova('GET', '/os-security-groups/not-a-uuid');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.badRequest.message, 'Security group id should be uuid');
  const theirs = await group('theirs', (await tenant(cloud, 'proxy-other')).token);
  for (const id of [randomUUID(), theirs.id]) {
    const res = await nova('GET', `/os-security-groups/${id}`);
    assert.equal(res.status, 404);
    assert.equal(res.body.itemNotFound.message, `Security group ${id} does not exist`);
  }
});

test('DELETE without an id is 404: no such route', async () => {
  assert.equal((await nova('DELETE', '/os-security-groups/')).status, 404);
});

test('PUT renames a group and changes its description', async () => {
  const g = await group('before');
  const res = await nova('PUT', `/os-security-groups/${g.id}`, { security_group: { name: 'after', description: 'new' } });
  assert.equal(res.status, 200, res.text);
  const shown = (await nova('GET', `/os-security-groups/${g.id}`)).body.security_group;
  assert.deepEqual([shown.name, shown.description], ['after', 'new']);
});

test('DELETE is 202; the default group, or one a server’s port carries, is 400', async () => {
  const g = await group('doomed');
  assert.equal((await nova('DELETE', `/os-security-groups/${g.id}`)).status, 202);
  assert.equal((await nova('GET', `/os-security-groups/${g.id}`)).status, 404);
  const def = (await nova('GET', '/os-security-groups')).body.security_groups.find((x: { name: string }) => x.name === 'default');
  const res = await nova('DELETE', `/os-security-groups/${def.id}`);
  assert.equal(res.status, 400);
  assert.match(res.body.badRequest.message, /default security group|in use/);
});

test('a TCP rule from a CIDR comes back in Nova’s shape and shows in its group', async () => {
  const g = await group('rules-cidr');
  const res = await rule({ parent_group_id: g.id, ip_protocol: 'tcp', from_port: 22, to_port: 22, cidr: '10.0.0.0/8' });
  assert.equal(res.status, 200, res.text);
  const r = res.body.security_group_rule;
  assert.deepEqual(r, { id: r.id, parent_group_id: g.id, ip_protocol: 'tcp', from_port: 22, to_port: 22, group: {}, ip_range: { cidr: '10.0.0.0/8' } });
  const shown = (await nova('GET', `/os-security-groups/${g.id}`)).body.security_group;
  assert.deepEqual(shown.rules, [r]);
});

test('a rule from another group names that group; deleting the peer group deletes the rule', async () => {
  const g = await group('rules-peer');
  const peer = await group('the-peer');
  const res = await rule({ parent_group_id: g.id, ip_protocol: 'icmp', group_id: peer.id });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual([res.body.security_group_rule.from_port, res.body.security_group_rule.to_port], [-1, -1]);
  assert.deepEqual(res.body.security_group_rule.group, { name: 'the-peer', tenant_id: cloud.demoProjectId });
  assert.equal((await nova('DELETE', `/os-security-groups/${peer.id}`)).status, 202);
  assert.deepEqual((await nova('GET', `/os-security-groups/${g.id}`)).body.security_group.rules, []);
});

test('the same rule twice is 400 naming the group', async () => {
  const g = await group('rules-twice');
  const body = { parent_group_id: g.id, ip_protocol: 'udp', from_port: 53, to_port: 53, cidr: '0.0.0.0/0' };
  assert.equal((await rule(body)).status, 200);
  const res = await rule(body);
  assert.equal(res.status, 400);
  assert.equal(res.body.badRequest.message, `This rule already exists in group ${g.id}`);
});

test('DELETE of a rule is 202, and of an unknown one 404', async () => {
  const g = await group('rules-delete');
  const r = (await rule({ parent_group_id: g.id, ip_protocol: 'tcp', from_port: 80, to_port: 80 })).body.security_group_rule;
  assert.equal((await nova('DELETE', `/os-security-group-rules/${r.id}`)).status, 202);
  assert.equal((await nova('DELETE', `/os-security-group-rules/${r.id}`)).status, 404);
});

const badRules: [string, Record<string, unknown>, string | RegExp][] = [
  ['an unknown protocol', { ip_protocol: 'gre', from_port: 1, to_port: 2 }, 'Invalid IP protocol gre.'],
  ['a port that is not a number', { ip_protocol: 'tcp', from_port: 'x', to_port: 22 }, 'Invalid input received: To and From ports must be integers'],
  ['ports the wrong way round', { ip_protocol: 'tcp', from_port: 30, to_port: 20 }, 'Invalid port range 30:20. Former value cannot be greater than the later'],
  ['a port over 65535', { ip_protocol: 'tcp', from_port: 1, to_port: 70000 }, 'Invalid port range 1:70000. Valid TCP ports should be between 1-65535'],
  ['an ICMP type over 255', { ip_protocol: 'icmp', from_port: 300, to_port: 0 }, 'Invalid port range 300:0. For ICMP, the type:code must be valid'],
  ['a CIDR that is not one', { ip_protocol: 'tcp', from_port: 1, to_port: 2, cidr: '10.0.0.300/8' }, '10.0.0.300/8 is not a valid IP network.'],
  ['a CIDR rule without protocol', { cidr: '10.0.0.0/8' }, 'Not enough parameters to build a valid rule.'],
  ['a zero prefix on a network', { ip_protocol: 'tcp', from_port: 1, to_port: 2, cidr: '10.0.0.0/0' }, 'Bad prefix for network in cidr 10.0.0.0/0'],
];
for (const [what, extra, message] of badRules) {
  test(`a rule with ${what} is 400: ${message}`, async () => {
    const g = (await nova('GET', '/os-security-groups')).body.security_groups[0];
    const res = await rule({ parent_group_id: g.id, ...extra });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.badRequest.message, message);
  });
}

test('a rule on a group that does not exist is 404; a parent id that is not a uuid is 400', async () => {
  assert.equal((await rule({ parent_group_id: randomUUID(), ip_protocol: 'tcp', from_port: 1, to_port: 2 })).status, 404);
  assert.equal((await rule({ parent_group_id: 'nope', ip_protocol: 'tcp', from_port: 1, to_port: 2 })).status, 400);
});

test('a server’s os-security-groups lists the groups on its ports in Nova’s shape', async () => {
  const imageId = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
  const g = await group('on-server');
  const created = await nova('POST', '/servers', { server: { name: 's', imageRef: imageId, flavorRef: '1', security_groups: [{ name: 'on-server' }] } });
  assert.equal(created.status, 202, created.text);
  await cloud.services.runner.idle();
  const res = await nova('GET', `/servers/${created.body.server.id}/os-security-groups`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.security_groups.map((x: { id: string }) => x.id), [g.id]);
  assert.equal((await nova('DELETE', `/os-security-groups/${g.id}`)).status, 400);
});
