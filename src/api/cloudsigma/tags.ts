/**
 * Tags as CloudSigma shows them: resources with a uuid and a name. The core keeps a
 * server's tags as names (Nova's server tags), so a tag here is a name within a project,
 * and its uuid is derived from the two: the same tag has the same uuid on every request
 * and node, with nothing more to store.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../../db/database.js';
import { ref } from './http.js';

export function tagUuid(projectId: string, name: string): string {
  const h = createHash('sha1').update(`nimbus-tag\0${projectId}\0${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const tagRef = (projectId: string, name: string) => ref('tags', tagUuid(projectId, name));

/** The names of the project's tags (on any of its servers). */
export async function projectTagNames(db: Db, projectId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('server_tags')
    .innerJoin('servers', 'servers.id', 'server_tags.server_id')
    .select('server_tags.tag')
    .distinct()
    .where('servers.project_id', '=', projectId)
    .where('servers.deleted', '=', 0)
    .execute();
  return rows.map((r) => r.tag);
}

/** Tags given by uuid or name, as names: a uuid of one of the project's tags is that tag. */
export async function tagNames(db: Db, projectId: string, given: string[]): Promise<string[]> {
  if (!given.some((g) => /^[0-9a-f-]{36}$/i.test(g))) return given;
  const byUuid = new Map((await projectTagNames(db, projectId)).map((n) => [tagUuid(projectId, n), n]));
  return given.map((g) => byUuid.get(g.toLowerCase()) ?? g);
}
