import { FakeDriver, FAKE_DEFAULTS } from '../../src/virt/fake/driver.js';
import { driverContract } from './contract.js';

driverContract('fake', async () => {
  const driver = new FakeDriver({ ...FAKE_DEFAULTS, hosts: 1, busyWindowMs: 0 });
  return {
    driver,
    host: 'fake-host-1',
    spec: (id) => ({ id, name: 'contract', hostname: 'contract', vcpus: 1, memoryMb: 128, diskGb: 1, imageId: '', userData: null, keyData: null, adminPassword: null, files: [], ports: [] }),
    booted: async () => {},
    bootText: 'contract login:',
    close: async () => {},
  };
});
