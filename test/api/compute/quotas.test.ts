import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, memberOfNewProject, type TestCloud } from '../../support.js';
import { enforce } from '../../../src/compute/quotas.js';
import { insertServer, insertServerGroup } from './quota-fixtures.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

const QS = '/compute/v2.1/os-quota-sets';
const QCS = '/compute/v2.1/os-quota-class-sets';

/** Nova's defaults, keyed and ordered as a 2.1 quota set shows them. */
const DEFAULTS_V21 = {
  cores: 20,
  fixed_ips: -1,
  floating_ips: -1,
  injected_file_content_bytes: 10240,
  injected_file_path_bytes: 255,
  injected_files: 5,
  instances: 10,
  key_pairs: 100,
  metadata_items: 128,
  ram: 51200,
  security_group_rules: -1,
  security_groups: -1,
  server_group_members: 10,
  server_groups: 10,
};
const NETWORK_KEYS = ['fixed_ips', 'floating_ips', 'security_group_rules', 'security_groups'];
const INJECTED_KEYS = ['injected_file_content_bytes', 'injected_file_path_bytes', 'injected_files'];
const omit = (o: Record<string, unknown>, keys: string[]) => Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));

const put = (projectId: string, quotaSet: Record<string, unknown>, opts: { query?: string; version?: string; token?: string } = {}) =>
  cloud.req('PUT', `${QS}/${projectId}${opts.query ?? ''}`, { token: opts.token ?? cloud.adminToken, version: opts.version, body: { quota_set: quotaSet } });

test('a project\'s quota set at 2.1 has its id and every quota, with Nova\'s defaults', async () => {
  const res = await cloud.req('GET', `${QS}/${cloud.demoProjectId}`, { token: cloud.demoToken });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { quota_set: { id: cloud.demoProjectId, ...DEFAULTS_V21 } });
  assert.deepEqual(Object.keys(res.body.quota_set), ['id', ...Object.keys(DEFAULTS_V21)]);
});

test('2.36 drops the network quotas and 2.57 the injected file quotas', async () => {
  const v236 = await cloud.req('GET', `${QS}/${cloud.demoProjectId}`, { token: cloud.demoToken, version: '2.36' });
  assert.deepEqual(v236.body.quota_set, { id: cloud.demoProjectId, ...omit(DEFAULTS_V21, NETWORK_KEYS) });
  const v256 = await cloud.req('GET', `${QS}/${cloud.demoProjectId}/defaults`, { token: cloud.demoToken, version: '2.56' });
  assert.deepEqual(Object.keys(v256.body.quota_set).sort(), ['id', ...Object.keys(omit(DEFAULTS_V21, NETWORK_KEYS))].sort());
  const latest = await cloud.req('GET', `${QS}/${cloud.demoProjectId}/detail`, { token: cloud.demoToken, version: 'latest' });
  assert.deepEqual(Object.keys(latest.body.quota_set), ['id', ...Object.keys(omit(DEFAULTS_V21, [...NETWORK_KEYS, ...INJECTED_KEYS]))]);
});

test('defaults are the same for every project and have the same keys as the quota set', async () => {
  const res = await cloud.req('GET', `${QS}/${cloud.adminProjectId}/defaults`, { token: cloud.demoToken });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { quota_set: { id: cloud.adminProjectId, ...DEFAULTS_V21 } });
});

