/**
 * A server create's quota transaction (createWithinQuota): on PostgreSQL it holds the
 * project's quota lock shared while it writes and recounts, rolls back and runs again when
 * the recount finds the project over a limit, and after three such races holds the lock
 * whole from its start, so it ends. What the API makes of it (exact limits under parallel
 * creates, creates that do not wait for each other) is in concurrent-writes.test.ts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { openDatabase, migrate, type Db, type Tx } from '../../src/db/database.js';
import { createWithinQuota } from '../../src/compute/quotas.js';
import { VmState } from '../../src/compute/states.js';
import { freshDatabase } from '../support.js';

let db: Db | undefined;
let drop: () => Promise<void> = async () => {};

before(async () => {
  const fresh = await freshDatabase();
  drop = fresh.drop;
  if (fresh.url) {
    db = await openDatabase(fresh.url);
    await migrate(db);
  }
});

after(async () => {
  await db?.destroy();
  await drop();
});

const skip = !process.env.NIMBUS_TEST_DATABASE_URL && 'PostgreSQL only: SQLite runs one transaction at a time, with no recount';

/** The advisory lock modes the transaction's backend holds. */
async function advisoryModes(tx: Tx): Promise<string[]> {
  const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(tx);
  const held = await db!.selectFrom(sql<{ mode: string; granted: boolean; locktype: string; pid: number }>`pg_locks`.as('l')).select('mode').where('locktype', '=', 'advisory').where('pid', '=', rows[0].pid).where('granted', '=', true).execute();
  return held.map((r) => r.mode).sort();
}

/** One live server's worth of usage in the project, as the servers trigger would count it (a row of its own). */
const addServer = (tx: Tx, projectId: string) =>
  tx.insertInto('server_usage').values({ project_id: projectId, user_id: randomUUID(), host: '', vm_state: VmState.BUILDING, instances: 1, vcpus: 1, memory_mb: 512, disk_gb: 1 }).execute();

test('a create whose recount finds the project over its limit runs again, three times with the lock shared, then once holding it whole', { skip }, async () => {
  await db!.insertInto('quotas').values({ project_id: 'p1', resource: 'instances', hard_limit: 1 }).execute();
  await db!.transaction().execute((tx) => addServer(tx, 'p1')); // the project is full
  const modes: string[][] = [];
  const made = await createWithinQuota(
    db!,
    'p1',
    'u',
    async (tx) => {
      modes.push(await advisoryModes(tx));
      // The first three write past the limit, as a create that raced another would.
      if (modes.length <= 3) await addServer(tx, 'p1');
      return modes.length;
    },
    async () => {},
  );
  assert.equal(made, 4);
  assert.deepEqual(modes, [['ShareLock'], ['ShareLock'], ['ShareLock'], ['ExclusiveLock']]);
  const { n } = await db!.selectFrom('server_usage').select((eb) => eb.fn.sum<number>('instances').as('n')).where('project_id', '=', 'p1').executeTakeFirstOrThrow();
  assert.equal(Number(n), 1, 'what the rolled back attempts wrote is gone');
});

test('a create within its limits commits at its first attempt, recounted under the recount lock', { skip }, async () => {
  const seen: string[][] = [];
  const made = await createWithinQuota(
    db!,
    'p2',
    'u',
    async (tx) => {
      await addServer(tx, 'p2');
      return 'one';
    },
    async (tx) => void seen.push(await advisoryModes(tx)),
  );
  assert.equal(made, 'one');
  // The quota lock shared and the recount lock whole (both advisory, by their own keys).
  assert.deepEqual(seen, [['ExclusiveLock', 'ShareLock']]);
});
