import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { Servers } from '../../compute/servers.js';
import { ServerMetadata, metadataOf, type Metadata } from '../../compute/server-metadata.js';
import { invalid, notFound } from '../../errors.js';
import { validate } from '../validation.js';
import { resource } from '../http.js';

/** Nova's parameter_types.metadata: keys of 1-255 safe characters, string values of at most 255. */
const metadata = {
  type: 'object',
  patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: 'string', maxLength: 255 } },
  additionalProperties: false,
};

/** POST (merge) and PUT (replace) /servers/{id}/metadata. */
const metadataBody = { type: 'object', properties: { metadata }, required: ['metadata'], additionalProperties: false };

/** PUT /servers/{id}/metadata/{key}: exactly one item. */
const metaBody = {
  type: 'object',
  properties: { meta: { ...metadata, minProperties: 1, maxProperties: 1 } },
  required: ['meta'],
  additionalProperties: false,
};

export function serverMetadataRoutes(app: FastifyInstance, services: Services): void {
  const servers = new Servers(services);
  const items = new ServerMetadata(services);
  const authorized = async (request: FastifyRequest, rule: string) => {
    const { id } = request.params as { id: string };
    const server = await servers.get(request.auth, id);
    services.policy.authorize(request.auth, `os_compute_api:server-metadata:${rule}`, server.project_id);
    return server;
  };

  resource(app, '/servers/:id/metadata', {
    GET: async (request) => ({ metadata: metadataOf(await authorized(request, 'index')) }),
    POST: async (request) => {
      const body = validate<{ metadata: Metadata }>(metadataBody, request.body ?? null);
      const server = await authorized(request, 'create');
      return { metadata: await items.set(request.auth, server, body.metadata, false) };
    },
    PUT: async (request) => {
      const body = validate<{ metadata: Metadata }>(metadataBody, request.body ?? null);
      const server = await authorized(request, 'update_all');
      return { metadata: await items.set(request.auth, server, body.metadata, true) };
    },
  });

  resource(app, '/servers/:id/metadata/:key', {
    GET: async (request) => {
      const { key } = request.params as { key: string };
      const all = metadataOf(await authorized(request, 'show'));
      if (!Object.hasOwn(all, key)) throw notFound('Metadata item was not found');
      return { meta: { [key]: all[key] } };
    },
    PUT: async (request) => {
      const { key } = request.params as { key: string };
      const body = validate<{ meta: Metadata }>(metaBody, request.body ?? null);
      const server = await authorized(request, 'update');
      if (!Object.hasOwn(body.meta, key)) throw invalid('Request body and URI mismatch');
      await items.set(request.auth, server, body.meta, false);
      return { meta: body.meta };
    },
    DELETE: async (request, reply) => {
      const { key } = request.params as { key: string };
      await items.delete(request.auth, await authorized(request, 'delete'), key);
      return reply.code(204).send();
    },
  });
}
