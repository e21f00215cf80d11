import type { ErrorObject } from 'ajv';
import { compile, pyRepr } from '../validation.js';
import { badAttribute, badRequest } from '../../network/errors.js';
import type { AuthContext } from '../../identity/tokens.js';
import { MAX_ID_LENGTH } from '../../identity/directory.js';

/**
 * Request bodies of the Networking API: a JSON Schema per resource (so validator and types
 * agree), with failures worded as Neutron's attribute checks word them, each naming the
 * attribute: "Invalid input for cidr. Reason: …", "Unrecognized attribute(s) 'x'".
 */
export interface BodySpec {
  /** The body key: network, subnet, port … */
  resource: string;
  /** Schema of the resource object; `required` lists what a create must give. */
  schema: { type: 'object'; properties: Record<string, object>; required?: string[] };
  /** Attributes a PUT may change; the others are read-only. */
  updatable: string[];
  /** Attributes the resource shows but a request may not set (id, status …). */
  readOnly?: string[];
}

const str = (v: unknown) => (typeof v === 'string' ? v : pyRepr(v));

function reason(e: ErrorObject, value: unknown): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'type': {
      const t = String(p.type).split(',')[0];
      if (t === 'string') return `'${str(value)}' is not a valid string`;
      if (t === 'boolean') return `'${str(value)}' cannot be converted to boolean`;
      if (t === 'integer' || t === 'number') return `'${str(value)}' is not an integer`;
      if (t === 'array') return `'${str(value)}' is not a list`;
      if (t === 'object') return `'${str(value)}' is not a dictionary`;
      return `'${str(value)}' is not a valid input`;
    }
    case 'maxLength':
      return `'${str(value)}' exceeds maximum length of ${p.limit}`;
    case 'enum':
      return `${str(value)} is not in ${pyRepr(p.allowedValues)}`;
    case 'format':
      return p.format === 'uuid' ? `'${str(value)}' is not a valid UUID` : `'${str(value)}' is not a valid ${p.format}`;
    case 'minimum':
      return `'${str(value)}' is too small - must be at least '${p.limit}'`;
    case 'maximum':
      return `'${str(value)}' is too large - must be no larger than '${p.limit}'`;
    case 'required':
      return `Validation of dictionary's keys failed. Expected keys: ${pyRepr(p.missingProperty)}`;
    case 'additionalProperties':
      return `Unexpected keys supplied: ${str(p.additionalProperty)}`;
    case 'uniqueItems':
      return `Duplicate items in the list: '${str(value)}'`;
    default:
      return `'${str(value)}' is not a valid input`;
  }
}

function valueAt(root: unknown, pointer: string): unknown {
  let v = root;
  for (const seg of pointer.split('/').slice(1)) v = (v as Record<string, unknown> | undefined)?.[seg];
  return v;
}

const updateSchemas = new WeakMap<BodySpec, object>();

/** A PUT's schema: the create schema with nothing required (built once, so it compiles once). */
function updateSchema(spec: BodySpec): object {
  let schema = updateSchemas.get(spec);
  if (!schema) updateSchemas.set(spec, (schema = { ...spec.schema, required: [] }));
  return schema;
}

function check<T>(spec: BodySpec, item: unknown, create: boolean): T {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) throw badRequest(`Object '${spec.resource}' contains invalid data`);
  const known = [...Object.keys(spec.schema.properties), ...(spec.readOnly ?? [])];
  const extra = Object.keys(item).filter((k) => !known.includes(k));
  if (extra.length) throw badRequest(`Unrecognized attribute(s) '${extra.join(', ')}'`);
  const shown = create ? Object.keys(item).find((k) => spec.readOnly?.includes(k)) : undefined;
  if (shown) throw badRequest(`Attribute '${shown}' not allowed in POST`);
  if (!create) {
    const readOnly = Object.keys(item).find((k) => !spec.updatable.includes(k));
    if (readOnly) throw badRequest(`Cannot update read-only attribute ${readOnly}`);
  }
  const fn = compile(create ? spec.schema : updateSchema(spec));
  if (!fn(item)) {
    const e = fn.errors![0];
    if (e.keyword === 'required' && e.instancePath === '') {
      throw badRequest(`Failed to parse request. Required attribute '${(e.params as { missingProperty: string }).missingProperty}' not specified`);
    }
    const attr = e.instancePath.split('/')[1];
    throw badAttribute(attr, reason(e, valueAt(item, e.instancePath)));
  }
  return item as T;
}

/** The resources of a POST: one, or several under the collection key (Neutron's bulk create). */
export function createBodies<T>(spec: BodySpec, body: unknown): { items: T[]; bulk: boolean } {
  if (body === undefined || body === null || (typeof body === 'object' && Object.keys(body).length === 0)) throw badRequest('Resource body required');
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('Body contains invalid data');
  const collection = `${spec.resource}s`;
  const b = body as Record<string, unknown>;
  if (collection in b) {
    const list = b[collection];
    if (!Array.isArray(list)) throw badRequest('Body contains invalid data');
    if (!list.length) throw badRequest('Resources required');
    return { items: list.map((x) => check<T>(spec, x && typeof x === 'object' && spec.resource in x ? (x as Record<string, unknown>)[spec.resource] : x, true)), bulk: true };
  }
  if (!(spec.resource in b)) throw badRequest(`Unable to find '${spec.resource}' in request body`);
  return { items: [check<T>(spec, b[spec.resource], true)], bulk: false };
}

export function updateBody<T>(spec: BodySpec, body: unknown): T {
  if (body === undefined || body === null || (typeof body === 'object' && Object.keys(body).length === 0)) throw badRequest('Resource body required');
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('Body contains invalid data');
  const b = body as Record<string, unknown>;
  if (!(spec.resource in b)) throw badRequest(`Unable to find '${spec.resource}' in request body`);
  return check<T>(spec, b[spec.resource], false);
}

/**
 * The project a new resource belongs to: the caller's, or (for an admin) the one named by
 * project_id / tenant_id, which must agree.
 */
export function owningProject(ctx: AuthContext, item: { project_id?: string; tenant_id?: string }): string {
  if (item.project_id !== undefined && item.tenant_id !== undefined && item.project_id !== item.tenant_id) {
    throw badRequest(`'project_id' and 'tenant_id' do not match`);
  }
  const asked = item.project_id ?? item.tenant_id;
  if (asked !== undefined && asked !== ctx.projectId && !ctx.isAdmin) {
    throw badRequest(`Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges`);
  }
  const project = asked ?? ctx.projectId;
  if (!project) throw badRequest('Running without keystone AuthN requires that tenant_id is specified');
  return project;
}

/** Schema pieces Neutron's attribute maps use over and over. */
export const name = { type: 'string', maxLength: 255 };
export const description = { type: 'string', maxLength: 255 };
/** Neutron takes 255 characters; a Keystone project id has at most 64, and that is what the column holds. */
export const projectId = { type: 'string', maxLength: MAX_ID_LENGTH };
export const bool = { type: 'boolean' };
export const uuid = { type: 'string', format: 'uuid' };
