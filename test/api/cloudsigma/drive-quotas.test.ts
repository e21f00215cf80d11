import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, memberOfNewProject, type TestCloud } from '../../support.js';
import { assertError, basic, cs } from './cs.js';

/** A project's drive limits (Cinder's `volumes` 10 and `gigabytes` 1000), under parallel requests. */
let cloud: TestCloud;
const GiB = 1024 ** 3;

before(async () => {
  cloud = await startCloud();
});
after(() => cloud.close());

async function member(name: string) {
  await memberOfNewProject(cloud, name);
  return basic(`${name}-user`, `${name}-pw`);
}

const one = (auth: string, size = GiB) => cs(cloud, 'POST', '/drives/', { auth, body: { name: 'q', size, media: 'disk' } });

test('parallel drive creates never exceed the volumes quota', async () => {
  const auth = await member('dq-count');
  const answers = await Promise.all(Array.from({ length: 14 }, () => one(auth)));
  assert.equal(answers.filter((r) => r.status === 201).length, 10, answers.map((r) => r.status).join(' '));
  for (const r of answers.filter((x) => x.status !== 201)) assertError(r, 403, 'permission');
  const list = await cs(cloud, 'GET', '/drives/?limit=0', { auth });
  assert.equal(list.body.meta.total_count, 10);
});

test('parallel drive creates never exceed the gigabytes quota', async () => {
  const auth = await member('dq-size');
  const answers = await Promise.all(Array.from({ length: 5 }, () => one(auth, 300 * GiB)));
  assert.equal(answers.filter((r) => r.status === 201).length, 3, answers.map((r) => r.status).join(' '));
  assertError(answers.find((r) => r.status !== 201)!, 403, 'permission', 'size');
});

test('a bulk create over the volumes quota is refused whole', async () => {
  const auth = await member('dq-bulk');
  const res = await cs(cloud, 'POST', '/drives/', { auth, body: { objects: Array.from({ length: 11 }, (_, i) => ({ name: `b${i}`, size: GiB, media: 'disk' })) } });
  assertError(res, 403, 'permission', 'objects');
  assert.equal((await cs(cloud, 'GET', '/drives/?limit=0', { auth })).body.meta.total_count, 0);
});

test('a create of more than 100 drives in one request is refused naming objects', async () => {
  const auth = await member('dq-many');
  const res = await cs(cloud, 'POST', '/drives/', { auth, body: { objects: Array.from({ length: 101 }, (_, i) => ({ name: `m${i}`, size: GiB, media: 'disk' })) } });
  assertError(res, 400, 'validation', 'objects');
});

test('a clone and a resize count against the quotas too', async () => {
  const auth = await member('dq-clone');
  const made = await Promise.all(Array.from({ length: 10 }, () => one(auth, 100 * GiB)));
  assert.ok(made.every((r) => r.status === 201));
  await cloud.services.runner.idle();
  const uuid = made[0].body.objects[0].uuid;
  assertError(await cs(cloud, 'POST', `/drives/${uuid}/action/?do=clone`, { auth, body: {} }), 403, 'permission');
  assertError(await cs(cloud, 'POST', `/drives/${uuid}/action/?do=resize`, { auth, body: { size: 101 * GiB } }), 403, 'permission', 'size');
  await cs(cloud, 'DELETE', `/drives/${made[1].body.objects[0].uuid}/`, { auth });
  const clone = await cs(cloud, 'POST', `/drives/${uuid}/action/?do=clone`, { auth, body: {} });
  assert.equal(clone.status, 202, clone.text);
});

test('an admin sets a project’s drive limits through the control API; a member may not', async () => {
  const auth = await member('dq-set');
  const project = (await cloud.services.db.selectFrom('projects').select('id').where('name', '=', 'dq-set').executeTakeFirstOrThrow()).id;
  const set = await cloud.req('PUT', `/nimbus/v1/drive-quotas/${project}`, { token: cloud.adminToken, body: { quota_set: { volumes: 1 } } });
  assert.equal(set.status, 200, set.text);
  assert.deepEqual(set.body.quota_set, { id: project, volumes: 1, gigabytes: 1000 });
  assert.equal((await one(auth)).status, 201);
  assertError(await one(auth), 403, 'permission', 'objects');
  const bad = await cloud.req('PUT', `/nimbus/v1/drive-quotas/${project}`, { token: cloud.adminToken, body: { quota_set: { volumes: -2 } } });
  assert.equal(bad.status, 400, bad.text);
  const byMember = await cloud.req('PUT', `/nimbus/v1/drive-quotas/${project}`, { token: cloud.demoToken, body: { quota_set: { volumes: -1 } } });
  assert.equal(byMember.status, 403, byMember.text);
});
