import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { invalid, notFound } from '../../errors.js';
import { HostServices, type ComputeServiceChanges, type ServiceRecord } from '../../compute/host-services.js';
import { resource } from '../http.js';
import { validate } from '../validation.js';
import type { Microversion } from './microversion.js';
import {
  BOOLEAN_SCHEMA, FQDN_SCHEMA, boolFromString, canonicalUuid, isUuidLike, lastValue, multiParams, novaDateTime, queryLists,
  validateInteger, validateQuery,
} from './wire.js';

// nova/api/openstack/compute/schemas/services.py
const REASON = { type: 'string', minLength: 1, maxLength: 255 };
const serviceUpdate = {
  type: 'object',
  properties: { host: FQDN_SCHEMA, binary: { type: 'string', minLength: 1, maxLength: 255 }, disabled_reason: REASON },
  required: ['host', 'binary'],
  additionalProperties: false,
};
const serviceUpdateV211 = { ...serviceUpdate, properties: { ...serviceUpdate.properties, forced_down: BOOLEAN_SCHEMA } };
const serviceUpdateV253 = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['enabled', 'disabled'] }, disabled_reason: REASON, forced_down: BOOLEAN_SCHEMA },
  additionalProperties: false,
};
const indexQuery = { type: 'object', properties: { host: multiParams({ type: 'string' }), binary: multiParams({ type: 'string' }) }, additionalProperties: true };
const indexQueryV275 = { ...indexQuery, additionalProperties: false };

/** The binary Nova names each kind of service by. */
export const binaryOf = (s: ServiceRecord) => `nova-${s.kind}`;

/** nova.api.openstack.compute.services._get_service_detail */
function serviceView(s: ServiceRecord, mv: Microversion, withForcedDown: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    binary: binaryOf(s),
    host: s.host,
    id: mv.atLeast('2.53') ? s.uuid : s.id,
    zone: s.zone,
    status: s.disabled ? 'disabled' : 'enabled',
    state: s.up ? 'up' : 'down',
    updated_at: novaDateTime(s.updatedAt),
    disabled_reason: s.disabledReason,
  };
  if (withForcedDown) out.forced_down = s.forcedDown;
  return out;
}

interface LegacyBody {
  host: string;
  binary: string;
  disabled_reason?: string;
  forced_down?: boolean | string;
}

export function serviceRoutes(app: FastifyInstance, services: Services): void {
  const records = new HostServices(services.db, services.clock);
  const authorize = (request: FastifyRequest, action: string) => services.policy.authorize(request.auth, `os_compute_api:os-services:${action}`);

  /** Only compute services can be enabled, disabled or forced down. */
  const updateCompute = (binary: string, host: string, changes: ComputeServiceChanges) => {
    if (binary !== 'nova-compute') throw invalid(`Updating a ${binary} service is not supported. Only nova-compute services can be updated.`);
    return records.updateCompute(host, changes);
  };

  /** Before 2.53 the action is in the path and the service is named by host and binary in the body. */
  const legacyActions: Record<string, (b: LegacyBody) => Promise<unknown>> = {
    enable: async (b) => {
      await updateCompute(b.binary, b.host, { disabled: false });
      return { service: { host: b.host, binary: b.binary, status: 'enabled' } };
    },
    disable: async (b) => {
      await updateCompute(b.binary, b.host, { disabled: true, disabledReason: null });
      return { service: { host: b.host, binary: b.binary, status: 'disabled' } };
    },
    'disable-log-reason': async (b) => {
      if (b.disabled_reason === undefined) throw invalid('Missing disabled reason field');
      await updateCompute(b.binary, b.host, { disabled: true, disabledReason: b.disabled_reason });
      return { service: { host: b.host, binary: b.binary, status: 'disabled', disabled_reason: b.disabled_reason } };
    },
    'force-down': async (b) => {
      if (b.forced_down === undefined) throw invalid('Missing forced_down field');
      const forcedDown = boolFromString(b.forced_down);
      await updateCompute(b.binary, b.host, { forcedDown });
      return { service: { host: b.host, binary: b.binary, forced_down: forcedDown } };
    },
  };

  resource(app, '/os-services', {
    GET: async (request) => {
      const mv = request.microversion;
      const q = validateQuery(mv.atLeast('2.75') ? indexQueryV275 : indexQuery, queryLists(request));
      authorize(request, 'list');
      const host = lastValue(q, 'host');
      const binary = lastValue(q, 'binary');
      const list = (await records.list()).filter((s) => (!host || s.host === host) && (!binary || binaryOf(s) === binary));
      return { services: list.map((s) => serviceView(s, mv, mv.atLeast('2.11'))) };
    },
  });

  resource(app, '/os-services/:id', {
    PUT: async (request) => {
      const { id } = request.params as { id: string };
      const mv = request.microversion;
      if (!mv.atLeast('2.53')) {
        const body = validate<LegacyBody>(mv.atLeast('2.11') ? serviceUpdateV211 : serviceUpdate, request.body);
        authorize(request, 'update');
        const action = Object.hasOwn(legacyActions, id) && (id !== 'force-down' || mv.atLeast('2.11')) ? legacyActions[id] : undefined;
        if (!action) throw notFound('Unknown action');
        return action(body);
      }

      const body = validate<{ status?: 'enabled' | 'disabled'; disabled_reason?: string; forced_down?: boolean | string }>(serviceUpdateV253, request.body);
      if (!isUuidLike(id)) throw invalid(`Invalid uuid ${id}`);
      authorize(request, 'update');
      const service = await records.find(canonicalUuid(id));
      if (!service) throw notFound(`Service ${id} could not be found.`);
      if (service.kind !== 'compute') throw invalid(`Updating a ${binaryOf(service)} service is not supported. Only nova-compute services can be updated.`);
      const changes: ComputeServiceChanges = {};
      if (body.status === 'enabled') {
        if (body.disabled_reason) throw invalid("Specifying 'disabled_reason' with status 'enabled' is invalid.");
        changes.disabled = false;
      } else if (body.status === 'disabled') {
        changes.disabled = true;
        changes.disabledReason = body.disabled_reason ?? null;
      }
      if (body.forced_down !== undefined) changes.forcedDown = boolFromString(body.forced_down);
      if (Object.keys(changes).length === 0) throw invalid("No updates were requested. Fields 'status' or 'forced_down' should be specified.");
      return { service: serviceView(await updateCompute(binaryOf(service), service.host, changes), mv, true) };
    },
    DELETE: async (request, reply) => {
      const { id } = request.params as { id: string };
      authorize(request, 'delete');
      let key: number | string;
      if (request.microversion.atLeast('2.53')) {
        if (!isUuidLike(id)) throw invalid(`Invalid uuid ${id}`);
        key = canonicalUuid(id);
      } else {
        key = validateInteger(id, 'id');
      }
      const service = await records.find(key);
      if (!service) throw notFound(`Service ${id} not found.`);
      await records.delete(service);
      return reply.code(204).send();
    },
  });
}
