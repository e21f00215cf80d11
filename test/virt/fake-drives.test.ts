import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeDriver, FAKE_DEFAULTS } from '../../src/virt/fake/driver.js';
import { driveContract } from './drive-contract.js';

driveContract('fake', async () => {
  const driver = new FakeDriver({ ...FAKE_DEFAULTS, hosts: 1 });
  await driver.spawn('fake-host-1', { id: 'guest-1', name: 'g', hostname: 'g', vcpus: 1, memoryMb: 512, diskGb: 1, imageId: '', userData: null, keyData: null, adminPassword: null, files: [], ports: [] });
  return { driver, guest: { host: 'fake-host-1', id: 'guest-1' } };
});

test('fake: a clone keeps off the pools of the drives it avoids while another pool is free', async () => {
  const driver = new FakeDriver({ ...FAKE_DEFAULTS, storagePools: 3 });
  const a = await driver.createDrive({ id: 'a', size: 1 << 30, storageType: 'dssd', media: 'disk', avoid: [] });
  const b = await driver.cloneDrive({ id: 'b', size: 1 << 30, storageType: 'dssd', media: 'disk', avoid: [a.location] }, { kind: 'drive', id: 'a' });
  const c = await driver.cloneDrive({ id: 'c', size: 1 << 30, storageType: 'dssd', media: 'disk', avoid: [a.location, b.location] }, { kind: 'drive', id: 'a' });
  assert.equal(new Set([a.location, b.location, c.location]).size, 3);
});
