import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { NimbusError, notFound } from '../../errors.js';
import type { NetworkTable } from '../../db/schema.js';
import { findNetwork, listNetworks } from '../../network/networks.js';
import { viewerOf } from '../network/access.js';
import { resource } from '../http.js';
import { noSuchRoute, onlyVersions } from './wire.js';

/**
 * Nova's network proxies up to 2.35 (nova/api/openstack/compute/networks.py and
 * tenant_networks.py): the networks the caller's token sees in Neutron, in nova-network's
 * shape, where everything but the id and the label has no value any more. What changed
 * networks in nova-network answers 410 Gone, at every version, as in Nova.
 */
const LAST_PROXY_VERSION = '2.35';

const FIELDS = ['id', 'cidr', 'netmask', 'gateway', 'broadcast', 'dns1', 'dns2', 'cidr_v6', 'gateway_v6', 'label', 'netmask_v6'];
const ADMIN_FIELDS = [
  'created_at', 'updated_at', 'deleted_at', 'deleted', 'injected', 'bridge', 'vlan', 'vpn_public_address', 'vpn_public_port',
  'vpn_private_address', 'dhcp_start', 'project_id', 'host', 'bridge_interface', 'multi_host', 'priority', 'rxtx_base', 'mtu',
  'dhcp_server', 'enable_dhcp', 'share_address',
];

function networkView(n: NetworkTable, isAdmin: boolean): Record<string, unknown> {
  const fields = isAdmin ? [...FIELDS, ...ADMIN_FIELDS] : FIELDS;
  return Object.fromEntries(fields.map((f) => [f, f === 'id' ? n.id : f === 'label' ? n.name : null]));
}

/** os-tenant-networks shows less, and its cidr is Python's str(None). */
const tenantNetworkView = (n: NetworkTable) => ({ id: n.id, cidr: 'None', label: n.name });

const gone = () => new NimbusError('gone', 'This resource is no longer available.  No forwarding address is given.');

export function networkProxyRoutes(app: FastifyInstance, services: Services): void {
  const idOf = (request: FastifyRequest) => {
    const { id } = request.params as { id: string };
    if (id === '') throw noSuchRoute();
    return id;
  };
  const find = async (request: FastifyRequest) => {
    try {
      return await findNetwork(services.db, viewerOf(request.auth), idOf(request));
    } catch (err) {
      if (err instanceof NimbusError && err.kind === 'not_found') throw notFound('Network not found');
      throw err;
    }
  };
  const goneRoute = async () => {
    throw gone();
  };

  for (const [path, policy, view] of [
    ['/os-networks', 'os_compute_api:os-networks', (n: NetworkTable, isAdmin: boolean) => networkView(n, isAdmin)],
    ['/os-tenant-networks', 'os_compute_api:os-tenant-networks', (n: NetworkTable) => tenantNetworkView(n)],
  ] as const) {
    resource(app, path, {
      GET: async (request) => {
        onlyVersions(request, null, LAST_PROXY_VERSION);
        services.policy.authorize(request.auth, `${policy}:list`, request.auth.projectId);
        const networks = await listNetworks(services.db, viewerOf(request.auth));
        return { networks: networks.map((n) => view(n, request.auth.isAdmin)) };
      },
      POST: goneRoute,
    });
    resource(app, `${path}/:id`, {
      GET: async (request) => {
        onlyVersions(request, null, LAST_PROXY_VERSION);
        services.policy.authorize(request.auth, `${policy}:show`, request.auth.projectId);
        return { network: view(await find(request), request.auth.isAdmin) };
      },
      DELETE: goneRoute,
    });
  }
  // nova-network's association and host actions.
  resource(app, '/os-networks/add', { POST: goneRoute });
  resource(app, '/os-networks/:id/action', { POST: goneRoute });
}
