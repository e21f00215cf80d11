import { randomUUID } from 'node:crypto';
import type { Db, Tx } from '../db/database.js';
import type { BuildBehaviourTable } from '../db/schema.js';
import type { Clock } from '../clock.js';
import { notFound } from '../errors.js';
import { searchPattern } from './search-patterns.js';

/** What happens to a build a behaviour matches. */
export interface BuildEffect {
  /** Fail the build: the server goes to ERROR with this fault. */
  fault?: { message: string; code: number };
  /** Take this long to spawn (real milliseconds, so clients polling see BUILD). */
  buildMs: number;
  /** Go ACTIVE, then ERROR after this many milliseconds of clock time. */
  errorAfterMs?: number;
}

export interface NewBehaviour {
  namePattern?: string | null;
  metadata?: Record<string, string>;
  count: number;
  fault?: { message: string; code?: number } | null;
  buildMs?: number;
  errorAfterMs?: number | null;
}

export function viewBehaviour(b: BuildBehaviourTable) {
  return {
    id: b.id,
    match: { name: b.name_pattern, metadata: JSON.parse(b.metadata) },
    remaining: b.remaining,
    fault: b.fault_message === null ? null : { message: b.fault_message, code: b.fault_code },
    build_ms: b.build_ms,
    error_after_ms: b.error_after_ms,
    created_at: b.created_at,
  };
}

/** A pattern stored before patterns were RE2's (one with lookaround, say) matches nothing rather than failing builds. */
function nameMatches(pattern: string, name: string): boolean {
  try {
    return searchPattern('match.name', pattern).test(name);
  } catch {
    return false;
  }
}

/**
 * Build behaviours for the control API: "the next N builds whose name matches /x/ (or
 * whose metadata has k=v) fail with this fault / take this long / go ACTIVE and then ERROR".
 */
export class BuildBehaviours {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async add(b: NewBehaviour): Promise<BuildBehaviourTable> {
    if (b.namePattern) searchPattern('match.name', b.namePattern); // refused here, not at the next build
    const row: BuildBehaviourTable = {
      id: randomUUID(),
      name_pattern: b.namePattern ?? null,
      metadata: JSON.stringify(b.metadata ?? {}),
      remaining: b.count,
      fault_message: b.fault?.message ?? null,
      fault_code: b.fault?.code ?? 500,
      build_ms: b.buildMs ?? 0,
      error_after_ms: b.errorAfterMs ?? null,
      created_at: this.clock.now().toISOString(),
    };
    await this.db.insertInto('build_behaviours').values(row).execute();
    return row;
  }

  list(): Promise<BuildBehaviourTable[]> {
    return this.db.selectFrom('build_behaviours').selectAll().orderBy('created_at').execute();
  }

  async remove(id: string): Promise<void> {
    const r = await this.db.deleteFrom('build_behaviours').where('id', '=', id).executeTakeFirst();
    if (!Number(r.numDeletedRows)) throw notFound(`Behaviour ${id} could not be found.`);
  }

  /** Takes one use of the oldest behaviour matching this server, in the build's transaction. */
  async claim(tx: Tx, server: { name: string; metadata: Record<string, string> }): Promise<BuildEffect | null> {
    const candidates = await tx.selectFrom('build_behaviours').selectAll().where('remaining', '>', 0).orderBy('created_at').execute();
    for (const b of candidates) {
      if (b.name_pattern && !nameMatches(b.name_pattern, server.name)) continue;
      const want = JSON.parse(b.metadata) as Record<string, string>;
      if (!Object.entries(want).every(([k, v]) => server.metadata[k] === v)) continue;
      const r = await tx.updateTable('build_behaviours').set({ remaining: b.remaining - 1 }).where('id', '=', b.id).where('remaining', '=', b.remaining).executeTakeFirst();
      if (!Number(r.numUpdatedRows)) continue;
      if (b.remaining - 1 === 0) await tx.deleteFrom('build_behaviours').where('id', '=', b.id).execute();
      return {
        fault: b.fault_message === null ? undefined : { message: b.fault_message, code: b.fault_code },
        buildMs: b.build_ms,
        errorAfterMs: b.error_after_ms ?? undefined,
      };
    }
    return null;
  }
}
