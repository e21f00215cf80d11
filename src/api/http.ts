import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods, RouteHandlerMethod } from 'fastify';
import { NimbusError, unauthorized } from '../errors.js';
import { isDatabaseUnavailable } from '../db/database.js';
import { HostUnavailable } from '../virt/driver.js';
import type { AuthContext } from '../identity/tokens.js';
import type { Services } from '../services.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `authenticate` on every route that needs a token. */
    auth: AuthContext;
  }
}

/** The longest path segment the router takes: any id or name the APIs accept (255 characters) fits, in UTF-16 too. */
export const MAX_PATH_SEGMENT = 1024;

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
 * What a database data exception (SQLSTATE class 22: a value too long or out of range for
 * its column, a byte the encoding cannot hold) answers. It is the last line only: the edge
 * validates every value first, so that both databases answer alike, and the fuzz tests fail
 * if a request ever reaches it.
 */
export const DATABASE_UNAVAILABLE_MESSAGE = 'The service is unavailable at this time: its database cannot be reached. Try again shortly.';

export const DATA_EXCEPTION_MESSAGE = 'A value in the request is not valid for the field it is stored in.';

/** PostgreSQL's errors carry their SQLSTATE as `code` (and a severity); class 22 is "data exception". */
const isDataException = (e: { code?: unknown; severity?: unknown }) => typeof e.code === 'string' && /^22[0-9A-Z]{3}$/.test(e.code) && typeof e.severity === 'string';

/**
 * Turns anything thrown while handling a request into a NimbusError, or null for a bug
 * (a 500, logged with its stack).
 */
export function toNimbusError(err: unknown): NimbusError | null {
  if (err instanceof NimbusError) return err;
  // Any call to a host whose process does not answer, from any route: Nova's
  // ComputeServiceUnavailable, a 409 the caller can retry, never a 500 or a hang.
  if (err instanceof HostUnavailable) return new NimbusError('conflict', err.message);
  const e = err as { code?: string; statusCode?: number; message?: string; severity?: string };
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new NimbusError('invalid', 'Malformed request body');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new NimbusError('too_large', 'Request is too large.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new NimbusError('unsupported_media', `Unsupported Content-Type`);
    case 'FST_ERR_BAD_URL':
      return new NimbusError('invalid', 'The request URL is not valid: its percent-encoding is not UTF-8.');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new NimbusError('uri_too_long', `The request URL has a path segment longer than ${MAX_PATH_SEGMENT} characters.`);
  }
  if (e instanceof SyntaxError) return new NimbusError('invalid', 'Malformed request body');
  // Whatever route met it: a database that is down or cut off is a 503, never a 500.
  if (isDatabaseUnavailable(e)) return new NimbusError('unavailable', DATABASE_UNAVAILABLE_MESSAGE);
  if (isDataException(e)) return new NimbusError('invalid', DATA_EXCEPTION_MESSAGE);
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new NimbusError(e.statusCode === 413 ? 'too_large' : e.statusCode === 404 ? 'not_found' : 'invalid', e.message ?? 'Bad request');
  }
  return null;
}

/** An error as one API writes it on the wire. */
export interface ErrorAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** How one API words its errors: Nova faults, Keystone errors, Glance's, Neutron's. */
export type Dialect = (err: NimbusError) => ErrorAnswer;

/** Sends an error with the content type every OpenStack client accepts for errors. */
export function sendError(reply: FastifyReply, answer: ErrorAnswer): FastifyReply {
  reply.code(answer.status).header('content-type', 'application/json; charset=UTF-8');
  for (const [name, value] of Object.entries(answer.headers ?? {})) reply.header(name, value);
  return reply.send(JSON.stringify(answer.body));
}

/** Anything thrown, as the core's error: a bug becomes a 500 (logged with its stack). */
export function asNimbusError(err: unknown, request: FastifyRequest): NimbusError {
  const known = toNimbusError(err);
  if (known?.message === DATA_EXCEPTION_MESSAGE) request.log.warn({ sqlstate: (err as { code?: string }).code }, 'the database refused a value the edge let through');
  if (known?.kind === 'unavailable') request.log.warn({ err: (err as Error).message }, 'database unavailable');
  if (known) return known;
  request.log.error({ err }, 'unhandled error');
  return new NimbusError('internal', 'An unexpected error prevented the server from fulfilling your request.');
}

/** Installs a dialect's error and not-found handlers in its scope. */
export function handleErrors(app: FastifyInstance, dialect: Dialect): void {
  app.setErrorHandler((err, request, reply) => sendError(reply, dialect(asNimbusError(err, request))));
  app.setNotFoundHandler((_request, reply) => sendError(reply, dialect(new NimbusError('not_found', 'The resource could not be found.'))));
}

