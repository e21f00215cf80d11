import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { invalid, notFound } from '../../errors.js';
import { computeServiceId } from '../../compute/host-services.js';
import { listHypervisors, hostnameMatcher, serversOn, statistics, uptimeText, type HostedServer, type Hypervisor } from '../../compute/hypervisors.js';
import { resource } from '../http.js';
import type { HostInfo } from '../../virt/driver.js';
import type { Microversion } from './microversion.js';
import {
  BOOLEAN_SCHEMA, FQDN_SCHEMA, boolFromString, canonicalUuid, isUuidLike, lastValue, multiParams, onlyVersions, queryLists,
  singleParam, validateInteger, validateQuery, type QueryLists,
} from './wire.js';

/** Nova's CONF.api.max_limit. */
const MAX_LIMIT = 1000;
const NON_NEGATIVE_INTEGER = { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 0, minLength: 1 };

// nova/api/openstack/compute/schemas/hypervisors.py
const listQueryV233 = {
  type: 'object',
  properties: { limit: multiParams(NON_NEGATIVE_INTEGER), marker: multiParams({ type: 'string' }) },
  additionalProperties: true,
};
const listQueryV253 = {
  type: 'object',
  properties: {
    limit: singleParam(NON_NEGATIVE_INTEGER),
    marker: singleParam({ type: 'string' }),
    hypervisor_hostname_pattern: singleParam(FQDN_SCHEMA),
    with_servers: singleParam(BOOLEAN_SCHEMA),
  },
  additionalProperties: false,
};
const showQueryV253 = { type: 'object', properties: { with_servers: singleParam(BOOLEAN_SCHEMA) }, additionalProperties: false };

/**
 * How each driver names its hypervisor: Nova's hypervisor_type, and its version as an
 * integer (1.0 → 1000). The qemu driver does not report its version yet.
 */
const HYPERVISOR_TYPE: Record<string, { type: string; version: number }> = {
  fake: { type: 'fake', version: 1000 },
  qemu: { type: 'QEMU', version: 0 },
};

function cpuInfo(h: Hypervisor): Record<string, unknown> {
  return {
    arch: 'x86_64',
    model: 'Nehalem',
    vendor: 'Intel',
    features: ['pge', 'clflush'],
    topology: { cores: 1, threads: 1, sockets: h.host.vcpus },
  };
}

/** JSON as Python's json.dumps prints it (", " and ": "), for the pre-2.28 cpu_info string. */
function pythonJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  if (value !== null && typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`).join(', ')}}`;
  return JSON.stringify(value);
}

interface ViewOptions {
  detail: boolean;
  servers?: HostedServer[];
  withServers?: boolean;
  nowMs: number;
  driverHosts?: HostInfo[];
}

/** nova.api.openstack.compute.hypervisors._view_hypervisor */
function hypervisorView(h: Hypervisor, mv: Microversion, o: ViewOptions): Record<string, unknown> {
  const uuids = mv.atLeast('2.53');
  const host = h.host;
  const out: Record<string, unknown> = {
    id: uuids ? host.id : host.num_id,
    hypervisor_hostname: host.name,
    state: h.up ? 'up' : 'down',
    status: host.enabled ? 'enabled' : 'disabled',
  };
  if (o.detail) {
    const kind = HYPERVISOR_TYPE[host.driver] ?? { type: host.driver, version: 0 };
    out.hypervisor_type = kind.type;
    // A driver that knows its hypervisor's version (QEMU's, probed at start) says it.
    out.hypervisor_version = o.driverHosts?.find((d) => d.name === host.name)?.hypervisorVersion ?? kind.version;
    out.host_ip = host.host_ip;
    out.service = { id: uuids ? host.service_id : computeServiceId(host.num_id), host: host.name, disabled_reason: host.disabled_reason };
    if (!mv.atLeast('2.88')) {
      out.vcpus = host.vcpus;
      out.memory_mb = host.memory_mb;
      out.local_gb = host.local_gb;
      out.vcpus_used = h.vcpusUsed;
      out.memory_mb_used = h.memoryMbUsed;
      out.local_gb_used = h.localGbUsed;
      out.free_ram_mb = host.memory_mb - h.memoryMbUsed;
      out.free_disk_gb = host.local_gb - h.localGbUsed;
      out.current_workload = h.currentWorkload;
      out.running_vms = h.runningVms;
      // Nova's fake driver says 0; a simulated host's disk is as free as it looks.
      out.disk_available_least = host.local_gb - h.localGbUsed;
      out.cpu_info = mv.atLeast('2.28') ? cpuInfo(h) : pythonJson(cpuInfo(h));
    } else {
      // 2.88 moved uptime into the detail view; a down host has none.
      out.uptime = h.up ? uptimeText(host, o.nowMs) : null;
    }
  }
  if (o.servers && o.servers.length > 0) out.servers = o.servers.map((s) => ({ name: instanceName(s.id), uuid: s.id }));
  else if (o.withServers && mv.atLeast('2.75')) out.servers = [];
  return out;
}

