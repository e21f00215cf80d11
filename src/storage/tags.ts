/**
 * Moving a tag's name across a project's servers and drives (a rename, or a delete when
 * there is no new name). A tag is its name wherever it is used (Nova's server tags, a
 * drive's tag list), so a rename rewrites every user of it: that is done a batch at a time,
 * each batch its own short transaction, so no request holds a transaction for longer than
 * one batch takes, however many servers and drives the tenant has tagged. The tag's own row
 * (its meta) moves first; a crash between batches leaves some users on the old name, and
 * the same rename again finishes it.
 */
import { sql, type Kysely, type SqlBool } from 'kysely';
import type { Schema } from '../db/schema.js';
import type { Clock } from '../clock.js';

/** Servers or drives rewritten per transaction. */
export const TAG_BATCH = 200;

/** A LIKE pattern (escape '\\') for a drive's tag list that holds `name`: it narrows, a parse of the list decides. */
export const likeTag = (name: string) => `%${JSON.stringify(name).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export interface MoveOptions {
  /** Servers and drives left as they are (a tag's new resources, already set). */
  keep?: string[];
  /** Whether the tag's own row (its meta) moves too: a rename or delete, not a change of resources. */
  withRow?: boolean;
  batch?: number;
}

/** Rewrites `from` to `to` (or removes it, `to` null) on the project's servers and drives; returns each transaction's row count. */
export async function moveTag(db: Kysely<Schema>, clock: Clock, projectId: string, from: string, to: string | null, opts: MoveOptions = {}): Promise<number[]> {
  const { keep = [], withRow = true, batch = TAG_BATCH } = opts;
  const sizes: number[] = [];
  if (withRow) await db.transaction().execute(async (tx) => {
    const taken = to !== null && (await tx.selectFrom('tags').select('name').where('project_id', '=', projectId).where('name', '=', to).executeTakeFirst());
    // Renaming onto an existing tag merges the two: the target keeps its own meta.
    if (to === null || taken) await tx.deleteFrom('tags').where('project_id', '=', projectId).where('name', '=', from).execute();
    else await tx.updateTable('tags').set({ name: to }).where('project_id', '=', projectId).where('name', '=', from).execute();
  });
  // Servers: keyset pages over the carriers, so each batch starts where the last ended.
  for (let after = ''; ; ) {
    const ids = await db.transaction().execute(async (tx) => {
      const rows = await tx
        .selectFrom('server_tags')
        .innerJoin('servers', 'servers.id', 'server_tags.server_id')
        .select('servers.id')
        .where('servers.project_id', '=', projectId)
        .where('server_tags.tag', '=', from)
        .where('servers.id', '>', after)
        .$if(keep.length > 0, (q) => q.where('servers.id', 'not in', keep))
        .orderBy('servers.id')
        .limit(batch)
        .execute();
      const ids = rows.map((r) => r.id);
      if (!ids.length) return ids;
      // A server that has both names keeps one.
      if (to !== null) await tx.deleteFrom('server_tags').where('tag', '=', to).where('server_id', 'in', ids).execute();
      if (to === null) await tx.deleteFrom('server_tags').where('tag', '=', from).where('server_id', 'in', ids).execute();
      else await tx.updateTable('server_tags').set({ tag: to }).where('tag', '=', from).where('server_id', 'in', ids).execute();
      await tx.updateTable('servers').set({ updated_at: clock.now().toISOString() }).where('id', 'in', ids).execute();
      return ids;
    });
    if (ids.length) sizes.push(ids.length);
    if (ids.length < batch) break;
    after = ids[ids.length - 1];
  }
  // Drives: the ones whose list holds the name (the LIKE narrows, the parse decides).
  const pattern = likeTag(from);
  for (let after = ''; ; ) {
    const last = await db.transaction().execute(async (tx) => {
      const rows = await tx
        .selectFrom('drives')
        .select(['id', 'tags'])
        .where('project_id', '=', projectId)
        .where(sql<SqlBool>`tags like ${pattern} escape '\\'`)
        .where('id', '>', after)
        .$if(keep.length > 0, (q) => q.where('id', 'not in', keep))
        .orderBy('id')
        .limit(batch)
        .execute();
      let changed = 0;
      for (const d of rows) {
        const tags = JSON.parse(d.tags) as string[];
        if (!tags.includes(from)) continue;
        const next = [...new Set(tags.flatMap((t) => (t !== from ? [t] : to === null ? [] : [to])))];
        await tx.updateTable('drives').set({ tags: JSON.stringify(next), updated_at: clock.now().toISOString() }).where('id', '=', d.id).execute();
        changed++;
      }
      return { n: rows.length, id: rows.at(-1)?.id, changed };
    });
    if (last.changed) sizes.push(last.changed);
    if (last.n < batch) break;
    after = last.id!;
  }
  return sizes;
}
