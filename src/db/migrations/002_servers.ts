import { Kysely } from 'kysely';

/** Servers, the hosts they run on, the durable tasks that drive them, and their action history. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('hosts')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('num_id', 'integer', (c) => c.notNull().unique())
    .addColumn('service_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
    .addColumn('driver', 'varchar(32)', (c) => c.notNull())
    .addColumn('availability_zone', 'varchar(255)', (c) => c.notNull())
    .addColumn('vcpus', 'integer', (c) => c.notNull())
    .addColumn('memory_mb', 'integer', (c) => c.notNull())
    .addColumn('local_gb', 'integer', (c) => c.notNull())
    .addColumn('host_ip', 'varchar(64)', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('disabled_reason', 'text')
    .addColumn('forced_down', 'integer', (c) => c.notNull())
    .addColumn('last_seen_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('servers')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('hostname', 'varchar(255)', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('vm_state', 'varchar(32)', (c) => c.notNull())
    .addColumn('task_state', 'varchar(64)')
    .addColumn('power_state', 'integer', (c) => c.notNull())
    .addColumn('progress', 'integer', (c) => c.notNull())
    .addColumn('flavor_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('flavor', 'text', (c) => c.notNull())
    .addColumn('vcpus', 'integer', (c) => c.notNull())
    .addColumn('memory_mb', 'integer', (c) => c.notNull())
    .addColumn('disk_gb', 'integer', (c) => c.notNull())
    .addColumn('image_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('host', 'varchar(255)')
    .addColumn('availability_zone', 'varchar(255)')
    .addColumn('key_name', 'varchar(255)')
    .addColumn('key_data', 'text')
    .addColumn('user_data', 'text')
    .addColumn('config_drive', 'varchar(16)', (c) => c.notNull())
    .addColumn('access_ipv4', 'varchar(64)', (c) => c.notNull())
    .addColumn('access_ipv6', 'varchar(64)', (c) => c.notNull())
    .addColumn('disk_config', 'varchar(16)', (c) => c.notNull())
    .addColumn('locked', 'integer', (c) => c.notNull())
    .addColumn('locked_by', 'varchar(16)')
    .addColumn('locked_reason', 'text')
    .addColumn('metadata', 'text', (c) => c.notNull())
    .addColumn('security_groups', 'text', (c) => c.notNull())
    .addColumn('addresses', 'text', (c) => c.notNull())
    .addColumn('fault', 'text')
    .addColumn('reservation_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('launch_index', 'integer', (c) => c.notNull())
    .addColumn('request_spec', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('launched_at', 'varchar(32)')
    .addColumn('terminated_at', 'varchar(32)')
    .addColumn('deleted_at', 'varchar(32)')
    .addColumn('deleted', 'integer', (c) => c.notNull())
    .execute();
  // The list's default order (newest first) within a project, and the admin view across projects.
  await db.schema.createIndex('servers_project_created').on('servers').columns(['project_id', 'deleted', 'created_at', 'id']).execute();
  await db.schema.createIndex('servers_created').on('servers').columns(['deleted', 'created_at', 'id']).execute();
  await db.schema.createIndex('servers_updated').on('servers').columns(['updated_at']).execute();
  await db.schema.createIndex('servers_host').on('servers').columns(['host', 'deleted']).execute();

  await db.schema
    .createTable('server_tags')
    .addColumn('server_id', 'varchar(36)', (c) => c.notNull().references('servers.id').onDelete('cascade'))
    .addColumn('tag', 'varchar(80)', (c) => c.notNull())
    .addPrimaryKeyConstraint('server_tags_pk', ['server_id', 'tag'])
    .execute();
  await db.schema.createIndex('server_tags_tag').on('server_tags').columns(['tag']).execute();

  await db.schema
    .createTable('tasks')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('server_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('kind', 'varchar(64)', (c) => c.notNull())
    .addColumn('step', 'varchar(64)', (c) => c.notNull())
    .addColumn('params', 'text', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('lease_owner', 'varchar(64)')
    .addColumn('lease_until', 'varchar(32)')
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('not_before', 'varchar(32)', (c) => c.notNull())
    .addColumn('action_id', 'varchar(36)')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('tasks_status').on('tasks').columns(['status', 'not_before']).execute();
  await db.schema.createIndex('tasks_server').on('tasks').columns(['server_id', 'status']).execute();

  await db.schema
    .createTable('instance_actions')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('server_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('action', 'varchar(64)', (c) => c.notNull())
    .addColumn('request_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('message', 'text')
    .addColumn('start_time', 'varchar(32)', (c) => c.notNull())
    .addColumn('finish_time', 'varchar(32)')
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('instance_actions_server').on('instance_actions').columns(['server_id', 'start_time']).execute();

  await db.schema
    .createTable('instance_action_events')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('action_id', 'varchar(36)', (c) => c.notNull().references('instance_actions.id').onDelete('cascade'))
    .addColumn('event', 'varchar(64)', (c) => c.notNull())
    .addColumn('host', 'varchar(255)')
    .addColumn('result', 'varchar(16)')
    .addColumn('traceback', 'text')
    .addColumn('details', 'text')
    .addColumn('start_time', 'varchar(32)', (c) => c.notNull())
    .addColumn('finish_time', 'varchar(32)')
    .execute();
  await db.schema.createIndex('instance_action_events_action').on('instance_action_events').columns(['action_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ['instance_action_events', 'instance_actions', 'tasks', 'server_tags', 'servers', 'hosts']) {
    await db.schema.dropTable(t).execute();
  }
}
