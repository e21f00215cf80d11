import { Kysely } from 'kysely';

/** Neutron's auto_allocated_topologies: one network (and its router) per project, keyed so two allocations at once make one. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('auto_allocated_topologies')
    .addColumn('project_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('network_id', 'varchar(36)', (c) => c.notNull().references('networks.id').onDelete('cascade'))
    .addColumn('router_id', 'varchar(36)', (c) => c.references('routers.id').onDelete('set null'))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('auto_allocated_topologies').execute();
}
