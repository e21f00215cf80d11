import type { FastifyRequest } from 'fastify';
import { queryLists } from '../query.js';

/** oslo's FALSE_STRINGS: Keystone reads every other value of a boolean filter as true. */
const FALSE_STRINGS = ['0', 'f', 'false', 'off', 'n', 'no'];

/** One query parameter's value; a repeated parameter counts by its first value. */
export function param(request: FastifyRequest, key: string): string | undefined {
  // Keystone reads Flask's request.args.get(key): the first value.
  return queryLists(request)[key]?.[0];
}

/** A boolean filter (`?enabled=false`), or undefined when absent. */
export function booleanFilter(request: FastifyRequest, key: string): boolean | undefined {
  const v = param(request, key);
  return v === undefined ? undefined : !FALSE_STRINGS.includes(v.toLowerCase());
}

/** A key-only flag (`?include_names`): true for any value but '0', as Keystone reads it. */
export function flag(request: FastifyRequest, key: string): boolean {
  const v = param(request, key);
  return v !== undefined && v !== '0';
}
