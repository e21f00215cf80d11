import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { canonicalIp, canonicalMac } from '../../network/addresses.js';
import { NetworkingError, badAttribute } from '../../network/errors.js';
import type { FixedIpRequest } from '../../network/ipam.js';
import { L3_OWNERS, findNetwork, isNetworkOwned } from '../../network/networks.js';
import { createPort, deletePort, findPort, listPorts, updatePort } from '../../network/ports.js';
import { boundToServer, checkDeviceOwner, refreshServerPorts } from '../../network/servers.js';
import { resource } from '../http.js';
import { collection } from './access.js';
import { authorize, viewerOf } from './access.js';
import { type BodySpec, bool, createBodies, description, name, owningProject, projectId, updateBody, uuid } from './body.js';
import { pickFields, renderList } from './query.js';
import { portView } from './views.js';

interface PortBody {
  name?: string;
  description?: string;
  network_id: string;
  admin_state_up?: boolean;
  mac_address?: string;
  fixed_ips?: FixedIpRequest[];
  device_id?: string;
  device_owner?: string;
  security_groups?: string[] | null;
  port_security_enabled?: boolean;
  'binding:host_id'?: string;
  'binding:vnic_type'?: string;
  'binding:profile'?: Record<string, unknown> | null;
  project_id?: string;
  tenant_id?: string;
}

const VNIC_TYPES = ['normal', 'direct', 'macvtap', 'baremetal', 'direct-physical', 'virtio-forwarder', 'smart-nic', 'vdpa', 'accelerator-direct', 'accelerator-direct-physical', 'remote-managed'];

const spec: BodySpec = {
  resource: 'port',
  schema: {
    type: 'object',
    required: ['network_id'],
    properties: {
      name,
      description,
      network_id: uuid,
      admin_state_up: bool,
      mac_address: { type: 'string' },
      fixed_ips: {
        type: 'array',
        items: { type: 'object', additionalProperties: false, properties: { subnet_id: uuid, ip_address: { type: 'string' } } },
      },
      device_id: { type: 'string', maxLength: 255 },
      device_owner: { type: 'string', maxLength: 255 },
      security_groups: { type: ['array', 'null'], items: uuid },
      port_security_enabled: bool,
      'binding:host_id': { type: 'string', maxLength: 255 },
      'binding:vnic_type': { enum: VNIC_TYPES },
      'binding:profile': { type: ['object', 'null'] },
      project_id: projectId,
      tenant_id: projectId,
    },
  },
  updatable: [
    'name', 'description', 'admin_state_up', 'fixed_ips', 'device_id', 'device_owner', 'security_groups', 'port_security_enabled',
    'binding:host_id', 'binding:vnic_type', 'binding:profile',
  ],
  readOnly: ['id', 'status', 'created_at', 'updated_at', 'revision_number', 'binding:vif_type', 'binding:vif_details'],
};

const FILTERS = [
  'id', 'name', 'description', 'network_id', 'admin_state_up', 'mac_address', 'fixed_ips', 'device_id', 'device_owner', 'tenant_id',
  'project_id', 'status', 'security_groups', 'port_security_enabled', 'binding:host_id', 'binding:vnic_type', 'revision_number',
];
const SORTS = ['id', 'name', 'network_id', 'admin_state_up', 'mac_address', 'device_id', 'device_owner', 'tenant_id', 'project_id', 'status', 'created_at', 'updated_at', 'revision_number'];

/** fixed_ips as neutron-lib's validate_fixed_ips checks them, addresses made canonical. */
function fixedIps(list: FixedIpRequest[] | undefined): FixedIpRequest[] | undefined {
  if (list === undefined) return undefined;
  const seen = new Set<string>();
  return list.map((f) => {
    const out: FixedIpRequest = { ...f };
    if (f.ip_address !== undefined) {
      const ip = canonicalIp(f.ip_address);
      if (!ip) throw badAttribute('fixed_ips', `'${f.ip_address}' is not a valid IP address`);
      if (seen.has(ip)) throw badAttribute('fixed_ips', `Duplicate IP address '${f.ip_address}'`);
      seen.add(ip);
      out.ip_address = ip;
    }
    return out;
  });
}

function macAddress(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const mac = canonicalMac(text);
  if (!mac) throw badAttribute('mac_address', `'${text}' is not a valid MAC address`);
  return mac;
}

