import type { Db } from '../db/database.js';
import type { ServerTable } from '../db/schema.js';
import { invalid } from '../errors.js';
import { parseJson, type ServerFlavor } from './servers.js';

/** One server's usage within a window, as Nova's simple tenant usage reports it. */
export interface ServerUsage {
  instanceId: string;
  name: string;
  projectId: string;
  hours: number;
  flavor: string;
  memoryMb: number;
  localGb: number;
  vcpus: number;
  startedAt: Date;
  endedAt: Date | null;
  /** vm_state, or 'terminated' once the server has ended. */
  state: string;
  uptimeSeconds: number;
}

/** A project's totals over the window; servers listed only when asked for. */
export interface ProjectUsage {
  projectId: string;
  start: Date;
  stop: Date;
  totalHours: number;
  totalVcpusUsage: number;
  totalMemoryMbUsage: number;
  totalLocalGbUsage: number;
  servers?: ServerUsage[];
}

export interface UsageQuery {
  start: Date;
  stop: Date;
  projectId?: string;
  detailed: boolean;
  /** At most this many servers are counted (Nova pages servers, not projects). */
  limit: number;
  /** The last server id of the previous page. */
  marker?: string;
}

const HOUR_MS = 3600_000;

/**
 * Hours a server ran within [start, stop]: from launch (or the window's start) to
 * termination (or the window's end). A server never launched costs nothing.
 */
export function hoursWithin(server: Pick<ServerTable, 'launched_at' | 'terminated_at'>, start: Date, stop: Date): number {
  if (!server.launched_at) return 0;
  const launched = Date.parse(server.launched_at);
  const terminated = server.terminated_at ? Date.parse(server.terminated_at) : null;
  if (terminated !== null && terminated < start.getTime()) return 0;
  if (launched > stop.getTime()) return 0;
  const from = Math.max(launched, start.getTime());
  const to = terminated !== null ? Math.min(stop.getTime(), terminated) : stop.getTime();
  return (to - from) / HOUR_MS;
}

/**
 * Usage per project over a window, as nova's SimpleTenantUsageController computes it:
 * every server (deleted ones too) that launched before the window ends and was not
 * terminated before it began, ordered by project then id, paged by server.
 */
export async function projectUsages(db: Db, nowMs: number, q: UsageQuery): Promise<{ projects: ProjectUsage[]; servers: ServerUsage[] }> {
  const start = q.start.toISOString();
  const stop = q.stop.toISOString();
  let sql = db
    .selectFrom('servers')
    .selectAll()
    .where((eb) => eb.or([eb('terminated_at', 'is', null), eb('terminated_at', '>', start)]))
    .where('launched_at', '<', stop);
  if (q.projectId !== undefined) sql = sql.where('project_id', '=', q.projectId);
  if (q.marker !== undefined) {
    // Nova looks the marker up among all servers, deleted or not, in any project.
    const marker = await db.selectFrom('servers').select(['id', 'project_id']).where('id', '=', q.marker).executeTakeFirst();
    if (!marker) throw invalid(`Marker ${q.marker} could not be found.`);
    sql = sql.where((eb) => eb.or([eb('project_id', '>', marker.project_id), eb.and([eb('project_id', '=', marker.project_id), eb('id', '>', marker.id)])]));
  }
  const rows = q.limit > 0 ? await sql.orderBy('project_id').orderBy('id').limit(q.limit).execute() : [];

  const byProject = new Map<string, ProjectUsage>();
  const servers: ServerUsage[] = [];
  for (const row of rows) {
    const flavor = parseJson<Partial<ServerFlavor>>(row.flavor, {});
    const startedAt = new Date(row.launched_at!);
    const endedAt = row.terminated_at ? new Date(row.terminated_at) : null;
    const usage: ServerUsage = {
      instanceId: row.id,
      name: row.name,
      projectId: row.project_id,
      hours: hoursWithin(row, q.start, q.stop),
      flavor: flavor.name ?? '',
      memoryMb: flavor.ram ?? row.memory_mb,
      localGb: flavor.disk !== undefined ? flavor.disk + (flavor.ephemeral ?? 0) : row.disk_gb,
      vcpus: flavor.vcpus ?? row.vcpus,
      startedAt,
      endedAt,
      state: endedAt ? 'terminated' : row.vm_state,
      // Python's int() of the timedelta's seconds: truncated toward zero.
      uptimeSeconds: Math.trunc(((endedAt ? endedAt.getTime() : nowMs) - startedAt.getTime()) / 1000),
    };
    let project = byProject.get(row.project_id);
    if (!project) {
      project = { projectId: row.project_id, start: q.start, stop: q.stop, totalHours: 0, totalVcpusUsage: 0, totalMemoryMbUsage: 0, totalLocalGbUsage: 0, ...(q.detailed ? { servers: [] } : {}) };
      byProject.set(row.project_id, project);
    }
    project.totalLocalGbUsage += usage.localGb * usage.hours;
    project.totalVcpusUsage += usage.vcpus * usage.hours;
    project.totalMemoryMbUsage += usage.memoryMb * usage.hours;
    project.totalHours += usage.hours;
    project.servers?.push(usage);
    servers.push(usage);
  }
  return { projects: [...byProject.values()], servers };
}
