import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import type { FakeDriver } from '../../../src/virt/fake/driver.js';
import { PowerState } from '../../../src/compute/states.js';

let cloud: TestCloud;
let imageId: string;
let n = 0;
before(async () => {
  cloud = await startCloud();
  imageId = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
});
after(async () => cloud.close());

/** A member of a fresh project with one ACTIVE server: its own quota and its own server. */
async function fresh(): Promise<{ token: string; id: string }> {
  const name = `act-${++n}`;
  const dir = cloud.services.directory;
  const p = await dir.createProject({ name });
  const u = await dir.createUser({ name, password: 'pw' });
  await dir.assignRole(p.id, u.id, (await dir.listRoles({ name: 'member' }))[0].id);
  const token = await cloud.token(name, 'pw', name);
  const res = await cloud.req('POST', '/compute/v2.1/servers', { token, body: { server: { name, imageRef: imageId, flavorRef: '1' } } });
  assert.equal(res.status, 202, res.text);
  await cloud.services.runner.idle();
  return { token, id: res.body.server.id };
}

const act = (id: string, body: unknown, token: string, version?: string) => cloud.req('POST', `/compute/v2.1/servers/${id}/action`, { token, body, version });
const show = async (id: string, token = cloud.adminToken, version?: string) => (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token, version })).body.server;
const settle = () => cloud.services.runner.idle();

test('reboot SOFT and HARD answer 202 with no body and come back ACTIVE', async () => {
  const { token, id } = await fresh();
  for (const type of ['SOFT', 'HARD']) {
    const res = await act(id, { reboot: { type } }, token);
    assert.equal(res.status, 202);
    assert.equal(res.text, '');
    await settle();
    const s = await show(id, token);
    assert.equal(s.status, 'ACTIVE');
    assert.equal(s['OS-EXT-STS:task_state'], null);
  }
  const bad = await act(id, { reboot: { type: 'BOGUS' } }, token);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.badRequest.message, "Invalid input for field/attribute type. Value: BOGUS. 'BOGUS' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']");
});

test('a busy server refuses a second action with 409, never a race', async () => {
  const { token, id } = await fresh();
  await cloud.services.runner.stop();
  try {
    assert.equal((await act(id, { 'os-stop': null }, token)).status, 202);
    assert.equal((await show(id, token)).status, 'ACTIVE', 'stopping shows ACTIVE with task_state powering-off');
    assert.equal((await show(id, token))['OS-EXT-STS:task_state'], 'powering-off');
    const second = await act(id, { pause: null }, token);
    assert.equal(second.status, 409);
    assert.equal(second.body.conflictingRequest.message, `Cannot 'pause' instance ${id} while it is in task_state powering-off`);
  } finally {
    await cloud.services.runner.start(true);
  }
  await settle();
  assert.equal((await show(id, token)).status, 'SHUTOFF');
});

test('stop and start: SHUTOFF with power state 4, then ACTIVE; start of an active server is 409', async () => {
  const { token, id } = await fresh();
  const again = await act(id, { 'os-start': null }, token);
  assert.equal(again.status, 409);
  assert.equal(again.body.conflictingRequest.message, `Cannot 'start' instance ${id} while it is in vm_state active`);
  await act(id, { 'os-stop': null }, token);
  await settle();
  let s = await show(id, token);
  assert.equal(s.status, 'SHUTOFF');
  assert.equal(s['OS-EXT-STS:power_state'], 4);
  await act(id, { 'os-start': null }, token);
  await settle();
  s = await show(id, token);
  assert.equal(s.status, 'ACTIVE');
  assert.equal(s['OS-EXT-STS:power_state'], 1);
});

test('pause and unpause, suspend and resume, with Nova’s 409 for pausing twice', async () => {
  const { token, id } = await fresh();
  await act(id, { pause: null }, token);
  await settle();
  assert.equal((await show(id, token)).status, 'PAUSED');
  const twice = await act(id, { pause: null }, token);
  assert.equal(twice.status, 409);
  assert.equal(twice.body.conflictingRequest.message, `Cannot 'pause' instance ${id} while it is in vm_state paused`);
  await act(id, { unpause: null }, token);
  await settle();
  await act(id, { suspend: null }, token);
  await settle();
  const s = await show(id, token);
  assert.equal(s.status, 'SUSPENDED');
  assert.equal(s['OS-EXT-STS:power_state'], 7);
  await act(id, { resume: null }, token);
  await settle();
  assert.equal((await show(id, token)).status, 'ACTIVE');
});

