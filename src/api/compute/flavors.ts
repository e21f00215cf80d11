import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { queryLists } from '../query.js';
import type { ErrorObject } from 'ajv';
import { conflict, invalid, notFound } from '../../errors.js';
import type { Services } from '../../services.js';
import type { AuthContext } from '../../identity/tokens.js';
import { FLAVOR_SORT_KEYS, type Flavor, type FlavorFilter, type FlavorSortKey, type FlavorViewer } from '../../compute/flavors.js';
import { compile, explain, novaMessage, pyRepr, refuseUnstorable } from '../validation.js';
import { resource } from '../http.js';
import { validateExtraSpec } from './extra-specs.js';
import { DESCRIPTION_PATTERN } from '../names.js';
import { checkName } from './wire.js';
import type { Microversion } from './microversion.js';

// ── request schemas (nova.api.openstack.compute.schemas.flavor_manage and friends) ──

/** The database's MAX_INT, the ceiling of every flavor size. */
const MAX_INT = 0x7fffffff;
/** The largest single-precision float, the ceiling of rxtx_factor. */
const SQL_SP_FLOAT_MAX = 3.40282e38;

/** Nova takes sizes as integers or as strings of digits ("ram": "512"). */
const flavorSize = (minimum: number) => ({ type: ['integer', 'string'], pattern: '^[0-9]+$', minimum, maximum: MAX_INT });

const description = { type: ['string', 'null'], minLength: 0, maxLength: 65535, pattern: DESCRIPTION_PATTERN };

const BOOLEAN_ENUM = [true, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', false, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no'];

const createFlavor = {
  type: 'object',
  properties: {
    flavor: {
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 255 },
        id: { type: ['string', 'number', 'null'], minLength: 1, maxLength: 255, pattern: '^(?! )[a-zA-Z0-9. _-]+(?<! )$' },
        ram: flavorSize(1),
        vcpus: flavorSize(1),
        disk: flavorSize(0),
        'OS-FLV-EXT-DATA:ephemeral': flavorSize(0),
        swap: flavorSize(0),
        rxtx_factor: { type: ['number', 'string'], pattern: '^[0-9]+(\\.[0-9]+)?$', exclusiveMinimum: 0, maximum: SQL_SP_FLOAT_MAX },
        'os-flavor-access:is_public': { type: ['boolean', 'string'], enum: BOOLEAN_ENUM },
      },
      required: ['name', 'ram', 'vcpus', 'disk'],
      additionalProperties: false,
    },
  },
  required: ['flavor'],
  additionalProperties: false,
};

/** 2.55 adds a description. */
const createFlavorV255 = {
  ...createFlavor,
  properties: {
    flavor: { ...createFlavor.properties.flavor, properties: { ...createFlavor.properties.flavor.properties, description } },
  },
};

const updateFlavorV255 = {
  type: 'object',
  properties: {
    flavor: { type: 'object', properties: { description }, required: ['description'], additionalProperties: false },
  },
  required: ['flavor'],
  additionalProperties: false,
};

/** Extra specs are metadata whose values may also be numbers. */
const extraSpecsMap = {
  type: 'object',
  patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: ['string', 'number'], maxLength: 255 } },
  additionalProperties: false,
};
const createExtraSpecs = { type: 'object', properties: { extra_specs: extraSpecsMap }, required: ['extra_specs'], additionalProperties: false };
const updateExtraSpec = { ...extraSpecsMap, minProperties: 1, maxProperties: 1 };

const tenantAccess = (action: string) => ({
  type: 'object',
  properties: {
    [action]: {
      type: 'object',
      properties: { tenant: { type: 'string', minLength: 1, maxLength: 255 } },
      required: ['tenant'],
      additionalProperties: false,
    },
  },
  required: [action],
  additionalProperties: false,
});
const addTenantAccess = tenantAccess('addTenantAccess');
const removeTenantAccess = tenantAccess('removeTenantAccess');

const multi = (items: object) => ({ type: 'array', items });
const listQuery = {
  type: 'object',
  properties: {
    limit: multi({ type: ['integer', 'string'], pattern: '^[0-9]*$', minLength: 1 }),
    marker: multi({ type: 'string' }),
    is_public: multi({ type: 'string' }),
    minRam: multi({ type: 'string' }),
    minDisk: multi({ type: 'string' }),
    sort_key: multi({ type: 'string', enum: [...FLAVOR_SORT_KEYS] }),
    sort_dir: multi({ type: 'string', enum: ['asc', 'desc'] }),
  },
  // Unknown parameters were ignored until 2.75 refused them.
  additionalProperties: true,
};
const listQueryV275 = { ...listQuery, additionalProperties: false };

