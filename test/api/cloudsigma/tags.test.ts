import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { assertError, createDrive, createServer, cs, dump, show } from './cs.js';

/** /tags/: tags as resources, updated from the tag side and from the resource side. */
let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
});
after(async () => cloud.close());

test('a tag created with resources (request_tags_create_with_resource) lists them, and the server shows the tag', async () => {
  const s = await createServer(cloud, { name: 'tagged-1' });
  const d = await createDrive(cloud, { name: 'tagged-drive' });
  const res = await cs(cloud, 'POST', '/tags/', { body: { objects: [{ name: 'TagCreatedWithResource', resources: [s.uuid, d.uuid] }] } });
  assert.equal(res.status, 201, res.text);
  const tag = res.body.objects[0];
  assert.deepEqual(Object.keys(tag).sort(), Object.keys(dump('response_tags_get')).sort());
  assert.deepEqual(tag.resources.map((r: { res_type: string; uuid: string }) => [r.res_type, r.uuid]).sort(), [['drives', d.uuid], ['servers', s.uuid]].sort());
  assert.deepEqual((await show(cloud, s.uuid)).tags.map((t: { uuid: string }) => t.uuid), [tag.uuid]);
  assert.deepEqual((await cs(cloud, 'GET', `/drives/${d.uuid}/`)).body.tags.map((t: { uuid: string }) => t.uuid), [tag.uuid]);
});

test('a tag with no resources exists, with its meta', async () => {
  const res = await cs(cloud, 'POST', '/tags/', { body: { name: 'empty', meta: { color: 'red' } } });
  assert.equal(res.status, 201, res.text);
  const got = await cs(cloud, 'GET', `/tags/${res.body.objects[0].uuid}/`);
  assert.deepEqual(got.body.resources, []);
  assert.deepEqual(got.body.meta, { color: 'red' });
});

test('a server tagged from the resource side (its tags by uuid) is a resource of the tag', async () => {
  const tag = (await cs(cloud, 'POST', '/tags/', { body: { name: 'from-server' } })).body.objects[0];
  const s = await createServer(cloud, { name: 'tagged-2' });
  const put = await cs(cloud, 'PUT', `/servers/${s.uuid}/`, { body: { tags: [tag.uuid] } });
  assert.equal(put.status, 200, put.text);
  const got = await cs(cloud, 'GET', `/tags/${tag.uuid}/`);
  assert.deepEqual(got.body.resources.map((r: { uuid: string }) => r.uuid), [s.uuid]);
  const listed = await cs(cloud, 'GET', `/tags/${tag.uuid}/servers/detail/`);
  assert.deepEqual(listed.body.objects.map((o: { uuid: string }) => o.uuid), [s.uuid]);
});

test('updating a tag\'s resources (request_tags_update_resources) tags and untags servers; Nova sees the server tags', async () => {
  const a = await createServer(cloud, { name: 'upd-a' });
  const b = await createServer(cloud, { name: 'upd-b' });
  const tag = (await cs(cloud, 'POST', '/tags/', { body: { name: 'moving', resources: [a.uuid] } })).body.objects[0];
  const put = await cs(cloud, 'PUT', `/tags/${tag.uuid}/`, { body: { name: 'moving', resources: [b.uuid] } });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.body.resources.map((r: { uuid: string }) => r.uuid), [b.uuid]);
  assert.deepEqual((await show(cloud, a.uuid)).tags, []);
  const nova = await cloud.req('GET', `/compute/v2.1/servers/${b.uuid}/tags`, { token: cloud.demoToken, version: '2.26' });
  assert.deepEqual(nova.body.tags, ['moving']);
});

test('deleting a tag takes it off its resources', async () => {
  const s = await createServer(cloud, { name: 'del-tag' });
  const tag = (await cs(cloud, 'POST', '/tags/', { body: { name: 'doomed', resources: [s.uuid] } })).body.objects[0];
  assert.equal((await cs(cloud, 'DELETE', `/tags/${tag.uuid}/`)).status, 204);
  assert.deepEqual((await show(cloud, s.uuid)).tags, []);
  assertError(await cs(cloud, 'GET', `/tags/${tag.uuid}/`), 404, 'notexist');
});

test('/tags/detail/ lists the project\'s tags with meta and a total_count', async () => {
  const res = await cs(cloud, 'GET', '/tags/detail/?limit=0');
  assert.equal(res.status, 200);
  assert.equal(res.body.meta.total_count, res.body.objects.length);
  assert.ok(res.body.objects.some((t: { name: string }) => t.name === 'empty'));
});

test('a tag without a name is 400 naming name', async () => {
  assertError(await cs(cloud, 'POST', '/tags/', { body: { resources: [] } }), 400, 'validation', 'name');
});

// Every tag name the face takes (by /tags/, or in a server's, drive's or snapshot's tags)
// passes one rule, tags.ts `tagName`: a 64 KiB name on a drive made the tag list a 500.
test('a drive\'s tag name past 255 characters is 400 naming the tag, and the tag list still answers', async () => {
  const res = await cs(cloud, 'POST', '/drives/', { body: { name: 'd', size: 1073741824, media: 'disk', tags: ['x'.repeat(65536)] } });
  assertError(res, 400, 'validation', 'tags[0]');
  assert.equal((await cs(cloud, 'GET', '/tags/')).status, 200);
});

test('a server\'s tag name past 255 characters is 400 naming the tag', async () => {
  const res = await cs(cloud, 'POST', '/servers/', { body: { name: 's', cpu: 1000, mem: 536870912, vnc_password: 'x', tags: ['x'.repeat(256)] } });
  assertError(res, 400, 'validation', 'tags[0]');
});

test('/tags/{uuid}/drives/detail/ and /tags/{uuid}/drives/ list the tag’s drives as /drives/detail/ shows them', async () => {
  const d = await createDrive(cloud, { name: 'tag-listed', tags: ['drive-list'] });
  await createDrive(cloud, { name: 'not-listed' });
  const tag = (await cs(cloud, 'GET', '/tags/?limit=0')).body.objects.find((t: { name: string }) => t.name === 'drive-list');
  for (const path of [`/tags/${tag.uuid}/drives/detail/`, `/tags/${tag.uuid}/drives/`]) {
    const res = await cs(cloud, 'GET', path);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.meta.total_count, 1);
    assert.deepEqual(res.body.objects[0], (await cs(cloud, 'GET', `/drives/${d.uuid}/`)).body);
  }
});

test('the same tag made with the same server at once, many times, is made once and never a 500', async () => {
  const s = await createServer(cloud, { name: 'raced' });
  const answers = await Promise.all(Array.from({ length: 8 }, () => cs(cloud, 'POST', '/tags/', { body: { objects: [{ name: 'raced-tag', meta: { k: 'v' }, resources: [s.uuid] }] } })));
  assert.deepEqual(answers.map((r) => r.status), Array(8).fill(201), answers.map((r) => r.text).join('\n'));
  assert.deepEqual((await cs(cloud, 'GET', `/servers/${s.uuid}/`)).body.tags.length, 1);
});
