import { randomBytes } from 'node:crypto';
import { FakeDriver, FAKE_DEFAULTS } from '../../src/virt/fake/driver.js';
import { RemoteDriver } from '../../src/virt/remote/driver.js';
import { serveHost } from '../../src/virt/remote/endpoint.js';

/** A fake host behind its endpoint, and a remote driver that reaches it. */
export async function remoteFake(options = { ...FAKE_DEFAULTS, hosts: 1, busyWindowMs: 0 }) {
  const fake = new FakeDriver(options);
  const secret = randomBytes(32).toString('base64url');
  const endpoint = await serveHost(fake, { listen: { host: '127.0.0.1', port: 0 }, secret });
  const driver = new RemoteDriver({ resolve: () => ({ url: endpoint.url, secret }), hosts: () => fake.hosts(), storageTypes: () => fake.storageTypes() });
  return { fake, driver, endpoint, secret };
}

