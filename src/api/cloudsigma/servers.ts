/**
 * /servers/: list, detail, schema, create (one or many, all or nothing), show, edit,
 * delete; the actions are in server-actions.ts. Every operation is the core's
 * (src/compute/servers.ts); this file reads CloudSigma's bodies and renders its views.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { userKeypairs } from './keypairs.js';
import type { Services } from '../../services.js';
import { Servers, parseJson, type ServerFlavor } from '../../compute/servers.js';
import { notFound } from '../../errors.js';
import { isUp } from '../../scheduler/scheduler.js';
import { created, listOf, objectsOf, objectAt, pageOf, param, route } from './http.js';
import { serverLimits } from './capabilities.js';
import { parseDefinition } from './server-definition.js';
import { MIB, VIEW_COLUMNS, definitionOf, serverDetail, summaryOf, type Definition, type Row, type ViewContext } from './server-view.js';
import type { DriveAttachment, Recurse } from '../../storage/drives.js';
import { SERVER_SCHEMA } from './schemas/server.js';
import { tagNames, tagRef } from './tags.js';
import { invalid } from '../../errors.js';
import { jsonList } from '../json-bytes.js';
import { isPostgres } from '../../db/database.js';
import { sql } from 'kysely';

/** The name filters a list page takes in its statement (the rest are matched on the views). */
const NAME_FILTERS = ['name', 'name__in', 'name__contains', 'name__startswith'];

/** `text` as a literal part of a PostgreSQL LIKE pattern (its default escape is the backslash). */
const likeEscaped = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** A server's detail view with its JSON, as rendered at one version of its row. */
interface Rendered {
  version: number;
  extra: string;
  view: Record<string, unknown>;
  /** UTF-8 bytes: encoding a list of 1,000 views to bytes for the socket cost as much as the rest of it. */
  json: Buffer;
}

/**
 * Reads servers of the caller's project and renders their views. A rendering is kept per
 * server and reused while the row's version (bumped by the database on every update) and
 * what else the view read (its tags, its host being down) are unchanged, as the compute
 * API's RenderedServers does: a long list renders and encodes only what changed.
 */
/** What a list reads of a server before deciding whether its kept view is still good. */
type Head = { id: string; version: number; host: string | null };

export class ServerRows {
  private readonly kept = new Map<string, Rendered>();
  /** The JSON of each view this process rendered, for answers written from it. */
  readonly jsonOf = new WeakMap<object, Buffer>();

  constructor(
    private readonly s: Services,
    private readonly limit = 4000,
  ) {}

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

  /** The hosts that are down now: a view on one shows `unavailable`. */
  private async downHosts(): Promise<Set<string>> {
    const now = this.s.clock.nowMs();
    const hosts = await this.s.db.selectFrom('hosts').select(['name', 'last_seen_at', 'forced_down']).execute();
    return new Set(hosts.filter((h) => !isUp(h, now)).map((h) => h.name));
  }

  /** What views of these servers read besides their rows: their tags, drives and jobs. */
  async context(projectId: string, ids: string[], downHosts?: Set<string>): Promise<ViewContext> {
    const tags = new Map<string, unknown[]>();
    for (const [id, names] of await new Servers(this.s).tags(ids)) tags.set(id, names.map((n) => tagRef(projectId, n)));
    const drives = await this.s.drives.attachmentsOf(this.s.db, ids);
    const jobs = await this.s.jobs.ofResources(ids);
    return { downHosts: downHosts ?? (await this.downHosts()), tags, drives, jobs };
  }

  /**
   * Detail views of the project's servers (all, or these ids), oldest first. A kept view is
   * current while its row's version is: a change of the server's tags, drive attachments or
   * jobs bumps it (migration 080), so a page reads only the heads, and the rest for the
   * servers whose views must be made again.
   */
  async details(projectId: string, ids?: string[], given?: Head[]): Promise<Record<string, unknown>[]> {
    let q = this.s.db.selectFrom('servers').select(['id', 'version', 'host']).where('project_id', '=', projectId).where('deleted', '=', 0);
    if (ids) q = q.where('id', 'in', ids.length ? ids : ['']);
    const heads = given ?? (await q.orderBy('created_at').orderBy('id').execute());
    const downHosts = await this.downHosts();
    const extraOf = (host: string | null) => (host && downHosts.has(host) ? 'down' : '');
    const missing = heads.filter((h) => {
      const hit = this.kept.get(h.id);
      return !(hit && hit.version === h.version && hit.extra === extraOf(h.host));
    });
    if (missing.length) {
      const byId = new Map(heads.map((h) => [h.id, h]));
      for (let i = 0; i < missing.length; i += 500) {
        const batch = missing.slice(i, i + 500).map((m) => m.id);
        // Read after the heads and before the rows: a change meanwhile shows as a newer row version, and the view is not kept under the old one.
        const v = await this.context(projectId, batch, downHosts);
        const rows = (await this.s.db.selectFrom('servers').select([...VIEW_COLUMNS, 'version']).where('id', 'in', batch).execute()) as (Row & { version: number })[];
        for (const row of rows) {
          const view = serverDetail(row, v);
          const json = Buffer.from(JSON.stringify(view));
          this.jsonOf.set(view, json);
          // Kept under the version the list read: a row updated since is rendered again next time.
          this.kept.delete(row.id);
          this.kept.set(row.id, { version: byId.get(row.id)?.version === row.version ? row.version : -1, extra: extraOf(row.host), view, json });
        }
      }
      for (const key of this.kept.keys()) {
        if (this.kept.size <= this.limit) break;
        this.kept.delete(key);
      }
    }
    return heads.map((h) => this.kept.get(h.id)?.view).filter((x): x is Record<string, unknown> => x !== undefined);
  }

