import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';

let cloud: TestCloud;
let imageId: string;
before(async () => {
  cloud = await startCloud();
  imageId = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
});
after(async () => cloud.close());

const admin = () => cloud.adminToken;
const boot = async (name: string, metadata: Record<string, string> = {}) => {
  const res = await cloud.req('POST', '/compute/v2.1/servers', { token: admin(), body: { server: { name, imageRef: imageId, flavorRef: '1', metadata } } });
  assert.equal(res.status, 202, res.text);
  return res.body.server.id as string;
};
const show = async (id: string) => (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: admin() })).body.server;
const cleanup = async (ids: string[]) => {
  for (const id of ids) await cloud.req('DELETE', `/compute/v2.1/servers/${id}`, { token: admin() });
  await cloud.services.runner.idle();
};

test('the next N builds whose name matches fail with the given fault, then builds succeed again', async () => {
  const res = await cloud.req('POST', '/nimbus/v1/behaviours', { token: admin(), body: { behaviour: { match: { name: '^flaky-' }, count: 2, fault: { message: 'Injected spawn failure', code: 500 } } } });
  assert.equal(res.status, 201);
  const ids = [await boot('flaky-1'), await boot('steady-1'), await boot('flaky-2'), await boot('flaky-3')];
  await cloud.services.runner.idle();
  const [a, b, c, d] = await Promise.all(ids.map(show));
  assert.equal(a.status, 'ERROR');
  assert.equal(a.fault.message, 'Injected spawn failure');
  assert.equal(b.status, 'ACTIVE');
  assert.equal(c.status, 'ERROR');
  assert.equal(d.status, 'ACTIVE', 'the behaviour was used up');
  assert.deepEqual((await cloud.req('GET', '/nimbus/v1/behaviours', { token: admin() })).body.behaviours, []);
  await cleanup(ids);
});

test('a behaviour matching metadata makes the build take the given time', async () => {
  await cloud.req('POST', '/nimbus/v1/behaviours', { token: admin(), body: { behaviour: { match: { metadata: { slow: 'yes' } }, count: 1, build_ms: 300 } } });
  const id = await boot('slow', { slow: 'yes' });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal((await show(id)).status, 'BUILD');
  await cloud.services.runner.idle();
  assert.equal((await show(id)).status, 'ACTIVE');
  await cleanup([id]);
});

test('a server can go ACTIVE and then ERROR when the clock passes the delay', async () => {
  await cloud.req('POST', '/nimbus/v1/behaviours', { token: admin(), body: { behaviour: { match: { name: '^doomed$' }, count: 1, error_after_ms: 600000, fault: { message: 'Host lost power' } } } });
  const id = await boot('doomed');
  await cloud.services.runner.idle();
  assert.equal((await show(id)).status, 'ACTIVE');
  const advanced = await cloud.req('POST', '/nimbus/v1/clock/advance', { token: admin(), body: { seconds: 601 } });
  assert.equal(advanced.status, 200);
  try {
    await cloud.services.runner.idle();
    const s = await show(id);
    assert.equal(s.status, 'ERROR');
    assert.equal(s.fault.message, 'Host lost power');
  } finally {
    cloud.clock.advance(-601 * 1000);
  }
  await cleanup([id]);
});

test('a host marked down gets no new servers, and comes back when marked up', async () => {
  const down = await cloud.req('PUT', '/nimbus/v1/hosts/fake-host-1', { token: admin(), body: { host: { state: 'down' } } });
  assert.equal(down.status, 200);
  assert.equal(down.body.host.state, 'down');
  const ids = [await boot('a'), await boot('b'), await boot('c')];
  await cloud.services.runner.idle();
  const hosts = (await Promise.all(ids.map(show))).map((s) => s['OS-EXT-SRV-ATTR:host']);
  assert.ok(!hosts.includes('fake-host-1'));
  const up = await cloud.req('PUT', '/nimbus/v1/hosts/fake-host-1', { token: admin(), body: { host: { state: 'up' } } });
  assert.equal(up.body.host.state, 'up');
  await cleanup(ids);
});

test('the control API is admin only and validates its input', async () => {
  assert.equal((await cloud.req('GET', '/nimbus/v1/behaviours', { token: cloud.demoToken })).status, 403);
  assert.equal((await cloud.req('POST', '/nimbus/v1/clock/advance', { token: cloud.demoToken, body: { seconds: 5 } })).status, 403);
  assert.equal((await cloud.req('GET', '/nimbus/v1/clock')).status, 401);
  const bad = await cloud.req('POST', '/nimbus/v1/behaviours', { token: admin(), body: { behaviour: { count: 0 } } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /count/);
  const badHost = await cloud.req('PUT', '/nimbus/v1/hosts/nope', { token: admin(), body: { host: { state: 'down' } } });
  assert.equal(badHost.status, 404);
  const badState = await cloud.req('PUT', '/nimbus/v1/hosts/fake-host-1', { token: admin(), body: { host: { state: 'sideways' } } });
  assert.equal(badState.status, 400);
});

test('advancing the clock by more than it can hold (1e300 seconds) is a 400 and leaves the clock and tokens working', async () => {
  const before = (await cloud.req('GET', '/nimbus/v1/clock', { token: admin() })).body.clock.offset_seconds;
  for (const seconds of [1e300, 1e15]) {
    const res = await cloud.req('POST', '/nimbus/v1/clock/advance', { token: admin(), body: { seconds } });
    assert.equal(res.status, 400, res.text);
    assert.match(res.body.error.message, /seconds/);
  }
  const clock = await cloud.req('GET', '/nimbus/v1/clock', { token: admin() });
  assert.equal(clock.status, 200, 'the admin token still works');
  assert.equal(clock.body.clock.offset_seconds, before);
  await cloud.token('admin', 'admin-secret-pw', 'admin');
});

test('a behaviour integer past an integer column (error_after_ms 2147483648) is a 400 naming it', async () => {
  const res = await cloud.req('POST', '/nimbus/v1/behaviours', { token: admin(), body: { behaviour: { count: 1, error_after_ms: 2147483648 } } });
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.error.message, "Invalid input for field 'error_after_ms': 2147483648 is greater than the maximum of 2147483647");
});
