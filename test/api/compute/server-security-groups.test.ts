/**
 * Nova's addSecurityGroup and removeSecurityGroup server actions
 * (nova/api/openstack/compute/security_groups.py, nova/network/security_group_api.py): the
 * caller's group, by name or id, goes on or off every port of the server at once, and the
 * server shows the groups its ports have — none at all once the last one is removed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { tenant } from './server-fixtures.js';

let cloud: TestCloud;
let imageId: string;
before(async () => {
  cloud = await startCloud();
  imageId = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
  // A server per test: room for them all in the demo project.
  const quota = { quota_set: { instances: 50, cores: 100, ram: 512 * 1024 } };
  await cloud.req('PUT', `/compute/v2.1/os-quota-sets/${cloud.demoProjectId}`, { token: cloud.adminToken, body: quota });
});
after(async () => cloud.close());

async function activeServer(token: string, extra: Record<string, unknown> = {}, version?: string): Promise<string> {
  const res = await cloud.req('POST', '/compute/v2.1/servers', { token, version, body: { server: { name: 'sg', imageRef: imageId, flavorRef: '1', ...extra } } });
  assert.equal(res.status, 202, res.text);
  await cloud.services.runner.idle();
  return res.body.server.id;
}

const action = (token: string, id: string, body: unknown) => cloud.req('POST', `/compute/v2.1/servers/${id}/action`, { token, body });
const show = async (token: string, id: string) => (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token })).body.server;
const group = async (token: string, name: string) =>
  (await cloud.req('POST', '/network/v2.0/security-groups', { token, body: { security_group: { name } } })).body.security_group;
const portsOf = async (token: string, id: string) => (await cloud.req('GET', `/network/v2.0/ports?device_id=${id}`, { token })).body.ports;

test('addSecurityGroup puts the group on the server’s ports, and the server shows it', async () => {
  const id = await activeServer(cloud.demoToken);
  const web = await group(cloud.demoToken, 'web');
  const res = await action(cloud.demoToken, id, { addSecurityGroup: { name: 'web' } });
  assert.equal(res.status, 202, res.text);
  const [port] = await portsOf(cloud.demoToken, id);
  assert.ok(port.security_groups.includes(web.id));
  assert.deepEqual((await show(cloud.demoToken, id)).security_groups, [{ name: 'default' }, { name: 'web' }]);
});

test('a group is named by id as well as by name', async () => {
  const id = await activeServer(cloud.demoToken);
  const db = await group(cloud.demoToken, 'db-by-id');
  assert.equal((await action(cloud.demoToken, id, { addSecurityGroup: { name: db.id } })).status, 202);
  assert.deepEqual((await show(cloud.demoToken, id)).security_groups, [{ name: 'default' }, { name: 'db-by-id' }]);
});

test('removing the server’s only group leaves it showing no security_groups, as Tempest checks', async () => {
  const id = await activeServer(cloud.demoToken);
  const res = await action(cloud.demoToken, id, { removeSecurityGroup: { name: 'default' } });
  assert.equal(res.status, 202, res.text);
  assert.equal('security_groups' in (await show(cloud.demoToken, id)), false);
  assert.deepEqual((await portsOf(cloud.demoToken, id))[0].security_groups, []);
});

test('removing a group the server does not have is 404 naming it', async () => {
  const id = await activeServer(cloud.demoToken);
  await group(cloud.demoToken, 'unused');
  const res = await action(cloud.demoToken, id, { removeSecurityGroup: { name: 'unused' } });
  assert.equal(res.status, 404);
  assert.equal(res.body.itemNotFound.message, `Security group unused not associated with the instance ${id}`);
});

test('an unknown group, or another project’s, is 404 for the caller’s project', async () => {
  const id = await activeServer(cloud.demoToken);
  const other = await tenant(cloud, 'sg-other');
  const theirs = await group(other.token, 'theirs');
  for (const name of ['nosuch', theirs.id]) {
    const res = await action(cloud.demoToken, id, { addSecurityGroup: { name } });
    assert.equal(res.status, 404);
    assert.equal(res.body.itemNotFound.message, `Security group ${name} is not found for project ${cloud.demoProjectId}`);
  }
});

test('two groups of the same name are 409: the caller must use an id', async () => {
  const id = await activeServer(cloud.demoToken);
  await group(cloud.demoToken, 'twin');
  await group(cloud.demoToken, 'twin');
  const res = await action(cloud.demoToken, id, { addSecurityGroup: { name: 'twin' } });
  assert.equal(res.status, 409);
});

test('a server without ports cannot take a group: 404', async () => {
  const created = await activeServer(cloud.demoToken, { networks: 'none' }, '2.37');
  const res = await action(cloud.demoToken, created, { addSecurityGroup: { name: 'default' } });
  assert.equal(res.status, 404);
  assert.equal(res.body.itemNotFound.message, `instance_id ${created} could not be found as device id on any ports`);
});

const badBodies: [string, unknown, string][] = [
  ['not a dict', { addSecurityGroup: 'web' }, 'Missing parameter dict'],
  ['no name', { addSecurityGroup: {} }, 'Security group not specified'],
  ['an empty name', { removeSecurityGroup: { name: '  ' } }, 'Security group name cannot be empty'],
  ['a name that is not a string', { addSecurityGroup: { name: 7 } }, 'Security group name cannot be empty'],
];
let target = '';
for (const [what, body, message] of badBodies) {
  test(`an add/removeSecurityGroup body with ${what} is 400: ${message}`, async () => {
    const id = (target ||= await activeServer(cloud.demoToken));
    const res = await action(cloud.demoToken, id, body);
    assert.equal(res.status, 400);
    assert.equal(res.body.badRequest.message, message);
  });
}

test('groups changed on a port through the Networking API show on its server', async () => {
  const id = await activeServer(cloud.demoToken);
  const api = await group(cloud.demoToken, 'api-side');
  const [port] = await portsOf(cloud.demoToken, id);
  const res = await cloud.req('PUT', `/network/v2.0/ports/${port.id}`, { token: cloud.demoToken, body: { port: { security_groups: [api.id] } } });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual((await show(cloud.demoToken, id)).security_groups, [{ name: 'api-side' }]);
});
