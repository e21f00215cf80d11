/**
 * Live migration of a real machine between two compute hosts on one machine: a `nimbus api`,
 * a `nimbus conductor` and two `nimbus compute --driver qemu` processes on a private
 * PostgreSQL, each with a data directory of its own and (as root) a network namespace of its
 * own, so the migration stream goes from one namespace's QEMU to the other's address. One
 * tiny guest (128 MiB) goes there, keeps its boot, and is then refused a way back; last, its
 * host is killed, the server evacuated back, and the host on its return destroys the machine
 * that ran on without it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCluster, type Cluster, type ClusterNode } from './harness.js';
import { postgresAvailable } from './postgres.js';
import { killQemusUnder, qemuMissing, qemuProcessesUnder } from '../virt/qemu-support.js';
import { openWebSocket } from '../api/console/ws-client.js';

const skip = postgresAvailable() ?? qemuMissing();
const QEMU = { NIMBUS_DRIVER: 'qemu' };
let cluster: Cluster;
let api: ClusterNode;
let hosts: { q1: ClusterNode; q2: ClusterNode };
let admin: string;
let id: string;

const call = (method: string, path: string, body?: unknown, version = '2.30') => api.req(method, `/compute/v2.1${path}`, { token: admin, body, version });
const show = async () => (await call('GET', `/servers/${id}`)).body.server;
const machines = (node: ClusterNode) => join(node.dataDir, 'machines');

/** Asks until `get` answers something, for at most `ms` (a guest boots in seconds alone, far slower on a loaded machine). */
async function until<T>(what: string, get: () => Promise<T | null | undefined>, ms = 240_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (v) return v;
    if (Date.now() > end) throw new Error(`never: ${what}`);
    await sleep(250);
  }
}

const settled = () => until('the server settles', async () => {
  const s = await show();
  if (s.status === 'ERROR') throw new Error(`server in ERROR: ${JSON.stringify(s.fault)}`);
  return s['OS-EXT-STS:task_state'] === null && s.status !== 'BUILD' ? s : null;
});

/** Types `line` on the guest's serial console (through the API node's console proxy) and returns once `answer` shows. */
async function serial(line: string, answer: RegExp): Promise<string> {
  const r = await call('POST', `/servers/${id}/remote-consoles`, { remote_console: { protocol: 'serial', type: 'serial' } }, '2.6');
  assert.equal(r.status, 200, r.text);
  const u = new URL(r.body.remote_console.url);
  const ws = await openWebSocket(api.url, u.pathname + u.search);
  assert.equal(ws.status, 101);
  try {
    ws.send(`${line}\r`);
    let seen = '';
    const deadline = sleep(120_000).then(() => 'timeout' as const);
    while (!answer.test(seen)) {
      const m = await Promise.race([ws.next(), deadline]);
      assert.ok(m !== 'timeout', `the console never showed ${answer}; it showed: ${seen}`);
      assert.ok(m, `the console closed; it showed: ${seen}`);
      seen += m.toString();
    }
    return seen;
  } finally {
    ws.close();
  }
}

async function migrationsOf(): Promise<{ status: string; source_compute: string; dest_compute: string }[]> {
  const r = await call('GET', `/os-migrations?instance_uuid=${id}&migration_type=live-migration`, undefined, '2.23');
  assert.equal(r.status, 200, r.text);
  return r.body.migrations.sort((a: { id: number }, b: { id: number }) => a.id - b.id);
}

async function lastEvent(): Promise<{ event: string; result: string }> {
  const actions = (await call('GET', `/servers/${id}/os-instance-actions`)).body.instanceActions;
  const live = actions.find((a: { action: string }) => a.action === 'live-migration');
  const detail = await call('GET', `/servers/${id}/os-instance-actions/${live.request_id}`, undefined, '2.51');
  return detail.body.instanceAction.events[0];
}

before(async () => {
  if (skip) return;
  cluster = await startCluster();
  await cluster.migrate(QEMU);
  const [q1, q2] = await Promise.all([
    cluster.start({ name: 'q1', role: 'compute', host: 'q1', env: QEMU }),
    cluster.start({ name: 'q2', role: 'compute', host: 'q2', env: QEMU }),
  ]);
  hosts = { q1, q2 };
  // After the hosts: an API node reads the storage the hosts offer at its start (then every 5 s).
  [api] = await Promise.all([cluster.start({ name: 'api1', role: 'api', env: QEMU }), cluster.start({ name: 'conductor1', role: 'conductor', env: QEMU })]);
  // Machines outlive their compute process by design: none may outlive the test.
  process.once('exit', () => Object.values(hosts).forEach((h) => killQemusUnder(h.dataDir)));
  admin = await cluster.token('admin', 'api1');
  const image = (await api.req('GET', '/image/v2/images?name=nimbus-tiny', { token: admin })).body.images[0].id;
  const flavor = await call('POST', '/flavors', { flavor: { name: 'lm.nano', ram: 128, vcpus: 1, disk: 1 } });
  assert.equal(flavor.status, 200, flavor.text);
  const r = await call('POST', '/servers', { server: { name: 'traveller', imageRef: image, flavorRef: flavor.body.flavor.id, availability_zone: 'nova:q1', networks: 'none' } }, '2.37');
  assert.equal(r.status, 202, r.text);
  id = r.body.server.id;
  const s = await settled();
  assert.equal(s.status, 'ACTIVE');
  await until('the guest is ready', async () => {
    const out = await call('POST', `/servers/${id}/action`, { 'os-getConsoleOutput': { length: null } });
    return out.status === 200 && /nimbus-tiny-guest: ready/.test(out.body.output);
  });
});

after(async () => {
  if (!cluster) return;
  for (const h of Object.values(hosts ?? {})) killQemusUnder(h.dataDir);
  await cluster.close();
});

