/**
 * The cluster benchmark (npm run bench:cluster, or npm run bench -- cluster): Nimbus as
 * several processes on one private PostgreSQL (test/cluster/harness.ts), with the load in
 * processes of its own (bench/cluster-load.ts for creates, wrk for lists):
 *
 * - creates per second to ACTIVE and GET /compute/v2.1/servers/detail?limit=100 p99 with
 *   1 API node and 1 compute host, then 3 compute hosts, then 2 API nodes (`nimbus api`,
 *   one `nimbus conductor`, `nimbus compute --host` with the fake driver);
 * - the list's p99 with 1 and 2 API nodes at 100,000
 *   and 1,000,000 servers seeded straight into PostgreSQL (one INSERT … SELECT from
 *   generate_series over a real server's row, then VACUUM ANALYZE and a CHECKPOINT, so that
 *   autovacuum's first pass over the new rows does not run during the measurement), with the
 *   list query's plan at the largest, and the p99 of a request with next to no work on the
 *   same connections right after (the machine's floor at that moment).
 *
 * While the creates run it prints where the CPU went and what PostgreSQL's backends waited
 * for (bench/cluster-profile.ts).
 *
 * It rewrites the cluster section of BENCHMARKS.md (BENCH_WRITE=0: print only).
 * BENCH_CREATES (120), BENCH_WARM_CREATES (60, not counted, before each measurement),
 * BENCH_CONCURRENCY (10), BENCH_DURATION (10 s per list run) and BENCH_SIZES
 * (100000,1000000) tune a run. BENCH_ROLE_CPU (e.g. `api=0.15,compute=0.07`)
 * gives each process of a role at most that many cores, in a cgroup of its own (cgroup v1
 * `cpu`, as root): a process capped as if it had a small machine of its own, so that what
 * one more API node or compute host adds shows on a machine whose cores they all share.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startCluster, type Cluster, type ClusterNode } from '../test/cluster/harness.js';
import { ADMIN_PASSWORD, passwordToken } from '../test/support.js';
import { wrk, type LoadSummary } from './load.js';
import { describe, profiled } from './cluster-profile.js';
import { copyServers } from './copy-servers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REPORT = join(ROOT, 'BENCHMARKS.md');
const CREATES = Number(process.env.BENCH_CREATES ?? 120);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 10);
const SECONDS = Number(process.env.BENCH_DURATION ?? 10);
const WARM_CREATES = Number(process.env.BENCH_WARM_CREATES ?? 60);
const SIZES = (process.env.BENCH_SIZES ?? '100000,1000000').split(',').map(Number).filter((n) => n > 0);
const LIST = '/compute/v2.1/servers/detail?limit=100';
/** A request with the same token check and a 300-byte answer: what the machine gives any request then (the report's floor). */
const FLOOR = '/compute/v2.1/flavors/1';
const ROLE_CPU = new Map(
  (process.env.BENCH_ROLE_CPU ?? '')
    .split(',')
    .filter(Boolean)
    .map((kv) => kv.split('=') as [string, string])
    .map(([role, cores]) => [role, Number(cores)]),
);
const CGROUPS = '/sys/fs/cgroup/cpu';

/** Puts the node's process in a cgroup of its own capped at its role's BENCH_ROLE_CPU cores. */
function capCpu(node: ClusterNode): ClusterNode {
  const cores = ROLE_CPU.get(node.spec.role);
  if (!cores || !node.child.pid) return node;
  const dir = join(CGROUPS, `nimbus-bench-${node.spec.name}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cpu.cfs_period_us'), '100000');
  writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(Math.round(cores * 100_000)));
  writeFileSync(join(dir, 'cgroup.procs'), String(node.child.pid));
  return node;
}

/** Removes the bench's cgroups (their processes have ended). */
function uncap(): void {
  if (!ROLE_CPU.size) return;
  for (const d of readdirSync(CGROUPS)) if (d.startsWith('nimbus-bench-')) rmdirSync(join(CGROUPS, d));
}

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
function creates(nodes: ClusterNode[], s: Session, prefix: string, count = CREATES): Promise<{ active: number; seconds: number; perSecond: number; failures: string[] }> {
  const job = { urls: nodes.map((n) => n.url), token: s.token, flavor: s.flavor, image: s.image, count, concurrency: CONCURRENCY, prefix };
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(ROOT, 'dist/bench/cluster-load.js'), JSON.stringify(job)], { timeout: 600_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`load process: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!));
    });
  });
}

/**
 * Builds to ACTIVE of one multi-create of `count` servers: one create transaction (one quota
 * check), then `count` builds that the conductor places at once and the hosts spawn — what
 * scheduling and the compute hosts sustain, without the concurrent creates' quota recounts.
 * Counted in the database every 50 ms.
 */
