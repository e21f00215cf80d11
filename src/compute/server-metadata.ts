import type { Services } from '../services.js';
import type { AuthContext } from '../identity/tokens.js';
import { notFound } from '../errors.js';
import { enforce } from './quotas.js';
import { lockedServer, parseJson, type Server } from './servers.js';
import { VmState } from './states.js';
import { checkLock, checkState, type AllowedStates } from './state-checks.js';

export type Metadata = Record<string, string>;

/** Where Nova lets metadata change (compute.api update/delete_instance_metadata): settled, launched servers. */
const CHANGEABLE: AllowedStates = {
  vmStates: [VmState.ACTIVE, VmState.PAUSED, VmState.SUSPENDED, VmState.STOPPED],
  taskStates: [null],
  mustHaveLaunched: true,
};

export const metadataOf = (server: Server): Metadata => parseJson<Metadata>(server.metadata, {});


/**
 * A server's metadata items: the user's key/value pairs, counted against the
 * metadata_items quota. Every change also moves the server's updated_at, so that
 * changes-since sees it.
 */
export class ServerMetadata {
  constructor(private readonly s: Services) {}

  /** Merges `items` into the metadata, or with `replace` makes them the whole of it. */
  async set(ctx: AuthContext, server: Server, items: Metadata, replace: boolean): Promise<Metadata> {
    return this.s.db.transaction().execute(async (tx) => {
      const row = await lockedServer(tx, server.id);
      if (!row) throw notFound(`Instance ${server.id} could not be found.`);
      checkLock(ctx, row);
      checkState(row, CHANGEABLE, 'update metadata');
      const metadata = replace ? { ...items } : { ...metadataOf(row), ...items };
      await enforce(tx, row.project_id, row.user_id, { metadata_items: Object.keys(metadata).length });
      await tx
        .updateTable('servers')
        .set({ metadata: JSON.stringify(metadata), updated_at: this.s.clock.now().toISOString() })
        .where('id', '=', row.id)
        .execute();
      return metadata;
    });
  }

  /** Removes one item; 404 when the server has no such key. */
  async delete(ctx: AuthContext, server: Server, key: string): Promise<void> {
    await this.s.db.transaction().execute(async (tx) => {
      const row = await lockedServer(tx, server.id);
      if (!row) throw notFound(`Instance ${server.id} could not be found.`);
      const metadata = metadataOf(row);
      if (!Object.hasOwn(metadata, key)) throw notFound('Metadata item was not found');
      checkLock(ctx, row);
      checkState(row, CHANGEABLE, 'delete metadata');
      delete metadata[key];
      await tx
        .updateTable('servers')
        .set({ metadata: JSON.stringify(metadata), updated_at: this.s.clock.now().toISOString() })
        .where('id', '=', row.id)
        .execute();
    });
  }
}
