import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { colleague, ownServer, setServer, tenant, updatedAt } from './server-fixtures.js';

let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
});
after(async () => cloud.close());

const meta = (id: string, suffix = '') => `/compute/v2.1/servers/${id}/metadata${suffix}`;

test('PUT /metadata replaces every item and answers the new set (golden 47)', async () => {
  const { id, token } = await ownServer(cloud, { metadata: { old: 'x' } });
  const res = await cloud.req('PUT', meta(id), { token: token, body: { metadata: { a: '1', b: '2' } } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { metadata: { a: '1', b: '2' } });
  assert.deepEqual((await cloud.req('GET', meta(id), { token: token })).body, { metadata: { a: '1', b: '2' } });
});

test('POST /metadata merges items into the existing ones and answers all of them (golden 48)', async () => {
  const { id, token } = await ownServer(cloud, { metadata: { a: '1', b: '2' } });
  const res = await cloud.req('POST', meta(id), { token: token, body: { metadata: { c: '3', a: 'one' } } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { metadata: { a: 'one', b: '2', c: '3' } });
});

test('GET /metadata lists the items (golden 49), and the server shows them too', async () => {
  const { id, token } = await ownServer(cloud, { metadata: { a: '1', b: '2', c: '3' } });
  const res = await cloud.req('GET', meta(id), { token: token });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { metadata: { a: '1', b: '2', c: '3' } });
  const server = await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: token });
  assert.deepEqual(server.body.server.metadata, { a: '1', b: '2', c: '3' });
});

test('GET /metadata/{key} shows one item as meta (golden 50)', async () => {
  const { id, token } = await ownServer(cloud, { metadata: { a: '1', b: '2' } });
  const res = await cloud.req('GET', meta(id, '/a'), { token: token });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { meta: { a: '1' } });
});

test('GET /metadata/{key} of a missing key is 404 "Metadata item was not found" (golden 53)', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('GET', meta(id, '/zzz'), { token: token });
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, { itemNotFound: { code: 404, message: 'Metadata item was not found' } });
});

test('PUT /metadata/{key} sets one item and answers it (golden 51)', async () => {
  const { id, token } = await ownServer(cloud, { metadata: { a: '1' } });
  const res = await cloud.req('PUT', meta(id, '/d'), { token: token, body: { meta: { d: '4' } } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { meta: { d: '4' } });
  assert.deepEqual((await cloud.req('GET', meta(id), { token: token })).body, { metadata: { a: '1', d: '4' } });
});

test('DELETE /metadata/{key} answers 204 with no body and removes the item (golden 52)', async () => {
  const { id, token } = await ownServer(cloud, { metadata: { a: '1', d: '4' } });
  const res = await cloud.req('DELETE', meta(id, '/d'), { token: token });
  assert.equal(res.status, 204);
  assert.equal(res.text, '');
  assert.deepEqual((await cloud.req('GET', meta(id), { token: token })).body, { metadata: { a: '1' } });
});

test('DELETE /metadata/{key} of a missing key is 404', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('DELETE', meta(id, '/nope'), { token: token });
  assert.equal(res.status, 404);
  assert.equal(res.body.itemNotFound.message, 'Metadata item was not found');
});

test('PUT /metadata/{key} with another key in the body is 400 "Request body and URI mismatch"', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('PUT', meta(id, '/a'), { token: token, body: { meta: { b: '1' } } });
  assert.equal(res.status, 400);
  assert.equal(res.body.badRequest.message, 'Request body and URI mismatch');
});

test('PUT /metadata/{key} with more than one item, or none, is 400 naming meta', async () => {
  const { id, token } = await ownServer(cloud);
  const two = await cloud.req('PUT', meta(id, '/a'), { token: token, body: { meta: { a: '1', b: '2' } } });
  assert.equal(two.status, 400);
  assert.equal(two.body.badRequest.message, "Invalid input for field/attribute meta. Value: {'a': '1', 'b': '2'}. {'a': '1', 'b': '2'} has too many properties");
  const none = await cloud.req('PUT', meta(id, '/a'), { token: token, body: { meta: {} } });
  assert.equal(none.status, 400);
  assert.match(none.body.badRequest.message, /^Invalid input for field\/attribute meta\. .* does not have enough properties$/);
});

