import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { colleague, ownServer, setServer, tenant, updatedAt } from './server-fixtures.js';

let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
});
after(async () => cloud.close());

const tags = (id: string, suffix = '') => `/compute/v2.1/servers/${id}/tags${suffix}`;
const V = '2.26';

test('tags do not exist before 2.26: 404 "The resource could not be found." (golden 60)', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('GET', tags(id), { token, version: '2.25' });
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, { itemNotFound: { code: 404, message: 'The resource could not be found.' } });
  assert.equal((await cloud.req('PUT', tags(id, '/t1'), { token })).status, 404);
});

test('PUT /tags replaces every tag and answers the new set (golden 54)', async () => {
  const { id, token } = await ownServer(cloud, { tags: ['old'] });
  const res = await cloud.req('PUT', tags(id), { token, version: V, body: { tags: ['t1', 't2'] } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { tags: ['t1', 't2'] });
});

test('PUT /tags drops duplicate tags', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('PUT', tags(id), { token, version: V, body: { tags: ['a', 'a', 'b'] } });
  assert.deepEqual(res.body, { tags: ['a', 'b'] });
});

test('tags given twice at create are kept once, as Nova keeps them', async () => {
  const t = await tenant(cloud, 'tags-at-create');
  const image = await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow();
  const res = await cloud.req('POST', '/compute/v2.1/servers', { token: t.token, version: '2.52', body: { server: { name: 's', imageRef: image.id, flavorRef: '1', networks: 'none', tags: ['a', 'a', 'b'] } } });
  assert.equal(res.status, 202, res.text);
  const shown = await cloud.req('GET', tags(res.body.server.id), { token: t.token, version: V });
  assert.deepEqual(shown.body, { tags: ['a', 'b'] });
});

test('GET /tags lists the tags (golden 55), as the server shows them', async () => {
  const { id, token } = await ownServer(cloud);
  await cloud.req('PUT', tags(id), { token, version: V, body: { tags: ['t2', 't1'] } });
  const res = await cloud.req('GET', tags(id), { token, version: V });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { tags: ['t1', 't2'] });
  assert.deepEqual((await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token, version: V })).body.server.tags, ['t1', 't2']);
});

test('PUT /tags/{tag} adds a tag: 201 with no body and a Location header (golden 56)', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('PUT', tags(id, '/t3'), { token, version: V });
  assert.equal(res.status, 201);
  assert.equal(res.text, '');
  assert.equal(res.headers.get('location'), `${cloud.url}/compute/v2.1/servers/${id}/tags/t3`);
  assert.deepEqual((await cloud.req('GET', tags(id), { token, version: V })).body, { tags: ['t3'] });
});

test('PUT /tags/{tag} of a tag the server has is 204 without Location', async () => {
  const { id, token } = await ownServer(cloud, { tags: ['t3'] });
  const res = await cloud.req('PUT', tags(id, '/t3'), { token, version: V });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('location'), null);
});

test('GET /tags/{tag} is 204 when the server has the tag (golden 57)', async () => {
  const { id, token } = await ownServer(cloud, { tags: ['t3'] });
  const res = await cloud.req('GET', tags(id, '/t3'), { token, version: V });
  assert.equal(res.status, 204);
  assert.equal(res.text, '');
});

test('GET /tags/{tag} is 404 "Server … has no tag …" when it has not (golden 59)', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('GET', tags(id, '/t3'), { token, version: V });
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, { itemNotFound: { code: 404, message: `Server ${id} has no tag 't3'` } });
});

test('DELETE /tags/{tag} is 204 and removes the tag (golden 58)', async () => {
  const { id, token } = await ownServer(cloud, { tags: ['t1', 't3'] });
  const res = await cloud.req('DELETE', tags(id, '/t3'), { token, version: V });
  assert.equal(res.status, 204);
  assert.deepEqual((await cloud.req('GET', tags(id), { token, version: V })).body, { tags: ['t1'] });
});

test('DELETE /tags/{tag} of a tag the server has not is 404', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('DELETE', tags(id, '/nope'), { token, version: V });
  assert.equal(res.status, 404);
  assert.equal(res.body.itemNotFound.message, `Instance ${id} has no tag 'nope'`);
});

