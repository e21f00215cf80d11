/**
 * The remote driver is a faithful stand-in for the driver of the host it calls: the driver
 * contract and the drive contract, run against RemoteDriver → host endpoint → FakeDriver
 * over loopback, as an API node calls a compute host.
 */
import { remoteFake, remoteFakes } from './remote-support.js';
import { fakeInside } from './fake-inside.js';
import { driverContract } from './contract.js';
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

driveContract('remote (to the fake)', async () => {
  const { driver, endpoint } = await remoteFake();
  await driver.spawn('fake-host-1', { id: 'guest-1', name: 'g', hostname: 'g', vcpus: 1, memoryMb: 512, diskGb: 1, imageId: '', userData: null, keyData: null, adminPassword: null, files: [], ports: [] });
  return { driver, guest: { host: 'fake-host-1', id: 'guest-1' }, close: () => endpoint.close() };
});
