import type { FastifyPluginAsync } from 'fastify';
import { NimbusError } from '../../errors.js';
import type { Services } from '../../services.js';
import { authenticate, handleErrors } from '../http.js';
import { glanceErrors } from './errors.js';
import { imageDataRoutes } from './data.js';
import { imageRoutes } from './images.js';
import { PATCH_MEDIA_TYPES } from './patch.js';
import { schemaRoutes } from './schemas.js';
import { imageTagRoutes } from './tags.js';
import { versionRoutes } from './versions.js';

/** JSON without prototype pollution, for the JSON Patch media types. */
function parsePatch(_request: unknown, body: string, done: (err: Error | null, value?: unknown) => void): void {
  if (body.trim() === '') return done(null, undefined);
  try {
    done(null, JSON.parse(body, (key, value) => (key === '__proto__' ? undefined : value)));
  } catch {
    done(new NimbusError('invalid', 'Malformed request body'));
  }
}

/** The Image API v2 subset (Glance), mounted under /image. */
export function imageApi(services: Services): FastifyPluginAsync {
  const base = `${services.config.publicUrl}/image`;
  return async (app) => {
    handleErrors(app, glanceErrors(`${services.config.publicUrl}/identity`));
    app.addContentTypeParser(Object.keys(PATCH_MEDIA_TYPES), { parseAs: 'string' }, parsePatch);
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
