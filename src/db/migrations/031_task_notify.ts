import { Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * On PostgreSQL a task that becomes pending (enqueued, handed off to a host, its lease
 * expired) wakes the processes that may run it: NOTIFY nimbus_tasks with its host ('' for
 * a conductor's). It is the database's doing, so every enqueue, from any process, wakes
 * the runners at commit; polling stays as the fallback. SQLite has one process: nothing to do.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (!(await isPostgres(db))) return;
  await sql`
    create or replace function nimbus_task_pending() returns trigger language plpgsql as $$
    begin
      perform pg_notify('nimbus_tasks', coalesce(new.host, ''));
      return null;
    end $$`.execute(db);
  await sql`
    create trigger tasks_pending after insert or update of status, host on tasks
    for each row when (new.status = 'pending') execute function nimbus_task_pending()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (!(await isPostgres(db))) return;
  await sql`drop trigger if exists tasks_pending on tasks`.execute(db);
  await sql`drop function if exists nimbus_task_pending()`.execute(db);
}

async function isPostgres(db: Kysely<unknown>): Promise<boolean> {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
