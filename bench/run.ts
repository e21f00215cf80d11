/**
 * `npm run bench`: starts Nimbus as a child process on loopback, measures its cold start,
 * loads it with autocannon case by case, reads its resident memory, and regenerates the
 * results section of BENCHMARKS.md.
 *
 * To add a case, append to CASES: a name, a request built from the session (tokens and ids
 * made once before the runs), and optionally a setup step that creates what it needs.
 *
 * Settings (environment): BENCH_DURATION seconds per run (default 8), BENCH_WARMUP seconds
 * (default 2), BENCH_CONNECTIONS (default "10,50"), BENCH_COLD_STARTS (default 5),
 * BENCH_ONLY (a substring of case names), BENCH_WRITE=0 to leave BENCHMARKS.md alone.
 * NIMBUS_DATABASE_URL is passed through, so the same cases can run on PostgreSQL.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const ROOT = fileURLToPath(new URL('../..', import.meta.url)); // dist/bench → project root
const CLI = join(ROOT, 'dist/src/cli.js');
const REPORT = join(ROOT, 'BENCHMARKS.md');

const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '10,50').split(',').map(Number);
const COLD_STARTS = Number(process.env.BENCH_COLD_STARTS ?? 5);
const ONLY = process.env.BENCH_ONLY;
const ADMIN_PASSWORD = 'bench-admin-pw';
const DEMO_PASSWORD = 'bench-demo-pw';

/** The issue's goals on the 2-core reference machine. */
const GOALS = { coldStartMs: 1000, flavorsDetailRps: 10_000 };
const LOAD_BEFORE = loadavg();

/** What every case may use: made once, after the first start. */
interface Session {
  url: string;
  adminToken: string;
  demoToken: string;
  demoProjectId: string;
}

interface LoadCase {
  name: string;
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
  path: string | ((s: Session) => string);
  headers: (s: Session) => Record<string, string>;
  body?: (s: Session) => unknown;
  /** Creates what the case needs (a server to show, say) before it runs. */
  setup?: (s: Session) => Promise<void>;
}

const CASES: LoadCase[] = [
  {
    name: 'token validation (GET /identity/v3/auth/tokens)',
    path: '/identity/v3/auth/tokens',
    headers: (s) => ({ 'x-auth-token': s.adminToken, 'x-subject-token': s.demoToken }),
  },
  {
    name: 'GET /compute/v2.1/flavors/detail',
    path: '/compute/v2.1/flavors/detail',
    headers: (s) => ({ 'x-auth-token': s.demoToken }),
  },
];

interface LoadResult {
  name: string;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  /** Nimbus's own CPU time (user + system) per response: steadier than requests/s on a busy machine. */
  cpuUsPerRequest: number;
  /** Responses that were not 2xx, by status, plus socket errors and timeouts. */
  failures: string;
}

// ── process handling ────────────────────────────────────────────────────────────

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function getStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
  });
}

interface Started {
  child: ChildProcess;
  url: string;
  dataDir: string;
  coldStartMs: number;
  output: () => string;
  stop: () => Promise<void>;
}

/** Spawns `nimbus serve` and times it until GET /compute/v2.1 answers 200 (version documents need no token). */
async function startNimbus(dataDir = mkdtempSync(join(tmpdir(), 'nimbus-bench-'))): Promise<Started> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NIMBUS_') || k === 'NIMBUS_DATABASE_URL')),
    NIMBUS_LISTEN: `127.0.0.1:${port}`,
    NIMBUS_DATA_DIR: dataDir,
    NIMBUS_LOG_LEVEL: 'warn',
    NIMBUS_ADMIN_PASSWORD: ADMIN_PASSWORD,
    NIMBUS_DEMO_PASSWORD: DEMO_PASSWORD,
  };
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  let exited = false;
  const exit = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  for (;;) {
    if (exited) throw new Error(`nimbus exited during start:\n${out}`);
    if (performance.now() - t0 > 30_000) {
      child.kill('SIGKILL');
      throw new Error(`nimbus did not answer within 30 s:\n${out}`);
    }
    if ((await getStatus(`${url}/compute/v2.1`)) === 200) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const coldStartMs = performance.now() - t0;
  return {
    child,
    url,
    dataDir,
    coldStartMs,
    output: () => out,
    stop: async () => {
      if (!exited) child.kill('SIGTERM');
      await exit;
    },
  };
}

/** User + system CPU time of a process so far, in microseconds (from /proc/<pid>/stat). */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
function cpuUsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS; // utime, stime
}

function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

// ── measurements ────────────────────────────────────────────────────────────────