  /**
   * A list page read page-first, when the query lets the database do it (no filters; the
   * default order or by uuid): the count and the page's ids in SQL, then only those servers
   * rendered, so a page of 100 costs the same at 100 or 100,000 servers, as the compute API's
   * detail list. Null when the query needs the views (filters on status or tags, order by
   * name, whose collation differs between the databases): then listOf over every view.
   */
  async page(projectId: string, request: FastifyRequest): Promise<{ meta: { limit: number; offset: number; total_count: number }; objects: Record<string, unknown>[] } | null> {
    const query = request.query as Record<string, unknown>;
    if (Object.keys(query).some((k) => !['limit', 'offset', 'order_by', ...NAME_FILTERS].includes(k))) return null;
    const order = param(request, 'order_by');
    if (order !== undefined && order !== 'uuid' && order !== '-uuid') return null;
    const { limit, offset } = pageOf(request);
    let base = this.s.db.selectFrom('servers').where('project_id', '=', projectId).where('deleted', '=', 0);
    // The name filters as listOf reads them (case-sensitive; `a,b` is either), in the statement.
    const postgres = isPostgres(this.s.db);
    const exact = param(request, 'name') ?? param(request, 'name__in');
    if (exact !== undefined) base = base.where('name', 'in', exact.split(','));
    const contains = param(request, 'name__contains');
    // LIKE on PostgreSQL (a trigram index serves it, migration 095); SQLite's LIKE ignores case, instr does not.
    if (contains !== undefined) base = postgres ? base.where('name', 'like', `%${likeEscaped(contains)}%`) : base.where(sql<number>`instr(name, ${contains})`, '>', 0);
    const prefix = param(request, 'name__startswith');
    if (prefix !== undefined) base = postgres ? base.where('name', 'like', `${likeEscaped(prefix)}%`) : base.where(sql<number>`instr(name, ${prefix})`, '=', 1);
    // The page's heads and the whole count in one statement: the count a scalar subquery on the
    // (project_id, deleted, …) index, which the page then reads only as far as its limit (a window
    // over the rows, count(*) over (), read every row of the project for each page).
    const count = base.select((eb) => eb.fn.countAll<number>().as('n'));
    let q = base.select(['id', 'version', 'host', count.as('total')]);
    q = order ? q.orderBy('id', order === '-uuid' ? 'desc' : 'asc') : q.orderBy('created_at').orderBy('id');
    // Counts past 2^53 (a valid count, as listOf takes it) are bound to what both databases take.
    const bound = (n: number) => Math.min(n, Number.MAX_SAFE_INTEGER);
    const heads = await q.limit(limit > 0 ? bound(limit) : Number.MAX_SAFE_INTEGER).offset(bound(offset)).execute();
    // A page past the end has no row to carry the count.
    const total = heads.length ? Number(heads[0].total) : Number(((await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()) as { n: number | string }).n);
    return { meta: { limit, offset, total_count: total }, objects: await this.details(projectId, undefined, heads) };
  }

  /** A view's JSON: the kept bytes where there are some. */
  jsonFor(view: Record<string, unknown>): Buffer {
    return this.jsonOf.get(view) ?? Buffer.from(JSON.stringify(view));
  }

  /** A list answer's JSON, from the views' kept bytes. */
  listJson(page: { meta: unknown; objects: Record<string, unknown>[] }): Buffer {
    return jsonList('objects', page.objects.map((o) => this.jsonFor(o)), '', `"meta":${JSON.stringify(page.meta)},`);
  }
}

/**
 * A definition's pubkeys must be the caller's own keypairs (Nova's key_name is the user's):
 * another user's key, or none, is 400 naming it, as an unknown drive is.
 */
async function ownPubkeys(services: Services, userId: string, uuids: string[]): Promise<void> {
  if (uuids.length === 0) return;
  const mine = new Set((await userKeypairs(services, userId)).map((k) => k.uuid));
  const i = uuids.findIndex((u) => !mine.has(u));
  if (i >= 0) throw invalid(`Pubkey ${uuids[i]} does not exist`, `pubkeys[${i}]`);
}

/** The definition the face keeps: drives are the storage core's attachments, not kept here. */
export const extensionOf = (d: Definition): Record<string, unknown> => ({ ...d, drives: [] });