test('detail shows limit, in_use and reserved, counting the project\'s live servers', async () => {
  const p = await memberOfNewProject(cloud, 'qs-detail');
  await insertServer(cloud, { projectId: p.projectId, userId: p.userId, vcpus: 2, memoryMb: 2048 });
  await insertServer(cloud, { projectId: p.projectId, vcpus: 1, memoryMb: 512 });
  // Deleted and soft-deleted servers no longer count.
  await insertServer(cloud, { projectId: p.projectId, vcpus: 8, memoryMb: 8192, deleted: true });
  await insertServer(cloud, { projectId: p.projectId, vcpus: 8, memoryMb: 8192, vmState: 'soft-delete' });
  await cloud.req('POST', '/compute/v2.1/os-keypairs', { token: p.token, body: { keypair: { name: 'k' } } });
  const res = await cloud.req('GET', `${QS}/${p.projectId}/detail`, { token: p.token });
  assert.equal(res.status, 200);
  const q = res.body.quota_set;
  assert.equal(q.id, p.projectId);
  assert.deepEqual(q.instances, { limit: 10, in_use: 2, reserved: 0 });
  assert.deepEqual(q.cores, { limit: 20, in_use: 3, reserved: 0 });
  assert.deepEqual(q.ram, { limit: 51200, in_use: 2560, reserved: 0 });
  // Nova never reports per-user key pairs as in use here.
  assert.deepEqual(q.key_pairs, { limit: 100, in_use: 0, reserved: 0 });
  assert.deepEqual(Object.keys(q.cores), ['limit', 'in_use', 'reserved']);
  const mine = await cloud.req('GET', `${QS}/${p.projectId}/detail?user_id=${p.userId}`, { token: p.token });
  assert.deepEqual(mine.body.quota_set.instances, { limit: 10, in_use: 1, reserved: 0 });
  assert.deepEqual(mine.body.quota_set.cores, { limit: 20, in_use: 2, reserved: 0 });
});

test('an admin updates a project\'s quotas; the answer has no id', async () => {
  const p = await memberOfNewProject(cloud, 'qs-update');
  const res = await put(p.projectId, { cores: 50, ram: '1024', instances: -1 });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { quota_set: { ...DEFAULTS_V21, cores: 50, ram: 1024, instances: -1 } });
  const shown = await cloud.req('GET', `${QS}/${p.projectId}`, { token: p.token, version: '2.57' });
  assert.equal(shown.body.quota_set.cores, 50);
  assert.equal(shown.body.quota_set.instances, -1);
});

test('a limit below what is in use is 400 unless forced', async () => {
  const p = await memberOfNewProject(cloud, 'qs-below');
  await insertServer(cloud, { projectId: p.projectId, vcpus: 4 });
  const res = await put(p.projectId, { cores: 3 });
  assert.equal(res.status, 400);
  assert.equal(res.body.badRequest.message, 'Quota limit 3 for cores must be greater than or equal to already used and reserved 4.');
  // Nothing is written when one value is refused.
  const mixed = await put(p.projectId, { ram: 100, cores: 3 });
  assert.equal(mixed.status, 400);
  assert.equal((await cloud.req('GET', `${QS}/${p.projectId}`, { token: cloud.adminToken })).body.quota_set.ram, 51200);
  const forced = await put(p.projectId, { cores: 3, force: 'True' });
  assert.equal(forced.status, 200);
  assert.equal(forced.body.quota_set.cores, 3);
});

test('a quota value must be an integer from -1 to 2147483647', async () => {
  const cases: [unknown, string][] = [
    [-2, 'Invalid input for field/attribute cores. Value: -2. -2 is less than the minimum of -1'],
    ['-5', 'Invalid input for field/attribute cores. Value: -5. -5 is less than the minimum of -1'],
    [2147483648, 'Invalid input for field/attribute cores. Value: 2147483648. 2147483648 is greater than the maximum of 2147483647'],
    ['abc', "Invalid input for field/attribute cores. Value: abc. 'abc' does not match '^-?[0-9]+$'"],
    [1.5, "Invalid input for field/attribute cores. Value: 1.5. 1.5 is not of type 'integer', 'string'"],
  ];
  for (const [value, message] of cases) {
    const res = await put(cloud.demoProjectId, { cores: value });
    assert.equal(res.status, 400, String(value));
    assert.equal(res.body.badRequest.message, message);
  }
  const force = await put(cloud.demoProjectId, { force: 'maybe' });
  assert.equal(force.status, 400);
  assert.match(force.body.badRequest.message, /^Invalid input for field\/attribute force\. Value: maybe\. 'maybe' is not one of \[True, 'True'/);
  const unknown = await put(cloud.demoProjectId, { gpus: 1 });
  assert.equal(unknown.body.badRequest.message, "Invalid input for field/attribute quota_set. Value: {'gpus': 1}. Additional properties are not allowed ('gpus' was unexpected)");
});

test('network quotas: networks is refused, and the nova-network keys from 2.36', async () => {
  const networks = await put(cloud.demoProjectId, { networks: 5 });
  assert.equal(networks.status, 400);
  assert.equal(networks.body.badRequest.message, 'The networks quota has been removed');
  assert.equal((await put(cloud.demoProjectId, { floating_ips: 5 }, { version: '2.35' })).status, 200);
  const v236 = await put(cloud.demoProjectId, { floating_ips: 5 }, { version: '2.36' });
  assert.equal(v236.status, 400);
  assert.match(v236.body.badRequest.message, /Additional properties are not allowed \('floating_ips' was unexpected\)$/);
  const v257 = await put(cloud.demoProjectId, { injected_files: 5 }, { version: '2.57' });
  assert.equal(v257.status, 400);
  const ok = await put(cloud.demoProjectId, { injected_files: 5 }, { version: '2.56' });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.quota_set.floating_ips, undefined);
});

