import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { assertError, createDrive, cs, unlimited } from './cs.js';

/** The face's conventions on /servers/: lists, filters, ordering, bodies, slashes. */
let cloud: TestCloud;
const names = Array.from({ length: 25 }, (_, i) => `srv-${String(i).padStart(2, '0')}`);
before(async () => {
  cloud = await startCloud();
  await unlimited(cloud);
  const res = await cs(cloud, 'POST', '/servers/', { body: { objects: names.map((name) => ({ name, cpu: 1000, mem: 268435456, vnc_password: 'x' })) } });
  assert.equal(res.status, 201, res.text);
});
after(async () => cloud.close());

test('a list without limit has 20 objects and meta with the exact total_count', async () => {
  const res = await cs(cloud, 'GET', '/servers/');
  assert.deepEqual(res.body.meta, { limit: 20, offset: 0, total_count: 25 });
  assert.equal(res.body.objects.length, 20);
});

test('limit=0 lists everything', async () => {
  const res = await cs(cloud, 'GET', '/servers/?limit=0');
  assert.deepEqual(res.body.meta, { limit: 0, offset: 0, total_count: 25 });
  assert.equal(res.body.objects.length, 25);
});

test('limit and offset give non-overlapping pages covering the list', async () => {
  const seen: string[] = [];
  for (let offset = 0; offset < 25; offset += 7) {
    const res = await cs(cloud, 'GET', `/servers/?limit=7&offset=${offset}`);
    assert.deepEqual(res.body.meta, { limit: 7, offset, total_count: 25 });
    seen.push(...res.body.objects.map((o: { uuid: string }) => o.uuid));
  }
  assert.equal(seen.length, 25);
  assert.equal(new Set(seen).size, 25);
});

// A list without filters is paged by the database (ServerRows.page); these hold it to the
// same answers as the in-memory listing: order, count, and a page past the end.
test('detail pages in creation order and by -uuid match the whole list, and an offset past the end has the count and no objects', async () => {
  const all = (await cs(cloud, 'GET', '/servers/detail/?limit=0')).body.objects.map((o: { uuid: string }) => o.uuid);
  assert.deepEqual(all, (await cs(cloud, 'GET', '/servers/detail/?limit=0&name__contains=srv')).body.objects.map((o: { uuid: string }) => o.uuid));
  const second = await cs(cloud, 'GET', '/servers/detail/?limit=10&offset=10');
  assert.deepEqual(second.body.objects.map((o: { uuid: string }) => o.uuid), all.slice(10, 20));
  const byUuid = await cs(cloud, 'GET', '/servers/detail/?limit=5&offset=3&order_by=-uuid');
  assert.deepEqual(byUuid.body.objects.map((o: { uuid: string }) => o.uuid), [...all].sort().reverse().slice(3, 8));
  const past = await cs(cloud, 'GET', '/servers/detail/?limit=10&offset=40');
  assert.deepEqual(past.body, { meta: { limit: 10, offset: 40, total_count: 25 }, objects: [] });
});

test('a limit or offset past 2^63 is a count like any other: everything, or nothing past the end', async () => {
  const all = await cs(cloud, 'GET', '/servers/?limit=9223372036854775808');
  assert.equal(all.status, 200, all.text);
  assert.equal(all.body.objects.length, 25);
  const none = await cs(cloud, 'GET', '/servers/detail/?offset=9223372036854775808');
  assert.equal(none.status, 200, none.text);
  assert.deepEqual(none.body.objects, []);
  assert.equal(none.body.meta.total_count, 25);
});

test('name=a,b is OR', async () => {
  const res = await cs(cloud, 'GET', '/servers/?name=srv-01,srv-02,nothing');
  assert.deepEqual(res.body.objects.map((o: { name: string }) => o.name).sort(), ['srv-01', 'srv-02']);
  assert.equal(res.body.meta.total_count, 2);
});

test('name__contains filters by substring; different parameters are AND', async () => {
  const res = await cs(cloud, 'GET', '/servers/?limit=0&name__contains=-1');
  assert.equal(res.body.meta.total_count, 10);
  const both = await cs(cloud, 'GET', '/servers/?limit=0&name__contains=-1&status=running');
  assert.equal(both.body.meta.total_count, 0);
});

test('name__contains and name__startswith are case-sensitive and take % and _ as themselves, counted and paged in the statement', async () => {
  const made = await cs(cloud, 'POST', '/servers/', { body: { objects: ['Pct-100%', 'under_score', 'underXscore'].map((name) => ({ name, cpu: 1000, mem: 268435456, vnc_password: 'x' })) } });
  assert.equal(made.status, 201, made.text);
  const names = async (query: string) => (await cs(cloud, 'GET', `/servers/?limit=0&${query}`)).body.objects.map((o: { name: string }) => o.name).sort();
  assert.deepEqual(await names('name__contains=0%25'), ['Pct-100%']);
  assert.deepEqual(await names('name__contains=r_s'), ['under_score']);
  assert.deepEqual(await names('name__contains=SRV'), []);
  assert.deepEqual(await names('name__startswith=pct'), []);
  assert.deepEqual(await names('name__startswith=under'), ['underXscore', 'under_score']);
  const all = (await cs(cloud, 'GET', '/servers/?limit=0')).body.objects.map((o: { name: string }) => o.name);
  const page = await cs(cloud, 'GET', '/servers/?limit=2&offset=1&name__startswith=srv-1');
  assert.deepEqual(page.body.meta, { limit: 2, offset: 1, total_count: 10 });
  assert.deepEqual(page.body.objects.map((o: { name: string }) => o.name), all.filter((n: string) => n.startsWith('srv-1')).slice(1, 3));
  for (const o of made.body.objects) assert.equal((await cs(cloud, 'DELETE', `/servers/${o.uuid}/`)).status, 204);
  await cloud.services.runner.idle();
});

