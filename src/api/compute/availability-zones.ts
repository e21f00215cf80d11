import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';
import { INTERNAL_ZONE } from '../../compute/aggregates.js';
import { HostServices, type ServiceRecord } from '../../compute/host-services.js';
import { resource } from '../http.js';
import { binaryOf } from './services.js';
import { novaDateTime } from './wire.js';

/**
 * Nova's get_availability_zones: a zone is available while one of its services is enabled;
 * a zone whose services are all disabled is listed as not available.
 */
function zones(list: ServiceRecord[]): { available: string[]; unavailable: string[] } {
  const available = new Set(list.filter((s) => !s.disabled).map((s) => s.zone));
  const unavailable = new Set(list.filter((s) => s.disabled && !available.has(s.zone)).map((s) => s.zone));
  return { available: [...available].sort(), unavailable: [...unavailable].sort() };
}

export function availabilityZoneRoutes(app: FastifyInstance, services: Services): void {
  const records = new HostServices(services.db, services.clock);

  resource(app, '/os-availability-zone', {
    GET: async (request) => {
      services.policy.authorize(request.auth, 'os_compute_api:os-availability-zone:list');
      const { available, unavailable } = zones(await records.list());
      // The control plane's zone is hidden from the summary, as Nova hides it.
      const entry = (zoneName: string, isAvailable: boolean) => ({ zoneName, zoneState: { available: isAvailable }, hosts: null });
      return {
        availabilityZoneInfo: [
          ...available.filter((z) => z !== INTERNAL_ZONE).map((z) => entry(z, true)),
          ...unavailable.filter((z) => z !== INTERNAL_ZONE).map((z) => entry(z, false)),
        ],
      };
    },
  });

  resource(app, '/os-availability-zone/detail', {
    GET: async (request) => {
      services.policy.authorize(request.auth, 'os_compute_api:os-availability-zone:detail');
      const list = await records.list();
      const { available, unavailable } = zones(list);
      type Hosts = Record<string, Record<string, { available: boolean; active: boolean; updated_at: string | null }>>;
      const info: { zoneName: string; zoneState: { available: boolean }; hosts: Hosts | null }[] = available.map((zoneName) => {
        const hosts: Hosts = {};
        for (const s of list) {
          if (s.disabled || s.zone !== zoneName) continue;
          hosts[s.host] ??= {};
          hosts[s.host][binaryOf(s)] = { available: s.up, active: !s.disabled, updated_at: novaDateTime(s.updatedAt) };
        }
        return { zoneName, zoneState: { available: true }, hosts };
      });
      for (const zoneName of unavailable) info.push({ zoneName, zoneState: { available: false }, hosts: null });
      return { availabilityZoneInfo: info };
    },
  });
}
