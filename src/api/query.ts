/**
 * The query string, parsed once per request the same way for every API.
 *
 * `request.query` holds the LAST value of each parameter, as webob's `GET[name]` gives it to
 * Nova's handlers, so a handler that reads `request.query.host` always gets a string, never
 * an array it did not ask for (a repeated `?host=a&host=b` was a 500 where one was bound
 * into SQL). A route whose API gives a repeated parameter another meaning (Nova's
 * multi_params schemas, Neutron's filters that match any of the values, Keystone's first
 * value) reads every value, in order, with `queryLists(request)`.
 */
import type { FastifyRequest } from 'fastify';

const LISTS = Symbol('every value of each query parameter');

export type LastValues = Record<string, string>;
export type QueryLists = Record<string, string[]>;

/** The app's querystring parser: objects without a prototype, so no name finds a built-in. */
export function parseQueryString(text: string): LastValues {
  const last: LastValues = Object.create(null);
  const lists: QueryLists = Object.create(null);
  for (const [name, value] of new URLSearchParams(text)) {
    (lists[name] ??= []).push(value);
    last[name] = value;
  }
  Object.defineProperty(last, LISTS, { value: lists });
  return last;
}

/** Every value of each query parameter, in the order given. */
export function queryLists(request: FastifyRequest): QueryLists {
  return ((request.query as { [LISTS]?: QueryLists } | undefined)?.[LISTS]) ?? Object.create(null);
}
