import type pg from 'pg';

/**
 * Adds `count` copies of a real server straight into PostgreSQL: one INSERT … SELECT over
 * generate_series, each copy with its own id, name (`seed-<n>`), host name, reservation and
 * creation time (a second apart, older than any before), plus whatever `override` sets (SQL
 * over the copy's number `g`). Then VACUUM ANALYZE and a CHECKPOINT, so that autovacuum's first
 * pass over the new rows (the whole table) does not run during a measurement after it.
 */
export async function copyServers(client: pg.Client, templateId: string, count: number, override: Record<string, string> = {}): Promise<void> {
  const columns: string[] = (await client.query(`select column_name from information_schema.columns where table_name = 'servers' and table_schema = current_schema() order by ordinal_position`)).rows.map((r) => r.column_name);
  const oldest = (await client.query('select min(created_at) t from servers')).rows[0].t as string;
  const iso = (offset: string) => `to_char(($2::timestamptz - (g * interval '1 second') ${offset}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  const values: Record<string, string> = {
    id: 'gen_random_uuid()::text',
    name: `'seed-' || g`,
    hostname: `'seed-' || g`,
    reservation_id: `'r-' || substr(md5(g::text), 1, 8)`,
    created_at: iso(''),
    updated_at: iso(`+ interval '5 milliseconds'`),
    launched_at: iso(`+ interval '5 milliseconds'`),
    ...override,
  };
  const select = columns.map((c) => values[c] ?? `t.${c}`).join(', ');
  // The usage trigger (migration 008) updates one row per inserted server: 1,000,000 updates
  // of one row in one transaction is quadratic. It is held off, and the copies are counted once.
  await client.query('begin');
  await client.query('alter table servers disable trigger server_usage_insert_delete');
  // The copies' usage, added per shard of server_usage (migration 075) in the same statement.
  await client.query(
    `with copies as (insert into servers (${columns.join(', ')}) select ${select} from servers t, generate_series(1, $3::int) g where t.id = $1 returning *)
     insert into server_usage (project_id, user_id, host, vm_state, shard, instances, vcpus, memory_mb, disk_gb)
     select project_id, user_id, coalesce(host, ''), vm_state, server_usage_shard(id), count(*), sum(vcpus), sum(memory_mb), sum(disk_gb) from copies
     group by project_id, user_id, coalesce(host, ''), vm_state, server_usage_shard(id)
     on conflict (project_id, user_id, host, vm_state, shard) do update set instances = server_usage.instances + excluded.instances,
       vcpus = server_usage.vcpus + excluded.vcpus, memory_mb = server_usage.memory_mb + excluded.memory_mb, disk_gb = server_usage.disk_gb + excluded.disk_gb`,
    [templateId, oldest, count],
  );
  await client.query('alter table servers enable trigger server_usage_insert_delete');
  await client.query('commit');
  await client.query('vacuum (analyze) servers');
  await client.query('checkpoint').catch(() => {}); // needs pg_checkpoint or a superuser; the vacuum is what matters most
}
