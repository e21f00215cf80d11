import type { FastifyInstance } from 'fastify';
import { NimbusError } from '../../errors.js';
import type { Services } from '../../services.js';
import { resource } from '../http.js';
import { authorizeOn, visibleImage } from './images.js';
import { validateImage } from './schemas.js';

type Params = { id: string; '*': string };

/** The tag is the rest of the path: a `:tag` parameter would stop at the router's 100-character limit (414) before the 255 tags may have. */
const tagOf = (params: unknown) => {
  const { id, '*': tag } = params as Params;
  if (tag === '') throw new NimbusError('not_found', 'The resource could not be found.');
  return { id, tag };
};

/** PUT and DELETE /v2/images/{id}/tags/{tag}: tagging is modifying the image. */
export function imageTagRoutes(app: FastifyInstance, services: Services): void {
  const { images } = services;
  resource(app, '/v2/images/:id/tags/*', {
    PUT: async (request, reply) => {
      const ctx = request.auth;
      const { id, tag } = tagOf(request.params);
      validateImage({ tags: [tag] });
      const image = await visibleImage(services, ctx, id);
      authorizeOn(services, ctx, 'image:modify_image', image);
      await images.addTag(id, tag);
      return reply.code(204).send();
    },
    DELETE: async (request, reply) => {
      const ctx = request.auth;
      const { id, tag } = tagOf(request.params);
      const image = await visibleImage(services, ctx, id);
      authorizeOn(services, ctx, 'image:modify_image', image);
      await images.removeTag(id, tag);
      return reply.code(204).send();
    },
  });
}
