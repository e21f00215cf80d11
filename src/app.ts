import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { NimbusError } from './errors.js';
import type { Services } from './services.js';
import { computeApi } from './api/compute/index.js';
import { identityApi } from './api/identity/index.js';
import { imageApi } from './api/image/index.js';
import { networkApi } from './api/network/index.js';
import { controlApi } from './api/control/index.js';
import { consoleProxy } from './api/console/index.js';
import { cloudsigmaApi } from './api/cloudsigma/index.js';

/** JSON without prototype pollution; an empty body is no body. */
function parseJson(_req: unknown, body: string, done: (err: Error | null, value?: unknown) => void): void {
  if (body.trim() === '') return done(null, undefined);
  try {
    done(null, JSON.parse(body, (key, value) => (key === '__proto__' ? undefined : value)));
  } catch {
    done(new NimbusError('invalid', 'Malformed request body'));
  }
}

/** Builds the one HTTP app that serves every API dialect under its prefix. */
export async function buildApp(services: Services): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: services.log as FastifyBaseLogger,
    genReqId: () => `req-${randomUUID()}`,
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
    bodyLimit: 114688,
    forceCloseConnections: true,
  });

  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJson);
  app.addContentTypeParser(/^application\/[\w.+-]*\+json$/, { parseAs: 'string' }, parseJson);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-openstack-request-id', request.id);
  });
  // One line per request; never the body or headers, which carry passwords and tokens.
  app.addHook('onResponse', async (request, reply) => {
    request.log.info({ method: request.method, url: request.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  app.get('/', async () => ({
    name: 'Nimbus',
    apis: {
      identity: `${services.config.publicUrl}/identity/v3`,
      compute: `${services.config.publicUrl}/compute/v2.1`,
      image: `${services.config.publicUrl}/image`,
    },
  }));

  await app.register(identityApi(services), { prefix: '/identity' });
  await app.register(computeApi(services), { prefix: '/compute' });
  await app.register(imageApi(services), { prefix: '/image' });
  await app.register(networkApi(services), { prefix: '/network' });
  await app.register(controlApi(services), { prefix: '/nimbus' });
  await app.register(cloudsigmaApi(services), { prefix: '/api/2.0' });
  consoleProxy(app, services);
  return app;
}
