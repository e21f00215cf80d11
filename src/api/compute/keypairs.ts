import type { FastifyInstance, FastifyRequest } from 'fastify';
import { queryLists } from '../query.js';
import type { Services } from '../../services.js';
import { invalid } from '../../errors.js';
import type { AuthContext } from '../../identity/tokens.js';
import type { KeypairType } from '../../compute/keypair-crypto.js';
import { createKeypair, deleteKeypair, getKeypair, listKeypairs, type Keypair } from '../../compute/keypairs.js';
import { resource } from '../http.js';
import { novaMessage, validate } from '../validation.js';
import { checkName as checkNovaName } from './wire.js';
import { firstValue, lastValue, multiParams, nonNegativeInteger, querySchema, validateQuery } from './query.js';

/** Nova's api.max_limit: the longest page a list returns. */
const MAX_LIMIT = 1000;

// Request schemas, each microversion extending the one before.
const keypairV21 = {
  type: 'object',
  properties: {
    // The 'name' and keypair-name formats are checked after the schema (checkName), with Nova's words.
    name: { type: 'string', minLength: 1, maxLength: 255 },
    public_key: { type: 'string' },
  },
  required: ['name'],
  additionalProperties: false,
};
const keypairV22 = { ...keypairV21, properties: { ...keypairV21.properties, type: { type: 'string', enum: ['ssh', 'x509'] } } };
// Nova's schema puts no bound on user_id; its column (and ours) holds 255 characters.
const keypairV210 = { ...keypairV22, properties: { ...keypairV22.properties, user_id: { type: 'string', maxLength: 255 } } };
/** 2.92 stops generating keys: a public key is required. */
const keypairV292 = { ...keypairV210, required: ['name', 'public_key'] };

const createBody = (keypair: object) => ({ type: 'object', properties: { keypair }, required: ['keypair'], additionalProperties: false });
const CREATE_V21 = createBody(keypairV21);
const CREATE_V22 = createBody(keypairV22);
const CREATE_V210 = createBody(keypairV210);
const CREATE_V292 = createBody(keypairV292);

interface CreateBody {
  keypair: { name: string; public_key?: string; type?: KeypairType; user_id?: string };
}

const USER_ID = { user_id: multiParams({ type: 'string' }) };
const PAGE = { limit: multiParams(nonNegativeInteger), marker: multiParams({ type: 'string' }) };
const QUERY_ANY = querySchema({}, false);
const QUERY_USER_V210 = querySchema(USER_ID, false);
const QUERY_USER_V275 = querySchema(USER_ID, true);
const INDEX_V235 = querySchema({ ...USER_ID, ...PAGE }, false);
const INDEX_V275 = querySchema({ ...USER_ID, ...PAGE }, true);

const SAFE_CHARS = '_- 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const SAFE_CHARS_V292 = '@._- 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Nova's 'name' format (printable, no leading or trailing space) and then its keypair-name characters. */
function checkName(name: string, safeChars: string): void {
  checkNovaName(name);
  if ([...name].some((c) => !safeChars.includes(c))) {
    throw invalid(`An invalid 'name' value was provided. The name must be: Only expected characters: [${safeChars}]`);
  }
}

/** Nova renders these datetimes with microseconds and no zone. */
const novaTime = (iso: string | null) => (iso ? iso.replace(/Z$/, '').replace(/\.(\d{3})$/, '.$1000') : null);

function showView(k: Keypair, withType: boolean) {
  return {
    name: k.name,
    public_key: k.public_key,
    fingerprint: k.fingerprint,
    user_id: k.user_id,
    created_at: novaTime(k.created_at),
    deleted: false,
    deleted_at: null,
    id: Number(k.id),
    updated_at: novaTime(k.updated_at),
    ...(withType ? { type: k.type } : {}),
  };
}

function indexView(k: Keypair, withType: boolean) {
  return { name: k.name, public_key: k.public_key, fingerprint: k.fingerprint, ...(withType ? { type: k.type } : {}) };
}

/** Nova's rule is "admin or the keypair's owner": the owner always may; the policy says who else. */
function authorizeFor(services: Services, ctx: AuthContext, action: string, userId: string): void {
  if (userId !== ctx.userId) services.policy.authorize(ctx, `os_compute_api:os-keypairs:${action}`);
}

