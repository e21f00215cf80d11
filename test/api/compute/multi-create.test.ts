/**
 * min_count and max_count: as many servers as fit, found in one step whatever the counts
 * (Nova's check_num_instances_quota), and never more than one request may make.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { tenant, type Tenant } from './server-fixtures.js';
import { MAX_SERVERS_PER_REQUEST } from '../../../src/compute/servers.js';

let cloud: TestCloud;
let imageId: string;
before(async () => {
  cloud = await startCloud();
  imageId = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
});
after(async () => cloud.close());

// Before the one-step count these requests counted down from max_count one query at a
// time (2,147,483,647 of them): the timeout turns such a hang into a failure.
const HANG = { timeout: 120_000 };

const create = (t: Tenant, server: Record<string, unknown>) =>
  cloud.req('POST', '/compute/v2.1/servers', { token: t.token, body: { server: { name: 'multi', imageRef: imageId, flavorRef: '1', return_reservation_id: true, ...server } } });

const reserved = async (t: Tenant, reservationId: string) =>
  (await cloud.req('GET', `/compute/v2.1/servers?reservation_id=${reservationId}&limit=2000`, { token: t.token })).body.servers.length;

test('a min_count past the quota is 403 with Nova’s message for the whole requested range', HANG, async () => {
  const t = await tenant(cloud, 'multi-range');
  const res = await create(t, { min_count: 11, max_count: 100000 });
  assert.equal(res.status, 403);
  assert.equal(
    res.body.forbidden.message,
    'Quota exceeded for cores, instances, ram: Requested 100000, 11-100000, 51200000, but already used 0, 0, 0 of 20, 10, 51200 cores, instances, ram',
  );
});

test('max_count 2147483647 creates as many servers as the quota allows', HANG, async () => {
  const t = await tenant(cloud, 'multi-max-int');
  const res = await create(t, { min_count: 1, max_count: 2147483647 });
  assert.equal(res.status, 202, res.text);
  assert.equal(await reserved(t, res.body.reservation_id), 10);
});

test('the count that fits is bounded by cores and ram as well as instances', async () => {
  const t = await tenant(cloud, 'multi-cores');
  await cloud.req('PUT', `/compute/v2.1/os-quota-sets/${t.projectId}`, { token: cloud.adminToken, body: { quota_set: { instances: -1, cores: 7, ram: -1 } } });
  const res = await create(t, { min_count: 2, max_count: 50, flavorRef: '3' }); // m1.medium: 2 vCPUs
  assert.equal(res.status, 202, res.text);
  assert.equal(await reserved(t, res.body.reservation_id), 3);
});

test('a user’s own instance limits bound the count too', async () => {
  const t = await tenant(cloud, 'multi-user');
  await cloud.req('PUT', `/compute/v2.1/os-quota-sets/${t.projectId}?user_id=${t.userId}`, { token: cloud.adminToken, body: { quota_set: { instances: 4 } } });
  const res = await create(t, { min_count: 1, max_count: 9 });
  assert.equal(res.status, 202, res.text);
  assert.equal(await reserved(t, res.body.reservation_id), 4);
});

test('a max_count of 1e308 is 400 naming the field, as Nova’s schema refuses a float', HANG, async () => {
  const t = await tenant(cloud, 'multi-float');
  for (const field of ['max_count', 'min_count']) {
    const res = await cloud.req('POST', '/compute/v2.1/servers', {
      token: t.token,
      raw: `{"server": {"name": "f", "imageRef": "${imageId}", "flavorRef": "1", "${field}": 1e308}}`,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.badRequest.message, `Invalid input for field/attribute ${field}. Value: 1e+308. 1e+308 is not of type 'integer', 'string'`);
  }
});

test(`one request creates at most ${MAX_SERVERS_PER_REQUEST} servers: a larger min_count is 400`, async () => {
  const t = await tenant(cloud, 'multi-cap');
  const res = await create(t, { min_count: MAX_SERVERS_PER_REQUEST + 1 });
  assert.equal(res.status, 400);
  assert.equal(
    res.body.badRequest.message,
    `Invalid input for field/attribute min_count. Value: ${MAX_SERVERS_PER_REQUEST + 1}. ${MAX_SERVERS_PER_REQUEST + 1} is greater than the maximum of ${MAX_SERVERS_PER_REQUEST}`,
  );
});

test(`with unlimited quotas a larger max_count makes ${MAX_SERVERS_PER_REQUEST} servers`, HANG, async () => {
  const t = await tenant(cloud, 'multi-unlimited');
  await cloud.req('PUT', `/compute/v2.1/os-quota-sets/${t.projectId}`, { token: cloud.adminToken, body: { quota_set: { instances: -1, cores: -1, ram: -1 } } });
  // Only the count is under test: the builds are dropped instead of run.
  const { runner, db } = cloud.services;
  await runner.stop();
  try {
    const res = await create(t, { min_count: 1, max_count: 1_000_000 });
    assert.equal(res.status, 202, res.text);
    assert.equal(await reserved(t, res.body.reservation_id), MAX_SERVERS_PER_REQUEST);
    await db.deleteFrom('tasks').where('server_id', 'in', (eb) => eb.selectFrom('servers').select('id').where('project_id', '=', t.projectId)).execute();
  } finally {
    await runner.start(false);
  }
});

test('the builds of a multi-create leave the event loop free: the create is answered while they run', async () => {
  const t = await tenant(cloud, 'multi-burst');
  await cloud.req('PUT', `/compute/v2.1/os-quota-sets/${t.projectId}`, { token: cloud.adminToken, body: { quota_set: { instances: -1, cores: -1, ram: -1 } } });
  const res = await create(t, { min_count: 150, max_count: 150 });
  assert.equal(res.status, 202, res.text);
  // On SQLite the builds once ran in one turn of the event loop: the answer came after all 150.
  const unfinished = await cloud.services.db
    .selectFrom('tasks')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', 'in', ['pending', 'running'])
    .where('server_id', 'in', (eb) => eb.selectFrom('servers').select('id').where('project_id', '=', t.projectId))
    .executeTakeFirstOrThrow();
  assert.ok(Number(unfinished.n) > 0);
  await cloud.services.runner.idle(60_000);
});
