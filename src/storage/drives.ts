import { randomUUID } from 'node:crypto';
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { Services } from '../services.js';
import { INSERT_BATCH, isPostgres, type Db, type Tx } from '../db/database.js';
import type { DriveTable, Schema } from '../db/schema.js';
import type { AuthContext } from '../identity/tokens.js';
import { enqueue, enqueueAll } from '../tasks/runner.js';
import type { DriveSource, StorageType } from '../virt/driver.js';
import { cloneName } from '../identity/profiles.js';
import type { JobResource } from './jobs.js';
import { NimbusError } from '../errors.js';
import { enforceDriveQuota } from './quotas.js';
import { lockQuotas } from '../compute/quotas.js';
import {
  DEVICES,
  DriveError,
  DriveStatus,
  GUEST_TASK_STATES,
  GUEST_VM_STATES,
  MEDIA,
  checkDriveState,
  guestExists,
  invalidField,
  isReady,
  visibleStatus,
  type Media,
} from './drive-states.js';

/** A drive as the core gives it to every face (CloudSigma's drives, Nova's volumes_attached, a later Cinder). */
export interface Drive {
  id: string;
  projectId: string;
  userId: string;
  name: string;
  size: number;
  media: Media;
  storageType: string;
  /** What clients see: the stored status, or `mounted` (drive-states.ts). */
  status: string;
  allowMultimount: boolean;
  meta: Record<string, string>;
  tags: string[];
  affinities: string[];
  licenses: unknown[];
  imageId: string | null;
  location: string | null;
  /** The root disk an image-booted Nova server was made with: not a volume in Nova's view. */
  serverRoot: boolean;
  /** The servers it is attached to, in attachment order. */
  mountedOn: string[];
  /** The jobs about it, oldest first. */
  jobs: string[];
  /** Its snapshots, newest first. */
  snapshots: string[];
  createdAt: string;
  updatedAt: string;
}

export interface NewDrive {
  name: string;
  size: number;
  media: Media;
  storageType?: string;
  allowMultimount?: boolean;
  meta?: Record<string, string>;
  tags?: string[];
  affinities?: string[];
}

export interface CloneRequest {
  name?: string;
  size?: number;
  media?: Media;
  storageType?: string;
  allowMultimount?: boolean;
  meta?: Record<string, string>;
  tags?: string[];
  affinities?: string[];
  /** Drives whose storage the copy should stay off, best effort. */
  avoid?: string[];
}

export interface DriveChange {
  name?: string;
  meta?: Record<string, string>;
  tags?: string[];
  allowMultimount?: boolean;
  media?: Media;
  size?: number;
}

/** How a server holds a drive. */
export interface DriveAttachment {
  driveId: string;
  bootOrder: number | null;
  devChannel: string;
  device: string;
}

export interface DriveQuery {
  limit: number;
  offset: number;
  /** Any of these names. */
  name?: string[];
  nameContains?: string;
  id?: string[];
  status?: string[];
  media?: string[];
  /** Tagged with all of these tag ids. */
  tag?: string[];
  order?: { key: 'id' | 'name' | 'created_at' | 'size' | 'status'; dir: 'asc' | 'desc' }[];
}

/** What a server's deletion does to the drives attached to it (CloudSigma's ?recurse=). */
export type Recurse = 'all_drives' | 'disks' | 'cdroms' | null;

const GiB = 1024 ** 3;
/** The most drives one request deletes: one transaction stays milliseconds long, as a multi-create's servers. */
export const MAX_DRIVES_PER_REQUEST = 1000;
/** The most drives one request makes (the project's `volumes` quota binds first unless raised). */
export const MAX_DRIVE_CREATES_PER_REQUEST = 100;
const DEV_CHANNEL = /^\d+:\d+$/;

type DriveRow = DriveTable;

/**
 * The drives of the core: every face creates, reads, changes and deletes drives through
 * here. Each mutation checks the drive's state (drive-states.ts) and writes the drive and its
 * task in one transaction, and returns at once; the task runner does the work through the
 * driver (tasks/drive-tasks.ts). A project sees only its own drives.
 */
export class Drives {
  constructor(private readonly s: Services) {}

  /**
   * The storage types the driver offers; the first is the default. None is known on an API
   * node before any host with storage has registered: a 503, try again shortly.
   */
  storageTypes(): StorageType[] {
    const types = this.s.driver.storageTypes();
    if (types.length === 0) throw new NimbusError('unavailable', 'No storage host has registered yet; try again shortly.');
    return types;
  }

  private storageType(name: string | undefined, field = 'storage_type'): StorageType {
    const types = this.storageTypes();
    if (name === undefined) return types[0];
    const t = types.find((x) => x.name === name);
    if (!t) throw invalidField(field, `Storage type ${name} is not available; choose one of ${types.map((x) => x.name).join(', ')}.`);
    return t;
  }