interface CreateFlavorBody {
  flavor: {
    name: string;
    id?: string | number | null;
    ram: number | string;
    vcpus: number | string;
    disk: number | string;
    'OS-FLV-EXT-DATA:ephemeral'?: number | string;
    swap?: number | string;
    rxtx_factor?: number | string;
    'os-flavor-access:is_public'?: boolean | string;
    description?: string | null;
  };
}

// ── validation with Nova's wording ──

/** The schema object a failed keyword belongs to, to tell metadata maps from plain objects. */
function schemaAt(schema: object, e: ErrorObject): Record<string, unknown> {
  let node: unknown = schema;
  for (const seg of e.schemaPath.split('/').slice(1, -1)) node = (node as Record<string, unknown>)?.[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
  return (node ?? {}) as Record<string, unknown>;
}

/** Python's jsonschema words an unexpected key of a map with key patterns differently. */
function detailOf(schema: object, e: ErrorObject, data: unknown) {
  const failure = explain(e, data);
  const patterns = schemaAt(schema, e).patternProperties as Record<string, unknown> | undefined;
  if (e.keyword === 'additionalProperties' && patterns) {
    const key = (e.params as { additionalProperty: string }).additionalProperty;
    failure.detail = `${pyRepr(key)} does not match any of the regexes: ${Object.keys(patterns).sort().map(pyRepr).join(', ')}`;
  }
  return failure;
}

function validateBody<T>(schema: object, body: unknown): T {
  const fn = compile(schema);
  if (!fn(body)) throw invalid(novaMessage(detailOf(schema, fn.errors![0], body)));
  refuseUnstorable(body);
  return body as T;
}

/** Query parameters as Nova validates them: every value a list, the message naming the parameter. */
function validateQuery(schema: object, request: FastifyRequest): Record<string, string[]> {
  const query = queryLists(request);
  const fn = compile(schema);
  if (!fn(query)) {
    const e = fn.errors![0];
    const failure = detailOf(schema, e, query);
    const name = e.instancePath.split('/')[1];
    const value = typeof failure.value === 'string' ? failure.value : pyRepr(failure.value);
    throw invalid(name ? `Invalid input for query parameters ${name}. Value: ${value}. ${failure.detail}` : failure.detail);
  }
  return query;
}

/**
 * Nova checks the name's characters as a JSON Schema format, the first thing it looks at in
 * the flavor; ajv knows no such format, so it is checked here, before the schema.
 */
function checkFlavorName(body: unknown): void {
  const name = (body as { flavor?: { name?: unknown } } | null)?.flavor?.name;
  if (typeof name === 'string' && name.length >= 1 && name.length <= 255) checkName(name);
}

/**
 * Nova's validator holds strings of digits to the numeric bounds too ("ram": "0" is too
 * small); ajv applies them to numbers only, so strings are checked here against the schema.
 */
function checkNumericStrings(schema: { properties: object }, input: object): void {
  for (const [field, rule] of Object.entries(schema.properties) as [string, { minimum?: number; exclusiveMinimum?: number; maximum?: number }][]) {
    const value = (input as Record<string, unknown>)[field];
    if (typeof value !== 'string') continue;
    const n = Number(value);
    let detail: string | null = null;
    if (rule.minimum !== undefined && n < rule.minimum) detail = `${n} is less than the minimum of ${rule.minimum}`;
    else if (rule.exclusiveMinimum !== undefined && n <= rule.exclusiveMinimum) detail = `${n} is less than or equal to the minimum of ${rule.exclusiveMinimum}`;
    else if (rule.maximum !== undefined && n > rule.maximum) detail = `${n} is greater than the maximum of ${rule.maximum}`;
    if (detail) throw invalid(`Invalid input for field/attribute ${field}. Value: ${value}. ${detail}`);
  }
}

// ── views (nova.api.openstack.compute.views.flavors) ──

interface ViewOptions {
  base: string;
  version: Microversion;
  /** Extra specs are embedded from 2.61 for callers the extra-specs index policy lets see them. */
  extraSpecs: boolean;
}

function links(base: string, id: string) {
  return [
    { rel: 'self', href: `${base}/v2.1/flavors/${id}` },
    { rel: 'bookmark', href: `${base}/flavors/${id}` },
  ];
}

function flavorSummary(o: ViewOptions, f: Flavor): Record<string, unknown> {
  const out: Record<string, unknown> = { id: f.id, name: f.name, links: links(o.base, f.id) };
  if (o.version.atLeast('2.55')) out.description = f.description;
  return out;
}

function flavorDetail(o: ViewOptions, f: Flavor): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: f.id,
    name: f.name,
    ram: f.ram,
    disk: f.disk,
    // Before 2.75 a flavor without swap says "" rather than 0.
    swap: f.swap || (o.version.atLeast('2.75') ? 0 : ''),
    'OS-FLV-EXT-DATA:ephemeral': f.ephemeral,
    'OS-FLV-DISABLED:disabled': f.disabled,
    vcpus: f.vcpus,
    'os-flavor-access:is_public': f.isPublic,
    rxtx_factor: f.rxtxFactor || '',
    links: links(o.base, f.id),
  };
  if (o.version.atLeast('2.55')) out.description = f.description;
  if (o.extraSpecs) out.extra_specs = f.extraSpecs;
  return out;
}