test('DELETE /tags is 204 and removes every tag', async () => {
  const { id, token } = await ownServer(cloud, { tags: ['a', 'b'] });
  const res = await cloud.req('DELETE', tags(id), { token, version: V });
  assert.equal(res.status, 204);
  assert.deepEqual((await cloud.req('GET', tags(id), { token, version: V })).body, { tags: [] });
});

test('a tag with "," or over 60 characters in the URL is 400 with Nova’s message', async () => {
  const { id, token } = await ownServer(cloud);
  const comma = await cloud.req('PUT', tags(id, '/a,b'), { token, version: V });
  assert.equal(comma.status, 400);
  assert.equal(
    comma.body.badRequest.message,
    "Tag 'a,b' is invalid. It must be a non empty string without characters '/' and ','. Validation error message: 'a,b' does not match '^[^,/]*$'",
  );
  const long = await cloud.req('PUT', tags(id, `/${'x'.repeat(61)}`), { token, version: V });
  assert.equal(long.status, 400);
  assert.match(long.body.badRequest.message, /is too long$/);
  assert.equal((await cloud.req('PUT', tags(id, `/${'x'.repeat(60)}`), { token, version: V })).status, 201);
});

test('a tag with "/" (encoded) in the URL is 400', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('PUT', tags(id, '/a%2Fb'), { token, version: V });
  assert.equal(res.status, 400);
  assert.match(res.body.badRequest.message, /^Tag 'a\/b' is invalid/);
});

test('PUT /tags with an invalid tag is 400 naming the tags field', async () => {
  const { id, token } = await ownServer(cloud);
  for (const bad of [['a/b'], [''], ['x'.repeat(61)], [5], 'a']) {
    const res = await cloud.req('PUT', tags(id), { token, version: V, body: { tags: bad } });
    assert.equal(res.status, 400, JSON.stringify(bad));
    assert.match(res.body.badRequest.message, /^Invalid input for field\/attribute (tags|0)\./);
  }
  const missing = await cloud.req('PUT', tags(id), { token, version: V, body: {} });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.badRequest.message, "'tags' is a required property");
});

test('PUT /tags with more than 50 tags is 400', async () => {
  const { id, token } = await ownServer(cloud);
  const many = Array.from({ length: 51 }, (_, i) => `t${i}`);
  const res = await cloud.req('PUT', tags(id), { token, version: V, body: { tags: many } });
  assert.equal(res.status, 400);
  assert.match(res.body.badRequest.message, /^Invalid input for field\/attribute tags\. .* is too long$/);
  assert.equal((await cloud.req('PUT', tags(id), { token, version: V, body: { tags: many.slice(0, 50) } })).status, 200);
});

test('a 51st tag by PUT /tags/{tag} is 400 "The number of tags exceeded the per-server limit 50"', async () => {
  const { id, token } = await ownServer(cloud);
  await cloud.req('PUT', tags(id), { token, version: V, body: { tags: Array.from({ length: 50 }, (_, i) => `t${i}`) } });
  const res = await cloud.req('PUT', tags(id, '/one-more'), { token, version: V });
  assert.equal(res.status, 400);
  assert.equal(res.body.badRequest.message, 'The number of tags exceeded the per-server limit 50');
});

test('PUT /tags/{tag} with a body is 400', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('PUT', tags(id, '/t'), { token, version: V, body: { tag: 't' } });
  assert.equal(res.status, 400);
  assert.match(res.body.badRequest.message, /is not of type 'null'/);
});

