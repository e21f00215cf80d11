import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startCloud, type TestCloud } from '../../support.js';
import { download, newImage, upload } from './fixtures.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');
const show = async (id: string) => (await cloud.req('GET', `/image/v2/images/${id}`, { token: cloud.demoToken })).body;

test('uploading data answers 204 and makes the image active with size, md5 checksum and sha512 hash', async () => {
  const data = randomBytes(300_000);
  const img = await newImage(cloud, cloud.demoToken);
  const res = await upload(cloud, cloud.demoToken, img.id, data);
  assert.equal(res.status, 204);
  assert.equal(res.text, '');
  const after = await show(img.id);
  assert.equal(after.status, 'active');
  assert.equal(after.size, data.length);
  assert.equal(after.checksum, md5(data));
  assert.equal(after.os_hash_algo, 'sha512');
  assert.equal(after.os_hash_value, sha512(data));
});

test('downloading returns the uploaded bytes as octet-stream with Content-MD5 and Content-Length', async () => {
  const data = randomBytes(200_001);
  const img = await newImage(cloud, cloud.demoToken);
  await upload(cloud, cloud.demoToken, img.id, data);
  const res = await download(cloud, cloud.demoToken, img.id);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/octet-stream');
  assert.equal(res.headers.get('content-length'), String(data.length));
  assert.equal(res.headers.get('content-md5'), md5(data));
  assert.ok(res.data.equals(data));
});

test('the data lands in <dataDir>/images/<id> and goes when the image is deleted', async () => {
  const img = await newImage(cloud, cloud.demoToken);
  await upload(cloud, cloud.demoToken, img.id, 'disk');
  const file = join(cloud.dataDir, 'images', img.id);
  assert.ok(existsSync(file));
  assert.equal((await cloud.req('DELETE', `/image/v2/images/${img.id}`, { token: cloud.demoToken })).status, 204);
  assert.ok(!existsSync(file));
});

test('an upload far above the JSON body limit is streamed through', async () => {
  const data = randomBytes(5 * 1024 * 1024);
  const img = await newImage(cloud, cloud.demoToken);
  assert.equal((await upload(cloud, cloud.demoToken, img.id, data)).status, 204);
  assert.equal((await show(img.id)).checksum, md5(data));
});

test('a chunked upload without Content-Length is accepted', async () => {
  const img = await newImage(cloud, cloud.demoToken);
  const parts = [randomBytes(70_000), randomBytes(90_000)];
  const body = new ReadableStream({
    start(controller) {
      for (const p of parts) controller.enqueue(new Uint8Array(p));
      controller.close();
    },
  });
  const res = await fetch(`${cloud.url}/image/v2/images/${img.id}/file`, {
    method: 'PUT',
    headers: { 'x-auth-token': cloud.demoToken, 'content-type': 'application/octet-stream' },
    body,
    duplex: 'half',
  } as RequestInit);
  assert.equal(res.status, 204);
  assert.equal((await show(img.id)).checksum, md5(Buffer.concat(parts)));
});

test('an empty upload makes an active image of size 0', async () => {
  const img = await newImage(cloud, cloud.demoToken);
  assert.equal((await upload(cloud, cloud.demoToken, img.id, Buffer.alloc(0))).status, 204);
  const after = await show(img.id);
  assert.equal(after.status, 'active');
  assert.equal(after.size, 0);
  assert.equal(after.checksum, md5(Buffer.alloc(0)));
});

test('a raw bare image has virtual_size equal to its size; a qcow2 image reads it from its header', async () => {
  const raw = await newImage(cloud, cloud.demoToken);
  await upload(cloud, cloud.demoToken, raw.id, randomBytes(4096));
  assert.equal((await show(raw.id)).virtual_size, 4096);

  const header = Buffer.alloc(512);
  header.write('QFI\xfb', 0, 'latin1');
  header.writeUInt32BE(3, 4);
  header.writeBigUInt64BE(1n << 30n, 24);
  const qcow2 = await newImage(cloud, cloud.demoToken, { disk_format: 'qcow2' });
  await upload(cloud, cloud.demoToken, qcow2.id, header);
  assert.equal((await show(qcow2.id)).virtual_size, 1 << 30);
});

test('downloading an image that has no data answers 204 with an empty body', async () => {
  const img = await newImage(cloud, cloud.demoToken);
  const res = await download(cloud, cloud.demoToken, img.id);
  assert.equal(res.status, 204);
  assert.equal(res.data.length, 0);
});