function flavorAccessView(id: string, projects: string[]) {
  return { flavor_access: projects.map((p) => ({ flavor_id: id, tenant_id: p })) };
}

/** Nova's rxtx_factor is a float, which Python writes as 1.0; JSON.stringify would write 1. */
function sendJson(reply: FastifyReply, body: unknown, status = 200): FastifyReply {
  const text = JSON.stringify(body).replace(/"rxtx_factor":(-?\d+)(?=[,}])/g, '"rxtx_factor":$1.0');
  // A Buffer, so that the content type stays Nova's plain application/json.
  return reply.code(status).header('content-type', 'application/json').send(Buffer.from(text));
}

// ── routes ──

/** Nova's CONF.api.max_limit. */
const MAX_LIMIT = 1000;

const TRUE_STRINGS = ['1', 't', 'true', 'on', 'y', 'yes'];
const FALSE_STRINGS = ['0', 'f', 'false', 'off', 'n', 'no'];

/** oslo's strict bool_from_string; undefined when the text is neither. */
function boolFromString(text: string): boolean | undefined {
  const v = text.trim().toLowerCase();
  return TRUE_STRINGS.includes(v) ? true : FALSE_STRINGS.includes(v) ? false : undefined;
}

/** Python's int() of a query value. */
function pythonInt(text: string): number | undefined {
  return /^\s*[+-]?\d+(?:_\d+)*\s*$/.test(text) ? Number(text.trim().replace(/_/g, '')) : undefined;
}

const viewerOf = (auth: AuthContext): FlavorViewer => ({ isAdmin: auth.isAdmin, projectId: auth.projectId });