const mark = `went-along-${randomBytes(4).toString('hex')}`;
let pid = 0;

test('a live migration moves a running machine to the other host: the same boot goes on there, under its data directory, and the migration is completed', { skip }, async () => {
  await serial(`export NIMBUS_MARK=${mark}; echo set-$NIMBUS_MARK`, new RegExp(`set-${mark}`));
  assert.equal(qemuProcessesUnder(machines(hosts.q1)).length, 1);
  const r = await call('POST', `/servers/${id}/action`, { 'os-migrateLive': { host: 'q2', block_migration: 'auto' } });
  assert.equal(r.status, 202, r.text);
  const s = await settled();
  assert.deepEqual([s.status, s['OS-EXT-SRV-ATTR:host'], s.fault], ['ACTIVE', 'q2', undefined]);
  const there = qemuProcessesUnder(machines(hosts.q2));
  assert.equal(there.length, 1, 'one QEMU under the destination');
  assert.deepEqual(qemuProcessesUnder(machines(hosts.q1)), [], 'none left under the source');
  assert.ok(!existsSync(join(machines(hosts.q1), id)), "the source's files are removed");
  pid = there[0];
  // Not a reboot: the shell the value was set in is the one that answers.
  await serial('echo got-$NIMBUS_MARK', new RegExp(`got-${mark}`));
  assert.deepEqual((await migrationsOf()).map((m) => [m.status, m.source_compute, m.dest_compute]), [['completed', 'q1', 'q2']]);
  const event = await lastEvent();
  assert.deepEqual([event.event, event.result], ['compute_live_migration', 'Success']);
});

test('a live migration the destination refuses (a folder of the guest it did not make) leaves the machine running where it was', { skip }, async () => {
  // As Nova's libvirt driver refuses a destination whose instance directory exists.
  mkdirSync(join(machines(hosts.q1), id), { recursive: true });
  const r = await call('POST', `/servers/${id}/action`, { 'os-migrateLive': { host: 'q1', block_migration: 'auto' } });
  assert.equal(r.status, 202, r.text);
  const s = await settled();
  assert.deepEqual([s.status, s['OS-EXT-SRV-ATTR:host']], ['ACTIVE', 'q2']);
  assert.deepEqual(qemuProcessesUnder(machines(hosts.q2)), [pid], 'the same QEMU runs on');
  assert.deepEqual(qemuProcessesUnder(machines(hosts.q1)), []);
  assert.ok(existsSync(join(machines(hosts.q1), id)), 'the rollback removes only what the destination made');
  assert.equal((await migrationsOf()).at(-1)!.status, 'error');
  const event = await lastEvent();
  assert.deepEqual([event.event, event.result], ['compute_live_migration', 'Error']);
  assert.equal(s['OS-EXT-STS:power_state'], 1);
});

/** Whether a process lives (a signal 0 reaches it). */
function alive(pidOf: number): boolean {
  try {
    process.kill(pidOf, 0);
    return true;
  } catch {
    return false;
  }
}

test('a compute host that comes back after its server was evacuated destroys the machine it kept running while away, and does not start it again', { skip }, async () => {
  const from = (await show())['OS-EXT-SRV-ATTR:host'] as 'q1' | 'q2';
  const to = from === 'q1' ? 'q2' : 'q1';
  const [old] = qemuProcessesUnder(machines(hosts[from]));
  assert.ok(old, `a QEMU runs under ${from}`);
  await cluster.kill(from);
  // Machines outlive their compute process by design.
  assert.deepEqual(qemuProcessesUnder(machines(hosts[from])), [old], 'the QEMU outlives its compute process');
  // Down at once (forced), rather than after service_down_time without a heartbeat.
  const service = (await call('GET', `/os-services?binary=nova-compute&host=${from}`, undefined, '2.53')).body.services[0];
  const force = async (down: boolean) => assert.equal((await call('PUT', `/os-services/${service.id}`, { forced_down: down }, '2.53')).status, 200);
  await force(true);
  const r = await call('POST', `/servers/${id}/action`, { evacuate: { host: to } }, '2.29');
  assert.equal(r.status, 200, r.text);
  const s = await settled();
  assert.deepEqual([s.status, s['OS-EXT-SRV-ATTR:host']], ['ACTIVE', to]);
  const [now] = qemuProcessesUnder(machines(hosts[to]));
  assert.ok(now, `a QEMU runs under ${to}`);
  await until('the guest boots on the host it was evacuated to', async () => {
    const out = await call('POST', `/servers/${id}/action`, { 'os-getConsoleOutput': { length: null } });
    return out.status === 200 && /nimbus-tiny-guest: ready/.test(out.body.output);
  });
  assert.ok(alive(old), 'while its host is away, the old machine runs on');

  hosts[from] = await cluster.restart(from);
  await force(false);
  await until(`the QEMU left under ${from} destroyed`, async () => !alive(old) && qemuProcessesUnder(machines(hosts[from])).length === 0, 60_000);
  assert.ok(!existsSync(join(machines(hosts[from]), id)), 'its files are removed');
  // Back up (its heartbeat seen): its start, reconcile included, is behind it.
  await until(`${from} up again`, async () => (await call('GET', `/os-services?binary=nova-compute&host=${from}`, undefined, '2.53')).body.services[0].state === 'up');
  const later = await show();
  assert.deepEqual([later.status, later['OS-EXT-SRV-ATTR:host'], later['OS-EXT-STS:power_state']], ['ACTIVE', to, 1]);
  assert.deepEqual(qemuProcessesUnder(machines(hosts[to])), [now], 'the evacuated machine runs on');
  assert.deepEqual(qemuProcessesUnder(machines(hosts[from])), [], `${from} does not start the server again`);
});
