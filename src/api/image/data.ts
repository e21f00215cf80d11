import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { NimbusError } from '../../errors.js';
import type { Services } from '../../services.js';
import { resource } from '../http.js';
import { authorizeOn, visibleImage } from './images.js';

type Params = { id: string };

/**
 * Reads the rest of an upload we gave up on and throws it away, so that the client, which
 * is still sending, finishes and reads our answer instead of meeting a reset connection.
 */
function discardRest(body: IncomingMessage): void {
  if (body.readableEnded || body.destroyed) return;
  body.on('data', () => {});
  body.resume();
}

/** PUT and GET /v2/images/{id}/file: the image's data, streamed both ways. */
export function imageDataRoutes(app: FastifyInstance, services: Services): void {
  const { images } = services;
  resource(app, '/v2/images/:id/file', {
    PUT: async (request, reply) => {
      const ctx = request.auth;
      const { id } = request.params as Params;
      // The octet-stream parser hands over the request itself, unread (see index.ts).
      const body = request.body as IncomingMessage;
      try {
        const mediaType = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
        if (mediaType !== 'application/octet-stream') {
          throw new NimbusError('unsupported_media', `Content type ${mediaType || 'None'} not supported`);
        }
        const image = await visibleImage(services, ctx, id);
        authorizeOn(services, ctx, 'image:upload_image', image);
        const declared = Number(request.headers['content-length']);
        if (declared > images.sizeCap) throw new NimbusError('too_large', 'The incoming image is too large: The provided image is too large.');
        // Our stream must outlive a failed upload, to be drained: do not destroy it on early return.
        await images.storeData(id, body.iterator({ destroyOnReturn: false }));
      } catch (err) {
        if (body && typeof body.resume === 'function') discardRest(body);
        throw err;
      }
      return reply.code(204).send();
    },
    GET: async (request, reply) => {
      const ctx = request.auth;
      const { id } = request.params as Params;
      const image = await visibleImage(services, ctx, id);
      services.policy.authorize(ctx, 'image:download_image');
      const data = await images.openData(id);
      // Glance answers 204 for an image without data.
      if (!data) return reply.code(204).send();
      reply.header('content-type', 'application/octet-stream').header('content-length', String(data.size));
      if (image.checksum) reply.header('content-md5', image.checksum);
      return reply.send(data.stream);
    },
  });
}
