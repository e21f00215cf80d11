import { FakeDriver, FAKE_DEFAULTS } from '../../src/virt/fake/driver.js';
import { driverContract, liveMigrationContract } from './contract.js';
import { fakeInside } from './fake-inside.js';

const spec = (id: string) => ({ id, name: 'contract', hostname: 'contract', vcpus: 1, memoryMb: 128, diskGb: 1, imageId: '', userData: null, keyData: null, adminPassword: null, files: [], ports: [] });

driverContract('fake', async () => {
  const driver = new FakeDriver({ ...FAKE_DEFAULTS, hosts: 2, busyWindowMs: 0 });
  return {
    driver,
    host: 'fake-host-1',
    second: { driver, host: 'fake-host-2' },
    spec,
    booted: async () => {},
    bootText: 'contract login:',
    ...fakeInside(() => driver),
    close: async () => {},
  };
});

liveMigrationContract('fake (two hosts of one driver)', async () => {
  const driver = new FakeDriver({ ...FAKE_DEFAULTS, hosts: 2, busyWindowMs: 0 });
  return { source: { driver, host: 'fake-host-1' }, dest: { driver, host: 'fake-host-2' }, spec, booted: async () => {}, close: async () => {} };
});
