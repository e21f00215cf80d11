import { Kysely } from 'kysely';

/**
 * What a cluster of processes shares beyond tasks:
 *  - periodic_jobs: when each periodic job may next run, so that of several conductors one
 *    runs it (the one whose conditional update moved `next_run_at`);
 *  - control_services: the api and conductor processes' heartbeats, shown by /os-services
 *    as nova-conductor and nova-scheduler per process host.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('periodic_jobs')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('next_run_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('owner', 'varchar(64)')
    .execute();
  await db.schema
    .createTable('control_services')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('host', 'varchar(255)', (c) => c.notNull())
    .addColumn('last_seen_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addUniqueConstraint('control_services_kind_host', ['kind', 'host'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('control_services').execute();
  await db.schema.dropTable('periodic_jobs').execute();
}
