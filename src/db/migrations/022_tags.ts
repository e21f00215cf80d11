import { Kysely } from 'kysely';

/**
 * CloudSigma's tags as resources of their own (issue 7): a project's tag exists with its
 * meta even when it tags nothing. What it tags stays where it was: a server's tags are its
 * server_tags (Nova's), a drive's its tags list, both by the tag's name.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('tags')
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('meta', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('tags_pk', ['project_id', 'name'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('tags').execute();
}
