import { Kysely } from 'kysely';

/** Neutron's per-project quota limits (its `quotas` table), apart from Nova's quotas. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('network_quotas')
    .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('resource', 'varchar(255)', (c) => c.notNull())
    .addColumn('hard_limit', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('network_quotas_pk', ['project_id', 'resource'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('network_quotas').execute();
}
