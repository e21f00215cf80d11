import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config.js';
import { PRIVATE_FILE, makePrivateDir } from '../data-dir.js';

/** The advisory-lock class of node identities (two-key locks never meet one-key ones). */
const NODE_LOCK_CLASS = 7002;

/**
 * This node's stable name: the configured one, else the one kept in its data directory
 * (made on first start). Task leases carry it, so after a restart the node knows which
 * running tasks were its own.
 */
export function nodeIdOf(config: Config): string {
  if (config.nodeId) return config.nodeId;
  const file = join(config.dataDir, 'node-id');
  const read = () => {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      return '';
    }
  };
  const existing = read();
  if (existing) return existing;
  makePrivateDir(config.dataDir);
  try {
    writeFileSync(file, `${randomUUID()}\n`, { mode: PRIVATE_FILE, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return read(); // a process starting beside this one may have written it first
}

/**
 * Makes sure no other live process uses this node id on the database, since this node will
 * take back at once every task leased under the id: a PostgreSQL session lock, held by a
 * connection of its own for the life of the process, and let go by the server as soon as
 * the process dies. A killed process's session may linger a moment, so it is asked again
 * for a few seconds before giving up.
 */
export async function holdNodeId(url: string, nodeId: string, log: Logger): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: url, keepAlive: true });
  client.on('error', (err) => log.error({ err, nodeId }, 'lost the connection that holds this node id; another process could now take it'));
  await client.connect();
  for (let attempt = 0; ; attempt++) {
    const r = await client.query<{ held: boolean }>('select pg_try_advisory_lock($1, hashtext($2)) as held', [NODE_LOCK_CLASS, nodeId]);
    if (r.rows[0].held) break;
    if (attempt === 20) {
      await client.end();
      throw new ConfigError(`another running Nimbus uses the node id "${nodeId}" on this database: give each node its own (nodeId, NIMBUS_NODE_ID, or a data directory of its own)`);
    }
    await sleep(250);
  }
  return async () => {
    await client.end().catch(() => {});
  };
}
