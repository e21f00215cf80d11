/**
 * PostgreSQL down, restarting or cut off: every request answers, 503 in its API's own error
 * format (never a hang, never a 500), and the node serves again once the database is back.
 * Each test runs a private PostgreSQL (test/cluster/postgres.ts), so the shared one is never
 * disturbed.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { clusterUnavailable, startCluster, type Cluster, type ClusterNode } from './harness.js';
import { postgresAvailable } from './postgres.js';
import { DEMO_PASSWORD } from '../support.js';

const noPostgres = postgresAvailable();
const noNetns = clusterUnavailable();

/** One request of each API, with the error body its dialect gives a 503. */
const PER_DIALECT: { name: string; method: string; path: string; basic?: boolean; check: (body: any) => void }[] = [
  { name: 'compute', method: 'GET', path: '/compute/v2.1/servers/detail', check: (b) => assert.equal(b.serviceUnavailable.code, 503) },
  { name: 'identity', method: 'GET', path: '/identity/v3/projects', check: (b) => assert.deepEqual([b.error.code, b.error.title], [503, 'Service Unavailable']) },
  { name: 'image', method: 'GET', path: '/image/v2/images', check: (b) => assert.deepEqual([b.error.code, b.error.title], [503, 'Service Unavailable']) },
  { name: 'network', method: 'GET', path: '/network/v2.0/networks', check: (b) => assert.equal(b.NeutronError.type, 'HTTPServiceUnavailable') },
  { name: 'control', method: 'GET', path: '/nimbus/v1/behaviours', check: (b) => assert.equal(b.error.code, 503) },
  { name: 'cloudsigma', method: 'GET', path: '/api/2.0/servers/', basic: true, check: (b) => assert.equal(b[0].error_type, 'backend') },
];

async function askEach(node: ClusterNode, token: string) {
  const answers = [];
  for (const r of PER_DIALECT) {
    const headers: Record<string, string> = r.basic ? { authorization: `Basic ${Buffer.from(`demo:${DEMO_PASSWORD}`).toString('base64')}` } : {};
    answers.push({ r, res: await node.req(r.method, r.path, { token: r.basic ? undefined : token, headers }) });
  }
  return answers;
}

test('while PostgreSQL is stopped every API answers 503 in its own error format, and serves again once it is back', { skip: noPostgres ?? false, timeout: 120_000 }, async () => {
  const cluster = await startCluster({ netns: false });
  try {
    const node = await cluster.start({ name: 'api1', role: 'serve' });
    const token = await cluster.token('admin');
    await cluster.pg.stop();
    for (const { r, res } of await askEach(node, token)) {
      assert.equal(res.status, 503, `${r.name}: ${res.status} ${res.text}`);
      r.check(res.body);
    }
    // A new token cannot be issued either: 503, not 401.
    const issue = await node.req('POST', '/identity/v3/auth/tokens', { body: { auth: { identity: { methods: ['password'], password: { user: { name: 'demo', domain: { id: 'default' }, password: DEMO_PASSWORD } } } } } });
    assert.equal(issue.status, 503, issue.text);
    await cluster.pg.start();
    for (const { r, res } of await askEach(node, token)) assert.equal(res.status, 200, `${r.name} after the restart: ${res.status} ${res.text}`);
    assert.equal(node.child.exitCode, null, 'the node kept running');
  } finally {
    await cluster.close();
  }
});

test('a node cut off from PostgreSQL answers 503 while the link is down, and serves again once it is back', { skip: noNetns ?? false, timeout: 120_000 }, async () => {
  const cluster = await startCluster();
  try {
    const node = await cluster.start({ name: 'api1', role: 'serve' });
    const token = await cluster.token('admin');
    assert.equal((await node.req('GET', '/compute/v2.1/servers', { token })).status, 200);
    cluster.cut('api1');
    // The pool's connections are across the cut (a statement on one is never answered) and
    // new ones cannot be made: both are bounded.
    for (let i = 0; i < 2; i++) {
      const res = await node.req('GET', '/compute/v2.1/flavors/detail', { token });
      assert.equal(res.status, 503, res.text);
      assert.equal(res.body.serviceUnavailable.code, 503);
    }
    cluster.mend('api1');
    const res = await node.req('GET', '/compute/v2.1/servers', { token });
    assert.equal(res.status, 200, res.text);
  } finally {
    await cluster.close();
  }
});

