import type { FastifyInstance, FastifyRequest } from 'fastify';
import { queryLists } from '../query.js';
import type { Services } from '../../services.js';
import type { AuthContext } from '../../identity/tokens.js';
import { invalid } from '../../errors.js';
import {
  classQuotas,
  defaultQuotas,
  projectQuotas,
  QUOTA_RESOURCES,
  reportedUsage,
  resetQuotas,
  setClassQuotas,
  setQuotas,
  userQuotas,
  type QuotaDeltas,
  type QuotaResource,
} from '../../compute/quotas.js';
import type { Microversion } from './microversion.js';
import { resource } from '../http.js';
import { validate } from '../validation.js';
import { firstValue, multiParams, querySchema, validateQuery } from './query.js';

/** nova-network's quotas, gone from the API at 2.36 (quota classes: 2.50). */
const NETWORK: QuotaResource[] = ['fixed_ips', 'floating_ips', 'security_group_rules', 'security_groups'];
/** Personality files' quotas, gone at 2.57 with personality itself. */
const INJECTED: QuotaResource[] = ['injected_files', 'injected_file_content_bytes', 'injected_file_path_bytes'];
/** Quota classes showed no server group quotas before 2.50. */
const SERVER_GROUPS: QuotaResource[] = ['server_groups', 'server_group_members'];

function hiddenInQuotaSets(v: Microversion): Set<string> {
  return new Set(v.atLeast('2.57') ? [...NETWORK, ...INJECTED] : v.atLeast('2.36') ? NETWORK : []);
}

function hiddenInQuotaClasses(v: Microversion): Set<string> {
  return new Set(v.atLeast('2.57') ? [...NETWORK, ...INJECTED] : v.atLeast('2.50') ? NETWORK : SERVER_GROUPS);
}

/** A quota body: `id` first when shown, then the resources in Nova's (alphabetical) order. */
function quotaView<T>(id: string | null, values: Record<QuotaResource, T>, hidden: Set<string>): Record<string, unknown> {
  const result: Record<string, unknown> = id === null ? {} : { id };
  for (const r of QUOTA_RESOURCES) if (!hidden.has(r)) result[r] = values[r];
  return result;
}

// Request schemas, each microversion removing what Nova removed.
const COMMON_QUOTA = { type: ['integer', 'string'], pattern: '^-?[0-9]+$', minimum: -1, maximum: 0x7fffffff };
const BOOLEAN = {
  type: ['boolean', 'string'],
  enum: [true, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', false, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no'],
};
/** 'networks' was nova-network's; it is accepted by the schema only to be refused with a message. */
const ALL_KEYS = [...QUOTA_RESOURCES, 'networks'];
const without = (keys: string[], removed: string[]) => keys.filter((k) => !removed.includes(k));
const quotaProperties = (keys: string[]) => Object.fromEntries(keys.map((k) => [k, COMMON_QUOTA]));
const updateBody = (wrapper: string, properties: object) => ({
  type: 'object',
  properties: { [wrapper]: { type: 'object', properties, additionalProperties: false } },
  required: [wrapper],
  additionalProperties: false,
});
const SET_KEYS_V236 = without(ALL_KEYS, [...NETWORK, 'networks']);
const SET_KEYS_V257 = without(SET_KEYS_V236, INJECTED);
const UPDATE_SET_V21 = updateBody('quota_set', { ...quotaProperties(ALL_KEYS), force: BOOLEAN });
const UPDATE_SET_V236 = updateBody('quota_set', { ...quotaProperties(SET_KEYS_V236), force: BOOLEAN });
const UPDATE_SET_V257 = updateBody('quota_set', { ...quotaProperties(SET_KEYS_V257), force: BOOLEAN });
const UPDATE_CLASS_V21 = updateBody('quota_class_set', quotaProperties(ALL_KEYS));
const UPDATE_CLASS_V250 = updateBody('quota_class_set', quotaProperties(SET_KEYS_V236));
const UPDATE_CLASS_V257 = updateBody('quota_class_set', quotaProperties(SET_KEYS_V257));

const USER_ID = { user_id: multiParams({ type: 'string' }) };
const QUERY_V21 = querySchema(USER_ID, false);
const QUERY_V275 = querySchema(USER_ID, true);

const queryOf = (request: FastifyRequest) => validateQuery(request.microversion.atLeast('2.75') ? QUERY_V275 : QUERY_V21, queryLists(request));

/**
 * Nova's own validator checks bounds on numeric strings too ("-2" is below -1); ajv checks
 * them only on numbers. Returns the limits as integers, leaving out `force` and `networks`.
 */
function limitsOf(values: Record<string, unknown>): QuotaDeltas {
  const limits: QuotaDeltas = {};
  for (const [key, value] of Object.entries(values)) {
    if (key === 'force' || key === 'networks') continue;
    if (typeof value === 'string') {
      const n = BigInt(value);
      if (n < -1n) throw invalid(`Invalid input for field/attribute ${key}. Value: ${value}. ${n} is less than the minimum of -1`);
      if (n > 0x7fffffffn) throw invalid(`Invalid input for field/attribute ${key}. Value: ${value}. ${n} is greater than the maximum of 2147483647`);
    }
    limits[key as QuotaResource] = Number(value);
  }
  return limits;
}

