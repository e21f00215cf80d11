import { Kysely } from 'kysely';

/**
 * Two more orders the servers list reads a page in, so that it stops at the limit instead
 * of reading the whole project (measured at 1,000,000 servers, BENCHMARKS.md):
 * - by status (`status=ERROR`, a vm_state): a project's servers of one state, newest first;
 *   without it a status few servers have read every server of the project (1.2 s alone);
 * - newest first whether deleted or not: `changes-since` and `changes-before` lists show
 *   deleted servers too, so servers_project_created (whose second column is `deleted`) could
 *   not give their order, and a day of changes was sorted whole (0.35 s alone, 3.7 s under load).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('servers_project_state').ifNotExists().on('servers').columns(['project_id', 'deleted', 'vm_state', 'created_at', 'id']).execute();
  await db.schema.createIndex('servers_project_any_created').ifNotExists().on('servers').columns(['project_id', 'created_at', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('servers_project_state').ifExists().execute();
  await db.schema.dropIndex('servers_project_any_created').ifExists().execute();
}
