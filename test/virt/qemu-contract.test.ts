import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QemuDriver, QEMU_DEFAULTS } from '../../src/virt/qemu/driver.js';
import { driverContract } from './contract.js';
import { hostProbe, killQemusUnder, qemuMissing, tinyGuest, tinyGuestInside, tinyGuestWrite, waitForConsole } from './qemu-support.js';
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
    const driver = new QemuDriver(probe, { ...QEMU_DEFAULTS, dataDir, host: 'qemu-contract', shutdownTimeoutSeconds: 30, version: 'test', imageFile: async () => null });
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
