/**
 * A Nimbus cluster on one machine, for the cluster tests, the cluster benchmark and
 * scripts/cluster.mjs: a private PostgreSQL, and Nimbus processes by role, each (as root)
 * in a network namespace of its own, joined to the host by two veth pairs: a database link
 * (to PostgreSQL's address on the host) and a front link (its HTTP, for clients). Cutting a
 * node's database link (`cut`) leaves its front link up, so a test still talks to it.
 *
 * Addresses are ours, in 10.231.0.0/16: one /24 per cluster (a third octet no interface on
 * the host uses yet), PostgreSQL on .254 of it (an address on the host's loopback), and per node k two /30s:
 * the database link 8k+1 (host) / 8k+2 (node), the front link 8k+5 (host) / 8k+6 (node).
 *
 * Everything is undone by close(), and by an exit hook if a test dies before it: processes
 * killed, namespaces and links deleted, PostgreSQL stopped and its files removed.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ADMIN_PASSWORD, DEMO_PASSWORD, freePort, passwordToken, request, type RequestOptions, type Response } from '../support.js';
import { postgresAvailable, startPostgres, type PrivatePostgres } from './postgres.js';

/** The CLI command a node runs: `serve` holds every role; `api`, `conductor` and `compute` one each, after `migrate`. */
export type Role = 'serve' | 'api' | 'conductor' | 'compute';

export interface NodeSpec {
  name: string;
  role: Role;
  /** For `compute`: the host it runs (`--host`). */
  host?: string;
  /** Extra environment. */
  env?: Record<string, string>;
}

export interface ClusterNode {
  spec: NodeSpec;
  /** Its HTTP base URL (roles without HTTP have one all the same: unused). */
  url: string;
  /** Its data directory (a qemu compute's machines live under it). */
  dataDir: string;
  child: ChildProcess;
  output(): string;
  req(method: string, path: string, opts?: RequestOptions): Promise<Response>;
}

export interface Cluster {
  pg: PrivatePostgres;
  /** True when the nodes run in network namespaces (root with `ip`); false: all on loopback. */
  netns: boolean;
  imageDir: string;
  nodes: Map<string, ClusterNode>;
  /** `nimbus migrate` on the cluster's database: what the split roles need before they start (`env`: NIMBUS_DRIVER=qemu seeds the tiny guest). */
  migrate(env?: Record<string, string>): Promise<void>;
  /** Starts a node and waits until it serves (HTTP roles) or says it is running (the others). */
  start(spec: NodeSpec): Promise<ClusterNode>;
  node(name: string): ClusterNode;
  /** SIGKILL, as a machine that dies. */
  kill(name: string): Promise<void>;
  /** Starts a killed or stopped node again, with the same name, addresses and data directory. */
  restart(name: string): Promise<ClusterNode>;
  /** Takes the node's database link down (PostgreSQL unreachable for it alone), and up again. */
  cut(name: string): void;
  mend(name: string): void;
  token(user: 'admin' | 'demo', node?: string): Promise<string>;
  close(): Promise<void>;
}

const ROOT = new URL('../../..', import.meta.url).pathname; // dist/test/cluster → project root

/** Why the cluster tests cannot run here, or null. */
export function clusterUnavailable(): string | null {
  const pg = postgresAvailable();
  if (pg) return pg;
  if (process.getuid?.() !== 0) return 'the cluster tests need root (network namespaces); CI runs them as root';
  if (spawnSync('ip', ['netns', 'list']).status !== 0) return 'the cluster tests need iproute2 (`ip netns`)';
  return null;
}

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** A /24 of 10.231.0.0/16 no address on this host is in yet. */
function freeOctet(): number {
  const used = spawnSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' }).stdout ?? '';
  for (let tries = 0; tries < 200; tries++) {
    const octet = 1 + Math.floor(Math.random() * 250);
    if (!used.includes(`10.231.${octet}.`)) return octet;
  }
  throw new Error('no free /24 in 10.231.0.0/16');
}

interface Links {
  ns: string;
  dbHost: string;
  nodeDbAddress: string;
  nodeFrontAddress: string;
}

