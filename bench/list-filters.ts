/**
 * `node dist/bench/list-filters.js`: the servers list's filters at scale on PostgreSQL.
 * A `nimbus serve` (BENCH_NIMBUS: a bundle, this checkout's dist/nimbus.mjs by default, so
 * an older bundle measures "before") on a database of BENCH_SERVERS servers in the demo
 * project (default 1,000,000): copies of one real server, each its own name `seed-<n>` and
 * fixed address 10.x.y.z (the rows carry addresses as the build writes them). The database
 * (BENCH_DATABASE_URL) is made and seeded on the first run and kept for the next
 * (BENCH_DROP=1 drops it at the end). wrk, 10 connections, BENCH_DURATION s per case
 * after 1 s not counted; prints p50 / p99 / req/s / failures per case.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { passwordToken } from '../test/support.js';
import { wrk } from './load.js';
import { copyServers } from './copy-servers.js';

const URL_ = process.env.BENCH_DATABASE_URL ?? 'postgres://nimbus:nimbus@127.0.0.1:5432/nimbus_list_filters';
const NIMBUS = process.env.BENCH_NIMBUS ?? join(import.meta.dirname, '../nimbus.mjs');
const SERVERS = Number(process.env.BENCH_SERVERS ?? 1_000_000);
const SECONDS = Number(process.env.BENCH_DURATION ?? 5);
const PORT = Number(process.env.BENCH_PORT ?? 18874);
const PASSWORD = 'bench-demo-pw';
const log = (s: string) => process.stdout.write(s + '\n');

/** What is measured: the plain page for reference, then each filter, selective and not. */
const CASES: [string, string][] = [
  ['no filter', 'limit=100'],
  ['name, matches most (`^seed-`)', 'name=^seed-&limit=100'],
  ['name, one server (`seed-123456$`)', 'name=seed-123456$&limit=100'],
  ['name, none, no literal (`^\\d+$`)', `name=${encodeURIComponent('^\\d+$')}&limit=100`],
  ['ip, matches most (`^10\\.`)', `ip=${encodeURIComponent('^10\\.')}&limit=100`],
  ['ip, one server (`10.1.226.64`, Nova\'s exact form)', `ip=${encodeURIComponent('^10\\.1\\.226\\.64$')}&limit=100`],
  ['sort by display_name, page 2', 'sort_key=display_name&sort_dir=asc&limit=100&marker=MARKER'],
  ['status, none (`ERROR`)', 'status=ERROR&limit=100'],
  ['changes-since, the last day', `changes-since=${new Date(Date.now() - 86_400_000).toISOString().slice(0, 19)}Z&limit=100`],
];

async function withClient<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function serve(dataDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [NIMBUS, 'serve'], {
    env: { ...process.env, NIMBUS_DATABASE_URL: URL_, NIMBUS_DATA_DIR: dataDir, NIMBUS_LISTEN: `127.0.0.1:${PORT}`, NIMBUS_DEMO_PASSWORD: PASSWORD, NIMBUS_ADMIN_PASSWORD: PASSWORD, NIMBUS_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('listening')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`nimbus exited ${code}: ${out}`)));
  });
}

const api = (path: string, token: string, init: RequestInit = {}) =>
  fetch(`http://127.0.0.1:${PORT}${path}`, { ...init, headers: { 'content-type': 'application/json', 'x-auth-token': token, ...(init.headers ?? {}) } });

