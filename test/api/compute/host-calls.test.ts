/**
 * An API node that runs no host: its driver is a RemoteDriver that calls the compute
 * process of each server's host over the host endpoint. Here the "compute process" is the
 * test cloud (its fake driver, its tasks) serving its endpoint, and the API node is a second
 * app on the same database whose only driver is the remote one.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startCloud, freePort, request, type TestCloud } from '../../support.js';
import { buildApp } from '../../../src/app.js';
import { remoteDriverFor, startHostEndpoint, type RemoteHosts } from '../../../src/compute/host-calls.js';
import type { HostEndpoint } from '../../../src/virt/remote/endpoint.js';
import { connect } from 'node:net';
import { openWebSocket } from '../console/ws-client.js';
import { act, runningServer } from '../cloudsigma/cs.js';
import { bootServer } from './server-fixtures.js';
import { PowerState } from '../../../src/compute/states.js';
import type { FakeDriver } from '../../../src/virt/fake/driver.js';

let cloud: TestCloud;
let endpoint: HostEndpoint;
let remote: RemoteHosts;
let api: FastifyInstance;
let apiUrl: string;

before(async () => {
  cloud = await startCloud();
  endpoint = await startHostEndpoint(cloud.services, { host: '127.0.0.1', port: 0 });
  remote = await remoteDriverFor(cloud.services.db, cloud.clock, { refreshMs: 60_000 });
  api = await buildApp({ ...cloud.services, driver: remote.driver });
  const port = await freePort();
  await api.listen({ host: '127.0.0.1', port });
  apiUrl = `http://127.0.0.1:${port}`;
});
after(async () => {
  remote.stop();
  await api.close();
  await endpoint.close();
  await cloud.close();
});

const onApi = (method: string, path: string, body?: unknown, version?: string) => request(apiUrl, method, path, { token: cloud.adminToken, body, version });
const hostOf = async (id: string) => (await cloud.services.db.selectFrom('servers').select('host').where('id', '=', id).executeTakeFirstOrThrow()).host!;

test("an API node gets a server's console output from its host's compute process", async () => {
  const id = await bootServer(cloud, cloud.adminToken, { name: 'far-away' });
  const res = await onApi('POST', `/compute/v2.1/servers/${id}/action`, { 'os-getConsoleOutput': { length: 1 } });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, { output: 'far-away login: ' });
});

test("an API node's serial console websocket reaches the guest on its host", async () => {
  const id = await bootServer(cloud, cloud.adminToken, { name: 'serial-far' });
  const made = await onApi('POST', `/compute/v2.1/servers/${id}/remote-consoles`, { remote_console: { protocol: 'serial', type: 'serial' } }, '2.6');
  assert.equal(made.status, 200, made.text);
  const ws = await openWebSocket(apiUrl, `/console/websockify?token=${new URL(made.body.remote_console.url).searchParams.get('token')}`);
  assert.equal(ws.status, 101);
  ws.send('root');
  assert.equal((await ws.next())?.toString(), 'root');
  ws.send('\r');
  assert.match((await ws.next())!.toString(), /serial-far login: $/);
  ws.close();
});

test("an API node's diagnostics of a server name the hosts' driver", async () => {
  const id = await bootServer(cloud, cloud.adminToken, { name: 'diagnosed' });
  const res = await onApi('GET', `/compute/v2.1/servers/${id}/diagnostics`, undefined, '2.48');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.hypervisor, 'fake');
});

test("an API node's hypervisors are the hosts registered in the database", async () => {
  const res = await onApi('GET', '/compute/v2.1/os-hypervisors/detail');
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body.hypervisors.map((h: { hypervisor_hostname: string }) => h.hypervisor_hostname), cloud.services.driver.hosts().map((h) => h.name));
});

test('console output of a server whose host is down (no heartbeat) is a 409: its compute service is unavailable', async () => {
  const id = await bootServer(cloud, cloud.adminToken, { name: 'host-down' });
  const host = await hostOf(id);
  await cloud.services.hosts.setDown(host, true);
  try {
    const res = await onApi('POST', `/compute/v2.1/servers/${id}/action`, { 'os-getConsoleOutput': {} });
    assert.equal(res.status, 409, res.text);
    assert.deepEqual(res.body, { conflictingRequest: { code: 409, message: `Compute service of ${host} is unavailable at this time.` } });
  } finally {
    await cloud.services.hosts.setDown(host, false);
  }
});

test("changePassword of a server whose host's process is gone is a 409, not the agent's 501", async () => {
  const id = await bootServer(cloud, cloud.adminToken, { name: 'host-gone' });
  const host = await hostOf(id);
  const saved = await cloud.services.db.selectFrom('host_endpoints').select('url').where('host', '=', host).executeTakeFirstOrThrow();
  const gone = await freePort(); // nothing listens there
  await cloud.services.db.updateTable('host_endpoints').set({ url: `http://127.0.0.1:${gone}` }).where('host', '=', host).execute();
  try {
    const res = await onApi('POST', `/compute/v2.1/servers/${id}/action`, { changePassword: { adminPass: 'new-Passw0rd' } });
    assert.equal(res.status, 409, res.text);
    assert.equal(res.body.conflictingRequest.message, `Compute service of ${host} is unavailable at this time.`);
  } finally {
    await cloud.services.db.updateTable('host_endpoints').set(saved).where('host', '=', host).execute();
  }
});

test('no API answer shows a host endpoint secret', async () => {
  const secrets = (await cloud.services.db.selectFrom('host_endpoints').select('secret').execute()).map((r) => r.secret);
  assert.ok(secrets.length > 0);
  for (const path of ['/compute/v2.1/os-hypervisors/detail', '/compute/v2.1/os-services', '/nimbus/v1/hosts']) {
    const res = await onApi('GET', path);
    assert.equal(res.status, 200, `${path}: ${res.text}`);
    for (const s of secrets) assert.ok(!res.text.includes(s), path);
  }
});

test("the API node's control API makes a guest of a compute host's fake ignore ACPI", async () => {
  const id = await bootServer(cloud, cloud.adminToken, { name: 'stubborn' });
  const host = await hostOf(id);
  const res = await onApi('PUT', `/nimbus/v1/guests/${id}`, { guest: { acpi: 'ignore' } });
  assert.equal(res.status, 200, res.text);
  await cloud.services.driver.acpiShutdown(host, id);
  assert.equal(await cloud.services.driver.powerState(host, id), PowerState.RUNNING);
});

test("the API node's control API takes a compute host's fake storage pool down, and knows no other pool", async () => {
  const fake = cloud.services.driver as FakeDriver;
  const res = await onApi('PUT', '/nimbus/v1/storage/fake-storage-2', { storage: { state: 'down' } });
  assert.equal(res.status, 200, res.text);
  assert.equal(fake.storageUp('fake-storage-2'), false);
  await onApi('PUT', '/nimbus/v1/storage/fake-storage-2', { storage: { state: 'up' } });
  assert.equal(fake.storageUp('fake-storage-2'), true);
  assert.equal((await onApi('PUT', '/nimbus/v1/storage/no-such-pool', { storage: { state: 'down' } })).status, 404);
});

test("a CloudSigma serial tunnel opened on the API node reaches the guest on its host", async () => {
  const s = await runningServer(cloud, { vnc_password: 'tunnel-secret', name: 'tunnelled' });
  const res = await act({ ...cloud, url: apiUrl }, s.uuid, 'open_console');
  assert.equal(res.status, 202, res.text);
  const { hostname, port } = new URL(res.body.console_url.replace(/^csconsole:/, 'http:'));
  const socket = connect(Number(port), hostname);
  let got = '';
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (d) => {
      got += d.toString('latin1');
      if (got.endsWith('Password: ')) socket.write('tunnel-secret\r\n\r');
      if (/login: $/.test(got)) resolve();
    });
  });
  socket.destroy();
  assert.match(got, /tunnelled login: $/);
  await act({ ...cloud, url: apiUrl }, s.uuid, 'close_console');
});

test("a CloudSigma serial tunnel on the API node to a host whose process is gone says the console is not available", async () => {
  const s = await runningServer(cloud, { vnc_password: 'tunnel-secret', name: 'orphaned' });
  const host = await hostOf(s.uuid);
  const saved = await cloud.services.db.selectFrom('host_endpoints').select('url').where('host', '=', host).executeTakeFirstOrThrow();
  await cloud.services.db.updateTable('host_endpoints').set({ url: `http://127.0.0.1:${await freePort()}` }).where('host', '=', host).execute();
  try {
    const res = await act({ ...cloud, url: apiUrl }, s.uuid, 'open_console');
    assert.equal(res.status, 202, res.text);
    const { hostname, port } = new URL(res.body.console_url.replace(/^csconsole:/, 'http:'));
    const socket = connect(Number(port), hostname);
    let got = '';
    await new Promise<void>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('data', (d) => {
        got += d.toString('latin1');
        if (got.endsWith('Password: ')) socket.write('tunnel-secret\r\n');
      });
      socket.on('close', () => resolve());
    });
    assert.match(got, /The console is not available\r\n$/);
    await act({ ...cloud, url: apiUrl }, s.uuid, 'close_console');
  } finally {
    await cloud.services.db.updateTable('host_endpoints').set(saved).where('host', '=', host).execute();
  }
});
