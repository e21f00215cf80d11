/**
 * The CloudSigma face's shared HTTP pieces. A resource file (servers.ts, drives.ts …)
 * declares its routes with `route`, reads bodies with `objectsOf`, answers lists with
 * `listOf` and creations with `created`, and is registered with one line in index.ts.
 * Errors are thrown as NimbusError (src/errors.ts; `invalid(message, field)` sets
 * error_point) and rendered once by errors.ts.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { invalid } from '../../errors.js';
import { resource } from '../http.js';

/** Every resource path lives under this prefix (resource_uri, Location). */
export const API = '/api/2.0';

type Handlers = Partial<Record<'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', RouteHandlerMethod>>;

/**
 * Declares a path ending in a slash (`/servers/`, `/servers/:uuid/`) and the same path
 * without it (libcloud asks for `/keypairs`); other methods answer 405.
 */
export function route(app: FastifyInstance, url: string, handlers: Handlers): void {
  if (!url.endsWith('/')) throw new Error(`CloudSigma paths end with a slash: ${url}`);
  resource(app, url, handlers);
  resource(app, url.slice(0, -1), handlers);
}

export type Query = Record<string, string | string[] | undefined>;

/** A query parameter's value (the last one when repeated). */
export function param(request: FastifyRequest, key: string): string | undefined {
  const v = (request.query as Query)[key];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** A JSON object, or 400 naming `point`. */
export function objectAt(value: unknown, point: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(`${point} must be an object`, point);
  return value as Record<string, unknown>;
}

/**
 * A POST body's objects: `{"objects": [...]}` for one or many, or one bare object (libcloud
 * sends that). At least one, each an object.
 */
export function objectsOf(body: unknown): Record<string, unknown>[] {
  if (body === undefined || body === null) throw invalid('A request body is required', 'objects');
  const top = objectAt(body, 'objects');
  if (!('objects' in top)) return [top];
  if (!Array.isArray(top.objects) || top.objects.length === 0) throw invalid('objects must be a non-empty list', 'objects');
  return top.objects.map((o, i) => objectAt(o, `objects[${i}]`));
}

/** 201 with the created objects; a Location header when there is one. */
export function created(reply: FastifyReply, objects: { resource_uri: string }[], publicUrl: string): { objects: unknown[] } {
  reply.code(201);
  if (objects.length === 1) reply.header('location', publicUrl + objects[0].resource_uri);
  return { objects };
}

/** An action's answer: 202 for what goes on after the answer, 200 for what is done. */
export function actionResult(reply: FastifyReply, action: string, uuid: string, extra: Record<string, unknown> = {}, status = 202) {
  reply.code(status);
  return { action, result: 'success', uuid, ...extra };
}

/** `{uuid, resource_uri}`: how one resource points at another. */
export const ref = (kind: string, uuid: string) => ({ resource_uri: `${API}/${kind}/${uuid}/`, uuid });

// ── lists ──

const DEFAULT_LIMIT = 20;
/** Parameters that are not filters. */
const NOT_FILTERS = new Set(['limit', 'offset', 'order_by', 'format', 'fields', 'do', 'recurse', 'avoid', 'callback']);

export interface ListOptions {
  /** Fields `?field=a,b` (OR) and `?field__contains=x` may filter on; `tag` filters on tags. */
  filterable?: string[];
  /** Fields `order_by` may name (with `-` for descending). */
  orderable?: string[];
}

function count(request: FastifyRequest, key: string, fallback: number): number {
  const raw = param(request, key);
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw invalid(`${key} must be a non-negative integer`, key);
  return Number(raw);
}

/** A list's `limit` (default 20, 0 = all) and `offset`, or 400 naming the one that is not a count. */
export function pageOf(request: FastifyRequest): { limit: number; offset: number } {
  return { limit: count(request, 'limit', DEFAULT_LIMIT), offset: count(request, 'offset', 0) };
}

function tagsMatch(tags: unknown, wanted: string[]): boolean {
  if (!Array.isArray(tags)) return false;
  return tags.some((t) => (typeof t === 'string' ? wanted.includes(t) : t && typeof t === 'object' && (wanted.includes((t as { uuid?: string }).uuid ?? '') || wanted.includes((t as { name?: string }).name ?? ''))));
}

/**
 * A list answer: `{"meta": {limit, offset, total_count}, "objects": [...]}` over the objects
 * given (already only the caller's, in a stable order). Filters: `field=a,b` is OR,
 * different fields AND, `field__contains`, `field__startswith`; `order_by=name|-name|uuid`;
 * `limit` (default 20, 0 = all) and `offset` page the result; total_count counts it whole.
 * Parameters that are not filterable fields are ignored, as CloudSigma does.
 */
export function listOf<T extends object>(request: FastifyRequest, objects: T[], opts: ListOptions = {}): { meta: { limit: number; offset: number; total_count: number }; objects: T[] } {
  const { limit, offset } = pageOf(request);
  const filterable = new Set(opts.filterable ?? ['name', 'uuid', 'status', 'tag']);
  const orderable = new Set(opts.orderable ?? ['uuid', 'name']);
  let out = objects;
  for (const [key, raw] of Object.entries(request.query as Query)) {
    if (raw === undefined || NOT_FILTERS.has(key)) continue;
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    const [field, op = 'exact'] = key.split('__', 2);
    if (!filterable.has(field)) continue;
    const get = (o: T) => (o as Record<string, unknown>)[field === 'tag' ? 'tags' : field];
    if (field === 'tag') {
      const wanted = value.split(',').filter(Boolean);
      out = out.filter((o) => tagsMatch(get(o), wanted));
    } else if (op === 'exact' || op === 'in') {
      const wanted = new Set(value.split(','));
      out = out.filter((o) => wanted.has(String(get(o) ?? '')));
    } else if (op === 'contains' || op === 'icontains') {
      const needle = op === 'icontains' ? value.toLowerCase() : value;
      out = out.filter((o) => (op === 'icontains' ? String(get(o) ?? '').toLowerCase() : String(get(o) ?? '')).includes(needle));
    } else if (op === 'startswith' || op === 'istartswith') {
      const needle = op === 'istartswith' ? value.toLowerCase() : value;
      out = out.filter((o) => (op === 'istartswith' ? String(get(o) ?? '').toLowerCase() : String(get(o) ?? '')).startsWith(needle));
    } else {
      throw invalid(`Unsupported filter ${key}`, key);
    }
  }
  const orderBy = param(request, 'order_by');
  if (orderBy) {
    const desc = orderBy.startsWith('-');
    const field = desc ? orderBy.slice(1) : orderBy;
    if (!orderable.has(field)) throw invalid(`Cannot order by ${field}; one of: ${[...orderable].join(', ')}`, 'order_by');
    const key = (o: T) => String((o as Record<string, unknown>)[field] ?? '');
    const uuid = (o: T) => String((o as Record<string, unknown>).uuid ?? '');
    out = [...out].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : uuid(a) < uuid(b) ? -1 : uuid(a) > uuid(b) ? 1 : 0) * (desc ? -1 : 1));
  }
  const page = limit === 0 ? out.slice(offset) : out.slice(offset, offset + limit);
  return { meta: { limit, offset, total_count: out.length }, objects: page };
}
