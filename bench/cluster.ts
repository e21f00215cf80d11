/**
 * The cluster benchmark (npm run bench:cluster, or npm run bench -- cluster): Nimbus as
 * several processes on one private PostgreSQL (test/cluster/harness.ts), with the load in
 * processes of its own (bench/cluster-load.ts for creates, wrk for lists):
 *
 * - creates per second to ACTIVE with 1 and then 2 API nodes (each a `nimbus serve` until the
 *   roles exist, so each node also runs builds);
 * - GET /compute/v2.1/servers/detail?limit=100 p99 with 1 and 2 API nodes, then at 100,000
 *   and 1,000,000 servers seeded straight into PostgreSQL (one INSERT … SELECT from
 *   generate_series over a real server's row), with the list query's plan at the largest.
 *
 * It rewrites the cluster section of BENCHMARKS.md (BENCH_WRITE=0: print only).
 * BENCH_CREATES (120), BENCH_CONCURRENCY (10), BENCH_DURATION (10 s per list run) and
 * BENCH_SIZES (100000,1000000) tune a run.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startCluster, type Cluster, type ClusterNode } from '../test/cluster/harness.js';
import { ADMIN_PASSWORD, passwordToken } from '../test/support.js';
import { wrk, type LoadSummary } from './load.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REPORT = join(ROOT, 'BENCHMARKS.md');
const CREATES = Number(process.env.BENCH_CREATES ?? 120);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 10);
const SECONDS = Number(process.env.BENCH_DURATION ?? 10);
const SIZES = (process.env.BENCH_SIZES ?? '100000,1000000').split(',').map(Number).filter((n) => n > 0);
const LIST = '/compute/v2.1/servers/detail?limit=100';
const START = '<!-- bench:cluster:start (npm run bench:cluster regenerates this section) -->';
const END = '<!-- bench:cluster:end -->';

const log = (s: string) => process.stdout.write(s + '\n');
const fmt = (n: number, digits = 1) => n.toFixed(digits);

interface Session {
  token: string;
  projectId: string;
  flavor: string;
  image: string;
}

async function session(node: ClusterNode): Promise<Session> {
  const { token, body } = await passwordToken(node.url, 'admin', ADMIN_PASSWORD, 'admin');
  const projectId = body.token.project.id;
  const h = { token };
  const quotas = await node.req('PUT', `/compute/v2.1/os-quota-sets/${projectId}`, { ...h, body: { quota_set: { instances: -1, cores: -1, ram: -1 } } });
  if (quotas.status !== 200) throw new Error(`quotas: ${quotas.status} ${quotas.text}`);
  const flavors = (await node.req('GET', '/compute/v2.1/flavors/detail', h)).body.flavors as { id: string; vcpus: number; ram: number }[];
  const flavor = flavors.sort((a, b) => a.ram - b.ram)[0].id;
  const image = (await node.req('GET', '/image/v2/images', h)).body.images[0].id;
  return { token, projectId, flavor, image };
}

/** Creates to ACTIVE through `nodes`, measured by a load process of its own. */
function creates(nodes: ClusterNode[], s: Session, prefix: string): Promise<{ active: number; seconds: number; perSecond: number; failures: string[] }> {
  const job = { urls: nodes.map((n) => n.url), token: s.token, flavor: s.flavor, image: s.image, count: CREATES, concurrency: CONCURRENCY, prefix };
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(ROOT, 'dist/bench/cluster-load.js'), JSON.stringify(job)], { timeout: 600_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`load process: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!));
    });
  });
}

/** The list's latency with CONCURRENCY connections in all, split over `nodes` (one wrk each, at once). */
async function listLoad(nodes: ClusterNode[], s: Session): Promise<{ rps: number; p50: number; p99: number; failures: number }> {
  const per = Math.max(1, Math.round(CONCURRENCY / nodes.length));
  const runs: LoadSummary[] = await Promise.all(nodes.map((n) => wrk({ url: n.url + LIST, headers: { 'x-auth-token': s.token }, connections: per, seconds: SECONDS })));
  return {
    rps: runs.reduce((t, r) => t + r.requests / r.seconds, 0),
    // Each wrk has its own percentiles: the worse node's p99 stands for the whole (a bound, not a merge).
    p50: Math.max(...runs.map((r) => r.p50Ms)),
    p99: Math.max(...runs.map((r) => r.p99Ms)),
    failures: runs.reduce((t, r) => t + r.non2xx + r.errors, 0),
  };
}

/**
 * Adds copies of a real server of the project until it has `target` live servers: one
 * INSERT … SELECT over generate_series, each copy with its own id, name, host name,
 * reservation and creation time (a second apart, older than any before).
 */
async function seed(url: string, templateId: string, target: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const t0 = performance.now();
    const template = (await client.query('select project_id, created_at from servers where id = $1', [templateId])).rows[0];
    const have = Number((await client.query('select count(*) n from servers where project_id = $1 and deleted = 0', [template.project_id])).rows[0].n);
    const wanted = target - have;
    if (wanted <= 0) return 0;
    const columns: string[] = (await client.query(`select column_name from information_schema.columns where table_name = 'servers' and table_schema = current_schema() order by ordinal_position`)).rows.map((r) => r.column_name);
    const oldest = (await client.query('select min(created_at) t from servers')).rows[0].t as string;
    const iso = (offset: string) => `to_char(($2::timestamptz - (g * interval '1 second') ${offset}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
    const override: Record<string, string> = {
      id: 'gen_random_uuid()::text',
      name: `'seed-' || g`,
      hostname: `'seed-' || g`,
      reservation_id: `'r-' || substr(md5(g::text), 1, 8)`,
      created_at: iso(''),
      updated_at: iso(`+ interval '5 milliseconds'`),
      launched_at: iso(`+ interval '5 milliseconds'`),
    };
    const select = columns.map((c) => override[c] ?? `t.${c}`).join(', ');
    await client.query(`insert into servers (${columns.join(', ')}) select ${select} from servers t, generate_series(1, $3::int) g where t.id = $1`, [templateId, oldest, wanted]);
    await client.query('analyze servers');
    log(`  seeded ${wanted} servers in ${fmt((performance.now() - t0) / 1000)} s`);
    return wanted;
  } finally {
    await client.end();
  }
}

/** The plan PostgreSQL runs the detailed list's query with (its first page, as the node asks it). */
async function plan(url: string, projectId: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const rows = await client.query(`explain (analyze, buffers) select id, version from servers where project_id = $1 and deleted = 0 order by created_at desc, id desc limit 100`, [projectId]);
    return rows.rows.map((r) => r['QUERY PLAN']).join('\n');
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nimbus-bench-cluster-'));
  const config = join(dir, 'config.json');
  // Room for every create on the fake hosts: the bench measures the control plane, not placement refusing.
  writeFileSync(config, JSON.stringify({ fake: { vcpus: 1_000_000, memoryMb: 1_000_000_000, localGb: 100_000_000 } }));
  const env = { NIMBUS_CONFIG: config, NIMBUS_LOG_LEVEL: 'error' };
  const started = new Date();
  const cluster: Cluster = await startCluster();
  const rows: string[][] = [];
  let explain = '';
  try {
    log(`cluster: private PostgreSQL, ${cluster.netns ? 'each node in its own network namespace' : 'on loopback'}`);
    const one = await cluster.start({ name: 'api1', role: 'serve', env });
    const s = await session(one);
    const c1 = await creates([one], s, 'one');
    log(`  1 API node: ${fmt(c1.perSecond)} creates/s to ACTIVE (${c1.active} in ${fmt(c1.seconds)} s)${c1.failures.length ? ` failures: ${c1.failures.slice(0, 5)}` : ''}`);
    const l1 = await listLoad([one], s);
    log(`  1 API node: list p99 ${fmt(l1.p99, 2)} ms, ${fmt(l1.rps)} req/s`);
    const two = await cluster.start({ name: 'api2', role: 'serve', env });
    const c2 = await creates([one, two], s, 'two');
    log(`  2 API nodes: ${fmt(c2.perSecond)} creates/s to ACTIVE (${c2.active} in ${fmt(c2.seconds)} s)${c2.failures.length ? ` failures: ${c2.failures.slice(0, 5)}` : ''}`);
    const l2 = await listLoad([one, two], s);
    log(`  2 API nodes: list p99 ${fmt(l2.p99, 2)} ms, ${fmt(l2.rps)} req/s`);
    const servers = 2 * CREATES;
    rows.push(['creates/s to ACTIVE', `${fmt(c1.perSecond)}`, `${fmt(c2.perSecond)}`, `${fmt(c2.perSecond / c1.perSecond, 2)}×`]);
    rows.push([`list p99 (ms), ${servers / 2}→${servers} servers`, fmt(l1.p99, 2), fmt(l2.p99, 2), `${fmt(l2.p99 / l1.p99, 2)}×`]);
    rows.push([`list req/s, ${servers / 2}→${servers} servers`, fmt(l1.rps, 0), fmt(l2.rps, 0), `${fmt(l2.rps / l1.rps, 2)}×`]);
    const template = (await one.req('GET', '/compute/v2.1/servers?limit=1', { token: s.token })).body.servers[0].id;
    for (const size of SIZES) {
      await seed(cluster.pg.url(), template, size);
      const a = await listLoad([one], s);
      const b = await listLoad([one, two], s);
      log(`  ${size} servers: list p99 ${fmt(a.p99, 2)} ms on 1 node, ${fmt(b.p99, 2)} ms on 2`);
      rows.push([`list p99 (ms) at ${size.toLocaleString('en')} servers`, fmt(a.p99, 2), fmt(b.p99, 2), `${fmt(b.p99 / a.p99, 2)}×`]);
      if (a.failures || b.failures) rows.push([`(failures at ${size})`, String(a.failures), String(b.failures), '']);
    }
    explain = await plan(cluster.pg.url(), s.projectId);
    log(explain);
  } finally {
    await cluster.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const section = [
    START,
    '## Several processes on one PostgreSQL (npm run bench:cluster)',
    '',
    `Run ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} cores (shared, noisy: load ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end); a private PostgreSQL 15 (fsync off);`,
    `API nodes are \`nimbus serve\` processes (each also runs builds: the roles are not built yet, so 1 → 3 compute hosts is not measured); ${CREATES} creates at ${CONCURRENCY} concurrent clients`,
    `(a load process of its own, round-robin over the nodes, each client polling its server until ACTIVE); lists with wrk, ${CONCURRENCY} connections split over the nodes, ${SECONDS} s, the worse node's p99.`,
    '',
    '| figure | 1 API node | 2 API nodes | ratio |',
    '| --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    `The list query's plan at ${(SIZES.at(-1) ?? 0).toLocaleString('en')} servers:`,
    '',
    '```',
    explain,
    '```',
    END,
  ].join('\n');
  log('\n' + section);
  if (process.env.BENCH_WRITE !== '0') {
    const text = readFileSync(REPORT, 'utf8');
    const i = text.indexOf(START);
    const j = text.indexOf(END);
    writeFileSync(REPORT, i >= 0 && j > i ? text.slice(0, i) + section + text.slice(j + END.length) : text.trimEnd() + '\n\n' + section + '\n');
    log(`written to ${REPORT}`);
  }
}

main().catch((err) => {
  process.stderr.write(`bench: ${err?.stack ?? err}\n`);
  process.exit(1);
});
