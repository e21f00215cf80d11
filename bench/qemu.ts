/**
 * `npm run bench -- qemu`: what the qemu driver adds to a real machine, with KVM or TCG
 * stated. The tiny guest is booted BENCH_QEMU_RUNS times (default 3) each way, one at a time:
 * by a plain qemu-system-x86_64 command (the same kind of command line, the same memory and
 * translation cache) timed to its boot marker on the console, and through Nimbus (a child
 * process on loopback) timed from POST /servers to ACTIVE and to the boot marker in the
 * console output; and Nimbus's own QEMU command line for that machine run again by hand, so
 * that what Nimbus adds is told apart from what the machine definition costs. Then the
 * resident memory of an idle tiny guest's QEMU, a snapshot's time per GiB, and how many tiny
 * guests the host holds before the scheduler says no. Prints a table; writes nothing.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { probeHost } from '../src/virt/qemu/probe.js';
import { buildTinyGuest, BOOT_MARKER } from '../src/virt/qemu/tiny-guest.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUNS = Number(process.env.BENCH_QEMU_RUNS ?? 3);
const MEMORY_MB = 128;
const TB_MB = 32;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 300000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out');
    await sleep(50);
  }
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

/** The tiny guest booted by hand: the baseline Nimbus is compared with. */
async function plainBoot(dir: string, accel: string): Promise<number> {
  const guest = buildTinyGuest(join(dir, 'guest'));
  const log = join(dir, 'plain.log');
  const disk = join(dir, 'plain.qcow2');
  rmSync(log, { force: true });
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', guest.disk, disk, '1G']);
  const start = performance.now();
  const p = spawn('qemu-system-x86_64', [
    '-machine', 'pc', '-accel', accel === 'kvm' ? 'kvm' : `tcg,tb-size=${TB_MB}`, '-m', String(MEMORY_MB), '-smp', '1', '-nodefaults', '-no-user-config', '-display', 'none',
    '-kernel', guest.kernel, '-initrd', guest.ramdisk, '-append', 'console=ttyS0',
    '-drive', `file=${disk},if=none,id=d0,format=qcow2`, '-device', 'virtio-blk-pci,drive=d0',
    '-chardev', `file,id=s0,path=${log}`, '-serial', 'chardev:s0',
  ], { stdio: 'ignore' });
  try {
    await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes(BOOT_MARKER));
    return performance.now() - start;
  } finally {
    p.kill('SIGKILL');
    await new Promise((r) => p.once('exit', r));
  }
}

