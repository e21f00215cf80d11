import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { QemuDriver, QEMU_DEFAULTS } from '../../src/virt/qemu/driver.js';
import { driveContract } from './drive-contract.js';
import { hostProbe, qemuMissing } from './qemu-support.js';

/** The drive contract on qemu: qcow2 files under <dataDir>/drives made by qemu-img (hotplug into a running guest is in the driver contract, qemu-contract.test.ts). */
const skip = qemuMissing();
const image = { id: randomUUID(), data: Buffer.alloc(3 * 1024 ** 2, 7) };

async function qemuDrives(dataDir = mkdtempSync(join(tmpdir(), 'nimbus-qemu-drives-')), serverOfDrive?: (driveId: string) => Promise<string | null>) {
  const imagePath = join(dataDir, 'image.raw');
  writeFileSync(imagePath, image.data);
  const driver = new QemuDriver(await hostProbe(), {
    ...QEMU_DEFAULTS,
    dataDir,
    host: 'qemu-drives',
    shutdownTimeoutSeconds: 1,
    version: 'test',
    imageFile: async (id) => (id === image.id ? { path: imagePath, diskFormat: 'raw' } : null),
    serverOfDrive,
  });
  return { driver, dataDir, close: async () => rmSync(dataDir, { recursive: true, force: true }) };
}

if (skip) test('qemu drives', { skip }, () => {});
else {
  driveContract('qemu', async () => ({ ...(await qemuDrives()), guest: null }));

  test('qemu: a drive cloned from an image is a qcow2 overlay on the host’s one copy of the image (nothing copied per drive), with the image’s bytes, grown to the size asked', async () => {
    const { driver, dataDir, close } = await qemuDrives();
    const [id, other] = [randomUUID(), randomUUID()];
    const { location } = await driver.cloneDrive({ id, size: 8 * 1024 ** 2, storageType: 'dssd', media: 'disk', avoid: [] }, { kind: 'image', id: image.id });
    await driver.cloneDrive({ id: other, size: 1024 ** 2, storageType: 'dssd', media: 'disk', avoid: [] }, { kind: 'image', id: image.id });
    assert.equal(location, 'qemu-drives');
    const file = join(dataDir, 'drives', `${id}.qcow2`);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' }));
    assert.deepEqual([info.format, info['virtual-size']], ['qcow2', 8 * 1024 ** 2]);
    const base = join(dataDir, 'machines', '_base', image.id);
    assert.equal(info['backing-filename'], base);
    assert.ok(statSync(file).size < image.data.length / 4, `the drive holds no copy of the image (${statSync(file).size} bytes)`);
    const smaller = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', join(dataDir, 'drives', `${other}.qcow2`)], { encoding: 'utf8' }));
    assert.deepEqual([smaller['backing-filename'], smaller['virtual-size']], [base, image.data.length], 'a size below the image’s is the image’s');
    const raw = join(dataDir, 'back.raw');
    execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', file, raw]);
    assert.ok(readFileSync(raw).subarray(0, image.data.length).equals(image.data));
    await close();
  });

  test('qemu: a clone or snapshot of the drive a compute-API server shows for its root disk reads the machine’s own disk as it is now', async () => {
    const [serverId, rootDrive] = [randomUUID(), randomUUID()];
    const { driver, dataDir, close } = await qemuDrives(undefined, async (driveId) => (driveId === rootDrive ? serverId : null));
    await driver.cloneDrive({ id: rootDrive, size: 4 * 1024 ** 2, storageType: 'dssd', media: 'disk', avoid: [] }, { kind: 'image', id: image.id });
    // What the guest wrote since its boot, in the machine's disk (not in the drive's file).
    const written = Buffer.alloc(4 * 1024 ** 2, 9);
    mkdirSync(join(dataDir, 'machines', serverId), { recursive: true });
    writeFileSync(join(dataDir, 'raw-disk'), written);
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', join(dataDir, 'raw-disk'), join(dataDir, 'machines', serverId, 'disk.qcow2')]);
    const clone = randomUUID();
    await driver.cloneDrive({ id: clone, size: 4 * 1024 ** 2, storageType: 'dssd', media: 'disk', avoid: [] }, { kind: 'drive', id: rootDrive });
    const snapshot = randomUUID();
    await driver.snapshotDrive(rootDrive, snapshot);
    for (const file of [join(dataDir, 'drives', `${clone}.qcow2`), join(dataDir, 'snapshots', `${snapshot}.qcow2`)]) {
      const raw = join(dataDir, 'out.raw');
      execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', file, raw]);
      assert.ok(readFileSync(raw).subarray(0, written.length).equals(written), file);
    }
    await close();
  });
}
