import { sql } from 'kysely';
import type { Logger } from 'pino';
import { CONNECT_TIMEOUT_MS, QUERY_TIMEOUT_MS, isPostgresUrl, type Db } from './database.js';

/** The per-process caches another process's write must clear. */
export type CacheName = 'tokens' | 'flavors';

/**
 * Cache invalidation across the processes that share one database. A process that changes
 * what a cache holds (revokes a token, changes a flavor) clears its own copy and announces
 * the change after its commit; every other process then forgets that cache. On PostgreSQL the announcement is a
 * NOTIFY that each process LISTENs for on a connection of its own; while that connection is
 * down notices may be missed, so every cache is forgotten each time it (re)connects, and the
 * caches' own short lifetimes (tokens 2 s, flavors 1 s) bound what a missed notice can cost.
 * On SQLite there is one process: nothing to announce.
 */
export interface Invalidations {
  announce(cache: CacheName): Promise<void>;
  on(cache: CacheName, forget: () => void): void;
  close(): Promise<void>;
}

const CHANNEL = 'nimbus_caches';
/** How often the listening connection proves it is alive (a cut link gives no error by itself). */
const CHECK_MS = 5000;
const RETRY_MS = 1000;

/** One process alone on its database (SQLite): its caches clear themselves on its own writes. */
export const ONE_PROCESS: Invalidations = { announce: async () => {}, on: () => {}, close: async () => {} };

export async function startInvalidations(url: string, db: Db, log: Logger): Promise<Invalidations> {
  if (!isPostgresUrl(url)) return ONE_PROCESS;
  const { default: pg } = await import('pg');
  const handlers = new Map<CacheName, (() => void)[]>();
  const forgetAll = () => handlers.forEach((fs) => fs.forEach((f) => f()));
  let client: InstanceType<typeof pg.Client> | null = null;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let check: NodeJS.Timeout | undefined;

  const drop = (c: InstanceType<typeof pg.Client>) => {
    if (client !== c) return;
    client = null;
    clearInterval(check);
    c.end().catch(() => {});
    if (!closed) retry = setTimeout(connect, RETRY_MS).unref();
  };
  const connect = async () => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true });
    client = c;
    c.on('error', () => drop(c));
    c.on('end', () => drop(c));
    c.on('notification', (n) => {
      if (n.channel === CHANNEL) handlers.get(n.payload as CacheName)?.forEach((f) => f());
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'cache invalidation: cannot listen; retrying');
      drop(c);
      return;
    }
    forgetAll(); // whatever was announced while we were not listening
    check = setInterval(() => {
      const timer = setTimeout(() => drop(c), QUERY_TIMEOUT_MS);
      c.query('select 1').then(
        () => clearTimeout(timer),
        () => drop(c),
      );
    }, CHECK_MS).unref();
  };
  await connect();

  return {
    announce: async (cache) => {
      try {
        await sql`select pg_notify(${CHANNEL}, ${cache})`.execute(db);
      } catch (err) {
        // The change is committed; other processes see it when their copies expire.
        log.warn({ err: (err as Error).message, cache }, 'cache invalidation: could not announce');
      }
    },
    on: (cache, forget) => {
      handlers.set(cache, [...(handlers.get(cache) ?? []), forget]);
    },
    close: async () => {
      closed = true;
      clearTimeout(retry);
      clearInterval(check);
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}
