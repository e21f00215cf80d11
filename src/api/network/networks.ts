import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { NetworkingError, invalidInput } from '../../network/errors.js';
import { DEFAULT_MTU, createNetwork, deleteNetwork, findNetwork, listNetworks, otherProjectsUse, updateNetwork } from '../../network/networks.js';
import { resource } from '../http.js';
import { collection } from './access.js';
import { authorize, viewerOf } from './access.js';
import { type BodySpec, bool, createBodies, description, name, owningProject, projectId, updateBody } from './body.js';
import { pickFields, renderList } from './query.js';
import { networkView } from './views.js';

interface NetworkBody {
  name?: string;
  description?: string;
  admin_state_up?: boolean;
  shared?: boolean;
  'router:external'?: boolean;
  mtu?: number;
  port_security_enabled?: boolean;
  is_default?: boolean;
  project_id?: string;
  tenant_id?: string;
}

const spec: BodySpec = {
  resource: 'network',
  schema: {
    type: 'object',
    properties: {
      name,
      description,
      admin_state_up: bool,
      shared: bool,
      'router:external': bool,
      mtu: { type: 'integer', minimum: 68 },
      port_security_enabled: bool,
      is_default: bool,
      project_id: projectId,
      tenant_id: projectId,
    },
  },
  updatable: ['name', 'description', 'admin_state_up', 'shared', 'router:external', 'mtu', 'port_security_enabled', 'is_default'],
  readOnly: ['id', 'status', 'subnets', 'l2_adjacency', 'created_at', 'updated_at', 'revision_number'],
};

const FILTERS = ['id', 'name', 'description', 'admin_state_up', 'status', 'tenant_id', 'project_id', 'shared', 'router:external', 'mtu', 'port_security_enabled', 'revision_number'];
const SORTS = ['id', 'name', 'admin_state_up', 'status', 'tenant_id', 'project_id', 'mtu', 'created_at', 'updated_at', 'revision_number'];

function checkMtu(mtu: number | undefined): void {
  if (mtu !== undefined && mtu > DEFAULT_MTU) throw invalidInput(`Requested MTU is too big, maximum is ${DEFAULT_MTU}`);
}

export function networkRoutes(app: FastifyInstance, services: Services, base: string): void {
  const href = `${base}/v2.0/networks`;

  collection(app, '/networks', {
    GET: async (request) => {
      authorize(services, request.auth, 'get_network');
      const views = (await listNetworks(services.db, viewerOf(request.auth))).map(networkView);
      return renderList(request, views, { collection: 'networks', filterable: FILTERS, sortable: SORTS, href });
    },
    POST: async (request, reply) => {
      const ctx = request.auth;
      const { items, bulk } = createBodies<NetworkBody>(spec, request.body);
      const created = await services.network.transaction(async (tx, now) => {
        const out = [];
        for (const item of items) {
          const project = owningProject(ctx, item);
          authorize(services, ctx, 'create_network', project);
          // Like Neutron's enforce_policy attributes: only a value other than the default needs the right.
          if (item.shared) authorize(services, ctx, 'create_network:shared', project);
          if (item['router:external']) authorize(services, ctx, 'create_network:router:external', project);
          if (item.is_default) authorize(services, ctx, 'create_network:is_default', project);
          checkMtu(item.mtu);
          out.push(
            await createNetwork(tx, now, project, {
              name: item.name ?? '',
              description: item.description ?? '',
              admin_state_up: item.admin_state_up ?? true,
              shared: item.shared ?? false,
              external: item['router:external'] ?? false,
              mtu: item.mtu ?? DEFAULT_MTU,
              port_security_enabled: item.port_security_enabled ?? true,
              is_default: item.is_default ?? false,
            }),
          );
        }
        return out;
      });
      reply.code(201);
      return bulk ? { networks: created.map(networkView) } : { network: networkView(created[0]) };
    },
  });

  const byId = (request: FastifyRequest) => (request.params as { id: string }).id;

  resource(app, '/networks/:id', {
    GET: async (request) => {
      authorize(services, request.auth, 'get_network');
      const network = await findNetwork(services.db, viewerOf(request.auth), byId(request));
      return { network: pickFields(request, networkView(network)) };
    },
    PUT: async (request) => {
      const ctx = request.auth;
      const patch = updateBody<NetworkBody>(spec, request.body);
      const updated = await services.network.transaction(async (tx, now) => {
        const network = await findNetwork(tx, viewerOf(ctx), byId(request));
        authorize(services, ctx, 'update_network', network.project_id);
        if (patch.shared !== undefined && patch.shared !== (network.shared === 1)) {
          authorize(services, ctx, 'update_network:shared', network.project_id);
          if (!patch.shared && (await otherProjectsUse(tx, network))) {
            throw new NetworkingError(
              'conflict',
              `Unable to reconfigure sharing settings for network ${network.id}. Multiple tenants are using it.`,
              'InvalidSharedSetting',
            );
          }
        }
        if (patch['router:external'] !== undefined && patch['router:external'] !== (network.external === 1)) {
          authorize(services, ctx, 'update_network:router:external', network.project_id);
        }
        if (patch.is_default !== undefined && patch.is_default !== (network.is_default === 1)) {
          authorize(services, ctx, 'update_network:is_default', network.project_id);
        }
        checkMtu(patch.mtu);
        await updateNetwork(tx, now, network.id, {
          name: patch.name,
          description: patch.description,
          admin_state_up: patch.admin_state_up,
          shared: patch.shared,
          external: patch['router:external'],
          mtu: patch.mtu,
          port_security_enabled: patch.port_security_enabled,
          is_default: patch.is_default,
        });
        return findNetwork(tx, viewerOf(ctx), network.id);
      });
      return { network: networkView(updated) };
    },
    DELETE: async (request: FastifyRequest, reply: FastifyReply) => {
      const ctx = request.auth;
      await services.network.transaction(async (tx) => {
        const network = await findNetwork(tx, viewerOf(ctx), byId(request));
        authorize(services, ctx, 'delete_network', network.project_id);
        await deleteNetwork(tx, network.id);
      });
      return reply.code(204).send();
    },
  });
}