/** Nova's instance name, the same as the server view's OS-EXT-SRV-ATTR:instance_name. */
const instanceName = (id: string) => `instance-${id.slice(0, 8)}`;

const hypervisorNotFound = (id: string) => notFound(`Hypervisor with ID '${id}' could not be found.`);

/** Nova's _validate_id: a UUID from 2.53 (else 400), an integer before (else 404). */
function validateId(request: FastifyRequest, id: string): void {
  if (request.microversion.atLeast('2.53')) {
    if (!isUuidLike(id)) throw invalid(`Invalid uuid ${id}`);
  } else if (!/^\s*[+-]?\d+\s*$/.test(id)) {
    throw hypervisorNotFound(id);
  }
}

function findById(all: Hypervisor[], request: FastifyRequest, id: string): Hypervisor {
  const h = request.microversion.atLeast('2.53')
    ? all.find((x) => x.host.id === canonicalUuid(id))
    : all.find((x) => x.host.num_id === Number(id.trim()));
  if (!h) throw hypervisorNotFound(id);
  return h;
}

function byPattern(all: Hypervisor[], pattern: string): Hypervisor[] {
  const matches = hostnameMatcher(pattern);
  const found = all.filter((h) => matches(h.host.name));
  if (found.length === 0) throw notFound(`No hypervisor matching '${pattern}' could be found.`);
  return found;
}

