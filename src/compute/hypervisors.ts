import type { Db } from '../db/database.js';
import type { HostTable } from '../db/schema.js';
import { isUp } from '../scheduler/scheduler.js';
import { likePattern } from './search-patterns.js';

/**
 * A compute host as a hypervisor: its capacity and what its live servers use. Servers that
 * are deleted or shelved-offloaded hold nothing on a host, as in Nova's resource tracker.
 */
export interface Hypervisor {
  host: HostTable;
  up: boolean;
  vcpusUsed: number;
  memoryMbUsed: number;
  localGbUsed: number;
  runningVms: number;
  /** Servers with a task in progress (Nova's current_workload). */
  currentWorkload: number;
}

export interface HostedServer {
  id: string;
  name: string;
  projectId: string;
  vcpus: number;
  memoryMb: number;
  diskGb: number;
}

/** Every hypervisor, in id order. */
export async function listHypervisors(db: Db, nowMs: number): Promise<Hypervisor[]> {
  const hosts = await db.selectFrom('hosts').selectAll().orderBy('num_id').execute();
  const usage = await db
    .selectFrom('servers')
    .select((eb) => [
      'host',
      eb.fn.sum<number>('vcpus').as('vcpus'),
      eb.fn.sum<number>('memory_mb').as('memory_mb'),
      eb.fn.sum<number>('disk_gb').as('disk_gb'),
      eb.fn.countAll<number>().as('servers'),
      eb.fn.sum<number>(eb.case().when('task_state', 'is not', null).then(1).else(0).end()).as('busy'),
    ])
    .where('deleted', '=', 0)
    .where('host', 'is not', null)
    .where('vm_state', '!=', 'shelved_offloaded')
    .groupBy('host')
    .execute();
  const byHost = new Map(usage.map((u) => [u.host, u]));
  return hosts.map((host) => {
    const u = byHost.get(host.name);
    return {
      host,
      up: isUp(host, nowMs),
      vcpusUsed: Number(u?.vcpus ?? 0),
      memoryMbUsed: Number(u?.memory_mb ?? 0),
      localGbUsed: Number(u?.disk_gb ?? 0),
      runningVms: Number(u?.servers ?? 0),
      currentWorkload: Number(u?.busy ?? 0),
    };
  });
}

/** The live servers on each of `hosts`, oldest first. */
export async function serversOn(db: Db, hosts: string[]): Promise<Map<string, HostedServer[]>> {
  const out = new Map<string, HostedServer[]>(hosts.map((h) => [h, []]));
  if (hosts.length === 0) return out;
  const rows = await db
    .selectFrom('servers')
    .select(['id', 'name', 'host', 'project_id', 'vcpus', 'memory_mb', 'disk_gb'])
    .where('deleted', '=', 0)
    .where('host', 'in', hosts)
    .where('vm_state', '!=', 'shelved_offloaded')
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  for (const r of rows) {
    out.get(r.host!)!.push({ id: r.id, name: r.name, projectId: r.project_id, vcpus: r.vcpus, memoryMb: r.memory_mb, diskGb: r.disk_gb });
  }
  return out;
}

/**
 * SQL LIKE '%pattern%' as Nova's hypervisor search does it (case-insensitive, as on MySQL
 * and SQLite; `_` matches any one character).
 */
export function hostnameMatcher(pattern: string): (name: string) => boolean {
  const like = likePattern('hypervisor_hostname_pattern', pattern);
  return (name) => like.test(name);
}

export interface HypervisorStatistics {
  count: number;
  vcpus: number;
  memory_mb: number;
  local_gb: number;
  vcpus_used: number;
  memory_mb_used: number;
  local_gb_used: number;
  free_ram_mb: number;
  free_disk_gb: number;
  current_workload: number;
  running_vms: number;
  disk_available_least: number;
}

/** Sums over the enabled compute hosts only, as Nova's compute_node_statistics does. */
export function statistics(hypervisors: Hypervisor[]): HypervisorStatistics {
  const s: HypervisorStatistics = {
    count: 0, vcpus: 0, memory_mb: 0, local_gb: 0, vcpus_used: 0, memory_mb_used: 0, local_gb_used: 0,
    free_ram_mb: 0, free_disk_gb: 0, current_workload: 0, running_vms: 0, disk_available_least: 0,
  };
  for (const h of hypervisors) {
    if (!h.host.enabled) continue;
    s.count += 1;
    s.vcpus += h.host.vcpus;
    s.memory_mb += h.host.memory_mb;
    s.local_gb += h.host.local_gb;
    s.vcpus_used += h.vcpusUsed;
    s.memory_mb_used += h.memoryMbUsed;
    s.local_gb_used += h.localGbUsed;
    s.free_ram_mb += h.host.memory_mb - h.memoryMbUsed;
    s.free_disk_gb += h.host.local_gb - h.localGbUsed;
    s.current_workload += h.currentWorkload;
    s.running_vms += h.runningVms;
    s.disk_available_least += h.host.local_gb - h.localGbUsed;
  }
  return s;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/**
 * What `uptime` prints on the host, which is what Nova's drivers return: a simulated
 * host has been up since it was registered.
 */
export function uptimeText(host: HostTable, nowMs: number): string {
  const now = new Date(nowMs);
  const minutes = Math.max(0, Math.floor((nowMs - Date.parse(host.created_at)) / 60000));
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  const dayPart = days > 0 ? `${days} day${days === 1 ? '' : 's'}, ` : '';
  const clock = hours > 0 ? `${String(hours).padStart(2, ' ')}:${pad2(mins)}` : `${mins} min`;
  return ` ${pad2(now.getUTCHours())}:${pad2(now.getUTCMinutes())}:${pad2(now.getUTCSeconds())} up ${dayPart}${clock},  0 users,  load average: 0.00, 0.00, 0.00`;
}