/** Copies of the demo project's one server until it has `target`: names seed-<n>, addresses 10.<n>. */
async function seed(token: string): Promise<void> {
  const image = ((await (await api('/image/v2/images', token)).json()) as { images: { id: string }[] }).images[0].id;
  const made = await api('/compute/v2.1/servers', token, { method: 'POST', body: JSON.stringify({ server: { name: 'template', imageRef: image, flavorRef: '1' } }) });
  const id = ((await made.json()) as { server: { id: string } }).server.id;
  for (let i = 0; i < 100; i++) {
    const s = ((await (await api(`/compute/v2.1/servers/${id}`, token)).json()) as { server: { status: string } }).server;
    if (s.status === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await withClient(URL_, async (c) => {
    const t0 = performance.now();
    const address = `'{"private":[{"version":4,"addr":"10.' || (g / 65536) % 256 || '.' || (g / 256) % 256 || '.' || g % 256 || '","OS-EXT-IPS:type":"fixed","OS-EXT-IPS-MAC:mac_addr":"fa:16:3e:00:00:01"}]}'`;
    await copyServers(c, id, SERVERS - 1, { addresses: address });
    log(`seeded ${SERVERS - 1} servers in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  });
}

async function main(): Promise<void> {
  const admin = URL_.replace(/\/[^/]+$/, '/postgres');
  const name = new URL(URL_).pathname.slice(1);
  const fresh = await withClient(admin, async (c) => {
    if ((await c.query('select 1 from pg_database where datname = $1', [name])).rowCount) return false;
    await c.query(`create database ${name}`);
    return true;
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'nimbus-bench-filters-'));
  const nimbus = await serve(dataDir);
  try {
    const { token } = await passwordToken(`http://127.0.0.1:${PORT}`, 'demo', PASSWORD, 'demo');
    if (fresh) {
      const { token: adminToken, body } = await passwordToken(`http://127.0.0.1:${PORT}`, 'admin', PASSWORD, 'admin');
      void body;
      const demo = await withClient(URL_, async (c) => (await c.query(`select id from projects where name = 'demo'`)).rows[0].id as string);
      await api(`/compute/v2.1/os-quota-sets/${demo}`, adminToken, { method: 'PUT', body: JSON.stringify({ quota_set: { instances: -1, cores: -1, ram: -1 } }) });
      await seed(token);
    }
    const marker = ((await (await api('/compute/v2.1/servers?sort_key=display_name&sort_dir=asc&limit=100', token)).json()) as { servers: { id: string }[] }).servers.at(-1)?.id ?? '';
    log(`| case | query | first request | p50 (ms) | p99 (ms) | req/s | failures |`);
    log(`| --- | --- | --- | --- | --- | --- | --- |`);
    for (const [label, query] of CASES) {
      const url = `http://127.0.0.1:${PORT}/compute/v2.1/servers/detail?${query.replace('MARKER', marker)}`;
      // One request alone first: a case that cannot answer within the bounds is said so, not loaded.
      const t0 = performance.now();
      const first = await fetch(url, { headers: { 'x-auth-token': token }, signal: AbortSignal.timeout(30_000) }).then(
        async (r) => ({ status: r.status, servers: r.status === 200 ? ((await r.json()) as { servers: unknown[] }).servers.length : 0 }),
        () => ({ status: 0, servers: 0 }),
      );
      const firstMs = performance.now() - t0;
      const firstText = `${first.status || 'no answer'} in ${(firstMs / 1000).toFixed(2)} s${first.status === 200 ? `, ${first.servers} servers` : ''}`;
      if (first.status !== 200) {
        log(`| ${label} | \`${decodeURIComponent(query).replace('MARKER', '…')}\` | ${firstText} | – | – | – | not loaded |`);
        continue;
      }
      await wrk({ url, headers: { 'x-auth-token': token }, connections: 10, seconds: 1 });
      const r = await wrk({ url, headers: { 'x-auth-token': token }, connections: 10, seconds: SECONDS });
      log(`| ${label} | \`${decodeURIComponent(query).replace('MARKER', '…')}\` | ${firstText} | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${(r.requests / r.seconds).toFixed(1)} | ${r.non2xx + r.errors + r.timeouts ? `${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts` : '0'} |`);
    }
  } finally {
    nimbus.kill('SIGTERM');
    await new Promise((r) => nimbus.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
    if (process.env.BENCH_DROP === '1') await withClient(admin, (c) => c.query(`drop database ${name}`));
  }
}

main().catch((err) => {
  process.stderr.write(`bench: ${err?.stack ?? err}\n`);
  process.exit(1);
});
