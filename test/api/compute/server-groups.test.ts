import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';

let cloud: TestCloud;
let imageId: string;
before(async () => {
  cloud = await startCloud();
  imageId = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
});
after(async () => cloud.close());

const group = (body: unknown, version?: string, token = cloud.adminToken) => cloud.req('POST', '/compute/v2.1/os-server-groups', { token, version, body });
const boot = async (name: string, groupId: string) => {
  const res = await cloud.req('POST', '/compute/v2.1/servers', { token: cloud.adminToken, body: { server: { name, imageRef: imageId, flavorRef: '1' }, 'os:scheduler_hints': { group: groupId } } });
  assert.equal(res.status, 202, res.text);
  return res.body.server.id as string;
};
const hostOf = async (id: string) => (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: cloud.adminToken })).body.server['OS-EXT-SRV-ATTR:host'];
const removeAll = async (ids: string[]) => {
  for (const id of ids) await cloud.req('DELETE', `/compute/v2.1/servers/${id}`, { token: cloud.adminToken });
  await cloud.services.runner.idle();
};

test('a group is created with policies before 2.64 and shown with members and metadata', async () => {
  const res = await group({ server_group: { name: 'g1', policies: ['anti-affinity'] } });
  assert.equal(res.status, 200);
  assert.deepEqual(Object.keys(res.body.server_group).sort(), ['id', 'members', 'metadata', 'name', 'policies']);
  assert.deepEqual(res.body.server_group.policies, ['anti-affinity']);
  const shown = await cloud.req('GET', `/compute/v2.1/os-server-groups/${res.body.server_group.id}`, { token: cloud.adminToken, version: '2.13' });
  assert.equal(shown.body.server_group.project_id, cloud.adminProjectId);
});

test('from 2.64 a group has one policy and rules, and rules need anti-affinity', async () => {
  const res = await group({ server_group: { name: 'g2', policy: 'anti-affinity', rules: { max_server_per_host: 2 } } }, '2.64');
  assert.equal(res.status, 200);
  assert.equal(res.body.server_group.policy, 'anti-affinity');
  assert.deepEqual(res.body.server_group.rules, { max_server_per_host: 2 });
  assert.equal(res.body.server_group.policies, undefined);
  const bad = await group({ server_group: { name: 'g3', policy: 'affinity', rules: { max_server_per_host: 2 } } }, '2.64');
  assert.equal(bad.status, 400);
  assert.match(bad.body.badRequest.message, /Only anti-affinity policy supports rules/);
});

test('soft policies need 2.15 and invalid bodies are 400 naming the field', async () => {
  assert.equal((await group({ server_group: { name: 'soft', policies: ['soft-affinity'] } }, '2.14')).status, 400);
  assert.equal((await group({ server_group: { name: 'soft', policies: ['soft-affinity'] } }, '2.15')).status, 200);
  const noName = await group({ server_group: { policies: ['affinity'] } });
  assert.match(noName.body.badRequest.message, /'name' is a required property/);
  const two = await group({ server_group: { name: 'x', policies: ['affinity', 'anti-affinity'] } });
  assert.equal(two.status, 400);
  assert.match(two.body.badRequest.message, /policies/);
});

test('anti-affinity puts each member on a different host, and a fourth member finds no host', async () => {
  const g = (await group({ server_group: { name: 'spread', policies: ['anti-affinity'] } })).body.server_group.id;
  const ids = [await boot('a1', g), await boot('a2', g), await boot('a3', g)];
  await cloud.services.runner.idle();
  const hosts = await Promise.all(ids.map(hostOf));
  assert.equal(new Set(hosts).size, 3);
  const fourth = await boot('a4', g);
  await cloud.services.runner.idle();
  const s = (await cloud.req('GET', `/compute/v2.1/servers/${fourth}`, { token: cloud.adminToken })).body.server;
  assert.equal(s.status, 'ERROR');
  assert.match(s.fault.message, /No valid host was found/);
  const shown = await cloud.req('GET', `/compute/v2.1/os-server-groups/${g}`, { token: cloud.adminToken });
  assert.equal(shown.body.server_group.members.length, 4);
  await removeAll([...ids, fourth]);
});

test('affinity keeps every member on the first member’s host', async () => {
  const g = (await group({ server_group: { name: 'together', policies: ['affinity'] } })).body.server_group.id;
  const first = await boot('b1', g);
  await cloud.services.runner.idle();
  const ids = [first, await boot('b2', g), await boot('b3', g)];
  await cloud.services.runner.idle();
  const hosts = await Promise.all(ids.map(hostOf));
  assert.equal(new Set(hosts).size, 1);
  const show = await cloud.req('GET', `/compute/v2.1/servers/${first}`, { token: cloud.adminToken, version: '2.71' });
  assert.deepEqual(show.body.server.server_groups, [g]);
  await removeAll(ids);
  const after = await cloud.req('GET', `/compute/v2.1/os-server-groups/${g}`, { token: cloud.adminToken });
  assert.deepEqual(after.body.server_group.members, [], 'deleted servers leave the group');
});

test('a project sees only its own groups; all_projects is for admins', async () => {
  const mine = (await group({ server_group: { name: 'demo-group', policies: ['affinity'] } }, undefined, cloud.demoToken)).body.server_group.id;
  const list = await cloud.req('GET', '/compute/v2.1/os-server-groups', { token: cloud.demoToken });
  assert.deepEqual(list.body.server_groups.map((g: { id: string }) => g.id), [mine]);
  const adminOwn = await cloud.req('GET', '/compute/v2.1/os-server-groups', { token: cloud.adminToken });
  assert.ok(!adminOwn.body.server_groups.some((g: { id: string }) => g.id === mine));
  const adminAll = await cloud.req('GET', '/compute/v2.1/os-server-groups?all_projects=1', { token: cloud.adminToken });
  assert.ok(adminAll.body.server_groups.some((g: { id: string }) => g.id === mine));
  const adminsGroup = adminAll.body.server_groups.find((g: { id: string }) => g.id !== mine).id;
  assert.equal((await cloud.req('GET', `/compute/v2.1/os-server-groups/${adminsGroup}`, { token: cloud.demoToken })).status, 404);
  assert.equal((await cloud.req('DELETE', `/compute/v2.1/os-server-groups/${mine}`, { token: cloud.demoToken })).status, 204);
  assert.equal((await cloud.req('DELETE', `/compute/v2.1/os-server-groups/${mine}`, { token: cloud.demoToken })).status, 404);
});

test('limit and offset page the list, and bad values are 400', async () => {
  const all = (await cloud.req('GET', '/compute/v2.1/os-server-groups', { token: cloud.adminToken })).body.server_groups;
  const page = (await cloud.req('GET', '/compute/v2.1/os-server-groups?limit=1&offset=1', { token: cloud.adminToken })).body.server_groups;
  assert.deepEqual(page.map((g: { id: string }) => g.id), [all[1].id]);
  assert.equal((await cloud.req('GET', '/compute/v2.1/os-server-groups?limit=-1', { token: cloud.adminToken })).status, 400);
  assert.equal((await cloud.req('GET', '/compute/v2.1/os-server-groups?bogus=1', { token: cloud.adminToken, version: '2.75' })).status, 400);
});

test('booting into an unknown group is 400', async () => {
  const res = await cloud.req('POST', '/compute/v2.1/servers', { token: cloud.adminToken, body: { server: { name: 'x', imageRef: imageId, flavorRef: '1' }, 'os:scheduler_hints': { group: '00000000-0000-0000-0000-000000000000' } } });
  assert.equal(res.status, 400);
  assert.match(res.body.badRequest.message, /could not be found/);
});
