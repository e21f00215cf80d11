import { Kysely } from 'kysely';

/**
 * Revocation events (a password change, a disabled user, a removed role, a disabled or
 * deleted project) mark every token of a user, a project or both revoked: index those
 * columns so an event is one indexed update however many tokens the table holds.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('tokens_user_project').on('tokens').columns(['user_id', 'project_id']).execute();
  await db.schema.createIndex('tokens_project').on('tokens').column('project_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('tokens_project').execute();
  await db.schema.dropIndex('tokens_user_project').execute();
}
