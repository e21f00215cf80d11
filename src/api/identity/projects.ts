import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { DEFAULT_DOMAIN } from '../../identity/directory.js';
import { forbidden, invalid } from '../../errors.js';
import { validate } from '../validation.js';
import { resource } from '../http.js';
import { keystoneMessage } from './auth.js';
import { asBoolean, boolean, description, extraAttributes, idString, invalidField, nullable, projectName, refuseOptions, type KeystoneBoolean } from './parameter-types.js';
import { booleanFilter, param } from './query.js';
import { authorize, collection, projectView } from './views.js';

const projectProperties = {
  name: projectName,
  description: nullable(description),
  domain_id: nullable(idString),
  enabled: boolean,
  is_domain: boolean,
  parent_id: nullable(idString),
  tags: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^,/]*$' }, maxItems: 80, uniqueItems: true },
  options: { type: 'object', properties: { immutable: { type: ['boolean', 'null'] } }, additionalProperties: false },
};

/** Keystone keeps the attributes it does not know in an `extra` column, as Nimbus does. */
const createSchema = {
  type: 'object',
  required: ['project'],
  properties: { project: { type: 'object', required: ['name'], properties: projectProperties } },
  additionalProperties: false,
};

const updateSchema = {
  type: 'object',
  required: ['project'],
  properties: {
    project: { type: 'object', minProperties: 1, properties: { id: { type: 'string' }, ...projectProperties } },
  },
  additionalProperties: false,
};

interface ProjectBody {
  id?: string;
  name?: string;
  description?: string | null;
  domain_id?: string | null;
  enabled?: KeystoneBoolean;
  is_domain?: KeystoneBoolean;
  parent_id?: string | null;
  tags?: string[];
  options?: Record<string, unknown>;
}

/** What Nimbus cannot represent: other domains, hierarchies, tags, options. */
function refuseUnsupported(p: ProjectBody): void {
  if (p.is_domain !== undefined && asBoolean(p.is_domain)) throw invalidField('is_domain', 'Nimbus serves only the default domain; a project cannot act as a domain');
  if (p.tags?.length) throw invalidField('tags', 'Nimbus does not support project tags');
  refuseOptions(p.options, 'project');
}

export function projectRoutes(app: FastifyInstance, services: Services): void {
  const { directory } = services;

  resource(app, '/v3/projects', {
    GET: async (request) => {
      authorize(services, request, 'identity:list_projects');
      const domainId = param(request, 'domain_id') ?? DEFAULT_DOMAIN.id;
      const parentId = param(request, 'parent_id') ?? DEFAULT_DOMAIN.id;
      // Nimbus projects are never domains, and all sit at the top of the default domain.
      const elsewhere = domainId !== DEFAULT_DOMAIN.id || parentId !== DEFAULT_DOMAIN.id || booleanFilter(request, 'is_domain') === true;
      const projects = elsewhere ? [] : await directory.listProjects({ name: param(request, 'name'), enabled: booleanFilter(request, 'enabled') });
      return collection(services, request, 'projects', projects.map((p) => projectView(services, p)));
    },
    POST: async (request, reply) => {
      authorize(services, request, 'identity:create_project');
      const { project: body } = validate<{ project: ProjectBody }>(createSchema, request.body, keystoneMessage);
      refuseUnsupported(body);
      // Keystone answers an unknown domain or parent on create with 400, not 404.
      if (body.domain_id != null && body.domain_id !== DEFAULT_DOMAIN.id) throw invalid(`Could not find domain: ${body.domain_id}.`);
      if (body.parent_id != null && body.parent_id !== DEFAULT_DOMAIN.id) throw invalidField('parent_id', 'Nimbus projects are not nested; the parent can only be the default domain');
      const row = await directory.createProject({
        name: body.name!,
        description: body.description ?? '',
        enabled: body.enabled === undefined ? true : asBoolean(body.enabled),
        extra: extraAttributes(body, projectProperties, 'project'),
      });
      return reply.code(201).send({ project: projectView(services, row) });
    },
  });

  resource(app, '/v3/projects/:project_id', {
    GET: async (request) => {
      const { project_id } = request.params as { project_id: string };
      authorize(services, request, 'identity:get_project', project_id);
      return { project: projectView(services, await directory.getProject(project_id)) };
    },
    PATCH: async (request) => {
      const { project_id } = request.params as { project_id: string };
      authorize(services, request, 'identity:update_project', project_id);
      await directory.getProject(project_id);
      const { project: body } = validate<{ project: ProjectBody }>(updateSchema, request.body, keystoneMessage);
      if (body.id !== undefined && body.id !== project_id) throw invalid('Cannot change ID');
      if (body.domain_id !== undefined && body.domain_id !== DEFAULT_DOMAIN.id) throw invalid('Update of `domain_id` is not allowed.');
      if (body.parent_id !== undefined && body.parent_id !== DEFAULT_DOMAIN.id) throw invalid('Update of `parent_id` is not allowed.');
      refuseUnsupported(body);
      const enabled = body.enabled === undefined ? undefined : asBoolean(body.enabled);
      if (enabled === false) refuseOwnScope(request, project_id, 'disable');
      const row = await directory.updateProject(project_id, {
        name: body.name,
        description: body.description === null ? '' : body.description,
        enabled,
        extra: extraAttributes(body, { id: true, ...projectProperties }, 'project'),
      });
      return { project: projectView(services, row) };
    },
    DELETE: async (request, reply) => {
      const { project_id } = request.params as { project_id: string };
      authorize(services, request, 'identity:delete_project', project_id);
      await directory.getProject(project_id);
      refuseOwnScope(request, project_id, 'delete');
      await directory.deleteProject(project_id);
      return reply.code(204).send();
    },
  });
}

/**
 * The caller's token is scoped to this project: deleting or disabling it would void the
 * token at once, and for the seeded admin it would leave nobody able to administer the cloud.
 */
function refuseOwnScope(request: FastifyRequest, projectId: string, action: 'delete' | 'disable'): void {
  if (request.auth.projectId === projectId) {
    throw forbidden(`You cannot ${action} the project your token is scoped to; use a token scoped to another project.`);
  }
}
