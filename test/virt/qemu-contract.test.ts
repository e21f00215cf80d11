import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QemuDriver, QEMU_DEFAULTS } from '../../src/virt/qemu/driver.js';
import { driverContract, liveMigrationContract } from './contract.js';
import type { GuestDrive, GuestSpec } from '../../src/virt/driver.js';
import { guestShell, hostProbe, killQemusUnder, qemuMissing, tinyGuest, tinyGuestInside, tinyGuestWrite, waitForConsole } from './qemu-support.js';
import { BOOT_MARKER } from '../../src/virt/qemu/tiny-guest.js';

const skip = qemuMissing();

driverContract(
  'qemu (the tiny guest under TCG or KVM)',
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'nimbus-qemu-'));
    // A second host, as another compute process has it: a driver of its own, its own data directory.
    const dataDir2 = mkdtempSync(join(tmpdir(), 'nimbus-qemu-'));
    const tiny = tinyGuest();
    const probe = await hostProbe();
    // The drives the core records of each guest, which the driver asks at each start.
    const recorded = new Map<string, GuestDrive[]>();
    const driver = new QemuDriver(probe, { ...QEMU_DEFAULTS, dataDir, host: 'qemu-contract', shutdownTimeoutSeconds: 30, version: 'test', imageFile: async () => null, drivesOf: async (id) => recorded.get(id) ?? [] });
    const driver2 = new QemuDriver(probe, { ...QEMU_DEFAULTS, dataDir: dataDir2, host: 'qemu-contract-2', shutdownTimeoutSeconds: 30, version: 'test', imageFile: async () => null });
    const on = (host: string) => (host === 'qemu-contract' ? { driver, dataDir } : { driver: driver2, dataDir: dataDir2 });
    return {
      driver,
      host: 'qemu-contract',
      second: { driver: driver2, host: 'qemu-contract-2' },
      writeDisk: (host, id, data) => tinyGuestWrite(on(host).driver, host, id, data),
      inside: (host, id) => tinyGuestInside(on(host).driver, host, id),
      keeps: (host, id) => existsSync(join(on(host).dataDir, 'machines', `${id}_resize`)),
      shrinks: false,
      diskSizes: async (host, id) => {
        const m = await guestShell(on(host).driver, host, id, 'echo "DIS""KS" $(cat /sys/block/vd*/size) END', /DISKS ([\d ]*) END/);
        return m[1].trim().split(/\s+/).map((sectors) => Number(sectors) * 512);
      },
      recordDrives: (id, drives) => recorded.set(id, drives),
      spec: (id) => ({
        id, name: 'contract', hostname: 'contract', vcpus: 1, memoryMb: 128, diskGb: 1, imageId: 'tiny', userData: null, keyData: null, adminPassword: null, files: [], ports: [],
        image: { id: 'tiny', diskFormat: 'raw', path: tiny.disk, kernelPath: tiny.kernel, ramdiskPath: tiny.ramdisk, commandLine: null },
      }),
      booted: async (id, since = 0) => {
        await waitForConsole(() => driver.consoleOutput('qemu-contract', id), 'nimbus-tiny-guest: ready', since);
      },
      bootText: BOOT_MARKER,
      close: async () => {
        for (const [d, dir] of [[driver, dataDir], [driver2, dataDir2]] as const) {
          d.close();
          killQemusUnder(dir);
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  },
  { skip },
);

/** A qemu host of its own: a driver and a data directory, as a compute process has them. */
async function qemuHost(host: string) {
  const dataDir = mkdtempSync(join(tmpdir(), 'nimbus-qemu-'));
  const driver = new QemuDriver(await hostProbe(), { ...QEMU_DEFAULTS, dataDir, host, shutdownTimeoutSeconds: 30, version: 'test', imageFile: async () => null });
  const close = () => {
    driver.close();
    killQemusUnder(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { driver, host, close };
}

const tinySpec = (id: string): GuestSpec => {
  const tiny = tinyGuest();
  return {
    id, name: 'contract', hostname: 'contract', vcpus: 1, memoryMb: 128, diskGb: 1, imageId: 'tiny', userData: null, keyData: null, adminPassword: null, files: [], ports: [],
    image: { id: 'tiny', diskFormat: 'raw', path: tiny.disk, kernelPath: tiny.kernel, ramdiskPath: tiny.ramdisk, commandLine: null },
  };
};

// Two hosts on one machine: two drivers, each with a data directory of its own, the stream over loopback.
liveMigrationContract(
  'qemu (two hosts on one machine)',
  async () => {
    const [source, dest] = await Promise.all([qemuHost('qemu-source'), qemuHost('qemu-dest')]);
    return {
      source,
      dest,
      spec: tinySpec,
      booted: async (id) => {
        await waitForConsole(() => source.driver.consoleOutput('qemu-source', id), 'nimbus-tiny-guest: ready');
      },
      close: async () => {
        source.close();
        dest.close();
      },
    };
  },
  { skip },
);
