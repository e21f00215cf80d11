/**
 * `npm run bench -- qemu`: what the qemu driver adds to a real machine, with KVM or TCG
 * stated. The tiny guest is booted BENCH_QEMU_RUNS times (default 3) each way, one at a time:
 * by a plain qemu-system-x86_64 command (the same kind of command line, the same memory and
 * translation cache) timed to its boot marker on the console, and through Nimbus (a child
 * process on loopback) timed from POST /servers to ACTIVE and to the boot marker in the
 * console output. Then the resident memory of an idle tiny guest's QEMU. Prints a table;
 * writes nothing.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
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

async function main(): Promise<void> {
  const probe = await probeHost();
  const dir = mkdtempSync(join(tmpdir(), 'nimbus-bench-qemu-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const qemus = () =>
    readdirSync('/proc')
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
  try {
    process.stdout.write(`QEMU ${probe.qemuVersion} with ${probe.accel.toUpperCase()}${probe.kvmFailure ? ` (KVM unusable: ${probe.kvmFailure})` : ''}; tiny guest, ${MEMORY_MB} MiB, tb-size ${TB_MB} MiB; ${RUNS} runs each\n`);
    const plain: number[] = [];
    for (let i = 0; i < RUNS; i++) plain.push(await plainBoot(dir, probe.accel));

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
    const active: number[] = [];
    const marker: number[] = [];
    let rss = NaN;
    for (let i = 0; i < RUNS; i++) {
      const start = performance.now();
      const id = (await api(url, 'POST', '/compute/v2.1/servers', demo, { server: { name: `bench-${i}`, imageRef: image, flavorRef: flavor } })).body.server.id;
      let sawActive = false;
      await waitFor(async () => {
        if (!sawActive && (await api(url, 'GET', `/compute/v2.1/servers/${id}`, demo)).body.server.status === 'ACTIVE') {
          sawActive = true;
          active.push(performance.now() - start);
        }
        const o = await api(url, 'POST', `/compute/v2.1/servers/${id}/action`, demo, { 'os-getConsoleOutput': {} });
        return o.status === 200 && String(o.body.output).includes(BOOT_MARKER);
      });
      marker.push(performance.now() - start);
      if (i === RUNS - 1) {
        await sleep(5000); // idle, booted
        rss = qemus().map(rssMb)[0];
      }
      await api(url, 'DELETE', `/compute/v2.1/servers/${id}`, demo);
      await waitFor(() => qemus().length === 0, 60000);
    }
    const p = median(plain);
    const m = median(marker);
    const rows = [
      ['plain qemu-system-x86_64 → boot marker', `${(p / 1000).toFixed(2)} s`],
      ['Nimbus POST → ACTIVE', `${(median(active) / 1000).toFixed(2)} s`],
      ['Nimbus POST → boot marker in console output', `${(m / 1000).toFixed(2)} s`],
      ['Nimbus / plain', `${((m / p - 1) * 100).toFixed(1)} % more (goal: under 5 %)`],
      ['resident memory of an idle tiny guest (128 MiB)', `${rss} MiB`],
    ];
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(50)} ${v}\n`);
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