async function api(url: string, method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(url + path, { method, headers: { 'content-type': 'application/json', ...(token ? { 'x-auth-token': token } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

async function token(url: string, user: string, password: string): Promise<string> {
  const r = await api(url, 'POST', '/identity/v3/auth/tokens', undefined, { auth: { identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } }, scope: { project: { name: user, domain: { id: 'default' } } } } });
  return r.headers.get('x-subject-token')!;
}

/** QEMU processes whose command line names `dir`. */
function qemusUnder(dir: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
        return cmd.startsWith('qemu-system') && cmd.includes(dir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/**
 * The command line Nimbus ran for a machine, run again by hand in a folder of its own with
 * a fresh overlay on the same cached image: what the machine costs without Nimbus around it.
 */
async function sameCommandBoot(args: string[], machineDir: string, dir: string, disk: { base: string; format: string; size: number }): Promise<number> {
  const copy = join(dir, 'by-hand');
  rmSync(copy, { recursive: true, force: true });
  mkdirSync(copy);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', disk.format, '-b', disk.base, join(copy, 'disk.qcow2'), String(disk.size)]);
  const own = args.map((a) => a.split(machineDir).join(copy));
  const log = join(copy, 'console.log');
  const start = performance.now();
  execFileSync('qemu-system-x86_64', own, { cwd: copy, stdio: 'ignore' }); // daemonizes, as Nimbus runs it
  try {
    await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes(BOOT_MARKER));
    return performance.now() - start;
  } finally {
    for (const pid of qemusUnder(copy)) process.kill(pid, 'SIGKILL');
    await waitFor(() => qemusUnder(copy).length === 0, 30000);
  }
}

async function main(): Promise<void> {
  const probe = await probeHost();
  const dir = mkdtempSync(join(tmpdir(), 'nimbus-bench-qemu-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const qemus = () => qemusUnder(dir);
  try {
    process.stdout.write(`QEMU ${probe.qemuVersion} with ${probe.accel.toUpperCase()}${probe.kvmFailure ? ` (KVM unusable: ${probe.kvmFailure})` : ''}; tiny guest, ${MEMORY_MB} MiB, tb-size ${TB_MB} MiB; ${RUNS} runs each, alternated\n`);
    const data = join(dir, 'nimbus');
    const config = join(dir, 'nimbus.json');
    // Not the metadata service: it would take this machine's 169.254.169.254 (the plain boot has none either).
    writeFileSync(config, JSON.stringify({ driver: 'qemu', qemu: { tbSizeMb: TB_MB, shutdownTimeout: 10, metadataService: false } }));
    child = spawn(process.execPath, [join(ROOT, 'dist/src/cli.js'), 'serve'], {
      env: { ...process.env, NIMBUS_CONFIG: config, NIMBUS_DATA_DIR: data, NIMBUS_LISTEN: `127.0.0.1:${port}`, NIMBUS_LOG_LEVEL: 'warn', NIMBUS_ADMIN_PASSWORD: 'bench-admin', NIMBUS_DEMO_PASSWORD: 'bench-demo' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    await waitFor(() => out.includes('Nimbus is listening'), 60000);
    const admin = await token(url, 'admin', 'bench-admin');
    const demo = await token(url, 'demo', 'bench-demo');
    const flavor = (await api(url, 'POST', '/compute/v2.1/flavors', admin, { flavor: { name: 'bench.nano', ram: MEMORY_MB, vcpus: 1, disk: 1 } })).body.flavor.id;
    const image = (await api(url, 'GET', '/image/v2/images?name=nimbus-tiny', demo)).body.images[0].id;
    const boot = async (name: string, token = demo) => (await api(url, 'POST', '/compute/v2.1/servers', token, { server: { name, imageRef: image, flavorRef: flavor } })).body.server.id as string;
    const status = async (id: string, token = demo) => (await api(url, 'GET', `/compute/v2.1/servers/${id}`, token)).body.server.status as string;
    const remove = async (id: string, token = demo) => {
      await api(url, 'DELETE', `/compute/v2.1/servers/${id}`, token);
      await waitFor(async () => (await api(url, 'GET', `/compute/v2.1/servers/${id}`, token)).status === 404, 120000);
    };

    // Boot time three ways, alternated so that the machine's load falls on each alike.
    const plain: number[] = [];
    const active: number[] = [];
    const marker: number[] = [];
    const byHand: number[] = [];
    let rss = NaN;
    for (let i = 0; i < RUNS; i++) {
      plain.push(await plainBoot(dir, probe.accel));
      const start = performance.now();
      const id = await boot(`bench-${i}`);
      let sawActive = false;
      await waitFor(async () => {
        if (!sawActive && (await status(id)) === 'ACTIVE') {
          sawActive = true;
          active.push(performance.now() - start);
        }
        const o = await api(url, 'POST', `/compute/v2.1/servers/${id}/action`, demo, { 'os-getConsoleOutput': {} });
        return o.status === 200 && String(o.body.output).includes(BOOT_MARKER);
      });
      marker.push(performance.now() - start);
      const pid = qemus()[0];
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(1, -1);
      if (i === RUNS - 1) {
        await sleep(5000); // idle, booted
        rss = rssMb(pid);
      }
      const machineDir = join(data, 'machines', id);
      const disk = join(dir, 'by-hand-base');
      const info = JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', join(machineDir, 'disk.qcow2')], { encoding: 'utf8' }));
      writeFileSync(disk, JSON.stringify({ base: info['full-backing-filename'], format: info['backing-filename-format'] ?? 'raw', size: info['virtual-size'] }));
      await remove(id); // first: its forwarded SSH port is on the command line
      byHand.push(await sameCommandBoot(args, machineDir, dir, JSON.parse(readFileSync(disk, 'utf8'))));
    }

    // Snapshot: createImage of a running guest, from the request to the image active.
    const snapServer = await boot('bench-snapshot');
    await waitFor(async () => (await status(snapServer)) === 'ACTIVE');
    const snapStart = performance.now();
    const snap = await api(url, 'POST', `/compute/v2.1/servers/${snapServer}/action`, demo, { createImage: { name: 'bench-snapshot' } });
    const snapId = (snap.body?.image_id ?? snap.headers.get('location')?.split('/').pop()) as string;
    let snapBytes = 0;
    await waitFor(async () => {
      const img = (await api(url, 'GET', `/image/v2/images/${snapId}`, demo)).body;
      snapBytes = img?.size ?? 0;
      return img?.status === 'active';
    });
    const snapMs = performance.now() - snapStart;
    await api(url, 'DELETE', `/image/v2/images/${snapId}`, demo);
    await remove(snapServer);

    // How many tiny guests this host holds: boot them until the scheduler says no.
    const hyper = (await api(url, 'GET', '/compute/v2.1/os-hypervisors/detail', admin)).body.hypervisors[0];
    await api(url, 'PUT', `/compute/v2.1/os-quota-sets/${(await api(url, 'GET', '/identity/v3/projects?name=admin', admin)).body.projects[0].id}`, admin, { quota_set: { instances: -1, cores: -1, ram: -1 } });
    const fleet: string[] = [];
    let refused = '';
    for (let n = 0; n < 1000 && !refused; n++) {
      const id = await boot(`bench-fleet-${n}`, admin);
      fleet.push(id);
      await waitFor(async () => ['ACTIVE', 'ERROR'].includes(await status(id, admin)));
      if ((await status(id, admin)) === 'ERROR') refused = (await api(url, 'GET', `/compute/v2.1/servers/${id}`, admin)).body.server.fault?.message ?? 'ERROR';
    }
    const held = fleet.length - (refused ? 1 : 0);
    await sleep(5000);
    const fleetRss = qemus().map(rssMb).reduce((a, b) => a + b, 0);
    for (const id of fleet) await api(url, 'DELETE', `/compute/v2.1/servers/${id}`, admin);
    await waitFor(() => qemus().length === 0, 300000);

    const p = median(plain);
    const h = median(byHand);
    const m = median(marker);
    const gib = snapBytes / 2 ** 30;
    const rows = [
      ['plain minimal qemu-system-x86_64 → boot marker', `${(p / 1000).toFixed(2)} s`],
      ['Nimbus\'s own QEMU command, run by hand → boot marker', `${(h / 1000).toFixed(2)} s`],
      ['Nimbus POST → ACTIVE', `${(median(active) / 1000).toFixed(2)} s`],
      ['Nimbus POST → boot marker in console output', `${(m / 1000).toFixed(2)} s`],
      ['Nimbus / its command by hand (what Nimbus adds)', `${((m / h - 1) * 100).toFixed(1)} % more (goal: under 5 %)`],
      ['Nimbus / plain minimal command', `${((m / p - 1) * 100).toFixed(1)} % more (the machine definition: VGA for VNC, NIC, QMP, SMBIOS)`],
      ['resident memory of an idle tiny guest (128 MiB)', `${rss} MiB`],
      ['snapshot (createImage → image active)', `${(snapMs / 1000).toFixed(2)} s for ${(snapBytes / 2 ** 20).toFixed(0)} MiB = ${(snapMs / 1000 / gib).toFixed(2)} s per GiB`],
      [`tiny guests one host holds (${hyper.vcpus} vCPUs, ${hyper.memory_mb} MiB)`, `${held}, then: ${refused || 'none refused'}; their QEMUs' resident memory ${fleetRss} MiB`],
    ];
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(56)} ${v}\n`);
  } finally {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    for (const pid of qemus()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
