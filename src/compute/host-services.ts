import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import type { HostTable } from '../db/schema.js';
import { conflict, invalid, notFound } from '../errors.js';
import { isUp } from '../scheduler/scheduler.js';
import { Aggregates, INTERNAL_ZONE } from './aggregates.js';

/** What a service does: a compute host, or one of the control plane's parts. */
export type ServiceKind = 'compute' | 'scheduler' | 'conductor';

/**
 * One service as an operator sees it (Nova's services table). Compute services are the
 * registered hosts; the scheduler and conductor are parts of this control plane, which is
 * up whenever it can answer, and which cannot be disabled or deleted.
 */
export interface ServiceRecord {
  kind: ServiceKind;
  host: string;
  /** The integer id Nova shows before microversion 2.53. */
  id: number;
  uuid: string;
  zone: string;
  disabled: boolean;
  disabledReason: string | null;
  forcedDown: boolean;
  up: boolean;
  /** The last heartbeat (ISO 8601). */
  updatedAt: string;
}

const CONTROL_KINDS: ServiceKind[] = ['scheduler', 'conductor'];

/** Compute services number after the control plane's, as on a Nova controller started before its computes. */
export const computeServiceId = (numId: number) => numId + CONTROL_KINDS.length;

/** A stable UUID for a control-plane service, so its id survives restarts without a table. */
function stableUuid(name: string): string {
  const h = createHash('sha1').update(`nimbus-service:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function computeService(h: HostTable, nowMs: number): ServiceRecord {
  return {
    kind: 'compute',
    host: h.name,
    id: computeServiceId(h.num_id),
    uuid: h.service_id,
    zone: h.availability_zone,
    disabled: !h.enabled,
    disabledReason: h.disabled_reason,
    forcedDown: !!h.forced_down,
    up: isUp(h, nowMs),
    updatedAt: h.last_seen_at,
  };
}

export interface ComputeServiceChanges {
  disabled?: boolean;
  disabledReason?: string | null;
  forcedDown?: boolean;
}

/** The services of this cloud: the control plane, then one compute service per host. */
export class HostServices {
  readonly controlHost: string;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    controlHost: string = hostname(),
  ) {
    this.controlHost = controlHost;
  }

  /**
   * The control plane's services: one scheduler and one conductor per conductor process
   * host, from their heartbeats (control_services), up or down as compute services are; in
   * `serve`, where no process beats, this process's, up while it answers. The first host's
   * pair keeps the ids 1 and 2; later ones number from 1,000,000, clear of compute services'.
   */
  private async control(): Promise<ServiceRecord[]> {
    const rows = await this.db.selectFrom('control_services').selectAll().orderBy('created_at').orderBy('host').orderBy('kind', 'desc').execute();
    if (rows.length === 0) return this.embedded();
    const nowMs = this.clock.nowMs();
    return rows.map((r, i) => ({
      kind: r.kind as ServiceKind,
      host: r.host,
      id: i < CONTROL_KINDS.length ? i + 1 : 1_000_000 + i,
      uuid: r.id,
      zone: INTERNAL_ZONE,
      disabled: false,
      disabledReason: null,
      forcedDown: false,
      up: isUp({ last_seen_at: r.last_seen_at, forced_down: 0 }, nowMs),
      updatedAt: r.last_seen_at,
    }));
  }

  private embedded(): ServiceRecord[] {
    const now = this.clock.now().toISOString();
    return CONTROL_KINDS.map((kind, i) => ({
      kind,
      host: this.controlHost,
      id: i + 1,
      uuid: stableUuid(`${kind}@${this.controlHost}`),
      zone: INTERNAL_ZONE,
      disabled: false,
      disabledReason: null,
      forcedDown: false,
      up: true,
      updatedAt: now,
    }));
  }

  async list(): Promise<ServiceRecord[]> {
    const hosts = await this.db.selectFrom('hosts').selectAll().orderBy('num_id').execute();
    const now = this.clock.nowMs();
    return [...(await this.control()), ...hosts.map((h) => computeService(h, now))];
  }

  /** By the integer id (before 2.53) or the UUID. */
  async find(id: number | string): Promise<ServiceRecord | null> {
    return (await this.list()).find((s) => (typeof id === 'number' ? s.id === id : s.uuid === id.toLowerCase())) ?? null;
  }

  /** The compute service of a host, or null when no compute host has that name. */
  async computeOn(host: string): Promise<ServiceRecord | null> {
    const h = await this.db.selectFrom('hosts').selectAll().where('name', '=', host).executeTakeFirst();
    return h ? computeService(h, this.clock.nowMs()) : null;
  }

  /** Enables, disables or forces down a compute service; a disabled host gets no new servers. */
  async updateCompute(host: string, changes: ComputeServiceChanges): Promise<ServiceRecord> {
    const set: Partial<Pick<HostTable, 'enabled' | 'disabled_reason' | 'forced_down' | 'updated_at'>> = { updated_at: this.clock.now().toISOString() };
    if (changes.disabled !== undefined) {
      set.enabled = changes.disabled ? 0 : 1;
      set.disabled_reason = changes.disabled ? (changes.disabledReason ?? null) : null;
    }
    if (changes.forcedDown !== undefined) set.forced_down = changes.forcedDown ? 1 : 0;
    const result = await this.db.updateTable('hosts').set(set).where('name', '=', host).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw notFound(`Host '${host}' is not mapped to any cell`);
    return (await this.computeOn(host))!;
  }

  /**
   * Deletes a compute service that hosts no servers, taking it out of its aggregates. The
   * host comes back when its compute process registers again, as a restarted nova-compute does.
   */
  async delete(service: ServiceRecord): Promise<void> {
    if (service.kind !== 'compute' && !service.up && (await this.db.deleteFrom('control_services').where('id', '=', service.uuid).executeTakeFirst()).numDeletedRows) return;
    if (service.kind !== 'compute') {
      throw invalid(`The ${service.kind} service ${service.id} is part of this control plane and runs as long as the API does; it cannot be deleted.`);
    }
    await this.db.transaction().execute(async (tx) => {
      const servers = await tx
        .selectFrom('servers')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('host', '=', service.host)
        .where('deleted', '=', 0)
        .executeTakeFirst();
      if (Number(servers?.n ?? 0) > 0) {
        throw conflict('Unable to delete compute service that is hosting instances. Migrate or delete the instances first.');
      }
      await Aggregates.forgetHost(tx, service.host);
      await tx.deleteFrom('hosts').where('name', '=', service.host).execute();
    });
  }
}

/**
 * A conductor process's heartbeat: its host's scheduler and conductor services. Their
 * UUIDs are derived from kind and host, so a restarted process keeps its rows.
 */
export async function beatControlServices(db: Db, clock: Clock, host: string): Promise<void> {
  const now = clock.now().toISOString();
  for (const kind of CONTROL_KINDS) {
    await db
      .insertInto('control_services')
      .values({ id: stableUuid(`${kind}@${host}`), kind, host, last_seen_at: now, created_at: now })
      .onConflict((oc) => oc.columns(['kind', 'host']).doUpdateSet({ last_seen_at: now }))
      .execute();
  }
}
