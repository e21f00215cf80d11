/**
 * Servers on the qemu driver, through the compute API: each a real machine booting the tiny
 * guest (under TCG here). One guest at a time, kept through several actions, so the file
 * stays within a couple of minutes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCloud, type TestCloud } from '../support.js';
import { BOOT_MARKER } from '../../src/virt/qemu/tiny-guest.js';
import { openWebSocket } from '../api/console/ws-client.js';
import { killQemusUnder, qemuMissing, qemuProcessesUnder, waitForConsole } from './qemu-support.js';
import { cs } from '../api/cloudsigma/cs.js';

const skip = qemuMissing();

describe('servers on the qemu driver', { skip }, () => {
  let cloud: TestCloud;
  let image: string;
  let flavor: string;
  const compute = '/compute/v2.1';

  const server = async (id: string) => (await cloud.req('GET', `${compute}/servers/${id}`, { token: cloud.demoToken })).body.server;
  const act = (id: string, body: unknown) => cloud.req('POST', `${compute}/servers/${id}/action`, { token: cloud.demoToken, body });
  const consoleText = async (id: string) => {
    const r = await act(id, { 'os-getConsoleOutput': { length: null } });
    return r.status === 200 ? (r.body.output as string) : '';
  };
  /** Waits for the server to settle (no task) in `status`. */
  const settle = async (id: string, status: string) => {
    for (let i = 0; i < 600; i++) {
      const s = await server(id);
      if (s.status === status && !s['OS-EXT-STS:task_state']) return s;
      if (s.status === 'ERROR') throw new Error(`server went to ERROR: ${JSON.stringify(s.fault)}`);
      await sleep(200);
    }
    throw new Error(`server never became ${status}: ${(await server(id)).status}`);
  };
  const machineDir = (id: string) => join(cloud.dataDir, 'machines', id);
  const processes = (id: string) => qemuProcessesUnder(machineDir(id));

  before(async () => {
    cloud = await startCloud({ driver: 'qemu', qemu: { shutdownTimeout: 30, syncPowerStateInterval: 1, forceConfigDrive: false, tbSizeMb: 32 } });
    image = (await cloud.services.db.selectFrom('images').select('id').where('name', '=', 'nimbus-tiny').executeTakeFirstOrThrow()).id;
    const f = await cloud.req('POST', `${compute}/flavors`, { token: cloud.adminToken, body: { flavor: { name: 'q.nano', ram: 128, vcpus: 1, disk: 1 } } });
    assert.equal(f.status, 200, f.text);
    flavor = f.body.flavor.id;
  });
  after(async () => {
    if (!cloud) return;
    killQemusUnder(cloud.dataDir);
    await cloud.close();
  });

  it('seeds the tiny guest as a kernel, a ramdisk and a machine image naming both', async () => {
    const r = await cloud.req('GET', `/image/v2/images/${image}`, { token: cloud.demoToken });
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'active');
    const kernel = await cloud.req('GET', `/image/v2/images/${r.body.kernel_id}`, { token: cloud.demoToken });
    const ramdisk = await cloud.req('GET', `/image/v2/images/${r.body.ramdisk_id}`, { token: cloud.demoToken });
    assert.deepEqual([kernel.body.disk_format, ramdisk.body.disk_format], ['aki', 'ari']);
  });

  it("shows the host's real vCPUs and memory, and QEMU as its hypervisor", async () => {
    const r = await cloud.req('GET', `${compute}/os-hypervisors/detail`, { token: cloud.adminToken });
    assert.equal(r.status, 200);
    const [h] = r.body.hypervisors;
    assert.equal(h.hypervisor_type, 'QEMU');
    assert.equal(h.vcpus, cpus().length);
    assert.equal(h.memory_mb, Math.floor(totalmem() / 1048576));
    assert.ok(h.hypervisor_version > 1000000, `hypervisor_version ${h.hypervisor_version}`);
  });

  describe('one machine through its life', () => {
    let id: string;
    let key: string;
    const userData = '#!/bin/sh\necho user data reached the guest\n';

    before(async () => {
      const k = await cloud.req('POST', `${compute}/os-keypairs`, { token: cloud.demoToken, body: { keypair: { name: 'qkey' } } });
      assert.equal(k.status, 200, k.text);
      key = k.body.keypair.public_key;
      const r = await cloud.req('POST', `${compute}/servers`, {
        token: cloud.demoToken,
        body: { server: { name: 'vm-one', imageRef: image, flavorRef: flavor, config_drive: true, key_name: 'qkey', metadata: { role: 'tested' }, user_data: Buffer.from(userData).toString('base64') } },
      });
      assert.equal(r.status, 202, r.text);
      id = r.body.server.id;
    });

    it('becomes ACTIVE with a QEMU process of its own', async () => {
      await settle(id, 'ACTIVE');
      assert.equal(processes(id).length, 1);
    });

    it('boots: the marker is in its console output', async () => {
      await waitForConsole(() => consoleText(id), 'nimbus-tiny-guest: ready');
      assert.match(await consoleText(id), new RegExp(BOOT_MARKER));
    });

    it("is told it is an OpenStack machine, with the server's id as its SMBIOS serial and uuid", async () => {
      assert.match(await consoleText(id), new RegExp(`smbios manufacturer=OpenStack Foundation product=OpenStack Nova serial=${id} uuid=${id}`));
    });

    it('gets the address Nova shows from DHCP', async () => {
      const s = await server(id);
      const addr = Object.values(s.addresses as Record<string, { addr: string }[]>)[0][0].addr;
      assert.match(await consoleText(id), new RegExp(`nimbus-tiny-guest: address eth0 ${addr.replace(/\./g, '\\.')}\\b`));
    });

    it('reads its uuid, hostname, metadata and key from the config drive', async () => {
      const out = await consoleText(id);
      const m = /--- config-drive openstack\/latest\/meta_data\.json\r?\n(.*)\r?\n/.exec(out);
      assert.ok(m, out.slice(-3000));
      const meta = JSON.parse(m[1]);
      assert.equal(meta.uuid, id);
      assert.equal(meta.hostname, 'vm-one');
      assert.deepEqual(meta.meta, { role: 'tested' });
      assert.equal(meta.public_keys.qkey, key);
    });

    it('reads its user data from the config drive', async () => {
      assert.match(await consoleText(id), /--- config-drive openstack\/latest\/user_data\r?\n#!\/bin\/sh\r?\necho user data reached the guest/);
    });

    it('stops cleanly (ACPI power-off, the guest powers down): SHUTOFF, and its QEMU process has ended', async () => {
      const running = (await consoleText(id)).length;
      assert.equal((await act(id, { 'os-stop': null })).status, 202);
      const s = await settle(id, 'SHUTOFF');
      assert.match((await consoleText(id)).slice(running), /ACPI power button, powering off|reboot: Power down/);
      assert.equal(s['OS-EXT-STS:power_state'], 4);
      assert.deepEqual(processes(id), []);
    });

    it('starts again: ACTIVE, with a process, and boots again', async () => {
      const before = (await consoleText(id)).length;
      assert.equal((await act(id, { 'os-start': null })).status, 202);
      await settle(id, 'ACTIVE');
      assert.equal(processes(id).length, 1);
      await waitForConsole(() => consoleText(id), 'nimbus-tiny-guest: ready', before);
    });

    it('pauses (the process stays, the guest stopped) and unpauses', async () => {
      assert.equal((await act(id, { pause: null })).status, 202);
      assert.equal((await settle(id, 'PAUSED'))['OS-EXT-STS:power_state'], 3);
      assert.equal(processes(id).length, 1);
      assert.equal((await act(id, { unpause: null })).status, 202);
      assert.equal((await settle(id, 'ACTIVE'))['OS-EXT-STS:power_state'], 1);
    });

    it('suspends to a state file with no process, and resumes from it', async () => {
      assert.equal((await act(id, { suspend: null })).status, 202);
      await settle(id, 'SUSPENDED');
      assert.deepEqual(processes(id), []);
      assert.ok(existsSync(join(machineDir(id), 'state')));
      assert.equal((await act(id, { resume: null })).status, 202);
      await settle(id, 'ACTIVE');
      assert.equal(processes(id).length, 1);
      assert.ok(!existsSync(join(machineDir(id), 'state')));
    });

    it('reboots hard: the guest boots again', async () => {
      const before = (await consoleText(id)).length;
      assert.equal((await act(id, { reboot: { type: 'HARD' } })).status, 202);
      await settle(id, 'ACTIVE');
      await waitForConsole(() => consoleText(id), 'nimbus-tiny-guest: ready', before);
    });

    it("a serial console websocket reaches the guest's serial port: a command typed there is answered", async () => {
      const r = await cloud.req('POST', `${compute}/servers/${id}/remote-consoles`, { token: cloud.demoToken, version: '2.6', body: { remote_console: { protocol: 'serial', type: 'serial' } } });
      assert.equal(r.status, 200, r.text);
      const u = new URL(r.body.remote_console.url);
      const ws = await openWebSocket(cloud.url, u.pathname + u.search);
      assert.equal(ws.status, 101);
      try {
        ws.send('echo $((6*7))-from-the-guest\r');
        let seen = '';
        while (!/42-from-the-guest/.test(seen)) {
          const m = await ws.next();
          assert.ok(m, `the console closed; it showed: ${seen}`);
          seen += m.toString();
        }
      } finally {
        ws.close();
      }
    });

    it('rebuilds: a new root disk, the config drive made again (its new name), the same address', async () => {
      const addr = Object.values((await server(id)).addresses as Record<string, { addr: string }[]>)[0][0].addr;
      const r = await act(id, { rebuild: { imageRef: image, name: 'vm-one-rebuilt' } });
      assert.equal(r.status, 202, r.text);
      await settle(id, 'ACTIVE');
      // A new machine: its console log starts with this boot.
      const out = await waitForConsole(() => consoleText(id), 'nimbus-tiny-guest: ready');
      assert.equal(JSON.parse(/--- config-drive openstack\/latest\/meta_data\.json\r?\n(.*)\r?\n/.exec(out)![1]).name, 'vm-one-rebuilt');
      assert.match(out, new RegExp(`address eth0 ${addr.replace(/\./g, '\\.')}\\b`));
      assert.equal(processes(id).length, 1);
    });

    it('changePassword on a guest whose image runs no QEMU guest agent is 409, as Nova answers it', async () => {
      const r = await act(id, { changePassword: { adminPass: 'n3w-Secret' } });
      assert.equal(r.status, 409, r.text);
      assert.equal(r.body.conflictingRequest.message, 'QEMU guest agent is not enabled');
      assert.equal((await server(id)).status, 'ACTIVE');
    });

    it("tells an admin where the guest's SSH port is forwarded (diagnostics before 2.48)", async () => {
      const r = await cloud.req('GET', `${compute}/servers/${id}/diagnostics`, { token: cloud.adminToken });
      assert.equal(r.status, 200, r.text);
      assert.ok(Number.isInteger(r.body.ssh_forward_port) && r.body.ssh_forward_port > 0, r.text);
    });

    it('createImage uploads its disk as an active image with size and checksum, and a server boots from it', async () => {
      const r = await act(id, { createImage: { name: 'vm-one-snap' } });
      assert.equal(r.status, 202, r.text);
      const imageId = r.headers.get('location')!.split('/').pop()!;
      let img: Record<string, unknown> = {};
      for (let i = 0; i < 600 && img.status !== 'active'; i++) {
        img = (await cloud.req('GET', `/image/v2/images/${imageId}`, { token: cloud.demoToken })).body;
        await sleep(200);
      }
      assert.equal(img.status, 'active');
      assert.equal(img.size, 2 ** 30); // the flavor's 1 GiB root disk, flattened as the raw image it came from
      assert.match(String(img.checksum), /^[0-9a-f]{32}$/);
      await settle(id, 'ACTIVE');
      const b = await cloud.req('POST', `${compute}/servers`, { token: cloud.demoToken, body: { server: { name: 'from-snap', imageRef: imageId, flavorRef: flavor } } });
      assert.equal(b.status, 202, b.text);
      const child = b.body.server.id;
      try {
        await settle(child, 'ACTIVE');
        await waitForConsole(() => consoleText(child), 'nimbus-tiny-guest: ready');
      } finally {
        await cloud.req('DELETE', `${compute}/servers/${child}`, { token: cloud.demoToken });
        for (let i = 0; i < 300 && processes(child).length; i++) await sleep(200);
      }
    });

    it('is deleted: no QEMU process and none of its files are left', async () => {
      assert.equal((await cloud.req('DELETE', `${compute}/servers/${id}`, { token: cloud.demoToken })).status, 204);
      for (let i = 0; i < 300 && (await cloud.req('GET', `${compute}/servers/${id}`, { token: cloud.demoToken })).status !== 404; i++) await sleep(200);
      assert.deepEqual(processes(id), []);
      assert.ok(!existsSync(machineDir(id)));
      assert.deepEqual(qemuProcessesUnder(cloud.dataDir), []);
    });
  });

  it('a server deleted while its machine is still booting leaves no process and no file behind', async () => {
    const r = await cloud.req('POST', `${compute}/servers`, { token: cloud.demoToken, body: { server: { name: 'vm-short', imageRef: image, flavorRef: flavor, config_drive: true } } });
    assert.equal(r.status, 202, r.text);
    const id = r.body.server.id;
    await settle(id, 'ACTIVE');
    assert.doesNotMatch(await consoleText(id), /nimbus-tiny-guest: ready/, 'still booting');
    assert.equal((await cloud.req('DELETE', `${compute}/servers/${id}`, { token: cloud.demoToken })).status, 204);
    for (let i = 0; i < 300 && (await cloud.req('GET', `${compute}/servers/${id}`, { token: cloud.demoToken })).status !== 404; i++) await sleep(100);
    assert.deepEqual(processes(id), []);
    assert.ok(!existsSync(machineDir(id)));
    assert.ok(!existsSync(machineDir(id) + '.part'));
  });

  it("a guest that powers itself off becomes SHUTOFF (the power state sync), with no process left; it had the flavor's ephemeral disk and swap", async () => {
    const f = await cloud.req('POST', `${compute}/flavors`, { token: cloud.adminToken, body: { flavor: { name: 'q.nano.eph', ram: 128, vcpus: 1, disk: 1, 'OS-FLV-EXT-DATA:ephemeral': 1, swap: 64 } } });
    assert.equal(f.status, 200, f.text);
    const r = await cloud.req('POST', `${compute}/servers`, {
      token: cloud.demoToken,
      body: { server: { name: 'vm-off', imageRef: image, flavorRef: f.body.flavor.id, config_drive: true, user_data: Buffer.from('#nimbus-tiny-guest: poweroff\n').toString('base64') } },
    });
    assert.equal(r.status, 202, r.text);
    const id = r.body.server.id;
    try {
      await settle(id, 'SHUTOFF');
      const out = await consoleText(id);
      assert.match(out, /powering off as its user data asks/);
      assert.match(out, /nimbus-tiny-guest: disk \/dev\/vdb sectors=2097152 ext label=ephemeral0/);
      assert.match(out, /nimbus-tiny-guest: disk \/dev\/vdc sectors=131072 swap/);
      assert.deepEqual(processes(id), []);
    } finally {
      await cloud.req('DELETE', `${compute}/servers/${id}`, { token: cloud.demoToken });
    }
  });

  it('a CloudSigma server boots the drives it is given: a clone of the tiny guest library drive is its disk, and a second drive follows it', async () => {
    const lib = (await cs(cloud, 'GET', '/libdrives/?limit=0')).body.objects.find((d: { name: string }) => d.name === 'nimbus-tiny');
    assert.ok(lib, 'the tiny guest is a library drive');
    const clone = await cs(cloud, 'POST', `/libdrives/${lib.uuid}/action/?do=clone`, { body: { name: 'boot', size: 16 * 1024 ** 2 } });
    assert.equal(clone.status, 202, clone.text);
    const data = await cs(cloud, 'POST', '/drives/', { body: { objects: [{ name: 'data', size: 8 * 1024 ** 2, media: 'disk' }] } });
    assert.equal(data.status, 201, data.text);
    const drives = [clone.body.objects[0].uuid, data.body.objects[0].uuid];
    await cloud.services.runner.idle(60000);
    const made = await cs(cloud, 'POST', '/servers/', {
      body: {
        objects: [
          {
            name: 'cs-drives',
            cpu: 1000,
            mem: 256 * 1024 ** 2,
            vnc_password: 'testserver',
            drives: [
              { boot_order: 1, dev_channel: '0:0', device: 'virtio', drive: drives[0] },
              { boot_order: null, dev_channel: '0:1', device: 'virtio', drive: drives[1] },
            ],
          },
        ],
      },
    });
    assert.equal(made.status, 201, made.text);
    const id = made.body.objects[0].uuid;
    try {
      assert.equal((await cs(cloud, 'POST', `/servers/${id}/action/?do=start`)).status, 202);
      const out = await waitForConsole(() => consoleText(id), /nimbus-tiny-guest: ready/);
      // vda is the boot drive (16 MiB = 32768 sectors), vdb the data drive: no disk of the machine's own.
      assert.match(out, /nimbus-tiny-guest: disk \/dev\/vda sectors=32768 /);
      assert.match(out, /nimbus-tiny-guest: disk \/dev\/vdb sectors=16384 /);
      assert.doesNotMatch(out, /\/dev\/vdc/);
      assert.ok(!existsSync(join(machineDir(id), 'disk.qcow2')));
    } finally {
      await cs(cloud, 'POST', `/servers/${id}/action/?do=stop`);
      await cloud.services.runner.idle(60000);
      await cs(cloud, 'DELETE', `/servers/${id}/`);
    }
  });

  it('an unshelved server boots the disk it was shelved with (its shelved snapshot), not a fresh copy of its image', async () => {
    const r = await cloud.req('POST', `${compute}/servers`, { token: cloud.demoToken, body: { server: { name: 'vm-shelve', imageRef: image, flavorRef: flavor } } });
    assert.equal(r.status, 202, r.text);
    const id = r.body.server.id;
    const disk = join(machineDir(id), 'disk.qcow2');
    try {
      await settle(id, 'ACTIVE');
      assert.equal((await act(id, { 'os-stop': null })).status, 202);
      await settle(id, 'SHUTOFF');
      // What the guest wrote to its disk, written here while the machine is off.
      execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 512k 4k', disk]);
      assert.equal((await act(id, { shelve: null })).status, 202);
      await settle(id, 'SHELVED_OFFLOADED');
      assert.ok(!existsSync(machineDir(id)), 'offloaded: the machine is gone from the host');
      assert.equal((await act(id, { unshelve: null })).status, 202);
      await settle(id, 'ACTIVE');
      const read = execFileSync('qemu-io', ['-r', '-U', '-f', 'qcow2', '-c', 'read -P 0x5a 512k 4k', disk], { encoding: 'utf8' });
      assert.doesNotMatch(read, /Pattern verification failed/, read);
      assert.match(read, /read 4096\/4096 bytes/);
    } finally {
      await cloud.req('DELETE', `${compute}/servers/${id}`, { token: cloud.demoToken });
    }
  });
});