/** Live clusters' teardown, run synchronously if the process exits without close(). */
const teardowns = new Set<() => void>();
process.once('exit', () => {
  for (const t of teardowns) t();
});
// Stopped by a signal (a test runner's timeout, Ctrl-C) the 'exit' event never comes: undo it all first.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const t of teardowns) t();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

export async function startCluster(options: { netns?: boolean } = {}): Promise<Cluster> {
  const netns = options.netns ?? clusterUnavailable() === null;
  const tag = randomBytes(2).toString('hex');
  const octet = netns ? freeOctet() : 0;
  const pgAddress = `10.231.${octet}.254`;
  const namespaces: string[] = [];
  const hostLinks: string[] = [];
  const hostAddresses: string[] = [];
  const children = new Set<ChildProcess>();
  const dirs: string[] = [];
  const teardown = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    pgStop?.();
    for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns]);
    for (const link of hostLinks) spawnSync('ip', ['link', 'del', link], { stdio: 'ignore' });
    for (const address of hostAddresses) spawnSync('ip', ['addr', 'del', address, 'dev', 'lo'], { stdio: 'ignore' });
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  teardowns.add(teardown);

  if (netns) {
    ip('addr', 'add', `${pgAddress}/32`, 'dev', 'lo');
    hostAddresses.push(`${pgAddress}/32`);
  }
  let pg: PrivatePostgres;
  let pgStop: (() => void) | undefined;
  try {
    pg = await startPostgres({ addresses: netns ? [pgAddress] : [] });
    pgStop = pg.stopNow;
  } catch (err) {
    teardown();
    teardowns.delete(teardown);
    throw err;
  }
  const imageDir = mkdtempSync(join(tmpdir(), 'nimbus-images-'));
  dirs.push(imageDir);
  const nodes = new Map<string, ClusterNode>();
  const links = new Map<string, Links>();
  const ports = new Map<string, number>();
  const dataDirs = new Map<string, string>();

  const linksOf = (name: string): Links => {
    let l = links.get(name);
    if (l) return l;
    const k = links.size + 1;
    if (k > 31) throw new Error('at most 31 nodes per cluster');
    const ns = `nimbus-${tag}-${name}`;
    const base = 8 * k;
    const a = (n: number) => `10.231.${octet}.${base + n}`;
    const dbHost = `nb${tag}d${k}`;
    const frontHost = `nb${tag}f${k}`;
    ip('netns', 'add', ns);
    namespaces.push(ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    for (const [host, inside, hostAddr, nodeAddr] of [
      [dbHost, 'db0', a(1), a(2)],
      [frontHost, 'front0', a(5), a(6)],
    ]) {
      ip('link', 'add', host, 'type', 'veth', 'peer', 'name', inside, 'netns', ns);
      hostLinks.push(host);
      ip('addr', 'add', `${hostAddr}/30`, 'dev', host);
      ip('link', 'set', host, 'up');
      ip('-n', ns, 'addr', 'add', `${nodeAddr}/30`, 'dev', inside);
      ip('-n', ns, 'link', 'set', inside, 'up');
    }
    // PostgreSQL's address is reached over the database link only.
    ip('-n', ns, 'route', 'add', `${pgAddress}/32`, 'via', a(1), 'dev', 'db0');
    // The other nodes over the front links, through the host: forwarding on these links alone
    // (the host's ip_forward stays as it is), so an API node reaches a compute's host
    // endpoint and one compute's QEMU another's for a live migration.
    ip('-n', ns, 'route', 'add', `10.231.${octet}.0/24`, 'via', a(5), 'dev', 'front0');
    writeFileSync(`/proc/sys/net/ipv4/conf/${frontHost}/forwarding`, '1');
    l = { ns, dbHost, nodeDbAddress: a(2), nodeFrontAddress: a(6) };
    links.set(name, l);
    return l;
  };

  const baseEnv = (): Record<string, string> => ({
    NIMBUS_IMAGE_DIR: imageDir,
    NIMBUS_ADMIN_PASSWORD: ADMIN_PASSWORD,
    NIMBUS_DEMO_PASSWORD: DEMO_PASSWORD,
    NIMBUS_LOG_LEVEL: 'warn',
    NIMBUS_LOG_FORMAT: 'json',
    NIMBUS_FAKE_BUSY_WINDOW_MS: '0',
  });

  const launch = async (spec: NodeSpec): Promise<ClusterNode> => {
    const l = netns ? linksOf(spec.name) : null;
    const port = ports.get(spec.name) ?? (netns ? 8774 : await freePort());
    ports.set(spec.name, port);
    let dataDir = dataDirs.get(spec.name);
    if (!dataDir) {
      dataDir = mkdtempSync(join(tmpdir(), `nimbus-${spec.name}-`));
      dirs.push(dataDir);
      dataDirs.set(spec.name, dataDir);
    }
    const address = l ? l.nodeFrontAddress : '127.0.0.1';
    const url = `http://${address}:${port}`;
    const args = [join(ROOT, 'dist/src/cli.js'), spec.role, ...(spec.host ? ['--host', spec.host] : [])];
    const env = {
      ...process.env,
      NIMBUS_DATABASE_URL: pg.url(l ? pgAddress : '127.0.0.1'),
      NIMBUS_LISTEN: `${address}:${port}`,
      NIMBUS_NODE_ID: spec.name,
      NIMBUS_DATA_DIR: dataDir,
      // A compute's host endpoint (and a live migration's stream) on the address the others reach; on loopback, a port of its own.
      ...(spec.role === 'compute' ? { NIMBUS_HOST_IP: address, NIMBUS_HOST_PORT: l ? '8775' : '0' } : {}),
      ...baseEnv(),
      ...spec.env,
    };
    const child = l
      ? spawn('ip', ['netns', 'exec', l.ns, process.execPath, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const node: ClusterNode = { spec, url, dataDir, child, output: () => out, req: (method, path, opts) => request(url, method, path, opts) };
    nodes.set(spec.name, node);
    await ready(node);
    return node;
  };

  const cluster: Cluster = {
    pg,
    netns,
    imageDir,
    nodes,
    start: launch,
    migrate: async (extra = {}) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'nimbus-migrate-'));
      dirs.push(dataDir);
      const env = { ...process.env, ...baseEnv(), NIMBUS_DATABASE_URL: pg.url(), NIMBUS_DATA_DIR: dataDir, ...extra };
      await new Promise<void>((resolve, reject) =>
        execFile(process.execPath, [join(ROOT, 'dist/src/cli.js'), 'migrate'], { cwd: ROOT, env, timeout: 60_000 }, (err, _out, stderr) => (err ? reject(new Error(`nimbus migrate: ${err.message}\n${stderr}`)) : resolve())),
      );
    },
    node: (name) => {
      const n = nodes.get(name);
      if (!n) throw new Error(`no node ${name}`);
      return n;
    },
    kill: async (name) => {
      const { child } = cluster.node(name);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
    restart: async (name) => {
      await cluster.kill(name);
      return launch(cluster.node(name).spec);
    },
    cut: (name) => ip('link', 'set', linksOf(name).dbHost, 'down'),
    mend: (name) => ip('link', 'set', linksOf(name).dbHost, 'up'),
    token: async (user, node) => (await passwordToken((node ? cluster.node(node) : [...nodes.values()][0]).url, user, user === 'admin' ? ADMIN_PASSWORD : DEMO_PASSWORD, user)).token,
    close: async () => {
      const exits = [...children].filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((r) => c.once('exit', r)));
      for (const c of children) c.kill('SIGKILL');
      await Promise.all(exits);
      await pg.destroy();
      teardown();
      teardowns.delete(teardown);
    },
  };
  return cluster;
}

/** Waits until the node answers HTTP, or (no HTTP) says it runs; fails with its output if it exits first. */
async function ready(node: ClusterNode, timeoutMs = 30000): Promise<void> {
  const http = node.spec.role === 'serve' || node.spec.role === 'api';
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (node.child.exitCode !== null || node.child.signalCode !== null) throw new Error(`${node.spec.name} exited (${node.child.exitCode ?? node.child.signalCode}):\n${node.output()}`);
    if (!http) {
      if (/is running/.test(node.output())) return;
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    try {
      const res = await fetch(`${node.url}/`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${node.spec.name} did not answer within ${timeoutMs} ms:\n${node.output()}`);
}
