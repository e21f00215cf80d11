import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../../services.js';
import { authenticate, handleErrors } from '../http.js';
import { parseJsonBody } from '../edge.js';
import { glanceErrors } from './errors.js';
import { imageDataRoutes } from './data.js';
import { imageRoutes } from './images.js';
import { PATCH_MEDIA_TYPES } from './patch.js';
import { schemaRoutes } from './schemas.js';
import { imageTagRoutes } from './tags.js';
import { versionRoutes } from './versions.js';

/** The Image API v2 subset (Glance), mounted under /image. */
export function imageApi(services: Services): FastifyPluginAsync {
  const base = `${services.config.publicUrl}/image`;
  return async (app) => {
    handleErrors(app, glanceErrors(`${services.config.publicUrl}/identity`));
    app.addContentTypeParser(Object.keys(PATCH_MEDIA_TYPES), { parseAs: 'string' }, parseJsonBody);
    // Image data is not parsed but handed to the route as the request stream, so no body
    // limit applies to it; the image size cap does.
    app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
    versionRoutes(app, base);

    await app.register(async (api) => {
      // keystonemiddleware answers 401 before Glance sees the request.
      api.addHook('onRequest', authenticate(services));
      imageRoutes(api, services, base);
      imageDataRoutes(api, services);
      imageTagRoutes(api, services);
      schemaRoutes(api);
    });
  };
}
