/**
 * Two API nodes (`nimbus api`) on one PostgreSQL (a private one) with a conductor and two
 * compute hosts, each process with a data directory of its own and (as root) a network
 * namespace of its own, the API nodes sharing one image directory: either answers for
 * everything, what one changes the other sees at once, and when one dies the other carries
 * on with nothing lost.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type Cluster, type ClusterNode } from './harness.js';
import { postgresAvailable } from './postgres.js';
import { DEMO_PASSWORD } from '../support.js';
import { OPENSTACK, cleanEnv, cliSkip } from '../clients/cli.js';

const skip = postgresAvailable() ?? false;
let cluster: Cluster;
let one: ClusterNode;
let two: ClusterNode;
let admin: string;

before(async () => {
  if (skip) return;
  cluster = await startCluster();
  // Each hypervisor operation takes half a second: builds are still running when an API node dies.
  const env = { NIMBUS_FAKE_OPERATION_MS: '500' };
  await cluster.migrate();
  [one, two] = await Promise.all([
    cluster.start({ name: 'api1', role: 'api' }),
    cluster.start({ name: 'api2', role: 'api' }),
    cluster.start({ name: 'conductor1', role: 'conductor' }),
    cluster.start({ name: 'h1', role: 'compute', host: 'h1', env }),
    cluster.start({ name: 'h2', role: 'compute', host: 'h2', env }),
  ]);
  admin = await cluster.token('admin', 'api1');
});
after(async () => cluster?.close());

test('an image uploaded through one API node is downloaded through the other (the image directory they share)', { skip }, async () => {
  const created = await one.req('POST', '/image/v2/images', { token: admin, body: { name: 'shared', disk_format: 'raw', container_format: 'bare' } });
  assert.equal(created.status, 201, created.text);
  const id = created.body.id;
  const data = Buffer.from('bytes every node must reach');
  const put = await one.req('PUT', `/image/v2/images/${id}/file`, { token: admin, raw: data, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(put.status, 204, put.text);
  const got = await two.req('GET', `/image/v2/images/${id}/file`, { token: admin });
  assert.equal(got.status, 200, got.text);
  assert.equal(got.text, data.toString());
});

/** Asks until `done` holds, for at most `ms`: a notice between processes takes a moment, less than any cache lifetime. */
async function soon(ms: number, done: () => Promise<boolean>): Promise<boolean> {
  const until = Date.now() + ms;
  do {
    if (await done()) return true;
    await new Promise((r) => setTimeout(r, 25));
  } while (Date.now() < until);
  return false;
}

test('a token revoked through one API node is refused by the other at once, not when its cached validation expires', { skip }, async () => {
  const token = await cluster.token('demo', 'api1');
  assert.equal((await two.req('GET', '/compute/v2.1/servers', { token })).status, 200); // now in api2's cache (2 s)
  const revoked = await one.req('DELETE', '/identity/v3/auth/tokens', { token: admin, headers: { 'x-subject-token': token } });
  assert.equal(revoked.status, 204, revoked.text);
  assert.ok(await soon(500, async () => (await two.req('GET', '/compute/v2.1/servers', { token })).status === 401), 'api2 still accepts the revoked token');
});

test('a flavor deleted through one API node is gone from the other node\'s list at once, not when its cached list expires', { skip }, async () => {
  const made = await one.req('POST', '/compute/v2.1/flavors', { token: admin, body: { flavor: { name: 'short-lived', ram: 256, vcpus: 1, disk: 1 } } });
  assert.equal(made.status, 200, made.text);
  const id = made.body.flavor.id;
  const listed = async () => (await two.req('GET', '/compute/v2.1/flavors', { token: admin })).body.flavors.map((f: { id: string }) => f.id) as string[];
  assert.ok(await soon(1500, async () => (await listed()).includes(id))); // now in api2's cache (1 s)
  assert.equal((await one.req('DELETE', `/compute/v2.1/flavors/${id}`, { token: admin })).status, 202);
  assert.ok(await soon(300, async () => !(await listed()).includes(id)), 'api2 still lists the deleted flavor');
});

