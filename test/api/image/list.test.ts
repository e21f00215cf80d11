import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { newImage, projectUser, upload } from './fixtures.js';

let cloud: TestCloud;
/** A project of its own, so the listing holds only what these tests made (and the public seed). */
let token: string;
let projectId: string;
const made: Record<string, any> = {};

before(async () => {
  cloud = await startCloud();
  ({ token, projectId } = await projectUser(cloud, 'lister'));
  // One second apart, so that created_at orders them.
  const specs: [string, Record<string, unknown>][] = [
    ['alpha', { tags: ['gold'], os_distro: 'ubuntu' }],
    ['bravo', { os_distro: 'debian', disk_format: 'qcow2' }],
    ['charlie', { tags: ['gold', 'small'], os_distro: 'ubuntu' }],
    ['delta', { os_hidden: true }],
    ['echo', { protected: true }],
    ['bravo', { os_distro: 'fedora' }],
  ];
  for (const [i, [name, extra]] of specs.entries()) {
    cloud.clock.advance(1000);
    made[`${name}${i}`] = await newImage(cloud, token, { name, ...extra });
  }
  await upload(cloud, token, made.alpha0.id, Buffer.alloc(1000));
  await upload(cloud, token, made.charlie2.id, Buffer.alloc(3000));
});
after(async () => cloud.close());

const list = (query = '') => cloud.req('GET', `/image/v2/images${query}`, { token });
const names = (res: { body: { images: { name: string }[] } }) => res.body.images.map((i) => i.name);
const ours = (res: { body: { images: { owner: string; name: string }[] } }) => res.body.images.filter((i) => i.owner === projectId).map((i) => i.name);

test('the list has images, first and schema, and no next when everything fits', async () => {
  const res = await list();
  assert.equal(res.status, 200);
  assert.deepEqual(Object.keys(res.body).sort(), ['first', 'images', 'schema']);
  assert.equal(res.body.first, '/v2/images');
  assert.equal(res.body.schema, '/v2/schemas/images');
  assert.ok(names(res).includes('nimbus-demo'));
});

test('images are listed newest first by default', async () => {
  assert.deepEqual(ours(await list()), ['bravo', 'echo', 'charlie', 'bravo', 'alpha']);
});

test('hidden images are left out unless os_hidden=true asks for them alone', async () => {
  assert.ok(!names(await list()).includes('delta'));
  assert.deepEqual(names(await list('?os_hidden=true')), ['delta']);
  assert.equal((await list('?os_hidden=maybe')).status, 400);
});

test('limit and marker page through every image exactly once, following next', async () => {
  const seen: string[] = [];
  let url: string | undefined = '/v2/images?limit=2';
  let pages = 0;
  while (url) {
    const res = await cloud.req('GET', `/image${url}`, { token });
    assert.equal(res.status, 200);
    assert.ok(res.body.images.length <= 2);
    seen.push(...res.body.images.map((i: { id: string }) => i.id));
    url = res.body.next;
    pages++;
  }
  const all = (await list()).body.images.map((i: { id: string }) => i.id);
  assert.deepEqual(seen, all);
  assert.equal(pages, 4); // 6 images: three full pages, then an empty one, as Glance does
});

test('next and first keep the other query parameters and replace the marker', async () => {
  const res = await list('?limit=1&sort_key=name&sort_dir=asc&marker=' + made.alpha0.id);
  assert.equal(res.body.first, '/v2/images?limit=1&sort_key=name&sort_dir=asc');
  assert.equal(res.body.next, `/v2/images?limit=1&sort_key=name&sort_dir=asc&marker=${res.body.images[0].id}`);
});

test('paging by name is stable across equal names', async () => {
  const seen: string[] = [];
  let url: string | undefined = '/v2/images?limit=1&sort_key=name&sort_dir=asc';
  while (url) {
    const res: any = await cloud.req('GET', `/image${url}`, { token });
    seen.push(...res.body.images.map((i: { name: string; owner: string }) => i.name));
    url = res.body.next;
  }
  assert.deepEqual(seen, ['alpha', 'bravo', 'bravo', 'charlie', 'echo', 'nimbus-demo']);
});

test('limit=0 lists nothing', async () => {
  const res = await list('?limit=0');
  assert.deepEqual(res.body.images, []);
  assert.equal(res.body.next, undefined);
});

test('a limit that is not a non-negative integer is 400', async () => {
  const text = await list('?limit=abc');
  assert.equal(text.status, 400);
  assert.equal(text.body.error.message, 'limit param must be an integer');
  const negative = await list('?limit=-1');
  assert.equal(negative.status, 400);
  assert.equal(negative.body.error.message, 'limit param must be positive');
});

