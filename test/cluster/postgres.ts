/**
 * A private PostgreSQL for one test or one local cluster: its own data directory under a
 * temporary directory, its own port, its own addresses, started and stopped (and restarted,
 * and stopped for a while) by the test, so the shared PostgreSQL other tests use is never
 * disturbed. As root it runs as the `postgres` user (PostgreSQL refuses to run as root).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort } from '../support.js';

export const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface PrivatePostgres {
  port: number;
  /** The URL of the `nimbus` database from `host` (default 127.0.0.1). */
  url(host?: string): string;
  start(): Promise<void>;
  /** A fast shutdown: every connection is closed, new ones are refused until start(). */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stops it for good and removes its files. */
  destroy(): Promise<void>;
  /** Stops it for good at once, synchronously (for an exit or signal hook), and removes its files. */
  stopNow(): void;
  /** The server's log, for a failing test's message. */
  log(): string;
}

export function postgresAvailable(): string | null {
  if (!existsSync(join(PG_BIN, 'initdb'))) return `PostgreSQL 15's initdb is not at ${PG_BIN} (apt-get install postgresql-15)`;
  if (process.getuid?.() === 0 && spawnSync('id', ['postgres']).status !== 0) return 'running as root and there is no postgres user to run PostgreSQL as';
  return null;
}

/** Runs a PostgreSQL program as the user that owns the data directory. */
function asOwner(program: string, args: string[]): { command: string; args: string[] } {
  const path = join(PG_BIN, program);
  return process.getuid?.() === 0 ? { command: 'runuser', args: ['-u', 'postgres', '--', path, ...args] } : { command: path, args };
}

function run(program: string, args: string[]): Promise<void> {
  const { command, args: argv } = asOwner(program, args);
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${program} ${args.join(' ')} exited with ${code}:\n${out}`))));
  });
}

/** Every live private server, stopped at once if the process exits without its test's cleanup. */
const live = new Set<string>();
function stopAt(dir: string): void {
  if (!live.delete(dir)) return;
  const { command, args } = asOwner('pg_ctl', ['-D', join(dir, 'data'), 'stop', '-m', 'immediate']);
  spawnSync(command, args, { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
}
process.once('exit', () => {
  for (const dir of live) stopAt(dir);
});

/**
 * Makes and starts a private server listening on 127.0.0.1 and on `addresses` (which must
 * exist on this host), with a `nimbus` role (password auth) owning a `nimbus` database.
 */
export async function startPostgres(options: { addresses?: string[] } = {}): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'nimbus-pg-'));
  const data = join(dir, 'data');
  const password = randomBytes(12).toString('hex');
  const port = await freePort();
  if (process.getuid?.() === 0) {
    const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    chownSync(dir, Number(id.stdout), Number(gid.stdout));
  }
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, password + '\n', { mode: 0o600 });
  if (process.getuid?.() === 0) spawnSync('chown', ['postgres:postgres', pwfile]);
  live.add(dir);
  await run('initdb', ['-D', data, '-U', 'nimbus', '--pwfile', pwfile, '-A', 'scram-sha-256', '--no-sync', '--no-instructions', '-E', 'UTF8', '--locale', 'C']);
  rmSync(pwfile);
  const listen = ['127.0.0.1', ...(options.addresses ?? [])].join(',');
  // Built for tests: nothing to make durable, small, quick to stop; every address of our own may connect.
  const conf = [
    `port = ${port}`,
    `listen_addresses = '${listen}'`,
    `unix_socket_directories = '${dir}'`,
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    'max_connections = 200',
    'shared_buffers = 64MB',
    'logging_collector = off',
  ];
  writeFileSync(join(data, 'postgresql.conf'), readFileSync(join(data, 'postgresql.conf'), 'utf8') + '\n' + conf.join('\n') + '\n');
  writeFileSync(join(data, 'pg_hba.conf'), ['local all all scram-sha-256', 'host all all 127.0.0.1/32 scram-sha-256', 'host all all 10.231.0.0/16 scram-sha-256', ''].join('\n'));
  const logFile = join(dir, 'postgres.log');
  const start = () => run('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '30', 'start']);
  const stop = () => run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
  await start();
  const url = (host = '127.0.0.1') => `postgres://nimbus:${password}@${host}:${port}/nimbus`;
  // The database the cluster shares.
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: url().replace(/\/nimbus$/, '/postgres') });
  await admin.connect();
  await admin.query('CREATE DATABASE nimbus');
  await admin.end();
  let destroyed = false;
  return {
    port,
    url,
    start,
    stop,
    restart: () => run('pg_ctl', ['-D', data, '-l', logFile, '-m', 'fast', '-w', '-t', '30', 'restart']),
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    stopNow: () => stopAt(dir),
    destroy: async () => {
      if (destroyed) return;
      destroyed = true;
      await run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      live.delete(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
