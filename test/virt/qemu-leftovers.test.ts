/**
 * What a crash or an absent host leaves in a qemu host's data directory, as the driver names
 * it to a compute host's reconcile: a machine folder half made (`<id>.part`) is a guest it can
 * destroy, and a resize's kept folder (`<id>_resize`) one it keeps disks for. No machine runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { QemuDriver, QEMU_DEFAULTS } from '../../src/virt/qemu/driver.js';
import { hostProbe, qemuMissing } from './qemu-support.js';

const skip = qemuMissing();

async function host() {
  const dataDir = mkdtempSync(join(tmpdir(), 'nimbus-qemu-left-'));
  const driver = new QemuDriver(await hostProbe(), { ...QEMU_DEFAULTS, dataDir, host: 'left', shutdownTimeoutSeconds: 1, version: 'test', imageFile: async () => null });
  return { driver, machines: join(dataDir, 'machines'), close: () => rmSync(dataDir, { recursive: true, force: true }) };
}

test('qemu: a machine folder a crash left half made is a guest of the host, which destroy removes', { skip }, async () => {
  const { driver, machines, close } = await host();
  const id = randomUUID();
  mkdirSync(join(machines, `${id}.part`));
  assert.deepEqual(await driver.guestIds('left'), [id]);
  await driver.destroy('left', id);
  assert.ok(!existsSync(join(machines, `${id}.part`)));
  assert.deepEqual(await driver.guestIds('left'), []);
  close();
});

test("qemu: a resize's kept folder is named by keptIds, not guestIds, and confirmMigration removes it", { skip }, async () => {
  const { driver, machines, close } = await host();
  const id = randomUUID();
  mkdirSync(join(machines, `${id}_resize`));
  assert.deepEqual(await driver.keptIds('left'), [id]);
  assert.deepEqual(await driver.guestIds('left'), []);
  await driver.confirmMigration('left', id);
  assert.deepEqual(await driver.keptIds('left'), []);
  close();
});
