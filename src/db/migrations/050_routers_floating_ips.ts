import { Kysely } from 'kysely';

/**
 * Neutron L3: routers (their gateway on an external network; their interfaces and gateway
 * are ports with a network:router_* owner, as in Neutron) and floating IPs (an address held
 * by a network:floatingip port on the external network, pointed at a port's fixed IP).
 * Networks gain `is_default` (the external network auto-allocated topologies use).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('networks').addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0)).execute();

  await db.schema
    .createTable('routers')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('description', 'varchar(255)', (c) => c.notNull())
    .addColumn('admin_state_up', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    // The external network of its gateway (null: none); the gateway's port has device_owner network:router_gateway.
    .addColumn('gw_network_id', 'varchar(36)', (c) => c.references('networks.id'))
    .addColumn('enable_snat', 'integer', (c) => c.notNull())
    .addColumn('revision_number', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('routers_project').on('routers').columns(['project_id']).execute();

  await db.schema
    .createTable('floating_ips')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('floating_network_id', 'varchar(36)', (c) => c.notNull().references('networks.id'))
    .addColumn('floating_ip_address', 'varchar(64)', (c) => c.notNull())
    // The port holding the address on the external network: the floating IP goes with it.
    .addColumn('floating_port_id', 'varchar(36)', (c) => c.notNull().references('ports.id').onDelete('cascade'))
    // The port it points at: a port deleted (its server gone) leaves the floating IP unassociated.
    .addColumn('fixed_port_id', 'varchar(36)', (c) => c.references('ports.id').onDelete('set null'))
    .addColumn('fixed_ip_address', 'varchar(64)')
    .addColumn('router_id', 'varchar(36)')
    .addColumn('description', 'varchar(255)', (c) => c.notNull())
    .addColumn('revision_number', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('floating_ips_project').on('floating_ips').columns(['project_id']).execute();
  await db.schema.createIndex('floating_ips_fixed_port').on('floating_ips').columns(['fixed_port_id']).execute();
  await db.schema.createIndex('floating_ips_address').on('floating_ips').columns(['floating_ip_address']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('floating_ips').execute();
  await db.schema.dropTable('routers').execute();
  await db.schema.alterTable('networks').dropColumn('is_default').execute();
}
