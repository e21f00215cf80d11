import { FakeDriver, FAKE_DEFAULTS } from '../../src/virt/fake/driver.js';
import { driverContract } from './contract.js';
import { fakeInside } from './fake-inside.js';

driverContract('fake', async () => {
  const driver = new FakeDriver({ ...FAKE_DEFAULTS, hosts: 2, busyWindowMs: 0 });
  return {
    driver,
    host: 'fake-host-1',
    second: { driver, host: 'fake-host-2' },
    spec: (id) => ({ id, name: 'contract', hostname: 'contract', vcpus: 1, memoryMb: 128, diskGb: 1, imageId: '', userData: null, keyData: null, adminPassword: null, files: [], ports: [] }),
    booted: async () => {},
    bootText: 'contract login:',
    ...fakeInside(() => driver),
    close: async () => {},
  };
});