test('user_id sets a user\'s own limits, within what the project has left', async () => {
  const p = await memberOfNewProject(cloud, 'qs-user');
  await put(p.projectId, { instances: 10 });
  const set = await put(p.projectId, { instances: 4 }, { query: `?user_id=${p.userId}` });
  assert.equal(set.status, 200);
  assert.equal(set.body.quota_set.instances, 4);
  assert.equal((await cloud.req('GET', `${QS}/${p.projectId}?user_id=${p.userId}`, { token: p.token })).body.quota_set.instances, 4);
  assert.equal((await cloud.req('GET', `${QS}/${p.projectId}`, { token: p.token })).body.quota_set.instances, 10);
  // 10 in the project, 4 given to this user: another user may have at most 6.
  const tooMuch = await put(p.projectId, { instances: 7 }, { query: '?user_id=another-user' });
  assert.equal(tooMuch.status, 400);
  assert.equal(tooMuch.body.badRequest.message, 'Quota limit 7 for instances must be less than or equal to 6.');
  // And the project may not go below what its users were given.
  const below = await put(p.projectId, { instances: 3 });
  assert.equal(below.body.badRequest.message, 'Quota limit 3 for instances must be greater than or equal to already used and reserved 4.');
});

test('delete puts a project back on the defaults, with 202', async () => {
  const p = await memberOfNewProject(cloud, 'qs-delete');
  await put(p.projectId, { cores: 1 });
  await put(p.projectId, { cores: 1 }, { query: `?user_id=${p.userId}` });
  const res = await cloud.req('DELETE', `${QS}/${p.projectId}`, { token: cloud.adminToken });
  assert.equal(res.status, 202);
  assert.equal(res.text, '');
  assert.equal((await cloud.req('GET', `${QS}/${p.projectId}`, { token: cloud.adminToken })).body.quota_set.cores, 20);
  assert.equal((await cloud.req('GET', `${QS}/${p.projectId}?user_id=${p.userId}`, { token: cloud.adminToken })).body.quota_set.cores, 20);
});

