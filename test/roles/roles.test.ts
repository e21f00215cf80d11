/**
 * The roles as separate processes of the built CLI on one PostgreSQL database, on loopback:
 * `nimbus migrate`, one `nimbus api`, a `nimbus conductor` and `nimbus compute --host` processes
 * (fake driver). Work goes api → conductor → the compute of its host through task rows;
 * what dies (a compute, a conductor) is resolved by the others. The runners poll once a
 * minute here, so work that starts at once was woken by PostgreSQL's NOTIFY.
 * (The fuller cluster — network namespaces, a private PostgreSQL, two API nodes — is test/cluster/.)
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ADMIN_PASSWORD, DEMO_PASSWORD, PG_URL, freePort, freshDatabase, passwordToken, request } from '../support.js';
import { RemoteDriver } from '../../src/virt/remote/driver.js';

const ROOT = new URL('../../..', import.meta.url).pathname; // dist/test/roles → project root
const skip = PG_URL ? false : 'the roles share a PostgreSQL database (set NIMBUS_TEST_DATABASE_URL)';

interface Proc {
  name: string;
  child: ChildProcess;
  output: () => string;
  kill: (signal?: NodeJS.Signals) => Promise<void>;
}

const procs: Proc[] = [];
const dirs: string[] = [];

/** Starts `node dist/src/cli.js …args`, resolving when it prints `ready`, or rejecting with its output. */
function run(name: string, args: string[], env: Record<string, string>, ready: RegExp | null): Promise<{ code: number | null; proc: Proc }> {
  const dataDir = mkdtempSync(join(tmpdir(), `nimbus-role-${name}-`));
  dirs.push(dataDir);
  const child = spawn(process.execPath, [join(ROOT, 'dist/src/cli.js'), ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      NIMBUS_DATA_DIR: dataDir,
      NIMBUS_LOG_LEVEL: 'warn',
      NIMBUS_ADMIN_PASSWORD: ADMIN_PASSWORD,
      NIMBUS_DEMO_PASSWORD: DEMO_PASSWORD,
      NIMBUS_FAKE_BUSY_WINDOW_MS: '0',
      NIMBUS_TASK_LEASE_SECONDS: '2',
      NIMBUS_SERVICE_DOWN_TIME: '3',
      NIMBUS_TASK_POLL_MS: '60000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const proc: Proc = {
    name,
    child,
    output: () => out,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await exited;
    },
  };
  procs.push(proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${out}`)), 60000); // a loaded machine starts a process slowly
    child.stdout!.on('data', () => {
      if (ready && ready.test(out)) {
        clearTimeout(timer);
        resolve({ code: null, proc });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (ready) reject(new Error(`${name} exited with ${code}:\n${out}`));
      else resolve({ code, proc });
    });
  });
}

let dbUrl = '';
let drop = async () => {};
let api = '';
let token = '';
let imageId = '';
const hosts = ['h1', 'h2', 'h3'];
const computes = new Map<string, Proc>();
let conductor: Proc;

const startCompute = async (host: string, env: Record<string, string> = {}) => {
  const { proc } = await run(`compute-${host}`, ['compute', '--host', host], { NIMBUS_DATABASE_URL: dbUrl, NIMBUS_HOST_PORT: '0', ...env }, /is running/);
  computes.set(host, proc);
};
const startConductor = async (name: string) => (await run(name, ['conductor', '--host', name], { NIMBUS_DATABASE_URL: dbUrl }, /is running/)).proc;

const call = (method: string, path: string, body?: unknown, version = '2.37') => request(api, method, `/compute/v2.1${path}`, { token, body, version });

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 20000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last as T;
    await sleep(100);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(last)})\n${procs.map((p) => `--- ${p.name}\n${p.output().slice(-2000)}`).join('\n')}`);
}

