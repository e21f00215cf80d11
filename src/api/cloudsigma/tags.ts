/**
 * Tags as CloudSigma shows them: resources with a uuid and a name. The core keeps a
 * server's tags as names (Nova's server tags), so a tag here is a name within a project,
 * and its uuid is derived from the two: the same tag has the same uuid on every request
 * and node, with nothing more to store.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../../db/database.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { invalid, notFound } from '../../errors.js';
import { created, listOf, objectAt, objectsOf, ref, route } from './http.js';
import { ServerRows } from './servers.js';
import { driveView } from './drive-view.js';
import { moveTag } from '../../storage/tags.js';

/** The most resources one tag request may set. */
const MAX_TAG_RESOURCES = 1000;

export function tagUuid(projectId: string, name: string): string {
  const h = createHash('sha1').update(`nimbus-tag\0${projectId}\0${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const tagRef = (projectId: string, name: string) => ref('tags', tagUuid(projectId, name));

export const TAG_NAME_MAX = 255;

/**
 * The one rule for a tag's name wherever this face takes one (/tags/, a server's, a drive's
 * or a snapshot's tags): a string of 1 to 255 characters, not only spaces. A tag is only its
 * name, and every list of tags looks each one up, so a name must be one a lookup can take.
 */
export function tagName(value: unknown, point: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > TAG_NAME_MAX) throw invalid(`${point} must be a tag name: a string of 1 to ${TAG_NAME_MAX} characters`, point);
  return value;
}

/** The names of the project's tags: made through /tags/, or on any of its servers or drives. */
export async function projectTagNames(db: Db, projectId: string): Promise<string[]> {
  const onServers = await db
    .selectFrom('server_tags')
    .innerJoin('servers', 'servers.id', 'server_tags.server_id')
    .select('server_tags.tag')
    .distinct()
    .where('servers.project_id', '=', projectId)
    .where('servers.deleted', '=', 0)
    .execute();
  const made = await db.selectFrom('tags').select('name').where('project_id', '=', projectId).execute();
  const onDrives = await db.selectFrom('drives').select('tags').where('project_id', '=', projectId).where('tags', '!=', '[]').execute();
  return [...new Set([...onServers.map((r) => r.tag), ...made.map((r) => r.name), ...onDrives.flatMap((r) => JSON.parse(r.tags) as string[])])].sort();
}

/** Tags given by uuid or name, as names: a uuid of one of the project's tags is that tag. */
export async function tagNames(db: Db, projectId: string, given: string[]): Promise<string[]> {
  if (!given.some((g) => /^[0-9a-f-]{36}$/i.test(g))) return given;
  const byUuid = new Map((await projectTagNames(db, projectId)).map((n) => [tagUuid(projectId, n), n]));
  return given.map((g) => byUuid.get(g.toLowerCase()) ?? g);
}

type Body = Record<string, unknown>;

/**
 * /tags/: a tag is a name in the project, its uuid derived from both (so renaming one gives
 * it a new uuid). Its resources are the servers and drives that carry the name; setting
 * them here changes those (a server's tags are Nova's server tags too).
 */
export function tagRoutes(api: FastifyInstance, services: Services): void {
  const db = services.db;
  const rows = new ServerRows(services);
  const project = (request: FastifyRequest) => request.auth.projectId!;

  const resourcesOf = async (projectId: string, name: string) => {
    const servers = await db.selectFrom('server_tags').innerJoin('servers', 'servers.id', 'server_tags.server_id').select(['servers.id', 'servers.user_id']).where('server_tags.tag', '=', name).where('servers.project_id', '=', projectId).where('servers.deleted', '=', 0).orderBy('servers.id').execute();
    const drives = (await db.selectFrom('drives').select(['id', 'user_id', 'tags']).where('project_id', '=', projectId).where('tags', 'like', `%${JSON.stringify(name)}%`).orderBy('id').execute()).filter((d) => (JSON.parse(d.tags) as string[]).includes(name));
    return [
      ...servers.map((r) => ({ owner: ref('user', r.user_id), res_type: 'servers', ...ref('servers', r.id) })),
      ...drives.map((r) => ({ owner: ref('user', r.user_id), res_type: 'drives', ...ref('drives', r.id) })),
    ];
  };
  const view = async (request: FastifyRequest, name: string) => {
    const row = await db.selectFrom('tags').select('meta').where('project_id', '=', project(request)).where('name', '=', name).executeTakeFirst();
    return { meta: row ? JSON.parse(row.meta) : {}, name, owner: ref('user', request.auth.userId), ...tagRef(project(request), name), resources: await resourcesOf(project(request), name) };
  };
  const find = async (request: FastifyRequest) => {
    const { uuid } = request.params as { uuid: string };
    const name = (await projectTagNames(db, project(request))).find((n) => tagUuid(project(request), n) === uuid.toLowerCase());
    if (name === undefined) throw notFound(`Tag ${uuid} does not exist`);
    return name;
  };
  /** Makes exactly these servers and drives (by uuid) carry the tag. */
  const setResources = async (projectId: string, name: string, given: unknown, point: string) => {
    if (!Array.isArray(given)) throw invalid('resources must be a list of uuids', point);
    // One request's list is one transaction: bounded, as a bulk create is.
    if (given.length > MAX_TAG_RESOURCES) throw invalid(`resources may name at most ${MAX_TAG_RESOURCES} servers and drives`, point);
    const ids = given.map((g, i) => {
      const id = typeof g === 'string' ? g : g && typeof g === 'object' ? (g as Body).uuid : undefined;
      if (typeof id !== 'string') throw invalid(`resources[${i}] must be a uuid`, `${point}[${i}]`);
      return id;
    });
    // The resources named get the tag in one transaction (as long as the request's list);
    // the ones that lose it lose it a batch at a time, however many they are.
    await db.transaction().execute(async (tx) => {
      const servers = (await tx.selectFrom('servers').select('id').where('project_id', '=', projectId).where('deleted', '=', 0).where('id', 'in', ids.length ? ids : ['']).execute()).map((r) => r.id);
      const has = new Set((await tx.selectFrom('server_tags').select('server_id').where('tag', '=', name).where('server_id', 'in', servers.length ? servers : ['']).execute()).map((r) => r.server_id));
      const add = servers.filter((id) => !has.has(id)).map((server_id) => ({ server_id, tag: name }));
      const now = services.clock.now().toISOString();
      if (add.length) {
        // Two requests tagging the same server at once: the second finds the row there.
        await tx.insertInto('server_tags').values(add).onConflict((oc) => oc.columns(['server_id', 'tag']).doNothing()).execute();
        await tx.updateTable('servers').set({ updated_at: now }).where('id', 'in', add.map((a) => a.server_id)).execute();
      }
      const drives = ids.length ? await tx.selectFrom('drives').select(['id', 'tags']).where('project_id', '=', projectId).where('id', 'in', ids).execute() : [];
      for (const d of drives) {
        const tags = JSON.parse(d.tags) as string[];
        if (!tags.includes(name)) await tx.updateTable('drives').set({ tags: JSON.stringify([...tags, name]), updated_at: now }).where('id', '=', d.id).execute();
      }
    });
    await moveTag(db, services.clock, projectId, name, null, { keep: ids, withRow: false });
  };
  const remember = async (projectId: string, name: string, meta: unknown) => {
    const text = JSON.stringify(meta && typeof meta === 'object' && !Array.isArray(meta) ? meta : {});
    // One statement, so two requests making the same tag at once both succeed.
    await db
      .insertInto('tags')
      .values({ project_id: projectId, name, meta: text, created_at: services.clock.now().toISOString() })
      .onConflict((oc) => oc.columns(['project_id', 'name']).doUpdateSet({ meta: text }))
      .execute();
  };
  const nameOf = (o: Body, point: string) => tagName(o.name, point);

  /** Tags are changed under the rules of Nova's server tags (a reader may only read them). */
  const mayChange = (request: FastifyRequest, action: 'update_all' | 'delete_all') =>
    services.policy.authorize(request.auth, `os_compute_api:os-server-tags:${action}`, project(request));
  const listing = async (request: FastifyRequest) => Promise.all((await projectTagNames(db, project(request))).map((n) => view(request, n)));
  route(api, '/tags/', {
    GET: async (request) => listOf(request, await listing(request)),
    POST: async (request, reply) => {
      mayChange(request, 'update_all');
      const bodies = objectsOf(request.body);
      // libcloud's ex_create_tag sends `resources` beside `objects`: it goes to the objects that name none.
      const shared = request.body && typeof request.body === 'object' && 'objects' in request.body ? (request.body as Body).resources : undefined;
      if (shared !== undefined) for (const o of bodies) o.resources ??= shared;
      const names = bodies.map((o, i) => nameOf(o, i ? `objects[${i}].name` : 'name'));
      for (const [i, o] of bodies.entries()) {
        await remember(project(request), names[i], o.meta ?? {});
        if (o.resources !== undefined) await setResources(project(request), names[i], o.resources, 'resources');
      }
      return created(reply, await Promise.all(names.map((n) => view(request, n))), services.config.publicUrl);
    },
  });
  route(api, '/tags/detail/', { GET: async (request) => listOf(request, await listing(request)) });
  route(api, '/tags/:uuid/', {
    GET: async (request) => view(request, await find(request)),
    PUT: async (request) => {
      let name = await find(request);
      mayChange(request, 'update_all');
      const body = objectAt(request.body ?? null, 'body');
      if (body.name !== undefined && body.name !== name) {
        const next = nameOf(body, 'name');
        // A rename moves the name wherever it is (and so the tag's uuid, derived from it), a batch at a time.
        await moveTag(db, services.clock, project(request), name, next);
        name = next;
      }
      await remember(project(request), name, body.meta ?? (await view(request, name)).meta);
      if (body.resources !== undefined) await setResources(project(request), name, body.resources, 'resources');
      return view(request, name);
    },
    DELETE: async (request, reply) => {
      const name = await find(request);
      mayChange(request, 'delete_all');
      await moveTag(db, services.clock, project(request), name, null);
      return reply.code(204).send();
    },
  });
  route(api, '/tags/:uuid/servers/detail/', {
    GET: async (request) => {
      const name = await find(request);
      const ids = (await resourcesOf(project(request), name)).filter((r) => r.res_type === 'servers').map((r) => r.uuid);
      return listOf(request, await rows.details(project(request), ids));
    },
  });
  // The tag's drives, as /drives/detail/ shows them (the tags doc's /tags/{uuid}/{resource}/).
  const taggedDrives = async (request: FastifyRequest) => {
    const name = await find(request);
    const ids = (await resourcesOf(project(request), name)).filter((r) => r.res_type === 'drives').map((r) => r.uuid);
    return listOf(request, (await services.drives.many(request.auth, ids)).map(driveView));
  };
  route(api, '/tags/:uuid/drives/', { GET: taggedDrives });
  route(api, '/tags/:uuid/drives/detail/', { GET: taggedDrives });
  route(api, '/tags/:uuid/servers/', {
    GET: async (request) => {
      const name = await find(request);
      const ids = (await resourcesOf(project(request), name)).filter((r) => r.res_type === 'servers').map((r) => r.uuid);
      return listOf(request, await rows.details(project(request), ids));
    },
  });
}