let cluster: Cluster;

before(async () => {
  if (noPostgres) return;
  cluster = await startCluster();
});
after(async () => cluster?.close());

const TERMINAL = new Set(['ACTIVE', 'ERROR']);

test('PostgreSQL restarted while servers are being created: no request is a 500, every process carries on, every server ends ACTIVE or ERROR', { skip: noPostgres ?? false, timeout: 120_000 }, async () => {
  await cluster.migrate();
  // A statement lost in the restart can leave its task's lease behind: a short lease bounds that.
  const env = { NIMBUS_TASK_LEASE_SECONDS: '5' };
  const all = await Promise.all([
    cluster.start({ name: 'api1', role: 'api', env }),
    cluster.start({ name: 'api2', role: 'api', env }),
    cluster.start({ name: 'conductor1', role: 'conductor', env }),
    cluster.start({ name: 'h1', role: 'compute', host: 'h1', env }),
    cluster.start({ name: 'h2', role: 'compute', host: 'h2', env }),
  ]);
  const nodes = all.slice(0, 2);
  const token = await cluster.token('demo');
  // However long the restart takes, the creates meanwhile are bounded by time, not by Nova's 10 instances.
  const projectId = (await nodes[0].req('GET', '/identity/v3/auth/tokens', { token, headers: { 'x-subject-token': token } })).body.token.project.id;
  const lifted = await nodes[0].req('PUT', `/compute/v2.1/os-quota-sets/${projectId}`, { token: await cluster.token('admin'), body: { quota_set: { instances: -1, cores: -1, ram: -1 } } });
  assert.equal(lifted.status, 200, lifted.text);
  const flavor = (await nodes[0].req('GET', '/compute/v2.1/flavors', { token })).body.flavors[0].id;
  const image = (await nodes[0].req('GET', '/image/v2/images', { token })).body.images[0].id;
  const statuses: number[] = [];
  const created: string[] = [];
  let restarting = true;
  const load = nodes.map(async (node, n) => {
    for (let i = 0; restarting || i < 4; i++) {
      const res = await node.req('POST', '/compute/v2.1/servers', { token, version: '2.37', body: { server: { name: `load-${n}-${i}`, flavorRef: flavor, imageRef: image, networks: 'none' } } });
      statuses.push(res.status);
      if (res.status === 202) created.push(res.body.server.id);
      else assert.equal(res.status, 503, res.text);
      if (res.status === 503) await new Promise((r) => setTimeout(r, 200));
    }
  });
  await new Promise((r) => setTimeout(r, 500));
  await cluster.pg.restart();
  restarting = false;
  await Promise.all(load);
  assert.ok(!statuses.some((s) => s >= 500 && s !== 503), `statuses: ${statuses}`);
  assert.ok(created.length > 0);
  // Every server reaches a true state through either node: none stuck in BUILD.
  const states = new Map<string, string>();
  for (let round = 0; round < 150 && states.size < created.length; round++) {
    for (const id of created) {
      if (states.has(id)) continue;
      const res = await nodes[round % 2].req('GET', `/compute/v2.1/servers/${id}`, { token });
      assert.equal(res.status, 200, res.text);
      if (TERMINAL.has(res.body.server.status)) states.set(id, res.body.server.status);
    }
    if (states.size < created.length) await new Promise((r) => setTimeout(r, 200));
  }
  const stuck = created.filter((id) => !states.has(id));
  assert.deepEqual(stuck, [], `servers not ACTIVE or ERROR after the restart: ${stuck}`);
  for (const node of all) assert.equal(node.child.exitCode, null, `${node.spec.name} kept running:\n${node.output().slice(-2000)}`);
});
