import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { isPostgres, type Db, type Tx } from '../db/database.js';
import { ONE_PROCESS, type Invalidations } from '../db/invalidations.js';
import { sql, type ExpressionBuilder } from 'kysely';
import { MAX_INT, MIN_INT, type FlavorTable, type Schema } from '../db/schema.js';
import { conflict, invalid, notFound } from '../errors.js';

/** A flavor as the core sees it: the hardware shape a server is built with. */
export interface Flavor {
  id: string;
  name: string;
  vcpus: number;
  /** MiB */
  ram: number;
  /** GiB, the root disk */
  disk: number;
  /** GiB */
  ephemeral: number;
  /** MiB */
  swap: number;
  rxtxFactor: number;
  isPublic: boolean;
  disabled: boolean;
  description: string | null;
  createdAt: string;
  extraSpecs: Record<string, string>;
}

/**
 * Who is looking. As in Nova's database layer, an admin sees every flavor; anyone else
 * sees public flavors and the private ones their project was given access to.
 */
export interface FlavorViewer {
  isAdmin: boolean;
  projectId: string | null;
}

export interface NewFlavor {
  /** Generated (a UUID) when absent. */
  id?: string | null;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
  ephemeral?: number;
  swap?: number;
  rxtxFactor?: number;
  isPublic?: boolean;
  description?: string | null;
}

export interface FlavorFilter {
  /** true: public (plus those the viewer's project may use); false: private only; null: all. */
  isPublic: boolean | null;
  disabled?: boolean;
  minRam?: number;
  minDisk?: number;
}

/** Nova's flavor sort keys (nova.api.openstack.compute.schemas.flavors.VALID_SORT_KEYS). */
export const FLAVOR_SORT_KEYS = [
  'created_at', 'description', 'disabled', 'ephemeral_gb', 'flavorid', 'id', 'is_public', 'memory_mb', 'name',
  'root_gb', 'rxtx_factor', 'swap', 'updated_at', 'vcpu_weight', 'vcpus',
] as const;
export type FlavorSortKey = (typeof FLAVOR_SORT_KEYS)[number];

export interface FlavorPage {
  sortKey: FlavorSortKey;
  sortDir: 'asc' | 'desc';
  limit: number;
  marker?: string;
}

type SortValue = string | number | boolean | null;

/**
 * Nova's sort keys over our columns. Nova breaks ties by its internal row id, which is
 * creation order; `id`, `updated_at` and `vcpu_weight` (which we do not keep) sort that way too.
 */
const SORT_VALUE: Record<FlavorSortKey, (f: Flavor) => SortValue> = {
  created_at: (f) => f.createdAt,
  description: (f) => f.description,
  disabled: (f) => f.disabled,
  ephemeral_gb: (f) => f.ephemeral,
  flavorid: (f) => f.id,
  id: () => null,
  is_public: (f) => f.isPublic,
  memory_mb: (f) => f.ram,
  name: (f) => f.name,
  root_gb: (f) => f.disk,
  rxtx_factor: (f) => f.rxtxFactor,
  swap: (f) => f.swap,
  updated_at: () => null,
  vcpu_weight: () => null,
  vcpus: (f) => f.vcpus,
};

/** NULL sorts first, as in MySQL, Nova's usual database. */
function compareValues(a: SortValue, b: SortValue): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e.code === '23505' || /UNIQUE constraint failed/.test(e.message ?? '');
}

const flavorNotFound = (id: string) => notFound(`Flavor ${id} could not be found.`);

function toFlavor(row: FlavorTable, extraSpecs: Record<string, string>): Flavor {
  return {
    id: row.id,
    name: row.name,
    vcpus: row.vcpus,
    ram: row.ram,
    disk: row.disk,
    ephemeral: row.ephemeral,
    swap: row.swap,
    rxtxFactor: Number(row.rxtx_factor),
    isPublic: Boolean(row.is_public),
    disabled: Boolean(row.disabled),
    description: row.description,
    createdAt: row.created_at,
    extraSpecs,
  };
}

/**
 * How long a listed page of flavors is answered from memory. Listing is the busiest flavor
 * route and its two queries were most of its cost, while flavors change rarely. Every
 * flavor, extra spec or access change made through this process clears the copies at
 * once; a change made by another process (a second API node on PostgreSQL) is announced
 * (src/db/invalidations.ts) and clears them too, or at worst shows here this much later. Wall time, not the injected clock: this bounds staleness, not
 * anything the API promises about time.
 */
