import { Kysely } from 'kysely';

/**
 * Where each compute host's process answers the calls other processes make to it (console
 * output, set password, consoles …), with the random secret it takes. A table of its own,
 * not columns of `hosts`: `hosts` rows are read whole for API answers, and the secret must
 * never reach one. The host's process rewrites its row at every start (a new secret each time).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('host_endpoints')
    .addColumn('host', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('url', 'varchar(255)', (c) => c.notNull())
    .addColumn('secret', 'varchar(128)', (c) => c.notNull())
    .addColumn('driver', 'varchar(32)', (c) => c.notNull())
    /** What the host's driver says of itself that the database's hosts row does not hold (JSON). */
    .addColumn('info', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('host_endpoints').execute();
}
