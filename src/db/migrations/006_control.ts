import { Kysely } from 'kysely';

/** Behaviours that people testing their tools ask the control API to inject into builds. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('build_behaviours')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('name_pattern', 'text')
    .addColumn('metadata', 'text', (c) => c.notNull())
    .addColumn('remaining', 'integer', (c) => c.notNull())
    .addColumn('fault_message', 'text')
    .addColumn('fault_code', 'integer', (c) => c.notNull())
    .addColumn('build_ms', 'integer', (c) => c.notNull())
    .addColumn('error_after_ms', 'integer')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('build_behaviours').execute();
}