test('lock: other actions by the owner are 409, an admin overrides, and an admin’s lock needs an admin to lift', async () => {
  const { token, id } = await fresh();
  assert.equal((await act(id, { lock: { locked_reason: 'maintenance' } }, token, '2.73')).status, 202);
  const s = await show(id, token, '2.73');
  assert.equal(s.locked, true);
  assert.equal(s.locked_reason, 'maintenance');
  const refused = await act(id, { pause: null }, token);
  assert.equal(refused.status, 409);
  assert.equal(refused.body.conflictingRequest.message, `Instance ${id} is locked`);
  assert.equal((await cloud.req('DELETE', `/compute/v2.1/servers/${id}`, { token })).status, 409);
  assert.equal((await act(id, { pause: null }, cloud.adminToken)).status, 202, 'an admin may act on a locked server');
  await settle();
  await act(id, { unpause: null }, cloud.adminToken);
  await settle();
  assert.equal((await act(id, { unlock: null }, token)).status, 202);
  assert.equal((await act(id, { lock: null }, cloud.adminToken)).status, 202);
  const lift = await act(id, { unlock: null }, token);
  assert.equal(lift.status, 403);
  assert.equal((await act(id, { unlock: null }, cloud.adminToken)).status, 202);
});

test('below 2.73 locked_reason is not a field: any value is ignored and the server locks without a reason', async () => {
  const { token, id } = await fresh();
  const res = await act(id, { lock: { locked_reason: true } }, token, '2.72');
  assert.equal(res.status, 202, res.text);
  const s = await show(id, token, '2.73');
  assert.equal(s.locked, true);
  assert.equal(s.locked_reason, null);
});

test('from 2.73 a locked_reason that is not a string is a 400 naming it', async () => {
  const { token, id } = await fresh();
  const res = await act(id, { lock: { locked_reason: true } }, token, '2.73');
  assert.equal(res.status, 400);
  assert.equal(res.body.badRequest.message, "Invalid input for field/attribute locked_reason. Value: True. True is not of type 'string'");
});

test('an action whose body Nova ignores (pause) still refuses a NUL in it as a 400 naming the field, like every other body', async () => {
  const { token, id } = await fresh();
  const res = await act(id, { pause: { note: 'a\u0000b' } }, token);
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.badRequest.message, "Invalid input for field/attribute note. Value: 'a\\x00b'. The NUL character is not allowed");
  assert.equal((await show(id, token)).status, 'ACTIVE');
});

test('rescue answers the adminPass and goes RESCUE; unrescue comes back ACTIVE', async () => {
  const { token, id } = await fresh();
  const res = await act(id, { rescue: { adminPass: 'rescue-pw-123' } }, token);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { adminPass: 'rescue-pw-123' });
  await settle();
  assert.equal((await show(id, token)).status, 'RESCUE');
  const generated = await act(id, { rescue: {} }, token);
  assert.equal(generated.status, 409);
  await act(id, { unrescue: null }, token);
  await settle();
  assert.equal((await show(id, token)).status, 'ACTIVE');
});

test('changePassword is 202 and the password is stored nowhere', async () => {
  const { token, id } = await fresh();
  assert.equal((await act(id, { changePassword: { adminPass: 'N3w-secret-pw' } }, token)).status, 202);
  await settle();
  const row = await cloud.services.db.selectFrom('servers').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  assert.ok(!JSON.stringify(row).includes('N3w-secret-pw'));
  assert.equal((await act(id, { changePassword: {} }, token)).status, 400);
});

