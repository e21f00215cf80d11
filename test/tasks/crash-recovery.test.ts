import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess, request, passwordToken, freshDatabase, type Response } from '../support.js';

/**
 * SIGKILL during every kind of task the runner handles, then a restart: each task, resumed
 * at whatever step it was killed, finishes its own work and its own instance-action event.
 *
 * Three processes share one data directory and database:
 *  1. setup (instant fake hosts): one server per kind, brought to the state its action wants;
 *  2. every action at once, on fake hosts whose every operation takes ten minutes, and the
 *     clock moved past the delayed jobs' windows; once each task has started its event (so
 *     it is in the middle of a driver operation), SIGKILL;
 *  3. a restart (instant hosts again): every server settles in the state its action ends in.
 * The lease is an hour: on PostgreSQL the restarted node must take its own work back at once.
 */

const V = '2.30';
const ADMIN_PW = 'crash-admin-pw';
const WINDOW = 600; // resizeConfirmWindow, shelvedOffloadTime, reclaimInstanceInterval (s)
const SLOW_MS = '600000';

type Step = Record<string, unknown> | 'delete';
interface Scenario {
  name: string;
  /** Done in the setup process, each settled before the next. */
  setup?: Step[];
  /** Done in the process that is killed (nothing: a delayed job the clock starts). */
  act?: Step;
  /** The status it settles in after the restart; null: deleted. */
  expect: string | null;
  host?: string;
}

const RESIZE = { resize: { flavorRef: '2' } };
const MIGRATING = ['resize', 'migrate', 'os-migrateLive', 'evacuate'];
const SHELVE = { shelve: null };
const SCENARIOS: Scenario[] = [
  { name: 'reboot-soft', act: { reboot: { type: 'SOFT' } }, expect: 'ACTIVE' },
  { name: 'reboot-hard', act: { reboot: { type: 'HARD' } }, expect: 'ACTIVE' },
  { name: 'stop', act: { 'os-stop': null }, expect: 'SHUTOFF' },
  { name: 'start', setup: [{ 'os-stop': null }], act: { 'os-start': null }, expect: 'ACTIVE' },
  { name: 'pause', act: { pause: null }, expect: 'PAUSED' },
  { name: 'unpause', setup: [{ pause: null }], act: { unpause: null }, expect: 'ACTIVE' },
  { name: 'suspend', act: { suspend: null }, expect: 'SUSPENDED' },
  { name: 'resume', setup: [{ suspend: null }], act: { resume: null }, expect: 'ACTIVE' },
  { name: 'rescue', act: { rescue: {} }, expect: 'RESCUE' },
  { name: 'unrescue', setup: [{ rescue: {} }], act: { unrescue: null }, expect: 'ACTIVE' },
  { name: 'resize', act: RESIZE, expect: 'VERIFY_RESIZE' },
  { name: 'migrate', act: { migrate: null }, expect: 'VERIFY_RESIZE' },
  { name: 'confirm-resize', setup: [RESIZE], act: { confirmResize: null }, expect: 'ACTIVE' },
  { name: 'revert-resize', setup: [RESIZE], act: { revertResize: null }, expect: 'ACTIVE' },
  { name: 'auto-confirm', setup: [RESIZE], expect: 'ACTIVE' },
  { name: 'live-migrate', act: { 'os-migrateLive': { host: null, block_migration: 'auto' } }, expect: 'ACTIVE' },
  { name: 'evacuate', host: 'fake-host-3', act: { evacuate: {} }, expect: 'ACTIVE' },
  { name: 'shelve', act: SHELVE, expect: 'SHELVED' },
  { name: 'shelve-offload', setup: [SHELVE], act: { shelveOffload: null }, expect: 'SHELVED_OFFLOADED' },
  { name: 'auto-offload', setup: [SHELVE], expect: 'SHELVED_OFFLOADED' },
  { name: 'unshelve-offloaded', setup: [SHELVE, { shelveOffload: null }], act: { unshelve: null }, expect: 'ACTIVE' },
  { name: 'unshelve-shelved', setup: [SHELVE], act: { unshelve: null }, expect: 'ACTIVE' },
  { name: 'rebuild', act: { rebuild: { imageRef: 'IMAGE' } }, expect: 'ACTIVE' },
  { name: 'create-image', act: { createImage: { name: 'crash-snapshot' } }, expect: 'ACTIVE' },
  { name: 'create-backup', act: { createBackup: { name: 'crash-backup', backup_type: 'daily', rotation: 1 } }, expect: 'ACTIVE' },
  { name: 'soft-delete', act: 'delete', expect: 'SOFT_DELETED' },
  { name: 'restore', setup: ['delete'], act: { restore: null }, expect: 'ACTIVE' },
  { name: 'force-delete', setup: ['delete'], act: { forceDelete: null }, expect: null },
  { name: 'reclaim', setup: ['delete'], expect: null },
];

