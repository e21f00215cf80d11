/**
 * What every request passes at the edge, whatever its API: the one JSON body parser, and
 * the refusal of text the databases cannot store. Each failure is the core's `invalid`
 * error naming the field, so each API words it in its own dialect.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NimbusError, invalid } from '../errors.js';
import { pyRepr } from './validation.js';
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
      if (typeof v === 'number' && !Number.isFinite(v)) throw invalid(`Invalid input for field/attribute ${key || 'body'}. Value: ${pyRepr(v)}. The number is out of range.`);
      return v;
    });
  } catch (err) {
    return done(err instanceof NimbusError ? err : new NimbusError('invalid', 'Malformed request body'));
  }
  done(null, value);
}

/**
 * PostgreSQL cannot store a NUL character in text (SQLite can): refused wherever a request
 * can carry one into a string, so both databases answer the same 400.
 */
const UNSTORABLE = /\u0000/;

function refuse(where: string, value: string): NimbusError {
  return invalid(`Invalid input for ${where}. Value: ${pyRepr(value)}. The NUL character is not allowed.`);
}

/** The first string (or key) in a parsed JSON body that holds a NUL, with its path. */
function findUnstorable(value: unknown, path: string): { path: string; value: string } | null {
  if (typeof value === 'string') return UNSTORABLE.test(value) ? { path, value } : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findUnstorable(value[i], `${path}[${i}]`);
      if (hit) return hit;
    }
    return null;
  }
  // Only what JSON.parse builds: a stream (image data) or a Buffer is not walked.
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return null;
  for (const [k, v] of Object.entries(value)) {
    const at = path ? `${path}.${k}` : k;
    if (UNSTORABLE.test(k)) return { path: path || 'body', value: k };
    const hit = findUnstorable(v, at);
    if (hit) return hit;
  }
  return null;
}

function checkRequestText(request: FastifyRequest): void {
  for (const [name, value] of Object.entries((request.params ?? {}) as Record<string, string>)) {
    if (UNSTORABLE.test(value)) throw refuse(`path parameter ${name === '*' ? 'value' : name}`, value);
  }
  for (const [name, values] of Object.entries(queryLists(request))) {
    if (UNSTORABLE.test(name)) throw refuse('query parameter name', name);
    for (const v of values) if (UNSTORABLE.test(v)) throw refuse(`query parameter ${name}`, v);
  }
  const hit = findUnstorable(request.body, '');
  if (hit) throw refuse(`field/attribute ${hit.path}`, hit.value);
}

/** Installs the edge rules for every route of the app (hooks on the root reach every API). */
export function edgeRules(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);
  app.addContentTypeParser(/^application\/[\w.+-]*\+json$/, { parseAs: 'string' }, parseJsonBody);
  // After authentication (onRequest) and body parsing, before any handler reads the request.
  app.addHook('preValidation', async (request) => checkRequestText(request));
}
