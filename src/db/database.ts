import { closeSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  CompiledQuery,
  Kysely,
  Migrator,
  sql,
  PostgresAdapter,
  PostgresDialect,
  SqliteDialect,
  SqliteDriver,
  type Compilable,
  type DatabaseConnection,
  type Migration,
  type SqliteDialectConfig,
  type Transaction,
} from 'kysely';
import type { Schema } from './schema.js';
import { makePrivateDir, PRIVATE_FILE } from '../data-dir.js';
import * as m001 from './migrations/001_platform.js';
import * as m002 from './migrations/002_servers.js';
import * as m003 from './migrations/003_keypairs_quotas.js';
import * as m004 from './migrations/004_networks.js';
import * as m005 from './migrations/005_aggregates.js';
import * as m006 from './migrations/006_control.js';
import * as m007 from './migrations/007_server_groups.js';
import * as m008 from './migrations/008_server_usage.js';
import * as m009 from './migrations/009_migrations.js';
import * as m012 from './migrations/012_token_revocation.js';
import * as m013 from './migrations/013_migration_ids.js';
import * as m014 from './migrations/014_task_events.js';
import * as m015 from './migrations/015_network_quotas.js';
import * as m016 from './migrations/016_server_version.js';
import * as m017 from './migrations/017_console_tokens.js';
import * as m018 from './migrations/018_identity_extra.js';
import * as m020 from './migrations/020_cloudsigma.js';
import * as m021 from './migrations/021_keypair_uuids.js';
import * as m022 from './migrations/022_tags.js';
import * as m025 from './migrations/025_drives.js';
import * as m026 from './migrations/026_profiles.js';
import * as m040 from './migrations/040_host_endpoints.js';
import * as m050 from './migrations/050_routers_floating_ips.js';
import * as m051 from './migrations/051_auto_allocated_topologies.js';
import * as m060 from './migrations/060_server_passwords.js';
import * as m085 from './migrations/085_allocation_ratios.js';
import * as m080 from './migrations/080_server_version_of_views.js';
import * as m030 from './migrations/030_task_hosts.js';
import * as m031 from './migrations/031_task_notify.js';
import * as m032 from './migrations/032_cluster_services.js';
import * as m045 from './migrations/045_global_contexts.js';
import * as m046 from './migrations/046_digest_email.js';
import * as m075 from './migrations/075_server_usage_shards.js';
import * as m095 from './migrations/095_server_pattern_indexes.js';
import * as m096 from './migrations/096_server_name_order.js';
import * as m097 from './migrations/097_server_list_indexes.js';

export type Db = Kysely<Schema>;
export type Tx = Transaction<Schema>;

/**
 * Rows per multi-row INSERT: a server row has 42 columns, and 200 of them stay under
 * SQLite's 32,766 and PostgreSQL's 65,535 bound parameters per statement.
 */
export const INSERT_BATCH = 200;

/** Migrations in order; each is a module with up/down. Append, never edit. */
const MIGRATIONS: Record<string, Migration> = {
  '001_platform': m001,
  '002_servers': m002,
  '003_keypairs_quotas': m003,
  '004_networks': m004,
  '005_aggregates': m005,
  '006_control': m006,
  '007_server_groups': m007,
  '008_server_usage': m008,
  '009_migrations': m009,
  '012_token_revocation': m012,
  '013_migration_ids': m013,
  '014_task_events': m014,
  '015_network_quotas': m015,
  '016_server_version': m016,
  '017_console_tokens': m017,
  '018_identity_extra': m018,
  '020_cloudsigma': m020,
  '021_keypair_uuids': m021,
  '022_tags': m022,
  '025_drives': m025,
  '026_profiles': m026,
  '040_host_endpoints': m040,
  '050_routers_floating_ips': m050,
  '051_auto_allocated_topologies': m051,
  '060_server_passwords': m060,
  '085_allocation_ratios': m085,
  '080_server_version_of_views': m080,
  '030_task_hosts': m030,
  '031_task_notify': m031,
  '032_cluster_services': m032,
  '045_global_contexts': m045,
  '046_digest_email': m046,
  '075_server_usage_shards': m075,
  '095_server_pattern_indexes': m095,
  '096_server_name_order': m096,
  '097_server_list_indexes': m097,
};

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

/** The database file of a sqlite: URL (null for PostgreSQL or an in-memory database). */
export function sqliteFile(url: string): string | null {
  if (!url.startsWith('sqlite:')) return null;
  const path = url.slice('sqlite:'.length);
  return path === ':memory:' ? null : path;
}

