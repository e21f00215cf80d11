import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCloud, type TestCloud } from '../support.js';
import { TaskRunner, enqueue, type RunnerRole, type TaskHandler } from '../../src/tasks/runner.js';

/**
 * The runner's roles on one database, in one process: a conductor's runner, and the runners
 * of two compute hosts (the cloud's own runner is stopped). On either database.
 */
let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
  await cloud.services.runner.stop();
});
after(async () => cloud.close());

function runner(owner: string, role: RunnerRole, handlers: Record<string, TaskHandler>): TaskRunner {
  const r = new TaskRunner(cloud.services.db, cloud.clock, cloud.services.log, { owner, role, pollMs: 20 });
  for (const [kind, handler] of Object.entries(handlers)) r.handle(kind, handler);
  return r;
}

async function until(condition: () => boolean | Promise<boolean>, what: string) {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('a task a conductor hands to a host with run.on is resumed there from its recorded step, and by no other host', async () => {
  const ran: string[] = [];
  const probe = (who: string): TaskHandler => async (run) => {
    ran.push(`${who}:${run.task.step}`);
    if (run.task.step === 'start') await run.reached('on_host');
    await run.on('h1');
    ran.push(`${who}:driver`);
    await cloud.services.db.transaction().execute((tx) => run.finish(tx));
  };
  const runners = [
    runner('conductor', { kind: 'conductor' }, { probe_on: probe('conductor') }),
    runner('compute-h1', { kind: 'compute', host: 'h1' }, { probe_on: probe('h1') }),
    runner('compute-h2', { kind: 'compute', host: 'h2' }, { probe_on: probe('h2') }),
  ];
  await cloud.services.db.transaction().execute((tx) => enqueue(tx, cloud.clock, { serverId: 'no-server-on', kind: 'probe_on', step: 'start' }));
  for (const r of runners) await r.start(false);
  try {
    await until(() => ran.includes('h1:driver'), 'the host part to run');
    await until(async () => !(await cloud.services.db.selectFrom('tasks').select('id').where('server_id', '=', 'no-server-on').executeTakeFirst()), 'the task to finish');
    assert.deepEqual(ran, ['conductor:start', 'h1:on_host', 'h1:driver']);
  } finally {
    for (const r of runners) await r.stop();
  }
});

test('a compute runner claims only the tasks addressed to its host; a conductor only those addressed to none', async () => {
  const ran: string[] = [];
  const probe = (who: string): TaskHandler => async (run) => {
    ran.push(`${who}:${run.task.server_id}`);
    await cloud.services.db.transaction().execute((tx) => run.finish(tx));
  };
  const runners = [runner('conductor-2', { kind: 'conductor' }, { probe_claim: probe('conductor') }), runner('compute-h2-2', { kind: 'compute', host: 'h2' }, { probe_claim: probe('h2') })];
  await cloud.services.db.transaction().execute(async (tx) => {
    await enqueue(tx, cloud.clock, { serverId: 'for-none', kind: 'probe_claim', step: 'start' });
    await enqueue(tx, cloud.clock, { serverId: 'for-h2', kind: 'probe_claim', step: 'start', host: 'h2' });
    await enqueue(tx, cloud.clock, { serverId: 'for-h3', kind: 'probe_claim', step: 'start', host: 'h3' });
  });
  for (const r of runners) await r.start(false);
  try {
    await until(() => ran.length === 2, 'two tasks to run');
    await sleep(100); // five polls: the h3 task stays
    assert.deepEqual(ran.sort(), ['conductor:for-none', 'h2:for-h2']);
    assert.ok(await cloud.services.db.selectFrom('tasks').select('id').where('server_id', '=', 'for-h3').where('status', '=', 'pending').executeTakeFirst());
  } finally {
    for (const r of runners) await r.stop();
    await cloud.services.db.deleteFrom('tasks').where('server_id', '=', 'for-h3').execute();
  }
});

test('a periodic job marked once runs on one of two conductors, not on each', async () => {
  let runs = 0;
  const runners = ['conductor-a', 'conductor-b'].map((owner) => {
    const r = runner(owner, { kind: 'conductor' }, {});
    r.every('probe-once', 3600 * 1000, async () => void runs++, { once: true });
    return r;
  });
  for (const r of runners) await r.start(false);
  try {
    await until(() => runs >= 1, 'the job to run');
    await sleep(600); // two ticks of each
    assert.equal(runs, 1);
  } finally {
    for (const r of runners) await r.stop();
  }
});