test('createImage: Location header at 2.1, image_id from 2.45, and the image becomes active in Glance', async () => {
  const { token, id } = await fresh();
  const old = await act(id, { createImage: { name: 'snap-old', metadata: { k: 'v' } } }, token);
  assert.equal(old.status, 202);
  const location = old.headers.get('location')!;
  assert.match(location, /\/image\/images\/[0-9a-f-]{36}$/);
  await settle();
  const latest = await act(id, { createImage: { name: 'snap-new' } }, token, '2.45');
  assert.equal(latest.status, 202);
  assert.match(latest.body.image_id, /^[0-9a-f-]{36}$/);
  await settle();
  const image = (await cloud.req('GET', `/image/v2/images/${latest.body.image_id}`, { token })).body;
  assert.equal(image.status, 'active');
  assert.equal(image.instance_uuid, id);
  assert.equal(image.image_type, 'snapshot');
  const first = (await cloud.req('GET', `/image/v2/images/${location.split('/').pop()}`, { token })).body;
  assert.equal(first.k, 'v');
});

test('createBackup keeps only the newest `rotation` backups of its type', async () => {
  const { token, id } = await fresh();
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const res = await act(id, { createBackup: { name: `b${i}`, backup_type: 'daily', rotation: 2 } }, token, '2.45');
    assert.equal(res.status, 202);
    ids.push(res.body.image_id);
    await settle();
  }
  assert.equal((await cloud.req('GET', `/image/v2/images/${ids[0]}`, { token })).status, 404);
  assert.equal((await cloud.req('GET', `/image/v2/images/${ids[2]}`, { token })).body.status, 'active');
  const bad = await act(id, { createBackup: { name: 'x', backup_type: 'daily' } }, token);
  assert.equal(bad.status, 400);
  assert.match(bad.body.badRequest.message, /'rotation' is a required property/);
});

test('resize with OS-DCF:diskConfig sets the server disk config', async () => {
  const { token, id } = await fresh();
  assert.equal((await show(id, token))['OS-DCF:diskConfig'], 'MANUAL');
  assert.equal((await act(id, { resize: { flavorRef: '2', 'OS-DCF:diskConfig': 'AUTO' } }, token)).status, 202);
  await settle();
  const s = await show(id, token);
  assert.equal(s.status, 'VERIFY_RESIZE');
  assert.equal(s['OS-DCF:diskConfig'], 'AUTO');
});

test('resize goes VERIFY_RESIZE on the new flavor, confirm keeps it, revert restores the old one', async () => {
  const { token, id } = await fresh();
  const same = await act(id, { resize: { flavorRef: '1' } }, token);
  assert.equal(same.status, 400);
  assert.equal(same.body.badRequest.message, 'When resizing, instances must change flavor!');
  assert.equal((await act(id, { resize: { flavorRef: '2' } }, token)).status, 202);
  await settle();
  let s = await show(id, token, '2.47');
  assert.equal(s.status, 'VERIFY_RESIZE');
  assert.equal(s.flavor.original_name, 'm1.small');
  const confirm = await act(id, { confirmResize: null }, token);
  assert.equal(confirm.status, 204);
  await settle();
  s = await show(id, token, '2.47');
  assert.equal(s.status, 'ACTIVE');
  assert.equal(s.flavor.original_name, 'm1.small');

  await act(id, { resize: { flavorRef: '3' } }, token);
  await settle();
  assert.equal((await act(id, { revertResize: null }, token)).status, 202);
  await settle();
  s = await show(id, token, '2.47');
  assert.equal(s.status, 'ACTIVE');
  assert.equal(s.flavor.original_name, 'm1.small');
  const migrations = await cloud.req('GET', `/compute/v2.1/os-migrations?instance_uuid=${id}`, { token: cloud.adminToken, version: '2.23' });
  assert.deepEqual(migrations.body.migrations.map((m: { status: string }) => m.status).sort(), ['confirmed', 'reverted']);
  assert.equal(migrations.body.migrations[0].migration_type, 'resize');
});

