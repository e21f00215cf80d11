import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { notFound } from '../../errors.js';
import { HostServices, type ServiceRecord } from '../../compute/host-services.js';
import { listHypervisors, serversOn } from '../../compute/hypervisors.js';
import { resource } from '../http.js';
import { validate } from '../validation.js';
import { lastValue, onlyVersions, queryLists } from './wire.js';

const ENABLE_DISABLE = { type: 'string', enum: ['enable', 'disable', 'Enable', 'Disable', 'ENABLE', 'DISABLE'] };
/**
 * nova/api/openstack/compute/schemas/hosts.py. Nova's anyOf sits inside `properties`, where
 * it checks nothing: an empty body is accepted and answered with just the host name.
 */
const hostUpdate = { type: 'object', properties: { status: ENABLE_DISABLE, maintenance_mode: ENABLE_DISABLE }, additionalProperties: false };

const notMapped = (host: string) => notFound(`Host '${host}' is not mapped to any cell`);

/**
 * /os-hosts, removed in 2.43. Nova hands enable/disable, maintenance mode and power actions
 * to the virt driver; the fake driver acknowledges them and changes nothing, and so do we
 * (disable a host through /os-services to keep servers off it).
 */
export function hostRoutes(app: FastifyInstance, services: Services): void {
  const records = new HostServices(services.db, services.clock);
  const gate = (request: FastifyRequest, action: string) => {
    onlyVersions(request, null, '2.42');
    services.policy.authorize(request.auth, `os_compute_api:os-hosts:${action}`);
  };
  /** The compute service of a host; only compute hosts are mapped to a cell. */
  const computeHost = async (host: string): Promise<ServiceRecord> => {
    const service = await records.computeOn(host);
    if (!service) throw notMapped(host);
    return service;
  };

  resource(app, '/os-hosts', {
    GET: async (request) => {
      gate(request, 'list');
      const zone = lastValue(queryLists(request), 'zone');
      const hosts = (await records.list())
        .filter((s) => !s.disabled && (!zone || s.zone === zone))
        .map((s) => ({ host_name: s.host, service: s.kind, zone: s.zone }));
      return { hosts };
    },
  });

  resource(app, '/os-hosts/:host', {
    GET: async (request) => {
      gate(request, 'show');
      const { host } = request.params as { host: string };
      await computeHost(host);
      const h = (await listHypervisors(services.db, services.clock.nowMs())).find((x) => x.host.name === host)!;
      const servers = (await serversOn(services.db, [host])).get(host)!;
      const resource = (project: string, cpu: number, memory_mb: number, disk_gb: number) => ({ resource: { host, project, cpu, memory_mb, disk_gb } });
      const byProject = new Map<string, { cpu: number; memory_mb: number; disk_gb: number }>();
      for (const s of servers) {
        const p = byProject.get(s.projectId) ?? { cpu: 0, memory_mb: 0, disk_gb: 0 };
        p.cpu += s.vcpus;
        p.memory_mb += s.memoryMb;
        p.disk_gb += s.diskGb;
        byProject.set(s.projectId, p);
      }
      return {
        host: [
          resource('(total)', h.host.vcpus, h.host.memory_mb, h.host.local_gb),
          resource('(used_now)', h.vcpusUsed, h.memoryMbUsed, h.localGbUsed),
          resource('(used_max)', h.vcpusUsed, h.memoryMbUsed, h.localGbUsed),
          ...[...byProject].map(([project, p]) => resource(project, p.cpu, p.memory_mb, p.disk_gb)),
        ],
      };
    },
    PUT: async (request) => {
      onlyVersions(request, null, '2.42');
      const body = validate<{ status?: string; maintenance_mode?: string }>(hostUpdate, request.body);
      gate(request, 'update');
      const { host } = request.params as { host: string };
      const enabled = (v: string) => v.trim().toLowerCase() === 'enable';
      const result: Record<string, string> = { host };
      if (body.status !== undefined) {
        await computeHost(host);
        result.status = enabled(body.status) ? 'enabled' : 'disabled';
      }
      if (body.maintenance_mode !== undefined) {
        await computeHost(host);
        result.maintenance_mode = enabled(body.maintenance_mode) ? 'on_maintenance' : 'off_maintenance';
      }
      return result;
    },
  });

  for (const [action, policy] of [['reboot', 'reboot'], ['shutdown', 'shutdown'], ['startup', 'start']] as const) {
    resource(app, `/os-hosts/:host/${action}`, {
      GET: async (request) => {
        gate(request, policy);
        const { host } = request.params as { host: string };
        await computeHost(host);
        return { host, power_action: action };
      },
    });
  }
}