export async function openDatabase(url: string, onIdleError: (err: Error) => void = () => {}): Promise<Db> {
  if (isPostgresUrl(url)) {
    // Loaded only for PostgreSQL: the driver is a tenth of the embedded default's start.
    const { default: pg } = await import('pg');
    // PostgreSQL returns bigint (int8) as a string; our sizes fit in a double.
    pg.types.setTypeParser(20, (v) => Number(v));
    const pool = new pg.Pool({
      connectionString: url,
      max: 10,
      Client: boundedClient(pg.Client),
      // A request waits this long for a connection of the pool (busy ones free up within
      // QUERY_TIMEOUT_MS; a new one is bounded by CONNECT_TIMEOUT_MS, below) before it is
      // answered 503, never hangs. Longer than either: a busy node queues, it does not refuse.
      connectionTimeoutMillis: POOL_WAIT_MS,
      // An idle connection across a cut link is found dead by the kernel, not kept for ever.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    // An idle connection the server closes (a restart, an admin's terminate) is an 'error'
    // event on the pool; unhandled it would end the process. The pool opens a new one.
    pool.on('error', onIdleError);
    return new RetryingKysely({ dialect: new PostgresDialect({ pool }) });
  }
  if (!url.startsWith('sqlite:')) throw new Error(`unsupported database URL (want sqlite:<path> or postgres://…)`);
  const path = url.slice('sqlite:'.length);
  if (path !== ':memory:') {
    // Created private before SQLite opens it: its -wal and -shm files take the database file's mode.
    makePrivateDir(dirname(path));
    closeSync(openSync(path, 'a', PRIVATE_FILE));
  }
  const sqlite = new SqliteDatabase(path);
  sqlite.pragma('journal_mode = WAL');
  // NORMAL in WAL mode survives a killed process; only an OS crash can lose the last commits.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  cachePreparedStatements(sqlite);
  return new Kysely<Schema>({ dialect: new ImmediateSqliteDialect({ database: sqlite }) });
}

/**
 * PostgreSQL resolves a deadlock by aborting one of the transactions in it (SQLSTATE 40P01),
 * and a lock-order cycle can form wherever a named lock (lockName) meets a row lock taken
 * by a trigger (a tag or job row bumps its server's version). The aborted one did nothing
 * and is run again, as Nova's database layer retries on deadlock: so a transaction's
 * callback may run more than once, and must only act through `tx` and return what it
 * made (no pushes into outer arrays, no calls outside the database). SQLite runs one
 * transaction at a time (BEGIN IMMEDIATE) and never deadlocks.
 */
const DEADLOCK_RETRIES = 4;
const isDeadlock = (err: unknown) => (err as { code?: unknown } | null)?.code === '40P01';

class RetryingKysely extends Kysely<Schema> {
  override transaction(): ReturnType<Kysely<Schema>['transaction']> {
    const builder = super.transaction();
    const execute = builder.execute.bind(builder);
    builder.execute = async (callback) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await execute(callback);
        } catch (err) {
          if (!isDeadlock(err) || attempt >= DEADLOCK_RETRIES) throw err;
          // The other transaction of the cycle commits meanwhile; a jitter keeps two retries apart.
          await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * attempt));
        }
      }
    };
    return builder;
  }
}

/** How long a new PostgreSQL connection may take to open, and one statement to answer. */
export const CONNECT_TIMEOUT_MS = 3000;
export const QUERY_TIMEOUT_MS = 5000;
/** How long a request waits for one of the pool's connections. */
export const POOL_WAIT_MS = 10_000;

/** Work that may legitimately take longer than a request's bound: migrations, bulk seeds. */
const unbounded = new AsyncLocalStorage<true>();
export const withoutQueryBound = <T>(work: () => Promise<T>): Promise<T> => unbounded.run(true, work);

type PgClientClass = typeof import('pg').Client;

/**
 * A pg client whose every statement answers within QUERY_TIMEOUT_MS. pg's own query_timeout
 * leaves the connection busy with the lost statement, and the pool hands it out again; here
 * the socket is destroyed instead, so the statement fails at once ("Connection terminated"),
 * the connection is not queryable and the pool drops it on release and opens a new one.
 * This is what bounds a request when the server is cut off mid-statement (no RST comes
 * across a cut link; TCP would retry for many minutes).
 */
