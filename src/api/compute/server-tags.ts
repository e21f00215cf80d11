import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { Servers } from '../../compute/servers.js';
import { MAX_TAGS, MAX_TAG_LENGTH, ServerTags } from '../../compute/server-tags.js';
import { NimbusError, notFound } from '../../errors.js';
import { validate } from '../validation.js';
import { resource } from '../http.js';

/** Nova's parameter_types.tag. */
const tag = { type: 'string', minLength: 1, maxLength: MAX_TAG_LENGTH, pattern: '^[^,/]*$' };
const tagsBody = {
  type: 'object',
  properties: { tags: { type: 'array', items: tag, maxItems: MAX_TAGS } },
  required: ['tags'],
  additionalProperties: false,
};
/** PUT /servers/{id}/tags/{tag} takes no body. */
const noBody = { type: 'null' };

/** Server tags exist from 2.26; below it Nova has no such resource. */
function since226(request: FastifyRequest): void {
  if (!request.microversion.atLeast('2.26')) throw new NimbusError('not_found', 'The resource could not be found.');
}

export function serverTagRoutes(app: FastifyInstance, services: Services, base: string): void {
  const servers = new Servers(services);
  const tags = new ServerTags(services);
  const authorized = async (request: FastifyRequest, rule: string) => {
    const { id } = request.params as { id: string };
    const server = await servers.get(request.auth, id);
    services.policy.authorize(request.auth, `os_compute_api:os-server-tags:${rule}`, server.project_id);
    return server;
  };

  resource(app, '/servers/:id/tags', {
    GET: async (request) => {
      since226(request);
      return { tags: await tags.list((await authorized(request, 'index')).id) };
    },
    PUT: async (request) => {
      since226(request);
      const body = validate<{ tags: string[] }>(tagsBody, request.body ?? null);
      return { tags: await tags.replace(await authorized(request, 'update_all'), body.tags) };
    },
    DELETE: async (request, reply) => {
      since226(request);
      await tags.removeAll(await authorized(request, 'delete_all'));
      return reply.code(204).send();
    },
  });

  resource(app, '/servers/:id/tags/:tag', {
    GET: async (request, reply) => {
      since226(request);
      const { tag: name } = request.params as { tag: string };
      const server = await authorized(request, 'show');
      if (!(await tags.has(server.id, name))) throw notFound(`Server ${server.id} has no tag '${name}'`);
      return reply.code(204).send();
    },
    PUT: async (request, reply) => {
      since226(request);
      validate(noBody, request.body ?? null);
      const { tag: name } = request.params as { tag: string };
      const server = await authorized(request, 'update');
      if (!(await tags.add(server, name))) return reply.code(204).send();
      return reply.code(201).header('location', `${base}/v2.1/servers/${server.id}/tags/${encodeURIComponent(name)}`).send();
    },
    DELETE: async (request, reply) => {
      since226(request);
      const { tag: name } = request.params as { tag: string };
      await tags.remove(await authorized(request, 'delete'), name);
      return reply.code(204).send();
    },
  });
}
