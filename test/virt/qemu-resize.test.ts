/**
 * Resize on the qemu driver, through the compute API, on one host (Nova's
 * allow_resize_to_same_host): the tiny guest writes a marker to its disk from its serial
 * shell; a resize boots it with more memory and a grown disk that still holds the marker,
 * its old disks kept aside until confirmed; a revert brings the old disk back exactly. One
 * guest throughout, so the file stays within a few boots.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCloud, type TestCloud } from '../support.js';
import { openWebSocket } from '../api/console/ws-client.js';
import { killQemusUnder, qemuMissing, qemuProcessesUnder, SHELL_PROBE, SHELL_UP } from './qemu-support.js';

const skip = qemuMissing();
const GiB_SECTORS = 2 ** 30 / 512;

describe('resize on the qemu driver', { skip }, () => {
  let cloud: TestCloud;
  let image: string;
  const flavors: Record<string, string> = {};
  const compute = '/compute/v2.1';
  let id: string;

  const server = async () => (await cloud.req('GET', `${compute}/servers/${id}`, { token: cloud.adminToken, version: '2.47' })).body.server;
  const act = (body: unknown) => cloud.req('POST', `${compute}/servers/${id}/action`, { token: cloud.demoToken, body });
  const settle = async (status: string) => {
    for (let i = 0; i < 1500; i++) {
      const s = await server();
      if (s.status === status && !s['OS-EXT-STS:task_state']) return s;
      if (s.status === 'ERROR') throw new Error(`server went to ERROR: ${JSON.stringify(s.fault)}`);
      await sleep(200);
    }
    throw new Error(`server never became ${status}: ${(await server()).status}`);
  };
  const machineDir = () => join(cloud.dataDir, 'machines', id);
  const kept = () => existsSync(machineDir() + '_resize');

  /**
   * Types `command` into the guest's shell through the serial console websocket, once the
   * shell answers a probe (what is typed while the guest boots is lost in part), and waits
   * for `answer`. Markers are written "A""B" so that the echoed command cannot match.
   */
  async function inGuest(command: string, answer: RegExp): Promise<RegExpExecArray> {
    const r = await cloud.req('POST', `${compute}/servers/${id}/remote-consoles`, { token: cloud.demoToken, version: '2.6', body: { remote_console: { protocol: 'serial', type: 'serial' } } });
    assert.equal(r.status, 200, r.text);
    const u = new URL(r.body.remote_console.url);
    const ws = await openWebSocket(cloud.url, u.pathname + u.search);
    assert.equal(ws.status, 101);
    let asked = false;
    let seen = '';
    const probe = setInterval(() => !asked && ws.send(SHELL_PROBE), 3000);
    try {
      ws.send(SHELL_PROBE);
      for (const until = Date.now() + 300000; Date.now() < until; ) {
        const m = await ws.next();
        assert.ok(m, `the console closed; it showed: ${seen.slice(-2000)}`);
        seen += m.toString('latin1');
        if (!asked && SHELL_UP.test(seen)) {
          asked = true;
          seen = '';
          ws.send(command + '\r');
        }
        const found = asked ? answer.exec(seen) : null;
        if (found) return found;
      }
      throw new Error(`the guest never answered ${answer}: ${seen.slice(-2000)}`);
    } finally {
      clearInterval(probe);
      ws.close();
    }
  }
  const write = (marker: string) => inGuest(`printf '${marker}' > /dev/vda; sync; echo "WRIT""TEN ${marker}"`, new RegExp(`WRITTEN ${marker}`));
  const inside = async () => {
    const m = await inGuest(`echo "IN""SIDE [$(head -c 16 /dev/vda | tr -d '\\000')] $(cat /sys/block/vda/size) $(grep MemTotal /proc/meminfo | tr -s ' ' | cut -d ' ' -f 2) END"`, /INSIDE \[([^\]]*)\] (\d+) (\d+) END/);
    return { marker: m[1], sectors: Number(m[2]), memKb: Number(m[3]) };
  };

  before(async () => {
    cloud = await startCloud({ driver: 'qemu', qemu: { shutdownTimeout: 30, syncPowerStateInterval: 1, forceConfigDrive: false, tbSizeMb: 32 } });
    image = (await cloud.services.db.selectFrom('images').select('id').where('name', '=', 'nimbus-tiny').executeTakeFirstOrThrow()).id;
    for (const [name, ram, disk] of [['q.r1', 128, 1], ['q.r2', 192, 2], ['q.r3', 256, 3]] as const) {
      const f = await cloud.req('POST', `${compute}/flavors`, { token: cloud.adminToken, body: { flavor: { name, ram, vcpus: 1, disk } } });
      assert.equal(f.status, 200, f.text);
      flavors[name] = f.body.flavor.id;
    }
  });
  after(async () => {
    if (!cloud) return;
    killQemusUnder(cloud.dataDir);
    await cloud.close();
  });

  let small: { marker: string; sectors: number; memKb: number };
  let resized: { marker: string; sectors: number; memKb: number };

  it('the guest writes a marker to its disk from its shell', async () => {
    const r = await cloud.req('POST', `${compute}/servers`, { token: cloud.demoToken, body: { server: { name: 'vm-resize', imageRef: image, flavorRef: flavors['q.r1'] } } });
    assert.equal(r.status, 202, r.text);
    id = r.body.server.id;
    await settle('ACTIVE');
    await write('nimbus-resize-01');
    small = await inside();
    assert.deepEqual([small.marker, small.sectors], ['nimbus-resize-01', GiB_SECTORS]);
  });

  it('a resize to a flavor with a bigger disk and more memory: the marker is on the grown disk, the memory grown, the old disks kept aside', async () => {
    assert.equal((await act({ resize: { flavorRef: flavors['q.r2'] } })).status, 202);
    const s = await settle('VERIFY_RESIZE');
    assert.equal(s.flavor.original_name, 'q.r2');
    resized = await inside();
    assert.equal(resized.marker, 'nimbus-resize-01');
    assert.equal(resized.sectors, 2 * GiB_SECTORS);
    assert.ok(resized.memKb > small.memKb + 32 * 1024, `${resized.memKb} kB after, ${small.memKb} kB before`);
    assert.ok(kept(), 'the old disks are kept until the resize is confirmed');
    assert.equal(qemuProcessesUnder(machineDir()).length, 1);
  });

  it('confirm: the kept folder is gone, the guest runs on with its marker', async () => {
    assert.equal((await act({ confirmResize: null })).status, 204);
    await settle('ACTIVE');
    assert.ok(!kept());
    assert.equal((await inside()).marker, 'nimbus-resize-01');
  });

  it('a resize to a smaller disk is refused as libvirt refuses it: ACTIVE, the guest still running, the event in error', async () => {
    assert.equal((await act({ resize: { flavorRef: flavors['q.r1'] } })).status, 202);
    for (let i = 0; i < 600 && (await server())['OS-EXT-STS:task_state']; i++) await sleep(200);
    const s = await settle('ACTIVE');
    assert.equal(s.flavor.original_name, 'q.r2');
    assert.equal(qemuProcessesUnder(machineDir()).length, 1);
    assert.ok(!kept());
    const actions = (await cloud.req('GET', `${compute}/servers/${id}/os-instance-actions`, { token: cloud.adminToken })).body.instanceActions;
    assert.equal(actions.find((a: { action: string }) => a.action === 'resize').message, 'Error');
  });

  it('another resize, then revert: the old disk back exactly (its marker, not what was written since), its old size and memory', async () => {
    await write('nimbus-resize-02');
    assert.equal((await act({ resize: { flavorRef: flavors['q.r3'] } })).status, 202);
    await settle('VERIFY_RESIZE');
    const bigger = await inside();
    assert.deepEqual([bigger.marker, bigger.sectors], ['nimbus-resize-02', 3 * GiB_SECTORS]);
    await write('nimbus-resize-03');
    assert.equal((await act({ revertResize: null })).status, 202);
    const s = await settle('ACTIVE');
    assert.equal(s.flavor.original_name, 'q.r2');
    const back = await inside();
    assert.deepEqual(back, { ...resized, marker: 'nimbus-resize-02' });
    assert.ok(!kept());
    assert.equal(qemuProcessesUnder(machineDir()).length, 1);
  });

  it('deleted: no QEMU process, no folder, nothing kept', async () => {
    assert.equal((await cloud.req('DELETE', `${compute}/servers/${id}`, { token: cloud.demoToken })).status, 204);
    for (let i = 0; i < 300 && (await cloud.req('GET', `${compute}/servers/${id}`, { token: cloud.demoToken })).status !== 404; i++) await sleep(200);
    assert.deepEqual(qemuProcessesUnder(cloud.dataDir), []);
    assert.ok(!existsSync(machineDir()));
    assert.ok(!kept());
  });
});
