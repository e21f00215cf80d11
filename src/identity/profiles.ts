import { lockName, type Db, type Tx } from '../db/database.js';
import type { Clock } from '../clock.js';
import { DriveError } from '../storage/drive-states.js';

/**
 * How the copies a user makes are named (CloudSigma's profile `clone_naming`): NONE keeps
 * the source's name, COUNTER adds `_1`, `_2` … (the first number free), DATE adds
 * `-YYYY-MM-DD`, TIMESTAMP `-YYYY-MM-DD HH:MM:SS` (UTC), as CloudSigma names them.
 */
export const CLONE_NAMINGS = ['NONE', 'COUNTER', 'DATE', 'TIMESTAMP'] as const;
export type CloneNaming = (typeof CLONE_NAMINGS)[number];

export interface Profile {
  userId: string;
  cloneNaming: CloneNaming;
  /** The account fields the user set, by their wire name. */
  fields: Record<string, unknown>;
  createdAt: string | null;
}

/** The name of a copy of `source` under `naming`; `taken` lists the names in use (for COUNTER). */
export function cloneName(naming: CloneNaming, source: string, now: Date, taken: Iterable<string> = []): string {
  const iso = now.toISOString();
  switch (naming) {
    case 'NONE':
      return source;
    case 'DATE':
      return `${source}-${iso.slice(0, 10)}`;
    case 'TIMESTAMP':
      return `${source}-${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
    case 'COUNTER': {
      const prefix = `${source}_`;
      const used = new Set<number>();
      for (const name of taken) {
        if (!name.startsWith(prefix)) continue;
        const rest = name.slice(prefix.length);
        if (/^[1-9]\d*$/.test(rest)) used.add(Number(rest));
      }
      let n = 1;
      while (used.has(n)) n++;
      return `${prefix}${n}`;
    }
  }
}

/** Users' profiles; a user who never wrote one has the defaults. */
export class Profiles {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async get(userId: string): Promise<Profile> {
    const row = await this.db.selectFrom('profiles').selectAll().where('user_id', '=', userId).executeTakeFirst();
    if (!row) return { userId, cloneNaming: 'NONE', fields: {}, createdAt: null };
    return { userId, cloneNaming: row.clone_naming as CloneNaming, fields: JSON.parse(row.fields), createdAt: row.created_at };
  }

  /** The user's clone naming; `db` is the transaction the caller is in (SQLite has one connection). */
  async cloneNaming(db: Db | Tx, userId: string): Promise<CloneNaming> {
    const row = await db.selectFrom('profiles').select('clone_naming').where('user_id', '=', userId).executeTakeFirst();
    return (row?.clone_naming as CloneNaming | undefined) ?? 'NONE';
  }

  /** Sets the clone naming and merges `fields` into the ones kept. */
  async update(userId: string, change: { cloneNaming?: string; fields?: Record<string, unknown> }): Promise<Profile> {
    if (change.cloneNaming !== undefined && !(CLONE_NAMINGS as readonly string[]).includes(change.cloneNaming)) {
      throw new DriveError('invalid', `clone_naming must be one of ${CLONE_NAMINGS.join(', ')}.`, 'clone_naming');
    }
    const now = this.clock.now().toISOString();
    await this.db.transaction().execute(async (tx) => {
      await lockName(tx, `profile:${userId}`); // two first writes at once: one inserts, the other updates
      const row = await tx.selectFrom('profiles').selectAll().where('user_id', '=', userId).executeTakeFirst();
      const fields = { ...(row ? JSON.parse(row.fields) : {}), ...(change.fields ?? {}) };
      const cloneNaming = change.cloneNaming ?? row?.clone_naming ?? 'NONE';
      if (row) await tx.updateTable('profiles').set({ clone_naming: cloneNaming, fields: JSON.stringify(fields), updated_at: now }).where('user_id', '=', userId).execute();
      else await tx.insertInto('profiles').values({ user_id: userId, clone_naming: cloneNaming, fields: JSON.stringify(fields), created_at: now, updated_at: now }).execute();
    });
    return this.get(userId);
  }
}
