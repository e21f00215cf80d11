import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import { INSERT_BATCH, isPostgres, type Db, type Tx } from '../db/database.js';
import type { ServerTable, TaskTable } from '../db/schema.js';
import type { Clock } from '../clock.js';
import { finishEvent, startEvent } from '../compute/actions.js';
import { statusOf } from '../compute/states.js';

/**
 * A claimed task as its handler sees it. A task may be killed at any moment and resumed
 * from its last recorded step, by this node restarted or by another; the runner holds it
 * to one rule: it finishes (or rolls back) its own work and its own instance-action event.
 *  - `event` starts the task's event once; a resumed task gets the same one back.
 *  - `finish` ends the task in the transaction of its last change, so work that committed
 *    is never done again, and its event is finished with it.
 *  - `takeServer` lets a delayed job take the server and remember it did, so resumed it
 *    knows the task_state it finds is its own.
 *  - a task that ends any other way (it threw, or returned without `finish`) has its event
 *    finished as an error and the server's task_state cleared if no task is left to clear
 *    it, as Nova's reverts_task_state does: no server is left busy with nothing to do.
 */
export interface TaskRun<P = Record<string, unknown>> {
  task: TaskTable;
  params: P;
  /** Lines about this task carry its server's id and the id of the request that asked for it. */
  log: Logger;
  /** Records that the task reached `step`, so a resumed task starts there. */
  reached(step: string, tx?: Tx): Promise<void>;
  /** Stores changed params, so a resumed task sees what this run decided. */
  saveParams(tx?: Tx): Promise<void>;
  /** The task's instance-action event: started on its first run, the same one when resumed. */
  event(name: string, host: string | null): Promise<string>;
  /**
   * For a job scheduled while the server was idle (auto confirm, shelve offload, reclaim):
   * sets `values` if the server is still idle in `vmState`, and records in the same
   * transaction that the job took it. False: the server moved on and the job has nothing to do.
   */
  takeServer(vmState: string, values: Partial<ServerTable>): Promise<boolean>;
  /** Ends the task within `tx`: finishes its event (an error if given) and removes the task. */
  finish(tx: Tx, error?: { message: string; traceback?: string }): Promise<void>;
  /**
   * Placed before a step that calls the driver on `host`: returns when this process runs
   * `host` (always, in `serve`); otherwise hands the task to that host's compute process —
   * addressed to it and released in one statement — and ends this run (HandedOff). The
   * compute claims it and runs the handler again from its recorded step, up to here.
   */
  on(host: string): Promise<void>;
}

/** The task was handed to another host's process: nothing of this run is to be settled. */
export class HandedOff extends Error {}

/** A handler's catch-all must let these through: they end the run, not the work. */
export function passOn(err: unknown): void {
  if (err instanceof HandedOff || err instanceof LeaseLost) throw err;
}

/** A task as a claim returns it, with the request id its log lines carry. */
type ClaimedTask = TaskTable & { request_id: string | null };

/** The step a delayed job records when it has taken its server. */
const TOOK_SERVER = 'took_server';

/** This node's lease on a task was taken over by another node: the change must not commit. */
export class LeaseLost extends Error {}

export type TaskHandler = (run: TaskRun<any>) => Promise<void>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Which tasks a process claims: every task (`serve`), the tasks addressed to no host (a
 * conductor), or those of its own host (a compute).
 */
export type RunnerRole = { kind: 'all' } | { kind: 'conductor' } | { kind: 'compute'; host: string };

export interface RunnerOptions {
  /** This node's stable id; its leases carry it. */
  owner: string;
  role: RunnerRole;
  leaseMs: number;
  concurrency: number;
  /** How often the tasks table is looked at when nothing woke the runner. */
  pollMs: number;
  /** PostgreSQL: LISTEN on a connection of its own, so new work starts at once. */
  listenUrl?: string;
}

/** How often periodic jobs and expired leases are looked at. */
const TICK_MS = 250;

/** At most this many tasks per claim (PostgreSQL), so that one process does not take a whole burst that others could share. */
const CLAIM_BATCH = 8;

