import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startCloud, type TestCloud } from '../../support.js';
import { createImage, newImage, patch } from './fixtures.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

const ISO_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

test('creating an image answers 201 with Glance image JSON: queued, shared, owned by the project', async () => {
  const res = await createImage(cloud, cloud.demoToken, { name: 'cirros', min_ram: 64, architecture: 'x86_64' });
  assert.equal(res.status, 201);
  assert.match(res.headers.get('content-type')!, /^application\/json/);
  const img = res.body;
  assert.deepEqual(Object.keys(img).sort(), [
    'architecture', 'checksum', 'container_format', 'created_at', 'disk_format', 'file', 'id', 'min_disk', 'min_ram', 'name', 'os_hash_algo',
    'os_hash_value', 'os_hidden', 'owner', 'protected', 'schema', 'self', 'size', 'status', 'tags', 'updated_at', 'virtual_size', 'visibility',
  ]);
  assert.match(img.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(img.status, 'queued');
  assert.equal(img.visibility, 'shared');
  assert.equal(img.owner, cloud.demoProjectId);
  assert.equal(img.name, 'cirros');
  assert.equal(img.disk_format, 'raw');
  assert.equal(img.container_format, 'bare');
  assert.equal(img.min_ram, 64);
  assert.equal(img.min_disk, 0);
  assert.equal(img.protected, false);
  assert.equal(img.os_hidden, false);
  assert.equal(img.size, null);
  assert.equal(img.virtual_size, null);
  assert.equal(img.checksum, null);
  assert.equal(img.os_hash_algo, null);
  assert.equal(img.os_hash_value, null);
  assert.deepEqual(img.tags, []);
  assert.equal(img.architecture, 'x86_64');
  assert.match(img.created_at, ISO_SECONDS);
  assert.equal(img.updated_at, img.created_at);
  assert.equal(img.self, `/v2/images/${img.id}`);
  assert.equal(img.file, `/v2/images/${img.id}/file`);
  assert.equal(img.schema, '/v2/schemas/image');
  assert.equal(res.headers.get('location'), `${cloud.url}/image/v2/images/${img.id}`);
});

test('an image is shown with the JSON it was created with', async () => {
  const created = await newImage(cloud, cloud.demoToken, { name: 'shown', tags: ['a', 'b'], hw_disk_bus: 'virtio' });
  const res = await cloud.req('GET', `/image/v2/images/${created.id}`, { token: cloud.demoToken });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, created);
});

test('an image created with no attributes at all has a null name and formats', async () => {
  const res = await cloud.req('POST', '/image/v2/images', { token: cloud.demoToken, body: {} });
  assert.equal(res.status, 201);
  assert.equal(res.body.name, null);
  assert.equal(res.body.disk_format, null);
  assert.equal(res.body.container_format, null);
});

test('the image id may be chosen, and choosing one that exists is 409', async () => {
  const id = randomUUID();
  const first = await createImage(cloud, cloud.demoToken, { id });
  assert.equal(first.status, 201);
  assert.equal(first.body.id, id);
  const again = await createImage(cloud, cloud.demoToken, { id });
  assert.equal(again.status, 409);
  assert.match(again.body.error.message, new RegExp(id));
});

test('a malformed image id on create is 400 naming id', async () => {
  const res = await createImage(cloud, cloud.demoToken, { id: 'not-a-uuid' });
  assert.equal(res.status, 400);
  assert.match(res.body.error.message, /\['id'\]/);
});

test('an unknown disk_format is 400 naming disk_format', async () => {
  const res = await createImage(cloud, cloud.demoToken, { disk_format: 'floppy' });
  assert.equal(res.status, 400);
  assert.match(res.body.error.message, /'floppy' is not one of/);
  assert.match(res.body.error.message, /\['disk_format'\]/);
});

test('a custom property that is not a string is 400 naming it', async () => {
  const res = await createImage(cloud, cloud.demoToken, { hw_cpu_cores: 4 });
  assert.equal(res.status, 400);
  assert.match(res.body.error.message, /4 is not of type 'string'/);
  assert.match(res.body.error.message, /\['hw_cpu_cores'\]/);
});

test('min_ram must be an integer (400) and not negative (400)', async () => {
  const text = await createImage(cloud, cloud.demoToken, { min_ram: '512' });
  assert.equal(text.status, 400);
  assert.match(text.body.error.message, /min_ram/);
  const negative = await createImage(cloud, cloud.demoToken, { min_ram: -1 });
  assert.equal(negative.status, 400);
  assert.match(negative.body.error.message, /min_ram/);
});

test('a name over 255 characters is 400', async () => {
  const res = await createImage(cloud, cloud.demoToken, { name: 'n'.repeat(256) });
  assert.equal(res.status, 400);
  assert.match(res.body.error.message, /is too long/);
});

