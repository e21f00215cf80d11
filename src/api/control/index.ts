import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../../services.js';
import { invalid, notFound } from '../../errors.js';
import { LATEST_TIME_MS } from '../../clock.js';
import { isUp } from '../../scheduler/scheduler.js';
import { authenticate, handleErrors, resource } from '../http.js';
import { keystoneErrors } from '../identity/errors.js';
import { keystoneMessage } from '../identity/auth.js';
import { validate } from '../validation.js';
import { viewBehaviour } from '../../compute/behaviours.js';
import { driveQuotas } from '../../storage/quotas.js';
import { setAcpiIgnored, setStorageDown } from './fakes.js';

const behaviourSchema = {
  type: 'object',
  required: ['behaviour'],
  additionalProperties: false,
  properties: {
    behaviour: {
      type: 'object',
      required: ['count'],
      additionalProperties: false,
      properties: {
        match: {
          type: 'object',
          additionalProperties: false,
          properties: { name: { type: 'string', minLength: 1 }, metadata: { type: 'object', additionalProperties: { type: 'string' } } },
        },
        count: { type: 'integer', minimum: 1 },
        fault: {
          type: 'object',
          required: ['message'],
          additionalProperties: false,
          properties: { message: { type: 'string', minLength: 1, maxLength: 255 }, code: { type: 'integer', minimum: 400, maximum: 599 } },
        },
        build_ms: { type: 'integer', minimum: 0, maximum: 3600000 },
        error_after_ms: { type: 'integer', minimum: 0 },
      },
    },
  },
};

interface BehaviourBody {
  behaviour: { match?: { name?: string; metadata?: Record<string, string> }; count: number; fault?: { message: string; code?: number }; build_ms?: number; error_after_ms?: number };
}

const hostSchema = {
  type: 'object',
  required: ['host'],
  additionalProperties: false,
  properties: { host: { type: 'object', required: ['state'], additionalProperties: false, properties: { state: { type: 'string', enum: ['up', 'down'] } } } },
};

const guestSchema = {
  type: 'object',
  required: ['guest'],
  additionalProperties: false,
  properties: { guest: { type: 'object', required: ['acpi'], additionalProperties: false, properties: { acpi: { type: 'string', enum: ['ignore', 'handle'] } } } },
};

const storageSchema = {
  type: 'object',
  required: ['storage'],
  additionalProperties: false,
  properties: { storage: { type: 'object', required: ['state'], additionalProperties: false, properties: { state: { type: 'string', enum: ['up', 'down'] } } } },
};

const limit = { type: 'integer', minimum: -1, maximum: 2 ** 31 - 1 };
const driveQuotaSchema = {
  type: 'object',
  required: ['quota_set'],
  additionalProperties: false,
  properties: { quota_set: { type: 'object', additionalProperties: false, properties: { volumes: limit, gigabytes: limit } } },
};

const advanceSchema = {
  type: 'object',
  required: ['seconds'],
  additionalProperties: false,
  // A century at a time is plenty for any timer; the clock itself stops at year 9999.
  properties: { seconds: { type: 'number', exclusiveMinimum: 0, maximum: 100 * 366 * 86400 } },
};

/**
 * The control API for people testing their tools (admin only): inject build behaviours,
 * take simulated hosts down and up, and move this process's clock forward.
 */
