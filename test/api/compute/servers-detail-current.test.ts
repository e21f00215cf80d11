/**
 * A detailed list and a show keep each server's rendering by row version (views/servers.ts,
 * migration 016); these check that whatever changes a server, by any path, shows in the
 * very next list: its row (through the API or written straight to the database, as a task
 * step does), its tags, its host's status.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { ownServer, setServer } from './server-fixtures.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

const detail = async (token: string, version = '2.1') => {
  const res = await cloud.req('GET', '/compute/v2.1/servers/detail', { token, version });
  assert.equal(res.status, 200, res.text);
  return res.body.servers as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
};

test('a detailed list shows a rename made through the API right after it', async () => {
  const s = await ownServer(cloud);
  assert.equal((await detail(s.token))[0].name, 'srv');
  const put = await cloud.req('PUT', `/compute/v2.1/servers/${s.id}`, { token: s.token, body: { server: { name: 'renamed' } } });
  assert.equal(put.status, 200, put.text);
  assert.equal((await detail(s.token))[0].name, 'renamed');
});

test('a detailed list shows a change written straight to the server row', async () => {
  const s = await ownServer(cloud);
  assert.equal((await detail(s.token))[0]['OS-EXT-STS:vm_state'], 'active');
  await setServer(cloud, s.id, { vm_state: 'stopped', power_state: 4 });
  const [shown] = await detail(s.token);
  assert.equal(shown.status, 'SHUTOFF');
  assert.equal(shown['OS-EXT-STS:power_state'], 4);
});

test('a detailed list shows tags added and removed since the last list (2.26)', async () => {
  const s = await ownServer(cloud);
  assert.deepEqual((await detail(s.token, '2.26'))[0].tags, []);
  assert.equal((await cloud.req('PUT', `/compute/v2.1/servers/${s.id}/tags/blue`, { token: s.token, version: '2.26' })).status, 201);
  assert.deepEqual((await detail(s.token, '2.26'))[0].tags, ['blue']);
  assert.equal((await cloud.req('DELETE', `/compute/v2.1/servers/${s.id}/tags/blue`, { token: s.token, version: '2.26' })).status, 204);
  assert.deepEqual((await detail(s.token, '2.26'))[0].tags, []);
});

test('a detailed list shows each microversion and role its own view of the same row', async () => {
  const s = await ownServer(cloud);
  const old = (await detail(s.token, '2.1'))[0];
  const newer = (await detail(s.token, '2.47'))[0];
  assert.deepEqual(Object.keys(old.flavor), ['id', 'links']);
  assert.equal(newer.flavor.original_name, 'm1.tiny');
  assert.equal((await detail(s.token, '2.1'))[0].flavor.id, '1');
});

test("an admin's detailed list shows the host's status as it changes (2.16)", async () => {
  const s = await ownServer(cloud);
  const host = async () => {
    const res = await cloud.req('GET', '/compute/v2.1/servers/detail?all_tenants=1', { token: cloud.adminToken, version: '2.16' });
    return res.body.servers.find((x: { id: string }) => x.id === s.id);
  };
  const before = await host();
  assert.equal(before.host_status, 'UP');
  const name = before['OS-EXT-SRV-ATTR:host'];
  assert.equal((await cloud.req('PUT', `/nimbus/v1/hosts/${name}`, { token: cloud.adminToken, body: { host: { state: 'down' } } })).status, 200);
  try {
    assert.equal((await host()).host_status, 'DOWN');
  } finally {
    await cloud.req('PUT', `/nimbus/v1/hosts/${name}`, { token: cloud.adminToken, body: { host: { state: 'up' } } });
  }
});

test('a server shown again shows a change written straight to its row since', async () => {
  const s = await ownServer(cloud);
  const show = async () => (await cloud.req('GET', `/compute/v2.1/servers/${s.id}`, { token: s.token })).body.server;
  assert.equal((await show()).status, 'ACTIVE');
  await setServer(cloud, s.id, { vm_state: 'paused', power_state: 3 });
  assert.equal((await show()).status, 'PAUSED');
});
