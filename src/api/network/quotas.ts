import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { NetworkingError, badAttribute, badRequest, invalidInput } from '../../network/errors.js';
import {
  NETWORK_QUOTA_RESOURCES,
  allNetworkQuotas,
  isNetworkQuotaResource,
  networkQuotas,
  networkUsage,
  resetNetworkQuotas,
  setNetworkQuotas,
  type NetworkQuotas,
  NETWORK_QUOTA_DEFAULTS,
} from '../../network/quotas.js';
import { pyRepr } from '../validation.js';
import { MAX_ID_LENGTH } from '../../identity/directory.js';
import { resource } from '../http.js';
import { authorize, collection } from './access.js';

/** Neutron's DB_INTEGER_MAX_VALUE: the largest limit a quota column holds. */
const MAX_LIMIT = 2 ** 31 - 1;

const str = (v: unknown) => (typeof v === 'string' ? v : pyRepr(v));

/** Python's truthiness, as Neutron reads `force` and `check_limit`. */
const truthy = (v: unknown) => !(v === undefined || v === null || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0));

/** neutron-lib's convert_to_int: Python's int() of the value. */
function toInt(v: unknown): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string' && /^\s*[+-]?\d+(_\d+)*\s*$/.test(v)) return Number(v.replace(/_/g, ''));
  throw invalidInput(`'${str(v)}' is not an integer`);
}

/** A PUT body's limits, checked as Neutron's quota attributes are (convert_to_int, range -1 … 2^31-1). */
function limitsOf(body: unknown): { limits: Partial<NetworkQuotas>; checkLimit: boolean } {
  if (body === undefined || body === null || (typeof body === 'object' && Object.keys(body).length === 0)) throw badRequest('Resource body required');
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('Body contains invalid data');
  if (!('quota' in body)) throw badRequest(`Unable to find 'quota' in request body`);
  const quota = (body as { quota: unknown }).quota;
  if (quota === null || typeof quota !== 'object' || Array.isArray(quota)) throw badRequest(`Object 'quota' contains invalid data`);
  const { force: _force, check_limit: checkLimit, ...asked } = quota as Record<string, unknown>;
  const unknown = Object.keys(asked).filter((k) => !isNetworkQuotaResource(k));
  if (unknown.length) throw badRequest(`Unrecognized attribute(s) '${unknown.join(', ')}'`);
  const limits: Partial<NetworkQuotas> = {};
  for (const [name, value] of Object.entries(asked)) {
    const n = toInt(value);
    if (n < -1) throw badAttribute(name, `'${n}' is too small - must be at least '-1'`);
    if (n > MAX_LIMIT) throw badAttribute(name, `'${n}' is too large - must be no larger than '${MAX_LIMIT}'`);
    limits[name as keyof NetworkQuotas] = n;
  }
  return { limits, checkLimit: truthy(checkLimit) };
}

/**
 * Neutron's quotas extension (quotasv2) and quota_details: list, show, details with
 * used/limit/reserved, defaults, update, delete. A project reads its own quotas freely;
 * another project's, the list and any change answer to get_quota / update_quota /
 * delete_quota (admin).
 */
export function quotaRoutes(app: FastifyInstance, services: Services): void {
  const { db } = services;
  const byId = (request: FastifyRequest) => (request.params as { id: string }).id;
  /** Neutron checks get_quota only when the project asked about is not the caller's. */
  const mayRead = (request: FastifyRequest, projectId: string) => {
    if (projectId !== request.auth.projectId) authorize(services, request.auth, 'get_quota');
  };
  const callerProject = (request: FastifyRequest) => {
    if (!request.auth.projectId) throw new NetworkingError('invalid', 'Tenant-id was missing from quota request.', 'QuotaMissingTenant');
    return request.auth.projectId;
  };

  collection(app, '/quotas', {
    GET: async (request) => {
      authorize(services, request.auth, 'get_quota');
      return { quotas: (await allNetworkQuotas(db)).map((q) => ({ ...q, tenant_id: q.project_id })) };
    },
    POST: async () => {
      throw new NetworkingError('not_implemented', 'POST requests are not supported on this resource.', 'HTTPNotImplemented');
    },
  });
  resource(app, '/quotas/tenant', { GET: async (request) => ({ tenant: { tenant_id: callerProject(request) } }) });
  resource(app, '/quotas/project', { GET: async (request) => ({ project: { project_id: callerProject(request) } }) });

  resource(app, '/quotas/:id', {
    GET: async (request) => {
      mayRead(request, byId(request));
      return { quota: await networkQuotas(db, byId(request)) };
    },
    PUT: async (request) => {
      authorize(services, request.auth, 'update_quota');
      const projectId = byId(request);
      // Limits are kept per project id: one longer than Keystone's ids names no project.
      if (projectId.length > MAX_ID_LENGTH) throw badAttribute('project_id', `'${projectId}' exceeds maximum length of ${MAX_ID_LENGTH}`);
      const { limits, checkLimit } = limitsOf(request.body);
      await services.network.transaction(async (tx) => {
        if (checkLimit) {
          const used = await networkUsage(tx, projectId);
          for (const [name, limit] of Object.entries(limits) as [keyof NetworkQuotas, number][]) {
            if (limit >= 0 && used[name] > limit) {
              throw badRequest(`Quota limit ${limit} for ${name} must be greater than or equal to already used ${used[name]}`);
            }
          }
        }
        await setNetworkQuotas(tx, projectId, limits);
      });
      return { quota: await networkQuotas(db, projectId) };
    },
    DELETE: async (request: FastifyRequest, reply: FastifyReply) => {
      authorize(services, request.auth, 'delete_quota');
      await services.network.transaction((tx) => resetNetworkQuotas(tx, byId(request)));
      return reply.code(204).send();
    },
  });

  resource(app, '/quotas/:id/default', {
    GET: async (request) => {
      mayRead(request, byId(request));
      return { quota: { ...NETWORK_QUOTA_DEFAULTS } };
    },
  });

  resource(app, '/quotas/:id/details', {
    GET: async (request) => {
      const projectId = byId(request);
      mayRead(request, projectId);
      const [limits, used] = await Promise.all([networkQuotas(db, projectId), networkUsage(db, projectId)]);
      // Nothing is ever held in reservation between a check and its write: they are one transaction.
      return { quota: Object.fromEntries(NETWORK_QUOTA_RESOURCES.map((r) => [r, { limit: limits[r], used: used[r], reserved: 0 }])) };
    },
  });
}

