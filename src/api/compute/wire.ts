/**
 * Nova's conventions that the host-admin routes (hypervisors, services, hosts, aggregates,
 * availability zones) share: how it prints times, checks ids and query strings, and hides
 * routes outside their microversions.
 */
import type { FastifyRequest } from 'fastify';
import { NimbusError, invalid } from '../../errors.js';
import { compile, explain, pyRepr } from '../validation.js';
import { NAME_FORMATS, invalidNameMessage } from '../names.js';
import { Microversion } from './microversion.js';

/** Nova prints datetimes as Python's isoformat without a zone: 2024-05-01T12:00:00.000000. */
export function novaDateTime(iso: string | null): string | null {
  if (iso === null) return null;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return null;
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000');
}

/** What Nova answers for a route that does not exist at the requested microversion. */
export const noSuchRoute = () => new NimbusError('not_found', 'The resource could not be found.');

/** Throws 404 unless the request's microversion is within [min, max]. */
export function onlyVersions(request: FastifyRequest, min: string | null, max: string | null): void {
  const mv = request.microversion;
  if ((min && !mv.atLeast(min)) || (max && mv.rank > Microversion.parse(max)!.rank)) throw noSuchRoute();
}

/** The query string as Nova's validators see it: every parameter a list of values. */
export { queryLists, type QueryLists } from '../query.js';
import type { QueryLists } from '../query.js';

/** The last value of a parameter, as webob's `req.GET[key]` gives it. */
export const lastValue = (q: QueryLists, key: string): string | undefined => q[key]?.[q[key].length - 1];

/** Validates the query string against a Nova query schema, with Nova's message. */
export function validateQuery(schema: object, q: QueryLists): QueryLists {
  const fn = compile(schema);
  if (!fn(q)) {
    const e = fn.errors![0];
    const f = explain(e, q);
    const param = e.instancePath.split('/')[1];
    const value = typeof f.value === 'string' ? f.value : pyRepr(f.value);
    throw invalid(param ? `Invalid input for query parameters ${param}. Value: ${value}. ${f.detail}` : f.detail);
  }
  return q;
}

/** oslo's validate_integer: Python's int(str(value)). */
export function validateInteger(value: string, name: string): number {
  if (!/^\s*[+-]?\d+\s*$/.test(value)) throw invalid(`Invalid input received: ${name} must be an integer`);
  return Number(value.trim());
}

/** oslo's is_uuid_like: hex digits with or without hyphens (and braces or a urn: prefix). */
export function isUuidLike(value: string): boolean {
  const hex = value.toLowerCase().replace(/^urn:/, '').replace(/^uuid:/, '').replace(/[{}-]/g, '');
  return /^[0-9a-f]{32}$/.test(hex);
}

/** The UUID a uuid-like string stands for, in canonical form. */
export function canonicalUuid(value: string): string {
  const hex = value.toLowerCase().replace(/^urn:/, '').replace(/^uuid:/, '').replace(/[{}-]/g, '');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const TRUE_STRINGS = ['1', 't', 'true', 'on', 'y', 'yes'];

/** oslo's bool_from_string (non-strict: anything unrecognised is false). */
export function boolFromString(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  const s = String(value).trim().toLowerCase();
  return TRUE_STRINGS.includes(s);
}

/** Nova's parameter_types.boolean. */
export const BOOLEAN_SCHEMA = {
  type: ['boolean', 'string'],
  enum: [true, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', false, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no'],
};

/** Nova's parameter_types.fqdn (a host name). */
export const FQDN_SCHEMA = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9-._]*$' };

/** A query parameter with one value at most (parameter_types.single_param). */
export const singleParam = (schema: object) => ({ type: 'array', items: schema, maxItems: 1 });
/** A query parameter that may repeat (parameter_types.multi_params). */
export const multiParams = (schema: object) => ({ type: 'array', items: schema });

const checkFormat = (format: string, value: string) => {
  if (!NAME_FORMATS[format].test(value)) throw invalid(invalidNameMessage(NAME_FORMATS[format].reason));
};

/** Nova's `name` format, checked outside a schema (where Nova checks it after other keys). */
export const checkName = (value: string): void => checkFormat('name', value);
/** Nova's `az_name` format: a name without ':' (which separates zone and host). */
export const checkZoneName = (value: string): void => checkFormat('az_name', value);
/** Nova's `name_with_leading_trailing_spaces` format: printable with at least one non-space. */
export const checkNameWithSpaces = (value: string): void => checkFormat('name_with_leading_trailing_spaces', value);
