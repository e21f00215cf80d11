import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { invalid, notFound } from '../../errors.js';
import { MAX_INT, MIN_INT } from '../../db/schema.js';
import { Aggregates, configuredZone, type Aggregate } from '../../compute/aggregates.js';
import { resource } from '../http.js';
import { novaMessage, pyRepr, validate } from '../validation.js';
import type { Microversion } from './microversion.js';
import { FQDN_SCHEMA, checkName, checkNameWithSpaces, checkZoneName, novaDateTime, onlyVersions, validateInteger } from './wire.js';

// nova/api/openstack/compute/schemas/aggregates.py; the name formats are checked after the schema.
const NAME = { type: 'string', minLength: 1, maxLength: 255 };
const ZONE = { oneOf: [NAME, { type: 'null' }] };
const createSchema = {
  type: 'object',
  properties: {
    aggregate: { type: 'object', properties: { name: NAME, availability_zone: ZONE }, required: ['name'], additionalProperties: false },
  },
  required: ['aggregate'],
  additionalProperties: false,
};
const updateSchema = {
  type: 'object',
  properties: {
    aggregate: {
      type: 'object',
      properties: { name: NAME, availability_zone: ZONE },
      additionalProperties: false,
      // and anyOf name / availability_zone, checked in the route for Nova's message
    },
  },
  required: ['aggregate'],
  additionalProperties: false,
};
const hostAction = (action: string) => ({
  type: 'object',
  properties: { [action]: { type: 'object', properties: { host: FQDN_SCHEMA }, required: ['host'], additionalProperties: false } },
  required: [action],
  additionalProperties: false,
});
const setMetadataSchema = {
  type: 'object',
  properties: {
    set_metadata: {
      type: 'object',
      properties: {
        metadata: {
          type: 'object',
          patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: ['string', 'null'], maxLength: 255 } },
          additionalProperties: false,
        },
      },
      required: ['metadata'],
      additionalProperties: false,
    },
  },
  required: ['set_metadata'],
  additionalProperties: false,
};
const IMAGE_ID = { type: 'string', format: 'uuid' };
const imagesSchema = {
  type: 'object',
  properties: {
    cache: { type: ['array'], minItems: 1, items: { type: 'object', properties: { id: IMAGE_ID }, additionalProperties: false, required: ['id'] } },
  },
  required: ['cache'],
  additionalProperties: false,
};

/** nova.api.openstack.compute.aggregates._marshall_aggregate; create leaves out hosts and metadata. */
function aggregateView(a: Aggregate, mv: Microversion, created = false): Record<string, unknown> {
  const out: Record<string, unknown> = {
    availability_zone: a.availabilityZone,
    created_at: novaDateTime(a.createdAt),
    deleted: false,
    deleted_at: null,
    id: a.id,
    name: a.name,
    updated_at: novaDateTime(a.updatedAt),
  };
  if (!created) {
    out.hosts = a.hosts;
    out.metadata = a.metadata;
  }
  if (mv.atLeast('2.41')) out.uuid = a.uuid;
  return out;
}

/** Nova's action_peek: the body is an object with exactly one key, the action's name. */
function actionName(body: unknown): string {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || Object.keys(body).length !== 1) throw invalid('Malformed request body');
  return Object.keys(body)[0];
}

export function aggregateRoutes(app: FastifyInstance, services: Services): void {
  // A host outside every zone aggregate is in the zone its driver configured, 'nova' by default.
  const aggregates = new Aggregates(services.db, services.clock, configuredZone(services.driver));
  const authorize = (request: FastifyRequest, action: string) => services.policy.authorize(request.auth, `os_compute_api:os-aggregates:${action}`);
  const idOf = (request: FastifyRequest) => {
    const id = validateInteger((request.params as { id: string }).id, 'id');
    // Beyond an integer column no aggregate can exist (Nova on MySQL finds none either).
    if (id < MIN_INT || id > MAX_INT) throw notFound(`Aggregate ${id} could not be found.`);
    return id;
  };

  resource(app, '/os-aggregates', {
    GET: async (request) => {
      authorize(request, 'index');
      return { aggregates: (await aggregates.list()).map((a) => aggregateView(a, request.microversion)) };
    },
    POST: async (request) => {
      const { aggregate } = validate<{ aggregate: { name: string; availability_zone?: string | null } }>(createSchema, request.body, novaMessage, ({ aggregate: a }) => {
        checkName(a.name);
        if (typeof a.availability_zone === 'string') checkZoneName(a.availability_zone);
      });
      authorize(request, 'create');
      const zone = aggregate.availability_zone ? aggregate.availability_zone.trim() : null;
      const created = await aggregates.create(aggregate.name.trim(), zone || null);
      return { aggregate: aggregateView(created, request.microversion, true) };
    },
  });

  resource(app, '/os-aggregates/:id', {
    GET: async (request) => {
      authorize(request, 'show');
      return { aggregate: aggregateView(await aggregates.get(idOf(request)), request.microversion) };
    },
    PUT: async (request) => {
      const { aggregate } = validate<{ aggregate: { name?: string; availability_zone?: string | null } }>(updateSchema, request.body, novaMessage, ({ aggregate: a }) => {
        if (!('name' in a) && !('availability_zone' in a)) {
          throw invalid(`Invalid input for field/attribute aggregate. Value: ${pyRepr(a)}. ${pyRepr(a)} is not valid under any of the given schemas`);
        }
        if (a.name !== undefined) checkNameWithSpaces(a.name);
        if (typeof a.availability_zone === 'string') checkZoneName(a.availability_zone);
      });
      authorize(request, 'update');
      const id = idOf(request);
      const updated = await aggregates.update(id, {
        name: aggregate.name?.trim(),
        availabilityZone: aggregate.availability_zone,
      });
      return { aggregate: aggregateView(updated, request.microversion) };
    },
    DELETE: async (request, reply) => {
      authorize(request, 'delete');
      await aggregates.delete(idOf(request));
      // Nova answers 200 with an empty body.
      return reply.code(200).send();
    },
  });

  resource(app, '/os-aggregates/:id/action', {
    POST: async (request) => {
      const action = actionName(request.body);
      const mv = request.microversion;
      if (action === 'add_host' || action === 'remove_host') {
        const body = validate<Record<string, { host: string }>>(hostAction(action), request.body);
        authorize(request, action);
        const id = idOf(request);
        const host = body[action].host;
        const agg = action === 'add_host' ? await aggregates.addHost(id, host) : await aggregates.removeHost(id, host);
        return { aggregate: aggregateView(agg, mv) };
      }
      if (action === 'set_metadata') {
        const body = validate<{ set_metadata: { metadata: Record<string, string | null> } }>(setMetadataSchema, request.body);
        authorize(request, 'set_metadata');
        const agg = await aggregates.setMetadata(idOf(request), body.set_metadata.metadata);
        return { aggregate: aggregateView(agg, mv) };
      }
      throw invalid(`There is no such action: ${action}`);
    },
  });

  resource(app, '/os-aggregates/:id/images', {
    POST: async (request, reply) => {
      onlyVersions(request, '2.81', null);
      const body = validate<{ cache: { id: string }[] }>(imagesSchema, request.body);
      services.policy.authorize(request.auth, 'compute:aggregates:images');
      const id = idOf(request);
      const ids = body.cache.map((c) => c.id);
      if (new Set(ids).size !== ids.length) throw invalid('Duplicate images in request');
      await aggregates.get(id);
      // Images are cached on a simulated host at once; there is nothing to wait for.
      return reply.code(202).send();
    },
  });
}
