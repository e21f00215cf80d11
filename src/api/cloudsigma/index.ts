import type { FastifyPluginAsync } from 'fastify';
import { Credentials } from '../../identity/credentials.js';
import type { Services } from '../../services.js';
import { asNimbusError } from '../http.js';
import { NimbusError } from '../../errors.js';
import { accountRoutes, authenticate } from './auth.js';
import { renderError } from './errors.js';
import { serverRoutes } from './servers.js';
import { serverActionRoutes } from './server-actions.js';
import { capabilityRoutes } from './capabilities.js';
import { Tunnels } from './tunnels.js';
import { keypairRoutes } from './keypairs.js';
import { tagRoutes } from './tags.js';
import { driveRoutes } from './drives.js';
import { libdriveRoutes } from './libdrives.js';
import { snapshotRoutes } from './snapshots.js';
import { jobRoutes } from './jobs.js';
import { profileRoutes } from './profile.js';
import { contextRoutes } from './context.js';

/**
 * The CloudSigma API 2.0, mounted under /api/2.0: a second face over the same core as the
 * compute API. Add a resource as one file exporting `xRoutes(api, services)` and one line
 * below; http.ts has the route, body, list and answer helpers every resource uses.
 */
export function cloudsigmaApi(services: Services): FastifyPluginAsync {
  return async (app) => {
    app.setErrorHandler((err, request, reply) => renderError(asNimbusError(err, request), request, reply));
    app.setNotFoundHandler((request, reply) => renderError(new NimbusError('not_found', 'The resource could not be found.'), request, reply));
    // CloudSigma's request id header, on every answer (errors and 401s included).
    app.addHook('onRequest', async (request, reply) => {
      reply.header('x-request-id', request.id);
    });
    const credentials = new Credentials(services.db, services.clock, services.config.tokenTtlSeconds);
    services.tokens.onForget(() => credentials.forget());
    const tunnels = new Tunnels(services.driver, services.config.listen.host);
    app.addHook('onClose', async () => tunnels.closeEverything());
    accountRoutes(app, services, credentials);
    await app.register(async (api) => {
      api.addHook('onRequest', authenticate(services, credentials));
      serverRoutes(api, services);
      serverActionRoutes(api, services, tunnels);
      capabilityRoutes(api, services);
      keypairRoutes(api, services);
      tagRoutes(api, services);
      driveRoutes(api, services);
      libdriveRoutes(api, services);
      snapshotRoutes(api, services);
      jobRoutes(api, services);
      profileRoutes(api, services);
      contextRoutes(api, services);
    });
  };
}
