import { Kysely } from 'kysely';

/**
 * HTTP Digest by email, as CloudSigma's accounts log in by email: the Digest secret binds
 * the login to the password (MD5(login:realm:password)), so a user's email login needs a
 * secret of its own beside the name's. Made when the password is set or first used with
 * Basic; dropped when the email changes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').addColumn('digest_email_ha1', 'varchar(32)').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('digest_email_ha1').execute();
}
