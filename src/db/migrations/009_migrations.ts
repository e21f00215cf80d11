import { Kysely } from 'kysely';

/** Migration records: resize, cold and live migration, evacuation (Nova's migrations table). */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('migrations')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
    .addColumn('server_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('migration_type', 'varchar(32)', (c) => c.notNull())
    .addColumn('status', 'varchar(32)', (c) => c.notNull())
    .addColumn('source_host', 'varchar(255)')
    .addColumn('dest_host', 'varchar(255)')
    .addColumn('old_flavor', 'text', (c) => c.notNull())
    .addColumn('new_flavor', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('migrations_server').on('migrations').columns(['server_id', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('migrations').execute();
}
