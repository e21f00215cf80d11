import type { FastifyInstance, FastifyRequest } from 'fastify';
import { queryLists, type QueryLists } from '../query.js';
import type { Services } from '../../services.js';
import { Servers, type CreateServer, type ListQuery } from '../../compute/servers.js';
import { isUp } from '../../scheduler/scheduler.js';
import { forbidden, invalid, notFound } from '../../errors.js';
import type { Policy } from '../../policy/policy.js';
import type { Microversion } from './microversion.js';
import { pyRepr, validate } from '../validation.js';
import { resource } from '../http.js';
import { VmState } from '../../compute/states.js';
import { createServerSchema, updateServerSchema } from './schemas/servers.js';
import { RenderedServers, SERVER_VIEW_COLUMNS, serverDetail, serverLinks, serverSummary, type ViewContext } from './views/servers.js';
import { jsonList, jsonOne } from '../json-bytes.js';

const TRUE = new Set([true, 'True', 'true', 'TRUE', '1', 'yes', 'on', 'y', 't']);
const MAX_LIMIT = 1000;
const SORT_KEYS = new Set(['created_at', 'updated_at', 'display_name', 'name', 'uuid', 'id', 'vm_state', 'task_state', 'power_state', 'launched_at', 'terminated_at', 'availability_zone', 'host', 'node', 'hostname', 'image_ref', 'flavor_id', 'project_id', 'user_id', 'key_name', 'locked', 'progress', 'reservation_id', 'launch_index']);
// A fake host is its own hypervisor node.
const SORT_COLUMN: Record<string, string> = { display_name: 'name', uuid: 'id', image_ref: 'image_id', hostname: 'hostname', node: 'host' };
/** Nova's remove_invalid_sort_keys: sorting by these is for admins only. */
const ADMIN_SORT_KEYS = new Set(['host', 'node']);

/**
 * The filters Nova lets a caller without os_compute_api:servers:allow_all_filters use, per
 * microversion (servers.py _get_server_search_options); Nova drops the others silently.
 */
function memberFilters(mv: Microversion): Set<string> {
  const keys = ['reservation_id', 'name', 'status', 'image', 'flavor', 'ip', 'changes-since', 'all_tenants'];
  if (mv.atLeast('2.5')) keys.push('ip6');
  if (mv.atLeast('2.26')) keys.push('tags', 'tags-any', 'not-tags', 'not-tags-any');
  if (mv.atLeast('2.66')) keys.push('changes-before');
  if (mv.atLeast('2.73')) keys.push('locked');
  if (mv.atLeast('2.83')) keys.push('availability_zone', 'config_drive', 'key_name', 'created_at', 'launched_at', 'terminated_at', 'power_state', 'task_state', 'vm_state', 'progress', 'user_id');
  if (mv.atLeast('2.90')) keys.push('hostname');
  return new Set(keys);
}

/** oslo's bool_from_string(strict=True), as Nova's is_all_tenants reads all_tenants ('' is true). */
function allTenantsFlag(value: string | undefined): boolean {
  if (value === undefined) return false;
  const v = value.trim().toLowerCase();
  if (v === '' || ['1', 't', 'true', 'on', 'y', 'yes'].includes(v)) return true;
  if (['0', 'f', 'false', 'off', 'n', 'no'].includes(v)) return false;
  const acceptable = ['0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'].map((x) => `'${x}'`).join(', ');
  throw invalid(`Invalid input received: Unrecognized value '${value}', acceptable values are: ${acceptable}`);
}

type Query = QueryLists;

/** webob's GET[key]: the last value of a repeated parameter. */
const one = (q: Query, key: string): string | undefined => q[key]?.at(-1);
/** Nova's multi_params: every value. */
const all = (q: Query, key: string): string[] => q[key] ?? [];

function parseTime(q: Query, key: string): string | undefined {
  const v = one(q, key);
  if (v === undefined) return undefined;
  // ISO 8601 only, as Nova's 'date-time' check: Date.parse would also take '2011/01/01'.
  const iso = /^\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?)?([zZ]|[+-]\d\d:?\d\d)?$/.test(v);
  const t = iso ? Date.parse(v.includes('T') || v.includes(' ') ? (/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : v + 'Z') : v) : NaN;
  if (Number.isNaN(t)) throw invalid(`Invalid input for query parameters ${key}. Value: ${v}. '${v}' is not a 'date-time'`);
  return new Date(t).toISOString();
}

/**
 * GET /servers query string → the core's ListQuery, with Nova's validation messages and its
 * policies: all_tenants (get_all_tenants of `list`), admin-only sort keys, and the filters a
 * caller without allow_all_filters may use.
 */
