import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { invalid } from '../errors.js';
import { NAME_FORMATS, invalidNameMessage } from './names.js';
import { MAX_INT, MIN_INT } from '../db/schema.js';
import { pyRepr, pyStr } from '../repr.js';

/**
 * JSON Schema validation with the messages OpenStack's services give (they use Python's
 * jsonschema): "Invalid input for field/attribute flavorRef. Value: x. 'x' is not of type 'integer'".
 */
const ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false, useDefaults: false });
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
ajv.addFormat('uuid', UUID);
ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)));
ajv.addFormat('ipv4', /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/);
ajv.addFormat('ipv6', (s: string) => /^[0-9a-f:.]+$/i.test(s) && s.includes(':'));
ajv.addFormat('base64', (s: string) => /^[A-Za-z0-9+/\r\n]*={0,2}$/.test(s) && s.replace(/[\r\n]/g, '').length % 4 === 0);
for (const [format, { test }] of Object.entries(NAME_FORMATS)) ajv.addFormat(format, { type: 'string', validate: test });

/** OpenStack quotes values in its messages the Python way (src/repr.ts). */
export { pyRepr, pyStr };

function describe(e: ErrorObject, value: unknown): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `${pyRepr(p.missingProperty)} is a required property`;
    case 'additionalProperties':
      return `Additional properties are not allowed (${pyRepr(p.additionalProperty)} was unexpected)`;
    case 'type': {
      const types = String(p.type).split(',');
      return `${pyRepr(value)} is not of type ${types.map((t) => pyRepr(t)).join(', ')}`;
    }
    case 'enum':
      return `${pyRepr(value)} is not one of ${pyRepr(p.allowedValues)}`;
    case 'const':
      return `${pyRepr(p.allowedValue)} was expected`;
    case 'minLength':
    case 'minItems':
      return `${pyRepr(value)} is too short`;
    case 'maxLength':
    case 'maxItems':
      return `${pyRepr(value)} is too long`;
    case 'pattern':
      return `${pyRepr(value)} does not match ${pyRepr(p.pattern)}`;
    case 'format':
      return `${pyRepr(value)} is not a ${pyRepr(p.format)}`;
    case 'minimum':
      return `${pyRepr(value)} is less than the minimum of ${p.limit}`;
    case 'maximum':
      return `${pyRepr(value)} is greater than the maximum of ${p.limit}`;
    case 'exclusiveMinimum':
      return `${pyRepr(value)} is less than or equal to the minimum of ${p.limit}`;
    case 'exclusiveMaximum':
      return `${pyRepr(value)} is greater than or equal to the maximum of ${p.limit}`;
    case 'uniqueItems':
      return `${pyRepr(value)} has non-unique elements`;
    case 'minProperties':
      return `${pyRepr(value)} does not have enough properties`;
    case 'maxProperties':
      return `${pyRepr(value)} has too many properties`;
    case 'oneOf':
    case 'anyOf':
      return `${pyRepr(value)} is not valid under any of the given schemas`;
    case 'nul': {
      const key = (p as { key?: string }).key;
      return key === undefined ? 'The NUL character is not allowed' : `The key ${pyRepr(key)} holds the NUL character, which is not allowed`;
    }
    default:
      return `${pyRepr(value)} is invalid: ${e.message ?? e.keyword}`;
  }
}

function valueAt(root: unknown, pointer: string): unknown {
  let v: unknown = root;
  for (const seg of pointer.split('/').slice(1)) {
    v = (v as Record<string, unknown> | undefined)?.[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return v;
}

export interface ValidationFailure {
  /** The last path segment: the field the message names, or '' at the root. */
  field: string;
  value: unknown;
  detail: string;
  /** Set when a Nova name format failed: Nova then words the whole message itself. */
  nameFormat?: string;
}

export function explain(e: ErrorObject, data: unknown): ValidationFailure {
  const found = valueAt(data, e.instancePath);
  // A NUL is not echoed: the value is named as Python's repr() writes it ('a\x00b').
  const value = e.keyword === 'nul' && typeof found === 'string' ? pyRepr(found) : found;
  const segments = e.instancePath.split('/').slice(1);
  const format = e.keyword === 'format' ? String((e.params as { format: string }).format) : '';
  return { field: segments[segments.length - 1] ?? '', value, detail: describe(e, value), ...(Object.hasOwn(NAME_FORMATS, format) ? { nameFormat: format } : {}) };
}

/** Nova's wording of a schema failure (a name format's is its InvalidName, whatever the field). */
export function novaMessage(f: ValidationFailure): string {
  if (f.nameFormat) return invalidNameMessage(NAME_FORMATS[f.nameFormat].reason);
  return f.field ? `Invalid input for field/attribute ${f.field}. Value: ${pyStr(f.value)}. ${f.detail}` : f.detail;
}

const compiled = new WeakMap<object, ValidateFunction>();

/** PostgreSQL cannot store a NUL in text (SQLite can): the one character no field may hold. */
export const UNSTORABLE = /\u0000/;

/** The first string or key holding a NUL in a parsed JSON value: where it is (the key's object, for a key). */
export function findUnstorable(value: unknown, path: string[] = []): { path: string[]; value: string; isKey: boolean } | null {
  if (typeof value === 'string') return UNSTORABLE.test(value) ? { path, value, isKey: false } : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findUnstorable(value[i], [...path, String(i)]);
      if (hit) return hit;
    }
    return null;
  }
  // Only what JSON.parse builds: a stream (image data) or a Buffer is not walked.
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return null;
  for (const [k, v] of Object.entries(value)) {
    if (UNSTORABLE.test(k)) return { path, value: k, isKey: true };
    const hit = findUnstorable(v, [...path, k]);
    if (hit) return hit;
  }
  return null;
}

