import { Kysely } from 'kysely';

/**
 * Keystone keeps the attributes of users and projects it does not know in an `extra` JSON
 * column and shows them back as attributes (Tempest's dynamic credentials create users with
 * `project_id`, others send `description`): a JSON object as text, `{}` when there are none.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}')).execute();
  await db.schema.alterTable('projects').addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}')).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('extra').execute();
  await db.schema.alterTable('projects').dropColumn('extra').execute();
}
