import { Kysely } from 'kysely';

/**
 * CloudSigma's global context: key-value pairs every server of an account sees in its
 * server context (`global_context`). Nimbus's account is the project: one row per project,
 * made on first write.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('global_contexts')
    .addColumn('project_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('context', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('global_contexts').execute();
}
