import { Kysely } from 'kysely';

/**
 * A user's account profile (CloudSigma's /profile/): how clones of their drives and servers
 * are named, and the free-form account fields they may set. One row per user, made on first write.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('profiles')
    .addColumn('user_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('clone_naming', 'varchar(16)', (c) => c.notNull())
    .addColumn('fields', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('profiles').execute();
}