function boundedClient(Client: PgClientClass): PgClientClass {
  return class BoundedClient extends Client {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    constructor(...args: any[]) {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      super(...(args as [any]));
      // Opening a connection is bounded on its own, shorter than the wait for the pool.
      (this as unknown as { _connectionTimeoutMillis: number })._connectionTimeoutMillis = CONNECT_TIMEOUT_MS;
      // A connection that dies while checked out (a restart, a cut) emits 'error' with no
      // listener (the pool listens only while it is idle), which would end the process. Its
      // statements fail with the error anyway, and the pool drops it on release.
      this.on('error', () => {});
    }

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    override query(...args: any[]): any {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const result = (super.query as any)(...args);
      if (!(result instanceof Promise) || unbounded.getStore()) return result;
      const timer = setTimeout(() => {
        const self = this as unknown as { connection?: { stream?: { destroy(err?: Error): void } } };
        self.connection?.stream?.destroy();
      }, QUERY_TIMEOUT_MS);
      return result.finally(() => clearTimeout(timer));
    }
  } as PgClientClass;
}

/**
 * True when `err` says the database cannot be reached or is not answering (down, restarting,
 * cut off, out of connections), not that a statement was wrong: what a request answers 503.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (typeof e.code === 'string') {
    // Connection exceptions (class 08), the server shutting down or starting (57P01-03), too many connections.
    if (/^08[0-9A-Z]{3}$|^57P0[123]$|^53300$/.test(e.code)) return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'].includes(e.code)) return true;
  }
  return typeof e.message === 'string' && /^(Connection terminated|timeout exceeded when trying to connect|timeout expired|Client has encountered a connection error|Query read timeout)/.test(e.message);
}

/**
 * Kysely begins SQLite transactions with a deferred BEGIN: the transaction reads under a
 * snapshot and asks for the write lock only at its first write. If another connection (a
 * second process on the same file: `nimbus migrate`, a tool) committed in between, that
 * upgrade fails at once with SQLITE_BUSY, whatever the busy timeout, and a check-then-write
 * transaction would be a 500. BEGIN IMMEDIATE takes the write lock first (waiting up to
 * the busy timeout), so every transaction runs alone from its first statement, in this
 * process or any other: what it checked still holds when it writes.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await super.acquireConnection();
    if (!refusing.has(connection)) refuseNulLikePostgres(connection);
    return connection;
  }
}

const refusing = new WeakSet<DatabaseConnection>();

/**
 * PostgreSQL cannot store a NUL in text and refuses it (SQLSTATE 22021, a data exception);
 * SQLite would store it. The edge refuses a NUL in every request (src/api/edge.ts); should
 * one slip past it, SQLite refuses it the same way, so both databases give the same 400
 * (src/api/http.ts) and the fuzz test sees the slip on either.
 */
function refuseNulLikePostgres(connection: DatabaseConnection): void {
  refusing.add(connection);
  const check = (query: CompiledQuery) => {
    if (query.parameters.some((p) => typeof p === 'string' && p.includes('\u0000'))) {
      throw Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021', severity: 'ERROR' });
    }
  };
  const execute = connection.executeQuery.bind(connection);
  const stream = connection.streamQuery.bind(connection);
  connection.executeQuery = async (query) => (check(query), execute(query));
  connection.streamQuery = (query, chunkSize) => (check(query), stream(query, chunkSize));
}

class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly settings: SqliteDialectConfig) {
    super(settings);
  }

  override createDriver(): SqliteDriver {
    return new ImmediateSqliteDriver(this.settings);
  }
}

/**
 * Kysely prepares every statement anew; preparing is a quarter of a simple request's
 * CPU. Our queries come from a bounded set of shapes, so the prepared ones are kept.
 */
function cachePreparedStatements(sqlite: SqliteDatabase.Database): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, SqliteDatabase.Statement>();
  sqlite.prepare = ((source: string) => {
    let statement = cache.get(source);
    if (!statement) {
      if (cache.size >= 2000) cache.clear(); // shapes with IN-lists of many lengths
      statement = prepare(source);
      if (statement.reader) buildRowsInJavaScript(statement);
      cache.set(source, statement);
    }
    return statement;
  }) as typeof sqlite.prepare;
}

/**
 * better-sqlite3 makes each row object in C++, one property at a time; for wide rows (a
 * server has 41 columns) that costs more than the query itself: ~2 ms of a 100-server
 * list. Reading the rows as arrays and building the objects with an object literal made
 * once per statement is about three times cheaper, and gives the same objects: the same
 * keys in the same order, the last of two same-named columns winning. Only `all`, the
 * one Kysely calls for reads, changes; the statement is left in its normal mode.
 */
