import type { Db } from '../db/database.js';
import type { Clock } from '../clock.js';

/**
 * The password a guest posts to the metadata service (encrypted by the guest with its key
 * pair, as Nova's get-password expects; Nimbus keeps what it is given). Set once: a second
 * post while one is kept is refused, as Nova's 409; os-server-password's DELETE clears it,
 * after which the guest may post again.
 */
export const serverPasswords = {
  async get(db: Db, serverId: string): Promise<string | null> {
    const row = await db.selectFrom('server_passwords').select('password').where('server_id', '=', serverId).executeTakeFirst();
    return row?.password ?? null;
  },

  /** Keeps `password` unless one is kept already: false then. The primary key decides between racing posts. */
  async setOnce(db: Db, clock: Clock, serverId: string, password: string): Promise<boolean> {
    const r = await db
      .insertInto('server_passwords')
      .values({ server_id: serverId, password, created_at: clock.now().toISOString() })
      .onConflict((oc) => oc.column('server_id').doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  },

  async clear(db: Db, serverId: string): Promise<void> {
    await db.deleteFrom('server_passwords').where('server_id', '=', serverId).execute();
  },
};
