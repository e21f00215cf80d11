/**
 * CloudSigma's server context on a real guest: a CloudSigma server with `context: true`, booted
 * from a clone of the `nimbus-tiny` library drive, reads its context on its second serial port
 * (the tiny guest prints it under a marker), and reads it again after Nimbus was killed and
 * started again (the new process attaches to the machine's socket) with a value changed by a
 * PUT meanwhile. One guest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProcess, request, passwordToken, freshDatabase } from '../support.js';
import { basic } from '../api/cloudsigma/cs.js';
import { openWebSocket } from '../api/console/ws-client.js';
import { killQemusUnder, qemuMissing, waitForConsole } from './qemu-support.js';

const skip = qemuMissing();
const MARKER = /nimbus-tiny-guest: server context <> (\{.*\})\r?\n/;

test('a CloudSigma guest reads its own context on its second serial port, and a value changed by PUT at its next read after a Nimbus restart', { skip, timeout: 420000 }, async () => {
  const database = await freshDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'nimbus-qc-'));
  const config = join(dataDir, 'nimbus.json');
  writeFileSync(config, JSON.stringify({ driver: 'qemu', qemu: { shutdownTimeout: 5, syncPowerStateInterval: 2 } }));
  const env: Record<string, string> = { NIMBUS_ADMIN_PASSWORD: 'qc-admin-pw', NIMBUS_DEMO_PASSWORD: 'qc-demo-pw', NIMBUS_CONFIG: config, NIMBUS_DATA_DIR: dataDir };
  if (database.url) env.NIMBUS_DATABASE_URL = database.url;
  let nimbus = await startProcess(env);
  const auth = { authorization: basic('demo', 'qc-demo-pw') };
  const cs = (method: string, path: string, body?: unknown) => request(nimbus.url, method, `/api/2.0${path}`, { headers: auth, body });
  let id: string | undefined;
  try {
    const lib = (await cs('GET', '/libdrives/?limit=0')).body.objects.find((d: { name: string }) => d.name === 'nimbus-tiny');
    const clone = await cs('POST', `/libdrives/${lib.uuid}/action/?do=clone`, { name: 'ctx-boot', size: 16 * 1024 ** 2 });
    assert.equal(clone.status, 202, clone.text);
    const drive = clone.body.objects[0].uuid as string;
    for (let i = 0; i < 600 && (await cs('GET', `/drives/${drive}/`)).body.status !== 'unmounted'; i++) await sleep(200);
    assert.equal((await cs('POST', '/global_context/', { shared_by_all: 'everywhere' })).status, 200);
    const made = await cs('POST', '/servers/', {
      objects: [{ name: 'ctx-guest', cpu: 1000, mem: 256 * 1024 ** 2, vnc_password: 'ctxpass', context: true, meta: { greeting: 'hello' }, drives: [{ boot_order: 1, dev_channel: '0:0', device: 'virtio', drive }] }],
    });
    assert.equal(made.status, 201, made.text);
    id = made.body.objects[0].uuid as string;
    assert.equal((await cs('POST', `/servers/${id}/action/?do=start`)).status, 202);

    let token = (await passwordToken(nimbus.url, 'demo', 'qc-demo-pw', 'demo')).token;
    const output = async () => (await request(nimbus.url, 'POST', `/compute/v2.1/servers/${id}/action`, { token, body: { 'os-getConsoleOutput': {} } })).body?.output ?? '';
    const booted = await waitForConsole(output, 'nimbus-tiny-guest: ready');
    const m = MARKER.exec(booted);
    assert.ok(m, `no context on the console:\n${booted.slice(-3000)}`);
    const context = JSON.parse(m[1]);
    assert.equal(context.uuid, id);
    assert.equal(context.name, 'ctx-guest');
    assert.deepEqual(context.meta, { greeting: 'hello' });
    assert.deepEqual(context.global_context, { shared_by_all: 'everywhere' });
    assert.equal(context.drives[0].drive.uuid, drive);
    assert.ok(existsSync(join(dataDir, 'machines', id, 'context.sock')));

    // Nimbus dies; the machine runs on; the next Nimbus answers its port.
    nimbus.child.kill('SIGKILL');
    await new Promise((r) => nimbus.child.once('exit', r));
    nimbus = await startProcess(env);
    token = (await passwordToken(nimbus.url, 'demo', 'qc-demo-pw', 'demo')).token;
    const put = await cs('PUT', `/servers/${id}/`, { name: 'ctx-guest', cpu: 1000, mem: 256 * 1024 ** 2, vnc_password: 'ctxpass', meta: { greeting: 'changed while running' } });
    assert.equal(put.status, 200, put.text);

    const r = await request(nimbus.url, 'POST', `/compute/v2.1/servers/${id}/remote-consoles`, { token, version: '2.6', body: { remote_console: { protocol: 'serial', type: 'serial' } } });
    assert.equal(r.status, 200, r.text);
    const u = new URL(r.body.remote_console.url);
    const ws = await openWebSocket(nimbus.url, u.pathname + u.search);
    assert.equal(ws.status, 101);
    try {
      ws.send('server-context /meta/greeting\r');
      let seen = '';
      while (!/server context <\/meta\/greeting> (.*)\r?\n/.test(seen)) {
        const msg = await ws.next();
        assert.ok(msg, `the console closed; it showed: ${seen}`);
        seen += msg.toString();
      }
      assert.equal(/server context <\/meta\/greeting> (.*?)\r?\n/.exec(seen)![1], 'changed while running');
    } finally {
      ws.close();
    }

    assert.equal((await cs('POST', `/servers/${id}/action/?do=stop`)).status, 202);
    for (let i = 0; i < 300 && (await cs('GET', `/servers/${id}/`)).body.status !== 'stopped'; i++) await sleep(200);
    assert.equal((await cs('DELETE', `/servers/${id}/?recurse=all_drives`)).status, 204);
  } finally {
    killQemusUnder(dataDir);
    await nimbus.stop();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