/** The query of show and delete: user_id (for admins) from 2.10, nothing else from 2.75. */
function ownerQuery(request: FastifyRequest) {
  const v = request.microversion;
  return validateQuery(v.atLeast('2.75') ? QUERY_USER_V275 : v.atLeast('2.10') ? QUERY_USER_V210 : QUERY_ANY, queryLists(request));
}

function targetUser(request: FastifyRequest, query: Record<string, string[]>): string {
  return (request.microversion.atLeast('2.10') ? firstValue(query, 'user_id') : undefined) || request.auth.userId;
}

/** The next-page link: the request's parameters in name order, with the marker set to the last name. */
function nextLink(base: string, request: FastifyRequest, lastName: string): string {
  const params = new Map<string, string>();
  for (const [k, v] of Object.entries(queryLists(request)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) params.set(k, v[v.length - 1]);
  params.set('marker', lastName);
  return `${base}/v2.1/os-keypairs?${new URLSearchParams([...params]).toString()}`;
}

export function keypairRoutes(app: FastifyInstance, services: Services, base: string): void {
  resource(app, '/os-keypairs', {
    GET: async (request) => {
      const v = request.microversion;
      const query = validateQuery(v.atLeast('2.75') ? INDEX_V275 : v.atLeast('2.35') ? INDEX_V235 : v.atLeast('2.10') ? QUERY_USER_V210 : QUERY_ANY, queryLists(request));
      const userId = targetUser(request, query);
      authorizeFor(services, request.auth, 'index', userId);
      const paged = v.atLeast('2.35');
      const asked = paged ? lastValue(query, 'limit') : undefined;
      const limit = paged ? Math.min(MAX_LIMIT, asked === undefined ? MAX_LIMIT : Number(asked)) : undefined;
      const marker = paged ? lastValue(query, 'marker') : undefined;
      const keypairs = await listKeypairs(services.db, userId, { limit, marker });
      const withType = v.atLeast('2.2');
      const body: Record<string, unknown> = { keypairs: keypairs.map((k) => ({ keypair: indexView(k, withType) })) };
      if (paged && limit && keypairs.length === limit) {
        body.keypairs_links = [{ rel: 'next', href: nextLink(base, request, keypairs[keypairs.length - 1].name) }];
      }
      return body;
    },
    POST: async (request, reply) => {
      const v = request.microversion;
      const schema = v.atLeast('2.92') ? CREATE_V292 : v.atLeast('2.10') ? CREATE_V210 : v.atLeast('2.2') ? CREATE_V22 : CREATE_V21;
      const { keypair: params } = validate<CreateBody>(schema, request.body, novaMessage, (b) => checkName(b.keypair.name, v.atLeast('2.92') ? SAFE_CHARS_V292 : SAFE_CHARS));
      const userId = params.user_id || request.auth.userId;
      authorizeFor(services, request.auth, 'create', userId);
      const { keypair, privateKey } = await createKeypair(services.db, services.clock.now(), {
        userId,
        projectId: request.auth.projectId ?? '',
        name: params.name,
        type: params.type ?? 'ssh',
        publicKey: params.public_key,
      });
      reply.code(v.atLeast('2.2') ? 201 : 200);
      return {
        keypair: {
          ...(privateKey !== undefined ? { private_key: privateKey } : {}),
          ...(v.atLeast('2.2') ? { type: keypair.type } : {}),
          name: keypair.name,
          public_key: keypair.public_key,
          fingerprint: keypair.fingerprint,
          user_id: keypair.user_id,
        },
      };
    },
  });

  resource(app, '/os-keypairs/:name', {
    GET: async (request) => {
      const userId = targetUser(request, ownerQuery(request));
      authorizeFor(services, request.auth, 'show', userId);
      const keypair = await getKeypair(services.db, userId, (request.params as { name: string }).name);
      return { keypair: showView(keypair, request.microversion.atLeast('2.2')) };
    },
    DELETE: async (request, reply) => {
      const userId = targetUser(request, ownerQuery(request));
      authorizeFor(services, request.auth, 'delete', userId);
      await deleteKeypair(services.db, userId, (request.params as { name: string }).name);
      return reply.code(request.microversion.atLeast('2.2') ? 204 : 202).send();
    },
  });
}
