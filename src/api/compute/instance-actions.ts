import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { Servers, hostIdOf, type Server } from '../../compute/servers.js';
import { InstanceActions, type ActionQuery, type InstanceAction, type InstanceActionEvent } from '../../compute/instance-actions.js';
import { invalid, notFound } from '../../errors.js';
import { resource } from '../http.js';
import { lastValue, novaDateTime, queryLists, singleParam, validateQuery } from './wire.js';

/** CONF.api.max_limit */
const MAX_LIMIT = 1000;

/** The list's query from 2.58 (limit, marker, changes-since) and 2.66 (changes-before); nothing else is allowed. */
const query258 = {
  type: 'object',
  properties: {
    limit: singleParam({ type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 0, minLength: 1 }),
    marker: singleParam({ type: 'string' }),
    'changes-since': singleParam({ type: 'string', format: 'date-time' }),
  },
  additionalProperties: false,
};
const query266 = { ...query258, properties: { ...query258.properties, 'changes-before': singleParam({ type: 'string', format: 'date-time' }) } };

/** oslo's parse_isotime then normalize_time: a time without a zone is UTC. */
function isoTime(value: string): string {
  const zoned = /[zZ]|[+-]\d\d:?\d\d$/.test(value) || !/[T ]\d/.test(value) ? value : `${value}Z`;
  return new Date(Date.parse(zoned)).toISOString();
}

function actionView(a: InstanceAction, withUpdatedAt: boolean): Record<string, unknown> {
  return {
    action: a.action,
    instance_uuid: a.server_id,
    request_id: a.request_id,
    user_id: a.user_id,
    project_id: a.project_id,
    start_time: novaDateTime(a.start_time),
    message: a.message,
    ...(withUpdatedAt ? { updated_at: novaDateTime(a.updated_at) } : {}),
  };
}

interface EventVisibility {
  traceback: boolean;
  host: boolean;
  hostId: boolean;
  details: boolean;
}

function eventView(e: InstanceActionEvent, projectId: string, show: EventVisibility): Record<string, unknown> {
  const out: Record<string, unknown> = {
    event: e.event,
    start_time: novaDateTime(e.start_time),
    finish_time: novaDateTime(e.finish_time),
    result: e.result,
  };
  if (show.traceback) out.traceback = e.traceback;
  // An event that ran before the server had a host was not on any host.
  if (show.host) out.host = e.host ?? '';
  if (show.hostId) out.hostId = hostIdOf(projectId, e.host);
  if (show.details) out.details = e.details;
  return out;
}

/** GET /servers/{id}/os-instance-actions and /os-instance-actions/{request_id}. */
export function instanceActionRoutes(app: FastifyInstance, services: Services, base: string): void {
  const servers = new Servers(services);
  const actions = new InstanceActions(services);
  const { policy } = services;
  const rule = (name: string) => `os_compute_api:os-instance-actions:${name}`;
  /** From 2.21 the actions of a deleted server stay visible. */
  const serverOf = async (request: FastifyRequest, name: string): Promise<Server> => {
    const { id } = request.params as { id: string };
    const server = await servers.get(request.auth, id, { includeDeleted: request.microversion.atLeast('2.21') });
    policy.authorize(request.auth, rule(name), server.project_id);
    return server;
  };

  resource(app, '/servers/:id/os-instance-actions', {
    GET: async (request) => {
      const mv = request.microversion;
      if (!mv.atLeast('2.58')) {
        const server = await serverOf(request, 'list');
        return { instanceActions: (await actions.list(server.id)).map((a) => actionView(a, false)) };
      }
      const q = validateQuery(mv.atLeast('2.66') ? query266 : query258, queryLists(request));
      const server = await serverOf(request, 'list');
      const since = lastValue(q, 'changes-since');
      const before = lastValue(q, 'changes-before');
      const filter: ActionQuery = {
        changesSince: since === undefined ? undefined : isoTime(since),
        changesBefore: before === undefined ? undefined : isoTime(before),
        marker: lastValue(q, 'marker'),
      };
      if (filter.changesSince && filter.changesBefore && filter.changesBefore < filter.changesSince) {
        throw invalid('The value of changes-since must be less than or equal to changes-before.');
      }
      const asked = lastValue(q, 'limit');
      filter.limit = Math.min(MAX_LIMIT, asked === undefined ? MAX_LIMIT : Number(asked));
      const rows = await actions.list(server.id, filter);
      const body: Record<string, unknown> = { instanceActions: rows.map((a) => actionView(a, true)) };
      // A full page has a next link, as Nova's _get_collection_links gives it.
      if (filter.limit > 0 && rows.length === filter.limit) {
        const params = new URLSearchParams(Object.entries(q).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).flatMap(([k, vs]) => vs.map((v) => [k, v])));
        params.set('marker', rows[rows.length - 1].request_id);
        body.links = [{ rel: 'next', href: `${base}/v2.1/servers/${server.id}/os-instance-actions?${params}` }];
      }
      return body;
    },
  });

  resource(app, '/servers/:id/os-instance-actions/:requestId', {
    GET: async (request) => {
      const { requestId } = request.params as { requestId: string };
      const mv = request.microversion;
      const server = await serverOf(request, 'show');
      const action = await actions.find(server.id, requestId);
      if (!action) throw notFound(`Action ${requestId} not found`);
      const view = actionView(action, mv.atLeast('2.58'));
      // Before 2.51 only those the events rule allows (admins) see events; from 2.51 everyone
      // does, without the traceback. The hashed host id is for all from 2.62, the host itself not.
      const full = policy.check(request.auth, rule('events'), server.project_id);
      if (full || mv.atLeast('2.51')) {
        const show: EventVisibility = {
          traceback: full,
          host: full && mv.atLeast('2.62'),
          hostId: mv.atLeast('2.62'),
          details: mv.atLeast('2.84') && policy.check(request.auth, rule('events:details'), server.project_id),
        };
        const events = await actions.events(action.id);
        view.events = events.map((e) => eventView(e, action.project_id || server.project_id, show));
      }
      return { instanceAction: view };
    },
  });
}
