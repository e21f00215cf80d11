/**
 * Machines outlive Nimbus, as libvirt's guests outlive nova-compute: a SIGKILL of Nimbus
 * leaves the guest running, and the restarted Nimbus finds it again (pidfile + QMP) and
 * manages it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProcess, request, passwordToken, freshDatabase } from '../support.js';
import { killQemusUnder, qemuMissing, qemuProcessesUnder, waitForConsole } from './qemu-support.js';

const skip = qemuMissing();

test('after a SIGKILL of Nimbus the machine runs on, and the restarted Nimbus manages it', { skip, timeout: 240000 }, async () => {
  const database = await freshDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'nimbus-qr-'));
  const config = join(dataDir, 'nimbus.json');
  writeFileSync(config, JSON.stringify({ driver: 'qemu', qemu: { shutdownTimeout: 30, syncPowerStateInterval: 2, metadataService: false } }));
  const env: Record<string, string> = { NIMBUS_ADMIN_PASSWORD: 'qr-admin-pw', NIMBUS_DEMO_PASSWORD: 'qr-demo-pw', NIMBUS_CONFIG: config, NIMBUS_DATA_DIR: dataDir };
  if (database.url) env.NIMBUS_DATABASE_URL = database.url;
  const first = await startProcess(env);
  let second: Awaited<ReturnType<typeof startProcess>> | undefined;
  try {
    assert.match(first.output(), /driver {4}qemu \(QEMU [\d.]+ with (KVM|TCG)/);
    let url = first.url;
    const admin = (await passwordToken(url, 'admin', 'qr-admin-pw', 'admin')).token;
    let demo = (await passwordToken(url, 'demo', 'qr-demo-pw', 'demo')).token;
    const image = (await request(url, 'GET', '/image/v2/images?name=nimbus-tiny', { token: demo })).body.images[0].id;
    const flavor = (await request(url, 'POST', '/compute/v2.1/flavors', { token: admin, body: { flavor: { name: 'q.nano', ram: 128, vcpus: 1, disk: 1 } } })).body.flavor.id;
    const created = await request(url, 'POST', '/compute/v2.1/servers', { token: demo, body: { server: { name: 'survivor', imageRef: image, flavorRef: flavor } } });
    assert.equal(created.status, 202, created.text);
    const id = created.body.server.id as string;
    const output = async () => (await request(url, 'POST', `/compute/v2.1/servers/${id}/action`, { token: demo, body: { 'os-getConsoleOutput': {} } })).body?.output ?? '';
    await waitForConsole(output, 'nimbus-tiny-guest: ready');
    const [pid] = qemuProcessesUnder(dataDir);

    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    assert.deepEqual(qemuProcessesUnder(dataDir), [pid], 'the machine outlived Nimbus');

    second = await startProcess(env);
    url = second.url;
    demo = (await passwordToken(url, 'demo', 'qr-demo-pw', 'demo')).token;
    const server = (await request(url, 'GET', `/compute/v2.1/servers/${id}`, { token: demo })).body.server;
    assert.equal(server.status, 'ACTIVE');
    assert.match(await output(), /nimbus-tiny-guest: ready/);

    // Managed: a stop reaches the same machine over QMP and ends its process.
    assert.equal((await request(url, 'POST', `/compute/v2.1/servers/${id}/action`, { token: demo, body: { 'os-stop': null } })).status, 202);
    for (let i = 0; i < 300 && (await request(url, 'GET', `/compute/v2.1/servers/${id}`, { token: demo })).body.server.status !== 'SHUTOFF'; i++) await sleep(200);
    assert.equal((await request(url, 'GET', `/compute/v2.1/servers/${id}`, { token: demo })).body.server.status, 'SHUTOFF');
    assert.deepEqual(qemuProcessesUnder(dataDir), []);

    assert.equal((await request(url, 'DELETE', `/compute/v2.1/servers/${id}`, { token: demo })).status, 204);
    for (let i = 0; i < 300 && existsSync(join(dataDir, 'machines', id)); i++) await sleep(200);
    assert.ok(!existsSync(join(dataDir, 'machines', id)), 'no file of the machine is left');
  } finally {
    killQemusUnder(dataDir);
    await second?.stop();
    await first.stop();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
