import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, memberOfNewProject, type TestCloud } from '../../support.js';
import { V2, makeNetworkWithSubnet, makePort, neutronError } from './fixtures.js';

let cloud: TestCloud;
let other: { token: string; projectId: string };
before(async () => {
  cloud = await startCloud();
  other = await memberOfNewProject(cloud, 'sgother');
  // These tests make more groups in the demo project than Neutron's default quota of 10
  // (quotas.test.ts tests the quota itself).
  const unlimited = await cloud.req('PUT', `${V2}/quotas/${cloud.demoProjectId}`, { token: cloud.adminToken, body: { quota: { security_group: -1 } } });
  assert.equal(unlimited.status, 200, unlimited.text);
});
after(async () => cloud.close());

const createGroup = async (name: string, token = cloud.demoToken, extra: Record<string, unknown> = {}) => {
  const res = await cloud.req('POST', `${V2}/security-groups`, { token, body: { security_group: { name, ...extra } } });
  assert.equal(res.status, 201, res.text);
  return res.body.security_group;
};
const postRule = (rule: Record<string, unknown>, token = cloud.demoToken) => cloud.req('POST', `${V2}/security-group-rules`, { token, body: { security_group_rule: rule } });
const ruleShape = (r: Record<string, unknown>) => [r.direction, r.ethertype, r.remote_group_id ? 'self' : null];

test("listing security groups creates the project's default group once, with Neutron's four rules", async () => {
  const fresh = await memberOfNewProject(cloud, 'sgfresh');
  const first = await cloud.req('GET', `${V2}/security-groups`, { token: fresh.token });
  assert.equal(first.status, 200);
  assert.equal(first.body.security_groups.length, 1);
  const g = first.body.security_groups[0];
  assert.equal(g.name, 'default');
  assert.equal(g.description, 'Default security group');
  assert.equal(g.project_id, fresh.projectId);
  assert.equal(g.stateful, true);
  assert.deepEqual(g.security_group_rules.map(ruleShape), [
    ['ingress', 'IPv4', 'self'],
    ['egress', 'IPv4', null],
    ['ingress', 'IPv6', 'self'],
    ['egress', 'IPv6', null],
  ]);
  assert.ok(g.security_group_rules.filter((r: { remote_group_id: string | null }) => r.remote_group_id).every((r: { remote_group_id: string }) => r.remote_group_id === g.id));
  const again = await cloud.req('GET', `${V2}/security-groups`, { token: fresh.token });
  assert.deepEqual(again.body.security_groups.map((x: { id: string }) => x.id), [g.id]);
});

test('POST /security-groups creates a group that lets everything out', async () => {
  const g = await createGroup('web', cloud.demoToken, { description: 'web servers' });
  assert.equal(g.name, 'web');
  assert.equal(g.description, 'web servers');
  assert.deepEqual(g.security_group_rules.map(ruleShape), [
    ['egress', 'IPv4', null],
    ['egress', 'IPv6', null],
  ]);
});

test('a group may not be named default', async () => {
  const res = await cloud.req('POST', `${V2}/security-groups`, { token: cloud.demoToken, body: { security_group: { name: 'Default' } } });
  assert.equal(neutronError(res, 409, 'SecurityGroupDefaultAlreadyExists'), 'Default security group already exists.');
});

test('a group may not be renamed default', async () => {
  const g = await createGroup('not-default');
  const res = await cloud.req('PUT', `${V2}/security-groups/${g.id}`, { token: cloud.demoToken, body: { security_group: { name: 'default' } } });
  assert.equal(neutronError(res, 409, 'SecurityGroupDefaultAlreadyExists'), 'Default security group already exists.');
});

test('GET /security-groups/{id} shows a group and filters by name', async () => {
  const g = await createGroup('showme');
  const one = await cloud.req('GET', `${V2}/security-groups/${g.id}`, { token: cloud.demoToken });
  assert.equal(one.body.security_group.name, 'showme');
  const byName = await cloud.req('GET', `${V2}/security-groups?name=showme`, { token: cloud.demoToken });
  assert.deepEqual(byName.body.security_groups.map((x: { id: string }) => x.id), [g.id]);
});

