import { randomUUID } from 'node:crypto';
import type { Db, Tx } from '../db/database.js';
import type { Clock } from '../clock.js';
import type { AuthContext } from '../identity/tokens.js';
import { notFound } from '../errors.js';

/**
 * Jobs: what a client watches of a long operation (CloudSigma's /jobs/): a drive's or a
 * server's clone, its progress and its end. A server's clone has one child job per drive it
 * copies; its progress is theirs. The work itself is a durable task; a job is its record.
 */
export type JobState = 'started' | 'success' | 'error';
export type JobOperation = 'drive_clone' | 'server_clone' | 'drive_create' | 'drive_resize' | 'snapshot_create';

export interface JobResource {
  kind: 'drive' | 'server' | 'snapshot' | 'libdrive';
  id: string;
}

export interface Job {
  id: string;
  projectId: string;
  operation: string;
  state: JobState;
  progress: number;
  parentId: string | null;
  resources: JobResource[];
  children: Job[];
  createdAt: string;
  updatedAt: string;
}

export interface JobQuery {
  limit: number;
  offset: number;
  state?: string[];
}

export class Jobs {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async create(tx: Tx, projectId: string, operation: JobOperation, resources: JobResource[], parentId: string | null = null): Promise<string> {
    const id = randomUUID();
    const now = this.clock.now().toISOString();
    await tx.insertInto('jobs').values({ id, project_id: projectId, operation, state: 'started', progress: 0, parent_id: parentId, created_at: now, updated_at: now }).execute();
    if (resources.length) {
      await tx
        .insertInto('job_resources')
        .values(resources.map((r, position) => ({ job_id: id, position, kind: r.kind, resource_id: r.id })))
        .execute();
    }
    return id;
  }

  /** Records a job's progress (never backwards); a parent's is the mean of its children's. */
  async progress(db: Db | Tx, id: string, percent: number): Promise<void> {
    const now = this.clock.now().toISOString();
    await db.updateTable('jobs').set({ progress: Math.min(100, Math.round(percent)), updated_at: now }).where('id', '=', id).where('state', '=', 'started').where('progress', '<', Math.round(percent)).execute();
    await this.rollUp(db, id);
  }

  /** Ends a job, and its parent when it was the last child running. */
  async finish(db: Db | Tx, id: string, state: 'success' | 'error'): Promise<void> {
    const now = this.clock.now().toISOString();
    await db
      .updateTable('jobs')
      .set({ state, ...(state === 'success' ? { progress: 100 } : {}), updated_at: now })
      .where('id', '=', id)
      .where('state', '=', 'started')
      .execute();
    await this.rollUp(db, id);
  }

  /** The parent follows its children: their mean progress; success when all succeeded, error when one failed. */
  private async rollUp(db: Db | Tx, id: string): Promise<void> {
    const job = await db.selectFrom('jobs').select('parent_id').where('id', '=', id).executeTakeFirst();
    if (!job?.parent_id) return;
    const children = await db.selectFrom('jobs').select(['state', 'progress']).where('parent_id', '=', job.parent_id).execute();
    const now = this.clock.now().toISOString();
    const progress = Math.round(children.reduce((sum, c) => sum + (c.state === 'success' ? 100 : c.progress), 0) / children.length);
    const state = children.some((c) => c.state === 'error') ? 'error' : children.every((c) => c.state === 'success') ? 'success' : 'started';
    await db
      .updateTable('jobs')
      .set({ progress: state === 'success' ? 100 : progress, state, updated_at: now })
      .where('id', '=', job.parent_id)
      .where('state', '=', 'started')
      .execute();
  }

  /** The caller's project's jobs, most recently changed first, top-level ones only, with the total. */
  async list(ctx: AuthContext, q: JobQuery): Promise<{ total: number; jobs: Job[] }> {
    let base = this.db.selectFrom('jobs').where('project_id', '=', ctx.projectId ?? '').where('parent_id', 'is', null);
    if (q.state?.length) base = base.where('state', 'in', q.state);
    const { n } = (await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()) as { n: number | string };
    const rows = base.selectAll().orderBy('updated_at', 'desc').orderBy('id').limit(q.limit > 0 ? q.limit : Number.MAX_SAFE_INTEGER).offset(q.offset);
    return { total: Number(n), jobs: await this.assemble(await rows.execute()) };
  }

  async get(ctx: AuthContext, id: string): Promise<Job> {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).where('project_id', '=', ctx.projectId ?? '').executeTakeFirst();
    if (!row) throw notFound(`Job ${id} does not exist.`);
    return (await this.assemble([row]))[0];
  }

  /** The ids of the jobs about each resource, oldest first. */
  async ofResources(ids: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db
        .selectFrom('job_resources')
        .innerJoin('jobs', 'jobs.id', 'job_resources.job_id')
        .select(['job_resources.resource_id', 'jobs.id'])
        .where('job_resources.resource_id', 'in', ids.slice(i, i + 500))
        .orderBy('jobs.created_at')
        .orderBy('jobs.id')
        .execute();
      for (const r of rows) out.set(r.resource_id, [...(out.get(r.resource_id) ?? []), r.id]);
    }
    return out;
  }

  private async assemble(rows: { id: string; project_id: string; operation: string; state: string; progress: number; parent_id: string | null; created_at: string; updated_at: string }[]): Promise<Job[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const resources = new Map<string, JobResource[]>();
    const children = new Map<string, Job[]>();
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      for (const r of await this.db.selectFrom('job_resources').selectAll().where('job_id', 'in', chunk).orderBy('job_id').orderBy('position').execute()) {
        resources.set(r.job_id, [...(resources.get(r.job_id) ?? []), { kind: r.kind as JobResource['kind'], id: r.resource_id }]);
      }
      const kids = await this.db.selectFrom('jobs').selectAll().where('parent_id', 'in', chunk).orderBy('created_at').orderBy('id').execute();
      for (const k of await this.assemble(kids)) children.set(k.parentId!, [...(children.get(k.parentId!) ?? []), k]);
    }
    return rows.map((r) => ({
      id: r.id,
      projectId: r.project_id,
      operation: r.operation,
      state: r.state as JobState,
      progress: r.progress,
      parentId: r.parent_id,
      resources: resources.get(r.id) ?? [],
      children: children.get(r.id) ?? [],
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    }));
  }
}
