import { Kysely } from 'kysely';

/**
 * The instance-action event a task started: a task resumed after a crash finishes that
 * event instead of starting a second one.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tasks').addColumn('event_id', 'varchar(36)').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tasks').dropColumn('event_id').execute();
}
