import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_PASSWORD, startCloud, type TestCloud } from '../support.js';
import { bootServer } from '../api/compute/server-fixtures.js';
import { TaskRunner, enqueue, enqueueAll, type TaskHandler } from '../../src/tasks/runner.js';
import { startAction } from '../../src/compute/actions.js';

/**
 * The task runner's rules, each against a runner of its own on the cloud's real database
 * (the cloud's own runner is stopped, so only these handlers run).
 */
let cloud: TestCloud;
let serverId: string;
before(async () => {
  cloud = await startCloud();
  serverId = await bootServer(cloud, cloud.adminToken);
  await cloud.services.runner.stop();
});
after(async () => cloud.close());

function runner(owner: string, handlers: Record<string, TaskHandler>): TaskRunner {
  const r = new TaskRunner(cloud.services.db, cloud.clock, cloud.services.log, { owner, pollMs: 20 });
  for (const [kind, handler] of Object.entries(handlers)) r.handle(kind, handler);
  return r;
}

const finish: TaskHandler = (run) => cloud.services.db.transaction().execute((tx) => run.finish(tx));

async function until(condition: () => boolean | Promise<boolean>, what: string) {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('a task running when the clock is moved forward is not started a second time', async () => {
  let runs = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const r = runner('clock-node', { probe_clock: async (run) => (runs++, await gate, finish(run)) });
  await cloud.services.db.transaction().execute((tx) => enqueue(tx, cloud.clock, { serverId: 'no-server', kind: 'probe_clock', step: 'start' }));
  await r.start(false);
  try {
    await until(() => runs === 1, 'the task to start');
    // A day on the clock: tokens and delayed jobs move, but the lease is real time.
    cloud.clock.advance(86400 * 1000);
    await sleep(200); // ten polls
    assert.equal(runs, 1);
  } finally {
    release();
    await r.idle();
    await r.stop();
  }
});

test('a task that ends without finishing has its event finished as an error and its task_state rolled back', async () => {
  const id = serverId;
  const { db, clock } = cloud.services;
  await db.transaction().execute(async (tx) => {
    const now = clock.now().toISOString();
    await tx.updateTable('servers').set({ task_state: 'rebooting' }).where('id', '=', id).execute();
    const actionId = await startAction(tx, { serverId: id, action: 'reboot', requestId: 'req-abandoned', projectId: cloud.adminProjectId, userId: 'u', now });
    await enqueue(tx, clock, { serverId: id, kind: 'probe_abandon', step: 'start', actionId });
  });
  const r = runner('abandon-node', {
    probe_abandon: async (run) => {
      await run.event('compute_reboot_instance', null);
      throw new Error('the host went away');
    },
  });
  await r.start(false);
  await r.idle();
  await r.stop();
  const token = await cloud.token('admin', ADMIN_PASSWORD, 'admin'); // the clock may have moved past the first
  const server = (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token })).body.server;
  assert.equal(server['OS-EXT-STS:task_state'], null);
  assert.equal(server.status, 'ACTIVE');
  const action = (await cloud.req('GET', `/compute/v2.1/servers/${id}/os-instance-actions/req-abandoned`, { token, version: '2.51' })).body.instanceAction;
  assert.equal(action.message, 'Error');
  assert.deepEqual(
    action.events.map((e: { event: string; result: string; finish_time: string | null }) => [e.event, e.result, !!e.finish_time]),
    [['compute_reboot_instance', 'Error', true]],
  );
});

test('a task that was started runs before an older task of its server', async () => {
  const order: string[] = [];
  const { db, clock } = cloud.services;
  await db.transaction().execute(async (tx) => {
    await enqueue(tx, clock, { serverId: 'ordered-server', kind: 'probe_order', step: 'start', params: { name: 'older' } });
    await sleep(5);
    const resumed = await enqueue(tx, clock, { serverId: 'ordered-server', kind: 'probe_order', step: 'start', params: { name: 'started' } });
    // As a task left running by a process that died, handed back to be resumed.
    await tx.updateTable('tasks').set({ attempts: 1 }).where('id', '=', resumed).execute();
  });
  const r = runner('order-node', { probe_order: async (run) => (order.push((run.params as { name: string }).name), finish(run)) });
  await r.start(false);
  await r.idle();
  await r.stop();
  assert.deepEqual(order, ['started', 'older']);
});

test('tasks enqueued together run one at a time per server, and side by side across servers', async () => {
  // One claim may take several tasks (PostgreSQL): of one server's, enqueued in one
  // transaction with the same creation time, it must still take only one at a time.
  const running = new Map<string, number>();
  let most = 0;
  let across = 0;
  const r = runner('burst-node', {
    probe_burst: async (run) => {
      const server = run.task.server_id;
      running.set(server, (running.get(server) ?? 0) + 1);
      most = Math.max(most, running.get(server)!);
      across = Math.max(across, [...running.values()].filter((n) => n > 0).length);
      await sleep(30);
      running.set(server, running.get(server)! - 1);
      await finish(run);
    },
  });
  const { db, clock } = cloud.services;
  await db.transaction().execute((tx) =>
    enqueueAll(
      tx,
      clock,
      ['burst-a', 'burst-b'].flatMap((serverId) => Array.from({ length: 4 }, () => ({ serverId, kind: 'probe_burst', step: 'start' }))),
    ),
  );
  await r.start(false);
  await r.idle();
  await r.stop();
  assert.equal(most, 1, 'never two tasks of one server at once');
  assert.equal(across, 2, 'the two servers\' tasks ran side by side');
  assert.equal(await db.selectFrom('tasks').select('id').where('kind', '=', 'probe_burst').executeTakeFirst(), undefined, 'all ran');
});

test("a node resumes at once the tasks left running under its own id, and another node's only when their lease ran out", async () => {
  const ran: string[] = [];
  const { db, clock } = cloud.services;
  const hour = new Date(Date.now() + 3600 * 1000).toISOString();
  const past = new Date(Date.now() - 1000).toISOString();
  await db.transaction().execute(async (tx) => {
    for (const [name, owner, until] of [['mine', 'node-a', hour], ['theirs', 'node-b', hour], ['theirs-expired', 'node-b', past]]) {
      const id = await enqueue(tx, clock, { serverId: `lease-${name}`, kind: 'probe_lease', step: 'start', params: { name } });
      await tx.updateTable('tasks').set({ status: 'running', lease_owner: owner, lease_until: until, attempts: 1 }).where('id', '=', id).execute();
    }
  });
  const r = runner('node-a', { probe_lease: async (run) => (ran.push((run.params as { name: string }).name), finish(run)) });
  await r.start(false);
  try {
    await until(() => ran.length === 2, 'two tasks to run');
    await sleep(100);
    assert.deepEqual(ran.sort(), ['mine', 'theirs-expired']);
    const left = await db.selectFrom('tasks').select(['status', 'lease_owner']).where('server_id', '=', 'lease-theirs').executeTakeFirstOrThrow();
    assert.deepEqual(left, { status: 'running', lease_owner: 'node-b' });
  } finally {
    await r.stop();
    await db.deleteFrom('tasks').where('server_id', '=', 'lease-theirs').execute();
  }
});
