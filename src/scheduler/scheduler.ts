import type { Tx } from '../db/database.js';
import type { HostTable } from '../db/schema.js';

/** What a server needs from a host, and where it may or may not go. */
export interface PlacementRequest {
  projectId: string;
  vcpus: number;
  memoryMb: number;
  diskGb: number;
  availabilityZone: string | null;
  /** Hosts the server must avoid or must share (server group policies and hints). */
  differentHosts: string[];
  sameHosts: string[];
  /** Soft policies: prefer (affinity) or avoid (anti-affinity) these hosts without requiring it. */
  preferHosts: string[];
  avoidHosts: string[];
  /** An admin asked for this host (availability_zone "zone:host"). */
  forcedHost: string | null;
  /** Hosts already tried (a reschedule after a failed spawn). */
  excludeHosts: string[];
}

export interface HostUsage {
  host: HostTable;
  vcpusUsed: number;
  memoryMbUsed: number;
  diskGbUsed: number;
  servers: number;
  projectServers: number;
}

/** Seconds without a heartbeat after which a host counts as down (Nova's service_down_time). */
export let SERVICE_DOWN_SECONDS = 60;

/** The process's service_down_time (config serviceDownTime), read by every up/down check. */
export function setServiceDownTime(seconds: number): void {
  SERVICE_DOWN_SECONDS = seconds;
}

export function isUp(host: Pick<HostTable, 'last_seen_at' | 'forced_down'>, nowMs: number): boolean {
  return !host.forced_down && nowMs - Date.parse(host.last_seen_at) < SERVICE_DOWN_SECONDS * 1000;
}

/**
 * Each host (or only `onlyHost`) with what its live servers use (shelved-offloaded servers
 * hold no host resources), in one statement: a placement reads every host once to choose,
 * then its chosen host again under that host's lock (tasks/placement.ts).
 */
export async function hostUsage(tx: Tx, projectId: string | null, onlyHost?: string): Promise<HostUsage[]> {
  // server_usage holds the live servers' sums per host, kept by triggers: a few rows, not every server.
  const usage = tx
    .selectFrom('server_usage')
    .select((eb) => [
      'host',
      eb.fn.sum<number>('vcpus').as('vcpus_used'),
      eb.fn.sum<number>('memory_mb').as('memory_mb_used'),
      eb.fn.sum<number>('disk_gb').as('disk_gb_used'),
      eb.fn.sum<number>('instances').as('servers_used'),
      eb.fn.sum<number>(eb.case().when('project_id', '=', projectId ?? '').then(eb.ref('instances')).else(0).end()).as('project_servers'),
    ])
    .where('host', '!=', '')
    .$if(onlyHost !== undefined, (q) => q.where('host', '=', onlyHost!))
    .where('vm_state', '!=', 'shelved_offloaded')
    .groupBy('host')
    .as('u');
  const rows = await tx
    .selectFrom('hosts')
    .leftJoin(usage, 'u.host', 'hosts.name')
    .selectAll('hosts')
    .select(['u.vcpus_used', 'u.memory_mb_used', 'u.disk_gb_used', 'u.servers_used', 'u.project_servers'])
    .$if(onlyHost !== undefined, (q) => q.where('hosts.name', '=', onlyHost!))
    .orderBy('hosts.num_id')
    .execute();
  return rows.map(({ vcpus_used, memory_mb_used, disk_gb_used, servers_used, project_servers, ...host }) => ({
    host,
    vcpusUsed: Number(vcpus_used ?? 0),
    memoryMbUsed: Number(memory_mb_used ?? 0),
    diskGbUsed: Number(disk_gb_used ?? 0),
    servers: Number(servers_used ?? 0),
    projectServers: Number(project_servers ?? 0),
  }));
}

type Filter = (h: HostUsage, r: PlacementRequest, nowMs: number) => boolean;

/** Nova's filters, in the order it runs them. */
const FILTERS: Filter[] = [
  (h, r) => !r.excludeHosts.includes(h.host.name),
  (h, r) => r.forcedHost === null || h.host.name === r.forcedHost,
  // ComputeFilter: enabled and up (a forced host skips the enabled check, as in Nova)
  (h, r, now) => isUp(h.host, now) && (h.host.enabled === 1 || r.forcedHost === h.host.name),
  (h, r) => r.availabilityZone === null || h.host.availability_zone === r.availabilityZone,
  // Placement's inventories: total × allocation ratio, less what is used.
  (h, r) => h.host.vcpus * h.host.cpu_allocation_ratio - h.vcpusUsed >= r.vcpus,
  (h, r) => h.host.memory_mb * h.host.ram_allocation_ratio - h.memoryMbUsed >= r.memoryMb,
  (h, r) => h.host.local_gb * h.host.disk_allocation_ratio - h.diskGbUsed >= r.diskGb,
  (h, r) => !r.differentHosts.includes(h.host.name),
  (h, r) => r.sameHosts.length === 0 || r.sameHosts.includes(h.host.name),
];

/** Whether `h` passes every filter: what a claim checks again under the host's lock. */
export function fits(h: HostUsage, r: PlacementRequest, nowMs: number): boolean {
  return FILTERS.every((f) => f(h, r, nowMs));
}

/** The soft group policies' weight (lower is better): the weigher that comes before any other. */
export function softWeight(h: HostUsage, r: PlacementRequest): number {
  return (r.preferHosts.includes(h.host.name) ? -1 : 0) + (r.avoidHosts.includes(h.host.name) ? 1 : 0);
}

/**
 * Weighers: soft group policies first, then spread a project's servers across hosts
 * (the anti-affinity the concepts guide promises), then free RAM.
 */
export function weigh(a: HostUsage, b: HostUsage, r: PlacementRequest): number {
  return (
    softWeight(a, r) - softWeight(b, r) ||
    a.projectServers - b.projectServers ||
    b.host.memory_mb - b.memoryMbUsed - (a.host.memory_mb - a.memoryMbUsed) ||
    a.host.num_id - b.host.num_id
  );
}

/** The hosts that pass the filters, best first. */
export function rankHosts(usage: HostUsage[], request: PlacementRequest, nowMs: number): HostUsage[] {
  return usage.filter((h) => fits(h, request, nowMs)).sort((a, b) => weigh(a, b, request));
}

/** The host a server should go to, or null: "No valid host was found." (A choice only: tasks/placement.ts claims.) */
export async function selectHost(tx: Tx, request: PlacementRequest, nowMs: number): Promise<HostTable | null> {
  return rankHosts(await hostUsage(tx, request.projectId), request, nowMs)[0]?.host ?? null;
}