test('a value over 255 characters is 400 naming its key', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('POST', meta(id), { token: token, body: { metadata: { long: 'v'.repeat(256) } } });
  assert.equal(res.status, 400);
  assert.match(res.body.badRequest.message, /^Invalid input for field\/attribute long\. Value: v{256}\. 'v{256}' is too long$/);
  const ok = await cloud.req('POST', meta(id), { token: token, body: { metadata: { long: 'v'.repeat(255) } } });
  assert.equal(ok.status, 200);
});

test('a key over 255 characters or with characters outside Nova’s set is 400 naming metadata', async () => {
  const { id, token } = await ownServer(cloud);
  for (const key of ['k'.repeat(256), 'a/b', '']) {
    const res = await cloud.req('PUT', meta(id), { token: token, body: { metadata: { [key]: 'v' } } });
    assert.equal(res.status, 400, JSON.stringify(key));
    assert.match(res.body.badRequest.message, /^Invalid input for field\/attribute metadata\. .*Additional properties are not allowed/);
  }
  const ok = await cloud.req('PUT', meta(id), { token: token, body: { metadata: { ['k'.repeat(255)]: 'v', 'a-b_c:d. e': 'v' } } });
  assert.equal(ok.status, 200);
});

test('a value that is not a string is 400 naming its key', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('PUT', meta(id), { token: token, body: { metadata: { n: 5 } } });
  assert.equal(res.status, 400);
  assert.equal(res.body.badRequest.message, "Invalid input for field/attribute n. Value: 5. 5 is not of type 'string'");
});

test('a body without metadata is 400', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('POST', meta(id), { token: token, body: { meta: { a: '1' } } });
  assert.equal(res.status, 400);
  assert.match(res.body.badRequest.message, /'metadata' is a required property/);
});

test('more items than the metadata_items quota (128) is 403 with Nova’s message', async () => {
  const { id, token } = await ownServer(cloud, { metadata: { first: '1' } });
  const many = Object.fromEntries(Array.from({ length: 128 }, (_, i) => [`k${i}`, 'v']));
  const res = await cloud.req('POST', meta(id), { token: token, body: { metadata: many } });
  assert.equal(res.status, 403);
  assert.deepEqual(res.body, { forbidden: { code: 403, message: 'Maximum number of metadata items exceeds 128' } });
  const replace = await cloud.req('PUT', meta(id), { token: token, body: { metadata: many } });
  assert.equal(replace.status, 200, 'replacing with 128 items stays within the quota');
  const oneMore = await cloud.req('PUT', meta(id, '/extra'), { token: token, body: { meta: { extra: '1' } } });
  assert.equal(oneMore.status, 403);
});

test('every change to the metadata moves the server’s updated_at', async () => {
  const { id, token } = await ownServer(cloud);
  let last = await updatedAt(cloud, id);
  const changes: [string, string, unknown][] = [
    ['PUT', meta(id), { metadata: { a: '1' } }],
    ['POST', meta(id), { metadata: { b: '2' } }],
    ['PUT', meta(id, '/c'), { meta: { c: '3' } }],
    ['DELETE', meta(id, '/c'), undefined],
  ];
  for (const [method, path, body] of changes) {
    cloud.clock.advance(1000);
    assert.ok([200, 204].includes((await cloud.req(method, path, { token: token, body })).status));
    const now = await updatedAt(cloud, id);
    assert.ok(now > last, `${method} ${path} moves updated_at`);
    last = now;
  }
});

test('a locked server refuses metadata changes with 409 for its owner, not for an admin', async () => {
  const { id, token } = await ownServer(cloud, { metadata: { a: '1' } });
  await setServer(cloud, id, { locked: 1, locked_by: 'owner' });
  const put = await cloud.req('PUT', meta(id), { token: token, body: { metadata: { b: '2' } } });
  assert.equal(put.status, 409);
  assert.deepEqual(put.body, { conflictingRequest: { code: 409, message: `Instance ${id} is locked` } });
  assert.equal((await cloud.req('DELETE', meta(id, '/a'), { token: token })).status, 409);
  assert.equal((await cloud.req('GET', meta(id), { token: token })).status, 200, 'reading is still allowed');
  assert.equal((await cloud.req('POST', meta(id), { token: cloud.adminToken, body: { metadata: { b: '2' } } })).status, 200);
});

