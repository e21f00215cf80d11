/**
 * A resize or cold migration moves the guest's disks, as Nova's libvirt driver does: what
 * the guest wrote is on the destination; the source keeps the old disks until the resize is
 * confirmed (or the server deleted), and a revert brings them back exactly. Seen through the
 * compute API, on the fake hosts (which keep a marker of what each guest wrote).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { FakeDriver } from '../../../src/virt/fake/driver.js';
import { ownServer } from './server-fixtures.js';
import { reconcile } from '../../../src/tasks/workers.js';

let cloud: TestCloud;
let fake: FakeDriver;
before(async () => {
  cloud = await startCloud();
  fake = cloud.services.driver as FakeDriver;
});
after(async () => cloud.close());

const act = (id: string, body: unknown, token: string) => cloud.req('POST', `/compute/v2.1/servers/${id}/action`, { token, body });
const show = async (id: string) => (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: cloud.adminToken, version: '2.47' })).body.server;
const settle = () => cloud.services.runner.idle();
const hostOf = async (id: string) => (await show(id))['OS-EXT-SRV-ATTR:host'] as string;

/** A server whose guest wrote `data` to its disk. */
async function serverWithData(data: string, server: Record<string, unknown> = {}) {
  const { token, id } = await ownServer(cloud, server);
  const host = await hostOf(id);
  fake.writeDisk(host, id, data);
  return { token, id, host };
}

test('a resized server has its data on the new host, with the new flavor; the old host keeps its disks until confirm', async () => {
  const { token, id, host } = await serverWithData('written-before');
  assert.equal((await act(id, { resize: { flavorRef: '2' } }, token)).status, 202);
  await settle();
  const s = await show(id);
  assert.equal(s.status, 'VERIFY_RESIZE');
  const dest = s['OS-EXT-SRV-ATTR:host'];
  assert.notEqual(dest, host);
  assert.deepEqual(fake.inside(dest, id), { data: 'written-before', diskGb: 20, memoryMb: 2048, vcpus: 1 });
  assert.ok(fake.keeps(host, id));
  assert.equal((await act(id, { confirmResize: null }, token)).status, 204);
  await settle();
  assert.equal((await show(id)).status, 'ACTIVE');
  assert.ok(!fake.keeps(host, id), 'confirm removes what the source kept');
  assert.equal(await fake.powerState(host, id), null);
  assert.equal(fake.inside(dest, id).data, 'written-before');
});

test('a reverted resize brings the old disk back on the old host exactly, not what the guest wrote meanwhile', async () => {
  const { token, id, host } = await serverWithData('written-before');
  assert.equal((await act(id, { resize: { flavorRef: '2' } }, token)).status, 202);
  await settle();
  const dest = await hostOf(id);
  fake.writeDisk(dest, id, 'written-resized');
  assert.equal((await act(id, { revertResize: null }, token)).status, 202);
  await settle();
  const s = await show(id);
  assert.equal(s.status, 'ACTIVE');
  assert.equal(s['OS-EXT-SRV-ATTR:host'], host);
  assert.deepEqual(fake.inside(host, id), { data: 'written-before', diskGb: 1, memoryMb: 512, vcpus: 1 });
  assert.equal(await fake.powerState(dest, id), null, 'the destination let the guest go');
  assert.ok(!fake.keeps(host, id));
});

test('a cold migration moves the data; a stopped server stays stopped through it and its revert', async () => {
  const { token, id, host } = await serverWithData('written-before');
  assert.equal((await act(id, { 'os-stop': null }, token)).status, 202);
  await settle();
  assert.equal((await act(id, { migrate: null }, cloud.adminToken)).status, 202);
  await settle();
  let s = await show(id);
  assert.equal(s.status, 'VERIFY_RESIZE');
  assert.equal(s['OS-EXT-STS:power_state'], 4);
  const dest = s['OS-EXT-SRV-ATTR:host'];
  assert.equal(await fake.powerState(dest, id), 4);
  assert.equal(fake.inside(dest, id).data, 'written-before');
  assert.equal((await act(id, { revertResize: null }, token)).status, 202);
  await settle();
  s = await show(id);
  assert.equal(s.status, 'SHUTOFF');
  assert.equal(await fake.powerState(host, id), 4);
  assert.equal(fake.inside(host, id).data, 'written-before');
});

test('deleting a resized server removes what its old host kept, and the migration is confirmed', async () => {
  const { token, id, host } = await serverWithData('written-before');
  assert.equal((await act(id, { resize: { flavorRef: '2' } }, token)).status, 202);
  await settle();
  const dest = await hostOf(id);
  assert.ok(fake.keeps(host, id));
  assert.equal((await cloud.req('DELETE', `/compute/v2.1/servers/${id}`, { token })).status, 204);
  await settle();
  assert.equal((await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token })).status, 404);
  assert.ok(!fake.keeps(host, id));
  assert.equal(await fake.powerState(dest, id), null);
  const migrations = await cloud.req('GET', `/compute/v2.1/os-migrations?instance_uuid=${id}`, { token: cloud.adminToken, version: '2.23' });
  assert.deepEqual(migrations.body.migrations.map((m: { status: string }) => m.status), ['confirmed']);
});