test('a member reads their own project\'s quotas but not another project\'s (403)', async () => {
  for (const path of [`${QS}/${cloud.adminProjectId}`, `${QS}/${cloud.adminProjectId}/detail`]) {
    const res = await cloud.req('GET', path, { token: cloud.demoToken });
    assert.equal(res.status, 403, path);
    assert.match(res.body.forbidden.message, /^Policy doesn't allow os_compute_api:os-quota-sets:(show|detail) to be performed\.$/);
  }
});

test('only an admin updates or deletes quotas', async () => {
  const update = await put(cloud.demoProjectId, { cores: 100 }, { token: cloud.demoToken });
  assert.equal(update.status, 403);
  assert.equal(update.body.forbidden.message, "Policy doesn't allow os_compute_api:os-quota-sets:update to be performed.");
  const del = await cloud.req('DELETE', `${QS}/${cloud.demoProjectId}`, { token: cloud.demoToken });
  assert.equal(del.status, 403);
});

test('an unknown project is 400', async () => {
  const res = await cloud.req('GET', `${QS}/no-such-project`, { token: cloud.adminToken });
  assert.equal(res.status, 400);
  assert.equal(res.body.badRequest.message, 'Project ID no-such-project is not a valid project.');
  assert.equal((await put('no-such-project', { cores: 1 })).status, 400);
});

test('from 2.75 unknown query parameters are refused', async () => {
  const res = await cloud.req('GET', `${QS}/${cloud.demoProjectId}?foo=1`, { token: cloud.demoToken, version: '2.75' });
  assert.equal(res.status, 400);
  assert.equal(res.body.badRequest.message, "Additional properties are not allowed ('foo' was unexpected)");
});

test('a quota class shows its limits; before 2.50 without the server group quotas', async () => {
  const res = await cloud.req('GET', `${QCS}/gold`, { token: cloud.adminToken });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { quota_class_set: { id: 'gold', ...omit(DEFAULTS_V21, ['server_group_members', 'server_groups']) } });
  const v250 = await cloud.req('GET', `${QCS}/gold`, { token: cloud.adminToken, version: '2.50' });
  assert.deepEqual(v250.body.quota_class_set, { id: 'gold', ...omit(DEFAULTS_V21, NETWORK_KEYS) });
  const v257 = await cloud.req('GET', `${QCS}/gold`, { token: cloud.adminToken, version: '2.57' });
  assert.deepEqual(v257.body.quota_class_set, { id: 'gold', ...omit(DEFAULTS_V21, [...NETWORK_KEYS, ...INJECTED_KEYS]) });
});