test('uuid filters by uuid and status by CloudSigma status', async () => {
  const all = await cs(cloud, 'GET', '/servers/?limit=0&status=stopped');
  assert.equal(all.body.meta.total_count, 25);
  const uuid = all.body.objects[3].uuid;
  const one = await cs(cloud, 'GET', `/servers/?uuid=${uuid}`);
  assert.deepEqual(one.body.objects.map((o: { uuid: string }) => o.uuid), [uuid]);
});

test('order_by=name and -name sort by name', async () => {
  const up = await cs(cloud, 'GET', '/servers/?limit=3&order_by=name');
  assert.deepEqual(up.body.objects.map((o: { name: string }) => o.name), ['srv-00', 'srv-01', 'srv-02']);
  const down = await cs(cloud, 'GET', '/servers/?limit=3&order_by=-name');
  assert.deepEqual(down.body.objects.map((o: { name: string }) => o.name), ['srv-24', 'srv-23', 'srv-22']);
});

test('order_by a field that is not orderable is 400 naming order_by', async () => {
  assertError(await cs(cloud, 'GET', '/servers/?order_by=mem'), 400, 'validation', 'order_by');
});

test('a limit that is not a number is 400 naming limit', async () => {
  assertError(await cs(cloud, 'GET', '/servers/?limit=ten'), 400, 'validation', 'limit');
  assertError(await cs(cloud, 'GET', '/servers/?offset=-1'), 400, 'validation', 'offset');
});

test('a path without its trailing slash is served too', async () => {
  const res = await cs(cloud, 'GET', '/servers?limit=1');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.meta.limit, 1);
});

test('a malformed JSON body is 400 validation, not 500', async () => {
  assertError(await cs(cloud, 'POST', '/servers/', { raw: '{"objects": [', headers: { 'content-type': 'application/json' } }), 400, 'validation');
});

test('a body that is a list or an empty objects list is 400 naming objects', async () => {
  assertError(await cs(cloud, 'POST', '/servers/', { body: [1, 2] }), 400, 'validation', 'objects');
  assertError(await cs(cloud, 'POST', '/servers/', { body: { objects: [] } }), 400, 'validation', 'objects');
});

test('an unknown server is 404 notexist', async () => {
  assertError(await cs(cloud, 'GET', '/servers/6b0ea4bb-9a3c-4d1e-8d4c-2a7a0d27a111/'), 404, 'notexist');
  assertError(await cs(cloud, 'GET', '/servers/not-a-uuid/'), 404, 'notexist');
});

test('a method a resource does not take is 405 in CloudSigma\'s error list', async () => {
  assertError(await cs(cloud, 'PATCH', '/servers/'), 405, 'validation');
});

// A page keeps each server's rendered view while its version holds (migration 080).
test('a detail page shows tags, drives and jobs changed after the page was last rendered, from either side', async () => {
  const detail = async () => (await cs(cloud, 'GET', '/servers/detail/?limit=0')).body.objects.find((o: { name: string }) => o.name === 'srv-03');
  const server = await detail();
  assert.deepEqual([server.tags, server.drives, server.jobs], [[], [], []]);
  // Tagged from the tag's side: only server_tags changes.
  const tag = await cs(cloud, 'POST', '/tags/', { body: { name: 'late-tag', resources: [server.uuid] } });
  assert.equal(tag.status, 201, tag.text);
  assert.deepEqual((await detail()).tags.map((t: { uuid: string }) => t.uuid), [tag.body.objects[0].uuid]);
  const drive = await createDrive(cloud, { name: 'late-drive' });
  const put = await cs(cloud, 'PUT', `/servers/${server.uuid}/`, { body: { name: 'srv-03', cpu: 1000, mem: 268435456, vnc_password: 'x', drives: [{ boot_order: 1, dev_channel: '0:0', device: 'virtio', drive: drive.uuid }] } });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual((await detail()).drives.map((d: { drive: { uuid: string } }) => d.drive.uuid), [drive.uuid]);
  // A clone of the server is a job that concerns it.
  const clone = await cs(cloud, 'POST', `/servers/${server.uuid}/action/?do=clone`, { body: { name: 'srv-03-copy' } });
  assert.equal(clone.status, 202, clone.text);
  await cloud.services.runner.idle();
  assert.equal((await detail()).jobs.length, 1);
  assert.equal((await cs(cloud, 'DELETE', `/tags/${tag.body.objects[0].uuid}/`)).status, 204);
  await cloud.services.runner.idle();
  assert.deepEqual((await detail()).tags, []);
});
