import type { Services } from '../services.js';
import type { Tx } from '../db/database.js';
import { invalid, notFound } from '../errors.js';
import { lockedServer, type Server } from './servers.js';
import { VmState } from './states.js';
import { checkState, type AllowedStates } from './state-checks.js';

/** nova.objects.instance.MAX_TAG_COUNT and nova.objects.tag.MAX_TAG_LENGTH. */
export const MAX_TAGS = 50;
export const MAX_TAG_LENGTH = 60;

/** Python's repr of a string, as Nova's messages quote values. */
const quoted = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** What is wrong with a tag, worded as Nova's schema check words it; null when nothing. */
export function tagProblem(tag: string): string | null {
  if (tag.length < 1) return `'' is too short`;
  if ([...tag].length > MAX_TAG_LENGTH) return `${quoted(tag)} is too long`;
  if (/[,/]/.test(tag)) return `${quoted(tag)} does not match '^[^,/]*$'`;
  return null;
}

/** Nova's server tags controller checks the vm_state only: no lock, no task state. */
const TAGGABLE: AllowedStates = { vmStates: [VmState.ACTIVE, VmState.PAUSED, VmState.SUSPENDED, VmState.STOPPED] };

/**
 * A server's tags: a set of short strings clients filter lists by. Every change also moves
 * the server's updated_at, so that changes-since sees it.
 */
export class ServerTags {
  constructor(private readonly s: Services) {}

  async list(serverId: string): Promise<string[]> {
    return listIn(this.s.db, serverId);
  }

  async has(serverId: string, tag: string): Promise<boolean> {
    return !!(await this.s.db.selectFrom('server_tags').select('tag').where('server_id', '=', serverId).where('tag', '=', tag).executeTakeFirst());
  }

  /** Adds one tag; false when the server had it already. */
  async add(server: Server, tag: string): Promise<boolean> {
    return this.change(server, 'update tag', async (tx) => {
      // Nova checks the server's state before the tag itself.
      const problem = tagProblem(tag);
      if (problem) throw invalid(`Tag '${tag}' is invalid. It must be a non empty string without characters '/' and ','. Validation error message: ${problem}`);
      const tags = await listIn(tx, server.id);
      // Nova counts before looking for the tag: a full server refuses even one it has.
      if (tags.length >= MAX_TAGS) throw invalid(`The number of tags exceeded the per-server limit ${MAX_TAGS}`);
      if (tags.includes(tag)) return false;
      await tx.insertInto('server_tags').values({ server_id: server.id, tag }).execute();
      return true;
    });
  }

  /** Makes `tags` (duplicates dropped) the server's whole set. */
  async replace(server: Server, tags: string[]): Promise<string[]> {
    return this.change(server, 'update tags', async (tx) => {
      await tx.deleteFrom('server_tags').where('server_id', '=', server.id).execute();
      const unique = [...new Set(tags)];
      if (unique.length) await tx.insertInto('server_tags').values(unique.map((tag) => ({ server_id: server.id, tag }))).execute();
      return listIn(tx, server.id);
    });
  }

  async remove(server: Server, tag: string): Promise<void> {
    await this.change(server, 'delete tag', async (tx) => {
      const r = await tx.deleteFrom('server_tags').where('server_id', '=', server.id).where('tag', '=', tag).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) throw notFound(`Instance ${server.id} has no tag '${tag}'`);
    });
  }

  async removeAll(server: Server): Promise<void> {
    await this.change(server, 'delete tags', async (tx) => {
      await tx.deleteFrom('server_tags').where('server_id', '=', server.id).execute();
    });
  }

  /** Runs a change in one transaction, on the locked server row, with its state checked and updated_at moved. */
  private change<T>(server: Server, action: string, work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.s.db.transaction().execute(async (tx) => {
      const row = await lockedServer(tx, server.id);
      if (!row) throw notFound(`Instance ${server.id} could not be found.`);
      checkState(row, TAGGABLE, action);
      const result = await work(tx);
      await tx.updateTable('servers').set({ updated_at: this.s.clock.now().toISOString() }).where('id', '=', row.id).execute();
      return result;
    });
  }
}

function listIn(db: Services['db'] | Tx, serverId: string): Promise<string[]> {
  return db
    .selectFrom('server_tags')
    .select('tag')
    .where('server_id', '=', serverId)
    .orderBy('tag')
    .execute()
    .then((rows) => rows.map((r) => r.tag));
}