export function controlApi(services: Services): FastifyPluginAsync {
  const clockView = () => ({ clock: { now: services.clock.now().toISOString(), offset_seconds: (services.clock.nowMs() - Date.now()) / 1000 } });
  return async (app) => {
    handleErrors(app, keystoneErrors);
    app.addHook('onRequest', authenticate(services));
    app.addHook('onRequest', async (request) => services.policy.authorize(request.auth, 'nimbus:control'));

    resource(app, '/v1/behaviours', {
      GET: async () => ({ behaviours: (await services.behaviours.list()).map(viewBehaviour) }),
      POST: async (request, reply) => {
        const b = validate<BehaviourBody>(behaviourSchema, request.body ?? null, keystoneMessage).behaviour;
        const row = await services.behaviours.add({
          namePattern: b.match?.name ?? null,
          metadata: b.match?.metadata,
          count: b.count,
          fault: b.fault,
          buildMs: b.build_ms,
          errorAfterMs: b.error_after_ms,
        });
        return reply.code(201).send({ behaviour: viewBehaviour(row) });
      },
    });
    resource(app, '/v1/behaviours/:id', {
      DELETE: async (request, reply) => {
        await services.behaviours.remove((request.params as { id: string }).id);
        return reply.code(204).send();
      },
    });

    const hostView = async () => {
      const now = services.clock.nowMs();
      const rows = await services.db.selectFrom('hosts').selectAll().orderBy('num_id').execute();
      return rows.map((h) => ({ name: h.name, availability_zone: h.availability_zone, state: isUp(h, now) ? 'up' : 'down', enabled: !!h.enabled }));
    };
    resource(app, '/v1/hosts', { GET: async () => ({ hosts: await hostView() }) });
    resource(app, '/v1/hosts/:name', {
      PUT: async (request) => {
        const { name } = request.params as { name: string };
        const { host } = validate<{ host: { state: 'up' | 'down' } }>(hostSchema, request.body ?? null, keystoneMessage);
        if (!services.driver.hosts().some((h) => h.name === name)) throw notFound(`Host ${name} could not be found.`);
        await services.hosts.setDown(name, host.state === 'down');
        return { host: (await hostView()).find((h) => h.name === name) };
      },
    });

    // The fake guest of a server (whether it runs yet or not) ignores ACPI power-button events, or handles them again.
    resource(app, '/v1/guests/:id', {
      PUT: async (request) => {
        const { id } = request.params as { id: string };
        const { guest } = validate<{ guest: { acpi: 'ignore' | 'handle' } }>(guestSchema, request.body ?? null, keystoneMessage);
        if (!(await setAcpiIgnored(services.driver, id, guest.acpi === 'ignore'))) throw notFound('Only the fake driver plays guests.');
        return { guest: { id, acpi: guest.acpi } };
      },
    });

    // A fake storage pool stops answering (its drives at rest are unavailable) or answers again.
    resource(app, '/v1/storage/:name', {
      PUT: async (request) => {
        const { name } = request.params as { name: string };
        const { storage } = validate<{ storage: { state: 'up' | 'down' } }>(storageSchema, request.body ?? null, keystoneMessage);
        if (!(await setStorageDown(services.driver, name, storage.state === 'down'))) throw notFound(`Storage ${name} could not be found.`);
        return { storage: { name, state: storage.state } };
      },
    });

    // A project's drive limits (Cinder's quota_set shape; Nova's os-quota-sets has no volumes).
    resource(app, '/v1/drive-quotas/:project', {
      GET: async (request) => {
        const { project } = request.params as { project: string };
        return { quota_set: { id: project, ...(await driveQuotas(services.db, project)) } };
      },
      PUT: async (request) => {
        const { project } = request.params as { project: string };
        const { quota_set } = validate<{ quota_set: Partial<Record<'volumes' | 'gigabytes', number>> }>(driveQuotaSchema, request.body ?? null, keystoneMessage);
        if (!(await services.db.selectFrom('projects').select('id').where('id', '=', project).executeTakeFirst())) throw notFound(`Project ${project} could not be found.`);
        for (const [resource, hard_limit] of Object.entries(quota_set)) {
          await services.db
            .insertInto('quotas')
            .values({ project_id: project, resource, hard_limit })
            .onConflict((oc) => oc.columns(['project_id', 'resource']).doUpdateSet({ hard_limit }))
            .execute();
        }
        return { quota_set: { id: project, ...(await driveQuotas(services.db, project)) } };
      },
    });

    resource(app, '/v1/clock', { GET: async () => clockView() });
    resource(app, '/v1/clock/advance', {
      POST: async (request) => {
        const { seconds } = validate<{ seconds: number }>(advanceSchema, request.body ?? null, keystoneMessage);
        if (services.clock.nowMs() + seconds * 1000 > LATEST_TIME_MS) {
          throw invalid(`Invalid input for field 'seconds': the clock cannot move past ${new Date(LATEST_TIME_MS).toISOString()}`);
        }
        services.clock.advance(seconds * 1000);
        return clockView();
      },
    });
  };
}
