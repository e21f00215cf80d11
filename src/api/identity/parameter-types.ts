import { invalid, type NimbusError } from '../../errors.js';
import { keystoneMessage } from './auth.js';

/** Keystone's JSON Schema parameter types (keystone/api/validation/parameter_types.py). */

export const name = { type: 'string', minLength: 1, maxLength: 255, pattern: '[\\S]+' };
export const projectName = { type: 'string', minLength: 1, maxLength: 64, pattern: '[\\S]+' };
export const idString = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-]+$' };
export const description = { type: 'string' };
/** Keystone takes a JSON boolean or its spelling as a string. */
export const boolean = { type: ['boolean', 'string'], enum: [true, 'True', 'TRUE', 'true', false, 'False', 'FALSE', 'false'] };

export const nullable = (schema: { type: string | string[] } & Record<string, unknown>) => ({
  ...schema,
  type: [...(Array.isArray(schema.type) ? schema.type : [schema.type]), 'null'],
  ...('enum' in schema ? { enum: [...(schema.enum as unknown[]), null] } : {}),
});

export type KeystoneBoolean = boolean | string;

export const asBoolean = (v: KeystoneBoolean): boolean => v === true || (typeof v === 'string' && v.toLowerCase() === 'true');

/** A 400 naming one field, worded as Keystone's schema failures are. */
export const invalidField = (field: string, detail: string): NimbusError => invalid(keystoneMessage({ field, value: undefined, detail }));

/**
 * Resource options Nimbus does not store: an empty object (or only nulls, which unset)
 * is accepted, since openstackclient always sends `"options": {}`; anything set is refused
 * rather than silently dropped.
 */
export function refuseOptions(options: Record<string, unknown> | undefined, what: string): void {
  const set = Object.entries(options ?? {}).filter(([, v]) => v !== null);
  if (set.length) throw invalidField('options', `Nimbus does not support ${what} options (${set.map(([k]) => `'${k}'`).join(', ')} given)`);
}

/** Bound on a user's or project's extra attributes as stored (JSON), so no row grows without limit. */
export const MAX_EXTRA_BYTES = 65535;

/**
 * The attributes of a body that are not in `known`: Keystone keeps them as extra attributes
 * of the user or project and shows them back. Refused when they would not fit the bound.
 */
export function extraAttributes(body: object, known: Record<string, unknown>, what: string): Record<string, unknown> {
  const extra = Object.fromEntries(Object.entries(body).filter(([k]) => !Object.hasOwn(known, k)));
  if (Buffer.byteLength(JSON.stringify(extra)) > MAX_EXTRA_BYTES) {
    throw invalidField(Object.keys(extra)[0], `the extra attributes of a ${what} take at most ${MAX_EXTRA_BYTES} bytes as JSON`);
  }
  return extra;
}
