import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';
import { resource } from '../http.js';
import { validate } from '../validation.js';
import { notFound } from '../../errors.js';

const EVENT_NAMES = ['network-changed', 'network-vif-plugged', 'network-vif-unplugged', 'network-vif-deleted', 'volume-extended', 'power-update', 'accelerator-request-bound', 'volume-reimaged'];

const body = {
  type: 'object',
  properties: {
    events: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: {
          server_uuid: { type: 'string', format: 'uuid' },
          name: { type: 'string', enum: EVENT_NAMES },
          status: { type: 'string', enum: ['failed', 'completed', 'in-progress'] },
          tag: { type: 'string', maxLength: 255 },
        },
        required: ['server_uuid', 'name'],
        additionalProperties: false,
      },
    },
  },
  required: ['events'],
  additionalProperties: false,
};

interface Event { server_uuid: string; name: string; status?: string; tag?: string }

/**
 * POST /os-server-external-events: how Neutron and Cinder tell Nova that something changed
 * for a server (admin only). Nimbus has no external service waiting on them, so each event
 * is acknowledged: 200 for a server that has a host, 422 for one not yet placed, 404 for an
 * unknown one; 207 when some but not all succeed, 404 when none names a server.
 */
export function serverExternalEventRoutes(app: FastifyInstance, services: Services): void {
  resource(app, '/os-server-external-events', {
    POST: async (request, reply) => {
      services.policy.authorize(request.auth, 'os_compute_api:os-server-external-events:create');
      const { events } = validate<{ events: Event[] }>(body, request.body ?? null);
      const ids = [...new Set(events.map((e) => e.server_uuid))];
      const rows = await services.db.selectFrom('servers').select(['id', 'host']).where('id', 'in', ids).where('deleted', '=', 0).execute();
      const hosts = new Map(rows.map((r) => [r.id, r.host]));
      const out = events.map((e) => {
        const code = !hosts.has(e.server_uuid) ? 404 : hosts.get(e.server_uuid) ? 200 : 422;
        return { server_uuid: e.server_uuid, name: e.name, status: code === 200 ? (e.status ?? 'completed') : 'failed', ...(e.tag !== undefined ? { tag: e.tag } : {}), code };
      });
      if (out.every((e) => e.code === 404)) throw notFound('No instances found for any event');
      return reply.code(out.every((e) => e.code === 200) ? 200 : 207).send({ events: out });
    },
  });
}