test('read-only attributes are refused on create with 403', async () => {
  const values: Record<string, unknown> = { status: 'active', self: '/v2/images/x', checksum: 'abc', size: 1, created_at: '2020-01-01T00:00:00Z' };
  for (const [attribute, value] of Object.entries(values)) {
    const res = await createImage(cloud, cloud.demoToken, { [attribute]: value });
    assert.equal(res.status, 403, attribute);
    assert.equal(res.body.error.message, `Attribute '${attribute}' is read-only.`);
  }
});

test('reserved properties and the os_glance namespace are refused on create with 403', async () => {
  for (const attribute of ['deleted', 'location', 'os_glance_import_task']) {
    const res = await createImage(cloud, cloud.demoToken, { [attribute]: 'x' });
    assert.equal(res.status, 403, attribute);
    assert.equal(res.body.error.message, `Attribute '${attribute}' is reserved.`);
  }
});

test('a body that is not a JSON object is 400', async () => {
  const list = await cloud.req('POST', '/image/v2/images', { token: cloud.demoToken, body: [] });
  assert.equal(list.status, 400);
  const broken = await cloud.req('POST', '/image/v2/images', { token: cloud.demoToken, raw: '{"name":', headers: { 'content-type': 'application/json' } });
  assert.equal(broken.status, 400);
});

test('deleting an image answers 204 with no body, then the image is 404', async () => {
  const img = await newImage(cloud, cloud.demoToken);
  const del = await cloud.req('DELETE', `/image/v2/images/${img.id}`, { token: cloud.demoToken });
  assert.equal(del.status, 204);
  assert.equal(del.text, '');
  const show = await cloud.req('GET', `/image/v2/images/${img.id}`, { token: cloud.demoToken });
  assert.equal(show.status, 404);
  const again = await cloud.req('DELETE', `/image/v2/images/${img.id}`, { token: cloud.demoToken });
  assert.equal(again.status, 404);
});

test('a protected image refuses deletion with 403 until it is unprotected', async () => {
  const img = await newImage(cloud, cloud.demoToken, { protected: true });
  const refused = await cloud.req('DELETE', `/image/v2/images/${img.id}`, { token: cloud.demoToken });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.message, `Image ${img.id} is protected and cannot be deleted.`);
  assert.equal((await patch(cloud, cloud.demoToken, img.id, [{ op: 'replace', path: '/protected', value: false }])).status, 200);
  const deleted = await cloud.req('DELETE', `/image/v2/images/${img.id}`, { token: cloud.demoToken });
  assert.equal(deleted.status, 204);
});

test('an unknown image is 404 with a JSON error that names it', async () => {
  const id = randomUUID();
  const res = await cloud.req('GET', `/image/v2/images/${id}`, { token: cloud.demoToken });
  assert.equal(res.status, 404);
  assert.equal(res.headers.get('content-type'), 'application/json; charset=UTF-8');
  assert.deepEqual(res.body, { error: { code: 404, title: 'Not Found', message: `No image found with ID ${id}` } });
});

test('an image id that is not a UUID is simply not found (404)', async () => {
  const res = await cloud.req('GET', '/image/v2/images/cirros', { token: cloud.demoToken });
  assert.equal(res.status, 404);
});

test('an unsupported method on an image is 405', async () => {
  const img = await newImage(cloud, cloud.demoToken);
  const res = await cloud.req('POST', `/image/v2/images/${img.id}`, { token: cloud.demoToken, body: {} });
  assert.equal(res.status, 405);
  assert.equal(res.body.error.code, 405);
});

test('an unknown path under /image/v2 is 404 in the same JSON format', async () => {
  const res = await cloud.req('GET', '/image/v2/nothing', { token: cloud.demoToken });
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 404);
});

test('the seeded image is listed to everyone: public, active, raw and bare', async () => {
  const res = await cloud.req('GET', '/image/v2/images?name=nimbus-demo', { token: cloud.demoToken });
  assert.equal(res.status, 200);
  const [img] = res.body.images;
  assert.equal(img.visibility, 'public');
  assert.equal(img.status, 'active');
  assert.equal(img.disk_format, 'raw');
  assert.equal(img.container_format, 'bare');
  assert.equal(img.size, 1024 * 1024);
  assert.equal(img.os_hash_algo, 'sha512');
  assert.equal(img.owner, cloud.adminProjectId);
});

test('min_disk or min_ram past an integer column (2147483648) is 400 naming it, on create and on patch', async () => {
  const created = await createImage(cloud, cloud.demoToken, { min_disk: 2147483648 });
  assert.equal(created.status, 400);
  assert.match(created.body.error.message, /min_disk/);
  const img = await newImage(cloud, cloud.demoToken);
  const patched = await patch(cloud, cloud.demoToken, img.id, [{ op: 'replace', path: '/min_ram', value: 2147483648 }]);
  assert.equal(patched.status, 400);
  assert.match(patched.body.error.message, /min_ram/);
});
