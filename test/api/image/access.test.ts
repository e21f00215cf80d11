import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Policy } from '../../../src/policy/policy.js';
import { startCloud, type TestCloud } from '../../support.js';
import { createImage, download, newImage, patch, projectUser, upload } from './fixtures.js';

let cloud: TestCloud;
let other: { token: string; projectId: string };
let reader: { token: string; projectId: string };

before(async () => {
  cloud = await startCloud();
  other = await projectUser(cloud, 'other');
  reader = await projectUser(cloud, 'readers', 'reader');
});
after(async () => cloud.close());

const listIds = async (token: string, query = '') =>
  (await cloud.req('GET', `/image/v2/images${query}`, { token })).body.images.map((i: { id: string }) => i.id);

test("another project's private image is 404 to show, patch, delete, upload, download and tag", async () => {
  for (const visibility of ['private', 'shared']) {
    const img = await newImage(cloud, cloud.demoToken, { visibility });
    const t = other.token;
    assert.equal((await cloud.req('GET', `/image/v2/images/${img.id}`, { token: t })).status, 404, visibility);
    assert.equal((await patch(cloud, t, img.id, [{ op: 'replace', path: '/name', value: 'mine' }])).status, 404);
    assert.equal((await cloud.req('DELETE', `/image/v2/images/${img.id}`, { token: t })).status, 404);
    assert.equal((await upload(cloud, t, img.id, 'data')).status, 404);
    assert.equal((await download(cloud, t, img.id)).status, 404);
    assert.equal((await cloud.req('PUT', `/image/v2/images/${img.id}/tags/x`, { token: t })).status, 404);
    // …and the owner still has it, untouched.
    const own = await cloud.req('GET', `/image/v2/images/${img.id}`, { token: cloud.demoToken });
    assert.equal(own.body.name, 'img');
    assert.equal(own.body.status, 'queued');
  }
});

test("another project's private image is not listed, not even by name or as a marker", async () => {
  const img = await newImage(cloud, cloud.demoToken, { name: 'secret-image', visibility: 'private' });
  assert.ok(!(await listIds(other.token)).includes(img.id));
  assert.deepEqual(await listIds(other.token, '?name=secret-image'), []);
  assert.equal((await cloud.req('GET', `/image/v2/images?marker=${img.id}`, { token: other.token })).status, 400);
});

test("a public image of another project can be seen and downloaded but not changed (403)", async () => {
  const seeded = (await cloud.req('GET', '/image/v2/images?name=nimbus-demo', { token: other.token })).body.images[0];
  assert.equal((await cloud.req('GET', `/image/v2/images/${seeded.id}`, { token: other.token })).status, 200);
  assert.equal((await download(cloud, other.token, seeded.id)).status, 200);
  assert.equal((await patch(cloud, other.token, seeded.id, [{ op: 'replace', path: '/name', value: 'hijacked' }])).status, 403);
  assert.equal((await cloud.req('DELETE', `/image/v2/images/${seeded.id}`, { token: other.token })).status, 403);
  assert.equal((await cloud.req('PUT', `/image/v2/images/${seeded.id}/tags/x`, { token: other.token })).status, 403);
});

test("community images are visible by id, but listed to other projects only when asked for", async () => {
  const img = await newImage(cloud, cloud.demoToken, { visibility: 'community' });
  assert.equal((await cloud.req('GET', `/image/v2/images/${img.id}`, { token: other.token })).status, 200);
  assert.ok(!(await listIds(other.token)).includes(img.id));
  assert.ok((await listIds(other.token, '?visibility=community')).includes(img.id));
  assert.ok((await listIds(other.token, '?visibility=all')).includes(img.id));
  assert.ok((await listIds(cloud.demoToken)).includes(img.id));
});

test('an admin sees and may change every project\'s images', async () => {
  const img = await newImage(cloud, other.token, { visibility: 'private' });
  assert.equal((await cloud.req('GET', `/image/v2/images/${img.id}`, { token: cloud.adminToken })).status, 200);
  assert.ok((await listIds(cloud.adminToken)).includes(img.id));
  const res = await patch(cloud, cloud.adminToken, img.id, [{ op: 'add', path: '/checked', value: 'yes' }]);
  assert.equal(res.status, 200);
  assert.equal(res.body.owner, other.projectId);
});