export function flavorRoutes(app: FastifyInstance, services: Services, base: string): void {
  const { flavors, policy } = services;

  const viewOptions = (request: FastifyRequest): ViewOptions => ({
    base,
    version: request.microversion,
    extraSpecs: request.microversion.atLeast('2.61') && policy.check(request.auth, 'os_compute_api:os-flavor-extra-specs:index'),
  });

  /** GET /flavors and /flavors/detail share Nova's _get_flavors. */
  async function listFlavors(request: FastifyRequest, detail: boolean, reply: FastifyReply) {
    const query = validateQuery(request.microversion.atLeast('2.75') ? listQueryV275 : listQuery, request);
    // webob hands a repeated parameter's last value to Nova.
    const last = (key: string) => query[key]?.at(-1);
    const sortKey = (last('sort_key') || 'flavorid') as FlavorSortKey;
    const sortDir = (last('sort_dir') || 'asc') as 'asc' | 'desc';
    const limitText = last('limit');
    const limit = limitText === undefined ? MAX_LIMIT : Math.min(MAX_LIMIT, Number(limitText));
    const marker = last('marker');

    const filter: FlavorFilter = { isPublic: true };
    if (request.auth.isAdmin) {
      // Only an admin may ask for private flavors; the default stays public only.
      const isPublic = last('is_public');
      if (isPublic !== undefined) {
        if (isPublic.toLowerCase() === 'none') filter.isPublic = null;
        else {
          const parsed = boolFromString(isPublic);
          if (parsed === undefined) throw invalid(`Invalid is_public filter [${isPublic}]`);
          filter.isPublic = parsed;
        }
      }
    } else {
      filter.disabled = false;
    }
    for (const [param, key] of [['minRam', 'minRam'], ['minDisk', 'minDisk']] as const) {
      const text = last(param);
      if (text === undefined) continue;
      const n = pythonInt(text);
      if (n === undefined) throw invalid(`Invalid ${param} filter [${text}]`);
      filter[key] = n;
    }

    const list = await flavors.list(viewerOf(request.auth), filter, { sortKey, sortDir, limit, marker });
    const o = viewOptions(request);
    const body: Record<string, unknown> = { flavors: list.map((f) => (detail ? flavorDetail(o, f) : flavorSummary(o, f))) };
    // A full page may have a next one.
    if (limit && list.length === limit) {
      const params = new URLSearchParams();
      for (const k of Object.keys(query).sort()) params.set(k, query[k].at(-1)!);
      params.set('marker', list[list.length - 1].id);
      body.flavors_links = [{ rel: 'next', href: `${base}/v2.1/flavors${detail ? '/detail' : ''}?${params}` }];
    }
    return sendJson(reply, body);
  }

  resource(app, '/flavors', {
    GET: async (request, reply) => listFlavors(request, false, reply),

    POST: async (request, reply) => {
      const v255 = request.microversion.atLeast('2.55');
      checkFlavorName(request.body);
      const schema = v255 ? createFlavorV255 : createFlavor;
      const { flavor: input } = validateBody<CreateFlavorBody>(schema, request.body);
      checkNumericStrings(schema.properties.flavor, input);
      policy.authorize(request.auth, 'os_compute_api:os-flavor-manage:create');
      const isPublic = input['os-flavor-access:is_public'];
      const flavor = await flavors.create({
        id: input.id === undefined || input.id === null ? null : String(input.id),
        name: input.name,
        ram: Number(input.ram),
        vcpus: Number(input.vcpus),
        disk: Number(input.disk),
        ephemeral: Number(input['OS-FLV-EXT-DATA:ephemeral'] ?? 0),
        swap: Number(input.swap ?? 0),
        rxtxFactor: Number(input.rxtx_factor ?? 1),
        isPublic: isPublic === undefined ? true : typeof isPublic === 'boolean' ? isPublic : boolFromString(isPublic)!,
        description: v255 ? (input.description ?? null) : null,
      });
      return sendJson(reply, { flavor: flavorDetail(viewOptions(request), flavor) });
    },
  });

  // Only GET: any other method on /flavors/detail is a method on the flavor called "detail", as in Nova.
  app.get('/flavors/detail', async (request, reply) => listFlavors(request, true, reply));

  resource(app, '/flavors/:id', {
    GET: async (request, reply) => {
      const { id } = request.params as { id: string };
      const flavor = await flavors.get(viewerOf(request.auth), id);
      return sendJson(reply, { flavor: flavorDetail(viewOptions(request), flavor) });
    },

    PUT: async (request, reply) => {
      // The only update there is came with 2.55; before it the method does not exist.
      if (!request.microversion.atLeast('2.55')) throw notFound('The resource could not be found.');
      const { id } = request.params as { id: string };
      const body = validateBody<{ flavor: { description: string | null } }>(updateFlavorV255, request.body);
      policy.authorize(request.auth, 'os_compute_api:os-flavor-manage:update');
      const flavor = await flavors.updateDescription(id, body.flavor.description);
      return sendJson(reply, { flavor: flavorDetail(viewOptions(request), flavor) });
    },

    DELETE: async (request, reply) => {
      const { id } = request.params as { id: string };
      policy.authorize(request.auth, 'os_compute_api:os-flavor-manage:delete');
      await flavors.delete(id);
      return reply.code(202).send();
    },
  });

  resource(app, '/flavors/:id/action', {
    POST: async (request, reply) => {
      const { id } = request.params as { id: string };
      const body = request.body;
      // Nova reads the action from the body's one key.
      if (typeof body !== 'object' || body === null || Array.isArray(body) || Object.keys(body).length !== 1) {
        throw invalid('Malformed request body');
      }
      const action = Object.keys(body)[0];
      if (action === 'addTenantAccess') {
        const { tenant } = validateBody<{ addTenantAccess: { tenant: string } }>(addTenantAccess, body).addTenantAccess;
        policy.authorize(request.auth, 'os_compute_api:os-flavor-access:add_tenant_access');
        if (!(await services.directory.findProject({ id: tenant }))) throw invalid(`Project ID ${tenant} is not a valid project.`);
        const flavor = await flavors.get(viewerOf(request.auth), id);
        if (flavor.isPublic && request.microversion.atLeast('2.7')) throw conflict('Can not add access to a public flavor.');
        return sendJson(reply, flavorAccessView(id, await flavors.addAccess(id, tenant)));
      }
      if (action === 'removeTenantAccess') {
        // The project need not exist any more: removing a deleted project's access is fine.
        const { tenant } = validateBody<{ removeTenantAccess: { tenant: string } }>(removeTenantAccess, body).removeTenantAccess;
        policy.authorize(request.auth, 'os_compute_api:os-flavor-access:remove_tenant_access');
        await flavors.get(viewerOf(request.auth), id);
        return sendJson(reply, flavorAccessView(id, await flavors.removeAccess(id, tenant)));
      }
      throw invalid(`There is no such action: ${action}`);
    },
  });

  resource(app, '/flavors/:id/os-flavor-access', {
    GET: async (request, reply) => {
      const { id } = request.params as { id: string };
      policy.authorize(request.auth, 'os_compute_api:os-flavor-access');
      const flavor = await flavors.get(viewerOf(request.auth), id);
      if (flavor.isPublic) throw notFound('Access list not available for public flavors.');
      return sendJson(reply, flavorAccessView(id, await flavors.projects(id)));
    },
  });

  /** Values may be numbers; Nova checks their length as text and, from 2.86, what they mean. */
  function checkExtraSpecValues(request: FastifyRequest, specs: Record<string, string | number>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(specs)) {
      const text = String(value);
      if (typeof value === 'number' && text.length > 255) throw invalid(`extra_specs value has ${text.length} characters, more than 255.`);
      if (request.microversion.atLeast('2.86')) validateExtraSpec(key, text);
      out[key] = text;
    }
    return out;
  }

  resource(app, '/flavors/:id/os-extra_specs', {
    GET: async (request, reply) => {
      const { id } = request.params as { id: string };
      policy.authorize(request.auth, 'os_compute_api:os-flavor-extra-specs:index');
      return sendJson(reply, { extra_specs: await flavors.extraSpecs(viewerOf(request.auth), id) });
    },

    POST: async (request, reply) => {
      const { id } = request.params as { id: string };
      const body = validateBody<{ extra_specs: Record<string, string | number> }>(createExtraSpecs, request.body);
      policy.authorize(request.auth, 'os_compute_api:os-flavor-extra-specs:create');
      const specs = checkExtraSpecValues(request, body.extra_specs);
      await flavors.setExtraSpecs(viewerOf(request.auth), id, specs);
      // Nova answers with the request body, numbers and all.
      return sendJson(reply, body);
    },
  });

  resource(app, '/flavors/:id/os-extra_specs/:key', {
    GET: async (request, reply) => {
      const { id, key } = request.params as { id: string; key: string };
      policy.authorize(request.auth, 'os_compute_api:os-flavor-extra-specs:show');
      return sendJson(reply, { [key]: await flavors.extraSpec(viewerOf(request.auth), id, key) });
    },

    PUT: async (request, reply) => {
      const { id, key } = request.params as { id: string; key: string };
      const body = validateBody<Record<string, string | number>>(updateExtraSpec, request.body);
      policy.authorize(request.auth, 'os_compute_api:os-flavor-extra-specs:update');
      const specs = checkExtraSpecValues(request, body);
      if (!Object.hasOwn(body, key)) throw invalid('Request body and URI mismatch');
      await flavors.setExtraSpecs(viewerOf(request.auth), id, specs);
      return sendJson(reply, body);
    },

    DELETE: async (request, reply) => {
      const { id, key } = request.params as { id: string; key: string };
      policy.authorize(request.auth, 'os_compute_api:os-flavor-extra-specs:delete');
      await flavors.deleteExtraSpec(viewerOf(request.auth), id, key);
      return reply.code(200).send();
    },
  });
}
