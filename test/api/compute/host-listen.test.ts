import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { hostListen, startHostEndpoint } from '../../../src/compute/host-calls.js';
import { FakeDriver, FAKE_DEFAULTS } from '../../../src/virt/fake/driver.js';
import { Clock } from '../../../src/clock.js';
import { createLogger } from '../../../src/logging.js';
import type { Db } from '../../../src/db/database.js';
import { ConfigError } from '../../../src/config.js';

test('a compute host listens for host calls on 127.0.0.1:8775 unless told otherwise', () => {
  assert.deepEqual(hostListen({}), { host: '127.0.0.1', port: 8775 });
  assert.deepEqual(hostListen({ NIMBUS_HOST_IP: '10.231.1.2', NIMBUS_HOST_PORT: '0' }), { host: '10.231.1.2', port: 0 });
});

test('a port that is not one, or a wildcard address the API nodes could not be told, is refused naming the setting', () => {
  assert.throws(() => hostListen({ NIMBUS_HOST_PORT: '70000' }), (err: Error) => err instanceof ConfigError && /NIMBUS_HOST_PORT/.test(err.message));
  assert.throws(() => hostListen({ NIMBUS_HOST_PORT: 'http' }), (err: Error) => err instanceof ConfigError && /NIMBUS_HOST_PORT/.test(err.message));
  assert.throws(() => hostListen({ NIMBUS_HOST_IP: '0.0.0.0' }), (err: Error) => err instanceof ConfigError && /NIMBUS_HOST_IP/.test(err.message));
});

test('a second compute on a port already taken (two on one machine) is refused naming NIMBUS_HOST_PORT, not a stack trace', async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as { port: number }).port;
  try {
    const services = { db: {} as Db, clock: new Clock(), log: createLogger('silent', 'json'), driver: new FakeDriver({ ...FAKE_DEFAULTS, hosts: 1 }) };
    await assert.rejects(startHostEndpoint(services, { host: '127.0.0.1', port }), (err: Error) => err instanceof ConfigError && err.message.includes(`127.0.0.1:${port} is in use`) && /NIMBUS_HOST_PORT/.test(err.message));
  } finally {
    taken.close();
  }
});
