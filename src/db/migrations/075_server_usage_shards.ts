import { Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * server_usage (migration 008) kept one row per project, user, host and vm_state, and every
 * transaction that writes a server of that key updates that row and holds its lock until it
 * commits: all creates of a project waited for each other (each server is inserted
 * `building` with no host), and a build's placement, under the cluster-wide placement lock,
 * waited for them too. On PostgreSQL each key now has up to SHARDS rows, a server's share
 * always in the same one (a hash of its id), so writers of different servers rarely meet;
 * readers sum the rows as before, and do not name the shard.
 *
 * SQLite has one writer at a time whatever the rows: nothing changes there.
 */
const SHARDS = 16;

export async function up(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql.raw(`CREATE FUNCTION server_usage_shard(id text) RETURNS smallint LANGUAGE sql IMMUTABLE AS $$ SELECT (get_byte(decode(md5(id), 'hex'), 0) % ${SHARDS})::smallint $$`).execute(db);
  await sql.raw('ALTER TABLE server_usage ADD COLUMN shard smallint NOT NULL DEFAULT 0').execute(db);
  await sql.raw('ALTER TABLE server_usage DROP CONSTRAINT server_usage_pk').execute(db);
  // The servers already there, each counted in its own shard (the same sums, spread).
  await sql.raw('LOCK TABLE servers IN SHARE MODE').execute(db);
  await sql.raw('DELETE FROM server_usage').execute(db);
  await sql
    .raw(
      `INSERT INTO server_usage (project_id, user_id, host, vm_state, shard, instances, vcpus, memory_mb, disk_gb)
      SELECT project_id, user_id, coalesce(host, ''), vm_state, server_usage_shard(id), count(*), sum(vcpus), sum(memory_mb), sum(disk_gb)
      FROM servers WHERE deleted = 0 GROUP BY project_id, user_id, coalesce(host, ''), vm_state, server_usage_shard(id)`,
    )
    .execute(db);
  await sql.raw('ALTER TABLE server_usage ADD CONSTRAINT server_usage_pk PRIMARY KEY (project_id, user_id, host, vm_state, shard)').execute(db);
  await sql.raw(trackFunction(true)).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql.raw(trackFunction(false)).execute(db);
  await sql.raw('ALTER TABLE server_usage DROP CONSTRAINT server_usage_pk').execute(db);
  await sql
    .raw(
      `CREATE TEMPORARY TABLE server_usage_merged AS SELECT project_id, user_id, host, vm_state, sum(instances)::integer AS instances,
      sum(vcpus)::integer AS vcpus, sum(memory_mb)::bigint AS memory_mb, sum(disk_gb)::bigint AS disk_gb FROM server_usage GROUP BY project_id, user_id, host, vm_state`,
    )
    .execute(db);
  await sql.raw('DELETE FROM server_usage').execute(db);
  await sql.raw('ALTER TABLE server_usage DROP COLUMN shard').execute(db);
  await sql.raw('INSERT INTO server_usage SELECT project_id, user_id, host, vm_state, instances, vcpus, memory_mb, disk_gb FROM server_usage_merged').execute(db);
  await sql.raw('DROP TABLE server_usage_merged').execute(db);
  await sql.raw('ALTER TABLE server_usage ADD CONSTRAINT server_usage_pk PRIMARY KEY (project_id, user_id, host, vm_state)').execute(db);
  await sql.raw('DROP FUNCTION server_usage_shard(text)').execute(db);
}

/** Migration 008's trigger function, with the server's shard in the key when `sharded`. */
function trackFunction(sharded: boolean): string {
  const shard = (row: 'OLD' | 'NEW') => (sharded ? ` AND shard = server_usage_shard(${row}.id)` : '');
  const add = `
    INSERT INTO server_usage (project_id, user_id, host, vm_state${sharded ? ', shard' : ''}, instances, vcpus, memory_mb, disk_gb)
    VALUES (NEW.project_id, NEW.user_id, coalesce(NEW.host, ''), NEW.vm_state${sharded ? ', server_usage_shard(NEW.id)' : ''}, 1, NEW.vcpus, NEW.memory_mb, NEW.disk_gb)
    ON CONFLICT (project_id, user_id, host, vm_state${sharded ? ', shard' : ''}) DO UPDATE SET
      instances = server_usage.instances + 1, vcpus = server_usage.vcpus + excluded.vcpus,
      memory_mb = server_usage.memory_mb + excluded.memory_mb, disk_gb = server_usage.disk_gb + excluded.disk_gb`;
  const take = `
    UPDATE server_usage SET instances = instances - 1, vcpus = vcpus - OLD.vcpus, memory_mb = memory_mb - OLD.memory_mb, disk_gb = disk_gb - OLD.disk_gb
    WHERE project_id = OLD.project_id AND user_id = OLD.user_id AND host = coalesce(OLD.host, '') AND vm_state = OLD.vm_state${shard('OLD')}`;
  // As in 008: two rows change when a server moves, taken in key order against deadlocks.
  // A server's id never changes, so both of its rows are in its one shard.
  return `CREATE OR REPLACE FUNCTION server_usage_track() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      old_first boolean := true;
    BEGIN
      IF TG_OP = 'UPDATE' AND OLD.deleted = 0 AND NEW.deleted = 0 THEN
        old_first := (OLD.project_id, OLD.user_id, coalesce(OLD.host, ''), OLD.vm_state) < (NEW.project_id, NEW.user_id, coalesce(NEW.host, ''), NEW.vm_state);
      END IF;
      IF TG_OP <> 'INSERT' AND OLD.deleted = 0 AND old_first THEN ${take}; END IF;
      IF TG_OP <> 'DELETE' AND NEW.deleted = 0 THEN ${add}; END IF;
      IF TG_OP <> 'INSERT' AND OLD.deleted = 0 AND NOT old_first THEN ${take}; END IF;
      RETURN NULL;
    END $$`;
}