test('a server in ERROR or still building refuses tag changes with 409 naming its vm_state', async () => {
  const { id, token } = await ownServer(cloud, { tags: ['t'] });
  await setServer(cloud, id, { vm_state: 'error' });
  const calls: [string, string, unknown, string][] = [
    ['PUT', tags(id, '/x'), undefined, 'update tag'],
    ['PUT', tags(id), { tags: [] }, 'update tags'],
    ['DELETE', tags(id, '/t'), undefined, 'delete tag'],
    ['DELETE', tags(id), undefined, 'delete tags'],
  ];
  for (const [method, path, body, action] of calls) {
    const res = await cloud.req(method, path, { token, version: V, body });
    assert.equal(res.status, 409, `${method} ${path}`);
    assert.equal(res.body.conflictingRequest.message, `Cannot '${action}' instance ${id} while it is in vm_state error`);
  }
  assert.equal((await cloud.req('GET', tags(id), { token, version: V })).status, 200, 'reading is still allowed');
  await setServer(cloud, id, { vm_state: 'building' });
  assert.equal((await cloud.req('PUT', tags(id, '/x'), { token, version: V })).status, 409);
});

test('tags may change on a locked server or one with a task in progress, as in Nova', async () => {
  const { id, token } = await ownServer(cloud);
  await setServer(cloud, id, { locked: 1, task_state: 'rebooting' });
  assert.equal((await cloud.req('PUT', tags(id, '/x'), { token, version: V })).status, 201);
});

test('every change to the tags moves the server’s updated_at', async () => {
  const { id, token } = await ownServer(cloud);
  let last = await updatedAt(cloud, id);
  const changes: [string, string, unknown][] = [
    ['PUT', tags(id), { tags: ['a', 'b'] }],
    ['PUT', tags(id, '/c'), undefined],
    ['DELETE', tags(id, '/c'), undefined],
    ['DELETE', tags(id), undefined],
  ];
  for (const [method, path, body] of changes) {
    cloud.clock.advance(1000);
    assert.ok([200, 201, 204].includes((await cloud.req(method, path, { token, version: V, body })).status));
    const now = await updatedAt(cloud, id);
    assert.ok(now > last, `${method} ${path} moves updated_at`);
    last = now;
  }
});

test('the servers list filters by tags set through this resource', async () => {
  const { id, token } = await ownServer(cloud);
  await cloud.req('PUT', tags(id, '/blue'), { token, version: V });
  const res = await cloud.req('GET', '/compute/v2.1/servers?tags=blue', { token, version: V });
  assert.deepEqual(res.body.servers.map((s: { id: string }) => s.id), [id]);
});

test('another project’s server is 404 for every tag route', async () => {
  const { id } = await ownServer(cloud, { tags: ['t'] });
  const stranger = await tenant(cloud, 'tags-stranger');
  const calls: [string, string, unknown][] = [
    ['GET', tags(id), undefined],
    ['PUT', tags(id), { tags: [] }],
    ['DELETE', tags(id), undefined],
    ['GET', tags(id, '/t'), undefined],
    ['PUT', tags(id, '/u'), undefined],
    ['DELETE', tags(id, '/t'), undefined],
  ];
  for (const [method, path, body] of calls) {
    const res = await cloud.req(method, path, { token: stranger.token, version: V, body });
    assert.equal(res.status, 404, `${method} ${path}`);
    assert.equal(res.body.itemNotFound.message, `Instance ${id} could not be found.`);
  }
});

test('a reader may read tags but changing them is 403 by policy', async () => {
  const { id, projectId, name } = await ownServer(cloud, { tags: ['t'] });
  const reader = await colleague(cloud, projectId, name, 'tags-reader', 'reader');
  assert.equal((await cloud.req('GET', tags(id), { token: reader, version: V })).status, 200);
  assert.equal((await cloud.req('GET', tags(id, '/t'), { token: reader, version: V })).status, 204);
  const expected: [string, string, unknown, string][] = [
    ['PUT', tags(id), { tags: [] }, 'update_all'],
    ['PUT', tags(id, '/u'), undefined, 'update'],
    ['DELETE', tags(id, '/t'), undefined, 'delete'],
    ['DELETE', tags(id), undefined, 'delete_all'],
  ];
  for (const [method, path, body, rule] of expected) {
    const res = await cloud.req(method, path, { token: reader, version: V, body });
    assert.equal(res.status, 403, `${method} ${path}`);
    assert.equal(res.body.forbidden.message, `Policy doesn't allow os_compute_api:os-server-tags:${rule} to be performed.`);
  }
});