  private checkSize(size: number, type: StorageType, field = 'size'): void {
    if (!Number.isSafeInteger(size) || size <= 0) throw invalidField(field, `The size must be a positive whole number of bytes.`);
    if (size < type.minSize) throw invalidField(field, `The size of a ${type.name} drive must be at least ${type.minSize} bytes.`);
    if (size > type.maxSize) throw invalidField(field, `The size of a ${type.name} drive must be at most ${type.maxSize} bytes.`);
  }

  private checkMedia(media: unknown): asserts media is Media {
    if (!(MEDIA as readonly unknown[]).includes(media)) throw invalidField('media', `media must be one of ${MEDIA.join(', ')}.`);
  }

  /** The caller's drive row, locked on PostgreSQL until the transaction ends, or 404. */
  private async locked(tx: Tx, ctx: AuthContext, id: string, field: string | null = null): Promise<DriveRow> {
    const row = await tx
      .selectFrom('drives')
      .selectAll()
      .where('id', '=', id)
      .where('project_id', '=', ctx.projectId ?? '')
      .$if(isPostgres(tx), (q) => q.forUpdate())
      .executeTakeFirst();
    if (!row) throw new DriveError(field ? 'invalid' : 'not_found', `Drive ${id} does not exist.`, field);
    return row;
  }

