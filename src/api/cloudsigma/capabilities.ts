/**
 * GET /capabilities/: what this cloud can run, from the hosts the driver reports — the
 * hypervisor and cpu types a server may ask for, and the cpu, smp and mem ranges one host
 * can hold. Server definitions are checked against the same figures.
 */
import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';
import { route } from './http.js';
import { MHZ_PER_CORE, MIB } from './server-view.js';

/** Every fake or KVM host runs both x86 cpu types under kvm. */
export const HYPERVISORS: Record<string, string[]> = { kvm: ['intel', 'amd'] };

export interface Range {
  min: number;
  max: number;
}
export interface ServerLimits {
  cpu: Range;
  cpu_per_smp: Range;
  mem: Range;
  smp: Range;
}

/** The largest server one host can take, and CloudSigma's smallest. */
export function serverLimits(services: Services): ServerLimits {
  const hosts = services.driver.hosts();
  const vcpus = Math.max(1, ...hosts.map((h) => h.vcpus));
  const memoryMb = Math.max(256, ...hosts.map((h) => h.memoryMb));
  return {
    cpu: { min: 250, max: vcpus * MHZ_PER_CORE },
    cpu_per_smp: { min: 250, max: 3000 },
    mem: { min: 256 * MIB, max: memoryMb * MIB },
    smp: { min: 1, max: vcpus },
  };
}

export function capabilities(services: Services): Record<string, unknown> {
  const limits = serverLimits(services);
  const cpuTypes = [...new Set(Object.values(HYPERVISORS).flat())];
  return {
    hosts: Object.fromEntries(cpuTypes.map((t) => [t, limits])),
    hypervisors: HYPERVISORS,
    servers: { ...limits, default_start_method: 'regular', start_methods: ['regular'] },
    // The storage types drives can be made on, with their sizes (the driver's).
    default_storage_type: services.drives.storageTypes()[0].name,
    drives: Object.fromEntries(services.drives.storageTypes().map((t) => [t.name, { max_size: t.maxSize, min_size: t.minSize, size: { max: t.maxSize, min: t.minSize } }])),
    gpus: {},
    sgx: { available: false },
  };
}

export function capabilityRoutes(api: FastifyInstance, services: Services): void {
  route(api, '/capabilities/', { GET: async () => capabilities(services) });
}