test('with resize_confirm_window the resize confirms itself when the clock passes it', async () => {
  const other = await startCloud({ compute: { resizeConfirmWindow: 60 } });
  try {
    const image = (await other.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
    const id = (await other.req('POST', '/compute/v2.1/servers', { token: other.adminToken, body: { server: { name: 'auto', imageRef: image, flavorRef: '1' } } })).body.server.id;
    await other.services.runner.idle();
    await other.req('POST', `/compute/v2.1/servers/${id}/action`, { token: other.adminToken, body: { resize: { flavorRef: '2' } } });
    await other.services.runner.idle();
    assert.equal((await other.req('GET', `/compute/v2.1/servers/${id}`, { token: other.adminToken })).body.server.status, 'VERIFY_RESIZE');
    other.clock.advance(61 * 1000);
    await other.services.runner.idle();
    assert.equal((await other.req('GET', `/compute/v2.1/servers/${id}`, { token: other.adminToken })).body.server.status, 'ACTIVE');
  } finally {
    await other.close();
  }
});

test('shelve with shelved_offload_time 0 goes SHELVED_OFFLOADED with no host; unshelve comes back ACTIVE', async () => {
  const { token, id } = await fresh();
  assert.equal((await act(id, { shelve: null }, token)).status, 202);
  await settle();
  const s = await show(id);
  assert.equal(s.status, 'SHELVED_OFFLOADED');
  assert.equal(s['OS-EXT-SRV-ATTR:host'], null);
  assert.equal(s.hostId, '');
  assert.equal((await act(id, { unshelve: null }, token)).status, 202);
  await settle();
  const back = await show(id);
  assert.equal(back.status, 'ACTIVE');
  assert.match(back['OS-EXT-SRV-ATTR:host'], /^fake-host-/);
});

test('soft delete: SOFT_DELETED, restore brings it back, and the reclaim job deletes it when its time comes', async () => {
  const other = await startCloud({ compute: { reclaimInstanceInterval: 600 } });
  try {
    const image = (await other.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
    const boot = async () => {
      const id = (await other.req('POST', '/compute/v2.1/servers', { token: other.adminToken, body: { server: { name: 'soft', imageRef: image, flavorRef: '1' } } })).body.server.id;
      await other.services.runner.idle();
      return id as string;
    };
    const status = async (id: string) => (await other.req('GET', `/compute/v2.1/servers/${id}`, { token: other.adminToken })).body.server?.status;
    const a = await boot();
    assert.equal((await other.req('POST', `/compute/v2.1/servers/${a}/action`, { token: other.adminToken, body: { restore: null } })).status, 409, 'restore needs a soft-deleted server');
    await other.req('DELETE', `/compute/v2.1/servers/${a}`, { token: other.adminToken });
    await other.services.runner.idle();
    assert.equal(await status(a), 'SOFT_DELETED');
    await other.req('POST', `/compute/v2.1/servers/${a}/action`, { token: other.adminToken, body: { restore: null } });
    await other.services.runner.idle();
    assert.equal(await status(a), 'ACTIVE');

    const b = await boot();
    await other.req('DELETE', `/compute/v2.1/servers/${b}`, { token: other.adminToken });
    await other.services.runner.idle();
    other.clock.advance(601 * 1000);
    await other.services.runner.idle();
    assert.equal((await other.req('GET', `/compute/v2.1/servers/${b}`, { token: other.adminToken })).status, 404);
    other.clock.advance(-601 * 1000);

    const c = await boot();
    await other.req('DELETE', `/compute/v2.1/servers/${c}`, { token: other.adminToken });
    await other.services.runner.idle();
    assert.equal((await other.req('POST', `/compute/v2.1/servers/${c}/action`, { token: other.adminToken, body: { forceDelete: null } })).status, 202);
    await other.services.runner.idle();
    assert.equal((await other.req('GET', `/compute/v2.1/servers/${c}`, { token: other.adminToken })).status, 404);
  } finally {
    await other.close();
  }
});

test('rebuild answers the server with a new adminPass, keeps id and host, and goes REBUILD → ACTIVE', async () => {
  const { token, id } = await fresh();
  const before = await show(id);
  const res = await act(id, { rebuild: { imageRef: imageId, name: 'rebuilt', metadata: { a: 'b' } } }, token);
  assert.equal(res.status, 202);
  assert.equal(res.body.server.id, id);
  assert.equal(res.body.server.name, 'rebuilt');
  assert.match(res.body.server.adminPass, /^\S{12}$/);
  assert.equal(res.body.server.status, 'REBUILD');
  await settle();
  const after = await show(id);
  assert.equal(after.status, 'ACTIVE');
  assert.deepEqual(after.metadata, { a: 'b' });
  assert.equal(after['OS-EXT-SRV-ATTR:host'], before['OS-EXT-SRV-ATTR:host']);
  assert.equal((await act(id, { rebuild: { imageRef: 'nope' } }, token)).status, 400);
});

test('rebuild answers like PUT before 2.75 (key_name from 2.54, user_data from 2.57) and the full server from 2.75', async () => {
  const { token, id } = await fresh();
  const at = async (version?: string) => {
    const res = await act(id, { rebuild: { imageRef: imageId } }, cloud.adminToken, version);
    assert.equal(res.status, 202, res.text);
    await settle();
    return res.body.server;
  };
  const base = await at();
  for (const key of ['OS-EXT-STS:vm_state', 'OS-EXT-AZ:availability_zone', 'config_drive', 'key_name', 'OS-EXT-SRV-ATTR:host', 'user_data']) assert.ok(!(key in base), key);
  const v254 = await at('2.54');
  assert.ok('key_name' in v254 && !('user_data' in v254) && !('OS-EXT-STS:vm_state' in v254));
  const v257 = await at('2.57');
  assert.ok('key_name' in v257 && 'user_data' in v257 && !('OS-EXT-STS:vm_state' in v257));
  const v275 = await at('2.75');
  assert.ok('OS-EXT-STS:vm_state' in v275 && 'user_data' in v275 && 'OS-EXT-SRV-ATTR:host' in v275);
  assert.ok(!('OS-EXT-SRV-ATTR:user_data' in v275), 'user_data is at the top level only');
  void token;
});

test('rebuild and PUT before 2.75 show addresses with version and addr only, as Nova without extend_address; from 2.75 with the OS-EXT-IPS attributes', async () => {
  const { token, id } = await fresh();
  // A network of the project's own; the server is attached to it by rebuild's view of its port.
  const net = await cloud.req('POST', '/network/v2.0/networks', { token, body: { network: { name: 'rebuild-net' } } });
  await cloud.req('POST', '/network/v2.0/subnets', { token, body: { subnet: { network_id: net.body.network.id, ip_version: 4, cidr: '10.9.0.0/24' } } });
  const withAddress = await cloud.req('POST', '/compute/v2.1/servers', { token, body: { server: { name: 'addressed', imageRef: imageId, flavorRef: '1', networks: [{ uuid: net.body.network.id }] } } });
  await settle();
  const sid = withAddress.body.server.id;
  const plain = [{ version: 4, addr: '10.9.0.2' }];
  const rebuilt = await act(sid, { rebuild: { imageRef: imageId } }, token, '2.74');
  assert.deepEqual(rebuilt.body.server.addresses, { 'rebuild-net': plain });
  await settle();
  const put = await cloud.req('PUT', `/compute/v2.1/servers/${sid}`, { token, version: '2.74', body: { server: { name: 'renamed' } } });
  assert.deepEqual(put.body.server.addresses, { 'rebuild-net': plain });
  const full = await act(sid, { rebuild: { imageRef: imageId } }, token, '2.75');
  assert.equal(full.body.server.addresses['rebuild-net'][0]['OS-EXT-IPS:type'], 'fixed');
  void id;
});

test('admin actions are 403 for members: resetState, migrate, live migration, evacuate, shelveOffload', async () => {
  const { token, id } = await fresh();
  for (const body of [{ 'os-resetState': { state: 'error' } }, { migrate: null }, { 'os-migrateLive': { host: null, block_migration: 'auto' } }, { evacuate: {} }]) {
    const res = await act(id, body, token, '2.25');
    assert.equal(res.status, 403, JSON.stringify(body));
  }
});

test('os-resetState sets ERROR or ACTIVE and clears the task', async () => {
  const { id } = await fresh();
  assert.equal((await act(id, { 'os-resetState': { state: 'error' } }, cloud.adminToken)).status, 202);
  assert.equal((await show(id)).status, 'ERROR');
  await act(id, { 'os-resetState': { state: 'active' } }, cloud.adminToken);
  assert.equal((await show(id)).status, 'ACTIVE');
  assert.equal((await act(id, { 'os-resetState': { state: 'bogus' } }, cloud.adminToken)).status, 400);
});

test('cold migrate goes VERIFY_RESIZE on another host; live migration moves an ACTIVE server', async () => {
  const { id } = await fresh();
  const from = (await show(id))['OS-EXT-SRV-ATTR:host'];
  assert.equal((await act(id, { migrate: null }, cloud.adminToken)).status, 202);
  await settle();
  let s = await show(id);
  assert.equal(s.status, 'VERIFY_RESIZE');
  assert.notEqual(s['OS-EXT-SRV-ATTR:host'], from);
  await act(id, { confirmResize: null }, cloud.adminToken);
  await settle();
  const here = (await show(id))['OS-EXT-SRV-ATTR:host'];
  assert.equal((await act(id, { 'os-migrateLive': { host: null, block_migration: 'auto' } }, cloud.adminToken, '2.25')).status, 202);
  await settle();
  s = await show(id);
  assert.equal(s.status, 'ACTIVE');
  assert.notEqual(s['OS-EXT-SRV-ATTR:host'], here);
  const migrations = (await cloud.req('GET', `/compute/v2.1/os-migrations?instance_uuid=${id}&migration_type=live-migration`, { token: cloud.adminToken, version: '2.23' })).body.migrations;
  assert.equal(migrations[0].status, 'completed');
});

test('a live migration the destination refuses rolls back as Nova does: the server ACTIVE and running on its host, the migration error, the event in error', async () => {
  const { id } = await fresh();
  const before = await show(id);
  const from = before['OS-EXT-SRV-ATTR:host'];
  const to = ['fake-host-1', 'fake-host-2', 'fake-host-3'].find((h) => h !== from)!;
  const fake = cloud.services.driver as FakeDriver;
  fake.setSpawnFailure(to, 'the destination refuses the guest');
  try {
    const r = await act(id, { 'os-migrateLive': { host: to, block_migration: 'auto' } }, cloud.adminToken, '2.30');
    assert.equal(r.status, 202, r.text);
    await settle();
  } finally {
    fake.setSpawnFailure(to, null);
  }
  const s = await show(id);
  assert.equal(s.status, 'ACTIVE');
  assert.equal(s['OS-EXT-STS:task_state'], null);
  assert.equal(s['OS-EXT-SRV-ATTR:host'], from);
  assert.equal(await fake.powerState(from, id), PowerState.RUNNING);
  assert.equal(await fake.powerState(to, id), null);
  const migrations = (await cloud.req('GET', `/compute/v2.1/os-migrations?instance_uuid=${id}&migration_type=live-migration`, { token: cloud.adminToken, version: '2.23' })).body.migrations;
  assert.deepEqual(migrations.map((m: { status: string; dest_compute: string }) => [m.status, m.dest_compute]), [['error', to]]);
  const actions = (await cloud.req('GET', `/compute/v2.1/servers/${id}/os-instance-actions`, { token: cloud.adminToken })).body.instanceActions;
  const live = actions.find((a: { action: string }) => a.action === 'live-migration');
  const events = (await cloud.req('GET', `/compute/v2.1/servers/${id}/os-instance-actions/${live.request_id}`, { token: cloud.adminToken, version: '2.51' })).body.instanceAction.events;
  assert.deepEqual(events.map((e: { event: string; result: string }) => [e.event, e.result]), [['compute_live_migration', 'Error']]);
});

test('a live migration whose send fails rolls back: the server ACTIVE and running on its host, the destination\'s half removed, the migration failed', async () => {
  const { id } = await fresh();
  const from = (await show(id))['OS-EXT-SRV-ATTR:host'];
  const to = ['fake-host-1', 'fake-host-2', 'fake-host-3'].find((h) => h !== from)!;
  const fake = cloud.services.driver as FakeDriver;
  fake.setLiveMigrationFailure(from, 'the stream broke');
  try {
    assert.equal((await act(id, { 'os-migrateLive': { host: to, block_migration: 'auto' } }, cloud.adminToken, '2.30')).status, 202);
    await settle();
  } finally {
    fake.setLiveMigrationFailure(from, null);
  }
  const s = await show(id);
  assert.deepEqual([s.status, s['OS-EXT-STS:task_state'], s['OS-EXT-SRV-ATTR:host']], ['ACTIVE', null, from]);
  assert.equal(await fake.powerState(from, id), PowerState.RUNNING);
  assert.equal(await fake.powerState(to, id), null);
  const migrations = (await cloud.req('GET', `/compute/v2.1/os-migrations?instance_uuid=${id}&migration_type=live-migration`, { token: cloud.adminToken, version: '2.23' })).body.migrations;
  assert.deepEqual(migrations.map((m: { status: string }) => m.status), ['failed']);
});

test('a server migration id that is not a whole number an integer holds (1.5, -1, 2147483648) names no migration: 404', async () => {
  const { token, id } = await fresh();
  for (const mid of ['1.5', '-1', '2147483648', '1e308']) {
    for (const [method, path] of [['GET', ''], ['DELETE', ''], ['POST', '/action']] as const) {
      const res = await cloud.req(method, `/compute/v2.1/servers/${id}/migrations/${mid}${path}`, { token, version: '2.24', body: method === 'POST' ? { force_complete: null } : undefined });
      assert.equal(res.status, 404, `${method} ${mid}: ${res.text}`);
      assert.equal(res.body.itemNotFound.message, `Instance ${id} does not have an in-progress migration ${mid}.`);
    }
  }
});

test('os-migrations takes the last value of a repeated filter (host, instance_uuid, migration_type, status), as Nova does', async () => {
  const { id } = await fresh();
  assert.equal((await act(id, { migrate: null }, cloud.adminToken)).status, 202);
  await settle();
  const host = (await show(id))['OS-EXT-SRV-ATTR:host'];
  const list = async (query: string) => {
    const res = await cloud.req('GET', `/compute/v2.1/os-migrations?${query}`, { token: cloud.adminToken, version: '2.23' });
    assert.equal(res.status, 200, `${query}: ${res.text}`);
    return res.body.migrations.filter((m: { instance_uuid: string }) => m.instance_uuid === id).length;
  };
  assert.equal(await list(`host=nowhere&host=${host}`), 1);
  assert.equal(await list(`host=${host}&host=nowhere`), 0);
  assert.equal(await list(`instance_uuid=x&instance_uuid=${id}&migration_type=live-migration&migration_type=migration`), 1);
  assert.equal(await list(`instance_uuid=${id}&status=error&status=finished`), 1);
  await act(id, { confirmResize: null }, cloud.adminToken);
  await settle();
});

test('evacuate is refused while the host is up and rebuilds elsewhere once it is down', async () => {
  const { id } = await fresh();
  const host = (await show(id))['OS-EXT-SRV-ATTR:host'];
  const up = await act(id, { evacuate: {} }, cloud.adminToken, '2.29');
  assert.equal(up.status, 409);
  await cloud.services.hosts.setDown(host, true);
  try {
    const res = await act(id, { evacuate: {} }, cloud.adminToken, '2.29');
    assert.equal(res.status, 200);
    await settle();
    const s = await show(id);
    assert.equal(s.status, 'ACTIVE');
    assert.notEqual(s['OS-EXT-SRV-ATTR:host'], host);
  } finally {
    await cloud.services.hosts.setDown(host, false);
  }
});

test('from 2.95 an evacuated server comes back SHUTOFF', async () => {
  const { id } = await fresh();
  const host = (await show(id))['OS-EXT-SRV-ATTR:host'];
  await cloud.services.hosts.setDown(host, true);
  try {
    assert.equal((await act(id, { evacuate: {} }, cloud.adminToken, '2.95')).status, 200);
    await settle();
    assert.equal((await show(id)).status, 'SHUTOFF');
  } finally {
    await cloud.services.hosts.setDown(host, false);
  }
});

test('console output has more than three lines and honours length', async () => {
  const { token, id } = await fresh();
  const all = await act(id, { 'os-getConsoleOutput': { length: null } }, token);
  assert.equal(all.status, 200);
  assert.ok(all.body.output.split('\n').filter(Boolean).length > 3);
  const two = await act(id, { 'os-getConsoleOutput': { length: 2 } }, token);
  assert.equal(two.body.output, all.body.output.split('\n').slice(-2).join('\n'));
  // Nova tails the text split on newlines: Tempest asks for 3 and counts 3 pieces.
  const three = await act(id, { 'os-getConsoleOutput': { length: 3 } }, token);
  assert.equal(three.body.output.split('\n').length, 3);
});

test('console output ends at the login prompt with no newline after it, as a serial console does', async () => {
  const { token, id } = await fresh();
  const hostname = (await show(id, token)).name; // act-N: its hostname too
  const all = (await act(id, { 'os-getConsoleOutput': {} }, token)).body.output;
  assert.ok(all.endsWith(`\n${hostname} login: `), JSON.stringify(all.slice(-80)));
  const one = await act(id, { 'os-getConsoleOutput': { length: 1 } }, token);
  assert.equal(one.body.output, `${hostname} login: `);
  assert.equal((await act(id, { 'os-getConsoleOutput': { length: -1 } }, token)).body.output, all);
  assert.equal((await act(id, { 'os-getConsoleOutput': { length: 0 } }, token)).body.output, '');
});

test('after a hard reboot the console shows the boot again, ending at the prompt', async () => {
  const { token, id } = await fresh();
  const before = (await act(id, { 'os-getConsoleOutput': {} }, token)).body.output;
  assert.equal((await act(id, { reboot: { type: 'HARD' } }, token)).status, 202);
  await settle();
  const after = (await act(id, { 'os-getConsoleOutput': {} }, token)).body.output;
  assert.ok(after.startsWith(before + '\n'), 'the log goes on from where it was');
  assert.equal(after.split('Booting from Hard Disk').length - 1, 2);
  assert.match((await act(id, { 'os-getConsoleOutput': { length: 1 } }, token)).body.output, / login: $/);
});

test('remote consoles from 2.6 answer a URL; the legacy action works before 2.6', async () => {
  const { token, id } = await fresh();
  const res = await cloud.req('POST', `/compute/v2.1/servers/${id}/remote-consoles`, { token, version: '2.6', body: { remote_console: { protocol: 'vnc', type: 'novnc' } } });
  assert.equal(res.status, 200);
  assert.equal(res.body.remote_console.protocol, 'vnc');
  assert.match(res.body.remote_console.url, /^http/);
  const legacy = await act(id, { 'os-getVNCConsole': { type: 'novnc' } }, token);
  assert.equal(legacy.status, 200);
  assert.equal(legacy.body.console.type, 'novnc');
  const bad = await cloud.req('POST', `/compute/v2.1/servers/${id}/remote-consoles`, { token, version: '2.6', body: { remote_console: { protocol: 'vnc', type: 'spice-html5' } } });
  assert.equal(bad.status, 400);
});

test('a legacy console action whose body is not the object Nova expects is a 400 naming the field and its value', async () => {
  const { token, id } = await fresh();
  const cases: [unknown, string][] = [
    ['x', "Invalid input for field/attribute os-getVNCConsole. Value: x. 'x' is not of type 'object'"],
    [{}, "Invalid input for field/attribute os-getVNCConsole. Value: {}. 'type' is a required property"],
    [{ type: {} }, "Invalid input for field/attribute type. Value: {}. {} is not of type 'string'"],
    [{ type: 'spice-html5' }, "Invalid input for field/attribute type. Value: spice-html5. 'spice-html5' is not one of ['novnc', 'xvpvnc']"],
  ];
  for (const [body, message] of cases) {
    const res = await act(id, { 'os-getVNCConsole': body }, token);
    assert.equal(res.status, 400);
    assert.equal(res.body.badRequest.message, message);
  }
});

test('an unknown action is 400, another project’s server 404', async () => {
  const { token, id } = await fresh();
  const unknown = await act(id, { frobnicate: null }, token);
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.badRequest.message, 'There is no such action: frobnicate');
  assert.equal((await act(id, { pause: null }, cloud.demoToken)).status, 404);
  assert.equal((await act('00000000-0000-0000-0000-000000000000', { pause: null }, token)).status, 404);
});

test('every action is recorded in the instance actions with its events', async () => {
  const { token, id } = await fresh();
  await act(id, { 'os-stop': null }, token);
  await settle();
  const list = await cloud.req('GET', `/compute/v2.1/servers/${id}/os-instance-actions`, { token });
  const names = list.body.instanceActions.map((a: { action: string }) => a.action);
  assert.deepEqual(names.sort(), ['create', 'stop']);
  const stop = list.body.instanceActions.find((a: { action: string }) => a.action === 'stop');
  const detail = await cloud.req('GET', `/compute/v2.1/servers/${id}/os-instance-actions/${stop.request_id}`, { token: cloud.adminToken });
  assert.equal(detail.body.instanceAction.events[0].event, 'compute_stop_instance');
  assert.equal(detail.body.instanceAction.events[0].result, 'Success');
});