const LIST_CACHE_MS = 1000;
/** Distinct listings kept (viewer, filter and page): past this the copies are dropped. */
const LIST_CACHE_ENTRIES = 256;

/** Flavors, their extra specs and who may use the private ones (nova.objects.Flavor). */
export class Flavors {
  private readonly listed = new Map<string, { until: number; flavors: Flavor[] }>();
  /** Bumped by every write, so a listing read before a write never lands in the cache after it. */
  private generation = 0;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly invalidations: Invalidations = ONE_PROCESS,
  ) {
    invalidations.on('flavors', () => this.forgetListings());
  }

  private forgetListings(): void {
    this.generation++;
    this.listed.clear();
  }

  /**
   * Runs a write and forgets every cached listing, whether the write succeeded or not; the
   * other processes sharing the database are told to forget theirs.
   */
  private async changing<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } finally {
      this.forgetListings();
      await this.invalidations.announce('flavors');
    }
  }

  /**
   * Flavors matching `filter`, sorted and paged as Nova's paginate_query does: the page starts
   * after the marker flavor's place in the sort order, wherever the filter puts it.
   */
  async list(viewer: FlavorViewer, filter: FlavorFilter, page: FlavorPage): Promise<Flavor[]> {
    const key = JSON.stringify([viewer.isAdmin, viewer.projectId, filter.isPublic, filter.disabled, filter.minRam, filter.minDisk, page.sortKey, page.sortDir, page.limit, page.marker]);
    const cached = this.listed.get(key);
    if (cached && cached.until > Date.now()) return cached.flavors;
    const generation = this.generation;
    const flavors = await this.listFromDatabase(viewer, filter, page);
    if (generation === this.generation) {
      if (this.listed.size >= LIST_CACHE_ENTRIES) this.listed.clear();
      this.listed.set(key, { until: Date.now() + LIST_CACHE_MS, flavors });
    }
    return flavors;
  }

  private async listFromDatabase(viewer: FlavorViewer, filter: FlavorFilter, page: FlavorPage): Promise<Flavor[]> {
    let q = this.visible(this.db, viewer);
    // No flavor size exceeds an integer column, and PostgreSQL will not compare one with a
    // larger number: such a minimum matches nothing.
    for (const [column, min] of [['ram', filter.minRam], ['disk', filter.minDisk]] as const) {
      if (min !== undefined) q = min > MAX_INT ? q.where(sql<boolean>`1 = 0`) : q.where(column, '>=', Math.max(min, MIN_INT));
    }
    if (filter.disabled !== undefined) q = q.where('disabled', '=', filter.disabled ? 1 : 0);
    if (filter.isPublic !== null) {
      const wanted = filter.isPublic ? 1 : 0;
      const projectId = filter.isPublic ? viewer.projectId : null;
      q = q.where((eb) =>
        projectId === null
          ? eb('is_public', '=', wanted)
          : eb.or([eb('is_public', '=', wanted), eb.exists(this.accessFor(eb, projectId))]),
      );
    }
    let marker: Flavor | undefined;
    if (page.marker !== undefined) {
      const row = await this.visible(this.db, viewer).selectAll().where('id', '=', page.marker).executeTakeFirst();
      if (!row) throw invalid(`marker [${page.marker}] not found`);
      marker = toFlavor(row, {});
    }
    // Sorted here rather than in SQL so that SQLite and PostgreSQL (whose text collations
    // differ) give the same order; a cloud has tens of flavors, not millions.
    const rows = (await q.selectAll().execute()).map((r) => toFlavor(r, {}));
    const value = SORT_VALUE[page.sortKey];
    const sign = page.sortDir === 'desc' ? -1 : 1;
    const compare = (a: Flavor, b: Flavor) =>
      sign * (compareValues(value(a), value(b)) || compareValues(a.createdAt, b.createdAt) || compareValues(a.id, b.id));
    rows.sort(compare);
    const after = marker ? rows.filter((f) => compare(f, marker) > 0) : rows;
    const flavors = after.slice(0, page.limit);
    const specs = await this.specsOf(flavors.map((f) => f.id));
    return flavors.map((f) => ({ ...f, extraSpecs: specs.get(f.id) ?? {} }));
  }

  /**
   * The flavor if the viewer may see it (public, or private with access for their project),
   * else undefined: the one lookup of every path that takes a flavor id from a caller (the
   * flavor routes, server create and resize). `db` is the caller's transaction, if any.
   */
  async find(viewer: FlavorViewer, id: string, db: Db | Tx = this.db): Promise<Flavor | undefined> {
    const row = await this.visible(db, viewer).selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    const specs = await this.specsOf([id], db);
    return toFlavor(row, specs.get(id) ?? {});
  }

  /** The flavor, if the viewer may see it; 404 otherwise, as Nova does not tell the two apart. */
  async get(viewer: FlavorViewer, id: string): Promise<Flavor> {
    const flavor = await this.find(viewer, id);
    if (!flavor) throw flavorNotFound(id);
    return flavor;
  }

  async create(input: NewFlavor): Promise<Flavor> {
    const row: FlavorTable = {
      id: input.id ?? randomUUID(),
      name: input.name.trim(),
      vcpus: input.vcpus,
      ram: input.ram,
      disk: input.disk,
      ephemeral: input.ephemeral ?? 0,
      swap: input.swap ?? 0,
      rxtx_factor: input.rxtxFactor ?? 1,
      is_public: input.isPublic === false ? 0 : 1,
      disabled: 0,
      description: input.description ?? null,
      created_at: this.clock.now().toISOString(),
    };
    try {
      await this.changing(() =>
        this.db.transaction().execute(async (tx) => {
          const taken = await tx.selectFrom('flavors').select(['id', 'name']).where((eb) => eb.or([eb('id', '=', row.id), eb('name', '=', row.name)])).execute();
          if (taken.some((t) => t.id === row.id)) throw conflict(`Flavor with ID ${row.id} already exists.`);
          if (taken.length) throw conflict(`Flavor with name ${row.name} already exists.`);
          await tx.insertInto('flavors').values(row).execute();
        }),
      );
    } catch (err) {
      // Two creations racing past the check: the unique constraints decide.
      if (isUniqueViolation(err)) {
        const sameId = await this.db.selectFrom('flavors').select('id').where('id', '=', row.id).executeTakeFirst();
        throw conflict(sameId ? `Flavor with ID ${row.id} already exists.` : `Flavor with name ${row.name} already exists.`);
      }
      throw err;
    }
    return toFlavor(row, {});
  }

  /** The only thing about a flavor that may change after creation (2.55). */
  async updateDescription(id: string, description: string | null): Promise<Flavor> {
    const r = await this.changing(() => this.db.updateTable('flavors').set({ description }).where('id', '=', id).executeTakeFirst());
    if (!Number(r.numUpdatedRows)) throw flavorNotFound(id);
    return this.get({ isAdmin: true, projectId: null }, id);
  }

  /** Deletes the flavor with its extra specs and access list; servers keep their own copy. */
  async delete(id: string): Promise<void> {
    await this.changing(() =>
      this.db.transaction().execute(async (tx) => {
        await tx.deleteFrom('flavor_extra_specs').where('flavor_id', '=', id).execute();
        await tx.deleteFrom('flavor_access').where('flavor_id', '=', id).execute();
        const r = await tx.deleteFrom('flavors').where('id', '=', id).executeTakeFirst();
        if (!Number(r.numDeletedRows)) throw flavorNotFound(id);
      }),
    );
  }

  // ── extra specs ──

  async extraSpecs(viewer: FlavorViewer, id: string): Promise<Record<string, string>> {
    return (await this.get(viewer, id)).extraSpecs;
  }

  async extraSpec(viewer: FlavorViewer, id: string, key: string): Promise<string> {
    const specs = await this.extraSpecs(viewer, id);
    if (!Object.hasOwn(specs, key)) throw notFound(`Flavor ${id} has no extra specs with key ${key}.`);
    return specs[key];
  }

  /** Adds or replaces the given keys; the others stay. */
  async setExtraSpecs(viewer: FlavorViewer, id: string, specs: Record<string, string>): Promise<void> {
    await this.changing(() =>
      this.db.transaction().execute(async (tx) => {
        if (!(await this.lockedVisible(tx, viewer, id))) throw flavorNotFound(id);
        for (const [key, value] of Object.entries(specs)) {
          await tx
            .insertInto('flavor_extra_specs')
            .values({ flavor_id: id, key, value })
            .onConflict((oc) => oc.columns(['flavor_id', 'key']).doUpdateSet({ value }))
            .execute();
        }
      }),
    );
  }

  async deleteExtraSpec(viewer: FlavorViewer, id: string, key: string): Promise<void> {
    await this.changing(() =>
      this.db.transaction().execute(async (tx) => {
        if (!(await this.lockedVisible(tx, viewer, id))) throw flavorNotFound(id);
        const r = await tx.deleteFrom('flavor_extra_specs').where('flavor_id', '=', id).where('key', '=', key).executeTakeFirst();
        if (!Number(r.numDeletedRows)) throw notFound(`Flavor ${id} has no extra specs with key ${key}.`);
      }),
    );
  }

  // ── access to private flavors ──

  /** The projects that may use the (private) flavor. */
  async projects(id: string): Promise<string[]> {
    const rows = await this.db.selectFrom('flavor_access').select('project_id').where('flavor_id', '=', id).orderBy('project_id').execute();
    return rows.map((r) => r.project_id);
  }

  async addAccess(id: string, projectId: string): Promise<string[]> {
    try {
      await this.changing(() =>
        this.db.transaction().execute(async (tx) => {
          if (!(await this.lockedVisible(tx, { isAdmin: true, projectId: null }, id))) throw flavorNotFound(id);
          const exists = await tx.selectFrom('flavor_access').select('flavor_id').where('flavor_id', '=', id).where('project_id', '=', projectId).executeTakeFirst();
          if (exists) throw accessExists(id, projectId);
          await tx.insertInto('flavor_access').values({ flavor_id: id, project_id: projectId }).execute();
        }),
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw accessExists(id, projectId);
      throw err;
    }
    return this.projects(id);
  }

  async removeAccess(id: string, projectId: string): Promise<string[]> {
    const r = await this.changing(() => this.db.deleteFrom('flavor_access').where('flavor_id', '=', id).where('project_id', '=', projectId).executeTakeFirst());
    if (!Number(r.numDeletedRows)) throw notFound(`Flavor access not found for ${id} / ${projectId} combination.`);
    return this.projects(id);
  }

  // ── queries ──

  private visible(db: Db | Tx, viewer: FlavorViewer) {
    const q = db.selectFrom('flavors');
    if (viewer.isAdmin) return q;
    const projectId = viewer.projectId;
    return q.where((eb) =>
      projectId === null ? eb('is_public', '=', 1) : eb.or([eb('is_public', '=', 1), eb.exists(this.accessFor(eb, projectId))]),
    );
  }

  /**
   * The flavor, if the viewer sees it, locked until the transaction ends on PostgreSQL:
   * what is written under it (extra specs, access) cannot meet a flavor deleted in the
   * meantime (a foreign key violation, a 500); the delete waits, or came first and this is 404.
   */
  private lockedVisible(tx: Tx, viewer: FlavorViewer, id: string) {
    return this.visible(tx, viewer)
      .select('id')
      .where('id', '=', id)
      .$if(isPostgres(tx), (q) => q.forUpdate())
      .executeTakeFirst();
  }

  private accessFor(eb: ExpressionBuilder<Schema, 'flavors'>, projectId: string) {
    return eb
      .selectFrom('flavor_access')
      .select('flavor_access.flavor_id')
      .whereRef('flavor_access.flavor_id', '=', 'flavors.id')
      .where('flavor_access.project_id', '=', projectId);
  }

  private async specsOf(ids: string[], db: Db | Tx = this.db): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>();
    if (!ids.length) return out;
    const rows = await db.selectFrom('flavor_extra_specs').select(['flavor_id', 'key', 'value']).where('flavor_id', 'in', ids).orderBy('key').execute();
    for (const r of rows) {
      let specs = out.get(r.flavor_id);
      if (!specs) out.set(r.flavor_id, (specs = {}));
      specs[r.key] = r.value;
    }
    return out;
  }
}

const accessExists = (id: string, projectId: string) =>
  conflict(`Flavor access already exists for flavor ${id} and project ${projectId} combination.`);
