import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { invalid } from '../../errors.js';
import { projectUsages, type ProjectUsage, type ServerUsage } from '../../compute/usage.js';
import { resource } from '../http.js';
import { perVersion, type Microversion } from './microversion.js';
import { lastValue, multiParams, noSuchRoute, novaDateTime, queryLists, validateInteger, validateQuery, type QueryLists } from './wire.js';

/** Nova's CONF.api.max_limit. */
const MAX_LIMIT = 1000;
const STRING = { type: 'string' };
const NON_NEGATIVE_INTEGER = { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 0, minLength: 1 };

/** nova/api/openstack/compute/schemas/simple_tenant_usage.py: paging from 2.40, strict from 2.75. */
const querySchema = (withDetailed: boolean) =>
  perVersion((v: Microversion) => {
    const properties: Record<string, object> = { start: multiParams(STRING), end: multiParams(STRING) };
    if (withDetailed) properties.detailed = multiParams(STRING);
    if (v.atLeast('2.40')) Object.assign(properties, { limit: multiParams(NON_NEGATIVE_INTEGER), marker: multiParams(STRING) });
    return { type: 'object', properties, additionalProperties: !v.atLeast('2.75') };
  });
const indexQuery = querySchema(true);
const showQuery = querySchema(false);

/** Python's datetime.strptime, in the three formats Nova tries for start and end. */
const FORMATS = [
  /^(\d{4})-(\d{1,2})-(\d{1,2})T(\d{1,2}):(\d{1,2}):(\d{1,2})$/,
  /^(\d{4})-(\d{1,2})-(\d{1,2})T(\d{1,2}):(\d{1,2}):(\d{1,2})\.(\d{1,6})$/,
  /^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})\.(\d{1,6})$/,
];

function parseStrTime(text: string): Date | null {
  for (const format of FORMATS) {
    const m = format.exec(text);
    if (!m) continue;
    const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
    const ms = m[7] ? Math.floor(Number(m[7].padEnd(6, '0')) / 1000) : 0;
    const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
    // Date.UTC rolls 31 February over into March; strptime refuses it.
    if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return null;
    return date;
  }
  return null;
}

/** How Nova reads start, end and detailed: urllib's parse_qs, first non-blank value. */
function firstNonBlank(q: QueryLists, key: string): string | undefined {
  return q[key]?.find((v) => v !== '');
}

/** The window asked for: absent bounds are now; start must come before end. */
function parseWindow(q: QueryLists, nowMs: number): { start: Date; stop: Date } {
  const bound = (key: 'start' | 'end') => {
    const text = firstNonBlank(q, key);
    if (text === undefined) return new Date(nowMs);
    const date = parseStrTime(text);
    if (!date) throw invalid(`Invalid datetime string: Datetime is in invalid format (${key}: ${text}).`);
    return date;
  };
  const start = bound('start');
  let stop = bound('end');
  if (!(start.getTime() < stop.getTime())) throw invalid('Invalid start time. The start time cannot occur after the end time.');
  // Usage cannot be known beyond now.
  if (stop.getTime() > nowMs) stop = new Date(nowMs);
  return { start, stop };
}

function serverUsageView(u: ServerUsage): Record<string, unknown> {
  return {
    hours: u.hours,
    flavor: u.flavor,
    instance_id: u.instanceId,
    name: u.name,
    tenant_id: u.projectId,
    memory_mb: u.memoryMb,
    local_gb: u.localGb,
    vcpus: u.vcpus,
    started_at: novaDateTime(u.startedAt.toISOString()),
    ended_at: u.endedAt && novaDateTime(u.endedAt.toISOString()),
    state: u.state,
    uptime: u.uptimeSeconds,
  };
}

function projectUsageView(p: ProjectUsage): Record<string, unknown> {
  return {
    tenant_id: p.projectId,
    ...(p.servers ? { server_usages: p.servers.map(serverUsageView) } : {}),
    total_local_gb_usage: p.totalLocalGbUsage,
    total_vcpus_usage: p.totalVcpusUsage,
    total_memory_mb_usage: p.totalMemoryMbUsage,
    total_hours: p.totalHours,
    start: novaDateTime(p.start.toISOString()),
    stop: novaDateTime(p.stop.toISOString()),
  };
}

/** GET /os-simple-tenant-usage[/{project_id}]: usage over a window, paged by server from 2.40. */
export function usageRoutes(app: FastifyInstance, services: Services, base: string): void {
  async function usage(request: FastifyRequest, projectId: string | undefined) {
    const mv = request.microversion;
    const q = validateQuery((projectId === undefined ? indexQuery : showQuery)(mv), queryLists(request));
    if (projectId === undefined) services.policy.authorize(request.auth, 'os_compute_api:os-simple-tenant-usage:list');
    else services.policy.authorize(request.auth, 'os_compute_api:os-simple-tenant-usage:show', projectId);
    const nowMs = services.clock.nowMs();
    const { start, stop } = parseWindow(q, nowMs);
    const paged = mv.atLeast('2.40');
    let limit = MAX_LIMIT;
    let marker: string | undefined;
    if (paged) {
      const rawLimit = lastValue(q, 'limit');
      if (rawLimit !== undefined) limit = Math.min(MAX_LIMIT, validateInteger(rawLimit, 'limit'));
      marker = lastValue(q, 'marker');
    }
    const detailed = projectId !== undefined || firstNonBlank(q, 'detailed') === '1';
    const { projects, servers } = await projectUsages(services.db, nowMs, { start, stop, projectId, detailed, limit, marker });

    const body: Record<string, unknown> =
      projectId === undefined ? { tenant_usages: projects.map(projectUsageView) } : { tenant_usage: projects.length ? projectUsageView(projects[0]) : {} };
    // A full page of servers means there may be more: link to the next one.
    if (paged && limit > 0 && servers.length === limit) {
      const params = new URLSearchParams();
      for (const key of Object.keys(q).sort()) if (key !== 'marker') params.append(key, lastValue(q, key)!);
      params.append('marker', servers[servers.length - 1].instanceId);
      const path = projectId === undefined ? 'os-simple-tenant-usage' : `os-simple-tenant-usage/${projectId}`;
      body[projectId === undefined ? 'tenant_usages_links' : 'tenant_usage_links'] = [{ rel: 'next', href: `${base}/v2.1/${path}?${params}` }];
    }
    return body;
  }

  resource(app, '/os-simple-tenant-usage', { GET: (request) => usage(request, undefined) });
  resource(app, '/os-simple-tenant-usage/:projectId', {
    GET: (request) => {
      const { projectId } = request.params as { projectId: string };
      // "/os-simple-tenant-usage/" names no project: Nova's router has no such path.
      if (projectId === '') throw noSuchRoute();
      return usage(request, projectId);
    },
  });
}
