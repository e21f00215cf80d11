import { Kysely } from 'kysely';

/**
 * Keypairs as CloudSigma resources: a uuid each (given on first sight to keypairs made
 * through the compute API) and whether a private key went with it when it was made (the
 * key itself is never kept: it is shown once). Issue 7.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('keypairs').addColumn('uuid', 'varchar(36)').execute();
  await db.schema.alterTable('keypairs').addColumn('has_private_key', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.createIndex('keypairs_uuid').on('keypairs').column('uuid').unique().execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('keypairs_uuid').execute();
  await db.schema.alterTable('keypairs').dropColumn('has_private_key').execute();
  await db.schema.alterTable('keypairs').dropColumn('uuid').execute();
}
