import { Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * What else a CloudSigma server view shows besides its row — its tags, its drive
 * attachments, the jobs that concern it — bumps the server's version too, in the same
 * transaction as the change, so that a list can tell a kept view is current from the
 * version alone (016) instead of reading those three tables for every page.
 */
const TABLES: { table: string; column: string }[] = [
  { table: 'server_tags', column: 'server_id' },
  { table: 'drive_attachments', column: 'server_id' },
  // A job's resources are servers or drives; a drive's id names no server, and updates nothing.
  { table: 'job_resources', column: 'resource_id' },
];

export async function up(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  for (const { table, column } of TABLES) {
    if (postgres) {
      await sql
        .raw(
          `CREATE FUNCTION ${table}_bump_server() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
             IF TG_OP <> 'INSERT' THEN UPDATE servers SET version = version + 1 WHERE id = OLD.${column}; END IF;
             IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.${column} <> OLD.${column}) THEN UPDATE servers SET version = version + 1 WHERE id = NEW.${column}; END IF;
             RETURN NULL;
           END $$`,
        )
        .execute(db);
      await sql.raw(`CREATE TRIGGER ${table}_bump_server AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_bump_server()`).execute(db);
    } else {
      await sql.raw(`CREATE TRIGGER ${table}_bump_server_insert AFTER INSERT ON ${table} BEGIN UPDATE servers SET version = version + 1 WHERE id = NEW.${column}; END`).execute(db);
      await sql.raw(`CREATE TRIGGER ${table}_bump_server_delete AFTER DELETE ON ${table} BEGIN UPDATE servers SET version = version + 1 WHERE id = OLD.${column}; END`).execute(db);
      await sql
        .raw(`CREATE TRIGGER ${table}_bump_server_update AFTER UPDATE ON ${table} BEGIN UPDATE servers SET version = version + 1 WHERE id = OLD.${column} OR id = NEW.${column}; END`)
        .execute(db);
    }
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  for (const { table } of TABLES) {
    if (postgres) {
      await sql.raw(`DROP TRIGGER ${table}_bump_server ON ${table}`).execute(db);
      await sql.raw(`DROP FUNCTION ${table}_bump_server()`).execute(db);
    } else {
      for (const op of ['insert', 'delete', 'update']) await sql.raw(`DROP TRIGGER ${table}_bump_server_${op}`).execute(db);
    }
  }
}
