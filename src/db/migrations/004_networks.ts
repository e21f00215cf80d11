import { Kysely } from 'kysely';

/**
 * The Networking v2.0 subset: networks with their subnets, ports with the addresses IPAM
 * gave them, and security groups with their rules.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('networks')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('description', 'varchar(255)', (c) => c.notNull())
    .addColumn('admin_state_up', 'integer', (c) => c.notNull())
    .addColumn('shared', 'integer', (c) => c.notNull())
    .addColumn('external', 'integer', (c) => c.notNull())
    .addColumn('mtu', 'integer', (c) => c.notNull())
    .addColumn('port_security_enabled', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('revision_number', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('networks_project').on('networks').columns(['project_id']).execute();

  await db.schema
    .createTable('subnets')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('network_id', 'varchar(36)', (c) => c.notNull().references('networks.id').onDelete('cascade'))
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('description', 'varchar(255)', (c) => c.notNull())
    .addColumn('ip_version', 'integer', (c) => c.notNull())
    .addColumn('cidr', 'varchar(64)', (c) => c.notNull())
    .addColumn('gateway_ip', 'varchar(64)')
    .addColumn('allocation_pools', 'text', (c) => c.notNull())
    .addColumn('enable_dhcp', 'integer', (c) => c.notNull())
    .addColumn('dns_nameservers', 'text', (c) => c.notNull())
    .addColumn('host_routes', 'text', (c) => c.notNull())
    .addColumn('ipv6_ra_mode', 'varchar(16)')
    .addColumn('ipv6_address_mode', 'varchar(16)')
    .addColumn('revision_number', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('subnets_network').on('subnets').columns(['network_id', 'created_at']).execute();

  await db.schema
    .createTable('ports')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('network_id', 'varchar(36)', (c) => c.notNull().references('networks.id').onDelete('cascade'))
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('description', 'varchar(255)', (c) => c.notNull())
    .addColumn('mac_address', 'varchar(32)', (c) => c.notNull())
    .addColumn('admin_state_up', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('device_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('device_owner', 'varchar(255)', (c) => c.notNull())
    .addColumn('port_security_enabled', 'integer', (c) => c.notNull())
    .addColumn('binding_host_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('binding_vnic_type', 'varchar(64)', (c) => c.notNull())
    .addColumn('binding_profile', 'text', (c) => c.notNull())
    // Nova deletes the ports it created for a server and only unbinds those it was given.
    .addColumn('delete_with_device', 'integer', (c) => c.notNull())
    .addColumn('revision_number', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addUniqueConstraint('ports_network_mac', ['network_id', 'mac_address'])
    .execute();
  await db.schema.createIndex('ports_project').on('ports').columns(['project_id']).execute();
  await db.schema.createIndex('ports_device').on('ports').columns(['device_id']).execute();

  // One row per address a port holds; the primary key is what makes an address taken.
  await db.schema
    .createTable('ip_allocations')
    .addColumn('subnet_id', 'varchar(36)', (c) => c.notNull().references('subnets.id').onDelete('cascade'))
    .addColumn('ip_address', 'varchar(64)', (c) => c.notNull())
    .addColumn('port_id', 'varchar(36)', (c) => c.notNull().references('ports.id').onDelete('cascade'))
    .addColumn('network_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('ip_allocations_pk', ['subnet_id', 'ip_address'])
    .execute();
  await db.schema.createIndex('ip_allocations_port').on('ip_allocations').columns(['port_id']).execute();

  await db.schema
    .createTable('security_groups')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('description', 'varchar(255)', (c) => c.notNull())
    .addColumn('stateful', 'integer', (c) => c.notNull())
    .addColumn('revision_number', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('security_groups_project').on('security_groups').columns(['project_id', 'name']).execute();

  // As Neutron's default_security_group table: the key makes "one default per project" hold under races.
  await db.schema
    .createTable('default_security_groups')
    .addColumn('project_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('security_group_id', 'varchar(36)', (c) => c.notNull().references('security_groups.id').onDelete('cascade'))
    .execute();

  await db.schema
    .createTable('security_group_rules')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('security_group_id', 'varchar(36)', (c) => c.notNull().references('security_groups.id').onDelete('cascade'))
    .addColumn('direction', 'varchar(16)', (c) => c.notNull())
    .addColumn('ethertype', 'varchar(8)', (c) => c.notNull())
    .addColumn('protocol', 'varchar(32)')
    .addColumn('port_range_min', 'integer')
    .addColumn('port_range_max', 'integer')
    .addColumn('remote_ip_prefix', 'varchar(64)')
    .addColumn('remote_group_id', 'varchar(36)', (c) => c.references('security_groups.id').onDelete('cascade'))
    .addColumn('description', 'varchar(255)', (c) => c.notNull())
    .addColumn('revision_number', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('security_group_rules_group').on('security_group_rules').columns(['security_group_id']).execute();

  await db.schema
    .createTable('port_security_groups')
    .addColumn('port_id', 'varchar(36)', (c) => c.notNull().references('ports.id').onDelete('cascade'))
    .addColumn('security_group_id', 'varchar(36)', (c) => c.notNull().references('security_groups.id'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('port_security_groups_pk', ['port_id', 'security_group_id'])
    .execute();
  await db.schema.createIndex('port_security_groups_group').on('port_security_groups').columns(['security_group_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ['port_security_groups', 'security_group_rules', 'default_security_groups', 'security_groups', 'ip_allocations', 'ports', 'subnets', 'networks']) {
    await db.schema.dropTable(t).execute();
  }
}
