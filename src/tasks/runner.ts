import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db, Tx } from '../db/database.js';
import type { TaskTable } from '../db/schema.js';
import type { Clock } from '../clock.js';

/** A claimed task as its handler sees it. */
export interface TaskRun<P = Record<string, unknown>> {
  task: TaskTable;
  params: P;
  /** Records that the task reached `step`, so a resumed task starts there. */
  reached(step: string, tx?: Tx): Promise<void>;
  /** Stores changed params, so a resumed task sees what this run decided. */
  saveParams(tx?: Tx): Promise<void>;
}

export type TaskHandler = (run: TaskRun<any>) => Promise<void>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface NewTask {
  serverId: string;
  kind: string;
  step: string;
  params?: Record<string, unknown>;
  actionId?: string | null;
  notBefore?: Date;
}

/** Writes a task in the caller's transaction: the change and the work it implies commit together. */
export async function enqueue(tx: Tx, clock: Clock, t: NewTask): Promise<string> {
  const now = clock.now().toISOString();
  const id = randomUUID();
  await tx
    .insertInto('tasks')
    .values({
      id,
      server_id: t.serverId,
      kind: t.kind,
      step: t.step,
      params: JSON.stringify(t.params ?? {}),
      status: 'pending',
      lease_owner: null,
      lease_until: null,
      attempts: 0,
      not_before: (t.notBefore ?? clock.now()).toISOString(),
      action_id: t.actionId ?? null,
      created_at: now,
      updated_at: now,
    })
    .execute();
  return id;
}

interface Periodic {
  name: string;
  everyMs: number;
  fn: () => Promise<void>;
  lastRun: number;
}

/**
 * Runs durable tasks. Tasks are claimed with a lease, so a node that dies loses its
 * claims when the lease runs out and another node (or itself, restarted) resumes them from
 * their recorded step. One server never has two tasks running at once.
 */