function buildRowsInJavaScript(statement: SqliteDatabase.Statement): void {
  const all = statement.all;
  let width = -1;
  let build: ((row: unknown[]) => unknown) | null = null;
  statement.all = function (this: SqliteDatabase.Statement, ...params: unknown[]) {
    statement.raw(true);
    let rows: unknown[][];
    try {
      rows = all.apply(statement, params) as unknown[][];
    } finally {
      statement.raw(false);
    }
    if (rows.length === 0) return rows;
    // The columns are read again if the row's width changed (the schema changed under the statement).
    if (rows[0].length !== width) {
      const names = statement.columns().map((c) => c.name);
      width = names.length;
      build = names.includes('__proto__')
        ? (row) => Object.fromEntries(names.map((n, i) => [n, row[i]]))
        : (new Function('r', `return {${names.map((n, i) => `${JSON.stringify(n)}: r[${i}]`).join(', ')}};`) as (row: unknown[]) => unknown);
    }
    const out = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = build!(rows[i]);
    return out;
  } as typeof statement.all;
}

/**
 * A query Kysely builds and compiles once; each call only binds new values. Building and
 * compiling cost ~50 µs a query, several times what SQLite takes to answer a lookup by key,
 * so the hottest reads (show a server) are kept this way. `build` gets stand-ins for the
 * parameters and must give the same SQL whatever their values (no IN lists, no branches).
 */
export function prepared<P extends string[], R>(db: Db, build: (...params: P) => Compilable<R>): (...params: P) => Promise<R[]> {
  let compiled: CompiledQuery<R> | undefined;
  let slots: number[] = [];
  return async (...params: P) => {
    if (!compiled) {
      const standIns = params.map((_, i) => `\u0000param${i}:${Math.random()}`) as P;
      compiled = build(...standIns).compile();
      slots = compiled.parameters.map((p) => standIns.indexOf(p as string));
    }
    const parameters = compiled.parameters.map((p, i) => (slots[i] >= 0 ? params[slots[i]] : p));
    return (await db.executeQuery<R>({ ...compiled, parameters })).rows;
  };
}

export async function migrate(db: Db): Promise<string[]> {
  // Numbers are reserved ahead by work landing in parallel (009 landed before 008), so a
  // database may have run a later one first; each migration stands on its own.
  const migrator = new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS }, allowUnorderedMigrations: true });
  // A migration may rewrite a big table: it is not held to a request's bound.
  const { error, results } = await withoutQueryBound(() => migrator.migrateToLatest());
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * The migrations this code knows that the database has not run: a role other than `serve`
 * and `migrate` refuses to start while there is one (the schema is `nimbus migrate`'s to change).
 */
export async function pendingMigrations(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS }, allowUnorderedMigrations: true });
  return (await migrator.getMigrations()).filter((m) => !m.executedAt).map((m) => m.name);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const isPostgres = (db: Kysely<any>): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

/**
 * Holds the lock named `name` until the transaction ends, so that transactions that read
 * something and write what they decided from it (a project's quota usage, a host's number)
 * run one after the other. On PostgreSQL it is an advisory transaction lock on a 64-bit
 * hash of the name: a new statement after it sees what the previous holder committed
 * (READ COMMITTED). On SQLite every transaction holds the database's write lock from its
 * BEGIN IMMEDIATE, so there is nothing more to take. Shared holders run alongside each
 * other; an exclusive holder waits for them all and they for it (and a shared request
 * queues behind an exclusive one already waiting).
 */
export async function lockName(tx: Kysely<Schema>, name: string, mode: 'exclusive' | 'shared' = 'exclusive'): Promise<void> {
  if (!isPostgres(tx)) return;
  if (mode === 'shared') await sql`select pg_advisory_xact_lock_shared(${nameKey(name)}::bigint)`.execute(tx);
  else await sql`select pg_advisory_xact_lock(${nameKey(name)}::bigint)`.execute(tx);
}

/**
 * lockName without waiting: true when this transaction now holds the lock, false when
 * another one does (nothing is taken then). SQLite: always true (see lockName).
 */
export async function tryLockName(tx: Kysely<Schema>, name: string): Promise<boolean> {
  if (!isPostgres(tx)) return true;
  const r = await sql<{ held: boolean }>`select pg_try_advisory_xact_lock(${nameKey(name)}::bigint) as held`.execute(tx);
  return r.rows[0].held;
}

const nameKey = (name: string) => createHash('sha256').update(name).digest().readBigInt64BE(0).toString();