export function parseListQuery(request: FastifyRequest, policy: Policy, list: 'index' | 'detail'): ListQuery {
  const q = queryLists(request);
  const mv = request.microversion;
  const allFilters = policy.check(request.auth, 'os_compute_api:servers:allow_all_filters');
  const allowed = memberFilters(mv);
  /** A filter's value, or undefined when this caller may not filter by it. */
  const filter = (key: string) => (allFilters || allowed.has(key) ? one(q, key) : undefined);
  let limit: number | undefined;
  const rawLimit = one(q, 'limit');
  if (rawLimit !== undefined) {
    if (!/^-?\d+$/.test(rawLimit)) throw invalid('limit param must be an integer');
    limit = Number(rawLimit);
    if (limit < 0) throw invalid('limit param must be positive');
    limit = Math.min(limit, MAX_LIMIT);
  }
  const keys = all(q, 'sort_key');
  const dirs = all(q, 'sort_dir');
  for (const d of dirs) if (d !== 'asc' && d !== 'desc') throw invalid(`Invalid input for query parameters sort_dir. Value: ${d}. '${d}' is not one of ['asc', 'desc']`);
  const sort = keys.map((key, i) => {
    if (!SORT_KEYS.has(key)) throw invalid(`Invalid input for query parameters sort_key. Value: ${key}. '${key}' is not one of the supported sort keys`);
    return { key: SORT_COLUMN[key] ?? key, dir: (dirs[i] ?? dirs[0] ?? 'desc') as 'asc' | 'desc' };
  });
  const changesSince = parseTime(q, 'changes-since');
  const changesBefore = mv.atLeast('2.66') ? parseTime(q, 'changes-before') : undefined;
  if (changesSince && changesBefore && changesSince > changesBefore) throw invalid('The value of changes-since must be less than or equal to changes-before.');
  const deleted = filter('deleted');
  const locked = mv.atLeast('2.73') ? one(q, 'locked') : undefined;
  if (locked !== undefined && !['true', 'false', 'True', 'False', '1', '0'].includes(locked)) throw invalid(`Invalid input for query parameters locked. Value: ${locked}.`);
  const csv = (key: string) => (mv.atLeast('2.26') ? one(q, key)?.split(',').filter(Boolean) : undefined);
  const allTenants = allTenantsFlag(one(q, 'all_tenants'));
  if (allTenants) policy.authorize(request.auth, `os_compute_api:servers:${list}:get_all_tenants`);
  const adminSort = keys.find((k) => ADMIN_SORT_KEYS.has(k));
  if (adminSort && !request.auth.isAdmin) throw forbidden(`Only administrators can sort servers by ${adminSort}`);
  return {
    allTenants,
    projectId: filter('project_id') ?? filter('tenant_id'),
    userId: filter('user_id'),
    name: one(q, 'name'),
    status: one(q, 'status'),
    image: one(q, 'image'),
    flavor: one(q, 'flavor'),
    host: filter('host'),
    changesSince,
    changesBefore,
    reservationId: one(q, 'reservation_id'),
    deleted: deleted === undefined ? undefined : TRUE.has(deleted),
    ip: one(q, 'ip'),
    ip6: filter('ip6'),
    tags: csv('tags'),
    tagsAny: csv('tags-any'),
    notTags: csv('not-tags'),
    notTagsAny: csv('not-tags-any'),
    locked: locked === undefined ? undefined : TRUE.has(locked),
    availabilityZone: filter('availability_zone'),
    sort,
    // Nova's osapi_max_limit bounds every page, asked for or not.
    limit: limit ?? MAX_LIMIT,
    marker: one(q, 'marker'),
  };
}

interface CreateBody {
  server: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  'os:scheduler_hints'?: Record<string, unknown>;
  'OS-SCH-HNT:scheduler_hints'?: Record<string, unknown>;
}

/** The request's networks in the core's terms: Nova's `fixed_ip` is the core's `fixedIp`. */
function networks(requested: unknown): CreateServer['networks'] {
  if (!Array.isArray(requested)) return requested as 'auto' | 'none';
  return requested.map((n: { uuid?: string; port?: string; fixed_ip?: string }) => ({ uuid: n.uuid, port: n.port, fixedIp: n.fixed_ip }));
}

