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

/** Two fake hosts, each its own process's (its own fake behind its own endpoint), and one remote driver that reaches both by name. */
export async function remoteFakes() {
  const hosts = await Promise.all(
    ['fake-host-1', 'fake-host-2'].map(async (name, i) => {
      const fake = new FakeDriver({ ...FAKE_DEFAULTS, busyWindowMs: 0, only: { name, hostIp: `127.0.0.${i + 2}` } });
      const secret = randomBytes(32).toString('base64url');
      const endpoint = await serveHost(fake, { listen: { host: '127.0.0.1', port: 0 }, secret });
      return { name, fake, endpoint, secret };
    }),
  );
  const on = (host: string) => hosts.find((h) => h.name === host)!;
  const driver = new RemoteDriver({ resolve: (host) => (on(host) ? { url: on(host).endpoint.url, secret: on(host).secret } : null), hosts: () => hosts.flatMap((h) => h.fake.hosts()), storageTypes: () => hosts[0].fake.storageTypes() });
  return { driver, fakeOf: (host: string) => on(host).fake, close: async () => void (await Promise.all(hosts.map((h) => h.endpoint.close()))) };
}
