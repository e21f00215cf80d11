import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import type { ServerGroup } from '../../compute/server-groups.js';
import { invalid, conflict } from '../../errors.js';
import { validate } from '../validation.js';
import { resource } from '../http.js';
import { perVersion, type Microversion } from './microversion.js';
import { name } from './schemas/servers.js';

/** POST /os-server-groups, version by version: 2.15 adds the soft policies, 2.64 a single policy with rules. */
const createSchema = perVersion((v: Microversion) => {
  const policies = ['anti-affinity', 'affinity', ...(v.atLeast('2.15') ? ['soft-anti-affinity', 'soft-affinity'] : [])];
  const group = v.atLeast('2.64')
    ? {
        type: 'object',
        properties: {
          name,
          policy: { type: 'string', enum: policies },
          rules: { type: 'object', properties: { max_server_per_host: { type: ['integer', 'string'], pattern: '^[0-9]+$', minimum: 1 } }, additionalProperties: false },
        },
        required: ['name', 'policy'],
        additionalProperties: false,
      }
    : {
        type: 'object',
        properties: { name, policies: { type: 'array', items: { type: 'string', enum: policies }, minItems: 1, maxItems: 1, uniqueItems: true } },
        required: ['name', 'policies'],
        additionalProperties: false,
      };
  return { type: 'object', properties: { server_group: group }, required: ['server_group'], additionalProperties: false };
});

function view(g: ServerGroup, v: Microversion) {
  const out: Record<string, unknown> = { id: g.id, name: g.name };
  if (v.atLeast('2.64')) {
    out.policy = g.policy;
    out.rules = JSON.parse(g.rules);
  } else {
    out.policies = [g.policy];
    out.metadata = {};
  }
  out.members = g.members;
  if (v.atLeast('2.13')) {
    out.project_id = g.project_id;
    out.user_id = g.user_id;
  }
  return out;
}

function nonNegative(request: FastifyRequest, key: string): number | undefined {
  const raw = (request.query as Record<string, string | undefined>)[key];
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw invalid(`Invalid input for query parameters ${key}. Value: ${raw}. '${raw}' does not match '^[0-9]+$'`);
  return Number(raw);
}

export function serverGroupRoutes(app: FastifyInstance, services: Services): void {
  const groups = services.serverGroups;
  const P = 'os_compute_api:os-server-groups';

  resource(app, '/os-server-groups', {
    GET: async (request) => {
      services.policy.authorize(request.auth, `${P}:index`);
      const query = request.query as Record<string, unknown>;
      if (request.microversion.atLeast('2.75')) {
        const unknown = Object.keys(query).find((k) => !['all_projects', 'limit', 'offset'].includes(k));
        if (unknown) throw invalid(`Additional properties are not allowed ('${unknown}' was unexpected)`);
      }
      const limit = nonNegative(request, 'limit');
      const offset = nonNegative(request, 'offset') ?? 0;
      const all = await groups.list(request.auth, 'all_projects' in query);
      const page = all.slice(offset, limit === undefined ? undefined : offset + Math.min(limit, 1000));
      return { server_groups: page.map((g) => view(g, request.microversion)) };
    },
    POST: async (request) => {
      services.policy.authorize(request.auth, `${P}:create`);
      const body = validate<{ server_group: { name: string; policy?: string; policies?: string[]; rules?: { max_server_per_host?: number | string } } }>(
        createSchema(request.microversion),
        request.body ?? null,
      );
      const sg = body.server_group;
      const policy = sg.policy ?? sg.policies![0];
      const rules: Record<string, number> = {};
      if (sg.rules?.max_server_per_host !== undefined) rules.max_server_per_host = Number(sg.rules.max_server_per_host);
      if (Object.keys(rules).length && policy !== 'anti-affinity') throw invalid('Only anti-affinity policy supports rules.');
      if (rules.max_server_per_host !== undefined && rules.max_server_per_host < 1) throw conflict('max_server_per_host must be at least 1.');
      const created = await groups.create(request.auth, { name: sg.name, policy, rules });
      return { server_group: view(created, request.microversion) };
    },
  });

  resource(app, '/os-server-groups/:id', {
    GET: async (request) => {
      const g = await groups.get(request.auth, (request.params as { id: string }).id);
      services.policy.authorize(request.auth, `${P}:show`, g.project_id);
      return { server_group: view(g, request.microversion) };
    },
    DELETE: async (request, reply) => {
      const g = await groups.get(request.auth, (request.params as { id: string }).id);
      services.policy.authorize(request.auth, `${P}:delete`, g.project_id);
      await groups.delete(request.auth, g.id);
      return reply.code(204).send();
    },
  });
}
