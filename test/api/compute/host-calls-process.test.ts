/**
 * Host calls across processes: an API node in this process, with no host of its own (its
 * driver is the remote one), and a compute host's process beside it on the same database,
 * running the server's guest. Console output, diagnostics and the serial console reach the
 * guest in the other process; once that process is gone, the calls are Nova's 409 at once.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ADMIN_PASSWORD, DEMO_PASSWORD, freePort, freshDatabase, passwordToken, request } from '../../support.js';
import { loadConfig } from '../../../src/config.js';
import { createServices, closeServices, type Services } from '../../../src/services.js';
import { buildApp } from '../../../src/app.js';
import { seed } from '../../../src/bootstrap.js';
import { remoteDriverFor, type RemoteHosts } from '../../../src/compute/host-calls.js';
import { openWebSocket } from '../console/ws-client.js';

let services: Services;
let remote: RemoteHosts;
let api: FastifyInstance;
let url: string;
let token: string;
let compute: ChildProcess;
let drop: () => Promise<void>;
const dirs: string[] = [];

before(async () => {
  const database = await freshDatabase();
  drop = database.drop;
  const apiDir = mkdtempSync(join(tmpdir(), 'nimbus-api-'));
  const hostDir = mkdtempSync(join(tmpdir(), 'nimbus-host-'));
  dirs.push(apiDir, hostDir);
  const databaseUrl = database.url ?? `sqlite:${join(apiDir, 'nimbus.db')}`;
  const port = await freePort();
  services = await createServices(
    loadConfig({ env: {}, overrides: { listen: `127.0.0.1:${port}`, dataDir: apiDir, databaseUrl, logLevel: 'silent', adminPassword: ADMIN_PASSWORD, demoPassword: DEMO_PASSWORD } }),
  );
  await seed(services);

  const root = new URL('../../../..', import.meta.url).pathname; // dist/test/api/compute → project root
  compute = spawn(process.execPath, [join(root, 'dist/test/api/compute/host-process.js')], {
    env: { ...process.env, NIMBUS_DATABASE_URL: databaseUrl, NIMBUS_DATA_DIR: hostDir, NIMBUS_FAKE_HOSTS: '1', NIMBUS_FAKE_BUSY_WINDOW_MS: '0', NIMBUS_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  compute.stderr!.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    compute.stdout!.on('data', (d) => ((out += d), out.includes('host endpoint ') && resolve()));
    compute.once('exit', (code) => reject(new Error(`the compute process exited with ${code}:\n${out}`)));
  });

  remote = await remoteDriverFor(services.db, services.clock, { refreshMs: 60_000 });
  services.driver = remote.driver; // the API node runs no host
  api = await buildApp(services);
  await api.listen({ host: '127.0.0.1', port });
  url = `http://127.0.0.1:${port}`;
  token = (await passwordToken(url, 'admin', ADMIN_PASSWORD, 'admin')).token;
});

after(async () => {
  remote?.stop();
  await api?.close();
  if (compute && compute.exitCode === null && compute.signalCode === null) {
    const exited = new Promise((r) => compute.once('exit', r));
    compute.kill('SIGTERM');
    await exited;
  }
  await closeServices(services);
  await drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const call = (method: string, path: string, body?: unknown, version?: string) => request(url, method, path, { token, body, version });

/** A server built by the compute process (its runner takes the task), ACTIVE. */
async function activeServer(name: string): Promise<string> {
  const image = await services.db.selectFrom('images').select('id').executeTakeFirstOrThrow();
  const res = await call('POST', '/compute/v2.1/servers', { server: { name, imageRef: image.id, flavorRef: '1', networks: 'none' } }, '2.37');
  assert.equal(res.status, 202, res.text);
  for (;;) {
    const got = await call('GET', `/compute/v2.1/servers/${res.body.server.id}`);
    if (got.body.server.status === 'ACTIVE') return res.body.server.id;
    assert.equal(got.body.server.status, 'BUILD', got.text);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('the API node answers console output from the guest in the compute process', async () => {
  const id = await activeServer('elsewhere');
  const res = await call('POST', `/compute/v2.1/servers/${id}/action`, { 'os-getConsoleOutput': { length: 1 } });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, { output: 'elsewhere login: ' });
});

test("the API node's serial console websocket reaches the guest in the compute process", async () => {
  const id = await activeServer('serial-elsewhere');
  const made = await call('POST', `/compute/v2.1/servers/${id}/remote-consoles`, { remote_console: { protocol: 'serial', type: 'serial' } }, '2.6');
  assert.equal(made.status, 200, made.text);
  const ws = await openWebSocket(url, `/console/websockify?token=${new URL(made.body.remote_console.url).searchParams.get('token')}`);
  assert.equal(ws.status, 101);
  ws.send('\r');
  assert.match((await ws.next())!.toString(), /serial-elsewhere login: $/);
  ws.close();
});

test('the API node answers diagnostics of a server on the compute host', async () => {
  const id = await activeServer('diagnosed-elsewhere');
  const res = await call('GET', `/compute/v2.1/servers/${id}/diagnostics`, undefined, '2.48');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.state, 'running');
});

test('once the compute process is gone, console output is a 409 naming its host, at once', async () => {
  const id = await activeServer('orphan');
  const exited = new Promise((r) => compute.once('exit', r));
  compute.kill('SIGKILL');
  await exited;
  const res = await call('POST', `/compute/v2.1/servers/${id}/action`, { 'os-getConsoleOutput': {} });
  assert.equal(res.status, 409, res.text);
  assert.equal(res.body.conflictingRequest.message, 'Compute service of fake-host-1 is unavailable at this time.');
});