const pointer = (path: string[]) => path.map((s) => `/${s.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');

/**
 * Refuses a NUL anywhere in data a schema passed, worded by `message` like a schema failure
 * (keyword 'nul'): for the APIs whose bodies are all checked by schemas, so that the
 * schema's own rules (Nova's name formats) speak first.
 */
export function refuseUnstorable(data: unknown, message: (f: ValidationFailure) => string = novaMessage): void {
  const hit = findUnstorable(data);
  if (hit) throw invalid(message(explain({ keyword: 'nul', instancePath: pointer(hit.path), schemaPath: '', params: hit.isKey ? { key: hit.value } : {} }, data)));
}

/** Keywords whose values are maps of names to schemas. */
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', 'definitions', '$defs', 'dependentSchemas']);
/** Keywords whose values are data, not schemas. */
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples', 'required']);

/**
 * Every integer a schema takes fits an integer column unless the schema says otherwise:
 * the rule that makes 2147483648 a 400 naming its field on both databases, instead of a
 * 500 on PostgreSQL only. Schemas are copied, never changed.
 */
function withIntegerBounds(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withIntegerBounds);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (SCHEMA_MAPS.has(k) && v !== null && typeof v === 'object') out[k] = Object.fromEntries(Object.entries(v).map(([name, s]) => [name, withIntegerBounds(s)]));
    else out[k] = DATA_KEYWORDS.has(k) ? v : withIntegerBounds(v);
  }
  const type = (schema as { type?: unknown }).type;
  const types = [type].flat();
  if (types.includes('integer')) {
    if (!types.includes('number')) out.pythonInteger = types;
    out.maximum ??= MAX_INT;
    out.minimum ??= MIN_INT;
  }
  return out;
}

/**
 * Python reads a JSON number past 2^53 (1e308) as a float, which a schema's 'integer'
 * refuses as not of its type before any bound; JSON.parse makes it an integer-valued
 * double that ajv's 'integer' takes. Checked first of the number keywords, so every
 * schema answers as Nova's does.
 */
ajv.addKeyword({
  keyword: 'pythonInteger',
  type: 'number',
  schemaType: 'array',
  before: 'maximum',
  errors: true,
  validate: pythonInteger,
});
function pythonInteger(types: string[], data: number): boolean {
  if (Number.isSafeInteger(data) || !Number.isInteger(data)) return true;
  (pythonInteger as { errors?: Partial<ErrorObject>[] }).errors = [{ keyword: 'type', params: { type: types.join(',') }, message: `must be ${types.join(',')}` }];
  return false;
}

export function compile(schema: object): ValidateFunction {
  let fn = compiled.get(schema);
  if (!fn) {
    fn = ajv.compile(withIntegerBounds(schema) as object);
    compiled.set(schema, fn);
  }
  return fn;
}

/**
 * Validates and returns the data typed as T, or throws a 400 worded by `message`. `after`
 * runs the checks a route makes after the schema (Nova's name formats, checked outside
 * ajv); a NUL anywhere in the data is refused last.
 */
export function validate<T>(schema: object, data: unknown, message: (f: ValidationFailure) => string = novaMessage, after?: (data: T) => void): T {
  const fn = compile(schema);
  if (!fn(data)) throw invalid(message(explain(fn.errors![0], data)));
  after?.(data as T);
  refuseUnstorable(data, message);
  return data as T;
}
