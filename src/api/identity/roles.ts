import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';
import { POLICY_ROLES } from '../../identity/directory.js';
import { forbidden } from '../../errors.js';
import { validate } from '../validation.js';
import { resource } from '../http.js';
import { keystoneMessage } from './auth.js';
import { description, idString, invalidField, name, nullable, refuseOptions } from './parameter-types.js';
import { param } from './query.js';
import { authorize, collection, roleView } from './views.js';

/** Nimbus roles are global and carry only a name: description and domain are refused if set. */
const createSchema = {
  type: 'object',
  required: ['role'],
  properties: {
    role: {
      type: 'object',
      required: ['name'],
      properties: {
        name,
        description: nullable(description),
        domain_id: nullable(idString),
        options: { type: 'object', properties: { immutable: { type: ['boolean', 'null'] } }, additionalProperties: false },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};

interface RoleBody {
  name: string;
  description?: string | null;
  domain_id?: string | null;
  options?: Record<string, unknown>;
}

export function roleRoutes(app: FastifyInstance, services: Services): void {
  const { directory } = services;

  resource(app, '/v3/roles', {
    GET: async (request) => {
      authorize(services, request, 'identity:list_roles');
      // A domain_id filter asks for domain-specific roles, of which Nimbus has none.
      const roles = param(request, 'domain_id') !== undefined ? [] : await directory.listRoles({ name: param(request, 'name') });
      return collection(services, request, 'roles', roles.map((r) => roleView(services, r)));
    },
    POST: async (request, reply) => {
      authorize(services, request, 'identity:create_role');
      const { role: body } = validate<{ role: RoleBody }>(createSchema, request.body, keystoneMessage);
      if (body.description != null) throw invalidField('description', 'Nimbus does not store role descriptions');
      if (body.domain_id != null) throw invalidField('domain_id', 'Nimbus has no domain-specific roles');
      refuseOptions(body.options, 'role');
      const row = await directory.createRole(body.name);
      return reply.code(201).send({ role: roleView(services, row) });
    },
  });

  resource(app, '/v3/roles/:role_id', {
    GET: async (request) => {
      const { role_id } = request.params as { role_id: string };
      authorize(services, request, 'identity:get_role');
      return { role: roleView(services, await directory.getRole(role_id)) };
    },
    DELETE: async (request, reply) => {
      const { role_id } = request.params as { role_id: string };
      authorize(services, request, 'identity:delete_role');
      const role = await directory.getRole(role_id);
      // Policy rules name these roles; deleting one would strip that power from everyone.
      if ((POLICY_ROLES as readonly string[]).includes(role.name)) {
        throw forbidden(`The role ${role.name} is used by policy and cannot be deleted.`);
      }
      await directory.deleteRole(role_id);
      return reply.code(204).send();
    },
  });
}
