/**
 * A SIGKILL of Nimbus while a resize of a real machine is under way (one host: Nova's
 * allow_resize_to_same_host): the restarted Nimbus resumes the durable task from its step,
 * and the server ends resized, its machine running with the new flavor, the old disks kept
 * until confirmed; no second QEMU, no half-made folder, no socket left once it is deleted.
 * Two kill points, one guest each: while the source step waits for a guest deaf to the power
 * button (migrateDiskAndPowerOff, then the power cord), and while the destination step makes
 * the new machine's folder (finishMigration).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProcess, request, passwordToken, freshDatabase } from '../support.js';
import { createConnection } from 'node:net';
import { guestShell, killQemusUnder, qemuMissing, qemuProcessesUnder, waitForConsole, type Driver } from './qemu-support.js';

const skip = qemuMissing();
const compute = '/compute/v2.1';

describe('a SIGKILL of Nimbus in the middle of a resize on the qemu driver', { skip }, () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let dataDir: string;
  let env: Record<string, string>;
  let nimbus: Awaited<ReturnType<typeof startProcess>> | undefined;
  let demo: string;
  let image: string;
  const flavors: Record<string, string> = {};

  const start = async () => {
    nimbus = await startProcess(env);
    demo = (await passwordToken(nimbus.url, 'demo', 'qc-demo-pw', 'demo')).token;
  };
  const api = (method: string, path: string, body?: unknown) => request(nimbus!.url, method, `${compute}${path}`, { token: demo, body, version: '2.47' });
  const machines = () => join(dataDir, 'machines');

  before(async () => {
    database = await freshDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'nimbus-qc-'));
    const config = join(dataDir, 'nimbus.json');
    writeFileSync(config, JSON.stringify({ driver: 'qemu', qemu: { shutdownTimeout: 10, syncPowerStateInterval: 2, metadataService: false } }));
    env = { NIMBUS_ADMIN_PASSWORD: 'qc-admin-pw', NIMBUS_DEMO_PASSWORD: 'qc-demo-pw', NIMBUS_CONFIG: config, NIMBUS_DATA_DIR: dataDir, NIMBUS_TASK_LEASE_SECONDS: '3' };
    if (database.url) env.NIMBUS_DATABASE_URL = database.url;
    await start();
    const admin = (await passwordToken(nimbus!.url, 'admin', 'qc-admin-pw', 'admin')).token;
    image = (await request(nimbus!.url, 'GET', '/image/v2/images?name=nimbus-tiny', { token: demo })).body.images[0].id;
    for (const [name, ram, disk] of [['q.c1', 128, 1], ['q.c2', 160, 2]] as const) {
      const f = await request(nimbus!.url, 'POST', `${compute}/flavors`, { token: admin, body: { flavor: { name, ram, vcpus: 1, disk } } });
      assert.equal(f.status, 200, f.text);
      flavors[name] = f.body.flavor.id;
    }
  });
  after(async () => {
    killQemusUnder(dataDir);
    await nimbus?.stop();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const server = async (id: string) => (await api('GET', `/servers/${id}`)).body.server;
  async function settle(id: string, status: string) {
    for (let i = 0; i < 1500; i++) {
      const s = await server(id);
      if (s.status === status && !s['OS-EXT-STS:task_state']) return s;
      if (s.status === 'ERROR') throw new Error(`server went to ERROR: ${JSON.stringify(s.fault)}\n${nimbus!.output().slice(-3000)}`);
      await sleep(200);
    }
    throw new Error(`server never became ${status}: ${(await server(id)).status}\n${nimbus!.output().slice(-3000)}`);
  }

  /** The guest's serial port, reached through its socket as the driver reaches it (Nimbus may be down). */
  const serialOf = (id: string) =>
    ({
      openConsole: (_host: string, _id: string, _kind: string, client: { send(d: Buffer): void; hangUp(): void }) => {
        const socket = createConnection(join(machines(), id, 'serial.sock'));
        socket.on('data', (d: Buffer) => client.send(d));
        socket.on('close', () => client.hangUp());
        socket.on('error', () => socket.destroy());
        return { write: (d: Buffer) => socket.write(d), close: () => socket.destroy() };
      },
    }) as unknown as Driver;

  /** A booted tiny guest on the small flavor. */
  async function guest(name: string): Promise<string> {
    const r = await api('POST', '/servers', { server: { name, imageRef: image, flavorRef: flavors['q.c1'], networks: 'none' } });
    assert.equal(r.status, 202, r.text);
    const id = r.body.server.id as string;
    await settle(id, 'ACTIVE');
    await waitForConsole(async () => readFileSync(join(machines(), id, 'console.log'), 'utf8'), 'nimbus-tiny-guest: ready');
    return id;
  }

  /** Asks for the resize, and kills Nimbus with SIGKILL the moment `now()` says so (looked at every 10 ms). */
  async function resizeKilledWhen(id: string, now: () => boolean | Promise<boolean>): Promise<void> {
    assert.equal((await api('POST', `/servers/${id}/action`, { resize: { flavorRef: flavors['q.c2'] } })).status, 202);
    for (let i = 0; i < 12000 && !(await now()); i++) await sleep(10);
    assert.ok(await now(), 'the resize reached the point where Nimbus is killed');
    nimbus!.child.kill('SIGKILL');
    await new Promise((r) => nimbus!.child.once('exit', r));
  }

  /** What a resized server is, for real: one QEMU of the new flavor's memory, the old disks kept aside, nothing half made. */
  async function assertResized(id: string) {
    const s = await settle(id, 'VERIFY_RESIZE');
    assert.equal(s.flavor.original_name, 'q.c2');
    const pids = qemuProcessesUnder(dataDir);
    assert.equal(pids.length, 1, 'one QEMU: the resized machine');
    const args = readFileSync(`/proc/${pids[0]}/cmdline`, 'utf8').split('\0');
    assert.equal(args[args.indexOf('-m') + 1], '160');
    assert.ok(args.some((a) => a.includes(join(machines(), id) + '/')), 'the QEMU is the machine in the server’s own folder');
    assert.deepEqual(readdirSync(machines()).filter((f) => f.startsWith(id)).sort(), [id, `${id}_resize`]);
    await waitForConsole(async () => readFileSync(join(machines(), id, 'console.log'), 'utf8'), 'nimbus-tiny-guest: ready');
  }

  /** Confirmed, then deleted: no QEMU, and no file of the server left (folder, kept disks, sockets). */
  async function assertCleanedUp(id: string) {
    assert.equal((await api('POST', `/servers/${id}/action`, { confirmResize: null })).status, 204);
    await settle(id, 'ACTIVE');
    assert.ok(!existsSync(join(machines(), `${id}_resize`)), 'confirm removes the kept disks');
    assert.equal((await api('DELETE', `/servers/${id}`)).status, 204);
    for (let i = 0; i < 300 && (await api('GET', `/servers/${id}`)).status !== 404; i++) await sleep(200);
    assert.deepEqual(qemuProcessesUnder(dataDir), []);
    assert.deepEqual(readdirSync(machines()).filter((f) => f.startsWith(id)), []);
  }

  it('killed while the source step waits for the guest to power off: restarted, the resize finishes, and nothing is left over', async () => {
    const id = await guest('crash-poweroff');
    // A guest deaf to the power button: the source step waits the shutdown timeout for it, then pulls the cord.
    await guestShell(serialOf(id), 'host', id, 'killall acpid; echo "ACPI""D-GONE"', /ACPID-GONE/);
    await resizeKilledWhen(id, async () => (await server(id))['OS-EXT-STS:task_state'] === 'resize_migrating');
    await start();
    await assertResized(id);
    await assertCleanedUp(id);
  });

  it('killed while the destination step makes the new machine: restarted, the resize finishes, and nothing is left over', async () => {
    const id = await guest('crash-finish');
    await resizeKilledWhen(id, () => existsSync(join(machines(), `${id}.part`)));
    await start();
    await assertResized(id);
    await assertCleanedUp(id);
  });
});
