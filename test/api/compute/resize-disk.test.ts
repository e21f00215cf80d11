/**
 * Resizing to a flavor with another root disk, as Nova decides it: the API refuses only a
 * resize from a root disk to none (unless the server boots from a volume); whether a disk
 * can shrink is the driver's call. The fake driver lets it, as Nova's fake driver does; a
 * driver that refuses leaves the server as it was, with a fault and the event in error,
 * as Nova's InstanceFaultRollback does.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { ResizeRefused } from '../../../src/virt/driver.js';
import { ownServer } from './server-fixtures.js';

let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
  const zero = await cloud.req('POST', '/compute/v2.1/flavors', { token: cloud.adminToken, body: { flavor: { name: 'zero.disk', id: 'zero', vcpus: 1, ram: 512, disk: 0 } } });
  assert.equal(zero.status, 200, zero.text);
});
after(async () => cloud.close());

const act = (id: string, body: unknown, token: string) => cloud.req('POST', `/compute/v2.1/servers/${id}/action`, { token, body });
const show = async (id: string, token: string, version = '2.47') => (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token, version })).body.server;
const settle = () => cloud.services.runner.idle();

test('resize to a flavor with a smaller root disk is accepted; revert brings the larger one back', async () => {
  const { token, id } = await ownServer(cloud, { flavorRef: '2' }); // m1.small: 20 GiB
  const res = await act(id, { resize: { flavorRef: '1' } }, token); // m1.tiny: 1 GiB
  assert.equal(res.status, 202, res.text);
  await settle();
  let s = await show(id, token);
  assert.equal(s.status, 'VERIFY_RESIZE');
  assert.equal(s.flavor.disk, 1);
  assert.equal((await act(id, { revertResize: null }, token)).status, 202);
  await settle();
  s = await show(id, token);
  assert.equal(s.status, 'ACTIVE');
  assert.equal(s.flavor.original_name, 'm1.small');
  assert.equal(s.flavor.disk, 20);
});

test('resize from a root disk to a zero-disk flavor is 400 with Nova’s message', async () => {
  const { token, id } = await ownServer(cloud);
  const res = await act(id, { resize: { flavorRef: 'zero' } }, token);
  assert.equal(res.status, 400);
  assert.equal(res.body.badRequest.message, 'Server disk was unable to be resized because: Resize to zero disk flavor is not allowed.');
  assert.equal((await show(id, token)).status, 'ACTIVE');
});

test('a server booted from a volume may resize to a zero-disk flavor', async () => {
  const image = await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow();
  const { token, id } = await ownServer(cloud, {
    imageRef: undefined,
    block_device_mapping_v2: [{ boot_index: 0, uuid: image.id, source_type: 'image', destination_type: 'volume', volume_size: 1, delete_on_termination: true }],
  });
  const res = await act(id, { resize: { flavorRef: 'zero' } }, token);
  assert.equal(res.status, 202, res.text);
  await settle();
  assert.equal((await show(id, token)).status, 'VERIFY_RESIZE');
});

test('a driver that refuses the new disk leaves the server ACTIVE where it was, the refusal in the event, in error', async () => {
  const { token, id } = await ownServer(cloud, { flavorRef: '2' });
  const before = await show(id, cloud.adminToken, '2.3');
  const driver = cloud.services.driver;
  const accept = driver.migrateDiskAndPowerOff;
  driver.migrateDiskAndPowerOff = async () => {
    throw new ResizeRefused('Resize error: Unable to resize disk down.');
  };
  try {
    assert.equal((await act(id, { resize: { flavorRef: '1' } }, token)).status, 202);
    await settle();
  } finally {
    driver.migrateDiskAndPowerOff = accept;
  }
  const s = await show(id, cloud.adminToken, '2.47');
  assert.equal(s.status, 'ACTIVE');
  assert.equal(s['OS-EXT-STS:task_state'], null);
  assert.equal(s.flavor.original_name, 'm1.small');
  assert.equal(s['OS-EXT-SRV-ATTR:host'], before['OS-EXT-SRV-ATTR:host']);
  assert.equal(s.fault, undefined, 'Nova shows a fault only on a server in ERROR');
  assert.equal(await driver.powerState(before['OS-EXT-SRV-ATTR:host'], id), 1, 'the guest still runs on its host');

  const actions = (await cloud.req('GET', `/compute/v2.1/servers/${id}/os-instance-actions`, { token: cloud.adminToken })).body.instanceActions;
  const resize = actions.find((a: { action: string }) => a.action === 'resize');
  assert.equal(resize.message, 'Error');
  const detail = (await cloud.req('GET', `/compute/v2.1/servers/${id}/os-instance-actions/${resize.request_id}`, { token: cloud.adminToken, version: '2.84' })).body.instanceAction;
  assert.deepEqual(
    detail.events.map((e: { event: string; result: string; details: string }) => [e.event, e.result, e.details]),
    [['compute_resize_instance', 'Error', 'Resize error: Unable to resize disk down.']],
  );
  const migrations = await cloud.req('GET', `/compute/v2.1/os-migrations?instance_uuid=${id}`, { token: cloud.adminToken, version: '2.23' });
  assert.deepEqual(migrations.body.migrations.map((m: { status: string }) => m.status), ['error']);

  // The server can be resized again once the driver lets it.
  assert.equal((await act(id, { resize: { flavorRef: '1' } }, token)).status, 202);
  await settle();
  assert.equal((await show(id, token)).status, 'VERIFY_RESIZE');
});
