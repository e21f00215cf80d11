/**
 * PostgreSQL breaks a deadlock by aborting one transaction of the cycle (SQLSTATE 40P01);
 * the database layer runs that one again, so a request caught in one is never a 500.
 * SQLite runs one transaction at a time and cannot deadlock: the test is PostgreSQL's.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, lockName, type Db } from '../../src/db/database.js';
import { freshDatabase } from '../support.js';

let db: Db | undefined;
let drop: () => Promise<void> = async () => {};

before(async () => {
  const fresh = await freshDatabase();
  drop = fresh.drop;
  if (fresh.url) db = await openDatabase(fresh.url);
});

after(async () => {
  await db?.destroy();
  await drop();
});

const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
};

test('two transactions that take two locks in opposite orders both commit: the one PostgreSQL aborts runs again', { skip: !process.env.NIMBUS_TEST_DATABASE_URL && 'PostgreSQL only: SQLite transactions run one at a time' }, async () => {
  const aHeld = gate();
  const bHeld = gate();
  let runs = 0;
  const inOrder = (first: string, second: string, held: ReturnType<typeof gate>, other: ReturnType<typeof gate>) =>
    db!.transaction().execute(async (tx) => {
      runs++;
      await lockName(tx, first);
      held.open();
      await other.opened;
      await lockName(tx, second);
      return `${first}${second}`;
    });
  const results = await Promise.all([inOrder('a', 'b', aHeld, bHeld), inOrder('b', 'a', bHeld, aHeld)]);
  assert.deepEqual(results, ['ab', 'ba']);
  assert.equal(runs, 3, 'one of the two ran a second time');
});