function toCreate(body: CreateBody, request: FastifyRequest): CreateServer {
  const s = body.server;
  // Nova's positive_integer: an integer, or a string of digits, of at least 1. JSON numbers
  // past 2^53 are not integers here (1e308 is an integer-valued double), and Python's
  // jsonschema refuses a JSON float as not of type 'integer': so does this.
  const count = (v: unknown, field: string) => {
    if (v === undefined) return undefined;
    if (typeof v === 'number' && !Number.isSafeInteger(v)) throw invalid(`Invalid input for field/attribute ${field}. Value: ${pyRepr(v)}. ${pyRepr(v)} is not of type 'integer', 'string'`);
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw invalid(`Invalid input for field/attribute ${field}. Value: ${v}.`);
    return n;
  };
  const minCount = count(s.min_count, 'min_count') ?? 1;
  const maxCount = count(s.max_count, 'max_count') ?? minCount;
  if (minCount > maxCount) throw invalid('min_count must be <= max_count');
  let imageId: string = s.imageRef ?? '';
  let bootVolume: CreateServer['bootVolume'];
  if (!imageId) {
    const bdm = (s.block_device_mapping_v2 ?? []) as { source_type?: string; uuid?: string; boot_index?: unknown; destination_type?: string; delete_on_termination?: unknown }[];
    const boot = bdm.find((b) => String(b.boot_index) === '0');
    if (!boot) throw invalid('Block Device Mapping is Invalid: You specified more local devices than the limit allows');
    // An image copied to a new volume is the one volume source we can create: there is no
    // block storage service, so an existing volume or snapshot cannot be found.
    if (boot.source_type !== 'image' || !boot.uuid) throw invalid(`Block Device Mapping is Invalid: failed to get volume ${boot.uuid}.`);
    imageId = boot.uuid;
    if (boot.destination_type === 'volume') bootVolume = { deleteOnTermination: TRUE.has(boot.delete_on_termination as never) };
  }
  const files = (s.personality ?? []) as { path: string; contents: string }[];
  const hints = (body['os:scheduler_hints'] ?? body['OS-SCH-HNT:scheduler_hints'] ?? {}) as { group?: string; same_host?: string | string[]; different_host?: string | string[] };
  const list = (v?: string | string[]) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);
  return {
    name: s.name,
    hostname: s.hostname,
    // Below 2.19 there is no description to give: Nova copies the requested name into it.
    description: request.microversion.atLeast('2.19') ? s.description : s.name,
    flavorId: String(s.flavorRef),
    imageId,
    metadata: s.metadata ?? {},
    accessIPv4: s.accessIPv4,
    accessIPv6: s.accessIPv6,
    adminPass: s.adminPass,
    userData: s.user_data ?? null,
    availabilityZone: s.availability_zone ?? null,
    keyName: s.key_name ?? null,
    configDrive: TRUE.has(s.config_drive),
    diskConfig: s['OS-DCF:diskConfig'] ?? 'MANUAL',
    // Nova takes the named groups, once each, and ignores entries without a name.
    securityGroups: [...new Set(((s.security_groups ?? []) as { name?: string }[]).flatMap((g) => (g.name ? [g.name] : [])))],
    // Before 2.37 networks may be left out: Nova then uses the one network there is, if any.
    networks: networks(s.networks ?? []),
    files,
    hints: { group: hints.group, sameHost: list(hints.same_host), differentHost: list(hints.different_host) },
    tags: s.tags ?? [],
    minCount,
    maxCount,
    host: s.host ?? s.hypervisor_hostname,
    bootVolume,
  };
}