test('a server still building refuses metadata changes with 409 naming its vm_state', async () => {
  const { id, token } = await ownServer(cloud);
  await setServer(cloud, id, { vm_state: 'building', task_state: 'spawning' });
  const res = await cloud.req('POST', meta(id), { token: token, body: { metadata: { a: '1' } } });
  assert.equal(res.status, 409);
  assert.equal(res.body.conflictingRequest.message, `Cannot 'update metadata' instance ${id} while it is in vm_state building`);
});

test('a server with a task in progress refuses metadata changes with 409 naming its task_state', async () => {
  const { id, token } = await ownServer(cloud, { metadata: { a: '1' } });
  await setServer(cloud, id, { task_state: 'rebooting' });
  const res = await cloud.req('DELETE', meta(id, '/a'), { token: token });
  assert.equal(res.status, 409);
  assert.equal(res.body.conflictingRequest.message, `Cannot 'delete metadata' instance ${id} while it is in task_state rebooting`);
});

test('metadata of a stopped, paused or suspended server may change; of a server in ERROR it may not', async () => {
  const { id, token } = await ownServer(cloud);
  for (const vm_state of ['stopped', 'paused', 'suspended']) {
    await setServer(cloud, id, { vm_state });
    assert.equal((await cloud.req('POST', meta(id), { token: token, body: { metadata: { [vm_state]: '1' } } })).status, 200, vm_state);
  }
  await setServer(cloud, id, { vm_state: 'error' });
  assert.equal((await cloud.req('POST', meta(id), { token: token, body: { metadata: { e: '1' } } })).status, 409);
});

test('another project’s server is 404 for every metadata route', async () => {
  const { id, token } = await ownServer(cloud, { metadata: { a: '1' } });
  const stranger = await tenant(cloud, 'meta-stranger');
  const calls: [string, string, unknown][] = [
    ['GET', meta(id), undefined],
    ['PUT', meta(id), { metadata: {} }],
    ['POST', meta(id), { metadata: { b: '1' } }],
    ['GET', meta(id, '/a'), undefined],
    ['PUT', meta(id, '/a'), { meta: { a: '2' } }],
    ['DELETE', meta(id, '/a'), undefined],
  ];
  for (const [method, path, body] of calls) {
    const res = await cloud.req(method, path, { token: stranger.token, body });
    assert.equal(res.status, 404, `${method} ${path}`);
    assert.equal(res.body.itemNotFound.message, `Instance ${id} could not be found.`);
  }
});

test('a reader may read metadata but changing it is 403 by policy', async () => {
  const { id, projectId, name } = await ownServer(cloud, { metadata: { a: '1' } });
  const reader = await colleague(cloud, projectId, name, 'meta-reader', 'reader');
  assert.equal((await cloud.req('GET', meta(id), { token: reader })).status, 200);
  assert.equal((await cloud.req('GET', meta(id, '/a'), { token: reader })).status, 200);
  const res = await cloud.req('POST', meta(id), { token: reader, body: { metadata: { b: '1' } } });
  assert.equal(res.status, 403);
  assert.equal(res.body.forbidden.message, "Policy doesn't allow os_compute_api:server-metadata:create to be performed.");
  assert.equal((await cloud.req('PUT', meta(id), { token: reader, body: { metadata: {} } })).body.forbidden.message, "Policy doesn't allow os_compute_api:server-metadata:update_all to be performed.");
  assert.equal((await cloud.req('DELETE', meta(id, '/a'), { token: reader })).status, 403);
});

test('metadata of an unknown server is 404', async () => {
  const res = await cloud.req('GET', meta('00000000-0000-0000-0000-000000000000'), { token: cloud.demoToken });
  assert.equal(res.status, 404);
});