test('updating the default class changes the defaults of projects without limits of their own', async () => {
  const p = await memberOfNewProject(cloud, 'qs-class');
  const res = await cloud.req('PUT', `${QCS}/default`, { token: cloud.adminToken, version: '2.57', body: { quota_class_set: { instances: 25, key_pairs: '7' } } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { quota_class_set: { ...omit(DEFAULTS_V21, [...NETWORK_KEYS, ...INJECTED_KEYS]), instances: 25, key_pairs: 7 } });
  try {
    assert.equal((await cloud.req('GET', `${QS}/${p.projectId}`, { token: p.token })).body.quota_set.instances, 25);
    assert.equal((await cloud.req('GET', `${QS}/${p.projectId}/defaults`, { token: p.token })).body.quota_set.key_pairs, 7);
    // Another class is not the default.
    assert.equal((await cloud.req('GET', `${QCS}/silver`, { token: cloud.adminToken })).body.quota_class_set.instances, 10);
  } finally {
    await cloud.req('PUT', `${QCS}/default`, { token: cloud.adminToken, body: { quota_class_set: { instances: 10, key_pairs: 100 } } });
  }
});

test('quota class updates are validated by microversion', async () => {
  const v250 = await cloud.req('PUT', `${QCS}/gold`, { token: cloud.adminToken, version: '2.50', body: { quota_class_set: { security_groups: 1 } } });
  assert.equal(v250.status, 400);
  const bad = await cloud.req('PUT', `${QCS}/gold`, { token: cloud.adminToken, body: { quota_class_set: { cores: -2 } } });
  assert.equal(bad.body.badRequest.message, 'Invalid input for field/attribute cores. Value: -2. -2 is less than the minimum of -1');
});

test('quota classes are for admins only', async () => {
  const show = await cloud.req('GET', `${QCS}/default`, { token: cloud.demoToken });
  assert.equal(show.status, 403);
  assert.equal(show.body.forbidden.message, "Policy doesn't allow os_compute_api:os-quota-class-sets:show to be performed.");
  const update = await cloud.req('PUT', `${QCS}/default`, { token: cloud.demoToken, body: { quota_class_set: { cores: 1 } } });
  assert.equal(update.status, 403);
});

test('enforce refuses instances past the quota with Nova\'s message', async () => {
  const p = await memberOfNewProject(cloud, 'qs-enforce');
  for (let i = 0; i < 10; i++) await insertServer(cloud, { projectId: p.projectId, vcpus: 1, memoryMb: 512 });
  const { db } = cloud.services;
  await assert.rejects(
    db.transaction().execute((tx) => enforce(tx, p.projectId, p.userId, { instances: 1, cores: 1, ram: 512 })),
    { kind: 'over_quota', message: 'Quota exceeded for instances: Requested 1, but already used 10 of 10 instances' },
  );
  await put(p.projectId, { instances: 20 });
  await assert.rejects(
    db.transaction().execute((tx) => enforce(tx, p.projectId, p.userId, { instances: 3, cores: 12, ram: 1024 })),
    { message: 'Quota exceeded for cores: Requested 12, but already used 10 of 20 cores' },
  );
  await put(p.projectId, { ram: 5120 });
  await assert.rejects(
    db.transaction().execute((tx) => enforce(tx, p.projectId, p.userId, { instances: 2, cores: 16, ram: 1024 })),
    { message: 'Quota exceeded for cores, ram: Requested 16, 1024, but already used 10, 5120 of 20, 5120 cores, ram' },
  );
  await db.transaction().execute((tx) => enforce(tx, p.projectId, p.userId, { instances: 1, cores: 1 }));
});

test('enforce checks a user\'s own limits and the per-request limits with Nova\'s messages', async () => {
  const p = await memberOfNewProject(cloud, 'qs-enforce-user');
  const { db } = cloud.services;
  await insertServer(cloud, { projectId: p.projectId, userId: p.userId });
  await put(p.projectId, { instances: 1 }, { query: `?user_id=${p.userId}` });
  await assert.rejects(db.transaction().execute((tx) => enforce(tx, p.projectId, p.userId, { instances: 1 })), {
    message: 'Quota exceeded for instances: Requested 1, but already used 1 of 1 instances',
  });
  await db.transaction().execute((tx) => enforce(tx, p.projectId, 'someone-else', { instances: 1 }));
  const cases: [Record<string, number>, string][] = [
    [{ metadata_items: 129 }, 'Maximum number of metadata items exceeds 128'],
    [{ injected_files: 6 }, 'Personality file limit exceeded'],
    [{ injected_file_path_bytes: 256, injected_file_content_bytes: 10241 }, 'Personality file path exceeds maximum 255'],
    [{ injected_file_content_bytes: 10241 }, 'Personality file content exceeds maximum 10240'],
    [{ server_group_members: 1 }, 'Quota exceeded, too many servers in group'],
  ];
  for (const [deltas, message] of cases) {
    await assert.rejects(
      db.transaction().execute((tx) => enforce(tx, p.projectId, p.userId, deltas, { server_group_members: 10 })),
      { kind: 'over_quota', message },
    );
  }
  await db.transaction().execute((tx) => enforce(tx, p.projectId, p.userId, { metadata_items: 128, injected_files: 5 }));
});

test('enforce refuses server groups past the project\'s or the user\'s quota', async () => {
  const p = await memberOfNewProject(cloud, 'qs-enforce-groups');
  const { db } = cloud.services;
  await put(p.projectId, { server_groups: 2 });
  await insertServerGroup(cloud, p.projectId, p.userId);
  await db.transaction().execute((tx) => enforce(tx, p.projectId, p.userId, { server_groups: 1 }));
  await insertServerGroup(cloud, p.projectId);
  await assert.rejects(db.transaction().execute((tx) => enforce(tx, p.projectId, p.userId, { server_groups: 1 })), {
    kind: 'over_quota',
    message: 'Quota exceeded, too many server groups.',
  });
  const detail = await cloud.req('GET', `${QS}/${p.projectId}/detail`, { token: p.token });
  assert.deepEqual(detail.body.quota_set.server_groups, { limit: 2, in_use: 2, reserved: 0 });
  const mine = await cloud.req('GET', `${QS}/${p.projectId}/detail?user_id=${p.userId}`, { token: p.token });
  assert.equal(mine.body.quota_set.server_groups.in_use, 1);
});