async function session(url: string): Promise<Session> {
  const token = async (user: string, password: string) => {
    const res = await fetch(`${url}/identity/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } },
          scope: { project: { name: user, domain: { id: 'default' } } },
        },
      }),
    });
    if (res.status !== 201) throw new Error(`token for ${user}: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { token: { project: { id: string } } };
    return { token: res.headers.get('x-subject-token')!, projectId: body.token.project.id };
  };
  const admin = await token('admin', ADMIN_PASSWORD);
  const demo = await token('demo', DEMO_PASSWORD);
  return { url, adminToken: admin.token, demoToken: demo.token, demoProjectId: demo.projectId };
}

const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN);

async function load(c: LoadCase, s: Session, connections: number, pid: number): Promise<LoadResult> {
  const path = typeof c.path === 'function' ? c.path(s) : c.path;
  const headers: Record<string, string> = { accept: 'application/json', ...c.headers(s) };
  const body = c.body ? JSON.stringify(c.body(s)) : undefined;
  if (body) headers['content-type'] = 'application/json';
  const options = { url: s.url + path, method: c.method ?? 'GET', headers, body, connections, timeout: 10 };

  if (WARMUP > 0) await autocannon({ ...options, duration: WARMUP });
  // autocannon's histogram keeps whole milliseconds; keep our own sub-millisecond latencies.
  const latencies: number[] = [];
  const cpuBefore = cpuUsOf(pid);
  const run = autocannon({ ...options, duration: DURATION });
  run.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => latencies.push(ms));
  const result = await run;
  const cpuUs = cpuUsOf(pid) - cpuBefore;
  latencies.sort((a, b) => a - b);
  const failures = Object.entries(result.statusCodeStats)
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, { count }]) => `${count}×${code}`);
  if (result.errors) failures.push(`${result.errors} errors`);
  if (result.timeouts) failures.push(`${result.timeouts} timeouts`);
  const completed = latencies.length;
  return {
    name: c.name,
    connections,
    rps: completed / result.duration,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    requests: completed,
    cpuUsPerRequest: cpuUs / completed,
    failures: failures.join(', '),
  };
}

// ── report ──────────────────────────────────────────────────────────────────────

const START = '<!-- bench:results:start (npm run bench regenerates this section) -->';
const END = '<!-- bench:results:end -->';

const PREAMBLE = `# Benchmarks

\`npm run bench\` (bench/run.ts) starts Nimbus as a child process on a loopback port with a
temporary data directory and \`NIMBUS_LOG_LEVEL=warn\`, then measures:

- **cold start**: from spawning \`node dist/src/cli.js serve\` on an empty data directory
  (so it includes migrating and seeding a new SQLite database) to the first 200 on
  \`GET /compute/v2.1\`; and the same for a restart on the existing data directory;
- **load**: each case in \`CASES\` with [autocannon](https://github.com/mcollina/autocannon)
  on loopback, at each connection count, for a fixed time after a short warm-up:
  requests per second, and p50/p99 latency measured per response;
- **CPU per request**: Nimbus's own user + system CPU time (from \`/proc/<pid>/stat\`) over a
  run, divided by the responses: the figure least moved by other work on the machine;
- **memory**: the Nimbus process's resident set (\`VmRSS\`, and its peak \`VmHWM\`, from
  \`/proc/<pid>/status\`) when idle after start and after all the load runs.

autocannon runs in the benchmark's own process on the same machine, so on a 2-core machine
the load generator and Nimbus share the CPU: the figures are what one machine does end to
end, not Nimbus alone. The results below are overwritten on every run.
`;

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '–';
}

function machine(): string[] {
  const nproc = (() => {
    try {
      return execFileSync('nproc', { encoding: 'utf8' }).trim();
    } catch {
      return String(availableParallelism());
    }
  })();
  return [
    `- date: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
    `- command: \`npm run bench\` (${DURATION} s per run after a ${WARMUP} s warm-up; connections ${CONNECTIONS.join(', ')})`,
    `- machine: ${nproc} CPUs (\`nproc\`), ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${fmt(totalmem() / 1024 ** 3, 1)} GiB memory`,
    `- load average before the run: ${LOAD_BEFORE.map((l) => l.toFixed(2)).join(', ')} (other work on the machine skews every figure but CPU per request)`,
    `- node ${process.version}, database ${process.env.NIMBUS_DATABASE_URL ? 'PostgreSQL' : 'SQLite (embedded default)'}, driver fake`,
  ];
}

