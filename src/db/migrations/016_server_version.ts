import { Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * A server row's version: bumped by the database on every update of the row, whatever
 * wrote it (every task step, action, network change … and the ones not written yet), so
 * that a view rendered from the row can be kept and known to be current by comparing one
 * integer instead of reading the row's 41 columns again. Versions only grow; ids are
 * never reused, so (id, version) names one content of a row for good.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema.alterTable('servers').addColumn('version', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  if (postgres) {
    await sql
      .raw(`CREATE FUNCTION server_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.version := OLD.version + 1; RETURN NEW; END $$`)
      .execute(db);
    await sql.raw(`CREATE TRIGGER server_version BEFORE UPDATE ON servers FOR EACH ROW EXECUTE FUNCTION server_version_bump()`).execute(db);
  } else {
    // SQLite's triggers cannot change NEW: a second update of the row, which does not fire
    // this trigger again (its WHEN no longer holds, and recursive triggers are off).
    await sql
      .raw(`CREATE TRIGGER server_version AFTER UPDATE ON servers WHEN NEW.version = OLD.version BEGIN UPDATE servers SET version = OLD.version + 1 WHERE id = OLD.id; END`)
      .execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  if (postgres) {
    await sql.raw('DROP TRIGGER server_version ON servers').execute(db);
    await sql.raw('DROP FUNCTION server_version_bump()').execute(db);
  } else {
    await sql.raw('DROP TRIGGER server_version').execute(db);
  }
  await db.schema.alterTable('servers').dropColumn('version').execute();
}