/** The drives of a definition as the storage core attaches them. */
export const attachmentsOf = (d: Definition): DriveAttachment[] => d.drives.map((x) => ({ driveId: x.drive, bootOrder: x.boot_order, devChannel: x.dev_channel, device: x.device }));

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
      // Filtered on the full views (a tag filter needs the tags), shown short.
      const page = (await rows.page(project(request), request)) ?? listOf(request, await rows.details(project(request)));
      return { meta: page.meta, objects: page.objects.map(summaryOf) };
    },
    POST: async (request, reply) => {
      authorize(request, 'create');
      const limits = serverLimits(services);
      const parsed = objectsOf(request.body).map((o) => parseDefinition(o, limits));
      for (const p of parsed) await ownPubkeys(services, request.auth.userId, p.definition.pubkeys);
      const defs = await Promise.all(
        parsed.map(async (p) => ({ name: p.name!, flavor: p.flavor!, metadata: p.metadata ?? {}, tags: await tagNames(services.db, project(request), p.tags ?? []), extension: extensionOf(p.definition), drives: attachmentsOf(p.definition) })),
      );
      const made = await servers.define(request.auth, defs, request.id);
      const answer = await rows.details(project(request), made.map((s) => s.id));
      // In the order asked for.
      const order = new Map(made.map((s, i) => [s.id, i]));
      answer.sort((a, b) => order.get(a.uuid as string)! - order.get(b.uuid as string)!);
      return created(reply, answer as { resource_uri: string }[], services.config.publicUrl);
    },
  });

  route(api, '/servers/detail/', {
    GET: async (request, reply) => {
      authorize(request, 'detail');
      const page = (await rows.page(project(request), request)) ?? listOf(request, await rows.details(project(request)));
      return reply.type('application/json; charset=utf-8').send(rows.listJson(page));
    },
  });

  route(api, '/servers/schema/', { GET: async () => SERVER_SCHEMA });

  // Which of the caller's servers share a physical host: a list per host (running servers only).
  const byHost = async (projectId: string) => {
    const rows = await services.db.selectFrom('servers').select(['id', 'host']).where('project_id', '=', projectId).where('deleted', '=', 0).where('host', 'is not', null).where('vm_state', 'in', ['active', 'paused', 'suspended', 'rescued', 'resized']).orderBy('host').orderBy('id').execute();
    const groups = new Map<string, string[]>();
    for (const r of rows) groups.set(r.host!, [...(groups.get(r.host!) ?? []), r.id]);
    return groups;
  };
  route(api, '/servers/availability_groups/', {
    GET: async (request) => {
      authorize(request, 'index');
      return [...(await byHost(project(request))).values()];
    },
  });
  route(api, '/servers/availability_groups/:uuid/', {
    GET: async (request) => {
      authorize(request, 'show');
      const row = await rows.one(project(request), (request.params as { uuid: string }).uuid);
      const group = [...(await byHost(project(request))).values()].find((g) => g.includes(row.id)) ?? [];
      return group.filter((id) => id !== row.id);
    },
  });

  route(api, '/servers/:uuid/', {
    GET: async (request, reply) => {
      authorize(request, 'show');
      const { uuid } = request.params as { uuid: string };
      const [view] = /^[0-9a-f-]{36}$/i.test(uuid) ? await rows.details(project(request), [uuid]) : [];
      if (!view) throw notFound(`Server ${uuid} does not exist`);
      return reply.type('application/json; charset=utf-8').send(rows.jsonFor(view));
    },
    PUT: async (request) => {
      authorize(request, 'update');
      const row = await rows.one(project(request), (request.params as { uuid: string }).uuid);
      const body = objectAt(request.body ?? null, 'body');
      const p = parseDefinition(body, serverLimits(services), { definition: definitionOf(row), ...sizeOf(row) });
      if (body.pubkeys !== undefined) await ownPubkeys(services, request.auth.userId, p.definition.pubkeys);
      await servers.redefine(request.auth, row.id, {
        name: p.name,
        metadata: p.metadata,
        tags: p.tags && (await tagNames(services.db, project(request), p.tags)),
        flavor: p.flavor,
        extension: p.changesDefinition ? extensionOf(p.definition) : undefined,
        drives: body.drives !== undefined ? attachmentsOf(p.definition) : undefined,
      });
      return (await rows.details(project(request), [row.id]))[0];
    },
    DELETE: async (request, reply) => {
      authorize(request, 'delete');
      const row = await rows.one(project(request), (request.params as { uuid: string }).uuid);
      const recurse = param(request, 'recurse');
      if (recurse !== undefined && !['all_drives', 'disks', 'cdroms'].includes(recurse)) throw invalid('recurse must be all_drives, disks or cdroms', 'recurse');
      await servers.delete(request.auth, row.id, request.id, { onlyStopped: true, recurse: recurse as Recurse | undefined });
      return reply.code(204).send();
    },
  });
}
