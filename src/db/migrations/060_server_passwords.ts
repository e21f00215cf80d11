import { Kysely } from 'kysely';

/**
 * The password a guest posts to the metadata service (Nova keeps it in the instance's
 * system metadata, password_0..3): one row per server, so that "set only once" is the
 * primary key's, whatever posts race.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('server_passwords')
    .addColumn('server_id', 'varchar(36)', (c) => c.primaryKey().references('servers.id').onDelete('cascade'))
    .addColumn('password', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('server_passwords').execute();
}