export function hypervisorRoutes(app: FastifyInstance, services: Services, base: string): void {
  const authorize = (request: FastifyRequest, action: string) => services.policy.authorize(request.auth, `os_compute_api:os-hypervisors:${action}`);
  const all = () => listHypervisors(services.db, services.clock.nowMs());

  /** GET /os-hypervisors and /os-hypervisors/detail, with paging from 2.33 and search from 2.53. */
  async function list(request: FastifyRequest, detail: boolean) {
    const mv = request.microversion;
    let q: QueryLists = queryLists(request);
    const paged = mv.atLeast('2.33');
    if (mv.atLeast('2.53')) q = validateQuery(listQueryV253, q);
    else if (paged) q = validateQuery(listQueryV233, q);
    authorize(request, detail ? 'list-detail' : 'list');

    const pattern = mv.atLeast('2.53') ? lastValue(q, 'hypervisor_hostname_pattern') : undefined;
    const withServers = mv.atLeast('2.53') && boolFromString(lastValue(q, 'with_servers') ?? false);
    let limit = MAX_LIMIT;
    let marker: string | undefined;
    if (paged) {
      const rawLimit = lastValue(q, 'limit');
      if (rawLimit !== undefined) limit = Math.min(MAX_LIMIT, validateInteger(rawLimit, 'limit'));
      marker = lastValue(q, 'marker');
    }

    let nodes = await all();
    let links = paged;
    if (pattern !== undefined) {
      if ('limit' in q || marker) throw invalid('Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not supported.');
      links = false;
      nodes = byPattern(nodes, pattern);
    } else if (paged) {
      if (marker !== undefined) {
        // Nova looks a UUID marker up by uuid and anything else by integer id, at any version.
        const at = isUuidLike(marker) ? nodes.find((h) => h.host.id === canonicalUuid(marker!)) : nodes.find((h) => String(h.host.num_id) === marker!.trim());
        if (!at) throw invalid(`marker [${marker}] not found`);
        nodes = nodes.filter((h) => h.host.num_id > at.host.num_id);
      }
      nodes = nodes.slice(0, limit);
    }

    const hosted = withServers ? await serversOn(services.db, nodes.map((h) => h.host.name)) : null;
    const nowMs = services.clock.nowMs();
    const hypervisors = nodes.map((h) => hypervisorView(h, mv, { detail, nowMs, driverHosts: services.driver.hosts(), servers: hosted?.get(h.host.name), withServers }));
    const body: Record<string, unknown> = { hypervisors };
    if (links && limit > 0 && hypervisors.length === limit) {
      const params = new URLSearchParams();
      for (const key of Object.keys(q).sort()) if (key !== 'marker') params.append(key, lastValue(q, key)!);
      params.append('marker', String(hypervisors[hypervisors.length - 1].id));
      body.hypervisors_links = [{ rel: 'next', href: `${base}/v2.1/os-hypervisors${detail ? '/detail' : ''}?${params}` }];
    }
    return body;
  }

  resource(app, '/os-hypervisors', { GET: (request) => list(request, false) });
  resource(app, '/os-hypervisors/detail', { GET: (request) => list(request, true) });

  resource(app, '/os-hypervisors/statistics', {
    GET: async (request) => {
      onlyVersions(request, null, '2.87');
      authorize(request, 'statistics');
      return { hypervisor_statistics: statistics(await all()) };
    },
  });

  resource(app, '/os-hypervisors/:id', {
    GET: async (request) => {
      const { id } = request.params as { id: string };
      const mv = request.microversion;
      let withServers = false;
      if (mv.atLeast('2.53')) withServers = boolFromString(lastValue(validateQuery(showQueryV253, queryLists(request)), 'with_servers') ?? false);
      authorize(request, 'show');
      validateId(request, id);
      const h = findById(await all(), request, id);
      const servers = withServers ? (await serversOn(services.db, [h.host.name])).get(h.host.name) : undefined;
      return { hypervisor: hypervisorView(h, mv, { detail: true, servers, withServers, nowMs: services.clock.nowMs(), driverHosts: services.driver.hosts() }) };
    },
  });

  resource(app, '/os-hypervisors/:id/uptime', {
    GET: async (request) => {
      onlyVersions(request, null, '2.87');
      const { id } = request.params as { id: string };
      authorize(request, 'uptime');
      validateId(request, id);
      const h = findById(await all(), request, id);
      if (!h.up) throw invalid(`Compute service of ${h.host.name} is unavailable at this time.`);
      const nowMs = services.clock.nowMs();
      return { hypervisor: { ...hypervisorView(h, request.microversion, { detail: false, nowMs }), uptime: uptimeText(h.host, nowMs) } };
    },
  });

  resource(app, '/os-hypervisors/:id/search', {
    GET: async (request) => {
      onlyVersions(request, null, '2.52');
      authorize(request, 'search');
      const nodes = byPattern(await all(), (request.params as { id: string }).id);
      const nowMs = services.clock.nowMs();
      return { hypervisors: nodes.map((h) => hypervisorView(h, request.microversion, { detail: false, nowMs })) };
    },
  });

  resource(app, '/os-hypervisors/:id/servers', {
    GET: async (request) => {
      onlyVersions(request, null, '2.52');
      authorize(request, 'servers');
      const nodes = byPattern(await all(), (request.params as { id: string }).id);
      const hosted = await serversOn(services.db, nodes.map((h) => h.host.name));
      const nowMs = services.clock.nowMs();
      return { hypervisors: nodes.map((h) => hypervisorView(h, request.microversion, { detail: false, nowMs, servers: hosted.get(h.host.name) })) };
    },
  });
}