test('PUT /security-groups/{id} renames a group, but never the default one', async () => {
  const g = await createGroup('rename-me');
  const res = await cloud.req('PUT', `${V2}/security-groups/${g.id}`, { token: cloud.demoToken, body: { security_group: { name: 'renamed' } } });
  assert.equal(res.body.security_group.name, 'renamed');
  const def = (await cloud.req('GET', `${V2}/security-groups?name=default`, { token: cloud.demoToken })).body.security_groups[0];
  const bad = await cloud.req('PUT', `${V2}/security-groups/${def.id}`, { token: cloud.demoToken, body: { security_group: { name: 'x' } } });
  neutronError(bad, 409, 'SecurityGroupCannotUpdateDefault');
});

test('DELETE /security-groups/{id} answers 204 and takes its rules along', async () => {
  const g = await createGroup('doomed');
  assert.equal((await cloud.req('DELETE', `${V2}/security-groups/${g.id}`, { token: cloud.demoToken })).status, 204);
  neutronError(await cloud.req('GET', `${V2}/security-groups/${g.id}`, { token: cloud.demoToken }), 404, 'SecurityGroupNotFound');
  neutronError(await cloud.req('GET', `${V2}/security-group-rules/${g.security_group_rules[0].id}`, { token: cloud.demoToken }), 404, 'SecurityGroupRuleNotFound');
});

test('a group a port carries cannot be deleted: 409 SecurityGroupInUse', async () => {
  const g = await createGroup('carried');
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'sg-carried', '10.0.0.0/24');
  await makePort(cloud, cloud.demoToken, network.id, { security_groups: [g.id] });
  assert.equal(neutronError(await cloud.req('DELETE', `${V2}/security-groups/${g.id}`, { token: cloud.demoToken }), 409, 'SecurityGroupInUse'), `Security Group ${g.id} in use.`);
});

test('a member may not delete the default group; an admin may', async () => {
  const p = await memberOfNewProject(cloud, 'sgdefault');
  const def = (await cloud.req('GET', `${V2}/security-groups`, { token: p.token })).body.security_groups[0];
  const res = await cloud.req('DELETE', `${V2}/security-groups/${def.id}`, { token: p.token });
  assert.equal(neutronError(res, 409, 'SecurityGroupCannotRemoveDefault'), 'Insufficient rights for removing default security group.');
  assert.equal((await cloud.req('DELETE', `${V2}/security-groups/${def.id}`, { token: cloud.adminToken })).status, 204);
});

test("another project's group is invisible", async () => {
  const g = await createGroup('private-group');
  neutronError(await cloud.req('GET', `${V2}/security-groups/${g.id}`, { token: other.token }), 404);
  neutronError(await cloud.req('DELETE', `${V2}/security-groups/${g.id}`, { token: other.token }), 404);
  const list = await cloud.req('GET', `${V2}/security-groups`, { token: other.token });
  assert.ok(!list.body.security_groups.some((x: { id: string }) => x.id === g.id));
  neutronError(await postRule({ security_group_id: g.id, direction: 'ingress' }, other.token), 404, 'SecurityGroupNotFound');
});

test('an admin lists every project’s groups', async () => {
  const g = await createGroup('admin-sees', other.token);
  const list = await cloud.req('GET', `${V2}/security-groups?project_id=${other.projectId}`, { token: cloud.adminToken });
  assert.ok(list.body.security_groups.some((x: { id: string }) => x.id === g.id));
});

test('POST /security-group-rules adds an ingress TCP rule', async () => {
  const g = await createGroup('ssh');
  const res = await postRule({ security_group_id: g.id, direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_ip_prefix: '0.0.0.0/0' });
  assert.equal(res.status, 201);
  const r = res.body.security_group_rule;
  assert.equal(r.security_group_id, g.id);
  assert.equal(r.direction, 'ingress');
  assert.equal(r.ethertype, 'IPv4');
  assert.equal(r.protocol, 'tcp');
  assert.equal(r.port_range_min, 22);
  assert.equal(r.port_range_max, 22);
  assert.equal(r.remote_ip_prefix, '0.0.0.0/0');
  assert.equal(r.normalized_cidr, '0.0.0.0/0');
  assert.equal(r.project_id, cloud.demoProjectId);
  const shown = await cloud.req('GET', `${V2}/security-groups/${g.id}`, { token: cloud.demoToken });
  assert.ok(shown.body.security_group.security_group_rules.some((x: { id: string }) => x.id === r.id));
});

