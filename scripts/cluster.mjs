#!/usr/bin/env node
/**
 * Starts a local Nimbus cluster on this machine, the one the cluster tests and
 * `npm run bench:cluster` use (test/cluster/harness.ts): a private PostgreSQL, API nodes,
 * and, once the roles exist, a conductor and compute hosts; as root each process runs in a
 * network namespace of its own. It prints where each node listens and a clouds.yaml for the
 * openstack CLI, and on Ctrl-C (or SIGTERM) stops everything and removes what it made.
 *
 *   npm run build && sudo node scripts/cluster.mjs [--api 2] [--conductors 1] [--computes 3] [--no-netns]
 *
 * Until `nimbus api`, `nimbus conductor` and `nimbus compute` exist, each API node is a
 * `nimbus serve` (every role in one process) and no conductor or compute process starts.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const harness = join(root, 'dist/test/cluster/harness.js');
if (!existsSync(harness)) {
  process.stderr.write('cluster: build first (npm run build)\n');
  process.exit(2);
}
const { startCluster, clusterUnavailable } = await import(harness);
const { DEMO_PASSWORD, ADMIN_PASSWORD } = await import(join(root, 'dist/test/support.js'));

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const usage = execFileSync(process.execPath, [join(root, 'dist/src/cli.js'), '--help'], { encoding: 'utf8' });
const roles = /^\s+compute\b/m.test(usage);
const netns = !process.argv.includes('--no-netns') && clusterUnavailable() === null;

const cluster = await startCluster({ netns });
const clouds = mkdtempSync(join(tmpdir(), 'nimbus-cluster-'));
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\nstopping the cluster…\n');
  await cluster.close();
  rmSync(clouds, { recursive: true, force: true });
  process.exit(0);
};
// The harness undoes the cluster itself on a signal; the clouds.yaml goes with it.
process.once('exit', () => rmSync(clouds, { recursive: true, force: true }));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

try {
  const apis = arg('api', 2);
  if (roles) await cluster.migrate();
  for (let i = 1; i <= apis; i++) await cluster.start({ name: `api${i}`, role: roles ? 'api' : 'serve' });
  if (roles) {
    for (let i = 1; i <= arg('conductors', 1); i++) await cluster.start({ name: `conductor${i}`, role: 'conductor' });
    for (let i = 1; i <= arg('computes', 3); i++) await cluster.start({ name: `compute${i}`, role: 'compute', host: `compute${i}` });
  }
  const yaml = join(clouds, 'clouds.yaml');
  const entry = (url, user, password) => ({ auth: { auth_url: `${url}/identity/v3`, username: user, password, project_name: user, user_domain_name: 'Default', project_domain_name: 'Default' }, region_name: 'RegionOne', identity_api_version: 3 });
  const entries = {};
  for (const [name, node] of cluster.nodes) {
    if (node.spec.role === 'serve' || node.spec.role === 'api') {
      entries[`${name}-demo`] = entry(node.url, 'demo', DEMO_PASSWORD);
      entries[`${name}-admin`] = entry(node.url, 'admin', ADMIN_PASSWORD);
    }
  }
  writeFileSync(yaml, JSON.stringify({ clouds: entries }, null, 2), { mode: 0o600 });
  const lines = [
    `Nimbus cluster (${netns ? 'each process in its own network namespace' : 'all on loopback'}${roles ? '' : '; roles not built yet: API nodes run `nimbus serve`'})`,
    `  postgres  ${cluster.pg.url().replace(/:[^:@/]+@/, ':***@')}`,
    ...[...cluster.nodes.values()].map((n) => `  ${n.spec.name.padEnd(12)}${n.spec.role.padEnd(10)}${n.spec.role === 'serve' || n.spec.role === 'api' ? n.url : ''}  pid ${n.child.pid}`),
    `  images    ${cluster.imageDir}`,
    `  clouds    ${yaml}  (export OS_CLIENT_CONFIG_FILE=${yaml}; openstack --os-cloud api1-demo server list)`,
    'Ctrl-C stops it.',
  ];
  process.stdout.write(lines.join('\n') + '\n');
} catch (err) {
  process.stderr.write(`cluster: ${err.stack ?? err}\n`);
  await cluster.close();
  process.exit(1);
}
