import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';

let cloud: TestCloud;
let serverId: string;
before(async () => {
  cloud = await startCloud();
  const imageId = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
  const res = await cloud.req('POST', '/compute/v2.1/servers', { token: cloud.demoToken, body: { server: { name: 'ev', imageRef: imageId, flavorRef: '1' } } });
  assert.equal(res.status, 202, res.text);
  serverId = res.body.server.id;
  await cloud.services.runner.idle();
});
after(async () => cloud.close());

const post = (body: unknown, token = cloud.adminToken) => cloud.req('POST', '/compute/v2.1/os-server-external-events', { token, body });

test('an admin posts an event for a placed server and gets it back completed with code 200', async () => {
  const res = await post({ events: [{ name: 'network-changed', server_uuid: serverId, tag: 'foo' }] });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body.events, [{ server_uuid: serverId, name: 'network-changed', status: 'completed', tag: 'foo', code: 200 }]);
});

test('an unknown server is 404; a mix of known and unknown is 207 with per-event codes', async () => {
  const unknown = '00000000-0000-4000-8000-000000000000';
  assert.equal((await post({ events: [{ name: 'network-changed', server_uuid: unknown }] })).status, 404);
  const mixed = await post({ events: [{ name: 'network-changed', server_uuid: serverId }, { name: 'network-vif-plugged', server_uuid: unknown }] });
  assert.equal(mixed.status, 207);
  assert.deepEqual(mixed.body.events.map((e: { code: number }) => e.code), [200, 404]);
});

test('members are refused with 403 and a bad event name is 400', async () => {
  assert.equal((await post({ events: [{ name: 'network-changed', server_uuid: serverId }] }, cloud.demoToken)).status, 403);
  assert.equal((await post({ events: [{ name: 'bogus', server_uuid: serverId }] })).status, 400);
  assert.equal((await post({ events: [] })).status, 400);
});
