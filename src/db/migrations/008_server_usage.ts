import { Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * What live servers hold, summed per project, user, host and vm_state, and kept by the
 * database itself: triggers on `servers` add a row's share when it becomes live (inserted,
 * or moved, with deleted = 0) and take it back when it stops being so. Quota usage and the
 * scheduler's host usage used to sum `servers` on every create (~230 ms of CPU per create
 * at 100,000 servers); they read these few rows instead, so a create costs the same at any
 * size. Triggers rather than application code, so that every path that writes a server
 * (build, delete, resize, shelve, evacuate … and the ones not written yet) keeps it right
 * in the same transaction.
 *
 * `host` is '' for a server without one, so that the key has no NULL in it. Rows whose
 * counts fall to zero stay; they add nothing to any sum.
 */
const TRACKED = ['project_id', 'user_id', 'host', 'vm_state', 'vcpus', 'memory_mb', 'disk_gb', 'deleted'];
const changed = TRACKED.map((c) => `OLD.${c} IS DISTINCT FROM NEW.${c}`).join(' OR ');

export async function up(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .createTable('server_usage')
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('host', 'varchar(255)', (c) => c.notNull())
    .addColumn('vm_state', 'varchar(32)', (c) => c.notNull())
    .addColumn('instances', 'integer', (c) => c.notNull())
    .addColumn('vcpus', 'integer', (c) => c.notNull())
    .addColumn('memory_mb', 'bigint', (c) => c.notNull())
    .addColumn('disk_gb', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('server_usage_pk', ['project_id', 'user_id', 'host', 'vm_state'])
    .execute();

  const add = (row: 'NEW') => `
    INSERT INTO server_usage (project_id, user_id, host, vm_state, instances, vcpus, memory_mb, disk_gb)
    VALUES (${row}.project_id, ${row}.user_id, coalesce(${row}.host, ''), ${row}.vm_state, 1, ${row}.vcpus, ${row}.memory_mb, ${row}.disk_gb)
    ON CONFLICT (project_id, user_id, host, vm_state) DO UPDATE SET
      instances = server_usage.instances + 1, vcpus = server_usage.vcpus + excluded.vcpus,
      memory_mb = server_usage.memory_mb + excluded.memory_mb, disk_gb = server_usage.disk_gb + excluded.disk_gb`;
  const take = (row: 'OLD') => `
    UPDATE server_usage SET instances = instances - 1, vcpus = vcpus - ${row}.vcpus, memory_mb = memory_mb - ${row}.memory_mb, disk_gb = disk_gb - ${row}.disk_gb
    WHERE project_id = ${row}.project_id AND user_id = ${row}.user_id AND host = coalesce(${row}.host, '') AND vm_state = ${row}.vm_state`;

  if (postgres) {
    // Two rows change when a server moves; taking them in key order keeps two such moves
    // in opposite directions from deadlocking each other.
    await sql
      .raw(
        `CREATE FUNCTION server_usage_track() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
          old_first boolean := true;
        BEGIN
          IF TG_OP = 'UPDATE' AND OLD.deleted = 0 AND NEW.deleted = 0 THEN
            old_first := (OLD.project_id, OLD.user_id, coalesce(OLD.host, ''), OLD.vm_state) < (NEW.project_id, NEW.user_id, coalesce(NEW.host, ''), NEW.vm_state);
          END IF;
          IF TG_OP <> 'INSERT' AND OLD.deleted = 0 AND old_first THEN ${take('OLD')}; END IF;
          IF TG_OP <> 'DELETE' AND NEW.deleted = 0 THEN ${add('NEW')}; END IF;
          IF TG_OP <> 'INSERT' AND OLD.deleted = 0 AND NOT old_first THEN ${take('OLD')}; END IF;
          RETURN NULL;
        END $$`,
      )
      .execute(db);
    await sql.raw(`CREATE TRIGGER server_usage_insert_delete AFTER INSERT OR DELETE ON servers FOR EACH ROW EXECUTE FUNCTION server_usage_track()`).execute(db);
    await sql
      .raw(`CREATE TRIGGER server_usage_update AFTER UPDATE OF ${TRACKED.join(', ')} ON servers FOR EACH ROW WHEN (${changed}) EXECUTE FUNCTION server_usage_track()`)
      .execute(db);
  } else {
    await sql.raw(`CREATE TRIGGER server_usage_insert AFTER INSERT ON servers WHEN NEW.deleted = 0 BEGIN ${add('NEW')}; END`).execute(db);
    await sql.raw(`CREATE TRIGGER server_usage_delete AFTER DELETE ON servers WHEN OLD.deleted = 0 BEGIN ${take('OLD')}; END`).execute(db);
    // SQLite runs a trigger's statements in order with no IF: each one tests its own row's liveness.
    await sql
      .raw(
        `CREATE TRIGGER server_usage_update AFTER UPDATE OF ${TRACKED.join(', ')} ON servers WHEN ${changed.replaceAll('IS DISTINCT FROM', 'IS NOT')}
        BEGIN
          ${take('OLD')} AND OLD.deleted = 0;
          ${add('NEW').replace(/VALUES \((.*)\)\n/, 'SELECT $1 WHERE NEW.deleted = 0\n')};
        END`,
      )
      .execute(db);
  }

  // The servers already there.
  await sql
    .raw(
      `INSERT INTO server_usage (project_id, user_id, host, vm_state, instances, vcpus, memory_mb, disk_gb)
      SELECT project_id, user_id, coalesce(host, ''), vm_state, count(*), sum(vcpus), sum(memory_mb), sum(disk_gb)
      FROM servers WHERE deleted = 0 GROUP BY project_id, user_id, coalesce(host, ''), vm_state`,
    )
    .execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  if (postgres) {
    await sql.raw('DROP TRIGGER server_usage_insert_delete ON servers').execute(db);
    await sql.raw('DROP TRIGGER server_usage_update ON servers').execute(db);
    await sql.raw('DROP FUNCTION server_usage_track()').execute(db);
  } else {
    for (const t of ['server_usage_insert', 'server_usage_delete', 'server_usage_update']) await sql.raw(`DROP TRIGGER ${t}`).execute(db);
  }
  await db.schema.dropTable('server_usage').execute();
}