test('a resized server waiting for confirmation has a console, as its guest runs (Nova refuses one only while deleting or migrating)', async () => {
  const { token, id } = await serverWithData('written-before');
  assert.equal((await act(id, { resize: { flavorRef: '2' } }, token)).status, 202);
  await settle();
  assert.equal((await show(id)).status, 'VERIFY_RESIZE');
  const r = await cloud.req('POST', `/compute/v2.1/servers/${id}/remote-consoles`, { token, version: '2.6', body: { remote_console: { protocol: 'serial', type: 'serial' } } });
  assert.equal(r.status, 200, r.text);
});

test("a compute host that starts while a revert has brought a guest back to it (the database still naming the other host) leaves that guest alone", async () => {
  const { token, id, host } = await serverWithData('written-before');
  assert.equal((await act(id, { resize: { flavorRef: '2' } }, token)).status, 202);
  await settle();
  const dest = await hostOf(id);
  // The revert's two driver steps done, and the process killed before it recorded its end.
  await cloud.services.db.updateTable('servers').set({ task_state: 'resize_reverting' }).where('id', '=', id).execute();
  await fake.destroy(dest, id);
  await fake.finishRevertMigration(host, { id, name: 'srv', hostname: 'srv', vcpus: 1, memoryMb: 512, diskGb: 1, imageId: '', userData: null, keyData: null, adminPassword: null, files: [], ports: [] }, true);
  await reconcile(cloud.services);
  assert.equal(fake.inside(host, id).data, 'written-before');
});

test('a compute host that starts with the disks a resize kept for a server deleted while it was down removes them', async () => {
  const { token, id, host } = await serverWithData('written-before');
  assert.equal((await act(id, { resize: { flavorRef: '2' } }, token)).status, 202);
  await settle();
  assert.ok(fake.keeps(host, id));
  // Deleted as a conductor deletes it while the source host is down (Nova's local delete): the source was not told.
  await cloud.services.db.updateTable('servers').set({ deleted: 1, vm_state: 'deleted', task_state: null }).where('id', '=', id).execute();
  await reconcile(cloud.services);
  assert.ok(!fake.keeps(host, id));
});

test('a compute host that starts keeps the disks a resize kept for a server still waiting for its confirmation', async () => {
  const { token, id, host } = await serverWithData('written-before');
  assert.equal((await act(id, { resize: { flavorRef: '2' } }, token)).status, 202);
  await settle();
  await reconcile(cloud.services);
  assert.ok(fake.keeps(host, id));
  assert.equal((await act(id, { revertResize: null }, token)).status, 202);
  await settle();
  assert.equal(fake.inside(host, id).data, 'written-before');
});

/** A server with data whose cold migration failed at the destination (it cannot make the guest). */
async function failedColdMigration(): Promise<{ id: string; host: string }> {
  const { id, host } = await serverWithData('written-before');
  const dest = fake.hosts().find((h) => h.name !== host)!.name;
  fake.setSpawnFailure(dest, 'No space left on the destination.');
  try {
    const r = await cloud.req('POST', `/compute/v2.1/servers/${id}/action`, { token: cloud.adminToken, version: '2.56', body: { migrate: { host: dest } } });
    assert.equal(r.status, 202, r.text);
    await settle();
  } finally {
    fake.setSpawnFailure(dest, null);
  }
  return { id, host };
}

test('a cold migration whose destination cannot make the guest leaves the server in ERROR with the fault, its disks still kept on the source', async () => {
  const { id, host } = await failedColdMigration();
  const s = await (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: cloud.adminToken, version: '2.56' })).body.server;
  assert.equal(s.status, 'ERROR');
  assert.equal(s.fault.message, 'No space left on the destination.');
  assert.equal(s['OS-EXT-SRV-ATTR:host'], host);
  assert.ok(fake.keeps(host, id), 'nothing of the guest is lost');
  const migrations = await cloud.req('GET', `/compute/v2.1/os-migrations?instance_uuid=${id}`, { token: cloud.adminToken, version: '2.23' });
  assert.deepEqual(migrations.body.migrations.map((m: { status: string }) => m.status), ['error']);
});

test('deleting a server that a failed cold migration left in ERROR removes the disks its source kept', async () => {
  const { id, host } = await failedColdMigration();
  assert.equal((await show(id)).status, 'ERROR');
  assert.ok(fake.keeps(host, id));
  assert.equal((await cloud.req('DELETE', `/compute/v2.1/servers/${id}`, { token: cloud.adminToken })).status, 204);
  await settle();
  assert.equal((await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: cloud.adminToken })).status, 404);
  assert.ok(!fake.keeps(host, id));
  const migrations = await cloud.req('GET', `/compute/v2.1/os-migrations?instance_uuid=${id}`, { token: cloud.adminToken, version: '2.23' });
  assert.deepEqual(migrations.body.migrations.map((m: { status: string }) => m.status), ['error']);
});