test('a marker that is not a visible image is 400', async () => {
  const res = await list('?marker=8b1c6a7e-0000-4000-8000-000000000000');
  assert.equal(res.status, 400);
  assert.match(res.body.error.message, /No image found with ID/);
});

test('filters by name, exactly or with in:', async () => {
  assert.deepEqual(names(await list('?name=bravo')), ['bravo', 'bravo']);
  assert.deepEqual(names(await list('?name=in:alpha,charlie&sort_key=name&sort_dir=asc')), ['alpha', 'charlie']);
  assert.deepEqual(names(await list('?name=in:"alpha",echo&sort_key=name&sort_dir=asc')), ['alpha', 'echo']);
  const bad = await list('?name=like:alpha');
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /unknown operator 'like'/);
});

test('filters by status, disk_format, owner and protected', async () => {
  assert.deepEqual(ours(await list('?status=active&sort_key=name&sort_dir=asc')), ['alpha', 'charlie']);
  assert.deepEqual(names(await list('?disk_format=qcow2')), ['bravo']);
  assert.deepEqual(names(await list(`?owner=${cloud.adminProjectId}`)), ['nimbus-demo']);
  assert.deepEqual(names(await list('?protected=true')), ['echo']);
});

test('filters by visibility, and an unknown visibility is 400', async () => {
  assert.deepEqual(names(await list('?visibility=public')), ['nimbus-demo']);
  assert.equal(ours(await list('?visibility=shared')).length, 5);
  assert.deepEqual(names(await list('?visibility=private')), []);
  const bad = await list('?visibility=everyone');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.message, 'Invalid visibility value: everyone');
});

test('filters by size range', async () => {
  assert.deepEqual(ours(await list('?size_min=2000')), ['charlie']);
  assert.deepEqual(ours(await list('?size_max=2000')), ['alpha']);
  assert.equal((await list('?size_min=big')).status, 400);
});

test('filters by tag: every tag given must be present', async () => {
  assert.deepEqual(names(await list('?tag=gold&sort_key=name&sort_dir=asc')), ['alpha', 'charlie']);
  assert.deepEqual(names(await list('?tag=gold&tag=small')), ['charlie']);
});

test('any other parameter filters on a custom property', async () => {
  assert.deepEqual(names(await list('?os_distro=ubuntu&sort_key=name&sort_dir=asc')), ['alpha', 'charlie']);
  assert.deepEqual(names(await list('?os_distro=fedora')), ['bravo']);
  assert.deepEqual(names(await list('?os_distro=plan9')), []);
});

test('filters on created_at with a comparison operator', async () => {
  const since = made.charlie2.created_at;
  assert.deepEqual(ours(await list(`?created_at=gte:${since}&sort_key=created_at&sort_dir=asc`)), ['charlie', 'echo', 'bravo']);
  assert.equal((await list('?created_at=gt:yesterday')).status, 400);
});

test('sorts by sort_key and sort_dir, or by the sort=key:dir syntax', async () => {
  assert.deepEqual(ours(await list('?sort_key=name&sort_dir=asc')), ['alpha', 'bravo', 'bravo', 'charlie', 'echo']);
  assert.deepEqual(ours(await list('?sort=name:desc')), ['echo', 'charlie', 'bravo', 'bravo', 'alpha']);
  assert.deepEqual(ours(await list('?sort=name:asc,created_at:desc')).slice(0, 3), ['alpha', 'bravo', 'bravo']);
  const bravos = (await list('?name=bravo&sort=name:asc,created_at:desc')).body.images.map((i: any) => i.id);
  assert.deepEqual(bravos, [made.bravo5.id, made.bravo1.id]);
});

test('sorting by size puts images without data last in descending order', async () => {
  assert.deepEqual(ours(await list('?sort_key=size&sort_dir=desc')).slice(0, 2), ['charlie', 'alpha']);
});

test('an unknown sort key or direction is 400', async () => {
  const key = await list('?sort_key=owner');
  assert.equal(key.status, 400);
  assert.match(key.body.error.message, /^Invalid sort key: owner/);
  const dir = await list('?sort_key=name&sort_dir=up');
  assert.equal(dir.status, 400);
  assert.equal(dir.body.error.message, 'Invalid sort direction: up');
  assert.equal((await list('?sort=name&sort_key=name')).status, 400);
});

test('changes-since is refused on v2 with 400', async () => {
  const res = await list('?changes-since=2020-01-01T00:00:00Z');
  assert.equal(res.status, 400);
  assert.equal(res.body.error.message, 'The "changes-since" filter is no longer available on v2.');
});