export interface NewTask {
  serverId: string;
  kind: string;
  step: string;
  params?: Record<string, unknown>;
  actionId?: string | null;
  notBefore?: Date;
  /** The compute host that must run it; absent: any conductor (or the task hands itself over). */
  host?: string | null;
}

/** Writes a task in the caller's transaction: the change and the work it implies commit together. */
export async function enqueue(tx: Tx, clock: Clock, t: NewTask): Promise<string> {
  return (await enqueueAll(tx, clock, [t]))[0];
}

/** Writes many tasks in a few statements (a multi-create's builds); returns their ids in order. */
export async function enqueueAll(tx: Tx, clock: Clock, tasks: NewTask[]): Promise<string[]> {
  const now = clock.now().toISOString();
  const rows = tasks.map((t) => ({
    id: randomUUID(),
    server_id: t.serverId,
    kind: t.kind,
    step: t.step,
    params: JSON.stringify(t.params ?? {}),
    status: 'pending' as const,
    lease_owner: null,
    lease_until: null,
    attempts: 0,
    not_before: (t.notBefore ?? clock.now()).toISOString(),
    action_id: t.actionId ?? null,
    host: t.host ?? null,
    created_at: now,
    updated_at: now,
  }));
  for (let i = 0; i < rows.length; i += INSERT_BATCH) await tx.insertInto('tasks').values(rows.slice(i, i + INSERT_BATCH)).execute();
  return rows.map((r) => r.id);
}

interface Periodic {
  name: string;
  everyMs: number;
  fn: () => Promise<void>;
  lastRun: number;
  /** Runs on one process of the cluster at a time (leased through periodic_jobs), not on each. */
  once: boolean;
}

/**
 * Runs durable tasks. Tasks are claimed with a lease in this node's name: a restarted node
 * resumes its own at once, and another node those whose lease ran out, from their recorded
 * step. One server never has two tasks running at once, and a task that was started goes
 * before any other of its server.
 */
export class TaskRunner {
  readonly owner: string;
  private readonly handlers = new Map<string, TaskHandler>();
  private readonly periodics: Periodic[] = [];
  private readonly running = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private listener: { end(): Promise<void> } | null = null;
  private draining = false;
  private again = false;
  private stopped = true;

