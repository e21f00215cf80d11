import { invalid } from '../../errors.js';
import { compile, explain, pyRepr } from '../validation.js';
import type { QueryLists } from '../query.js';

/** Nova's multi_params: a query parameter may repeat, so its schema is a list of values. */
export const multiParams = (items: object) => ({ type: 'array', items });

/** Nova's non_negative_integer, as query strings carry it. */
export const nonNegativeInteger = { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 0, minLength: 1 };

/** A query schema; from 2.75 Nova refuses parameters it does not know. */
export const querySchema = (properties: Record<string, object>, strict: boolean) => ({
  type: 'object',
  properties,
  additionalProperties: !strict,
});

/**
 * Validates a request's query as Nova does: every value a list, and a failure worded
 * "Invalid input for query parameters <name>. Value: <value>. <reason>".
 */
export function validateQuery(schema: object, query: QueryLists): QueryLists {
  const fn = compile(schema);
  if (!fn(query)) {
    const e = fn.errors![0];
    const failure = explain(e, query);
    const name = e.instancePath.split('/')[1];
    const value = typeof failure.value === 'string' ? failure.value : pyRepr(failure.value);
    throw invalid(name ? `Invalid input for query parameters ${name}. Value: ${value}. ${failure.detail}` : failure.detail);
  }
  return query;
}

/** How Nova reads most single parameters (webob's GET[name]): the last value given. */
export const lastValue = (query: Record<string, string[]>, name: string): string | undefined => query[name]?.[query[name].length - 1];

/** How Nova reads user_id and tenant_id (GET.getall(name)[0]): the first value given. */
export const firstValue = (query: Record<string, string[]>, name: string): string | undefined => query[name]?.[0];
