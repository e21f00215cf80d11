import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { NetworkingError, badRequest } from '../../network/errors.js';
import { createSubnet, deleteSubnet, findNetwork, findSubnet, listSubnets, updateSubnet, type HostRoute } from '../../network/networks.js';
import type { Pool } from '../../network/ipam.js';
import { resource } from '../http.js';
import { collection } from './access.js';
import { authorize, viewerOf } from './access.js';
import { type BodySpec, bool, createBodies, description, name, owningProject, projectId, updateBody, uuid } from './body.js';
import { pickFields, renderList } from './query.js';
import { subnetView } from './views.js';

interface SubnetBody {
  name?: string;
  description?: string;
  network_id: string;
  ip_version: number;
  cidr?: string;
  gateway_ip?: string | null;
  allocation_pools?: Pool[];
  dns_nameservers?: string[] | null;
  host_routes?: HostRoute[] | null;
  enable_dhcp?: boolean;
  ipv6_ra_mode?: string | null;
  ipv6_address_mode?: string | null;
  subnetpool_id?: string | null;
  project_id?: string;
  tenant_id?: string;
}

const IPV6_MODES = ['dhcpv6-stateful', 'dhcpv6-stateless', 'slaac', null];

const spec: BodySpec = {
  resource: 'subnet',
  schema: {
    type: 'object',
    required: ['network_id', 'ip_version'],
    properties: {
      name,
      description,
      network_id: uuid,
      ip_version: { type: 'integer', enum: [4, 6] },
      cidr: { type: 'string' },
      gateway_ip: { type: ['string', 'null'] },
      allocation_pools: {
        type: 'array',
        items: { type: 'object', required: ['start', 'end'], additionalProperties: false, properties: { start: { type: 'string' }, end: { type: 'string' } } },
      },
      dns_nameservers: { type: ['array', 'null'], items: { type: 'string' } },
      host_routes: {
        type: ['array', 'null'],
        items: { type: 'object', required: ['destination', 'nexthop'], additionalProperties: false, properties: { destination: { type: 'string' }, nexthop: { type: 'string' } } },
      },
      enable_dhcp: bool,
      ipv6_ra_mode: { enum: IPV6_MODES },
      ipv6_address_mode: { enum: IPV6_MODES },
      subnetpool_id: { type: ['string', 'null'] },
      project_id: projectId,
      tenant_id: projectId,
    },
  },
  updatable: ['name', 'description', 'gateway_ip', 'allocation_pools', 'dns_nameservers', 'host_routes', 'enable_dhcp'],
  readOnly: ['id', 'created_at', 'updated_at', 'revision_number'],
};

const FILTERS = [
  'id', 'name', 'description', 'network_id', 'ip_version', 'cidr', 'gateway_ip', 'enable_dhcp', 'ipv6_ra_mode', 'ipv6_address_mode',
  'subnetpool_id', 'tenant_id', 'project_id', 'revision_number',
];
const SORTS = ['id', 'name', 'network_id', 'ip_version', 'cidr', 'gateway_ip', 'enable_dhcp', 'tenant_id', 'project_id', 'created_at', 'updated_at', 'revision_number'];

export function subnetRoutes(app: FastifyInstance, services: Services, base: string): void {
  const href = `${base}/v2.0/subnets`;

  collection(app, '/subnets', {
    GET: async (request) => {
      authorize(services, request.auth, 'get_subnet');
      const views = (await listSubnets(services.db, viewerOf(request.auth))).map(subnetView);
      return renderList(request, views, { collection: 'subnets', filterable: FILTERS, sortable: SORTS, href });
    },
    POST: async (request, reply) => {
      const ctx = request.auth;
      const { items, bulk } = createBodies<SubnetBody>(spec, request.body);
      const created = await services.network.transaction(async (tx, now) => {
        const out = [];
        for (const item of items) {
          const project = owningProject(ctx, item);
          const network = await findNetwork(tx, viewerOf(ctx), item.network_id);
          // Subnets answer to the network's owner (Neutron's ADMIN_OR_NET_OWNER_MEMBER).
          authorize(services, ctx, 'create_subnet', network.project_id);
          if (item.subnetpool_id) throw new NetworkingError('not_found', `Subnet pool ${item.subnetpool_id} could not be found.`, 'SubnetPoolNotFound');
          if (item.cidr === undefined) throw badRequest('Bad subnet request: a subnetpool must be specified in the absence of a cidr.');
          out.push(
            await createSubnet(tx, now, project, network, {
              name: item.name ?? '',
              description: item.description ?? '',
              ip_version: item.ip_version,
              cidr: item.cidr,
              gateway_ip: item.gateway_ip,
              allocation_pools: item.allocation_pools,
              enable_dhcp: item.enable_dhcp ?? true,
              dns_nameservers: item.dns_nameservers ?? [],
              host_routes: item.host_routes ?? [],
              ipv6_ra_mode: item.ipv6_ra_mode ?? null,
              ipv6_address_mode: item.ipv6_address_mode ?? null,
            }),
          );
        }
        return out;
      });
      reply.code(201);
      return bulk ? { subnets: created.map(subnetView) } : { subnet: subnetView(created[0]) };
    },
  });

  const byId = (request: FastifyRequest) => (request.params as { id: string }).id;
  const networkOwner = async (db: Services['db'], networkId: string) =>
    (await db.selectFrom('networks').select('project_id').where('id', '=', networkId).executeTakeFirstOrThrow()).project_id;

  resource(app, '/subnets/:id', {
    GET: async (request) => {
      authorize(services, request.auth, 'get_subnet');
      const subnet = await findSubnet(services.db, viewerOf(request.auth), byId(request));
      return { subnet: pickFields(request, subnetView(subnet)) };
    },
    PUT: async (request) => {
      const ctx = request.auth;
      const patch = updateBody<SubnetBody>(spec, request.body);
      const updated = await services.network.transaction(async (tx, now) => {
        const subnet = await findSubnet(tx, viewerOf(ctx), byId(request));
        authorize(services, ctx, 'update_subnet', await networkOwner(tx, subnet.network_id));
        return updateSubnet(tx, now, subnet, {
          name: patch.name,
          description: patch.description,
          gateway_ip: patch.gateway_ip,
          allocation_pools: patch.allocation_pools,
          enable_dhcp: patch.enable_dhcp,
          dns_nameservers: patch.dns_nameservers === null ? [] : patch.dns_nameservers,
          host_routes: patch.host_routes === null ? [] : patch.host_routes,
        });
      });
      return { subnet: subnetView(updated) };
    },
    DELETE: async (request: FastifyRequest, reply: FastifyReply) => {
      const ctx = request.auth;
      await services.network.transaction(async (tx, now) => {
        const subnet = await findSubnet(tx, viewerOf(ctx), byId(request));
        authorize(services, ctx, 'delete_subnet', await networkOwner(tx, subnet.network_id));
        await deleteSubnet(tx, now, subnet);
      });
      return reply.code(204).send();
    },
  });
}
