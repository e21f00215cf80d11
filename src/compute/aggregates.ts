import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { lockName, type Db, type Tx } from '../db/database.js';
import { NimbusError, conflict, invalid, notFound } from '../errors.js';
import type { Driver } from '../virt/driver.js';

/** Nova's default_availability_zone: where a host is when no aggregate puts it elsewhere. */
export const DEFAULT_ZONE = 'nova';
/** Nova's internal_service_availability_zone: the zone of control-plane services. */
export const INTERNAL_ZONE = 'internal';
const AZ_KEY = 'availability_zone';

/** A host aggregate: a named group of compute hosts; its `availability_zone` metadata makes it a zone. */
export interface Aggregate {
  id: number;
  uuid: string;
  name: string;
  hosts: string[];
  metadata: Record<string, string>;
  availabilityZone: string | null;
  createdAt: string;
  updatedAt: string | null;
}

/** The zone a host is in when no aggregate gives it one (the driver's configured zone, else Nova's default). */
export type FallbackZone = (host: string) => string;

/** The fallback for a driver's hosts: the zone it was configured with, else 'nova'. */
export const configuredZone =
  (driver: Pick<Driver, 'hosts'>): FallbackZone =>
  (host) =>
    driver.hosts().find((h) => h.name === host)?.availabilityZone ?? DEFAULT_ZONE;

type Q = Db | Tx;

/**
 * A host's effective availability zone, as Nova computes it: the availability zone of the
 * aggregates it belongs to (joined by ',' in the impossible case they differ), else the fallback.
 */
export async function effectiveZone(db: Q, host: string, fallback: FallbackZone = () => DEFAULT_ZONE): Promise<string> {
  return (await effectiveZones(db, [host], fallback)).get(host)!;
}

async function effectiveZones(db: Q, hosts: string[], fallback: FallbackZone): Promise<Map<string, string>> {
  const zones = new Map<string, string[]>();
  if (hosts.length > 0) {
    const rows = await db
      .selectFrom('aggregate_hosts')
      .innerJoin('aggregate_metadata', 'aggregate_metadata.aggregate_id', 'aggregate_hosts.aggregate_id')
      .select(['aggregate_hosts.host', 'aggregate_metadata.value'])
      .where('aggregate_metadata.key', '=', AZ_KEY)
      .where('aggregate_hosts.host', 'in', hosts)
      .orderBy('aggregate_hosts.aggregate_id')
      .execute();
    for (const r of rows) {
      const list = zones.get(r.host) ?? [];
      if (!list.includes(r.value)) list.push(r.value);
      zones.set(r.host, list);
    }
  }
  return new Map(hosts.map((h) => [h, zones.get(h)?.join(',') ?? fallback(h)]));
}

/**
 * Writes each host's effective zone where the scheduler and the server views read it
 * (hosts.availability_zone, and the zone its live servers show, which follows the host's
 * as in Nova's server view). Call it in the transaction that changed membership or zones,
 * and after hosts are (re-)registered, since registration writes the configured zone.
 */
export async function syncHostZones(db: Q, fallback: FallbackZone, hosts?: string[]): Promise<void> {
  const names = hosts ?? (await db.selectFrom('hosts').select('name').execute()).map((h) => h.name);
  const zones = await effectiveZones(db, names, fallback);
  for (const [host, zone] of zones) {
    await db.updateTable('hosts').set({ availability_zone: zone }).where('name', '=', host).where('availability_zone', '!=', zone).execute();
    await db
      .updateTable('servers')
      .set({ availability_zone: zone })
      .where('host', '=', host)
      .where('deleted', '=', 0)
      .where((eb) => eb.or([eb('availability_zone', 'is', null), eb('availability_zone', '!=', zone)]))
      .execute();
  }
}

/** A list of strings as Python prints it, since Nova's messages embed Python lists. */
const pyList = (items: string[]) => `[${items.map((s) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(', ')}]`;

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e.code === '23505' || /UNIQUE constraint failed/.test(e.message ?? '');
}

const nameExists = (name: string) => conflict(`Aggregate ${name} already exists.`);
const aggregateNotFound = (id: number | string) => notFound(`Aggregate ${id} could not be found.`);

/** Nova's InvalidAggregateAction* wordings, keyed by what was being done. */
const ACTION_WORDING = {
  add: 'Cannot add host to aggregate',
  delete: 'Cannot remove host from aggregate',
  update: 'Cannot update aggregate',
  update_meta: 'Cannot update metadata of aggregate',
} as const;
type AggregateAction = keyof typeof ACTION_WORDING;

function invalidAction(action: AggregateAction, id: number, reason: string): NimbusError {
  const message = `${ACTION_WORDING[action]} ${id}. Reason: ${reason}.`;
  // Adding a host answers 409 in Nova; the other actions answer 400.
  return action === 'add' ? conflict(message) : invalid(message);
}

