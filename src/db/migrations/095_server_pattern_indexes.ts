import { Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * Trigram indexes (pg_trgm) on the servers' names and addresses, PostgreSQL only: the list's
 * name, ip and ip6 filters are regular expressions, which PostgreSQL can answer from these
 * for the literal parts of a pattern (`web-1234`, `10\.1\.226\.`) instead of reading every
 * server of a project (2-3 s at 1,000,000 servers, 0.1-0.2 s with them; BENCHMARKS.md).
 * pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it. Where
 * it is missing or may not be created, the migration leaves it: the filters still work, by
 * reading the project's servers in order, within the list's statement bound.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  const { rows } = await sql<{ installed: boolean; available: boolean; allowed: boolean }>`
    select exists (select 1 from pg_extension where extname = 'pg_trgm') as installed,
           exists (select 1 from pg_available_extensions where name = 'pg_trgm') as available,
           has_database_privilege(current_database(), 'CREATE') as allowed`.execute(db);
  const { installed, available, allowed } = rows[0];
  if (!installed && !(available && allowed)) return;
  await sql`create extension if not exists pg_trgm`.execute(db);
  await sql`create index if not exists servers_name_trgm on servers using gin (name gin_trgm_ops)`.execute(db);
  await sql`create index if not exists servers_addresses_trgm on servers using gin (addresses gin_trgm_ops)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`drop index if exists servers_name_trgm`.execute(db);
  await sql`drop index if exists servers_addresses_trgm`.execute(db);
}
