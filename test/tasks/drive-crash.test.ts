import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess, request, freshDatabase } from '../support.js';

/**
 * A drive's long operations are durable tasks: SIGKILL while a create, a clone and a resize
 * are in the middle of their driver operation (ten minutes each), then a restart with an
 * instant driver, and each finishes: the drives at rest, the clone's source too, its job a
 * success. The lease is an hour: on PostgreSQL the restarted node takes its own work back at once.
 */
const DEMO_PW = 'drive-crash-demo-pw';
const GiB = 1024 ** 3;

test('after SIGKILL during a drive create, clone and resize a restart finishes each', { timeout: 120000 }, async () => {
  const database = await freshDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'nimbus-drive-crash-'));
  const configFile = join(dataDir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ taskLeaseSeconds: 3600 }));
  const env: Record<string, string> = { NIMBUS_ADMIN_PASSWORD: 'drive-crash-admin-pw', NIMBUS_DEMO_PASSWORD: DEMO_PW, NIMBUS_CONFIG: configFile, NIMBUS_DATA_DIR: dataDir };
  if (database.url) env.NIMBUS_DATABASE_URL = database.url;
  const auth = { authorization: 'Basic ' + Buffer.from(`demo:${DEMO_PW}`).toString('base64') };
  const procs: Awaited<ReturnType<typeof startProcess>>[] = [];
  try {
    let node = await startProcess({ ...env, NIMBUS_FAKE_DRIVE_MS: '0' });
    procs.push(node);
    const cs = (method: string, path: string, body?: unknown) => request(node.url, method, `/api/2.0${path}`, { headers: auth, body });
    const at = async (uuid: string, status: string, timeoutMs = 20000) => {
      for (const until = Date.now() + timeoutMs; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
        const d = await cs('GET', `/drives/${uuid}/`);
        if (d.body.status === status) return d.body;
      }
      throw new Error(`${uuid} is not ${status}: ${JSON.stringify((await cs('GET', `/drives/${uuid}/`)).body)}`);
    };
    const made = await cs('POST', '/drives/', { objects: [{ name: 'source', size: GiB, media: 'disk' }, { name: 'to-grow', size: GiB, media: 'disk' }] });
    assert.equal(made.status, 201, made.text);
    const [source, grow] = made.body.objects.map((o: { uuid: string }) => o.uuid);
    await at(source, 'unmounted');
    await at(grow, 'unmounted');
    await node.stop();

    node = await startProcess({ ...env, NIMBUS_FAKE_DRIVE_MS: '600000' });
    procs.push(node);
    const fresh = await cs('POST', '/drives/', { objects: [{ name: 'fresh', size: GiB, media: 'disk' }] });
    const clone = await cs('POST', `/drives/${source}/action/?do=clone`, { name: 'copy' });
    const resize = await cs('POST', `/drives/${grow}/action/?do=resize`, { size: 2 * GiB });
    assert.deepEqual([fresh.status, clone.status, resize.status], [201, 202, 202], `${fresh.text} ${clone.text} ${resize.text}`);
    const copy = clone.body.objects[0];
    // Each task has been claimed (or not yet: a restart resumes a pending task all the same).
    await new Promise((r) => setTimeout(r, 300));
    node.child.kill('SIGKILL');
    await new Promise((r) => node.child.once('exit', r));

    node = await startProcess({ ...env, NIMBUS_FAKE_DRIVE_MS: '0' });
    procs.push(node);
    assert.equal((await at(fresh.body.objects[0].uuid, 'unmounted')).name, 'fresh');
    assert.equal((await at(copy.uuid, 'unmounted')).name, 'copy');
    await at(source, 'unmounted');
    assert.equal((await at(grow, 'unmounted')).size, 2 * GiB);
    const job = await cs('GET', `/jobs/${copy.jobs[0].uuid}/`);
    assert.equal(job.body.state, 'success');
    assert.equal(job.body.data.progress, 100);
  } finally {
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.child.exitCode === null && p.child.signalCode === null && new Promise((r) => p.child.once('exit', r))));
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
