import { Kysely } from 'kysely';

/**
 * The host that must run a task: null for any conductor (scheduling, drive work, delayed
 * jobs), a compute host's name for work on its guests. A compute process claims only its own.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tasks').addColumn('host', 'varchar(255)').execute();
  await db.schema.createIndex('tasks_host').on('tasks').columns(['host', 'status']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('tasks_host').execute();
  await db.schema.alterTable('tasks').dropColumn('host').execute();
}
