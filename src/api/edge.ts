/**
 * What every request passes at the edge, whatever its API: the one JSON body parser, and
 * the refusal of text the databases cannot store (PostgreSQL cannot store a NUL in text,
 * SQLite can: refused everywhere, so both databases answer the same 400). Each failure is
 * the core's `invalid` error naming the field, so each API words it in its own dialect.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NimbusError, invalid } from '../errors.js';
import { UNSTORABLE, findUnstorable, pyRepr } from './validation.js';
import { queryLists } from './query.js';

/**
 * JSON request bodies: a `__proto__` key is dropped (no prototype pollution), and a number
 * too large for a double (1e400, which JSON.parse makes Infinity) is refused, naming its
 * field, instead of reaching arithmetic, schemas or the database as Infinity.
 */
export function parseJsonBody(_request: unknown, body: string, done: (err: Error | null, value?: unknown) => void): void {
  if (body.trim() === '') return done(null, undefined);
  let value: unknown;
  try {
    value = JSON.parse(body, (key, v) => {
      if (key === '__proto__') return undefined;
      if (typeof v === 'number' && !Number.isFinite(v)) throw invalid(`Invalid input for field/attribute ${key || 'body'}. Value: ${pyRepr(v)}. The number is out of range.`, key || 'body');
      return v;
    });
  } catch (err) {
    return done(err instanceof NimbusError ? err : new NimbusError('invalid', 'Malformed request body'));
  }
  done(null, value);
}

/** `point` is the field for dialects that name it apart from the message (CloudSigma's error_point). */
function refuse(where: string, value: string, point: string): NimbusError {
  return invalid(`Invalid input for ${where}. Value: ${pyRepr(value)}. The NUL character is not allowed.`, point);
}

/** A field's place in a body as the message names it: server.networks[0].uuid. */
const fieldPath = (segments: string[]) => segments.map((s, i) => (/^\d+$/.test(s) ? `[${s}]` : i ? `.${s}` : s)).join('') || 'body';

function checkRequestText(request: FastifyRequest): void {
  for (const [name, value] of Object.entries((request.params ?? {}) as Record<string, string>)) {
    if (UNSTORABLE.test(value)) throw refuse(`path parameter ${name === '*' ? 'value' : name}`, value, name);
  }
  for (const [name, values] of Object.entries(queryLists(request))) {
    if (UNSTORABLE.test(name)) throw refuse('query parameter name', name, name);
    for (const v of values) if (UNSTORABLE.test(v)) throw refuse(`query parameter ${name}`, v, name);
  }
  // An API whose every stored body string goes through a schema lets the schema speak first
  // (Nova words a NUL in a name as its name formats do); the schema then refuses a NUL
  // anywhere else (validation.ts).
  if ((request.routeOptions.config as { bodiesBySchema?: boolean } | undefined)?.bodiesBySchema) return;
  const hit = findUnstorable(request.body);
  if (hit) throw refuse(`field/attribute ${fieldPath(hit.path)}`, hit.value, fieldPath(hit.path));
}

/** Installs the edge rules for every route of the app (hooks on the root reach every API). */
export function edgeRules(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);
  app.addContentTypeParser(/^application\/[\w.+-]*\+json$/, { parseAs: 'string' }, parseJsonBody);
  // After authentication (onRequest) and body parsing, before any handler reads the request.
  app.addHook('preValidation', async (request) => checkRequestText(request));
}
