import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QemuDriver, QEMU_DEFAULTS } from '../../src/virt/qemu/driver.js';
import { driverContract } from './contract.js';
import { hostProbe, killQemusUnder, qemuMissing, tinyGuest, waitForConsole } from './qemu-support.js';
import { BOOT_MARKER } from '../../src/virt/qemu/tiny-guest.js';

const skip = qemuMissing();

driverContract(
  'qemu (the tiny guest under TCG or KVM)',
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'nimbus-qemu-'));
    const tiny = tinyGuest();
    const driver = new QemuDriver(await hostProbe(), { ...QEMU_DEFAULTS, dataDir, host: 'qemu-contract', shutdownTimeoutSeconds: 30, version: 'test', imageFile: async () => null });
    return {
      driver,
      host: 'qemu-contract',
      spec: (id) => ({
        id, name: 'contract', hostname: 'contract', vcpus: 1, memoryMb: 128, diskGb: 1, imageId: 'tiny', userData: null, keyData: null, adminPassword: null, files: [], ports: [],
        image: { id: 'tiny', diskFormat: 'raw', path: tiny.disk, kernelPath: tiny.kernel, ramdiskPath: tiny.ramdisk, commandLine: null },
      }),
      booted: async (id, since = 0) => {
        await waitForConsole(() => driver.consoleOutput('qemu-contract', id), 'nimbus-tiny-guest: ready', since);
      },
      bootText: BOOT_MARKER,
      close: async () => {
        driver.close();
        killQemusUnder(dataDir);
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
  { skip },
);