export function portRoutes(app: FastifyInstance, services: Services, base: string): void {
  const href = `${base}/v2.0/ports`;

  collection(app, '/ports', {
    GET: async (request) => {
      const ctx = request.auth;
      authorize(services, ctx, 'get_port');
      const views = (await listPorts(services.db, viewerOf(ctx))).map((p) => portView(p, ctx.isAdmin));
      return renderList(request, views, { collection: 'ports', filterable: FILTERS, sortable: SORTS, href });
    },
    POST: async (request, reply) => {
      const ctx = request.auth;
      const { items, bulk } = createBodies<PortBody>(spec, request.body);
      const created = await services.network.transaction(async (tx, now) => {
        const out = [];
        for (const item of items) {
          const project = owningProject(ctx, item);
          const network = await findNetwork(tx, viewerOf(ctx), item.network_id);
          if (!ctx.isAdmin && network.project_id !== project && !network.shared) {
            throw new NetworkingError('forbidden', `Tenant ${project} not allowed to create port on this network`, 'HTTPForbidden');
          }
          authorize(services, ctx, 'create_port', project);
          const ips = fixedIps(item.fixed_ips);
          if (ips?.some((f) => f.ip_address !== undefined)) authorize(services, ctx, 'create_port:fixed_ips:ip_address', network.project_id);
          const mac = macAddress(item.mac_address);
          if (mac) authorize(services, ctx, 'create_port:mac_address', network.project_id);
          if (item['binding:host_id']) authorize(services, ctx, 'create_port:binding:host_id', project);
          if (item['binding:profile'] && Object.keys(item['binding:profile']).length) authorize(services, ctx, 'create_port:binding:profile', project);
          // Port security and the network's own device owners are the network owner's to set.
          if (item.port_security_enabled !== undefined) authorize(services, ctx, 'create_port:port_security_enabled', network.project_id);
          if (item.device_owner !== undefined && isNetworkOwned(item.device_owner)) authorize(services, ctx, 'create_port:device_owner', network.project_id);
          await checkDeviceOwner(tx, ctx.isAdmin, { project_id: project, device_id: item.device_id ?? '', device_owner: item.device_owner ?? '' });
          out.push(
            await createPort(tx, now, project, ctx.isAdmin, network, {
              name: item.name ?? '',
              description: item.description ?? '',
              admin_state_up: item.admin_state_up ?? true,
              mac_address: mac,
              fixed_ips: ips,
              device_id: item.device_id ?? '',
              device_owner: item.device_owner ?? '',
              security_groups: item.security_groups === null ? [] : item.security_groups,
              port_security_enabled: item.port_security_enabled,
              binding_host_id: item['binding:host_id'] ?? '',
              binding_vnic_type: item['binding:vnic_type'] ?? 'normal',
              binding_profile: item['binding:profile'] ?? {},
            }),
          );
        }
        return out;
      });
      reply.code(201);
      const views = created.map((p) => portView(p, ctx.isAdmin));
      return bulk ? { ports: views } : { port: views[0] };
    },
  });

  const byId = (request: FastifyRequest) => (request.params as { id: string }).id;

  resource(app, '/ports/:id', {
    GET: async (request) => {
      const ctx = request.auth;
      authorize(services, ctx, 'get_port');
      const port = await findPort(services.db, viewerOf(ctx), byId(request));
      return { port: pickFields(request, portView(port, ctx.isAdmin)) };
    },
    PUT: async (request) => {
      const ctx = request.auth;
      const patch = updateBody<PortBody>(spec, request.body);
      const updated = await services.network.transaction(async (tx, now) => {
        const port = await findPort(tx, viewerOf(ctx), byId(request));
        authorize(services, ctx, 'update_port', port.project_id);
        const ips = fixedIps(patch.fixed_ips);
        if (ips?.some((f) => f.ip_address !== undefined)) {
          const net = await tx.selectFrom('networks').select('project_id').where('id', '=', port.network_id).executeTakeFirstOrThrow();
          authorize(services, ctx, 'update_port:fixed_ips:ip_address', net.project_id);
        }
        if (patch['binding:host_id'] !== undefined) authorize(services, ctx, 'update_port:binding:host_id', port.project_id);
        if (patch['binding:profile'] !== undefined) authorize(services, ctx, 'update_port:binding:profile', port.project_id);
        if (patch.port_security_enabled !== undefined || (patch.device_owner !== undefined && isNetworkOwned(patch.device_owner))) {
          const net = await tx.selectFrom('networks').select('project_id').where('id', '=', port.network_id).executeTakeFirstOrThrow();
          if (patch.port_security_enabled !== undefined) authorize(services, ctx, 'update_port:port_security_enabled', net.project_id);
          if (patch.device_owner !== undefined && isNetworkOwned(patch.device_owner)) authorize(services, ctx, 'update_port:device_owner', net.project_id);
        }
        if (patch.device_id !== undefined || patch.device_owner !== undefined) {
          await checkDeviceOwner(tx, ctx.isAdmin, { project_id: port.project_id, device_id: patch.device_id ?? port.device_id, device_owner: patch.device_owner ?? port.device_owner });
        }
        const updated = await updatePort(tx, now, ctx.isAdmin, port, {
          name: patch.name,
          description: patch.description,
          admin_state_up: patch.admin_state_up,
          fixed_ips: ips,
          device_id: patch.device_id,
          device_owner: patch.device_owner,
          security_groups: patch.security_groups === null ? [] : patch.security_groups,
          port_security_enabled: patch.port_security_enabled,
          binding_host_id: patch['binding:host_id'],
          binding_vnic_type: patch['binding:vnic_type'],
          binding_profile: patch['binding:profile'] === null ? {} : patch['binding:profile'],
        });
        // The server it left and the server it is on now show what it has.
        for (const p of [port, updated]) if (boundToServer(p)) await refreshServerPorts(tx, now, p);
        return updated;
      });
      return { port: portView(updated, ctx.isAdmin) };
    },
    DELETE: async (request: FastifyRequest, reply: FastifyReply) => {
      const ctx = request.auth;
      await services.network.transaction(async (tx, now) => {
        const port = await findPort(tx, viewerOf(ctx), byId(request));
        // The port's project, or the owner of its network, may delete it.
        const net = await tx.selectFrom('networks').select('project_id').where('id', '=', port.network_id).executeTakeFirstOrThrow();
        if (!services.policy.check(ctx, 'delete_port', port.project_id)) authorize(services, ctx, 'delete_port', net.project_id);
        // Neutron's ServicePortInUse: L3's ports go with their router or floating IP, not through here.
        if (L3_OWNERS.includes(port.device_owner)) {
          throw new NetworkingError('conflict', `Port ${port.id} cannot be deleted directly via the port API: has device owner ${port.device_owner}.`, 'ServicePortInUse');
        }
        await deletePort(tx, port.id);
        if (boundToServer(port)) await refreshServerPorts(tx, now, port);
      });
      return reply.code(204).send();
    },
  });
}