export function serverRoutes(app: FastifyInstance, services: Services, base: string): void {
  const servers = new Servers(services);
  const rendered = new RenderedServers();
  const hostStatus = async () => {
    const hosts = await services.db.selectFrom('hosts').select(['name', 'enabled', 'last_seen_at', 'forced_down']).execute();
    const now = services.clock.nowMs();
    const status = new Map(hosts.map((h) => [h.name, !isUp(h, now) ? 'DOWN' : h.enabled ? 'UP' : 'MAINTENANCE']));
    return (host: string | null) => (host ? (status.get(host) ?? 'UNKNOWN') : '');
  };
  const view = async (request: FastifyRequest): Promise<ViewContext> => ({
    base,
    version: request.microversion,
    auth: request.auth,
    hostStatus: request.auth.isAdmin && request.microversion.atLeast('2.16') ? await hostStatus() : undefined,
  });
  const nextLinks = (request: FastifyRequest, path: string, rows: { id: string }[], limit?: number) => {
    if (limit === undefined || rows.length < limit || rows.length === 0) return {};
    const params = new URLSearchParams();
    for (const [k, values] of Object.entries(queryLists(request))) for (const v of values) params.append(k, v);
    params.set('marker', rows[rows.length - 1].id);
    params.set('limit', String(limit));
    return { servers_links: [{ rel: 'next', href: `${base}/v2.1/${path}?${params}` }] };
  };

  resource(app, '/servers', {
    GET: async (request) => {
      services.policy.authorize(request.auth, 'os_compute_api:servers:index');
      const q = parseListQuery(request, services.policy, 'index');
      const rows = await servers.list(request.auth, q, ['id', 'name']);
      return { servers: rows.map((s) => serverSummary(base, s)), ...nextLinks(request, 'servers', rows, q.limit) };
    },
    POST: async (request, reply) => {
      services.policy.authorize(request.auth, 'os_compute_api:servers:create');
      const body = validate<CreateBody>(createServerSchema(request.microversion), request.body ?? null);
      const req = toCreate(body, request);
      if (req.files.some((f) => Buffer.byteLength(f.path) > 255)) throw invalid('Personality file path too long');
      const result = await servers.create(request.auth, req, request.id);
      if (body.server.return_reservation_id !== undefined && TRUE.has(body.server.return_reservation_id)) {
        return reply.code(202).send({ reservation_id: result.reservationId });
      }
      const first = result.servers[0];
      reply.code(202).header('location', `${base}/v2.1/servers/${first.id}`);
      return {
        server: {
          id: first.id,
          links: serverLinks(base, first.id),
          'OS-DCF:diskConfig': first.disk_config,
          security_groups: JSON.parse(first.security_groups).map((name: string) => ({ name })),
          adminPass: result.adminPass,
        },
      };
    },
  });

  /**
   * The rows a list or show renders, read again by id after the ids: a server deleted in
   * between is left out (the show is then 404) unless the list is one that shows deleted servers.
   */
  const rowsToRender = (withDeleted: boolean) => async (ids: string[]) => {
    const rows = await servers.rows(ids, SERVER_VIEW_COLUMNS);
    return withDeleted ? rows : rows.filter((r) => r.vm_state !== VmState.DELETED);
  };

  resource(app, '/servers/detail', {
    GET: async (request, reply) => {
      services.policy.authorize(request.auth, 'os_compute_api:servers:detail');
      const q = parseListQuery(request, services.policy, 'detail');
      const rows = await servers.list(request.auth, q, ['id', 'version', 'host']);
      const tags = request.microversion.atLeast('2.26') ? await servers.tags(rows.map((r) => r.id)) : new Map<string, string[]>();
      const withDeleted = !!(q.changesSince || q.changesBefore || (q.deleted && request.auth.isAdmin));
      const list = await rendered.render(await view(request), rows, tags, rowsToRender(withDeleted));
      const links = nextLinks(request, 'servers/detail', rows, q.limit).servers_links;
      // The servers are JSON already.
      return reply.type('application/json; charset=utf-8').send(jsonList('servers', list, links ? `,"servers_links":${JSON.stringify(links)}` : ''));
    },
  });

  resource(app, '/servers/:id', {
    GET: async (request, reply) => {
      const { id } = request.params as { id: string };
      const server = await servers.find(request.auth, id);
      services.policy.authorize(request.auth, 'os_compute_api:servers:show', server.project_id);
      const tags = new Map([[server.id, await servers.tagsOfServer(server.id)]]);
      const groups = request.microversion.atLeast('2.71') ? new Map([[server.id, await services.serverGroups.groupsOf(server.id)]]) : undefined;
      const [json] = await rendered.render(await view(request), [server], tags, rowsToRender(false), groups);
      if (!json) throw notFound(`Instance ${id} could not be found.`); // deleted since the lookup
      return reply.type('application/json; charset=utf-8').send(jsonOne('server', json));
    },
    PUT: async (request) => {
      const { id } = request.params as { id: string };
      services.policy.authorize(request.auth, 'os_compute_api:servers:update', (await servers.get(request.auth, id)).project_id);
      const body = validate<{ server: Record<string, string> }>(updateServerSchema(request.microversion), request.body ?? null);
      const s = body.server;
      const updated = await servers.update(request.auth, id, {
        name: s.name,
        description: s.description,
        accessIPv4: s.accessIPv4,
        accessIPv6: s.accessIPv6,
        diskConfig: s['OS-DCF:diskConfig'],
        hostname: s.hostname,
      });
      const tags = (await servers.tags([id])).get(id) ?? [];
      const groups = request.microversion.atLeast('2.71') ? await services.serverGroups.groupsOf(id) : undefined;
      const reduced = !request.microversion.atLeast('2.75');
      return { server: serverDetail({ ...(await view(request)), reduced }, updated, tags, groups) };
    },
    DELETE: async (request, reply) => {
      const { id } = request.params as { id: string };
      services.policy.authorize(request.auth, 'os_compute_api:servers:delete', (await servers.get(request.auth, id)).project_id);
      await servers.delete(request.auth, id, request.id);
      return reply.code(204).send();
    },
  });
}