test('only an admin may make an image public: 403 for a member on create and on patch', async () => {
  const create = await createImage(cloud, cloud.demoToken, { visibility: 'public' });
  assert.equal(create.status, 403);
  assert.equal(create.body.error.message, "Policy doesn't allow image:publicize_image to be performed.");
  const img = await newImage(cloud, cloud.demoToken);
  const change = await patch(cloud, cloud.demoToken, img.id, [{ op: 'replace', path: '/visibility', value: 'public' }]);
  assert.equal(change.status, 403);
  const admin = await patch(cloud, cloud.adminToken, img.id, [{ op: 'replace', path: '/visibility', value: 'public' }]);
  assert.equal(admin.status, 200);
  assert.equal(admin.body.visibility, 'public');
  assert.equal((await cloud.req('GET', `/image/v2/images/${img.id}`, { token: other.token })).status, 200);
});

test('a member may make their image community or private', async () => {
  const img = await newImage(cloud, cloud.demoToken);
  const res = await patch(cloud, cloud.demoToken, img.id, [{ op: 'replace', path: '/visibility', value: 'community' }]);
  assert.equal(res.status, 200);
  assert.equal(res.body.visibility, 'community');
});

test('a member may not create an image owned by another project (403), an admin may', async () => {
  const member = await createImage(cloud, cloud.demoToken, { owner: other.projectId });
  assert.equal(member.status, 403);
  assert.equal(member.body.error.message, `You are not permitted to create images owned by '${other.projectId}'.`);
  const admin = await createImage(cloud, cloud.adminToken, { owner: other.projectId });
  assert.equal(admin.status, 201);
  assert.equal(admin.body.owner, other.projectId);
  assert.equal((await cloud.req('GET', `/image/v2/images/${admin.body.id}`, { token: other.token })).status, 200);
});

test('only an admin may change the owner (403 for the owning member)', async () => {
  const img = await newImage(cloud, cloud.demoToken);
  const res = await patch(cloud, cloud.demoToken, img.id, [{ op: 'replace', path: '/owner', value: other.projectId }]);
  assert.equal(res.status, 403);
  assert.equal(res.body.error.message, "Owner can't be updated by non admin.");
});

test('a reader sees images but may not create, change, upload or delete them (403)', async () => {
  const seeded = (await cloud.req('GET', '/image/v2/images?name=nimbus-demo', { token: reader.token })).body.images;
  assert.equal(seeded.length, 1);
  assert.equal((await createImage(cloud, reader.token)).status, 403);
  // An image in the reader's project, made by an admin.
  const img = await newImage(cloud, cloud.adminToken, { owner: reader.projectId });
  assert.equal((await cloud.req('GET', `/image/v2/images/${img.id}`, { token: reader.token })).status, 200);
  assert.equal((await patch(cloud, reader.token, img.id, [{ op: 'replace', path: '/name', value: 'x' }])).status, 403);
  assert.equal((await upload(cloud, reader.token, img.id, 'data')).status, 403);
  assert.equal((await cloud.req('DELETE', `/image/v2/images/${img.id}`, { token: reader.token })).status, 403);
});

test('policy overrides apply to the image API: a denied get_image hides images (404)', async () => {
  const custom = await startCloud();
  try {
    const img = await newImage(custom, custom.demoToken);
    // As an operator's override would: only admins may read or add images.
    custom.services.policy = new Policy({ 'image:get_image': 'admin', 'image:add_image': 'admin' });
    assert.equal((await custom.req('GET', `/image/v2/images/${img.id}`, { token: custom.demoToken })).status, 404);
    assert.deepEqual((await custom.req('GET', '/image/v2/images', { token: custom.demoToken })).body.images, []);
    assert.equal((await createImage(custom, custom.demoToken)).status, 403);
    assert.equal((await custom.req('GET', `/image/v2/images/${img.id}`, { token: custom.adminToken })).status, 200);
  } finally {
    await custom.close();
  }
});
