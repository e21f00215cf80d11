import { Kysely } from 'kysely';

/** Server groups: affinity and anti-affinity, hard or soft, for the scheduler. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('server_groups')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('policy', 'varchar(32)', (c) => c.notNull())
    .addColumn('rules', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('server_groups_project').on('server_groups').columns(['project_id']).execute();
  await db.schema
    .createTable('server_group_members')
    .addColumn('group_id', 'varchar(36)', (c) => c.notNull().references('server_groups.id').onDelete('cascade'))
    .addColumn('server_id', 'varchar(36)', (c) => c.notNull())
    .addPrimaryKeyConstraint('server_group_members_pk', ['group_id', 'server_id'])
    .execute();
  await db.schema.createIndex('server_group_members_server').on('server_group_members').columns(['server_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('server_group_members').execute();
  await db.schema.dropTable('server_groups').execute();
}
