import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { fault } from './accounts.js';
import { tenant, type Tenant } from './server-fixtures.js';

let cloud: TestCloud;
let alice: Tenant;
let bob: Tenant;
before(async () => {
  cloud = await startCloud();
  alice = await tenant(cloud, 'alice');
  bob = await tenant(cloud, 'bob');
});
after(async () => cloud.close());

const IMAGES = '/compute/v2.1/images';

/** An image made through Glance; with data it goes active. */
async function glanceImage(token: string, fields: Record<string, unknown> = {}, data?: string): Promise<string> {
  const res = await cloud.req('POST', '/image/v2/images', { token, body: { name: 'img', container_format: 'bare', disk_format: 'raw', visibility: 'private', ...fields } });
  assert.equal(res.status, 201, res.text);
  const id = res.body.id as string;
  if (data !== undefined) {
    const put = await cloud.req('PUT', `/image/v2/images/${id}/file`, { token, raw: data, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(put.status, 204, put.text);
  }
  return id;
}

const glance = async (id: string, token = cloud.adminToken) => cloud.req('GET', `/image/v2/images/${id}`, { token });
const ids = (images: { id: string }[]) => images.map((i) => i.id);

test('the list shows each image with id, name and self, bookmark and Glance alternate links', async () => {
  const id = await glanceImage(alice.token, { name: 'listed' }, 'data');
  const res = await cloud.req('GET', IMAGES, { token: alice.token });
  assert.equal(res.status, 200);
  const image = res.body.images.find((i: { id: string }) => i.id === id);
  assert.deepEqual(image, {
    id,
    name: 'listed',
    links: [
      { rel: 'self', href: `${cloud.url}/compute/v2.1/images/${id}` },
      { rel: 'bookmark', href: `${cloud.url}/compute/images/${id}` },
      { rel: 'alternate', type: 'application/vnd.openstack.image', href: `${cloud.url}/image/images/${id}` },
    ],
  });
});

test("the detail view is Nova's: status, progress, minRam, minDisk, metadata, times and size", async () => {
  const id = await glanceImage(alice.token, { name: 'detailed', min_ram: 128, min_disk: 2, os_distro: 'cirros' }, 'twelve bytes');
  const res = await cloud.req('GET', `${IMAGES}/detail`, { token: alice.token });
  const image = res.body.images.find((i: { id: string }) => i.id === id);
  const g = (await glance(id)).body;
  assert.deepEqual({ ...image, links: undefined }, {
    id,
    name: 'detailed',
    minRam: 128,
    minDisk: 2,
    metadata: { os_distro: 'cirros' },
    created: g.created_at,
    updated: g.updated_at,
    status: 'ACTIVE',
    progress: 100,
    'OS-EXT-IMG-SIZE:size': 12,
    links: undefined,
  });
  assert.match(image.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(image.links.length, 3);
});

test('an image waiting for its data is SAVING at 25% with size 0', async () => {
  const id = await glanceImage(alice.token, { name: 'queued' });
  const res = await cloud.req('GET', `${IMAGES}/${id}`, { token: alice.token });
  assert.equal(res.status, 200);
  assert.equal(res.body.image.status, 'SAVING');
  assert.equal(res.body.image.progress, 25);
  assert.equal(res.body.image['OS-EXT-IMG-SIZE:size'], 0);
});

test('a snapshot names its server, and auto_disk_config shows as OS-DCF:diskConfig', async () => {
  const server = '6f0b4a9c-1d2e-4f3a-8b5c-7d6e5f4a3b2c';
  const id = await glanceImage(alice.token, { name: 'snap', instance_uuid: server, image_type: 'snapshot', auto_disk_config: 'True' }, 'x');
  const image = (await cloud.req('GET', `${IMAGES}/${id}`, { token: alice.token })).body.image;
  assert.deepEqual(image.server, {
    id: server,
    links: [
      { rel: 'self', href: `${cloud.url}/compute/v2.1/servers/${server}` },
      { rel: 'bookmark', href: `${cloud.url}/compute/servers/${server}` },
    ],
  });
  assert.equal(image['OS-DCF:diskConfig'], 'AUTO');
  const plain = (await cloud.req('GET', `${IMAGES}/${await glanceImage(alice.token, { auto_disk_config: 'no' })}`, { token: alice.token })).body.image;
  assert.equal(plain.server, undefined);
  assert.equal(plain['OS-DCF:diskConfig'], 'MANUAL');
});

test('an unknown image is 404 Image not found', async () => {
  const res = await cloud.req('GET', `${IMAGES}/00000000-0000-0000-0000-000000000000`, { token: alice.token });
  assert.equal(res.status, 404);
  assert.deepEqual(fault(res.body), { name: 'itemNotFound', code: 404, message: 'Image not found.' });
});

test("another project's private image is 404 and not listed; public images are shared", async () => {
  const id = await glanceImage(alice.token, { name: 'alice-private' }, 'x');
  assert.equal((await cloud.req('GET', `${IMAGES}/${id}`, { token: bob.token })).status, 404);
  assert.equal((await cloud.req('GET', `${IMAGES}/${id}/metadata`, { token: bob.token })).status, 404);
  assert.equal((await cloud.req('DELETE', `${IMAGES}/${id}`, { token: bob.token })).status, 404);
  const listed = ids((await cloud.req('GET', `${IMAGES}/detail`, { token: bob.token })).body.images);
  assert.ok(!listed.includes(id));
  const publicId = await glanceImage(cloud.adminToken, { name: 'everyone', visibility: 'public' }, 'x');
  assert.ok(ids((await cloud.req('GET', IMAGES, { token: bob.token })).body.images).includes(publicId));
  assert.equal((await cloud.req('GET', `${IMAGES}/${id}`, { token: cloud.adminToken })).status, 200);
});

test('filters: name, status (any case), server (id or link), type, minRam and minDisk, property-*', async () => {
  const t = await tenant(cloud, 'filters');
  const server = '11111111-2222-3333-4444-555555555555';
  const a = await glanceImage(t.token, { name: 'alpha', min_ram: 256, min_disk: 1, color: 'red' }, 'x');
  const b = await glanceImage(t.token, { name: 'beta', instance_uuid: server, image_type: 'snapshot' }, 'x');
  const c = await glanceImage(t.token, { name: 'gamma', min_ram: 512 });
  const mine = async (query: string) => {
    const res = await cloud.req('GET', `${IMAGES}/detail?${query}`, { token: t.token });
    assert.equal(res.status, 200, `${query}: ${res.text}`);
    return ids(res.body.images).filter((id) => [a, b, c].includes(id)).sort();
  };
  assert.deepEqual(await mine('name=alpha'), [a]);
  assert.deepEqual(await mine('status=ACTIVE'), [a, b].sort());
  assert.deepEqual(await mine('status=queued'), [c]);
  assert.deepEqual(await mine(`server=${server}`), [b]);
  assert.deepEqual(await mine(`server=${encodeURIComponent(`${cloud.url}/compute/v2.1/servers/${server}`)}`), [b]);
  assert.deepEqual(await mine('type=snapshot'), [b]);
  // Glance compares minRam and minDisk for equality.
  assert.deepEqual(await mine('minRam=256'), [a]);
  assert.deepEqual(await mine('minDisk=1'), [a]);
  assert.deepEqual(await mine('property-color=red'), [a]);
  assert.equal((await cloud.req('GET', `${IMAGES}?minRam=lots`, { token: t.token })).status, 400);
});

test('changes-since lists the images changed at or after the time', async () => {
  const t = await tenant(cloud, 'changes');
  const old = await glanceImage(t.token, { name: 'old' });
  cloud.clock.advance(5000);
  try {
    const since = new Date(cloud.clock.nowMs() - 1000).toISOString();
    const fresh = await glanceImage(t.token, { name: 'fresh' });
    const res = await cloud.req('GET', `${IMAGES}?changes-since=${since}`, { token: t.token });
    assert.equal(res.status, 200);
    const listed = ids(res.body.images);
    assert.ok(listed.includes(fresh));
    assert.ok(!listed.includes(old));
  } finally {
    cloud.clock.advance(-5000);
  }
  const bad = await cloud.req('GET', `${IMAGES}?changes-since=yesterday`, { token: t.token });
  assert.equal(bad.status, 400);
  assert.match(fault(bad.body).message, /changes-since/);
});

test('limit and marker page the list, with images_links to the next page', async () => {
  const t = await tenant(cloud, 'paging');
  for (const name of ['p1', 'p2', 'p3']) await glanceImage(t.token, { name });
  const all = ids((await cloud.req('GET', IMAGES, { token: t.token })).body.images);
  const first = await cloud.req('GET', `${IMAGES}?limit=2`, { token: t.token });
  assert.deepEqual(ids(first.body.images), all.slice(0, 2));
  const next = new URL(first.body.images_links[0].href);
  assert.equal(first.body.images_links[0].rel, 'next');
  assert.equal(next.pathname, '/compute/v2.1/images');
  assert.equal(next.searchParams.get('marker'), all[1]);
  const second = await cloud.req('GET', next.pathname + next.search, { token: t.token });
  assert.deepEqual(ids(second.body.images), all.slice(2, 4));
  const detail = await cloud.req('GET', `${IMAGES}/detail?limit=1`, { token: t.token });
  assert.equal(detail.body.images.length, 1);
  assert.equal(new URL(detail.body.images_links[0].href).pathname, '/compute/v2.1/images/detail');
  assert.equal((await cloud.req('GET', IMAGES, { token: t.token })).body.images_links, undefined);
});

test('a bad limit is 400', async () => {
  for (const [limit, message] of [
    ['-1', 'Invalid input received: limit must be >= 0'],
    ['many', 'Invalid input received: limit must be an integer'],
  ]) {
    const res = await cloud.req('GET', `${IMAGES}?limit=${limit}`, { token: alice.token });
    assert.equal(res.status, 400);
    assert.equal(fault(res.body).message, message);
  }
});

test('delete removes the image from Glance too', async () => {
  const id = await glanceImage(alice.token, { name: 'doomed' }, 'x');
  const res = await cloud.req('DELETE', `${IMAGES}/${id}`, { token: alice.token });
  assert.equal(res.status, 204);
  assert.equal((await glance(id)).status, 404);
  assert.equal((await cloud.req('DELETE', `${IMAGES}/${id}`, { token: alice.token })).status, 404);
});

test("deleting another project's public image or a protected one is 403", async () => {
  const publicId = await glanceImage(cloud.adminToken, { name: 'shared', visibility: 'public' }, 'x');
  const res = await cloud.req('DELETE', `${IMAGES}/${publicId}`, { token: alice.token });
  assert.equal(res.status, 403);
  assert.equal(fault(res.body).message, 'You are not allowed to delete the image.');
  const guarded = await glanceImage(alice.token, { name: 'guarded', protected: true }, 'x');
  assert.equal((await cloud.req('DELETE', `${IMAGES}/${guarded}`, { token: alice.token })).status, 403);
  assert.equal((await glance(guarded)).status, 200);
});

test('DELETE /images/ names no image: 404', async () => {
  const res = await cloud.req('DELETE', `${IMAGES}/`, { token: alice.token });
  assert.equal(res.status, 404);
});

test('the image proxy is gone from 2.36: 404; 2.35 still has it', async () => {
  const id = await glanceImage(alice.token, {}, 'x');
  for (const path of [IMAGES, `${IMAGES}/detail`, `${IMAGES}/${id}`]) {
    assert.equal((await cloud.req('GET', path, { token: alice.token, version: '2.35' })).status, 200, path);
    const gone = await cloud.req('GET', path, { token: alice.token, version: '2.36' });
    assert.equal(gone.status, 404, path);
    assert.equal(fault(gone.body).message, 'The resource could not be found.');
  }
  assert.equal((await cloud.req('DELETE', `${IMAGES}/${id}`, { token: alice.token, version: '2.36' })).status, 404);
  assert.equal((await glance(id)).status, 200);
});

test('metadata lists the custom properties', async () => {
  const id = await glanceImage(alice.token, { os_distro: 'cirros', hw_disk_bus: 'virtio' });
  const res = await cloud.req('GET', `${IMAGES}/${id}/metadata`, { token: alice.token });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { metadata: { os_distro: 'cirros', hw_disk_bus: 'virtio' } });
});

test('POST metadata merges into the properties, and Glance shows them', async () => {
  const id = await glanceImage(alice.token, { keep: 'me', change: 'old' });
  const res = await cloud.req('POST', `${IMAGES}/${id}/metadata`, { token: alice.token, body: { metadata: { change: 'new', added: 'yes' } } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { metadata: { keep: 'me', change: 'new', added: 'yes' } });
  const g = (await glance(id)).body;
  assert.equal(g.keep, 'me');
  assert.equal(g.change, 'new');
  assert.equal(g.added, 'yes');
});

test('PUT metadata replaces the properties: the others are removed', async () => {
  const id = await glanceImage(alice.token, { gone: 'soon', stays: 'a' });
  const res = await cloud.req('PUT', `${IMAGES}/${id}/metadata`, { token: alice.token, body: { metadata: { stays: 'b', fresh: 'c' } } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { metadata: { stays: 'b', fresh: 'c' } });
  const g = (await glance(id)).body;
  assert.equal(g.gone, undefined);
  assert.equal(g.stays, 'b');
  assert.deepEqual((await cloud.req('GET', `${IMAGES}/${id}/metadata`, { token: alice.token })).body.metadata, { stays: 'b', fresh: 'c' });
});

test('one metadata item: show, set and delete; a missing key is 404', async () => {
  const id = await glanceImage(alice.token, { one: '1' });
  const item = (key: string) => `${IMAGES}/${id}/metadata/${key}`;
  assert.deepEqual((await cloud.req('GET', item('one'), { token: alice.token })).body, { meta: { one: '1' } });
  const missing = await cloud.req('GET', item('nope'), { token: alice.token });
  assert.equal(missing.status, 404);
  const set = await cloud.req('PUT', item('two'), { token: alice.token, body: { meta: { two: '2' } } });
  assert.equal(set.status, 200);
  assert.deepEqual(set.body, { meta: { two: '2' } });
  assert.equal((await glance(id)).body.two, '2');
  const del = await cloud.req('DELETE', item('one'), { token: alice.token });
  assert.equal(del.status, 204);
  assert.equal((await glance(id)).body.one, undefined);
  const again = await cloud.req('DELETE', item('one'), { token: alice.token });
  assert.equal(again.status, 404);
  assert.equal(fault(again.body).message, 'Invalid metadata key');
});

test('setting one item whose key differs from the URI is 400', async () => {
  const id = await glanceImage(alice.token);
  const res = await cloud.req('PUT', `${IMAGES}/${id}/metadata/one`, { token: alice.token, body: { meta: { other: 'x' } } });
  assert.equal(res.status, 400);
  assert.equal(fault(res.body).message, 'Request body and URI mismatch');
});

test('bad metadata bodies are 400 naming the field', async () => {
  const id = await glanceImage(alice.token);
  const cases: [string, string, unknown, RegExp][] = [
    ['POST', 'metadata', { metadata: { key: 1 } }, /^Invalid input for field\/attribute key\. Value: 1\. 1 is not of type 'string'/],
    ['PUT', 'metadata', { metadata: { key: 'v'.repeat(256) } }, /^Invalid input for field\/attribute key\..* is too long/],
    ['POST', 'metadata', { meta: {} }, /'metadata' is a required property/],
    ['PUT', 'metadata/a', { meta: { a: 'x', b: 'y' } }, /^Invalid input for field\/attribute meta\./],
    ['POST', 'metadata', { metadata: { 'bad/key': 'x' } }, /^Invalid input for field\/attribute metadata\./],
    // Glance's own attributes are not properties.
    ['POST', 'metadata', { metadata: { min_ram: '5' } }, /^Invalid metadata key min_ram/],
  ];
  for (const [method, path, body, message] of cases) {
    const res = await cloud.req(method, `${IMAGES}/${id}/${path}`, { token: alice.token, body });
    assert.equal(res.status, 400, `${method} ${path} ${JSON.stringify(body)}`);
    assert.match(fault(res.body).message, message);
  }
});

test('more than maxImageMeta (128) items is 403', async () => {
  const id = await glanceImage(alice.token);
  const metadata = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, 'v']));
  const res = await cloud.req('PUT', `${IMAGES}/${id}/metadata`, { token: alice.token, body: { metadata } });
  assert.equal(res.status, 403);
  assert.deepEqual(fault(res.body), { name: 'forbidden', code: 403, message: 'Image metadata limit exceeded' });
  delete metadata.k128;
  assert.equal((await cloud.req('PUT', `${IMAGES}/${id}/metadata`, { token: alice.token, body: { metadata } })).status, 200);
  const over = await cloud.req('POST', `${IMAGES}/${id}/metadata`, { token: alice.token, body: { metadata: { extra: 'x' } } });
  assert.equal(over.status, 403);
});

test("another project's public image metadata is readable but not writable (403)", async () => {
  const id = await glanceImage(cloud.adminToken, { visibility: 'public', owner_prop: 'admin' }, 'x');
  assert.deepEqual((await cloud.req('GET', `${IMAGES}/${id}/metadata`, { token: bob.token })).body, { metadata: { owner_prop: 'admin' } });
  for (const [method, path, body] of [
    ['POST', 'metadata', { metadata: { a: 'b' } }],
    ['PUT', 'metadata', { metadata: {} }],
    ['PUT', 'metadata/a', { meta: { a: 'b' } }],
    ['DELETE', 'metadata/owner_prop', undefined],
  ] as const) {
    const res = await cloud.req(method, `${IMAGES}/${id}/${path}`, { token: bob.token, body });
    assert.equal(res.status, 403, `${method} ${path}`);
    assert.equal(fault(res.body).message, `Not authorized for image ${id}.`);
  }
  assert.equal((await glance(id)).body.owner_prop, 'admin');
});

test('image metadata is gone from 2.39: 404; 2.38 still has it', async () => {
  const id = await glanceImage(alice.token, { k: 'v' });
  assert.equal((await cloud.req('GET', `${IMAGES}/${id}/metadata`, { token: alice.token, version: '2.38' })).status, 200);
  assert.equal((await cloud.req('GET', `${IMAGES}/${id}`, { token: alice.token, version: '2.38' })).status, 404);
  for (const [method, path] of [['GET', 'metadata'], ['POST', 'metadata'], ['PUT', 'metadata'], ['GET', 'metadata/k'], ['DELETE', 'metadata/k']]) {
    const res = await cloud.req(method, `${IMAGES}/${id}/${path}`, { token: alice.token, version: '2.39', body: method === 'GET' || method === 'DELETE' ? undefined : { metadata: {} } });
    assert.equal(res.status, 404, `${method} ${path}`);
  }
  assert.equal((await glance(id)).body.k, 'v');
});
