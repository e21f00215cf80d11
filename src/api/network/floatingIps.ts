import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { canonicalIp } from '../../network/addresses.js';
import { badAttribute } from '../../network/errors.js';
import { createFloatingIp, deleteFloatingIp, findFloatingIp, listFloatingIps, updateFloatingIp } from '../../network/floatingIps.js';
import { resource } from '../http.js';
import { authorize, collection, viewerOf } from './access.js';
import { type BodySpec, createBodies, description, owningProject, projectId, updateBody, uuid } from './body.js';
import { pickFields, renderList } from './query.js';
import { floatingIpView } from './views.js';

interface FloatingIpBody {
  floating_network_id: string;
  floating_ip_address?: string;
  subnet_id?: string;
  port_id?: string | null;
  fixed_ip_address?: string;
  description?: string;
  project_id?: string;
  tenant_id?: string;
}

const ip = { type: 'string', maxLength: 64 };

const spec: BodySpec = {
  resource: 'floatingip',
  schema: {
    type: 'object',
    required: ['floating_network_id'],
    properties: {
      floating_network_id: uuid,
      floating_ip_address: ip,
      subnet_id: uuid,
      port_id: { type: ['string', 'null'], format: 'uuid' },
      fixed_ip_address: ip,
      description,
      project_id: projectId,
      tenant_id: projectId,
    },
  },
  updatable: ['port_id', 'fixed_ip_address', 'description'],
  readOnly: ['id', 'status', 'router_id', 'created_at', 'updated_at', 'revision_number'],
};

const FILTERS = [
  'id', 'floating_ip_address', 'floating_network_id', 'router_id', 'port_id', 'fixed_ip_address', 'status', 'description', 'tenant_id', 'project_id', 'revision_number',
];
const SORTS = ['id', 'floating_ip_address', 'floating_network_id', 'router_id', 'port_id', 'fixed_ip_address', 'status', 'tenant_id', 'project_id', 'created_at', 'updated_at', 'revision_number'];

/** An address attribute, canonical, or a 400 naming it. */
function address(attr: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const canonical = canonicalIp(text);
  if (!canonical) throw badAttribute(attr, `'${text}' is not a valid IP address`);
  return canonical;
}

export function floatingIpRoutes(app: FastifyInstance, services: Services, base: string): void {
  const href = `${base}/v2.0/floatingips`;

  collection(app, '/floatingips', {
    GET: async (request) => {
      authorize(services, request.auth, 'get_floatingip');
      const views = (await listFloatingIps(services.db, viewerOf(request.auth))).map(floatingIpView);
      return renderList(request, views, { collection: 'floatingips', filterable: FILTERS, sortable: SORTS, href });
    },
    POST: async (request, reply) => {
      const ctx = request.auth;
      const { items, bulk } = createBodies<FloatingIpBody>(spec, request.body);
      const created = await services.network.transaction(async (tx, now) => {
        const out = [];
        for (const item of items) {
          const project = owningProject(ctx, item);
          authorize(services, ctx, 'create_floatingip', project);
          const floating = address('floating_ip_address', item.floating_ip_address);
          if (floating !== undefined) authorize(services, ctx, 'create_floatingip:floating_ip_address', project);
          out.push(
            await createFloatingIp(tx, now, viewerOf(ctx), project, {
              floating_network_id: item.floating_network_id,
              floating_ip_address: floating,
              subnet_id: item.subnet_id,
              port_id: item.port_id,
              fixed_ip_address: address('fixed_ip_address', item.fixed_ip_address),
              description: item.description ?? '',
            }),
          );
        }
        return out;
      });
      reply.code(201);
      return bulk ? { floatingips: created.map(floatingIpView) } : { floatingip: floatingIpView(created[0]) };
    },
  });

  const byId = (request: FastifyRequest) => (request.params as { id: string }).id;

  resource(app, '/floatingips/:id', {
    GET: async (request) => {
      authorize(services, request.auth, 'get_floatingip');
      return { floatingip: pickFields(request, floatingIpView(await findFloatingIp(services.db, viewerOf(request.auth), byId(request)))) };
    },
    PUT: async (request) => {
      const ctx = request.auth;
      const patch = updateBody<FloatingIpBody>(spec, request.body);
      const updated = await services.network.transaction(async (tx, now) => {
        const fip = await findFloatingIp(tx, viewerOf(ctx), byId(request));
        authorize(services, ctx, 'update_floatingip', fip.project_id);
        return updateFloatingIp(tx, now, viewerOf(ctx), fip, {
          port_id: patch.port_id,
          fixed_ip_address: address('fixed_ip_address', patch.fixed_ip_address),
          description: patch.description,
        });
      });
      return { floatingip: floatingIpView(updated) };
    },
    DELETE: async (request: FastifyRequest, reply: FastifyReply) => {
      const ctx = request.auth;
      await services.network.transaction(async (tx, now) => {
        const fip = await findFloatingIp(tx, viewerOf(ctx), byId(request));
        authorize(services, ctx, 'delete_floatingip', fip.project_id);
        await deleteFloatingIp(tx, now, fip);
      });
      return reply.code(204).send();
    },
  });
}
