import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PG_URL, startProcess, request, passwordToken, freshDatabase } from '../support.js';

/**
 * Nodes sharing a PostgreSQL database: each leases its tasks under its own stable node id
 * (kept in its data directory), for an hour here, so that nothing below can be the lease
 * running out. SQLite is one node and takes everything over at start (test/crash.test.ts).
 */
const skip = PG_URL ? false : 'PostgreSQL only (NIMBUS_TEST_DATABASE_URL)';
const ADMIN_PW = 'lease-admin-pw';
const HOUR = '3600';
type Node = Awaited<ReturnType<typeof startProcess>>;

async function cluster() {
  const database = await freshDatabase();
  const dirs: string[] = [];
  const nodes: Node[] = [];
  return {
    dataDir() {
      dirs.push(mkdtempSync(join(tmpdir(), 'nimbus-node-')));
      return dirs[dirs.length - 1];
    },
    async start(dataDir: string, env: Record<string, string> = {}) {
      const node = await startProcess({ NIMBUS_ADMIN_PASSWORD: ADMIN_PW, NIMBUS_DEMO_PASSWORD: 'lease-demo-pw', NIMBUS_DATABASE_URL: database.url!, NIMBUS_TASK_LEASE_SECONDS: HOUR, NIMBUS_DATA_DIR: dataDir, ...env });
      nodes.push(node);
      return node;
    },
    async close() {
      // A graceful stop waits for tasks, and the ten-minute ones never end.
      for (const n of nodes) n.child.kill('SIGKILL');
      await Promise.all(nodes.map((n) => n.child.exitCode === null && n.child.signalCode === null && new Promise((r) => n.child.once('exit', r))));
      await database.drop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** A server whose build is in a ten-minute spawn on `node`, which is then killed. */
async function killedMidBuild(node: Node): Promise<string> {
  const admin = (await passwordToken(node.url, 'admin', ADMIN_PW, 'admin')).token;
  const image = (await request(node.url, 'GET', '/image/v2/images', { token: admin })).body.images[0].id;
  const id = (await request(node.url, 'POST', '/compute/v2.1/servers', { token: admin, body: { server: { name: 'leased', imageRef: image, flavorRef: '1' } } })).body.server.id;
  for (let i = 0; i < 200 && (await server(node, admin, id))['OS-EXT-STS:task_state'] !== 'spawning'; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal((await server(node, admin, id))['OS-EXT-STS:task_state'], 'spawning');
  node.child.kill('SIGKILL');
  await new Promise((r) => node.child.once('exit', r));
  return id;
}

async function server(node: Node, token: string, id: string) {
  return (await request(node.url, 'GET', `/compute/v2.1/servers/${id}`, { token })).body.server;
}

/** The server once idle, or as it is after 15 s: well inside even the default 30 s lease. */
async function settled(node: Node, token: string, id: string) {
  let s = await server(node, token, id);
  for (const until = Date.now() + 15000; s['OS-EXT-STS:task_state'] !== null && Date.now() < until; ) {
    await new Promise((r) => setTimeout(r, 100));
    s = await server(node, token, id);
  }
  return s;
}

test('on PostgreSQL a node restarted after SIGKILL resumes its own tasks at once, though their lease has an hour to run', { skip, timeout: 90000 }, async () => {
  const c = await cluster();
  try {
    const dir = c.dataDir();
    const id = await killedMidBuild(await c.start(dir, { NIMBUS_FAKE_OPERATION_MS: '600000' }));
    const again = await c.start(dir);
    const admin = (await passwordToken(again.url, 'admin', ADMIN_PW, 'admin')).token;
    const s = await settled(again, admin, id);
    assert.equal(s.status, 'ACTIVE');
  } finally {
    await c.close();
  }
});

test("on PostgreSQL another node leaves a killed node's tasks alone while their lease runs", { skip, timeout: 90000 }, async () => {
  const c = await cluster();
  try {
    const id = await killedMidBuild(await c.start(c.dataDir(), { NIMBUS_FAKE_OPERATION_MS: '600000' }));
    const other = await c.start(c.dataDir());
    const admin = (await passwordToken(other.url, 'admin', ADMIN_PW, 'admin')).token;
    // The other node is at work: it builds a server of its own …
    const image = (await request(other.url, 'GET', '/image/v2/images', { token: admin })).body.images[0].id;
    const own = (await request(other.url, 'POST', '/compute/v2.1/servers', { token: admin, body: { server: { name: 'own', imageRef: image, flavorRef: '1' } } })).body.server.id;
    assert.equal((await settled(other, admin, own)).status, 'ACTIVE');
    // … but the killed node's build is still that node's.
    assert.equal((await server(other, admin, id))['OS-EXT-STS:task_state'], 'spawning');
  } finally {
    await c.close();
  }
});

test('on PostgreSQL a second live process under the same node id refuses to start', { skip, timeout: 90000 }, async () => {
  const c = await cluster();
  try {
    const dir = c.dataDir();
    await c.start(dir);
    await assert.rejects(c.start(dir), /another running Nimbus uses the node id "[0-9a-f-]{36}" on this database/);
  } finally {
    await c.close();
  }
});