test('uploading to an image that is already active is 409', async () => {
  const img = await newImage(cloud, cloud.demoToken);
  await upload(cloud, cloud.demoToken, img.id, 'first');
  const res = await upload(cloud, cloud.demoToken, img.id, 'second');
  assert.equal(res.status, 409);
  assert.equal(res.body.error.message, 'Image status transition from active to saving is not allowed');
  const after = await download(cloud, cloud.demoToken, img.id);
  assert.equal(after.data.toString(), 'first');
});

test('uploading before disk_format and container_format are set is 400 naming them', async () => {
  const res0 = await cloud.req('POST', '/image/v2/images', { token: cloud.demoToken, body: { name: 'bare-only', container_format: 'bare' } });
  const res = await upload(cloud, cloud.demoToken, res0.body.id, 'x');
  assert.equal(res.status, 400);
  assert.equal(res.body.error.message, 'Property disk_format must be set prior to saving data.');
  assert.equal((await show(res0.body.id)).status, 'queued');
});

test('uploading with a Content-Type other than application/octet-stream is 415', async () => {
  const img = await newImage(cloud, cloud.demoToken);
  const json = await upload(cloud, cloud.demoToken, img.id, '{}', 'application/json');
  assert.equal(json.status, 415);
  const text = await upload(cloud, cloud.demoToken, img.id, 'abc', 'text/plain');
  assert.equal(text.status, 415);
  assert.equal((await show(img.id)).status, 'queued');
});

test('an upload over the image size cap is 413 and leaves the image queued for a retry', async () => {
  const img = await newImage(cloud, cloud.demoToken);
  const cap = cloud.services.images.sizeCap;
  cloud.services.images.sizeCap = 100_000;
  try {
    const declared = await upload(cloud, cloud.demoToken, img.id, randomBytes(150_000));
    assert.equal(declared.status, 413);
    assert.match(declared.body.error.message, /too large/);
    // Without Content-Length the cap is found while streaming.
    const body = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(randomBytes(40_000)));
        controller.close();
      },
    });
    const streamed = await fetch(`${cloud.url}/image/v2/images/${img.id}/file`, {
      method: 'PUT',
      headers: { 'x-auth-token': cloud.demoToken, 'content-type': 'application/octet-stream' },
      body,
      duplex: 'half',
    } as RequestInit);
    assert.equal(streamed.status, 413);
    await streamed.text();
    assert.equal((await show(img.id)).status, 'queued');
    assert.ok(!existsSync(join(cloud.dataDir, 'images', `${img.id}.part`)));
  } finally {
    cloud.services.images.sizeCap = cap;
  }
  assert.equal((await upload(cloud, cloud.demoToken, img.id, 'fits')).status, 204);
});

test('uploading to or downloading an unknown image is 404', async () => {
  const id = '7f9c8a2e-0000-4000-8000-000000000000';
  assert.equal((await upload(cloud, cloud.demoToken, id, 'x')).status, 404);
  assert.equal((await download(cloud, cloud.demoToken, id)).status, 404);
});

test('deleting an image while its data uploads ends the upload with 404 and leaves no data behind', async () => {
  const img = await newImage(cloud, cloud.demoToken);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let chunks = 0;
  const body = new ReadableStream({
    async pull(controller) {
      if (chunks === 1) await gate;
      if (chunks === 2) return controller.close();
      controller.enqueue(new Uint8Array(randomBytes(64_000)));
      chunks++;
    },
  });
  const uploading = fetch(`${cloud.url}/image/v2/images/${img.id}/file`, {
    method: 'PUT',
    headers: { 'x-auth-token': cloud.demoToken, 'content-type': 'application/octet-stream' },
    body,
    duplex: 'half',
  } as RequestInit);
  for (let i = 0; (await show(img.id)).status !== 'saving'; i++) {
    assert.ok(i < 200, 'the image never went to saving');
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal((await cloud.req('DELETE', `/image/v2/images/${img.id}`, { token: cloud.demoToken })).status, 204);
  release();
  const res = await uploading;
  assert.equal(res.status, 404);
  assert.match((await res.json()).error.message, /deleted during the upload/);
  assert.ok(!existsSync(join(cloud.dataDir, 'images', img.id)));
  assert.ok(!existsSync(join(cloud.dataDir, 'images', `${img.id}.part`)));
});