async function builds(node: ClusterNode, s: Session, url: string, count: number): Promise<{ active: number; seconds: number; perSecond: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const t0 = performance.now();
    const server = { name: 'multi', flavorRef: s.flavor, imageRef: s.image, networks: 'none', min_count: count, max_count: count, return_reservation_id: true };
    const res = await node.req('POST', '/compute/v2.1/servers', { token: s.token, version: '2.37', body: { server } });
    if (res.status !== 202) throw new Error(`multi-create: ${res.status} ${res.text}`);
    const reservation = res.body.reservation_id as string;
    for (;;) {
      const r = (await client.query(`select count(*) filter (where vm_state = 'active') a, count(*) filter (where vm_state in ('active', 'error')) d from servers where reservation_id = $1`, [reservation])).rows[0];
      if (Number(r.d) >= count || performance.now() - t0 > 300_000) {
        const seconds = (performance.now() - t0) / 1000;
        return { active: Number(r.a), seconds, perSecond: Number(r.a) / seconds };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await client.end();
  }
}

/**
 * The latency of `path` (the list by default) with CONCURRENCY connections in all, split over
 * `nodes` (one wrk each, at once), after a second of the same load not counted: a node's first
 * requests compile its code and render the page's servers, which a steady state does not.
 */
async function listLoad(nodes: ClusterNode[], s: Session, path = LIST): Promise<{ rps: number; p50: number; p99: number; failures: number }> {
  const per = Math.max(1, Math.round(CONCURRENCY / nodes.length));
  const load = (seconds: number) => Promise.all(nodes.map((n) => wrk({ url: n.url + path, headers: { 'x-auth-token': s.token }, connections: per, seconds })));
  await load(1);
  const runs: LoadSummary[] = await load(SECONDS);
  return {
    rps: runs.reduce((t, r) => t + r.requests / r.seconds, 0),
    // Each wrk has its own percentiles: the worse node's p99 stands for the whole (a bound, not a merge).
    p50: Math.max(...runs.map((r) => r.p50Ms)),
    p99: Math.max(...runs.map((r) => r.p99Ms)),
    failures: runs.reduce((t, r) => t + r.non2xx + r.errors, 0),
  };
}

/** Adds copies of a real server of the project (copy-servers.ts) until it has `target` live servers. */
async function seed(url: string, templateId: string, target: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const t0 = performance.now();
    const template = (await client.query('select project_id from servers where id = $1', [templateId])).rows[0];
    const have = Number((await client.query('select count(*) n from servers where project_id = $1 and deleted = 0', [template.project_id])).rows[0].n);
    const wanted = target - have;
    if (wanted <= 0) return 0;
    await copyServers(client, templateId, wanted);
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
  const uncapped = await startCluster();
  // Every node the bench starts gets its role's CPU cap (BENCH_ROLE_CPU).
  const cluster: Cluster = { ...uncapped, start: async (spec) => capCpu(await uncapped.start(spec)) };
  const rows: string[][] = [];
  const seeded: string[][] = [];
  let explain = '';
  try {
    log(`cluster: private PostgreSQL, ${cluster.netns ? 'each process in its own network namespace' : 'on loopback'}${ROLE_CPU.size ? `; cores per process: ${process.env.BENCH_ROLE_CPU}` : ''}`);
    await cluster.migrate();
    const [one] = await Promise.all([cluster.start({ name: 'api1', role: 'api', env }), cluster.start({ name: 'conductor1', role: 'conductor', env }), cluster.start({ name: 'h1', role: 'compute', host: 'h1', env })]);
    const s = await session(one);
    let base: { creates: number; builds: number; p99: number; rps: number } | null = null;
    const measure = async (label: string, nodes: ClusterNode[]) => {
      const locks = [`quota:${s.projectId}`, `quota-recount:${s.projectId}`, 'hosts', ...['h1', 'h2', 'h3'].map((h) => `placement-host:${h}`)];
      // A node just started compiles its hot paths on its first requests: a round of creates on each first, not counted.
      await creates(nodes, s, `warm-${label.replace(/\W+/g, '-')}`, WARM_CREATES);
      const { result: c, profile } = await profiled(cluster, () => creates(nodes, s, label.replace(/\W+/g, '-')), locks);
      const l = await listLoad(nodes, s);
      log(`  ${label}: ${fmt(c.perSecond)} creates/s to ACTIVE (${c.active} in ${fmt(c.seconds)} s), list p99 ${fmt(l.p99, 2)} ms, ${fmt(l.rps)} req/s${c.failures.length || l.failures ? `  failures: ${c.failures.slice(0, 5)} ${l.failures}` : ''}`);
      log(describe(profile));
      const { result: b, profile: bp } = await profiled(cluster, () => builds(nodes[0], s, cluster.pg.url(), CREATES), locks);
      log(`  ${label}: ${fmt(b.perSecond)} builds/s to ACTIVE of one multi-create (${b.active} in ${fmt(b.seconds)} s)\n${describe(bp)}`);
      base ??= { creates: c.perSecond, builds: b.perSecond, p99: l.p99, rps: l.rps };
      rows.push([label, `${fmt(c.perSecond)} (${fmt(c.perSecond / base.creates, 2)}×)`, `${fmt(b.perSecond)} (${fmt(b.perSecond / base.builds, 2)}×)`, `${fmt(l.p99, 2)} (${fmt(l.p99 / base.p99, 2)}×)`, `${fmt(l.rps, 0)} (${fmt(l.rps / base.rps, 2)}×)`, c.failures.length || l.failures ? `${c.failures.length} / ${l.failures}` : '0']);
    };
    await measure('1 API node, 1 compute host', [one]);
    await Promise.all([cluster.start({ name: 'h2', role: 'compute', host: 'h2', env }), cluster.start({ name: 'h3', role: 'compute', host: 'h3', env })]);
    await measure('1 API node, 3 compute hosts', [one]);
    const two = await cluster.start({ name: 'api2', role: 'api', env });
    await measure('2 API nodes, 3 compute hosts', [one, two]);
    const template = (await one.req('GET', '/compute/v2.1/servers?limit=1', { token: s.token })).body.servers[0].id;
    for (const size of SIZES) {
      await seed(cluster.pg.url(), template, size);
      const a = await listLoad([one], s);
      const b = await listLoad([one, two], s);
      // The machine's floor at that moment: the same connections on a request with next to no work.
      const floor = await listLoad([one], s, FLOOR);
      const floor2 = await listLoad([one, two], s, FLOOR);
      log(`  ${size} servers: list p99 ${fmt(a.p99, 2)} ms on 1 API node, ${fmt(b.p99, 2)} ms on 2; floor p99 ${fmt(floor.p99, 2)} ms on 1, ${fmt(floor2.p99, 2)} ms on 2`);
      seeded.push([
        size.toLocaleString('en'),
        fmt(a.p99, 2),
        fmt(b.p99, 2),
        `${fmt(a.rps, 0)} / ${fmt(b.rps, 0)}`,
        `${fmt(floor.p99, 2)} / ${fmt(floor2.p99, 2)} (${fmt(floor.rps, 0)} / ${fmt(floor2.rps, 0)} req/s)`,
        a.failures || b.failures ? `${a.failures} / ${b.failures}` : '0',
      ]);
    }
    explain = await plan(cluster.pg.url(), s.projectId);
    log(explain);
  } finally {
    await cluster.close();
    uncap();
    rmSync(dir, { recursive: true, force: true });
  }
  const section = [
    START,
    '## Several processes on one PostgreSQL (npm run bench:cluster)',
    '',
    `Run ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} cores shared with other work (noisy: load ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end);`,
    `every process on this one machine (a private PostgreSQL 15 with fsync off, \`nimbus api\`, one \`nimbus conductor\`, \`nimbus compute --host\` with the fake driver), each in a network namespace of its own.`,
    `Creates: ${CREATES} at ${CONCURRENCY} concurrent clients in a load process of its own, round-robin over the API nodes, each client polling its server until ACTIVE, after ${WARM_CREATES} not counted.`,
    `Lists: \`GET ${LIST}\` with wrk, ${CONCURRENCY} connections split over the API nodes, ${SECONDS} s; with 2 nodes the worse node's p99. Ratios are to the first row, same run.`,
    '',
    `Builds: one multi-create of ${CREATES} (min_count = max_count), until all are ACTIVE, counted in the database.`,
    '',
    '| processes | creates/s to ACTIVE | builds/s, one multi-create | list p99 (ms) | list req/s | failures (creates / lists) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    'Seeded straight into PostgreSQL (one INSERT … SELECT over generate_series, copies of a real server; then VACUUM ANALYZE and a CHECKPOINT), all in the project listed.',
    `Each list run follows 1 s of the same load, not counted. Floor: \`GET /compute/v2.1/flavors/1\` (300 bytes, next to no work) with the same connections right after, the p99 any request got from the machine then:`,
    '',
    '| servers | list p99, 1 API node (ms) | list p99, 2 API nodes (ms) | list req/s (1 / 2 nodes) | floor p99, 1 / 2 nodes (ms) | failures |',
    '| --- | --- | --- | --- | --- | --- |',
    ...seeded.map((r) => `| ${r.join(' | ')} |`),
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