async function create(name: string, extra: Record<string, unknown> = {}, hints?: Record<string, unknown>): Promise<string> {
  const r = await call('POST', '/servers', { server: { name, imageRef: imageId, flavorRef: '1', networks: 'none', ...extra }, ...(hints ? { 'os:scheduler_hints': hints } : {}) });
  assert.equal(r.status, 202, r.text);
  return r.body.server.id;
}

const show = async (id: string) => (await call('GET', `/servers/${id}`)).body.server;
const settled = (id: string, status: string) =>
  until(`server ${id} ${status}`, async () => {
    const s = await show(id);
    return s.status === status && !s['OS-EXT-STS:task_state'] ? s : null;
  });

before(async () => {
  if (skip) return;
  const db = await freshDatabase();
  dbUrl = db.url!;
  drop = db.drop;
  const { code, proc } = await run('migrate', ['migrate'], { NIMBUS_DATABASE_URL: dbUrl }, null);
  assert.equal(code, 0, proc.output());
  const port = await freePort();
  await Promise.all([
    run('api', ['api'], { NIMBUS_DATABASE_URL: dbUrl, NIMBUS_LISTEN: `127.0.0.1:${port}` }, /listening/),
    startConductor('conductor-a').then((p) => (conductor = p)),
    ...hosts.map((h) => startCompute(h)),
  ]);
  api = `http://127.0.0.1:${port}`;
  token = (await passwordToken(api, 'admin', ADMIN_PASSWORD, 'admin')).token;
  imageId = (await request(api, 'GET', '/image/v2/images', { token })).body.images[0].id;
});

