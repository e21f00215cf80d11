/**
 * The host endpoint's guards and the remote driver's answers when a host cannot answer:
 * the secret, the bounds, a host that is down, gone or silent, and the streams (consoles,
 * snapshots) that do not fit a JSON call.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { request } from 'node:http';
import { randomUUID } from 'node:crypto';
import { DriverError, HostUnavailable, type GuestSpec } from '../../src/virt/driver.js';
import { RemoteDriver } from '../../src/virt/remote/driver.js';
import { FakeDriver, FAKE_DEFAULTS } from '../../src/virt/fake/driver.js';
import { SECRET_HEADER, MAX_REQUEST_BYTES } from '../../src/virt/remote/protocol.js';
import { remoteFake } from './remote-support.js';

const HOST = 'fake-host-1';
const spec = (id: string): GuestSpec => ({ id, name: 'g', hostname: 'guest', vcpus: 1, memoryMb: 128, diskGb: 1, imageId: '', userData: null, keyData: null, adminPassword: null, files: [], ports: [] });

/** A raw POST to the endpoint: its status and body. */
function post(url: string, path: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('the endpoint refuses a call without the host secret', async () => {
  const { endpoint } = await remoteFake();
  const res = await post(endpoint.url, '/v1/call/consoleOutput', JSON.stringify([HOST, 'x']));
  assert.equal(res.status, 401);
  await endpoint.close();
});

test('the endpoint refuses a call with a wrong secret, and the remote driver does not take it for an answer', async () => {
  const { endpoint, fake, secret } = await remoteFake();
  const id = randomUUID();
  await fake.spawn(HOST, spec(id));
  const res = await post(endpoint.url, '/v1/call/consoleOutput', JSON.stringify([HOST, id]), { [SECRET_HEADER]: secret.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) });
  assert.equal(res.status, 401);
  assert.doesNotMatch(res.body, /login/);
  const wrong = new RemoteDriver({ resolve: () => ({ url: endpoint.url, secret: 'not-the-secret' }), hosts: () => [] });
  await assert.rejects(wrong.consoleOutput(HOST, id), (err: Error) => err instanceof DriverError && /secret/.test(err.message));
  await endpoint.close();
});

test('the endpoint refuses a body over its bound with a 413', async () => {
  const { endpoint, secret } = await remoteFake();
  const res = await post(endpoint.url, '/v1/call/spawn', Buffer.alloc(MAX_REQUEST_BYTES + 1, 0x20), { [SECRET_HEADER]: secret }).catch(() => ({ status: 413, body: '' }));
  assert.equal(res.status, 413);
  await endpoint.close();
});

test('the endpoint answers a call it does not know with a 404, and arguments that are not a JSON array with a 400', async () => {
  const { endpoint, secret } = await remoteFake();
  assert.equal((await post(endpoint.url, '/v1/call/adopt', '[]', { [SECRET_HEADER]: secret })).status, 404);
  assert.equal((await post(endpoint.url, '/v1/call/destroy', '{"host":1}', { [SECRET_HEADER]: secret })).status, 400);
  await endpoint.close();
});

test('a host the resolver says is down is unavailable at once, with Nova\'s message', async () => {
  const driver = new RemoteDriver({ resolve: () => null, hosts: () => [] });
  await assert.rejects(driver.consoleOutput('compute-7', randomUUID()), (err: Error) => err instanceof HostUnavailable && err.message === 'Compute service of compute-7 is unavailable at this time.');
});

test('a host whose process is gone (connection refused) is unavailable', async () => {
  const { endpoint, driver } = await remoteFake();
  await endpoint.close();
  await assert.rejects(driver.powerState(HOST, randomUUID()), HostUnavailable);
});

test('a host that takes the connection but never answers is unavailable once the call\'s bound has passed', async () => {
  const silent = createServer(() => {}); // accepts, reads nothing, answers nothing
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
  const driver = new RemoteDriver({ resolve: () => ({ url, secret: 's' }), hosts: () => [], callTimeoutMs: 50 });
  await assert.rejects(driver.consoleOutput(HOST, randomUUID()), HostUnavailable);
  silent.close();
});

test('a driver error on the host reaches the caller as the same error class and message', async () => {
  const { endpoint, driver } = await remoteFake();
  const id = randomUUID();
  await assert.rejects(driver.consoleOutput(HOST, id), (err: Error) => err.constructor.name === 'DriverError' && err.message === `Instance ${id} could not be found on ${HOST}.`);
  await endpoint.close();
});

test("the serial console of a guest on another host: typed text is echoed and Enter brings the guest's prompt", async () => {
  const { endpoint, driver, fake } = await remoteFake();
  const id = randomUUID();
  await fake.spawn(HOST, spec(id));
  let seen = '';
  let more: () => void = () => {};
  const console = driver.openConsole(HOST, id, 'serial', { send: (d) => ((seen += d.toString('latin1')), more()), hangUp: () => {} });
  console.write(Buffer.from('root\r')); // typed before the connection is up: it waits for it
  await new Promise<void>((resolve) => (more = () => /guest login: $/.test(seen) && resolve()));
  assert.match(seen, /^root\r\n\r\nLogin incorrect\r\nguest login: $/);
  console.close();
  await endpoint.close();
});

test('a console of a guest the host does not have hangs the client up', async () => {
  const { endpoint, driver } = await remoteFake();
  await new Promise<void>((resolve) => driver.openConsole(HOST, randomUUID(), 'vnc', { send: () => {}, hangUp: resolve }));
  await endpoint.close();
});

test('a console with a wrong secret hangs the client up without a byte of the guest', async () => {
  const { endpoint, fake } = await remoteFake();
  const id = randomUUID();
  await fake.spawn(HOST, spec(id));
  const driver = new RemoteDriver({ resolve: () => ({ url: endpoint.url, secret: 'wrong' }), hosts: () => [] });
  let got = 0;
  await new Promise<void>((resolve) => driver.openConsole(HOST, id, 'vnc', { send: (d) => (got += d.length), hangUp: resolve }));
  assert.equal(got, 0);
  await endpoint.close();
});

test("a snapshot's bytes come through as a stream, and a disk that is still its image as null", async () => {
  const { endpoint, driver, fake } = await remoteFake();
  const id = randomUUID();
  await fake.spawn(HOST, spec(id));
  assert.equal(await driver.snapshot(HOST, id), null);
  const disk = [Buffer.from('first'), Buffer.alloc(200_000, 7), Buffer.from('last')];
  fake.snapshot = async () => (async function* () { yield* disk; })() as never;
  const bytes = await driver.snapshot(HOST, id);
  const got: Buffer[] = [];
  for await (const chunk of bytes!) got.push(chunk);
  assert.deepEqual(Buffer.concat(got), Buffer.concat(disk));
  await endpoint.close();
});

test("with storage of its own (a conductor's), drive work stays in the process while host calls still go to the host", async () => {
  const storage = new FakeDriver({ ...FAKE_DEFAULTS, hosts: 0 });
  const driver = new RemoteDriver({ hosts: () => [], resolve: async () => null, storage });
  const { location } = await driver.createDrive({ id: 'd1', size: 1 << 30, storageType: 'dssd', media: 'disk', avoid: [] });
  assert.equal(storage.driveOf('d1')?.location, location);
  assert.deepEqual(driver.storageTypes(), storage.storageTypes());
  await driver.fake(null, 'setStorageDown', [location, true]);
  assert.equal(driver.storageUp(location), false);
  await assert.rejects(driver.consoleOutput(HOST, 'x'), HostUnavailable);
});