function render(cold: number[], warm: number[], idle: ReturnType<typeof memoryOf>, loaded: ReturnType<typeof memoryOf>, results: LoadResult[]): string {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const flavors = results.filter((r) => r.name.includes('flavors/detail') && !r.failures);
  const bestFlavors = flavors.length ? Math.max(...flavors.map((r) => r.rps)) : NaN;
  const verdict = (ok: boolean) => (ok ? 'met' : '**not met**');
  const lines = [
    START,
    '## Latest results',
    '',
    ...machine(),
    '',
    '| cold start | median | min | max | runs |',
    '| --- | ---: | ---: | ---: | ---: |',
    `| first start (empty data dir: migrate + seed) | ${fmt(median(cold))} ms | ${fmt(Math.min(...cold))} ms | ${fmt(Math.max(...cold))} ms | ${cold.length} |`,
    `| restart (existing data dir) | ${fmt(median(warm))} ms | ${fmt(Math.min(...warm))} ms | ${fmt(Math.max(...warm))} ms | ${warm.length} |`,
    '',
    '| case | connections | requests/s | p50 | p99 | requests | Nimbus CPU per request | not 2xx / errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...results.map((r) => `| ${r.name} | ${r.connections} | ${fmt(r.rps)} | ${fmt(r.p50, 2)} ms | ${fmt(r.p99, 2)} ms | ${fmt(r.requests)} | ${fmt(r.cpuUsPerRequest)} µs | ${r.failures || 'none'} |`),
    '',
    '| resident memory | VmRSS | peak (VmHWM) |',
    '| --- | ---: | ---: |',
    `| idle, after start and two logins | ${fmt(idle.rssMiB, 1)} MiB | ${fmt(idle.peakMiB, 1)} MiB |`,
    `| after the load runs | ${fmt(loaded.rssMiB, 1)} MiB | ${fmt(loaded.peakMiB, 1)} MiB |`,
    '',
    'Goals from the platform issue (2-core machine):',
    '',
    `- cold start under ${fmt(GOALS.coldStartMs)} ms: ${verdict(median(cold) < GOALS.coldStartMs)} (median first start ${fmt(median(cold))} ms)`,
    `- over ${fmt(GOALS.flavorsDetailRps)} requests/s on \`GET /compute/v2.1/flavors/detail\`: ${verdict(bestFlavors > GOALS.flavorsDetailRps)} (best ${fmt(bestFlavors)} requests/s)`,
    END,
  ];
  return lines.join('\n');
}

function writeReport(section: string): void {
  const current = existsSync(REPORT) ? readFileSync(REPORT, 'utf8') : PREAMBLE;
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  const next =
    start >= 0 && end > start
      ? current.slice(0, start) + section + current.slice(end + END.length)
      : current.replace(/\s*$/, '\n\n') + section + '\n';
  writeFileSync(REPORT, next.endsWith('\n') ? next : next + '\n');
}

// ── main ────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm run bench does)`);
  const log = (s: string) => process.stdout.write(s + '\n');

  log(`cold start: ${COLD_STARTS} first starts and ${COLD_STARTS} restarts`);
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < COLD_STARTS; i++) {
    const first = await startNimbus();
    cold.push(first.coldStartMs);
    await first.stop();
    const again = await startNimbus(first.dataDir);
    warm.push(again.coldStartMs);
    await again.stop();
    rmSync(first.dataDir, { recursive: true, force: true });
    log(`  first start ${fmt(first.coldStartMs)} ms, restart ${fmt(again.coldStartMs)} ms`);
  }

  const nimbus = await startNimbus();
  const results: LoadResult[] = [];
  try {
    const s = await session(nimbus.url);
    const idle = memoryOf(nimbus.child.pid!);
    for (const c of CASES.filter((x) => !ONLY || x.name.includes(ONLY))) {
      await c.setup?.(s);
      for (const connections of CONNECTIONS) {
        const r = await load(c, s, connections, nimbus.child.pid!);
        results.push(r);
        log(`  ${r.name} @${connections}: ${fmt(r.rps)} req/s, p50 ${fmt(r.p50, 2)} ms, p99 ${fmt(r.p99, 2)} ms, ${fmt(r.cpuUsPerRequest)} µs CPU/request${r.failures ? `  (${r.failures})` : ''}`);
      }
    }
    const loaded = memoryOf(nimbus.child.pid!);
    const section = render(cold, warm, idle, loaded, results);
    log('\n' + section.split('\n').slice(1, -1).join('\n'));
    if (process.env.BENCH_WRITE !== '0') {
      writeReport(section);
      log(`\nwritten to ${REPORT}`);
    }
    if (results.some((r) => r.failures)) process.exitCode = 1;
  } finally {
    await nimbus.stop();
    rmSync(nimbus.dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench: ${err?.stack ?? err}\n`);
  process.exit(1);
});
