import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods, RouteHandlerMethod } from 'fastify';
import { NimbusError, unauthorized } from '../errors.js';
import type { AuthContext } from '../identity/tokens.js';
import type { Services } from '../services.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `authenticate` on every route that needs a token. */
    auth: AuthContext;
  }
}

const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * Declares one resource path with its methods; every other method answers 405 in the
 * dialect's own format (Fastify alone would say 404). One Fastify route per path, which
 * picks the handler itself: a route per method costs Fastify ~1 ms each at start, and
 * there are several hundred. HEAD is GET without its body, as Fastify would make it.
 */
export function resource(
  app: FastifyInstance,
  url: string,
  handlers: Partial<Record<'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', RouteHandlerMethod>>,
): void {
  const byMethod: Partial<Record<string, RouteHandlerMethod>> = { ...handlers };
  if (byMethod.GET && !byMethod.HEAD) byMethod.HEAD = byMethod.GET;
  app.route({
    method: METHODS,
    url,
    exposeHeadRoute: false,
    config: { allowedMethods: Object.keys(byMethod) },
    handler: function (request, reply) {
      const handler = byMethod[request.method];
      if (!handler) throw new NimbusError('method_not_allowed', 'The method specified is not allowed for this resource.');
      return handler.call(this, request, reply);
    },
  });
}

/** True for the 404 and 405 answers: routing refused the request before any resource saw it. */
export function refusedByRouting(request: FastifyRequest): boolean {
  const allowed = (request.routeOptions.config as { allowedMethods?: string[] }).allowedMethods;
  return request.is404 || (allowed !== undefined && !allowed.includes(request.method));
}

/** Resolves X-Auth-Token into `request.auth`, or 401. */
export function authenticate(services: Services) {
  return async (request: FastifyRequest): Promise<void> => {
    const token = request.headers['x-auth-token'];
    if (typeof token !== 'string' || token === '') throw unauthorized();
    const ctx = await services.tokens.validate(token);
    if (!ctx) throw unauthorized();
    request.auth = ctx;
  };
}

/**
 * Turns anything thrown while handling a request into a NimbusError, or null for a bug
 * (a 500, logged with its stack).
 */
export function toNimbusError(err: unknown): NimbusError | null {
  if (err instanceof NimbusError) return err;
  const e = err as { code?: string; statusCode?: number; message?: string };
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new NimbusError('invalid', 'Malformed request body');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new NimbusError('too_large', 'Request is too large.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new NimbusError('unsupported_media', `Unsupported Content-Type`);
  }
  if (e instanceof SyntaxError) return new NimbusError('invalid', 'Malformed request body');
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new NimbusError(e.statusCode === 413 ? 'too_large' : e.statusCode === 404 ? 'not_found' : 'invalid', e.message ?? 'Bad request');
  }
  return null;
}

/** Sends a JSON error body with the content type every OpenStack client accepts for errors. */
export function sendError(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=UTF-8').send(JSON.stringify(body));
}

/** Installs a dialect's error and not-found handlers in its scope. */
export function handleErrors(
  app: FastifyInstance,
  render: (err: NimbusError, request: FastifyRequest, reply: FastifyReply) => FastifyReply,
): void {
  app.setErrorHandler((err, request, reply) => {
    const known = toNimbusError(err);
    if (known) return render(known, request, reply);
    request.log.error({ err }, 'unhandled error');
    return render(new NimbusError('internal', 'An unexpected error prevented the server from fulfilling your request.'), request, reply);
  });
  app.setNotFoundHandler((request, reply) =>
    render(new NimbusError('not_found', 'The resource could not be found.'), request, reply),
  );
}