test('a rule prefix keeps its host bits; normalized_cidr clears them', async () => {
  const g = await createGroup('prefix');
  const r = (await postRule({ security_group_id: g.id, direction: 'ingress', remote_ip_prefix: '10.0.0.5/24' })).body.security_group_rule;
  assert.equal(r.remote_ip_prefix, '10.0.0.5/24');
  assert.equal(r.normalized_cidr, '10.0.0.0/24');
  const host = (await postRule({ security_group_id: g.id, direction: 'egress', remote_ip_prefix: '192.168.1.1' })).body.security_group_rule;
  assert.equal(host.remote_ip_prefix, '192.168.1.1/32');
});

test('a duplicate rule is 409 SecurityGroupRuleExists naming the existing rule', async () => {
  const g = await createGroup('dup');
  const first = (await postRule({ security_group_id: g.id, direction: 'ingress', protocol: 'icmp' })).body.security_group_rule;
  const msg = neutronError(await postRule({ security_group_id: g.id, direction: 'ingress', protocol: 'ICMP', remote_ip_prefix: '0.0.0.0/0' }), 409, 'SecurityGroupRuleExists');
  assert.equal(msg, `Security group rule already exists. Rule id is ${first.id}.`);
});

test('rule input is checked as Neutron checks it', async () => {
  const g = await createGroup('checks');
  const cases: [Record<string, unknown>, string, string][] = [
    [{ direction: 'up' }, 'HTTPBadRequest', "Invalid input for direction. Reason: up is not in ['ingress', 'egress']."],
    [{ direction: 'ingress', protocol: 'bogus' }, 'SecurityGroupRuleInvalidProtocol', 'Security group rule protocol bogus not supported.'],
    [{ direction: 'ingress', ethertype: 'IPv5' }, 'SecurityGroupRuleInvalidEtherType', "Security group rule for ethertype 'IPv5' not supported."],
    [{ direction: 'ingress', port_range_min: 22 }, 'SecurityGroupProtocolRequiredWithPorts', 'Must also specify protocol if port range is given.'],
    [{ direction: 'ingress', protocol: 'tcp', port_range_min: 80, port_range_max: 22 }, 'SecurityGroupInvalidPortRange', 'For TCP/UDP protocols, port_range_min must be <= port_range_max'],
    [{ direction: 'ingress', protocol: 'tcp', port_range_min: 70000, port_range_max: 70000 }, 'SecurityGroupInvalidPortValue', 'Invalid value for port 70000'],
    [{ direction: 'ingress', protocol: 'icmp', port_range_min: 300 }, 'SecurityGroupInvalidIcmpValue', 'Invalid value for ICMP type (port_range_min) 300. It must be 0 to 255.'],
    [{ direction: 'ingress', protocol: 'gre', port_range_min: 1, port_range_max: 2 }, 'SecurityGroupInvalidProtocolForPort', 'Ports cannot be specified for protocol 47.'],
    [{ direction: 'ingress', ethertype: 'IPv6', remote_ip_prefix: '10.0.0.0/8' }, 'SecurityGroupRuleParameterConflict', 'Conflicting value ethertype IPv6 for CIDR 10.0.0.0/8'],
    [{ direction: 'ingress', remote_ip_prefix: 'ten' }, 'InvalidCIDR', 'Invalid CIDR ten given as IP prefix.'],
    [{ direction: 'ingress', remote_ip_prefix: '10.0.0.0/8', remote_group_id: g.id }, 'SecurityGroupMultipleRemoteEntites', 'Only one of remote_ip_prefix'],
    [{ direction: 'ingress', protocol: 'ipv6-icmp' }, 'SecurityGroupEthertypeConflictWithProtocol', 'Invalid ethertype IPv4 for protocol ipv6-icmp.'],
  ];
  for (const [rule, type, message] of cases) {
    const res = await postRule({ security_group_id: g.id, ...rule });
    assert.ok(neutronError(res, 400, type).startsWith(message), `${JSON.stringify(rule)}: ${res.text}`);
  }
  const missing = await postRule({ security_group_id: g.id });
  assert.equal(neutronError(missing, 400), "Failed to parse request. Required attribute 'direction' not specified");
});

