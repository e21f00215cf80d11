import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { loadConfig, ConfigError } from '../../../src/config.js';
import { FAKE_DEFAULTS } from '../../../src/virt/fake/driver.js';

/**
 * The fake driver's busy window: what a client can watch on a real cloud (a snapshot being
 * saved, a resize, a migration) stays in progress long enough for its next request to meet
 * it. These run with the default window, as `npm start` does.
 */
let cloud: TestCloud;
let imageId: string;
before(async () => {
  cloud = await startCloud({ fakeBusyWindowMs: FAKE_DEFAULTS.busyWindowMs });
  imageId = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
});
after(async () => cloud.close());

const settle = () => cloud.services.runner.idle();
const act = (id: string, body: unknown, version?: string) => cloud.req('POST', `/compute/v2.1/servers/${id}/action`, { token: cloud.adminToken, body, version });
const show = async (id: string) => (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: cloud.adminToken })).body.server;

async function activeServer(name: string): Promise<string> {
  const res = await cloud.req('POST', '/compute/v2.1/servers', { token: cloud.adminToken, body: { server: { name, imageRef: imageId, flavorRef: '1' } } });
  assert.equal(res.status, 202, res.text);
  await settle();
  return res.body.server.id;
}

test('by default a snapshot is still being saved when the next request comes: a second createImage is 409 and the image is SAVING', async () => {
  const id = await activeServer('busy-snapshot');
  const first = await act(id, { createImage: { name: 'first' } }, '2.45');
  assert.equal(first.status, 202);
  // A client slower than this one: it asks again once the snapshot is under way.
  while ((await show(id))['OS-EXT-STS:task_state'] === 'image_snapshot') await new Promise((r) => setImmediate(r));
  const second = await act(id, { createImage: { name: 'second' } }, '2.45');
  assert.equal(second.status, 409, second.text);
  assert.match(second.body.conflictingRequest.message, /task_state image_/);
  const image = await cloud.req('GET', `/compute/v2.1/images/${first.body.image_id}`, { token: cloud.adminToken });
  assert.equal(image.body.image.status, 'SAVING');
  await settle();
  assert.equal((await cloud.req('GET', `/compute/v2.1/images/${first.body.image_id}`, { token: cloud.adminToken })).body.image.status, 'ACTIVE');
  assert.equal((await show(id))['OS-EXT-STS:task_state'], null);
});

test('by default a resize shows RESIZE before VERIFY_RESIZE', async () => {
  const id = await activeServer('busy-resize');
  assert.equal((await act(id, { resize: { flavorRef: '2' } })).status, 202);
  assert.equal((await show(id)).status, 'RESIZE');
  await settle();
  assert.equal((await show(id)).status, 'VERIFY_RESIZE');
});

test('by default a live migration is listed in progress while it runs, and the server shows MIGRATING', async () => {
  const id = await activeServer('busy-live');
  assert.equal((await act(id, { 'os-migrateLive': { host: null, block_migration: 'auto' } }, '2.25')).status, 202);
  assert.equal((await show(id)).status, 'MIGRATING');
  const running = await cloud.req('GET', `/compute/v2.1/servers/${id}/migrations`, { token: cloud.adminToken, version: '2.23' });
  assert.equal(running.body.migrations.length, 1);
  await settle();
  assert.equal((await show(id)).status, 'ACTIVE');
});

test('the busy window is NIMBUS_FAKE_BUSY_WINDOW_MS (2000 by default, 0 for instant); a negative one stops Nimbus', () => {
  assert.equal(loadConfig({ env: {} }).fake.busyWindowMs, 2000);
  assert.equal(loadConfig({ env: { NIMBUS_FAKE_BUSY_WINDOW_MS: '0' } }).fake.busyWindowMs, 0);
  assert.throws(() => loadConfig({ env: { NIMBUS_FAKE_BUSY_WINDOW_MS: '-1' } }), ConfigError);
  assert.throws(() => loadConfig({ env: { NIMBUS_FAKE_BUSY_WINDOW_MS: 'soon' } }), ConfigError);
});