  private readonly options: RunnerOptions;
  private releaseOwner: (() => Promise<void>) | null = null;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly log: Logger,
    options: Partial<RunnerOptions> = {},
  ) {
    this.options = { owner: randomUUID(), role: { kind: 'all' }, concurrency: 32, leaseMs: 30000, pollMs: 250, ...options };
    this.owner = this.options.owner;
    clock.onAdvance(() => this.tick(true));
  }

  /** Leases are about processes being alive, so they run on real time, not the movable clock. */
  private leaseUntil(): string {
    return new Date(Date.now() + this.options.leaseMs).toISOString();
  }

  get role(): RunnerRole {
    return this.options.role;
  }

  /** Whether this process runs the guests of `host`. */
  runsHost(host: string): boolean {
    const role = this.options.role;
    return role.kind === 'all' || (role.kind === 'compute' && role.host === host);
  }

  handle(kind: string, handler: TaskHandler): void {
    this.handlers.set(kind, handler);
  }

  /** A job that runs every `everyMs` of clock time (and at once when the clock jumps). */
  every(name: string, everyMs: number, fn: () => Promise<void>, options: { once?: boolean } = {}): void {
    this.periodics.push({ name, everyMs, fn, lastRun: -Infinity, once: !!options.once });
  }

  /**
   * Starts work, resuming at once the tasks this node's previous process left running.
   * `takeOver` resumes every running task: right for a single node (SQLite), where any
   * running task found at start belongs to a process that died. `release` is called on stop
   * (what holds this node's id).
   */
  async start(takeOver: boolean, release?: () => Promise<void>): Promise<void> {
    this.stopped = false;
    this.releaseOwner = release ?? null;
    let resume = this.db.updateTable('tasks').set({ status: 'pending', lease_owner: null, lease_until: null }).where('status', '=', 'running');
    if (!takeOver) resume = resume.where('lease_owner', '=', this.owner);
    const r = await resume.executeTakeFirst();
    if (Number(r.numUpdatedRows)) this.log.info({ tasks: Number(r.numUpdatedRows) }, 'resuming tasks left running by a previous process');
    this.timer = setInterval(() => this.tick(false), TICK_MS);
    this.timer.unref();
    this.pollTimer = setInterval(() => void this.drain(), this.options.pollMs);
    this.pollTimer.unref();
    if (this.options.listenUrl) await this.listen(this.options.listenUrl);
    this.tick(true);
  }

  /**
   * Wakes at the database's NOTIFY of a task this process may run (migration 031), on a
   * connection of its own; a dropped connection is opened again (polling meanwhile).
   */
  private async listen(url: string): Promise<void> {
    const { default: pg } = await import('pg');
    const role = this.options.role;
    const wanted = (host: string) => role.kind === 'all' || (role.kind === 'conductor' ? host === '' : host === role.host);
    const connect = async (): Promise<void> => {
      if (this.stopped) return;
      const client = new pg.Client({ connectionString: url, keepAlive: true });
      let lost = false;
      const again = (err?: unknown) => {
        if (lost) return;
        lost = true;
        if (this.listener === client) this.listener = null;
        void client.end().catch(() => {});
        if (this.stopped) return;
        this.log.warn({ err }, 'lost the connection that wakes this runner; polling until it is back');
        setTimeout(() => void connect(), 1000).unref();
      };
      client.on('error', again);
      client.on('end', () => again());
      client.on('notification', (n) => {
        if (wanted(n.payload ?? '')) this.kick();
      });
      try {
        await client.connect();
        await client.query('listen nimbus_tasks');
        this.listener = client;
        this.kick(); // whatever was enqueued while it was away
      } catch (err) {
        again(err);
      }
    };
    await connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.timer = null;
    this.pollTimer = null;
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => {});
    await Promise.allSettled([...this.running]);
    await this.releaseOwner?.();
    this.releaseOwner = null;
  }

  /** New work was committed: look for it now rather than at the next poll. */
  kick(): void {
    if (!this.stopped) setImmediate(() => void this.drain());
  }

  /** Resolves when no task is pending or running (for tests and graceful stops). */
  async idle(timeoutMs = 10000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const busy = await this.db
        .selectFrom('tasks')
        .select('id')
        .where('status', 'in', ['pending', 'running'])
        .where((eb) => eb.or([eb('not_before', '<=', this.clock.now().toISOString()), eb('attempts', '>', 0)]))
        .limit(1)
        .executeTakeFirst();
      if (!busy && this.running.size === 0) return;
      this.kick();
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('tasks did not settle');
  }

  private tick(runAllPeriodics: boolean): void {
    if (this.stopped) return;
    void this.runPeriodics(runAllPeriodics);
    // Work is looked for at the poll, at a wake-up, and here when leases ran out.
    void this.expireLeases().then((expired) => (expired || runAllPeriodics ? this.drain() : undefined));
  }

  private async runPeriodics(force: boolean): Promise<void> {
    const now = this.clock.nowMs();
    for (const p of this.periodics) {
      if (!force && now - p.lastRun < p.everyMs) continue;
      p.lastRun = now;
      try {
        if (p.once && this.options.role.kind !== 'all' && !(await this.takeJob(p))) continue;
        await p.fn();
      } catch (err) {
        this.log.error({ err, job: p.name }, 'periodic job failed');
      }
    }
  }

  /**
   * Of the processes that run a periodic job, the one whose conditional update moves its
   * next run wins this period; the others skip it. Real time, like leases.
   */
  private async takeJob(p: Periodic): Promise<boolean> {
    const now = Date.now();
    await this.db.insertInto('periodic_jobs').values({ name: p.name, next_run_at: new Date(0).toISOString(), owner: null }).onConflict((oc) => oc.column('name').doNothing()).execute();
    const r = await this.db
      .updateTable('periodic_jobs')
      .set({ next_run_at: new Date(now + p.everyMs).toISOString(), owner: this.owner })
      .where('name', '=', p.name)
      .where('next_run_at', '<=', new Date(now).toISOString())
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  private async expireLeases(): Promise<number> {
    try {
      const r = await this.db
        .updateTable('tasks')
        .set({ status: 'pending', lease_owner: null, lease_until: null })
        .where('status', '=', 'running')
        .where('lease_until', '<', new Date().toISOString())
        .executeTakeFirst();
      return Number(r.numUpdatedRows);
    } catch (err) {
      this.log.error({ err }, 'lease expiry failed');
      return 0;
    }
  }

  private async drain(): Promise<void> {
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = true;
    try {
      do {
        this.again = false;
        while (!this.stopped && this.running.size < this.options.concurrency) {
          // On SQLite a task that waits for nothing runs to its end in microtasks, freeing
          // its slot before the next claim: without a turn of the event loop here, a burst
          // of tasks (a multi-create's builds) ran in one go and answered no request till done.
          await yieldToEventLoop();
          if (this.stopped) break;
          // SQLite claims one at a time, for the reason above; its claims cost no round trip.
          const tasks = await this.claim(Math.min(isPostgres(this.db) ? CLAIM_BATCH : 1, this.options.concurrency - this.running.size));
          if (tasks.length === 0) break;
          for (const task of tasks) {
            const p = this.execute(task).finally(() => {
              this.running.delete(p);
              this.kick();
            });
            this.running.add(p);
          }
        }
      } while (this.again && !this.stopped);
    } catch (err) {
      this.log.error({ err }, 'claiming tasks failed');
    } finally {
      this.draining = false;
    }
  }

  /**
   * Claims up to `max` due tasks in one statement, in order: a started task first, then the
   * oldest. PostgreSQL: one UPDATE of the candidates it locked, skipping those another
   * process is claiming, so runners in many processes never wait on each other nor take the
   * same task, and a burst of builds costs one round trip, not five per task (the claims of
   * one process are serial: they were what a build waited for under load).
   */
  private async claim(max: number): Promise<ClaimedTask[]> {
    const now = this.clock.now();
    const due = now.toISOString();
    const role = this.options.role;
    const postgres = isPostgres(this.db);
    let candidates = this.db
      .selectFrom('tasks as t')
      .select('t.id')
      .where('t.status', '=', 'pending')
      // a task that was started is due whatever the clock says (a restart resets a moved clock)
      .where((eb) => eb.or([eb('t.not_before', '<=', due), eb('t.attempts', '>', 0)]))
      // one task at a time per server
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('tasks as busy').select('busy.id').whereRef('busy.server_id', '=', 't.server_id').where('busy.status', '=', 'running'))),
      )
      // A started task finishes before any other of its server begins; otherwise an older
      // task that is due goes first (a delayed one, not_before later, does not block). Ties
      // go by id, so that of one server's tasks one only is ever a candidate.
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('tasks as o')
              .select('o.id')
              .whereRef('o.server_id', '=', 't.server_id')
              .where('o.status', '=', 'pending')
              .whereRef('o.id', '!=', 't.id')
              .where((eb) =>
                eb.or([
                  eb.and([eb('o.attempts', '>', 0), eb.or([eb('t.attempts', '=', 0), eb('o.id', '<', eb.ref('t.id'))])]),
                  eb.and([
                    eb('t.attempts', '=', 0),
                    eb('o.not_before', '<=', due),
                    eb.or([eb('o.created_at', '<', eb.ref('t.created_at')), eb.and([eb('o.created_at', '=', eb.ref('t.created_at')), eb('o.id', '<', eb.ref('t.id'))])]),
                  ]),
                ]),
              ),
          ),
        ),
      )
      .orderBy((eb) => eb.case().when('t.attempts', '>', 0).then(0).else(1).end())
      .orderBy('t.created_at')
      .orderBy('t.id')
      .limit(max);
    if (role.kind === 'conductor') candidates = candidates.where('t.host', 'is', null);
    if (role.kind === 'compute') candidates = candidates.where('t.host', '=', role.host);
    const locked = postgres ? candidates.forUpdate().skipLocked() : candidates;
    const claimed = await this.db
      .updateTable('tasks')
      .set((eb) => ({ status: 'running', lease_owner: this.owner, lease_until: this.leaseUntil(), attempts: eb('attempts', '+', 1), updated_at: due }))
      .where('id', 'in', locked)
      .where('status', '=', 'pending')
      .returningAll()
      // The request that started the task's instance action, so its lines can be found by it.
      .returning((eb) => eb.selectFrom('instance_actions').select('request_id').whereRef('instance_actions.id', '=', 'tasks.action_id').as('request_id'))
      .execute();
    return claimed.sort((a, b) => Number(b.attempts > 1) - Number(a.attempts > 1) || (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : 1));
  }

  private async execute({ request_id, ...task }: ClaimedTask): Promise<void> {
    const handler = this.handlers.get(task.kind);
    const renew = setInterval(() => {
      void this.db.updateTable('tasks').set({ lease_until: this.leaseUntil() }).where('id', '=', task.id).where('lease_owner', '=', this.owner).execute().catch(() => {});
    }, this.options.leaseMs / 3);
    renew.unref();
    let failure: unknown = null;
    const log = this.log.child({ server_id: task.server_id, request_id: request_id ?? undefined, task: task.kind });
    log.info(`${task.kind}: ${task.step}`);
    try {
      if (!handler) throw new Error(`no handler for task kind ${task.kind}`);
      await handler(this.runOf(task, log));
      await this.logOutcome(log, task);
    } catch (err) {
      // The handler records what a failure means for the server; this is a bug or a lost host.
      failure = err;
      if (err instanceof HandedOff) log.info(`${task.kind}: handed to ${err.message}`);
      else if (!(err instanceof LeaseLost)) log.error({ err, task_id: task.id }, `${task.kind} failed`);
    } finally {
      clearInterval(renew);
    }
    try {
      await this.settle(task, failure);
    } catch (err) {
      this.log.error({ err, task: task.id, kind: task.kind, server: task.server_id }, 'ending a task failed');
    }
  }

  private runOf(task: TaskTable, log: Logger): TaskRun {
    const now = () => this.clock.now().toISOString();
    const run: TaskRun = {
      task,
      params: JSON.parse(task.params),
      log,
      saveParams: async (tx) => {
        await (tx ?? this.db).updateTable('tasks').set({ params: JSON.stringify(run.params) }).where('id', '=', task.id).execute();
      },
      reached: async (step, tx) => {
        await (tx ?? this.db).updateTable('tasks').set({ step, updated_at: now() }).where('id', '=', task.id).execute();
        task.step = step;
        log.info(`${task.kind}: ${step}`);
      },
      event: async (name, host) => {
        if (task.event_id) return task.event_id;
        if (!task.action_id) throw new Error(`task ${task.id} (${task.kind}) belongs to no instance action`);
        const id = await this.db.transaction().execute(async (tx) => {
          const id = await startEvent(tx, task.action_id!, name, host, now());
          await tx.updateTable('tasks').set({ event_id: id }).where('id', '=', task.id).execute();
          return id;
        });
        task.event_id = id;
        return id;
      },
      takeServer: async (vmState, values) => {
        if (task.step === TOOK_SERVER) return true;
        return this.db.transaction().execute(async (tx) => {
          const r = await tx
            .updateTable('servers')
            .set({ ...values, updated_at: now() })
            .where('id', '=', task.server_id)
            .where('deleted', '=', 0)
            .where('vm_state', '=', vmState)
            .where('task_state', 'is', null)
            .executeTakeFirst();
          if (Number(r.numUpdatedRows) !== 1) return false;
          await run.reached(TOOK_SERVER, tx);
          return true;
        });
      },
      finish: async (tx, error) => {
        if (task.event_id && task.action_id) await finishEvent(tx, task.action_id, task.event_id, now(), error);
        const r = await tx.deleteFrom('tasks').where('id', '=', task.id).where('lease_owner', '=', this.owner).executeTakeFirst();
        // Another node resumed this task (our lease ran out): its work is its own now.
        if (Number(r.numDeletedRows) !== 1) throw new LeaseLost(`task ${task.id} is no longer leased to ${this.owner}`);
      },
      on: async (host) => {
        if (this.runsHost(host)) return;
        // Addressed and released together: the host's process may claim it the moment this commits.
        const r = await this.db
          .updateTable('tasks')
          .set({ host, status: 'pending', lease_owner: null, lease_until: null, updated_at: now() })
          .where('id', '=', task.id)
          .where('lease_owner', '=', this.owner)
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) !== 1) throw new LeaseLost(`task ${task.id} is no longer leased to ${this.owner}`);
        throw new HandedOff(host);
      },
    };
    return run;
  }

  /**
   * A task that ended without `finish` (it threw, or gave up): its event ends as an error,
   * a build left building goes to ERROR, and a task_state no task is left to clear is
   * cleared (Nova's reverts_task_state). Finished work left no row, and needs nothing.
   */
  private async settle(task: TaskTable, failure: unknown): Promise<void> {
    if (failure instanceof LeaseLost || failure instanceof HandedOff) return;
    await this.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('tasks').select(['event_id', 'action_id']).where('id', '=', task.id).where('lease_owner', '=', this.owner).executeTakeFirst();
      if (!row) return;
      const now = this.clock.now().toISOString();
      const message = failure ? String((failure as Error).message ?? failure) : 'The task ended before its work was done.';
      const traceback = failure instanceof Error ? failure.stack : undefined;
      if (row.event_id && row.action_id) {
        const open = await tx.selectFrom('instance_action_events').select('id').where('id', '=', row.event_id).where('finish_time', 'is', null).executeTakeFirst();
        if (open) await finishEvent(tx, row.action_id, row.event_id, now, { message, traceback });
      }
      await tx.deleteFrom('tasks').where('id', '=', task.id).execute();
      const server = await tx.selectFrom('servers').select(['task_state', 'vm_state']).where('id', '=', task.server_id).where('deleted', '=', 0).executeTakeFirst();
      if (!server?.task_state) return;
      const building = server.vm_state === 'building';
      const r = await tx
        .updateTable('servers')
        .set({ task_state: null, updated_at: now, ...(building ? { vm_state: 'error', fault: JSON.stringify({ code: 500, message, details: traceback ?? '', created: now }) } : {}) })
        .where('id', '=', task.server_id)
        .where('task_state', '=', server.task_state)
        // a task still to run on the server (not a delayed one) clears it itself
        .where(({ not, exists, selectFrom }) =>
          not(exists(selectFrom('tasks').select('tasks.id').where('tasks.server_id', '=', task.server_id).where((eb) => eb.or([eb('not_before', '<=', now), eb('attempts', '>', 0)])))),
        )
        .executeTakeFirst();
      if (Number(r.numUpdatedRows)) this.log.warn({ task: task.id, kind: task.kind, server: task.server_id, taskState: server.task_state }, 'a task ended without finishing; its task_state is rolled back');
    });
  }

  /** Where the task left its server: one line per settled state ("build: ACTIVE"). */
  private async logOutcome(log: Logger, task: TaskTable): Promise<void> {
    if (!log.isLevelEnabled('info')) return;
    const server = await this.db.selectFrom('servers').select(['vm_state', 'task_state', 'power_state', 'deleted']).where('id', '=', task.server_id).executeTakeFirst();
    if (!server) return log.info(`${task.kind}: server gone`);
    const status = server.deleted ? 'DELETED' : statusOf(server.vm_state, server.task_state);
    log.info({ vm_state: server.vm_state, task_state: server.task_state, power_state: server.power_state }, `${task.kind}: ${status}`);
  }
}
