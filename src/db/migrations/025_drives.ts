import { Kysely } from 'kysely';

/**
 * Drives (block storage) as a core resource, beside servers: a drive has a size, media and
 * storage type, a status, and attachments to servers. Snapshots are point-in-time copies of
 * a drive; jobs are the progress of long drive and server operations that clients watch
 * (CloudSigma's /jobs/). A drive's long operations are durable tasks keyed by the drive's id.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('drives')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('media', 'varchar(8)', (c) => c.notNull())
    .addColumn('storage_type', 'varchar(32)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('allow_multimount', 'integer', (c) => c.notNull())
    .addColumn('meta', 'text', (c) => c.notNull())
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('affinities', 'text', (c) => c.notNull())
    .addColumn('licenses', 'text', (c) => c.notNull())
    .addColumn('image_id', 'varchar(36)')
    .addColumn('location', 'varchar(64)')
    .addColumn('server_root', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('drives_project').on('drives').columns(['project_id', 'id']).execute();

  await db.schema
    .createTable('drive_attachments')
    .addColumn('drive_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('server_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('boot_order', 'integer')
    .addColumn('dev_channel', 'varchar(16)', (c) => c.notNull())
    .addColumn('device', 'varchar(16)', (c) => c.notNull())
    .addColumn('delete_on_termination', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('drive_attachments_pk', ['drive_id', 'server_id'])
    .execute();
  await db.schema.createIndex('drive_attachments_server').on('drive_attachments').columns(['server_id']).execute();

  await db.schema
    .createTable('drive_snapshots')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('drive_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('meta', 'text', (c) => c.notNull())
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('allocated_size', 'bigint', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('drive_snapshots_drive').on('drive_snapshots').columns(['drive_id']).execute();
  await db.schema.createIndex('drive_snapshots_project').on('drive_snapshots').columns(['project_id', 'id']).execute();

  await db.schema
    .createTable('jobs')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('operation', 'varchar(32)', (c) => c.notNull())
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('progress', 'integer', (c) => c.notNull())
    .addColumn('parent_id', 'varchar(36)')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('jobs_project').on('jobs').columns(['project_id', 'updated_at']).execute();
  await db.schema.createIndex('jobs_parent').on('jobs').columns(['parent_id']).execute();

  // The resources a job concerns, in order (a clone's source, then its copy).
  await db.schema
    .createTable('job_resources')
    .addColumn('job_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('resource_id', 'varchar(36)', (c) => c.notNull())
    .addPrimaryKeyConstraint('job_resources_pk', ['job_id', 'position'])
    .execute();
  await db.schema.createIndex('job_resources_resource').on('job_resources').columns(['resource_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ['job_resources', 'jobs', 'drive_snapshots', 'drive_attachments', 'drives']) await db.schema.dropTable(t).execute();
}