  /** Whether a guest holds each of these drives. */
  private async mountedSet(db: Db | Tx, ids: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await db
        .selectFrom('drive_attachments')
        .innerJoin('servers', 'servers.id', 'drive_attachments.server_id')
        .select(['drive_attachments.drive_id', 'servers.vm_state', 'servers.task_state'])
        .where('drive_attachments.drive_id', 'in', ids.slice(i, i + 500))
        .where('servers.deleted', '=', 0)
        .execute();
      for (const r of rows) if (guestExists(r)) out.add(r.drive_id);
    }
    return out;
  }

  private async statusOf(db: Db | Tx, row: DriveRow): Promise<string> {
    return visibleStatus(row.status, (await this.mountedSet(db, [row.id])).has(row.id), this.storageUp(row.location));
  }

  /** Whether the drive's storage answers (a drive not made yet has none to lose). */
  private storageUp(location: string | null): boolean {
    return location === null || this.s.driver.storageUp(location);
  }

  /** Rows to drives, with their attachments, jobs and snapshots read in a few statements. */
  private async assemble(db: Db | Tx, rows: DriveRow[]): Promise<Drive[]> {
    const ids = rows.map((r) => r.id);
    const mounted = await this.mountedSet(db, ids);
    const on = new Map<string, string[]>();
    const snaps = new Map<string, string[]>();
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const attachments = await db
        .selectFrom('drive_attachments')
        .innerJoin('servers', 'servers.id', 'drive_attachments.server_id')
        .select(['drive_attachments.drive_id', 'drive_attachments.server_id'])
        .where('drive_attachments.drive_id', 'in', chunk)
        .where('servers.deleted', '=', 0)
        .orderBy('drive_attachments.created_at')
        .orderBy('drive_attachments.server_id')
        .execute();
      for (const a of attachments) on.set(a.drive_id, [...(on.get(a.drive_id) ?? []), a.server_id]);
      const snapshots = await db.selectFrom('drive_snapshots').select(['id', 'drive_id']).where('drive_id', 'in', chunk).orderBy('created_at', 'desc').orderBy('id').execute();
      for (const sn of snapshots) snaps.set(sn.drive_id, [...(snaps.get(sn.drive_id) ?? []), sn.id]);
    }
    const jobs = await this.s.jobs.ofResources(ids);
    return rows.map((r) => ({
      id: r.id,
      projectId: r.project_id,
      userId: r.user_id,
      name: r.name,
      size: Number(r.size),
      media: r.media,
      storageType: r.storage_type,
      status: visibleStatus(r.status, mounted.has(r.id), this.storageUp(r.location)),
      allowMultimount: r.allow_multimount === 1,
      meta: JSON.parse(r.meta),
      tags: JSON.parse(r.tags),
      affinities: JSON.parse(r.affinities),
      licenses: JSON.parse(r.licenses),
      imageId: r.image_id,
      location: r.location,
      serverRoot: r.server_root === 1,
      mountedOn: on.get(r.id) ?? [],
      jobs: jobs.get(r.id) ?? [],
      snapshots: snaps.get(r.id) ?? [],
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    }));
  }

  /** The caller's drive, or 404: another project's drive does not exist for it. */
  async get(ctx: AuthContext, id: string): Promise<Drive> {
    const row = await this.s.db.selectFrom('drives').selectAll().where('id', '=', id).where('project_id', '=', ctx.projectId ?? '').executeTakeFirst();
    if (!row) throw new DriveError('not_found', `Drive ${id} does not exist.`);
    return (await this.assemble(this.s.db, [row]))[0];
  }

  /** Drives by id, in that order, as the caller may see them (missing ones left out). */
  async many(ctx: AuthContext, ids: string[]): Promise<Drive[]> {
    if (ids.length === 0) return [];
    const rows: DriveRow[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      rows.push(...(await this.s.db.selectFrom('drives').selectAll().where('id', 'in', ids.slice(i, i + 500)).where('project_id', '=', ctx.projectId ?? '').execute()));
    }
    const byId = new Map((await this.assemble(this.s.db, rows)).map((d) => [d.id, d]));
    return ids.map((id) => byId.get(id)).filter((d): d is Drive => d !== undefined);
  }

  /** A page of the caller's drives that the query selects, with how many it selects in all. */
  async list(ctx: AuthContext, q: DriveQuery): Promise<{ total: number; drives: Drive[] }> {
    let base = this.s.db.selectFrom('drives').where('project_id', '=', ctx.projectId ?? '');
    if (q.name?.length) base = base.where('name', 'in', q.name);
    if (q.id?.length) base = base.where('id', 'in', q.id);
    if (q.media?.length) base = base.where('media', 'in', q.media as Media[]);
    if (q.nameContains !== undefined) {
      // Case-insensitive on both databases (SQLite's LIKE is, PostgreSQL's is not), wildcards literal.
      const pattern = `%${q.nameContains.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      base = base.where(sql<SqlBool>`lower(name) like ${pattern} escape '\\'`);
    }
    for (const tag of q.tag ?? []) base = base.where('tags', 'like', `%${JSON.stringify(tag)}%`);
    if (q.status?.length) {
      const statuses = q.status;
      base = base.where((eb) => eb.or(statuses.map((st) => statusMatch(eb, st))));
    }
    const { n } = (await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()) as { n: number | string };
    let page = base.selectAll();
    for (const o of q.order?.length ? q.order : [{ key: 'created_at' as const, dir: 'asc' as const }]) page = page.orderBy(o.key, o.dir);
    // limit 0 is all; SQLite takes an OFFSET only after a LIMIT.
    page = page.orderBy('id').limit(q.limit > 0 ? q.limit : Number.MAX_SAFE_INTEGER).offset(q.offset);
    return { total: Number(n), drives: await this.assemble(this.s.db, await page.execute()) };
  }

  /** Creates drives, all or none; each is `creating` until the driver has made it. */
  async create(ctx: AuthContext, requests: NewDrive[]): Promise<Drive[]> {
    if (requests.length > MAX_DRIVE_CREATES_PER_REQUEST) throw invalidField('objects', `At most ${MAX_DRIVE_CREATES_PER_REQUEST} drives per request.`);
    const now = this.s.clock.now().toISOString();
    const rows: DriveRow[] = requests.map((r) => {
      this.checkMedia(r.media);
      const type = this.storageType(r.storageType);
      this.checkSize(r.size, type);
      return this.newRow(ctx, { ...r, storageType: type.name }, DriveStatus.CREATING, now);
    });
    await this.s.db.transaction().execute(async (tx) => {
      await enforceDriveQuota(tx, ctx.projectId!, { volumes: rows.length, bytes: rows.reduce((n, r) => n + Number(r.size), 0) });
      for (let i = 0; i < rows.length; i += INSERT_BATCH) await tx.insertInto('drives').values(rows.slice(i, i + INSERT_BATCH)).execute();
      await enqueueAll(
        tx,
        this.s.clock,
        rows.map((r) => ({ serverId: r.id, kind: 'drive_create', step: 'create', params: {} })),
      );
    });
    this.s.runner.kick();
    return this.assemble(this.s.db, rows);
  }

  private newRow(ctx: AuthContext, r: NewDrive & { storageType: string }, status: string, now: string, extra: Partial<DriveRow> = {}): DriveRow {
    return {
      id: randomUUID(),
      project_id: ctx.projectId!,
      user_id: ctx.userId,
      name: r.name,
      size: r.size,
      media: r.media,
      storage_type: r.storageType,
      status,
      allow_multimount: r.allowMultimount ? 1 : 0,
      meta: JSON.stringify(r.meta ?? {}),
      tags: JSON.stringify([...new Set(r.tags ?? [])]),
      affinities: JSON.stringify(r.affinities ?? []),
      licenses: '[]',
      image_id: null,
      location: null,
      server_root: 0,
      created_at: now,
      updated_at: now,
      ...extra,
    };
  }

  /** The name a copy of `source` gets under the caller's clone naming, unless one is asked for. */
  private async copyName(tx: Tx, ctx: AuthContext, source: string, asked: string | undefined): Promise<string> {
    if (asked !== undefined) return asked;
    const naming = await this.s.profiles.cloneNaming(tx, ctx.userId);
    const taken =
      naming === 'COUNTER'
        ? (await tx.selectFrom('drives').select('name').where('project_id', '=', ctx.projectId ?? '').where('name', 'like', `${source}%`).execute()).map((r) => r.name)
        : [];
    return cloneName(naming, source, this.s.clock.now(), taken);
  }

  /** Where the drives to avoid are kept. */
  private async avoidedLocations(tx: Tx, ctx: AuthContext, ids: string[] | undefined): Promise<string[]> {
    if (!ids?.length) return [];
    const rows = await tx.selectFrom('drives').select(['id', 'location']).where('id', 'in', ids).where('project_id', '=', ctx.projectId ?? '').execute();
    const found = new Set(rows.map((r) => r.id));
    const missing = ids.find((id) => !found.has(id));
    if (missing) throw invalidField('avoid', `Drive ${missing} does not exist.`);
    return [...new Set(rows.map((r) => r.location).filter((l): l is string => l !== null))];
  }

  /**
   * Clones one of the caller's drives: the copy is `cloning_dst` and the source
   * `cloning_src` until the driver has copied it; a drive_clone job follows it. The copy is
   * at least the source's size, on the source's storage type unless another is asked for.
   */
  async clone(ctx: AuthContext, sourceId: string, req: CloneRequest): Promise<Drive> {
    const id = await this.s.db.transaction().execute(async (tx) => {
      // The quota lock before any drive's row lock, in the order a server create takes them.
      await lockQuotas(tx, ctx.projectId!);
      const source = await this.locked(tx, ctx, sourceId);
      checkDriveState(source.id, await this.statusOf(tx, source), 'clone');
      const { id } = await this.startCopy(tx, ctx, { kind: 'drive', id: source.id }, source, req);
      await tx.updateTable('drives').set({ status: DriveStatus.CLONING_SRC, updated_at: this.s.clock.now().toISOString() }).where('id', '=', source.id).execute();
      return id;
    });
    this.s.runner.kick();
    return this.get(ctx, id);
  }

  /** Clones a library drive (an image the caller may see) into a drive of theirs. */
  async cloneImage(ctx: AuthContext, imageId: string, req: CloneRequest): Promise<Drive> {
    const library = await this.s.library.get(ctx, imageId);
    const id = await this.s.db.transaction().execute(async (tx) => {
      const from = { name: library.name, size: library.size, media: library.media, storage_type: this.storageTypes()[0].name, meta: '{}', licenses: JSON.stringify(library.licenses) };
      return (await this.startCopy(tx, ctx, { kind: 'image', id: imageId }, from, req, { image_id: imageId })).id;
    });
    this.s.runner.kick();
    return this.get(ctx, id);
  }

  /** Clones a snapshot into a new drive, the size of the drive when it was taken (or more). */
  async cloneSnapshot(ctx: AuthContext, snapshotId: string, req: CloneRequest): Promise<Drive> {
    const id = await this.s.db.transaction().execute(async (tx) => {
      const snap = await tx.selectFrom('drive_snapshots').selectAll().where('id', '=', snapshotId).where('project_id', '=', ctx.projectId ?? '').executeTakeFirst();
      if (!snap) throw new DriveError('not_found', `Snapshot ${snapshotId} does not exist.`);
      if (snap.status !== 'available') throw new DriveError('conflict', `Snapshot ${snapshotId} is ${snap.status}.`, 'status');
      const drive = await tx.selectFrom('drives').select(['media', 'storage_type', 'licenses']).where('id', '=', snap.drive_id).executeTakeFirst();
      const from = { name: snap.name, size: Number(snap.size), media: drive?.media ?? 'disk', storage_type: drive?.storage_type ?? this.storageTypes()[0].name, meta: '{}', licenses: drive?.licenses ?? '[]' };
      return (await this.startCopy(tx, ctx, { kind: 'snapshot', id: snapshotId }, from, req)).id;
    });
    this.s.runner.kick();
    return this.get(ctx, id);
  }

  /** Writes a copy (`cloning_dst`), its job and its task; the caller has checked the source. */
  private async startCopy(
    tx: Tx,
    ctx: AuthContext,
    source: DriveSource & { id: string },
    from: { name: string; size: number; media: string; storage_type: string; meta: string; licenses: string },
    req: CloneRequest,
    extra: Partial<DriveRow> = {},
    parentJob: string | null = null,
  ): Promise<{ id: string; jobId: string }> {
    const type = this.storageType(req.storageType ?? from.storage_type);
    const size = req.size ?? Number(from.size);
    if (req.size !== undefined) {
      if (!Number.isSafeInteger(req.size) || req.size <= 0) throw invalidField('size', 'The size must be a positive whole number of bytes.');
      if (req.size < Number(from.size)) throw invalidField('size', `The size of a clone must be at least its source's, ${from.size} bytes.`);
      if (req.size > type.maxSize) throw invalidField('size', `The size of a ${type.name} drive must be at most ${type.maxSize} bytes.`);
    }
    if (req.media !== undefined) this.checkMedia(req.media);
    const avoid = await this.avoidedLocations(tx, ctx, req.avoid);
    await enforceDriveQuota(tx, ctx.projectId!, { volumes: 1, bytes: size });
    const now = this.s.clock.now().toISOString();
    const row = this.newRow(
      ctx,
      {
        name: await this.copyName(tx, ctx, from.name, req.name),
        size,
        media: (req.media ?? from.media) as Media,
        storageType: type.name,
        allowMultimount: req.allowMultimount,
        meta: req.meta ?? JSON.parse(from.meta),
        tags: req.tags,
        affinities: req.affinities,
      },
      DriveStatus.CLONING_DST,
      now,
      { licenses: from.licenses, ...extra },
    );
    await tx.insertInto('drives').values(row).execute();
    const resources: JobResource[] = [
      { kind: source.kind === 'image' ? 'libdrive' : source.kind === 'snapshot' ? 'snapshot' : 'drive', id: source.id },
      { kind: 'drive', id: row.id },
    ];
    const jobId = await this.s.jobs.create(tx, ctx.projectId!, 'drive_clone', resources, parentJob);
    await enqueue(tx, this.s.clock, { serverId: row.id, kind: 'drive_clone', step: 'copy', params: { source, jobId, avoid } });
    return { id: row.id, jobId };
  }

  /** Grows a drive at rest: `resizing` until the driver is done; its size changes then. */
  async resize(ctx: AuthContext, id: string, size: number): Promise<Drive> {
    await this.s.db.transaction().execute(async (tx) => {
      await lockQuotas(tx, ctx.projectId!);
      const row = await this.locked(tx, ctx, id);
      await this.startResize(tx, row, size);
    });
    this.s.runner.kick();
    return this.get(ctx, id);
  }

  private async startResize(tx: Tx, row: DriveRow, size: number): Promise<void> {
    checkDriveState(row.id, await this.statusOf(tx, row), 'resize');
    const type = this.storageType(row.storage_type);
    this.checkSize(size, type);
    if (size < Number(row.size)) throw invalidField('size', `A drive cannot shrink: its size is ${row.size} bytes.`);
    if (!row.server_root) await enforceDriveQuota(tx, row.project_id, { volumes: 0, bytes: size - Number(row.size) });
    await tx.updateTable('drives').set({ status: DriveStatus.RESIZING, updated_at: this.s.clock.now().toISOString() }).where('id', '=', row.id).execute();
    await enqueue(tx, this.s.clock, { serverId: row.id, kind: 'drive_resize', step: 'resize', params: { size } });
  }

  /**
   * Edits a drive. Name, meta, tags and allow_multimount always change; media and size only
   * while no guest holds it (a mounted drive's are ignored, as CloudSigma ignores them), and
   * a new size is a resize.
   */
  async update(ctx: AuthContext, id: string, change: DriveChange): Promise<Drive> {
    await this.s.db.transaction().execute(async (tx) => {
      if (change.size !== undefined) await lockQuotas(tx, ctx.projectId!);
      const row = await this.locked(tx, ctx, id);
      const status = await this.statusOf(tx, row);
      const values: Partial<DriveRow> = { updated_at: this.s.clock.now().toISOString() };
      if (change.name !== undefined) values.name = change.name;
      if (change.meta !== undefined) values.meta = JSON.stringify(change.meta);
      if (change.tags !== undefined) values.tags = JSON.stringify([...new Set(change.tags)]);
      if (change.allowMultimount !== undefined) {
        if (!change.allowMultimount && row.media === 'disk') {
          const holders = await tx.selectFrom('drive_attachments').select('server_id').where('drive_id', '=', id).execute();
          if (holders.length > 1) throw new DriveError('conflict', `Drive ${id} is attached to ${holders.length} servers; detach it first.`, 'allow_multimount');
        }
        values.allow_multimount = change.allowMultimount ? 1 : 0;
      }
      const mounted = status === DriveStatus.MOUNTED;
      if (change.media !== undefined && !mounted && change.media !== row.media) {
        this.checkMedia(change.media);
        checkDriveState(id, status, 'edit_media');
        values.media = change.media;
      }
      await tx.updateTable('drives').set(values).where('id', '=', id).execute();
      if (change.size !== undefined && !mounted && change.size !== Number(row.size)) await this.startResize(tx, { ...row, ...values } as DriveRow, change.size);
    });
    this.s.runner.kick();
    return this.get(ctx, id);
  }

  /**
   * Deletes drives, all or none: each must be at rest (not held by a running guest, not
   * being made or copied). A drive attached to a stopped server is detached from it first.
   */
  async delete(ctx: AuthContext, ids: string[]): Promise<void> {
    if (ids.length > MAX_DRIVES_PER_REQUEST) throw invalidField('objects', `At most ${MAX_DRIVES_PER_REQUEST} drives per request.`);
    await this.s.db.transaction().execute(async (tx) => {
      for (const id of [...new Set(ids)]) {
        const row = await this.locked(tx, ctx, id);
        checkDriveState(id, await this.statusOf(tx, row), 'delete');
      }
      await this.remove(tx, [...new Set(ids)]);
    });
    this.s.runner.kick();
  }

  /** Removes drive rows (and their attachments and snapshots) and has the driver delete them. */
  private async remove(tx: Tx, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const servers = (await tx.selectFrom('drive_attachments').select('server_id').where('drive_id', 'in', ids).execute()).map((r) => r.server_id);
    const snapshots = await tx.selectFrom('drive_snapshots').select(['id', 'drive_id']).where('drive_id', 'in', ids).execute();
    await tx.deleteFrom('drive_attachments').where('drive_id', 'in', ids).execute();
    await tx.deleteFrom('drive_snapshots').where('drive_id', 'in', ids).execute();
    await tx.deleteFrom('drives').where('id', 'in', ids).execute();
    await enqueueAll(
      tx,
      this.s.clock,
      ids.map((id) => ({ serverId: id, kind: 'drive_delete', step: 'delete', params: { snapshots: snapshots.filter((sn) => sn.drive_id === id).map((sn) => sn.id) } })),
    );
    await this.syncVolumes(tx, [...new Set(servers)]);
  }

  // Servers and their drives ------------------------------------------------------------

  /** Each server's drives as it holds them, in boot order then channel. */
  async attachmentsOf(db: Db | Tx, serverIds: string[]): Promise<Map<string, DriveAttachment[]>> {
    const out = new Map<string, DriveAttachment[]>();
    for (let i = 0; i < serverIds.length; i += 500) {
      const rows = await db
        .selectFrom('drive_attachments')
        .selectAll()
        .where('server_id', 'in', serverIds.slice(i, i + 500))
        .orderBy('server_id')
        .orderBy('created_at')
        .orderBy('dev_channel')
        .execute();
      for (const r of rows) out.set(r.server_id, [...(out.get(r.server_id) ?? []), { driveId: r.drive_id, bootOrder: r.boot_order, devChannel: r.dev_channel, device: r.device }]);
    }
    return out;
  }

  /**
   * Makes a server's drives these (CloudSigma's server edit: the list is the whole
   * definition): drives left out are detached, new ones attached, kept ones updated. Each
   * drive must be the caller's; a disk held by another server needs allow_multimount (a
   * cdrom never does); a channel holds one drive. The caller holds the server's row lock
   * and has checked that the server may change (stopped).
   */
  async setServerDrives(tx: Tx, ctx: AuthContext, serverId: string, wanted: DriveAttachment[]): Promise<void> {
    const channels = new Set<string>();
    const seen = new Set<string>();
    for (const [i, a] of wanted.entries()) {
      const point = `drives[${i}]`;
      if (!DEV_CHANNEL.test(a.devChannel)) throw invalidField(`${point}.dev_channel`, `dev_channel must be two numbers, as 0:0.`);
      if (!(DEVICES as readonly string[]).includes(a.device)) throw invalidField(`${point}.device`, `device must be one of ${DEVICES.join(', ')}.`);
      if (a.bootOrder !== null && (!Number.isInteger(a.bootOrder) || a.bootOrder < 1)) throw invalidField(`${point}.boot_order`, 'boot_order must be a positive whole number or null.');
      const channel = `${a.device}:${a.devChannel}`;
      if (channels.has(channel)) throw invalidField(`${point}.dev_channel`, `Two drives on ${a.device} channel ${a.devChannel}.`);
      channels.add(channel);
      if (seen.has(a.driveId)) throw invalidField(`${point}.drive`, `Drive ${a.driveId} is attached twice.`);
      seen.add(a.driveId);
      const drive = await this.locked(tx, ctx, a.driveId, `${point}.drive`);
      checkDriveState(drive.id, drive.status, 'attach');
      if (drive.media === 'disk' && !drive.allow_multimount) {
        const other = await tx.selectFrom('drive_attachments').select('server_id').where('drive_id', '=', drive.id).where('server_id', '!=', serverId).executeTakeFirst();
        if (other) throw new DriveError('conflict', `Drive ${drive.id} is attached to server ${other.server_id} and does not allow multimount.`, `${point}.drive`);
      }
    }
    const now = this.s.clock.now().toISOString();
    const current = await tx.selectFrom('drive_attachments').selectAll().where('server_id', '=', serverId).execute();
    const keep = new Map(current.map((c) => [c.drive_id, c]));
    const gone = current.filter((c) => !seen.has(c.drive_id)).map((c) => c.drive_id);
    if (gone.length) await tx.deleteFrom('drive_attachments').where('server_id', '=', serverId).where('drive_id', 'in', gone).execute();
    for (const a of wanted) {
      const was = keep.get(a.driveId);
      if (was) {
        await tx
          .updateTable('drive_attachments')
          .set({ boot_order: a.bootOrder, dev_channel: a.devChannel, device: a.device })
          .where('server_id', '=', serverId)
          .where('drive_id', '=', a.driveId)
          .execute();
      } else {
        await tx
          .insertInto('drive_attachments')
          .values({ drive_id: a.driveId, server_id: serverId, boot_order: a.bootOrder, dev_channel: a.devChannel, device: a.device, delete_on_termination: 0, created_at: now })
          .execute();
      }
    }
    await this.syncVolumes(tx, [serverId]);
  }

  /** Refuses (409, naming the drive) to start a server whose drives are still being made. */
  async assertDrivesReady(db: Db | Tx, serverId: string): Promise<void> {
    const rows = await db
      .selectFrom('drive_attachments')
      .innerJoin('drives', 'drives.id', 'drive_attachments.drive_id')
      .select(['drives.id', 'drives.status'])
      .where('drive_attachments.server_id', '=', serverId)
      .execute();
    const busy = rows.find((r) => !isReady(r.status));
    if (busy) throw new DriveError('conflict', `Drive ${busy.id} is ${busy.status}; the server can start when it is ready.`, 'drives');
  }

  /**
   * The drives a new Nova server is made with, in the server's create transaction: an
   * image-booted server's root disk (a drive of its own, deleted with it, not a volume in
   * Nova's view), or a boot-from-volume server's volume (its id the one Nova shows).
   */
  async createForServers(
    tx: Tx,
    servers: { id: string; projectId: string; userId: string; name: string; imageId: string; sizeBytes: number; volume?: { id: string; deleteOnTermination: boolean } }[],
  ): Promise<void> {
    const now = this.s.clock.now().toISOString();
    // A server is accepted before any host is known, as Nova accepts it (and then finds no
    // valid host); its root disk is on the default storage type, CloudSigma's dssd, until then.
    const type = this.s.driver.storageTypes()[0] ?? { name: 'dssd' };
    const drives: DriveRow[] = [];
    const attachments: Schema['drive_attachments'][] = [];
    for (const sv of servers) {
      const id = sv.volume?.id ?? randomUUID();
      drives.push({
        id,
        project_id: sv.projectId,
        user_id: sv.userId,
        name: sv.volume ? `${sv.name} volume` : `${sv.name} root disk`,
        size: Math.max(sv.sizeBytes, GiB),
        media: 'disk',
        storage_type: type.name,
        status: DriveStatus.UNMOUNTED,
        allow_multimount: 0,
        meta: '{}',
        tags: '[]',
        affinities: '[]',
        licenses: '[]',
        image_id: sv.imageId || null,
        location: null,
        server_root: sv.volume ? 0 : 1,
        created_at: now,
        updated_at: now,
      });
      attachments.push({ drive_id: id, server_id: sv.id, boot_order: 1, dev_channel: '0:0', device: 'virtio', delete_on_termination: sv.volume ? (sv.volume.deleteOnTermination ? 1 : 0) : 1, created_at: now });
    }
    for (let i = 0; i < drives.length; i += INSERT_BATCH) await tx.insertInto('drives').values(drives.slice(i, i + INSERT_BATCH)).execute();
    for (let i = 0; i < attachments.length; i += INSERT_BATCH) await tx.insertInto('drive_attachments').values(attachments.slice(i, i + INSERT_BATCH)).execute();
  }

  /**
   * Has the driver make the drives a server was created with (its block device mapping step):
   * each attached drive the driver has not made yet (no location) is copied from its image.
   * Idempotent, as the build step that calls it may run again.
   */
  async makeServerDisks(serverId: string): Promise<void> {
    const rows = await this.s.db
      .selectFrom('drive_attachments')
      .innerJoin('drives', 'drives.id', 'drive_attachments.drive_id')
      .selectAll('drives')
      .where('drive_attachments.server_id', '=', serverId)
      .where('drives.location', 'is', null)
      .where('drives.status', '=', DriveStatus.UNMOUNTED)
      .execute();
    for (const d of rows) {
      const spec = { id: d.id, size: Number(d.size), storageType: d.storage_type, media: d.media, avoid: [] };
      const { location } = d.image_id ? await this.s.driver.cloneDrive(spec, { kind: 'image', id: d.image_id }) : await this.s.driver.createDrive(spec);
      await this.s.db.updateTable('drives').set({ location }).where('id', '=', d.id).execute();
    }
  }

  /**
   * What a server's deletion does to its drives, in the transaction that marks it deleted:
   * every attachment goes; the drives it was made with (delete_on_termination) and, with
   * `recurse`, its drives of that media are deleted too, unless another server holds them.
   */
  async releaseForServer(tx: Tx, serverId: string, recurse: Recurse = null): Promise<string[]> {
    const attached = await tx
      .selectFrom('drive_attachments')
      .innerJoin('drives', 'drives.id', 'drive_attachments.drive_id')
      .select(['drives.id', 'drives.media', 'drives.status', 'drive_attachments.delete_on_termination'])
      .where('drive_attachments.server_id', '=', serverId)
      .execute();
    await tx.deleteFrom('drive_attachments').where('server_id', '=', serverId).execute();
    const doomed: string[] = [];
    for (const d of attached) {
      const byMedia = recurse === 'all_drives' || (recurse === 'disks' && d.media === 'disk') || (recurse === 'cdroms' && d.media === 'cdrom');
      if (!byMedia && !d.delete_on_termination) continue;
      const elsewhere = await tx.selectFrom('drive_attachments').select('server_id').where('drive_id', '=', d.id).executeTakeFirst();
      if (elsewhere) continue; // a multimount or cdrom another server still holds
      if (d.status !== DriveStatus.UNMOUNTED) continue; // being copied or grown: its task owns it
      doomed.push(d.id);
    }
    await this.remove(tx, doomed);
    return doomed;
  }

  /**
   * Cascading clone of a server's drives (CloudSigma's server clone), in the transaction that
   * makes the new server: each disk is cloned (clone naming applies) and the copy attached to
   * the new server as the source holds the original; cdroms are attached as they are. A
   * server_clone job follows it all, with a drive_clone child per disk; returns its id.
   */
  async cloneServerDrives(tx: Tx, ctx: AuthContext, sourceServerId: string, targetServerId: string): Promise<string> {
    const jobId = await this.s.jobs.create(tx, ctx.projectId!, 'server_clone', [
      { kind: 'server', id: sourceServerId },
      { kind: 'server', id: targetServerId },
    ]);
    const attachments = (await this.attachmentsOf(tx, [sourceServerId])).get(sourceServerId) ?? [];
    const now = this.s.clock.now().toISOString();
    let disks = 0;
    for (const a of attachments) {
      const drive = await this.locked(tx, ctx, a.driveId);
      let attachId = drive.id;
      if (drive.media === 'disk') {
        checkDriveState(drive.id, await this.statusOf(tx, drive), 'clone');
        const copy = await this.startCopy(tx, ctx, { kind: 'drive', id: drive.id }, drive, {}, {}, jobId);
        await tx.updateTable('drives').set({ status: DriveStatus.CLONING_SRC, updated_at: now }).where('id', '=', drive.id).execute();
        attachId = copy.id;
        disks++;
      }
      await tx
        .insertInto('drive_attachments')
        .values({ drive_id: attachId, server_id: targetServerId, boot_order: a.bootOrder, dev_channel: a.devChannel, device: a.device, delete_on_termination: 0, created_at: now })
        .execute();
    }
    if (disks === 0) await this.s.jobs.finish(tx, jobId, 'success');
    await this.syncVolumes(tx, [targetServerId]);
    return jobId;
  }

  /**
   * Nova's view of a server's volumes (os-extended-volumes:volumes_attached) is kept in the
   * server row, so that a change of its drives is a change of the row and its rendering:
   * every drive attached but an image-booted server's root disk.
   */
  private async syncVolumes(tx: Tx, serverIds: string[]): Promise<void> {
    for (const serverId of serverIds) {
      const server = await tx.selectFrom('servers').select(['request_spec']).where('id', '=', serverId).where('deleted', '=', 0).executeTakeFirst();
      if (!server) continue;
      const volumes = await tx
        .selectFrom('drive_attachments')
        .innerJoin('drives', 'drives.id', 'drive_attachments.drive_id')
        .select(['drives.id', 'drive_attachments.delete_on_termination'])
        .where('drive_attachments.server_id', '=', serverId)
        .where('drives.server_root', '=', 0)
        .orderBy('drive_attachments.created_at')
        .orderBy('drive_attachments.dev_channel')
        .execute();
      const spec = JSON.parse(server.request_spec || '{}');
      spec.volumes = volumes.map((v) => ({ id: v.id, delete_on_termination: v.delete_on_termination === 1 }));
      await tx.updateTable('servers').set({ request_spec: JSON.stringify(spec), updated_at: this.s.clock.now().toISOString() }).where('id', '=', serverId).execute();
    }
  }

  /** Groups of the caller's drives kept on the same storage (CloudSigma's availability groups). */
  async availabilityGroups(ctx: AuthContext): Promise<string[][]> {
    const rows = await this.s.db.selectFrom('drives').select(['id', 'location']).where('project_id', '=', ctx.projectId ?? '').where('location', 'is not', null).orderBy('location').orderBy('id').execute();
    const groups = new Map<string, string[]>();
    for (const r of rows) groups.set(r.location!, [...(groups.get(r.location!) ?? []), r.id]);
    return [...groups.values()];
  }
}

/** The SQL for one status filter value; `mounted` and `unmounted` read the attachments. */
function statusMatch(eb: ExpressionBuilder<Schema, 'drives'>, status: string): Expression<SqlBool> {
  if (status !== DriveStatus.MOUNTED && status !== DriveStatus.UNMOUNTED) return eb('status', '=', status);
  const held = eb.exists(
    eb
      .selectFrom('drive_attachments')
      .innerJoin('servers', 'servers.id', 'drive_attachments.server_id')
      .select('drive_attachments.drive_id')
      .whereRef('drive_attachments.drive_id', '=', 'drives.id')
      .where('servers.deleted', '=', 0)
      .where((s) => s.or([s('servers.vm_state', 'in', [...GUEST_VM_STATES]), s('servers.task_state', 'in', [...GUEST_TASK_STATES])])),
  );
  return eb.and([eb('status', '=', DriveStatus.UNMOUNTED), status === DriveStatus.MOUNTED ? held : eb.not(held)]);
}
