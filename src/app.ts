import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from 'fastify';
import type { Services } from './services.js';
import { computeApi } from './api/compute/index.js';
import { identityApi } from './api/identity/index.js';
import { imageApi } from './api/image/index.js';
import { networkApi } from './api/network/index.js';
import { controlApi } from './api/control/index.js';
import { consoleProxy } from './api/console/index.js';
import { MAX_PATH_SEGMENT, asNimbusError, handleErrors, sendError, type Dialect } from './api/http.js';
import { novaFaults } from './api/compute/faults.js';
import { keystoneErrors } from './api/identity/errors.js';
import { glanceErrors } from './api/image/errors.js';
import { neutronErrors } from './api/network/errors.js';
import { answerClientError } from './api/client-errors.js';
import { edgeRules } from './api/edge.js';
import { parseQueryString } from './api/query.js';
import { cloudsigmaApi } from './api/cloudsigma/index.js';
import { cloudsigmaErrors } from './api/cloudsigma/errors.js';

export interface AppOptions {
  /** Sees every route as it is registered (the fuzz tests use it to cover every route). */
  onRoute?: (route: RouteOptions) => void;
}

/**
 * Which API a path belongs to, by its prefix, and so how its errors are worded: also for
 * what is refused before routing (a bad URL, headers too large). Outside every API, the
 * Keystone-style {"error": …} body.
 */
export function dialectFor(publicUrl: string): (url: string) => Dialect {
  const identityUrl = `${publicUrl}/identity`;
  const byPrefix: [string, Dialect][] = [
    ['/compute', novaFaults(identityUrl)],
    ['/identity', keystoneErrors],
    ['/image', glanceErrors(identityUrl)],
    ['/network', neutronErrors(identityUrl)],
    ['/nimbus', keystoneErrors],
    ['/api/2.0', cloudsigmaErrors],
  ];
  return (url) => byPrefix.find(([prefix]) => url === prefix || url.startsWith(`${prefix}/`) || url.startsWith(`${prefix}?`))?.[1] ?? keystoneErrors;
}

/** Builds the one HTTP app that serves every API dialect under its prefix. */
export async function buildApp(services: Services, options: AppOptions = {}): Promise<FastifyInstance> {
  const dialectOf = dialectFor(services.config.publicUrl);
  const app: FastifyInstance = Fastify({
    loggerInstance: services.log as FastifyBaseLogger,
    genReqId: () => `req-${randomUUID()}`,
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
    bodyLimit: 114688,
    forceCloseConnections: true,
    routerOptions: { maxParamLength: MAX_PATH_SEGMENT, querystringParser: parseQueryString },
    // What the router refuses (a URL that does not decode, a segment too long) and what
    // Node's HTTP parser refuses (headers too large) still answer in the path's dialect.
    frameworkErrors: (err, request, reply) => sendError(reply, dialectOf(request.raw.url ?? '/')(asNimbusError(err, request))),
    clientErrorHandler: (err, socket) => answerClientError(err, socket, dialectOf),
  });
  handleErrors(app, keystoneErrors);

  if (options.onRoute) app.addHook('onRoute', options.onRoute);
  edgeRules(app);

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