export class TaskRunner {
  readonly owner = randomUUID();
  private readonly handlers = new Map<string, TaskHandler>();
  private readonly periodics: Periodic[] = [];
  private readonly running = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private draining = false;
  private again = false;
  private stopped = true;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options = { concurrency: 32, leaseMs: 30000, pollMs: 250 },
  ) {
    clock.onAdvance(() => this.tick(true));
  }

  handle(kind: string, handler: TaskHandler): void {
    this.handlers.set(kind, handler);
  }

  /** A job that runs every `everyMs` of clock time (and at once when the clock jumps). */
  every(name: string, everyMs: number, fn: () => Promise<void>): void {
    this.periodics.push({ name, everyMs, fn, lastRun: -Infinity });
  }

  /**
   * Starts work. `takeOver` resumes every running task at once: right for a single node
   * (SQLite), where a running task found at start belongs to a process that died.
   */
  async start(takeOver: boolean): Promise<void> {
    this.stopped = false;
    if (takeOver) {
      const r = await this.db.updateTable('tasks').set({ status: 'pending', lease_owner: null, lease_until: null }).where('status', '=', 'running').executeTakeFirst();
      if (Number(r.numUpdatedRows)) this.log.info({ tasks: Number(r.numUpdatedRows) }, 'resuming tasks left running by a previous process');
    }
    this.timer = setInterval(() => this.tick(false), this.options.pollMs);
    this.timer.unref();
    this.tick(true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.running]);
  }

  /** New work was committed: look for it now rather than at the next poll. */
  kick(): void {
    if (!this.stopped) setImmediate(() => void this.drain());
  }

  /** Resolves when no task is pending or running (for tests and graceful stops). */
  async idle(timeoutMs = 10000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const busy = await this.db.selectFrom('tasks').select('id').where('status', 'in', ['pending', 'running']).where('not_before', '<=', this.clock.now().toISOString()).limit(1).executeTakeFirst();
      if (!busy && this.running.size === 0) return;
      this.kick();
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('tasks did not settle');
  }

  private tick(runAllPeriodics: boolean): void {
    if (this.stopped) return;
    void this.runPeriodics(runAllPeriodics);
    void this.expireLeases().then(() => this.drain());
  }

  private async runPeriodics(force: boolean): Promise<void> {
    const now = this.clock.nowMs();
    for (const p of this.periodics) {
      if (!force && now - p.lastRun < p.everyMs) continue;
      p.lastRun = now;
      try {
        await p.fn();
      } catch (err) {
        this.log.error({ err, job: p.name }, 'periodic job failed');
      }
    }
  }

  private async expireLeases(): Promise<void> {
    try {
      await this.db
        .updateTable('tasks')
        .set({ status: 'pending', lease_owner: null, lease_until: null })
        .where('status', '=', 'running')
        .where('lease_until', '<', this.clock.now().toISOString())
        .execute();
    } catch (err) {
      this.log.error({ err }, 'lease expiry failed');
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
          const task = await this.claim();
          if (!task) break;
          const p = this.execute(task).finally(() => {
            this.running.delete(p);
            this.kick();
          });
          this.running.add(p);
        }
      } while (this.again && !this.stopped);
    } catch (err) {
      this.log.error({ err }, 'claiming tasks failed');
    } finally {
      this.draining = false;
    }
  }

  private async claim(): Promise<TaskTable | null> {
    const now = this.clock.now();
    const candidates = await this.db
      .selectFrom('tasks')
      .selectAll()
      .where('status', '=', 'pending')
      .where('not_before', '<=', now.toISOString())
      // one task at a time per server, oldest first
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('tasks as busy').select('busy.id').whereRef('busy.server_id', '=', 'tasks.server_id').where('busy.status', '=', 'running'))),
      )
      .orderBy('created_at')
      .orderBy('id')
      .limit(8)
      .execute();
    const seen = new Set<string>();
    for (const t of candidates) {
      if (seen.has(t.server_id)) continue;
      seen.add(t.server_id);
      // An older task that is due goes first; a delayed one (not_before later) does not block.
      const earlier = await this.db
        .selectFrom('tasks')
        .select('id')
        .where('server_id', '=', t.server_id)
        .where('status', '=', 'pending')
        .where('not_before', '<=', now.toISOString())
        .where('created_at', '<', t.created_at)
        .limit(1)
        .executeTakeFirst();
      if (earlier) continue;
      const leaseUntil = new Date(now.getTime() + this.options.leaseMs).toISOString();
      const r = await this.db
        .updateTable('tasks')
        .set({ status: 'running', lease_owner: this.owner, lease_until: leaseUntil, attempts: t.attempts + 1, updated_at: now.toISOString() })
        .where('id', '=', t.id)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) return { ...t, status: 'running', lease_owner: this.owner, lease_until: leaseUntil, attempts: t.attempts + 1 };
    }
    return null;
  }

  private async execute(task: TaskTable): Promise<void> {
    const handler = this.handlers.get(task.kind);
    const renew = setInterval(() => {
      const until = new Date(this.clock.nowMs() + this.options.leaseMs).toISOString();
      void this.db.updateTable('tasks').set({ lease_until: until }).where('id', '=', task.id).where('lease_owner', '=', this.owner).execute().catch(() => {});
    }, this.options.leaseMs / 3);
    renew.unref();
    try {
      if (!handler) throw new Error(`no handler for task kind ${task.kind}`);
      const run: TaskRun = {
        task,
        params: JSON.parse(task.params),
        saveParams: async (tx) => {
          await (tx ?? this.db).updateTable('tasks').set({ params: JSON.stringify(run.params) }).where('id', '=', task.id).execute();
        },
        reached: async (step, tx) => {
          task.step = step;
          await (tx ?? this.db).updateTable('tasks').set({ step, updated_at: this.clock.now().toISOString() }).where('id', '=', task.id).execute();
        },
      };
      await handler(run);
    } catch (err) {
      // The handler records what the failure means for the server; this is a bug or a lost host.
      this.log.error({ err, task: task.id, kind: task.kind, server: task.server_id }, 'task failed');
    } finally {
      clearInterval(renew);
    }
    // Finished work leaves no row behind: the instance action keeps the history.
    await this.db.deleteFrom('tasks').where('id', '=', task.id).where('lease_owner', '=', this.owner).execute();
  }
}
