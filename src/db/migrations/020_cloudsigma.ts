import { Kysely } from 'kysely';

/**
 * The CloudSigma face (issue 7): users keep HTTP Digest's HA1 beside their scrypt hash (a
 * Digest answer cannot be checked otherwise), and a server keeps the parts of its CloudSigma
 * definition the core has no column for (cpu MHz, vnc_password, nics, context …) as JSON;
 * null for a server made through the compute API, which the face shows with defaults.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').addColumn('digest_ha1', 'varchar(32)').execute();
  await db.schema.alterTable('servers').addColumn('cloudsigma', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('servers').dropColumn('cloudsigma').execute();
  await db.schema.alterTable('users').dropColumn('digest_ha1').execute();
}
