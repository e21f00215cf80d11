import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { newImage } from './fixtures.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

const tag = (method: string, id: string, value: string) =>
  cloud.req(method, `/image/v2/images/${id}/tags/${encodeURIComponent(value)}`, { token: cloud.demoToken });
const tagsOf = async (id: string) => (await cloud.req('GET', `/image/v2/images/${id}`, { token: cloud.demoToken })).body.tags;

test('PUT of a tag answers 204 and adds it once, however often it is sent', async () => {
  const img = await newImage(cloud, cloud.demoToken);
  const res = await tag('PUT', img.id, 'gold');
  assert.equal(res.status, 204);
  assert.equal(res.text, '');
  assert.equal((await tag('PUT', img.id, 'gold')).status, 204);
  assert.deepEqual(await tagsOf(img.id), ['gold']);
});

test('a tag may hold spaces and other characters', async () => {
  const img = await newImage(cloud, cloud.demoToken);
  await tag('PUT', img.id, 'two words:ok');
  assert.deepEqual(await tagsOf(img.id), ['two words:ok']);
});

test('DELETE of a tag answers 204 and removes it', async () => {
  const img = await newImage(cloud, cloud.demoToken, { tags: ['a', 'b'] });
  const res = await tag('DELETE', img.id, 'a');
  assert.equal(res.status, 204);
  assert.deepEqual(await tagsOf(img.id), ['b']);
});

test('DELETE of a tag the image does not have is 404', async () => {
  const img = await newImage(cloud, cloud.demoToken);
  const res = await tag('DELETE', img.id, 'absent');
  assert.equal(res.status, 404);
});

test('a tag longer than 255 characters is 400', async () => {
  const img = await newImage(cloud, cloud.demoToken);
  const res = await tag('PUT', img.id, 't'.repeat(256));
  assert.equal(res.status, 400);
  assert.match(res.body.error.message, /is too long/);
});

test('tagging an unknown image is 404', async () => {
  const res = await tag('PUT', '3e1c8a2e-0000-4000-8000-000000000000', 'x');
  assert.equal(res.status, 404);
});

test('more than 128 tags is 413', async () => {
  const img = await newImage(cloud, cloud.demoToken, { tags: Array.from({ length: 128 }, (_, i) => `t${i}`) });
  const res = await tag('PUT', img.id, 'one-more');
  assert.equal(res.status, 413);
  assert.match(res.body.error.message, /Maximum: 128/);
});
