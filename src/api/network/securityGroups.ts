import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MAX_ID_LENGTH } from '../../identity/directory.js';
import type { Services } from '../../services.js';
import { NetworkingError } from '../../network/errors.js';
import {
  createSecurityGroup,
  createSecurityGroupRule,
  deleteSecurityGroup,
  deleteSecurityGroupRule,
  ensureDefaultSecurityGroup,
  findSecurityGroup,
  findSecurityGroupRule,
  listSecurityGroupRules,
  listSecurityGroups,
  updateSecurityGroup,
  type RuleInput,
} from '../../network/securityGroups.js';
import type { AuthContext } from '../../identity/tokens.js';
import type { Kysely } from 'kysely';
import type { Schema } from '../../db/schema.js';
import { resource } from '../http.js';
import { collection } from './access.js';
import { authorize, viewerOf } from './access.js';
import { type BodySpec, bool, createBodies, description, name, owningProject, projectId, updateBody } from './body.js';
import { pickFields, renderList } from './query.js';
import { ruleView, securityGroupView } from './views.js';

interface GroupBody {
  name?: string;
  description?: string;
  stateful?: boolean;
  project_id?: string;
  tenant_id?: string;
}

const groupSpec: BodySpec = {
  resource: 'security_group',
  schema: { type: 'object', properties: { name, description, stateful: bool, project_id: projectId, tenant_id: projectId } },
  updatable: ['name', 'description', 'stateful'],
  readOnly: ['id', 'security_group_rules', 'created_at', 'updated_at', 'revision_number'],
};

type RuleBody = RuleInput & { project_id?: string; tenant_id?: string; remote_address_group_id?: null };

// Protocol, ports, ethertype and prefix take several forms; the core converts and checks them.
const ruleSpec: BodySpec = {
  resource: 'security_group_rule',
  schema: {
    type: 'object',
    required: ['security_group_id', 'direction'],
    properties: {
      security_group_id: { type: 'string', maxLength: 36 },
      direction: { enum: ['ingress', 'egress'] },
      ethertype: {},
      protocol: { type: ['string', 'integer', 'null'] },
      port_range_min: { type: ['string', 'integer', 'null'] },
      port_range_max: { type: ['string', 'integer', 'null'] },
      remote_ip_prefix: { type: ['string', 'null'] },
      remote_group_id: { type: ['string', 'null'] },
      remote_address_group_id: { type: 'null' },
      description,
      project_id: projectId,
      tenant_id: projectId,
    },
  },
  updatable: ['description'],
  readOnly: ['id', 'normalized_cidr', 'created_at', 'updated_at', 'revision_number'],
};

const GROUP_FILTERS = ['id', 'name', 'description', 'tenant_id', 'project_id', 'stateful', 'revision_number'];
const GROUP_SORTS = ['id', 'name', 'tenant_id', 'project_id', 'created_at', 'updated_at', 'revision_number'];
const RULE_FILTERS = [
  'id', 'security_group_id', 'remote_group_id', 'direction', 'protocol', 'port_range_min', 'port_range_max', 'ethertype',
  'remote_ip_prefix', 'normalized_cidr', 'tenant_id', 'project_id', 'description', 'revision_number',
];
const RULE_SORTS = ['id', 'security_group_id', 'remote_group_id', 'direction', 'protocol', 'port_range_min', 'port_range_max', 'ethertype', 'remote_ip_prefix', 'tenant_id', 'project_id'];

/**
 * Listing groups or rules makes the project's default group first, as Neutron does: for
 * the caller's project, or for the project an admin filters on.
 */
async function ensureDefaultFor(tx: Kysely<Schema>, now: string, ctx: AuthContext, query: unknown): Promise<void> {
  const q = query as Record<string, string | undefined>;
  const asked = q.project_id ?? q.tenant_id;
  const wanted = asked || ctx.projectId;
  // A project id is at most 64 characters (Keystone's): a longer one names no project to give a group to.
  if (wanted && wanted.length <= MAX_ID_LENGTH && (wanted === ctx.projectId || ctx.isAdmin)) await ensureDefaultSecurityGroup(tx, now, wanted);
}

