import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { badAttribute, badRequest } from '../../network/errors.js';
import { addInterface, createRouter, deleteRouter, findRouter, listRouters, removeInterface, updateRouter, type GatewayInput } from '../../network/routers.js';
import { resource } from '../http.js';
import { authorize, collection, viewerOf } from './access.js';
import { type BodySpec, bool, createBodies, description, name, owningProject, projectId, updateBody, uuid } from './body.js';
import { pickFields, renderList } from './query.js';
import { routerView } from './views.js';

interface RouterBody {
  name?: string;
  description?: string;
  admin_state_up?: boolean;
  external_gateway_info?: Partial<GatewayInput> | null;
  project_id?: string;
  tenant_id?: string;
}

const spec: BodySpec = {
  resource: 'router',
  schema: {
    type: 'object',
    properties: {
      name,
      description,
      admin_state_up: bool,
      external_gateway_info: {
        type: ['object', 'null'],
        additionalProperties: false,
        properties: {
          network_id: uuid,
          enable_snat: bool,
          external_fixed_ips: {
            type: 'array',
            items: { type: 'object', additionalProperties: false, properties: { subnet_id: uuid, ip_address: { type: 'string', maxLength: 64 } } },
          },
        },
      },
      project_id: projectId,
      tenant_id: projectId,
    },
  },
  updatable: ['name', 'description', 'admin_state_up', 'external_gateway_info'],
  readOnly: ['id', 'status', 'routes', 'created_at', 'updated_at', 'revision_number'],
};

const FILTERS = ['id', 'name', 'description', 'admin_state_up', 'status', 'tenant_id', 'project_id', 'revision_number'];
const SORTS = ['id', 'name', 'admin_state_up', 'status', 'tenant_id', 'project_id', 'created_at', 'updated_at', 'revision_number'];

/**
 * external_gateway_info as Neutron reads it: an object naming an external network sets
 * the gateway, {} or null has none. Setting SNAT or the gateway's addresses is for admins.
 */
function gateway(services: Services, request: FastifyRequest, action: string, project: string, info: RouterBody['external_gateway_info']): GatewayInput | null | undefined {
  if (info === undefined) return undefined;
  if (info === null || Object.keys(info).length === 0) return null;
  if (info.network_id === undefined) throw badAttribute('external_gateway_info', `Validation of dictionary's keys failed. Expected keys: {'network_id'}`);
  if (info.enable_snat !== undefined) authorize(services, request.auth, `${action}:external_gateway_info:enable_snat`, project);
  if (info.external_fixed_ips !== undefined) authorize(services, request.auth, `${action}:external_gateway_info:external_fixed_ips`, project);
  return { network_id: info.network_id, enable_snat: info.enable_snat, external_fixed_ips: info.external_fixed_ips };
}

/** add_router_interface / remove_router_interface take {subnet_id} or {port_id}, each a UUID. */
function interfaceBody(body: unknown): { subnet_id?: string; port_id?: string } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Body contains invalid data');
  const out: { subnet_id?: string; port_id?: string } = {};
  for (const [k, v] of Object.entries(body)) {
    if (k !== 'subnet_id' && k !== 'port_id') continue; // Neutron passes other keys through unread
    if (typeof v !== 'string' || !/^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(v)) {
      throw badAttribute(k, `'${typeof v === 'string' ? v : JSON.stringify(v)}' is not a valid UUID`);
    }
    out[k] = v;
  }
  return out;
}

export function routerRoutes(app: FastifyInstance, services: Services, base: string): void {
  const href = `${base}/v2.0/routers`;

  collection(app, '/routers', {
    GET: async (request) => {
      authorize(services, request.auth, 'get_router');
      const views = (await listRouters(services.db, viewerOf(request.auth))).map(routerView);
      return renderList(request, views, { collection: 'routers', filterable: FILTERS, sortable: SORTS, href });
    },
    POST: async (request, reply) => {
      const ctx = request.auth;
      const { items, bulk } = createBodies<RouterBody>(spec, request.body);
      const created = await services.network.transaction(async (tx, now) => {
        const out = [];
        for (const item of items) {
          const project = owningProject(ctx, item);
          authorize(services, ctx, 'create_router', project);
          const gw = gateway(services, request, 'create_router', project, item.external_gateway_info);
          out.push(
            await createRouter(tx, now, viewerOf(ctx), project, {
              name: item.name ?? '',
              description: item.description ?? '',
              admin_state_up: item.admin_state_up ?? true,
              gateway: gw ?? undefined,
            }),
          );
        }
        return out;
      });
      reply.code(201);
      return bulk ? { routers: created.map(routerView) } : { router: routerView(created[0]) };
    },
  });

  const byId = (request: FastifyRequest) => (request.params as { id: string }).id;

  resource(app, '/routers/:id', {
    GET: async (request) => {
      authorize(services, request.auth, 'get_router');
      return { router: pickFields(request, routerView(await findRouter(services.db, viewerOf(request.auth), byId(request)))) };
    },
    PUT: async (request) => {
      const ctx = request.auth;
      const patch = updateBody<RouterBody>(spec, request.body);
      const updated = await services.network.transaction(async (tx, now) => {
        const router = await findRouter(tx, viewerOf(ctx), byId(request));
        authorize(services, ctx, 'update_router', router.project_id);
        const gw = gateway(services, request, 'update_router', router.project_id, patch.external_gateway_info);
        return updateRouter(tx, now, viewerOf(ctx), router, { name: patch.name, description: patch.description, admin_state_up: patch.admin_state_up, gateway: gw });
      });
      return { router: routerView(updated) };
    },
    DELETE: async (request: FastifyRequest, reply: FastifyReply) => {
      const ctx = request.auth;
      await services.network.transaction(async (tx) => {
        const router = await findRouter(tx, viewerOf(ctx), byId(request));
        authorize(services, ctx, 'delete_router', router.project_id);
        await deleteRouter(tx, router);
      });
      return reply.code(204).send();
    },
  });

  for (const [path, action] of [
    ['add_router_interface', 'add_router_interface'],
    ['remove_router_interface', 'remove_router_interface'],
  ] as const) {
    resource(app, `/routers/:id/${path}`, {
      PUT: async (request) => {
        const ctx = request.auth;
        const by = interfaceBody(request.body);
        return services.network.transaction(async (tx, now) => {
          const router = await findRouter(tx, viewerOf(ctx), byId(request));
          authorize(services, ctx, action, router.project_id);
          return action === 'add_router_interface' ? addInterface(tx, now, viewerOf(ctx), router, by) : removeInterface(tx, router, by);
        });
      },
    });
  }
}