function openstack(cloudsYaml: string, cloud: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(OPENSTACK, ['--os-cloud', cloud, ...args, '-f', 'json'], { env: cleanEnv({ OS_CLIENT_CONFIG_FILE: cloudsYaml }), timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

test('the openstack CLI through either API node sees the same servers', { skip: skip || cliSkip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbus-clouds-'));
  try {
    const cloud = (node: ClusterNode) => ({
      auth: { auth_url: `${node.url}/identity/v3`, username: 'demo', password: DEMO_PASSWORD, project_name: 'demo', user_domain_name: 'Default', project_domain_name: 'Default' },
      region_name: 'RegionOne',
      interface: 'public',
      identity_api_version: 3,
    });
    const yaml = join(dir, 'clouds.yaml');
    // JSON is YAML.
    writeFileSync(yaml, JSON.stringify({ clouds: { api1: cloud(one), api2: cloud(two) } }), { mode: 0o600 });
    const flavor = JSON.parse(await openstack(yaml, 'api1', ['flavor', 'list']))[0].Name;
    const image = JSON.parse(await openstack(yaml, 'api1', ['image', 'list', '--public']))[0].Name;
    const created = JSON.parse(await openstack(yaml, 'api1', ['server', 'create', '--flavor', flavor, '--image', image, '--wait', 'through-api1']));
    const lists = await Promise.all(['api1', 'api2'].map(async (c) => JSON.parse(await openstack(yaml, c, ['server', 'list'])).map((s: { ID: string; Status: string }) => `${s.ID} ${s.Status}`).sort()));
    assert.deepEqual(lists[0], lists[1]);
    assert.ok(lists[1].includes(`${created.id} ACTIVE`), lists[1].join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGKILL of one API node: the other answers everything, and nothing is lost', { skip, timeout: 120_000 }, async () => {
  const token = await cluster.token('demo', 'api1');
  const flavor = (await one.req('GET', '/compute/v2.1/flavors', { token })).body.flavors[0].id;
  const image = (await one.req('GET', '/image/v2/images', { token })).body.images[0].id;
  const ids: string[] = [];
  // Creates through api1, the last of them still building when it dies.
  for (let i = 0; i < 4; i++) {
    const res = await one.req('POST', '/compute/v2.1/servers', { token, version: '2.37', body: { server: { name: `before-kill-${i}`, flavorRef: flavor, imageRef: image, networks: 'none' } } });
    assert.equal(res.status, 202, res.text);
    ids.push(res.body.server.id);
  }
  await cluster.kill('api1');
  // api2 knows every server api1 accepted, and its token (issued by api1) still works there.
  const listed = await two.req('GET', '/compute/v2.1/servers?limit=1000', { token });
  assert.equal(listed.status, 200, listed.text);
  const names = new Set(listed.body.servers.map((s: { id: string }) => s.id));
  for (const id of ids) assert.ok(names.has(id), `${id} is missing from api2's list`);
  // api2 takes on new work too.
  const after = await two.req('POST', '/compute/v2.1/servers', { token, version: '2.37', body: { server: { name: 'after-kill', flavorRef: flavor, imageRef: image, networks: 'none' } } });
  assert.equal(after.status, 202, after.text);
  ids.push(after.body.server.id);
  // Every build, those asked of api1 before it died included, ends ACTIVE.
  const done = new Map<string, string>();
  for (let round = 0; round < 100 && done.size < ids.length; round++) {
    for (const id of ids) {
      if (done.has(id)) continue;
      const res = await two.req('GET', `/compute/v2.1/servers/${id}`, { token });
      assert.equal(res.status, 200, res.text);
      if (res.body.server.status !== 'BUILD') done.set(id, res.body.server.status);
    }
    if (done.size < ids.length) await new Promise((r) => setTimeout(r, 200));
  }
  assert.deepEqual(ids.map((id) => done.get(id)), ids.map(() => 'ACTIVE'));
});
