import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { startCloud, type TestCloud } from '../../support.js';
import { newImage, upload } from './fixtures.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

test('GET /image/v2/schemas/image describes the image with string custom properties', async () => {
  const res = await cloud.req('GET', '/image/v2/schemas/image', { token: cloud.demoToken });
  assert.equal(res.status, 200);
  assert.equal(res.body.name, 'image');
  assert.deepEqual(res.body.additionalProperties, { type: 'string' });
  for (const key of ['id', 'name', 'status', 'visibility', 'protected', 'os_hidden', 'checksum', 'size', 'virtual_size', 'tags', 'self', 'file', 'schema']) {
    assert.ok(key in res.body.properties, key);
  }
  assert.ok(res.body.properties.disk_format.enum.includes('qcow2'));
  assert.ok(res.body.properties.disk_format.enum.includes(null));
});

test('GET /image/v2/schemas/images describes the collection around the image schema', async () => {
  const res = await cloud.req('GET', '/image/v2/schemas/images', { token: cloud.demoToken });
  assert.equal(res.status, 200);
  assert.equal(res.body.name, 'images');
  assert.equal(res.body.properties.images.items.name, 'image');
  assert.deepEqual(Object.keys(res.body.properties).sort(), ['first', 'images', 'next', 'schema']);
});

test('the schemas need a token', async () => {
  assert.equal((await cloud.req('GET', '/image/v2/schemas/image')).status, 401);
});

test('images as shown and listed validate against the published schemas (as warlock checks them)', async () => {
  const schema = (await cloud.req('GET', '/image/v2/schemas/image', { token: cloud.demoToken })).body;
  const collection = (await cloud.req('GET', '/image/v2/schemas/images', { token: cloud.demoToken })).body;
  const ajv = new Ajv({ strict: false });
  const img = await newImage(cloud, cloud.demoToken, { os_distro: 'debian', tags: ['t'] });
  await upload(cloud, cloud.demoToken, img.id, 'bytes');
  const shown = (await cloud.req('GET', `/image/v2/images/${img.id}`, { token: cloud.demoToken })).body;
  assert.ok(ajv.validate(schema, img), JSON.stringify(ajv.errors));
  assert.ok(ajv.validate(schema, shown), JSON.stringify(ajv.errors));
  const listed = (await cloud.req('GET', '/image/v2/images?limit=1', { token: cloud.demoToken })).body;
  assert.ok(ajv.validate(collection, listed), JSON.stringify(ajv.errors));
});