test('IPv6 ICMP written the legacy way is stored as ipv6-icmp, and a full port range as none', async () => {
  const g = await createGroup('canon');
  const icmp6 = (await postRule({ security_group_id: g.id, direction: 'ingress', ethertype: 'ipv6', protocol: 'icmp' })).body.security_group_rule;
  assert.equal(icmp6.protocol, 'ipv6-icmp');
  assert.equal(icmp6.ethertype, 'IPv6');
  const all = (await postRule({ security_group_id: g.id, direction: 'ingress', protocol: 'udp', port_range_min: 1, port_range_max: 65535 })).body.security_group_rule;
  assert.equal(all.port_range_min, null);
  assert.equal(all.port_range_max, null);
});

test('a rule may name a remote group, which must exist', async () => {
  const g = await createGroup('remote');
  const peer = await createGroup('peer');
  const r = (await postRule({ security_group_id: g.id, direction: 'ingress', remote_group_id: peer.id })).body.security_group_rule;
  assert.equal(r.remote_group_id, peer.id);
  neutronError(await postRule({ security_group_id: g.id, direction: 'egress', remote_group_id: '00000000-0000-0000-0000-000000000000' }), 404, 'SecurityGroupNotFound');
});

test('GET /security-group-rules filters by security_group_id and direction', async () => {
  const g = await createGroup('rulelist');
  const list = await cloud.req('GET', `${V2}/security-group-rules?security_group_id=${g.id}&direction=egress`, { token: cloud.demoToken });
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.security_group_rules.map((r: { ethertype: string }) => r.ethertype), ['IPv4', 'IPv6']);
  const none = await cloud.req('GET', `${V2}/security-group-rules?security_group_id=${g.id}`, { token: other.token });
  assert.deepEqual(none.body.security_group_rules, []);
});

test('DELETE /security-group-rules/{id} answers 204', async () => {
  const g = await createGroup('ruledel');
  const rule = g.security_group_rules[0];
  assert.equal((await cloud.req('DELETE', `${V2}/security-group-rules/${rule.id}`, { token: cloud.demoToken })).status, 204);
  neutronError(await cloud.req('GET', `${V2}/security-group-rules/${rule.id}`, { token: cloud.demoToken }), 404, 'SecurityGroupRuleNotFound');
});

test('a reader may list groups but not create one or add a rule', async () => {
  const reader = await memberOfNewProject(cloud, 'sgreader', 'reader');
  const list = await cloud.req('GET', `${V2}/security-groups`, { token: reader.token });
  assert.equal(list.status, 200);
  const res = await cloud.req('POST', `${V2}/security-groups`, { token: reader.token, body: { security_group: { name: 'x' } } });
  assert.equal(neutronError(res, 403), 'rule:create_security_group is disallowed by policy');
  const rule = await postRule({ security_group_id: list.body.security_groups[0].id, direction: 'ingress', protocol: 'tcp', port_range_min: 80, port_range_max: 80 }, reader.token);
  neutronError(rule, 403, 'PolicyNotAuthorized');
});

test('a project listing its groups many times at once still gets one default group', async () => {
  const fresh = await memberOfNewProject(cloud, 'sgrace');
  const results = await Promise.all(Array.from({ length: 8 }, () => cloud.req('GET', `${V2}/security-groups`, { token: fresh.token })));
  assert.ok(results.every((r) => r.status === 200), results.map((r) => r.text).join('\n'));
  const ids = new Set(results.flatMap((r) => r.body.security_groups.map((g: { id: string }) => g.id)));
  assert.equal(ids.size, 1);
});
