/**
 * The remote driver is a faithful stand-in for the driver of the host it calls: the driver
 * contract and the drive contract, run against RemoteDriver → host endpoint → FakeDriver
 * over loopback, as an API node calls a compute host.
 */
import { randomBytes } from 'node:crypto';
import { FakeDriver, FAKE_DEFAULTS } from '../../src/virt/fake/driver.js';
import { RemoteDriver } from '../../src/virt/remote/driver.js';
import { serveHost } from '../../src/virt/remote/endpoint.js';
import { driverContract } from './contract.js';
import { driveContract } from './drive-contract.js';

/** A fake host behind its endpoint, and a remote driver that reaches it. */
export async function remoteFake(options = { ...FAKE_DEFAULTS, hosts: 1, busyWindowMs: 0 }) {
  const fake = new FakeDriver(options);
  const secret = randomBytes(32).toString('base64url');
  const endpoint = await serveHost(fake, { listen: { host: '127.0.0.1', port: 0 }, secret });
  const driver = new RemoteDriver({ resolve: () => ({ url: endpoint.url, secret }), hosts: () => fake.hosts(), storageTypes: () => fake.storageTypes() });
  return { fake, driver, endpoint, secret };
}

driverContract('remote (over the host endpoint, to the fake)', async () => {
  const { driver, endpoint } = await remoteFake();
  return {
    driver,
    host: 'fake-host-1',
    spec: (id) => ({ id, name: 'contract', hostname: 'contract', vcpus: 1, memoryMb: 128, diskGb: 1, imageId: '', userData: null, keyData: null, adminPassword: null, files: [], ports: [] }),
    booted: async () => {},
    bootText: 'contract login:',
    close: () => endpoint.close(),
  };
});

driveContract('remote (to the fake)', async () => {
  const { driver, endpoint } = await remoteFake();
  await driver.spawn('fake-host-1', { id: 'guest-1', name: 'g', hostname: 'g', vcpus: 1, memoryMb: 512, diskGb: 1, imageId: '', userData: null, keyData: null, adminPassword: null, files: [], ports: [] });
  return { driver, guest: { host: 'fake-host-1', id: 'guest-1' }, close: () => endpoint.close() };
});
