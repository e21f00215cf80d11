/**
 * /servers/: list, detail, schema, create (one or many, all or nothing), show, edit,
 * delete; the actions are in server-actions.ts. Every operation is the core's
 * (src/compute/servers.ts); this file reads CloudSigma's bodies and renders its views.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { Servers, parseJson, type ServerFlavor } from '../../compute/servers.js';
import { notFound } from '../../errors.js';
import { isUp } from '../../scheduler/scheduler.js';
import { created, listOf, objectsOf, objectAt, param, route } from './http.js';
import { serverLimits } from './capabilities.js';
import { parseDefinition } from './server-definition.js';
import { MIB, VIEW_COLUMNS, definitionOf, serverDetail, summaryOf, type Row, type ViewContext } from './server-view.js';
import { SERVER_SCHEMA } from './schemas/server.js';
import { tagNames, tagRef } from './tags.js';
import { invalid } from '../../errors.js';

/** Reads servers of the caller's project and what their views need. */
export class ServerRows {
  constructor(private readonly s: Services) {}

  /** The caller's live servers (their project's, admins included: a CloudSigma account sees its own), oldest first. */
  async list(projectId: string, ids?: string[]): Promise<Row[]> {
    let q = this.s.db.selectFrom('servers').select(VIEW_COLUMNS).where('project_id', '=', projectId).where('deleted', '=', 0);
    if (ids) q = q.where('id', 'in', ids.length ? ids : ['']);
    return (await q.orderBy('created_at').orderBy('id').execute()) as Row[];
  }

  /** One of the caller's servers, or 404 notexist. */
  async one(projectId: string, id: string): Promise<Row> {
    const [row] = /^[0-9a-f-]{36}$/i.test(id) ? await this.list(projectId, [id]) : [];
    if (!row) throw notFound(`Server ${id} does not exist`);
    return row;
  }

  async context(projectId: string, rows: Row[]): Promise<ViewContext> {
    const now = this.s.clock.nowMs();
    const hosts = await this.s.db.selectFrom('hosts').select(['name', 'last_seen_at', 'forced_down']).execute();
    const downHosts = new Set(hosts.filter((h) => !isUp(h, now)).map((h) => h.name));
    const tags = new Map<string, unknown[]>();
    for (const [id, names] of await new Servers(this.s).tags(rows.map((r) => r.id))) tags.set(id, names.map((n) => tagRef(projectId, n)));
    return { downHosts, tags };
  }

  async details(projectId: string, rows: Row[]) {
    const v = await this.context(projectId, rows);
    return rows.map((r) => serverDetail(r, v));
  }
}

/** The size a server has now, as CloudSigma counts it. */
export function sizeOf(row: Pick<Row, 'flavor' | 'cloudsigma'>) {
  const flavor = parseJson<ServerFlavor>(row.flavor, {} as ServerFlavor);
  return { cpu: definitionOf(row).cpu, smp: flavor.vcpus, mem: flavor.ram * MIB };
}

export function serverRoutes(api: FastifyInstance, services: Services): void {
  const servers = new Servers(services);
  const rows = new ServerRows(services);
  const project = (request: FastifyRequest) => request.auth.projectId!;
  const authorize = (request: FastifyRequest, action: string) => services.policy.authorize(request.auth, `os_compute_api:servers:${action}`);

  route(api, '/servers/', {
    GET: async (request) => {
      authorize(request, 'index');
      const all = await rows.list(project(request));
      const v = await rows.context(project(request), all);
      // Filtered on the full views (a tag filter needs the tags), shown short.
      const page = listOf(request, all.map((r) => serverDetail(r, v)));
      return { meta: page.meta, objects: page.objects.map(summaryOf) };
    },
    POST: async (request, reply) => {
      authorize(request, 'create');
      const limits = serverLimits(services);
      const parsed = objectsOf(request.body).map((o) => parseDefinition(o, limits));
      const defs = await Promise.all(
        parsed.map(async (p) => ({ name: p.name!, flavor: p.flavor!, metadata: p.metadata ?? {}, tags: await tagNames(services.db, project(request), p.tags ?? []), extension: { ...p.definition } as Record<string, unknown> })),
      );
      const made = await servers.define(request.auth, defs, request.id);
      const answer = await rows.details(project(request), await rows.list(project(request), made.map((s) => s.id)));
      // In the order asked for.
      const order = new Map(made.map((s, i) => [s.id, i]));
      answer.sort((a, b) => order.get(a.uuid as string)! - order.get(b.uuid as string)!);
      return created(reply, answer as { resource_uri: string }[], services.config.publicUrl);
    },
  });

  route(api, '/servers/detail/', {
    GET: async (request) => {
      authorize(request, 'detail');
      const all = await rows.list(project(request));
      return listOf(request, await rows.details(project(request), all));
    },
  });

  route(api, '/servers/schema/', { GET: async () => SERVER_SCHEMA });

  route(api, '/servers/:uuid/', {
    GET: async (request) => {
      authorize(request, 'show');
      const row = await rows.one(project(request), (request.params as { uuid: string }).uuid);
      return (await rows.details(project(request), [row]))[0];
    },
    PUT: async (request) => {
      authorize(request, 'update');
      const row = await rows.one(project(request), (request.params as { uuid: string }).uuid);
      const body = objectAt(request.body ?? null, 'body');
      const p = parseDefinition(body, serverLimits(services), { definition: definitionOf(row), ...sizeOf(row) });
      await servers.redefine(request.auth, row.id, {
        name: p.name,
        metadata: p.metadata,
        tags: p.tags && (await tagNames(services.db, project(request), p.tags)),
        flavor: p.flavor,
        extension: p.changesDefinition ? { ...p.definition } : undefined,
      });
      return (await rows.details(project(request), [await rows.one(project(request), row.id)]))[0];
    },
    DELETE: async (request, reply) => {
      authorize(request, 'delete');
      const row = await rows.one(project(request), (request.params as { uuid: string }).uuid);
      const recurse = param(request, 'recurse');
      if (recurse !== undefined && !['all_drives', 'disks', 'cdroms'].includes(recurse)) throw invalid('recurse must be all_drives, disks or cdroms', 'recurse');
      await servers.delete(request.auth, row.id, request.id, { onlyStopped: true });
      return reply.code(204).send();
    },
  });
}
