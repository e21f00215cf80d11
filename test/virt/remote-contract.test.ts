/**
 * The remote driver is a faithful stand-in for the driver of the host it calls: the driver
 * contract and the drive contract, run against RemoteDriver → host endpoint → FakeDriver
 * over loopback, as an API node calls a compute host.
 */
import { remoteFake, remoteFakes } from './remote-support.js';
import { fakeInside } from './fake-inside.js';
import { driverContract, liveMigrationContract } from './contract.js';
import { FAKE_DEFAULTS } from '../../src/virt/fake/driver.js';
import { driveContract } from './drive-contract.js';

driverContract('remote (over the host endpoints, to a fake on each host)', async () => {
  const { driver, fakeOf, close } = await remoteFakes();
  return {
    driver,
    host: 'fake-host-1',
    // The same remote driver: the disks come from one endpoint and go up to the other.
    second: { driver, host: 'fake-host-2' },
    ...fakeInside(fakeOf),
    spec: (id) => ({ id, name: 'contract', hostname: 'contract', vcpus: 1, memoryMb: 128, diskGb: 1, imageId: '', userData: null, keyData: null, adminPassword: null, files: [], ports: [] }),
    booted: async () => {},
    bootText: 'contract login:',
    close,
  };
});

// Over the wire to one fake of two hosts: the steps meet on one side, so a send that nothing waits for fails as QEMU's would.
liveMigrationContract('remote (over the host endpoint, to a fake of two hosts)', async () => {
  const { driver, endpoint } = await remoteFake({ ...FAKE_DEFAULTS, hosts: 2, busyWindowMs: 0 });
  const spec = (id: string) => ({ id, name: 'contract', hostname: 'contract', vcpus: 1, memoryMb: 128, diskGb: 1, imageId: '', userData: null, keyData: null, adminPassword: null, files: [], ports: [] });
  return { source: { driver, host: 'fake-host-1' }, dest: { driver, host: 'fake-host-2' }, spec, booted: async () => {}, close: () => endpoint.close() };
});

driveContract('remote (to the fake)', async () => {
  const { driver, endpoint } = await remoteFake();
  await driver.spawn('fake-host-1', { id: 'guest-1', name: 'g', hostname: 'g', vcpus: 1, memoryMb: 512, diskGb: 1, imageId: '', userData: null, keyData: null, adminPassword: null, files: [], ports: [] });
  return { driver, guest: { host: 'fake-host-1', id: 'guest-1' }, close: () => endpoint.close() };
});
