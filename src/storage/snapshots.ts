import { randomUUID } from 'node:crypto';
import type { Services } from '../services.js';
import { isPostgres } from '../db/database.js';
import type { DriveSnapshotTable } from '../db/schema.js';
import type { AuthContext } from '../identity/tokens.js';
import { enqueueAll } from '../tasks/runner.js';
import { DriveError, checkDriveState, guestExists, invalidField, visibleStatus } from './drive-states.js';

/** A point-in-time copy of a drive, that new drives can be cloned from (CloudSigma's /snapshots/). */
export interface Snapshot {
  id: string;
  driveId: string;
  projectId: string;
  userId: string;
  name: string;
  meta: Record<string, string>;
  tags: string[];
  /** creating, then available. */
  status: string;
  allocatedSize: number;
  size: number;
  createdAt: string;
}

export interface NewSnapshot {
  driveId: string;
  name?: string;
  meta?: Record<string, string>;
  tags?: string[];
}

export interface SnapshotQuery {
  limit: number;
  offset: number;
  drive?: string[];
  name?: string[];
  id?: string[];
}

const toSnapshot = (r: DriveSnapshotTable): Snapshot => ({
  id: r.id,
  driveId: r.drive_id,
  projectId: r.project_id,
  userId: r.user_id,
  name: r.name,
  meta: JSON.parse(r.meta),
  tags: JSON.parse(r.tags),
  status: r.status,
  allocatedSize: Number(r.allocated_size),
  size: Number(r.size),
  createdAt: r.created_at,
});

export class Snapshots {
  constructor(private readonly s: Services) {}

  /** Takes snapshots of the caller's drives, all or none; each is `creating` until the driver has taken it. */
  async create(ctx: AuthContext, requests: NewSnapshot[]): Promise<Snapshot[]> {
    const now = this.s.clock.now().toISOString();
    const rows = await this.s.db.transaction().execute(async (tx) => {
      const rows: DriveSnapshotTable[] = [];
      for (const [i, r] of requests.entries()) {
        if (typeof r.driveId !== 'string') throw invalidField(`objects.${i}.drive`, 'drive is required.');
        const drive = await tx
          .selectFrom('drives')
          .selectAll()
          .where('id', '=', r.driveId)
          .where('project_id', '=', ctx.projectId ?? '')
          .$if(isPostgres(tx), (q) => q.forUpdate())
          .executeTakeFirst();
        if (!drive) throw invalidField(`objects.${i}.drive`, `Drive ${r.driveId} does not exist.`);
        const holders = await tx
          .selectFrom('drive_attachments')
          .innerJoin('servers', 'servers.id', 'drive_attachments.server_id')
          .select(['servers.vm_state', 'servers.task_state'])
          .where('drive_attachments.drive_id', '=', drive.id)
          .where('servers.deleted', '=', 0)
          .execute();
        checkDriveState(drive.id, visibleStatus(drive.status, holders.some(guestExists), drive.location === null || this.s.driver.storageUp(drive.location)), 'snapshot');
        rows.push({
          id: randomUUID(),
          drive_id: drive.id,
          project_id: drive.project_id,
          user_id: ctx.userId,
          name: r.name ?? now,
          meta: JSON.stringify(r.meta ?? {}),
          tags: JSON.stringify(r.tags ?? []),
          status: 'creating',
          allocated_size: 0,
          size: Number(drive.size),
          created_at: now,
          updated_at: now,
        });
      }
      if (rows.length) await tx.insertInto('drive_snapshots').values(rows).execute();
      // Keyed by the drive: a drive's snapshots, resizes and deletion run one at a time.
      await enqueueAll(
        tx,
        this.s.clock,
        rows.map((r) => ({ serverId: r.drive_id, kind: 'drive_snapshot', step: 'snapshot', params: { snapshotId: r.id } })),
      );
      return rows;
    });
    this.s.runner.kick();
    return rows.map(toSnapshot);
  }

  async get(ctx: AuthContext, id: string): Promise<Snapshot> {
    const row = await this.s.db.selectFrom('drive_snapshots').selectAll().where('id', '=', id).where('project_id', '=', ctx.projectId ?? '').executeTakeFirst();
    if (!row) throw new DriveError('not_found', `Snapshot ${id} does not exist.`);
    return toSnapshot(row);
  }

  async list(ctx: AuthContext, q: SnapshotQuery): Promise<{ total: number; snapshots: Snapshot[] }> {
    let base = this.s.db.selectFrom('drive_snapshots').where('project_id', '=', ctx.projectId ?? '');
    if (q.drive?.length) base = base.where('drive_id', 'in', q.drive);
    if (q.name?.length) base = base.where('name', 'in', q.name);
    if (q.id?.length) base = base.where('id', 'in', q.id);
    const { n } = (await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()) as { n: number | string };
    const page = base.selectAll().orderBy('created_at', 'desc').orderBy('id').limit(q.limit > 0 ? q.limit : Number.MAX_SAFE_INTEGER).offset(q.offset);
    return { total: Number(n), snapshots: (await page.execute()).map(toSnapshot) };
  }

  async update(ctx: AuthContext, id: string, change: { name?: string; meta?: Record<string, string>; tags?: string[] }): Promise<Snapshot> {
    await this.get(ctx, id);
    const values: Partial<DriveSnapshotTable> = { updated_at: this.s.clock.now().toISOString() };
    if (change.name !== undefined) values.name = change.name;
    if (change.meta !== undefined) values.meta = JSON.stringify(change.meta);
    if (change.tags !== undefined) values.tags = JSON.stringify([...new Set(change.tags)]);
    await this.s.db.updateTable('drive_snapshots').set(values).where('id', '=', id).execute();
    return this.get(ctx, id);
  }

  async delete(ctx: AuthContext, id: string): Promise<void> {
    await this.s.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('drive_snapshots').selectAll().where('id', '=', id).where('project_id', '=', ctx.projectId ?? '').executeTakeFirst();
      if (!row) throw new DriveError('not_found', `Snapshot ${id} does not exist.`);
      if (row.status !== 'available') throw new DriveError('conflict', `Snapshot ${id} is ${row.status}.`, 'status');
      await tx.deleteFrom('drive_snapshots').where('id', '=', id).execute();
      await enqueueAll(tx, this.s.clock, [{ serverId: row.drive_id, kind: 'drive_snapshot_delete', step: 'delete', params: { snapshotId: id } }]);
    });
    this.s.runner.kick();
  }
}