const TRUE_STRINGS = ['1', 't', 'true', 'on', 'y', 'yes'];
const isTrue = (v: unknown) => v === true || (typeof v === 'string' && TRUE_STRINGS.includes(v.toLowerCase()));

export function quotaRoutes(app: FastifyInstance, services: Services): void {
  const { db, policy } = services;

  /**
   * Nova's verify_project_id: it asks Keystone, with the caller's token, for the project; an
   * unknown one is a bad request. Keystone refuses (403) a caller who may not read that
   * project, whether it exists or not, and Nova then takes it as fine: so a caller learns
   * nothing here about projects that are not theirs to see.
   */
  async function verifyProject(ctx: AuthContext, projectId: string): Promise<void> {
    if (!policy.check(ctx, 'identity:get_project', projectId)) return;
    if (!(await services.directory.findProject({ id: projectId }))) throw invalid(`Project ID ${projectId} is not a valid project.`);
  }

  const projectIdOf = (request: FastifyRequest) => (request.params as { project_id: string }).project_id;

  resource(app, '/os-quota-sets/:project_id', {
    GET: async (request) => {
      const projectId = projectIdOf(request);
      const query = queryOf(request);
      policy.authorize(request.auth, 'os_compute_api:os-quota-sets:show', projectId);
      await verifyProject(request.auth, projectId);
      const userId = firstValue(query, 'user_id');
      const limits = userId ? await userQuotas(db, projectId, userId) : await projectQuotas(db, projectId);
      return { quota_set: quotaView(projectId, limits, hiddenInQuotaSets(request.microversion)) };
    },
    PUT: async (request) => {
      const v = request.microversion;
      const projectId = projectIdOf(request);
      const body = validate<{ quota_set: Record<string, unknown> }>(v.atLeast('2.57') ? UPDATE_SET_V257 : v.atLeast('2.36') ? UPDATE_SET_V236 : UPDATE_SET_V21, request.body);
      const query = queryOf(request);
      policy.authorize(request.auth, 'os_compute_api:os-quota-sets:update', projectId);
      await verifyProject(request.auth, projectId);
      if ('networks' in body.quota_set) throw invalid('The networks quota has been removed');
      const userId = firstValue(query, 'user_id') || null;
      await setQuotas(db, projectId, userId, limitsOf(body.quota_set), isTrue(body.quota_set.force ?? 'False'));
      const limits = userId ? await userQuotas(db, projectId, userId) : await projectQuotas(db, projectId);
      // Nova's update answer carries no id.
      return { quota_set: quotaView(null, limits, hiddenInQuotaSets(v)) };
    },
    DELETE: async (request, reply) => {
      const projectId = projectIdOf(request);
      const query = queryOf(request);
      policy.authorize(request.auth, 'os_compute_api:os-quota-sets:delete', projectId);
      await resetQuotas(db, projectId, firstValue(query, 'user_id') || null);
      return reply.code(202).send();
    },
  });

  resource(app, '/os-quota-sets/:project_id/defaults', {
    GET: async (request) => {
      const projectId = projectIdOf(request);
      policy.authorize(request.auth, 'os_compute_api:os-quota-sets:defaults', projectId);
      await verifyProject(request.auth, projectId);
      return { quota_set: quotaView(projectId, await defaultQuotas(db), hiddenInQuotaSets(request.microversion)) };
    },
  });

  resource(app, '/os-quota-sets/:project_id/detail', {
    GET: async (request) => {
      const projectId = projectIdOf(request);
      const query = queryOf(request);
      policy.authorize(request.auth, 'os_compute_api:os-quota-sets:detail', projectId);
      await verifyProject(request.auth, projectId);
      const userId = firstValue(query, 'user_id');
      const limits = userId ? await userQuotas(db, projectId, userId) : await projectQuotas(db, projectId);
      const used = await reportedUsage(db, projectId, userId);
      // Reservations are gone from Nova; the API still shows reserved: 0.
      const detail = Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, { limit: limits[r], in_use: used[r], reserved: 0 }])) as Record<
        QuotaResource,
        { limit: number; in_use: number; reserved: number }
      >;
      return { quota_set: quotaView(projectId, detail, hiddenInQuotaSets(request.microversion)) };
    },
  });

  resource(app, '/os-quota-class-sets/:class_name', {
    GET: async (request) => {
      const className = (request.params as { class_name: string }).class_name;
      policy.authorize(request.auth, 'os_compute_api:os-quota-class-sets:show');
      return { quota_class_set: quotaView(className, await classQuotas(db, className), hiddenInQuotaClasses(request.microversion)) };
    },
    PUT: async (request) => {
      const v = request.microversion;
      const className = (request.params as { class_name: string }).class_name;
      const body = validate<{ quota_class_set: Record<string, unknown> }>(
        v.atLeast('2.57') ? UPDATE_CLASS_V257 : v.atLeast('2.50') ? UPDATE_CLASS_V250 : UPDATE_CLASS_V21,
        request.body,
      );
      policy.authorize(request.auth, 'os_compute_api:os-quota-class-sets:update');
      const length = [...className].length; // Python counts code points
      if (length > 255) throw invalid(`quota_class_name has ${length} characters, more than 255.`);
      await setClassQuotas(db, className, limitsOf(body.quota_class_set));
      return { quota_class_set: quotaView(null, await classQuotas(db, className), hiddenInQuotaClasses(v)) };
    },
  });
}
