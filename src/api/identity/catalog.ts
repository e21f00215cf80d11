import { createHash } from 'node:crypto';
import type { Config } from '../../config.js';

/** The services a stock OpenStack cloud names, as clients look them up: by type, name and region. */
const SERVICES = [
  { type: 'identity', name: 'keystone', path: '/identity' },
  { type: 'compute', name: 'nova', path: '/compute/v2.1' },
  { type: 'image', name: 'glance', path: '/image' },
  { type: 'network', name: 'neutron', path: '/network' },
];

const stableId = (...parts: string[]) => createHash('sha256').update(parts.join('/')).digest('hex').slice(0, 32);

/** The catalog, built from the configuration so it always names the address we listen on. */
export function serviceCatalog(config: Config) {
  return SERVICES.map((s) => ({
    id: stableId('service', s.type),
    type: s.type,
    name: s.name,
    endpoints: ['public', 'internal', 'admin'].map((iface) => ({
      id: stableId('endpoint', s.type, iface),
      interface: iface,
      region: config.region,
      region_id: config.region,
      url: `${config.publicUrl}${s.path}`,
    })),
  }));
}
