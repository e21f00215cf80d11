import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostListen } from '../../../src/compute/host-calls.js';
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