test('after SIGKILL during every kind of task a restart settles every server and finishes every event', { timeout: 180000 }, async () => {
  const database = await freshDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'nimbus-crash-'));
  const configFile = join(dataDir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ compute: { resizeConfirmWindow: WINDOW, shelvedOffloadTime: WINDOW, reclaimInstanceInterval: WINDOW }, taskLeaseSeconds: 3600 }));
  const env: Record<string, string> = { NIMBUS_ADMIN_PASSWORD: ADMIN_PW, NIMBUS_DEMO_PASSWORD: 'crash-demo-pw', NIMBUS_CONFIG: configFile, NIMBUS_DATA_DIR: dataDir };
  if (database.url) env.NIMBUS_DATABASE_URL = database.url;
  const procs: Awaited<ReturnType<typeof startProcess>>[] = [];
  const ids = new Map<string, string>();
  try {
    // ── 1. setup ──
    let node = await startProcess({ ...env, NIMBUS_FAKE_OPERATION_MS: '0' });
    procs.push(node);
    let admin = (await passwordToken(node.url, 'admin', ADMIN_PW, 'admin')).token;
    const call = (method: string, path: string, body?: unknown) => request(node.url, method, `/compute/v2.1${path}`, { token: admin, body, version: V });
    const project = (await request(node.url, 'GET', '/identity/v3/auth/projects', { token: admin })).body.projects.find((p: { name: string }) => p.name === 'admin').id;
    assert.equal((await call('PUT', `/os-quota-sets/${project}`, { quota_set: { instances: -1, cores: -1, ram: -1 } })).status, 200);
    const image = (await request(node.url, 'GET', '/image/v2/images', { token: admin })).body.images[0].id;
    const server = (id: string) => call('GET', `/servers/${id}`);
    const settled = async (id: string, timeoutMs = 30000) => {
      for (const until = Date.now() + timeoutMs; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
        const s = await server(id);
        if (s.status === 404) return null;
        if (s.body.server['OS-EXT-STS:task_state'] === null && s.body.server.status !== 'BUILD') return s.body.server;
      }
      throw new Error(`${id} did not settle: ${JSON.stringify((await server(id)).body)}`);
    };
    // Requests that write a migration record go one at a time: this test is about crashes,
    // not about concurrent migrations.
    let inTurn: Promise<Response> = Promise.resolve(null as never);
    const perform = async (id: string, step: Step) => {
      const body = step === 'delete' ? undefined : JSON.parse(JSON.stringify(step).replace('"IMAGE"', JSON.stringify(image)));
      const send = () => (step === 'delete' ? call('DELETE', `/servers/${id}`) : call('POST', `/servers/${id}/action`, body));
      const r = step !== 'delete' && MIGRATING.some((k) => k in step) ? await (inTurn = inTurn.then(send)) : await send();
      assert.ok(r.status === 202 || r.status === 204 || r.status === 200, `${JSON.stringify(step)} on ${id}: ${r.status} ${r.text}`);
    };

    await Promise.all(
      SCENARIOS.map(async (sc) => {
        const r = await call('POST', '/servers', { server: { name: `crash-${sc.name}`, imageRef: image, flavorRef: '1', ...(sc.host ? { availability_zone: `nova:${sc.host}` } : {}) } });
        assert.equal(r.status, 202, r.text);
        const id = r.body.server.id as string;
        ids.set(sc.name, id);
        await settled(id);
        for (const step of sc.setup ?? []) {
          await perform(id, step);
          await settled(id);
        }
      }),
    );
    await node.stop();

    // ── 2. every task in flight, then SIGKILL ──
    node = await startProcess({ ...env, NIMBUS_FAKE_OPERATION_MS: SLOW_MS });
    procs.push(node);
    admin = (await passwordToken(node.url, 'admin', ADMIN_PW, 'admin')).token;
    assert.equal((await request(node.url, 'PUT', '/nimbus/v1/hosts/fake-host-3', { token: admin, body: { host: { state: 'down' } } })).status, 200);
    await Promise.all(SCENARIOS.filter((sc) => sc.act).map((sc) => perform(ids.get(sc.name)!, sc.act!)));
    const build = await call('POST', '/servers', { server: { name: 'crash-build', imageRef: image, flavorRef: '1' } });
    ids.set('build', build.body.server.id);
    const doomed = await call('POST', '/servers', { server: { name: 'crash-delete-while-building', imageRef: image, flavorRef: '1' } });
    ids.set('delete-while-building', doomed.body.server.id);
    for (let i = 0; i < 100 && (await server(doomed.body.server.id)).body.server['OS-EXT-STS:task_state'] !== 'spawning'; i++) await new Promise((r) => setTimeout(r, 50));
    await perform(doomed.body.server.id, 'delete');
    // The delayed jobs (auto confirm, shelve offload, reclaim) fall due.
    assert.equal((await request(node.url, 'POST', '/nimbus/v1/clock/advance', { token: admin, body: { seconds: WINDOW + 100 } })).status, 200);

    // Each server's task has started its event: it is in the middle of a ten-minute operation.
    const unfinished = async (id: string) => {
      const actions = (await call('GET', `/servers/${id}/os-instance-actions`)).body.instanceActions as { request_id: string }[];
      for (const a of actions) {
        const events = (await call('GET', `/servers/${id}/os-instance-actions/${a.request_id}`)).body.instanceAction.events as { finish_time: string | null }[];
        if (events.some((e) => e.finish_time === null)) return true;
      }
      return false;
    };
    const waiting = new Set(ids.keys());
    for (const until = Date.now() + 30000; waiting.size && Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
      for (const name of [...waiting]) if (await unfinished(ids.get(name)!)) waiting.delete(name);
    }
    assert.deepEqual([...waiting], [], 'every task is in the middle of its work when the process is killed');
    assert.equal((await server(ids.get('auto-offload')!)).body.server['OS-EXT-STS:task_state'], 'shelving_offloading');
    node.child.kill('SIGKILL');
    await new Promise((r) => node.child.once('exit', r));

    // ── 3. restart: everything settles ──
    node = await startProcess({ ...env, NIMBUS_FAKE_OPERATION_MS: '0' });
    procs.push(node);
    admin = (await passwordToken(node.url, 'admin', ADMIN_PW, 'admin')).token;
    const expected: Record<string, string | null> = { build: 'ACTIVE', 'delete-while-building': null, ...Object.fromEntries(SCENARIOS.map((sc) => [sc.name, sc.expect])) };
    const finals = await Promise.all([...ids].map(async ([name, id]) => [name, (await settled(id, 20000))?.status ?? null] as const));
    assert.deepEqual(Object.fromEntries(finals), expected);

    // Every instance action's events are finished, each event once (a resumed task reuses its own).
    for (const [name, id] of ids) {
      const actions = (await call('GET', `/servers/${id}/os-instance-actions`)).body.instanceActions as { request_id: string; action: string }[];
      for (const a of actions) {
        const events = (await call('GET', `/servers/${id}/os-instance-actions/${a.request_id}`)).body.instanceAction.events as { event: string; finish_time: string | null; result: string }[];
        for (const e of events) assert.ok(e.finish_time, `${name}: ${a.action}'s ${e.event} is finished`);
        const names = events.map((e) => e.event);
        assert.deepEqual(names, [...new Set(names)], `${name}: ${a.action}'s events each once`);
      }
    }
    // Their work is whole: no migration or image left half-way.
    const migrations = (await call('GET', '/os-migrations')).body.migrations as { status: string; instance_uuid: string }[];
    for (const m of migrations) assert.ok(['finished', 'confirmed', 'reverted', 'completed', 'done'].includes(m.status), `migration of ${m.instance_uuid} is ${m.status}`);
    const images = (await request(node.url, 'GET', '/image/v2/images', { token: admin })).body.images as { name: string; status: string }[];
    for (const i of images) assert.equal(i.status, 'active', `image ${i.name}`);
  } finally {
    // A process stopped gracefully waits for its tasks, and some of these never end.
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.child.exitCode === null && p.child.signalCode === null && new Promise((r) => p.child.once('exit', r))));
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