/** Host aggregates and the availability zones they define (nova.compute.api.AggregateAPI). */
export class Aggregates {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly fallback: FallbackZone,
  ) {}

  private now(): string {
    return this.clock.now().toISOString();
  }

  private async load(db: Q, ids?: number[]): Promise<Aggregate[]> {
    let q = db.selectFrom('aggregates').selectAll().orderBy('id');
    if (ids) q = q.where('id', 'in', ids.length ? ids : [-1]);
    const rows = await q.execute();
    if (rows.length === 0) return [];
    const rowIds = rows.map((r) => r.id);
    const hosts = await db.selectFrom('aggregate_hosts').select(['aggregate_id', 'host']).where('aggregate_id', 'in', rowIds).orderBy('created_at').orderBy('host').execute();
    const meta = await db.selectFrom('aggregate_metadata').select(['aggregate_id', 'key', 'value']).where('aggregate_id', 'in', rowIds).orderBy('key').execute();
    return rows.map((r) => {
      const metadata: Record<string, string> = {};
      for (const m of meta) if (m.aggregate_id === r.id) metadata[m.key] = m.value;
      return {
        id: r.id,
        uuid: r.uuid,
        name: r.name,
        hosts: hosts.filter((h) => h.aggregate_id === r.id).map((h) => h.host),
        metadata,
        availabilityZone: metadata[AZ_KEY] ?? null,
        createdAt: r.created_at,
        updatedAt: r.updated_at,
      };
    });
  }

  private async find(db: Q, id: number): Promise<Aggregate> {
    const [agg] = await this.load(db, [id]);
    if (!agg) throw aggregateNotFound(id);
    return agg;
  }

  list(): Promise<Aggregate[]> {
    return this.load(this.db);
  }

  get(id: number): Promise<Aggregate> {
    return this.find(this.db, id);
  }

  /**
   * Runs a mutation in one transaction under the `aggregates` lock: what it checks (a name
   * free, a host not yet a member, a zone not clashing with the host's other aggregates)
   * still holds when it writes, whatever runs beside it. Aggregates are admin-made and
   * few, so one lock for all of them costs nothing. A unique-name race lost to another
   * request (before this lock existed, or from a writer without it) is still a 409.
   */
  private async mutate<T>(name: string | undefined, fn: (tx: Tx) => Promise<T>): Promise<T> {
    try {
      return await this.db.transaction().execute(async (tx) => {
        await lockName(tx, 'aggregates');
        return fn(tx);
      });
    } catch (err) {
      if (name !== undefined && isUniqueViolation(err)) throw nameExists(name);
      throw err;
    }
  }

  async create(name: string, availabilityZone: string | null): Promise<Aggregate> {
    return this.mutate(name, async (tx) => {
      if (await tx.selectFrom('aggregates').select('id').where('name', '=', name).executeTakeFirst()) throw nameExists(name);
      const { id } = await tx
        .insertInto('aggregates')
        .values({ uuid: randomUUID(), name, created_at: this.now(), updated_at: null })
        .returning('id')
        .executeTakeFirstOrThrow();
      if (availabilityZone) await tx.insertInto('aggregate_metadata').values({ aggregate_id: id, key: AZ_KEY, value: availabilityZone }).execute();
      return this.find(tx, id);
    });
  }

  /**
   * Nova's is_safe_to_update_az: a zone must be named, a host may be in one zone only,
   * and (when asked) a zone may not be renamed under servers already running in it.
   */
  private async checkZoneChange(tx: Tx, action: AggregateAction, agg: Aggregate, metadata: Record<string, string | null>, hosts: string[], checkNoServers: boolean): Promise<void> {
    if (!(AZ_KEY in metadata)) return;
    const zone = metadata[AZ_KEY];
    if (!zone) throw invalidAction(action, agg.id, `Aggregate ${agg.name} does not support empty named availability zone`);
    if (hosts.length > 0) {
      const others = await tx
        .selectFrom('aggregate_hosts')
        .innerJoin('aggregate_metadata', 'aggregate_metadata.aggregate_id', 'aggregate_hosts.aggregate_id')
        .select(['aggregate_hosts.aggregate_id', 'aggregate_metadata.value'])
        .distinct()
        .where('aggregate_metadata.key', '=', AZ_KEY)
        .where('aggregate_hosts.host', 'in', hosts)
        .where('aggregate_hosts.aggregate_id', '!=', agg.id)
        .where('aggregate_metadata.value', '!=', zone)
        .orderBy('aggregate_hosts.aggregate_id')
        .execute();
      if (others.length > 0) {
        throw invalidAction(action, agg.id, `One or more hosts already in availability zone(s) ${pyList(others.map((o) => o.value))}`);
      }
      if (checkNoServers && agg.availabilityZone !== zone) {
        const servers = await tx
          .selectFrom('servers')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('host', 'in', hosts)
          .where('deleted', '=', 0)
          .where('vm_state', '!=', 'shelved_offloaded')
          .executeTakeFirst();
        if (Number(servers?.n ?? 0) > 0) throw invalidAction(action, agg.id, 'One or more hosts contain instances in this zone');
      }
    }
  }

  /** Sets (string) or removes (null) metadata keys; other keys are kept. */
  private async writeMetadata(tx: Tx, id: number, metadata: Record<string, string | null>): Promise<void> {
    for (const [key, value] of Object.entries(metadata)) {
      await tx.deleteFrom('aggregate_metadata').where('aggregate_id', '=', id).where('key', '=', key).execute();
      if (value !== null) await tx.insertInto('aggregate_metadata').values({ aggregate_id: id, key, value }).execute();
    }
  }

  /** Renames and/or moves the aggregate to another zone (PUT /os-aggregates/{id}). */
  async update(id: number, changes: { name?: string; availabilityZone?: string | null }): Promise<Aggregate> {
    return this.mutate(changes.name, async (tx) => {
      const agg = await this.find(tx, id);
      if (changes.name !== undefined && changes.name !== agg.name) {
        if (await tx.selectFrom('aggregates').select('id').where('name', '=', changes.name).executeTakeFirst()) throw nameExists(changes.name);
        await tx.updateTable('aggregates').set({ name: changes.name }).where('id', '=', id).execute();
      }
      if (changes.availabilityZone !== undefined) {
        const metadata = { [AZ_KEY]: changes.availabilityZone };
        await this.checkZoneChange(tx, 'update', agg, metadata, agg.hosts, true);
        await this.writeMetadata(tx, id, metadata);
        await syncHostZones(tx, this.fallback, agg.hosts);
      }
      await tx.updateTable('aggregates').set({ updated_at: this.now() }).where('id', '=', id).execute();
      return this.find(tx, id);
    });
  }

  /** Merges metadata into the aggregate's: a null value removes the key (set_metadata). */
  async setMetadata(id: number, metadata: Record<string, string | null>): Promise<Aggregate> {
    return this.mutate(undefined, async (tx) => {
      const agg = await this.find(tx, id);
      await this.checkZoneChange(tx, 'update_meta', agg, metadata, agg.hosts, true);
      await this.writeMetadata(tx, id, metadata);
      if (AZ_KEY in metadata) await syncHostZones(tx, this.fallback, agg.hosts);
      await tx.updateTable('aggregates').set({ updated_at: this.now() }).where('id', '=', id).execute();
      return this.find(tx, id);
    });
  }

  async delete(id: number): Promise<void> {
    await this.mutate(undefined, async (tx) => {
      const agg = await this.find(tx, id);
      if (agg.hosts.length > 0) throw invalidAction('delete', id, 'Host aggregate is not empty');
      await tx.deleteFrom('aggregate_metadata').where('aggregate_id', '=', id).execute();
      await tx.deleteFrom('aggregates').where('id', '=', id).execute();
    });
  }

  async addHost(id: number, host: string): Promise<Aggregate> {
    return this.mutate(undefined, async (tx) => {
      if (!(await tx.selectFrom('hosts').select('id').where('name', '=', host).executeTakeFirst())) {
        throw notFound(`Compute host ${host} could not be found.`);
      }
      const agg = await this.find(tx, id);
      await this.checkZoneChange(tx, 'add', agg, agg.metadata, [host], false);
      if (agg.hosts.includes(host)) throw conflict(`Aggregate ${id} already has host ${host}.`);
      await tx.insertInto('aggregate_hosts').values({ aggregate_id: id, host, created_at: this.now() }).execute();
      await syncHostZones(tx, this.fallback, [host]);
      return this.find(tx, id);
    });
  }

  async removeHost(id: number, host: string): Promise<Aggregate> {
    return this.mutate(undefined, async (tx) => {
      const known = await tx.selectFrom('hosts').select('id').where('name', '=', host).executeTakeFirst();
      const agg = known ? (await this.load(tx, [id]))[0] : undefined;
      // Nova answers every failure here with the same message.
      if (!agg || !agg.hosts.includes(host)) throw notFound(`Cannot remove host ${host} in aggregate ${id}`);
      await tx.deleteFrom('aggregate_hosts').where('aggregate_id', '=', id).where('host', '=', host).execute();
      await syncHostZones(tx, this.fallback, [host]);
      return this.find(tx, id);
    });
  }

  /** Removes a host from every aggregate (its compute service is being deleted). */
  static async forgetHost(tx: Tx, host: string): Promise<void> {
    await tx.deleteFrom('aggregate_hosts').where('host', '=', host).execute();
  }
}
