import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { DEFAULT_DOMAIN } from '../../identity/directory.js';
import { forbidden, invalid, notFound } from '../../errors.js';
import { validate } from '../validation.js';
import { resource } from '../http.js';
import { keystoneMessage } from './auth.js';
import { asBoolean, boolean, extraAttributes, idString, invalidField, name, nullable, refuseOptions, type KeystoneBoolean } from './parameter-types.js';
import { booleanFilter, param } from './query.js';
import { authorize, collection, projectView, userView } from './views.js';

const userOptions = {
  type: 'object',
  properties: {
    ignore_change_password_upon_first_use: { type: ['boolean', 'null'] },
    ignore_password_expiry: { type: ['boolean', 'null'] },
    ignore_lockout_failure_attempts: { type: ['boolean', 'null'] },
    lock_password: { type: ['boolean', 'null'] },
    multi_factor_auth_enabled: { type: ['boolean', 'null'] },
    multi_factor_auth_rules: { type: ['array', 'null'], items: { type: 'array', items: { type: 'string' } } },
  },
  additionalProperties: false,
};

/**
 * Keystone keeps `email`, `description` and any other attribute it does not know in an
 * `extra` column; Nimbus keeps email in a column of its own and the others as extra.
 */
const userProperties = {
  name,
  password: { type: ['string', 'null'] },
  default_project_id: nullable(idString),
  domain_id: idString,
  enabled: boolean,
  email: { type: ['string', 'null'] },
  options: userOptions,
  federated: { type: 'array' },
};

const createSchema = {
  type: 'object',
  required: ['user'],
  properties: { user: { type: 'object', required: ['name'], properties: userProperties } },
  additionalProperties: false,
};

const updateSchema = {
  type: 'object',
  required: ['user'],
  properties: { user: { type: 'object', minProperties: 1, properties: { id: { type: 'string' }, ...userProperties } } },
  additionalProperties: false,
};

interface UserBody {
  id?: string;
  name?: string;
  password?: string | null;
  default_project_id?: string | null;
  domain_id?: string;
  enabled?: KeystoneBoolean;
  email?: string | null;
  options?: Record<string, unknown>;
  federated?: unknown[];
}

function refuseUnsupported(u: UserBody): void {
  if (u.federated?.length) throw invalidField('federated', 'Nimbus does not support federated users');
  refuseOptions(u.options, 'user');
}

/**
 * Keystone's default lets a user read their own record and project list (rule "owner");
 * Nimbus's rules have no owner clause, so the owner is let through here.
 */
function authorizeOwnerOr(services: Services, request: FastifyRequest, action: string, userId: string): void {
  if (request.auth.userId !== userId) authorize(services, request, action);
}

export function userRoutes(app: FastifyInstance, services: Services): void {
  const { directory } = services;

  resource(app, '/v3/users', {
    GET: async (request) => {
      authorize(services, request, 'identity:list_users');
      const domainId = param(request, 'domain_id');
      const users =
        domainId !== undefined && domainId !== DEFAULT_DOMAIN.id
          ? []
          : await directory.listUsers({ name: param(request, 'name'), enabled: booleanFilter(request, 'enabled') });
      return collection(services, request, 'users', users.map((u) => userView(services, u)));
    },
    POST: async (request, reply) => {
      authorize(services, request, 'identity:create_user');
      const { user: body } = validate<{ user: UserBody }>(createSchema, request.body, keystoneMessage);
      refuseUnsupported(body);
      // Keystone looks the domain up and answers 404 when it does not exist.
      if (body.domain_id !== undefined && body.domain_id !== DEFAULT_DOMAIN.id) throw notFound(`Could not find domain: ${body.domain_id}.`);
      const row = await directory.createUser({
        name: body.name!,
        password: body.password,
        email: body.email,
        enabled: body.enabled === undefined ? true : asBoolean(body.enabled),
        defaultProjectId: body.default_project_id,
        extra: extraAttributes(body, userProperties, 'user'),
      });
      return reply.code(201).send({ user: userView(services, row) });
    },
  });

  resource(app, '/v3/users/:user_id', {
    GET: async (request) => {
      const { user_id } = request.params as { user_id: string };
      authorizeOwnerOr(services, request, 'identity:get_user', user_id);
      return { user: userView(services, await directory.getUser(user_id)) };
    },
    PATCH: async (request) => {
      const { user_id } = request.params as { user_id: string };
      authorize(services, request, 'identity:update_user');
      await directory.getUser(user_id);
      const { user: body } = validate<{ user: UserBody }>(updateSchema, request.body, keystoneMessage);
      if (body.id !== undefined && body.id !== user_id) throw invalid('Cannot change ID');
      if (body.domain_id !== undefined && body.domain_id !== DEFAULT_DOMAIN.id) throw invalid('Cannot change Domain ID');
      refuseUnsupported(body);
      const enabled = body.enabled === undefined ? undefined : asBoolean(body.enabled);
      if (enabled === false && user_id === request.auth.userId) {
        throw forbidden('You cannot disable the user you are authenticated as.');
      }
      const row = await directory.updateUser(user_id, {
        name: body.name,
        password: body.password,
        email: body.email,
        enabled,
        defaultProjectId: body.default_project_id,
        extra: extraAttributes(body, { id: true, ...userProperties }, 'user'),
      });
      return { user: userView(services, row) };
    },
    DELETE: async (request, reply) => {
      const { user_id } = request.params as { user_id: string };
      authorize(services, request, 'identity:delete_user');
      await directory.getUser(user_id);
      // Deleting yourself voids your token at once and, for the last admin, locks everyone out.
      if (user_id === request.auth.userId) throw forbidden('You cannot delete the user you are authenticated as.');
      await directory.deleteUser(user_id);
      return reply.code(204).send();
    },
  });

  resource(app, '/v3/users/:user_id/projects', {
    GET: async (request) => {
      const { user_id } = request.params as { user_id: string };
      authorizeOwnerOr(services, request, 'identity:list_user_projects', user_id);
      await directory.getUser(user_id);
      const domainId = param(request, 'domain_id');
      const name = param(request, 'name');
      const enabled = booleanFilter(request, 'enabled');
      const projects = (await directory.projectsAssignedTo(user_id)).filter(
        (p) => (domainId === undefined || p.domain_id === domainId) && (name === undefined || p.name === name) && (enabled === undefined || !!p.enabled === enabled),
      );
      return collection(services, request, 'projects', projects.map((p) => projectView(services, p)));
    },
  });
}