export function securityGroupRoutes(app: FastifyInstance, services: Services, base: string): void {
  const byId = (request: FastifyRequest) => (request.params as { id: string }).id;

  collection(app, '/security-groups', {
    GET: async (request) => {
      const ctx = request.auth;
      authorize(services, ctx, 'get_security_group');
      const groups = await services.network.transaction(async (tx, now) => {
        await ensureDefaultFor(tx, now, ctx, request.query);
        return listSecurityGroups(tx, viewerOf(ctx));
      });
      return renderList(request, groups.map(securityGroupView), {
        collection: 'security_groups',
        filterable: GROUP_FILTERS,
        sortable: GROUP_SORTS,
        href: `${base}/v2.0/security-groups`,
      });
    },
    POST: async (request, reply) => {
      const ctx = request.auth;
      const { items, bulk } = createBodies<GroupBody>(groupSpec, request.body);
      const created = await services.network.transaction(async (tx, now) => {
        const out = [];
        for (const item of items) {
          const project = owningProject(ctx, item);
          authorize(services, ctx, 'create_security_group', project);
          if ((item.name ?? '').toLowerCase() === 'default') {
            throw new NetworkingError('conflict', 'Default security group already exists.', 'SecurityGroupDefaultAlreadyExists');
          }
          out.push(await createSecurityGroup(tx, now, project, { name: item.name ?? '', description: item.description ?? '', stateful: item.stateful ?? true }));
        }
        return out;
      });
      reply.code(201);
      return bulk ? { security_groups: created.map(securityGroupView) } : { security_group: securityGroupView(created[0]) };
    },
  });

  resource(app, '/security-groups/:id', {
    GET: async (request) => {
      authorize(services, request.auth, 'get_security_group');
      const group = await findSecurityGroup(services.db, viewerOf(request.auth), byId(request));
      return { security_group: pickFields(request, securityGroupView(group)) };
    },
    PUT: async (request) => {
      const ctx = request.auth;
      const patch = updateBody<GroupBody>(groupSpec, request.body);
      const updated = await services.network.transaction(async (tx, now) => {
        const group = await findSecurityGroup(tx, viewerOf(ctx), byId(request));
        authorize(services, ctx, 'update_security_group', group.project_id);
        return updateSecurityGroup(tx, now, group, patch);
      });
      return { security_group: securityGroupView(updated) };
    },
    DELETE: async (request: FastifyRequest, reply: FastifyReply) => {
      const ctx = request.auth;
      await services.network.transaction(async (tx) => {
        const group = await findSecurityGroup(tx, viewerOf(ctx), byId(request));
        authorize(services, ctx, 'delete_security_group', group.project_id);
        await deleteSecurityGroup(tx, group, ctx.isAdmin);
      });
      return reply.code(204).send();
    },
  });

  collection(app, '/security-group-rules', {
    GET: async (request) => {
      const ctx = request.auth;
      authorize(services, ctx, 'get_security_group_rule');
      const rules = await services.network.transaction(async (tx, now) => {
        await ensureDefaultFor(tx, now, ctx, request.query);
        return listSecurityGroupRules(tx, viewerOf(ctx));
      });
      return renderList(request, rules.map(ruleView), {
        collection: 'security_group_rules',
        filterable: RULE_FILTERS,
        sortable: RULE_SORTS,
        href: `${base}/v2.0/security-group-rules`,
      });
    },
    POST: async (request, reply) => {
      const ctx = request.auth;
      const { items, bulk } = createBodies<RuleBody>(ruleSpec, request.body);
      const created = await services.network.transaction(async (tx, now) => {
        const out = [];
        for (const item of items) {
          const project = item.project_id !== undefined || item.tenant_id !== undefined ? owningProject(ctx, item) : null;
          const group = await findSecurityGroup(tx, viewerOf(ctx), item.security_group_id);
          authorize(services, ctx, 'create_security_group_rule', group.project_id);
          out.push(await createSecurityGroupRule(tx, now, viewerOf(ctx), project, item));
        }
        return out;
      });
      reply.code(201);
      return bulk ? { security_group_rules: created.map(ruleView) } : { security_group_rule: ruleView(created[0]) };
    },
  });

  resource(app, '/security-group-rules/:id', {
    GET: async (request) => {
      authorize(services, request.auth, 'get_security_group_rule');
      const rule = await findSecurityGroupRule(services.db, viewerOf(request.auth), byId(request));
      return { security_group_rule: pickFields(request, ruleView(rule)) };
    },
    DELETE: async (request: FastifyRequest, reply: FastifyReply) => {
      const ctx = request.auth;
      await services.network.transaction(async (tx, now) => {
        const rule = await findSecurityGroupRule(tx, viewerOf(ctx), byId(request));
        const group = await tx.selectFrom('security_groups').select('project_id').where('id', '=', rule.security_group_id).executeTakeFirstOrThrow();
        authorize(services, ctx, 'delete_security_group_rule', group.project_id);
        await deleteSecurityGroupRule(tx, now, rule);
      });
      return reply.code(204).send();
    },
  });
}