after(async () => {
  await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  await drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('nimbus api refuses a database nimbus migrate has not made, naming the command', { skip }, async () => {
  const empty = await freshDatabase();
  try {
    const { code, proc } = await run('api-empty', ['api'], { NIMBUS_DATABASE_URL: empty.url!, NIMBUS_LISTEN: `127.0.0.1:${await freePort()}` }, null);
    assert.equal(code, 1);
    assert.match(proc.output(), /schema is older than this Nimbus .*run "nimbus migrate"/);
  } finally {
    await empty.drop();
  }
});

test('nimbus api refuses an older schema: one migration not run', { skip }, async () => {
  // The cluster's database with one migration taken back (and given back after).
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  try {
    const row = (await c.query(`delete from kysely_migration where name = '030_task_hosts' returning timestamp`)).rows[0];
    try {
      const { code, proc } = await run('api-old', ['api'], { NIMBUS_DATABASE_URL: dbUrl, NIMBUS_LISTEN: `127.0.0.1:${await freePort()}` }, null);
      assert.equal(code, 1);
      assert.match(proc.output(), /1 migration not run, from 030_task_hosts\): run "nimbus migrate"/);
    } finally {
      await c.query(`insert into kysely_migration (name, timestamp) values ('030_task_hosts', $1)`, [row.timestamp]);
    }
  } finally {
    await c.end();
  }
});

test('a build goes from the api through the conductor to a compute host and reaches ACTIVE there', { skip }, async () => {
  const id = await create('one');
  const server = await settled(id, 'ACTIVE');
  assert.ok(hosts.includes(server['OS-EXT-SRV-ATTR:host']), server['OS-EXT-SRV-ATTR:host']);
  const actions = await call('GET', `/servers/${id}/os-instance-actions`);
  const events = (await call('GET', `/servers/${id}/os-instance-actions/${actions.body.instanceActions[0].request_id}`, undefined, '2.51')).body.instanceAction.events;
  assert.deepEqual(events.map((e: { result: string }) => e.result), ['Success']);
});

test('wake-up connections PostgreSQL drops are opened again: work still starts at once, not at the next poll', { skip }, async () => {
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  try {
    const r = await c.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query ilike 'listen %'`);
    assert.ok(r.rowCount! >= 4, `the conductor's and the computes' listeners (${r.rowCount})`);
  } finally {
    await c.end();
  }
  const server = await settled(await create('after-the-cut'), 'ACTIVE');
  assert.ok(hosts.includes(server['OS-EXT-SRV-ATTR:host']));
});

test('/os-services shows each compute host and the conductor process up from their heartbeats', { skip }, async () => {
  const services = (await call('GET', '/os-services')).body.services as { binary: string; host: string; state: string }[];
  for (const h of hosts) assert.ok(services.some((s) => s.binary === 'nova-compute' && s.host === h && s.state === 'up'), h);
  assert.ok(services.some((s) => s.binary === 'nova-conductor' && s.host === 'conductor-a' && s.state === 'up'));
  assert.ok(services.some((s) => s.binary === 'nova-scheduler' && s.host === 'conductor-a' && s.state === 'up'));
});

test('an anti-affinity group spreads its servers over the three compute processes', { skip }, async () => {
  const group = await call('POST', '/os-server-groups', { server_group: { name: 'spread', policies: ['anti-affinity'] } }, '2.1');
  assert.equal(group.status, 200, group.text);
  const ids = await Promise.all(['a1', 'a2', 'a3'].map((n) => create(n, {}, { group: group.body.server_group.id })));
  const placed = await Promise.all(ids.map((id) => settled(id, 'ACTIVE')));
  assert.deepEqual(placed.map((s) => s['OS-EXT-SRV-ATTR:host']).sort(), hosts);
});

test('a live migration moves a server from one compute process to another, which then runs it', { skip }, async () => {
  const id = await create('mover', { availability_zone: 'nova:h1' });
  await settled(id, 'ACTIVE');
  const r = await call('POST', `/servers/${id}/action`, { 'os-migrateLive': { host: 'h2', block_migration: 'auto' } }, '2.30');
  assert.equal(r.status, 202, r.text);
  const moved = await until('live migrated to h2', async () => {
    const s = await show(id);
    return s['OS-EXT-SRV-ATTR:host'] === 'h2' && s.status === 'ACTIVE' ? s : null;
  });
  assert.equal(moved['OS-EXT-STS:task_state'], null);
  // h2's process has the guest: a reboot there (which needs it) succeeds.
  assert.equal((await call('POST', `/servers/${id}/action`, { reboot: { type: 'HARD' } })).status, 202);
  const after = await settled(id, 'ACTIVE');
  assert.equal(after.fault, undefined);
});

test('a conductor killed while a resize waits for it: another conductor takes the task and the resize finishes', { skip }, async () => {
  const id = await create('grower', { availability_zone: 'nova:h1' });
  await settled(id, 'ACTIVE');
  await conductor.kill('SIGKILL');
  const r = await call('POST', `/servers/${id}/action`, { resize: { flavorRef: '2' } });
  assert.equal(r.status, 202, r.text);
  conductor = await startConductor('conductor-b');
  const resized = await settled(id, 'VERIFY_RESIZE');
  assert.notEqual(resized['OS-EXT-SRV-ATTR:host'], 'h1');
  assert.equal((await call('POST', `/servers/${id}/action`, { confirmResize: null })).status, 204);
  const confirmed = await settled(id, 'ACTIVE');
  assert.equal(confirmed.flavor.original_name ?? confirmed.flavor.id, confirmed.flavor.original_name ? 'm1.small' : '2');
});

test('with two conductors, a drive either one made is cloned by either: the simulated storage is one, as the database records it', { skip }, async () => {
  const second = await startConductor('conductor-c');
  try {
    const auth = 'Basic ' + Buffer.from(`demo:${DEMO_PASSWORD}`).toString('base64');
    const cs = (method: string, path: string, body?: unknown) => request(api, method, `/api/2.0${path}`, { body, headers: { authorization: auth } });
    const ready = (uuid: string) =>
      until(`drive ${uuid} unmounted`, async () => {
        const d = (await cs('GET', `/drives/${uuid}/`)).body;
        return d.status === 'unmounted' ? d : null;
      });
    const made = await cs('POST', '/drives/', { objects: Array.from({ length: 4 }, (_, i) => ({ name: `shared-${i}`, size: 2 ** 30, media: 'disk' })) });
    assert.equal(made.status, 201, made.text);
    const drives = made.body.objects.map((d: { uuid: string }) => d.uuid) as string[];
    for (const uuid of drives) await ready(uuid);
    const clones = await Promise.all(drives.map((uuid) => cs('POST', `/drives/${uuid}/action/?do=clone`, {})));
    for (const c of clones) assert.equal(c.status, 202, c.text);
    for (const c of clones) assert.equal((await ready(c.body.objects[0].uuid)).size, 2 ** 30);
  } finally {
    await second.kill();
  }
});

/** The fakes of the compute processes, reached as a conductor reaches them: through their host endpoints. */
async function fakesOfHosts<T>(fn: (remote: RemoteDriver) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  try {
    const rows = (await c.query('select host, url, secret from host_endpoints')).rows as { host: string; url: string; secret: string }[];
    const remote = new RemoteDriver({ resolve: (host) => rows.find((r) => r.host === host) ?? null, hosts: () => [] });
    return await fn(remote);
  } finally {
    await c.end();
  }
}

test("a cold migration carries the guest's disk from the source's compute process to the destination's; a revert brings the source's back, a confirm removes it", { skip }, async () => {
  const id = await create('cold', { availability_zone: 'nova:h1' });
  await settled(id, 'ACTIVE');
  await fakesOfHosts(async (fakes) => {
    await fakes.fake('h1', 'writeDisk', ['h1', id, 'written-on-h1']);
    const migrate = async () => {
      assert.equal((await call('POST', `/servers/${id}/action`, { migrate: { host: 'h2' } }, '2.56')).status, 202);
      const s = await settled(id, 'VERIFY_RESIZE');
      assert.equal(s['OS-EXT-SRV-ATTR:host'], 'h2');
      assert.equal((await fakes.fake<{ data: string }>('h2', 'inside', ['h2', id])).data, 'written-on-h1');
      assert.equal(await fakes.fake('h1', 'keeps', ['h1', id]), true);
    };
    await migrate();
    await fakes.fake('h2', 'writeDisk', ['h2', id, 'written-on-h2']);
    assert.equal((await call('POST', `/servers/${id}/action`, { revertResize: null })).status, 202);
    assert.equal((await settled(id, 'ACTIVE'))['OS-EXT-SRV-ATTR:host'], 'h1');
    assert.equal((await fakes.fake<{ data: string }>('h1', 'inside', ['h1', id])).data, 'written-on-h1');
    assert.equal(await fakes.fake('h2', 'keeps', ['h2', id]), false);
    await migrate();
    assert.equal((await call('POST', `/servers/${id}/action`, { confirmResize: null })).status, 204);
    await settled(id, 'ACTIVE');
    assert.equal(await fakes.fake('h1', 'keeps', ['h1', id]), false);
  });
  // The project's instance quota is the later tests'.
  assert.equal((await call('DELETE', `/servers/${id}`)).status, 204);
  await until('the cold-migrated server deleted', async () => (await call('GET', `/servers/${id}`)).status === 404);
});

let onDeadHost = '';
let toDelete = '';

test('an action on a dead compute host fails cleanly: its event ends in error and the task state is cleared', { skip }, async () => {
  [onDeadHost, toDelete] = await Promise.all([create('stranded', { availability_zone: 'nova:h3' }), create('doomed', { availability_zone: 'nova:h3' })]);
  await Promise.all([settled(onDeadHost, 'ACTIVE'), settled(toDelete, 'ACTIVE')]);
  await computes.get('h3')!.kill('SIGKILL');
  const r = await call('POST', `/servers/${onDeadHost}/action`, { 'os-stop': null });
  assert.equal(r.status, 202, r.text);
  const requestId = r.headers.get('x-openstack-request-id')!;
  const event = await until('the stop event ended', async () => {
    const a = await call('GET', `/servers/${onDeadHost}/os-instance-actions/${requestId}`, undefined, '2.51');
    const e = a.body.instanceAction.events[0];
    return e?.finish_time ? e : null;
  });
  assert.equal(event.result, 'Error');
  const s = await show(onDeadHost);
  assert.equal(s.status, 'ACTIVE');
  assert.equal(s['OS-EXT-STS:task_state'], null);
});

test('evacuate from the dead compute host rebuilds the server on a live one', { skip }, async () => {
  assert.ok(onDeadHost, 'the previous test left a server on the dead host');
  const r = await call('POST', `/servers/${onDeadHost}/action`, { evacuate: {} }, '2.29');
  assert.equal(r.status, 200, r.text);
  const s = await settled(onDeadHost, 'ACTIVE');
  assert.notEqual(s['OS-EXT-SRV-ATTR:host'], 'h3');
});

test('a compute host killed mid-build: the build is rescheduled to another host and reaches ACTIVE, none left building', { skip }, async () => {
  await startCompute('slow', { NIMBUS_FAKE_OPERATION_MS: '30000' });
  for (const h of ['h1', 'h2']) assert.equal((await call('PUT', '/os-services/disable', { host: h, binary: 'nova-compute' }, '2.1')).status, 200);
  const id = await create('interrupted');
  await until('spawning on slow', async () => {
    const s = await show(id);
    return s['OS-EXT-SRV-ATTR:host'] === 'slow' && s['OS-EXT-STS:task_state'] === 'spawning';
  });
  await computes.get('slow')!.kill('SIGKILL');
  assert.equal((await call('PUT', '/os-services/enable', { host: 'h1', binary: 'nova-compute' }, '2.1')).status, 200);
  const s = await settled(id, 'ACTIVE');
  assert.equal(s['OS-EXT-SRV-ATTR:host'], 'h1');
});

test('nimbus conductor refuses SQLite: the roles share one PostgreSQL database', async () => {
  const { code, proc } = await run('conductor-sqlite', ['conductor'], { NIMBUS_DATABASE_URL: `sqlite:${join(tmpdir(), 'nimbus-role-none.sqlite')}` }, null);
  assert.equal(code, 1);
  assert.match(proc.output(), /nimbus conductor shares its database with the other roles: set NIMBUS_DATABASE_URL=postgres:\/\//);
});

test('a delete on a dead compute host completes as a local delete', { skip }, async () => {
  assert.ok(toDelete, 'an earlier test left a server on the dead host');
  assert.equal((await call('DELETE', `/servers/${toDelete}`)).status, 204);
  await until('the server gone', async () => (await call('GET', `/servers/${toDelete}`)).status === 404);
});

test('a build whose hosts die until it has had its attempts goes to ERROR with the fault, not left building', { skip }, async () => {
  // A conductor allowing one attempt: the first dead host ends the build.
  await conductor.kill('SIGKILL');
  conductor = (await run('conductor-c', ['conductor', '--host', 'conductor-c'], { NIMBUS_DATABASE_URL: dbUrl, NIMBUS_SCHEDULER_MAX_ATTEMPTS: '1' }, /is running/)).proc;
  await startCompute('slow2', { NIMBUS_FAKE_OPERATION_MS: '30000' });
  assert.equal((await call('PUT', '/os-services/disable', { host: 'h1', binary: 'nova-compute' }, '2.1')).status, 200);
  const id = await create('doomed-build');
  await until('spawning on slow2', async () => (await show(id))['OS-EXT-STS:task_state'] === 'spawning');
  await computes.get('slow2')!.kill('SIGKILL');
  const s = await until('ERROR', async () => {
    const s = await show(id);
    return s.status === 'ERROR' ? s : null;
  });
  assert.equal(s['OS-EXT-STS:task_state'], null);
  assert.match(s.fault.message, /^Exceeded maximum number of retries\. Exhausted all hosts available for retrying build failures for instance /);
});
