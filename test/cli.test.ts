/**
 * `nimbus serve` as a person runs it: a real process, its files on disk, its banner,
 * its configuration from a file and the environment, and its refusals of bad config.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import { loadConfig } from '../src/config.js';
import { freePort, request, startProcess } from './support.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url)); // dist/test → project root
// What `npm start` and the `nimbus` command run: the bundle, rebuilt first if sources changed.
const CLI = join(ROOT, 'scripts/start.mjs');

const scratch = mkdtempSync(join(tmpdir(), 'nimbus-cli-'));
const running = new Set<ChildProcess>();
after(() => {
  for (const child of running) child.kill('SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
});

/** A new empty directory to run in, so `./.nimbus` is ours alone. */
function workDir(name: string): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The caller's environment without any NIMBUS_* setting that would change what is tested. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NIMBUS_')));
  return { ...env, ...extra };
}

interface Launched {
  child: ChildProcess;
  stdout: () => string;
  output: () => string;
  exited: Promise<number | null>;
  /** Resolves once the banner is out; rejects if the process exits first or takes too long. */
  ready: Promise<void>;
  stop: () => Promise<number | null>;
}

function launch(args: string[], options: { cwd: string; env?: Record<string, string> }): Launched {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env: cleanEnv(options.env ?? {}), stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let all = '';
  child.stdout!.on('data', (d) => ((stdout += d), (all += d)));
  child.stderr!.on('data', (d) => (all += d));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => (running.delete(child), res(code))));
  const ready = new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`no banner within 20 s:\n${all}`)), 20_000);
    child.stdout!.on('data', () => {
      if (stdout.includes('Nimbus is listening')) (clearTimeout(timer), res());
    });
    void exited.then((code) => (clearTimeout(timer), rej(new Error(`nimbus exited with ${code}:\n${all}`))));
  });
  ready.catch(() => {}); // a test that expects an exit never awaits it
  return {
    child,
    stdout: () => stdout,
    output: () => all,
    exited,
    ready,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs a command that should end by itself; kills it after 20 s. */
async function runToExit(args: string[], options: { cwd: string; env?: Record<string, string> }) {
  const run = launch(args, options);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 20_000);
  const code = await run.exited;
  clearTimeout(timer);
  return { code, output: run.output() };
}

function cloudPassword(yaml: string, cloud: string): string {
  const m = new RegExp(`  ${cloud}:\\n(?:    .*\\n)*?      password: (".*")`).exec(yaml);
  assert.ok(m, `clouds.yaml has a password for ${cloud}:\n${yaml}`);
  return JSON.parse(m[1]);
}

const banner = (stdout: string, label: string) => new RegExp(`^  ${label}\\s+(\\S+)`, 'm').exec(stdout)?.[1];

async function projectToken(url: string, user: string, password: string) {
  return request(url, 'POST', '/identity/v3/auth/tokens', {
    body: {
      auth: {
        identity: { methods: ['password'], password: { user: { name: user, domain: { name: 'Default' }, password } } },
        scope: { project: { name: user, domain: { name: 'Default' } } },
      },
    },
  });
}

test('the embedded defaults: 127.0.0.1:8774, ./.nimbus, SQLite in it, fake driver, RegionOne, 1 h tokens', () => {
  const config = loadConfig({ env: {} });
  assert.deepEqual(config.listen, { host: '127.0.0.1', port: 8774 });
  assert.equal(config.publicUrl, 'http://127.0.0.1:8774');
  assert.equal(config.dataDir, resolve('.nimbus'));
  assert.equal(config.databaseUrl, `sqlite:${resolve('.nimbus', 'nimbus.sqlite')}`);
  assert.equal(config.driver, 'fake');
  assert.equal(config.region, 'RegionOne');
  assert.equal(config.tokenTtlSeconds, 3600);
});

test('nimbus --help prints the commands and the settings, and exits 0', async () => {
  const { code, output } = await runToExit(['--help'], { cwd: workDir('help') });
  assert.equal(code, 0);
  assert.match(output, /usage: nimbus <command>/);
  for (const name of ['serve', 'migrate', 'NIMBUS_LISTEN', 'NIMBUS_DATA_DIR', 'NIMBUS_DATABASE_URL', 'NIMBUS_DRIVER']) assert.ok(output.includes(name), name);
});

// The next tests are one story: a first start, then a restart in the same directory.
const home = workDir('defaults');
const dataDir = join(home, '.nimbus');
const firstStart: { url?: string; admin?: string; demo?: string; token?: string; rows?: Record<string, unknown>; output?: string } = {};

/** Row counts of the seeded tables, read straight from the SQLite file. */
function seededRows(): Record<string, unknown> {
  const db = new SqliteDatabase(join(dataDir, 'nimbus.sqlite'), { readonly: true });
  try {
    return Object.fromEntries(['projects', 'users', 'roles', 'role_assignments', 'flavors', 'images', 'networks', 'subnets'].map((t) => [t, db.prepare(`select count(*) from ${t}`).pluck().get()]));
  } finally {
    db.close();
  }
}

test('a first start on the embedded defaults creates ./.nimbus, the SQLite database and a 0600 clouds.yaml with generated passwords', async () => {
  const port = await freePort();
  const run = launch(['serve'], { cwd: home, env: { NIMBUS_LISTEN: `127.0.0.1:${port}` } });
  await run.ready;
  const url = `http://127.0.0.1:${port}`;
  const stdout = run.stdout();

  assert.ok(statSync(dataDir).isDirectory());
  assert.ok(statSync(join(dataDir, 'nimbus.sqlite')).size > 0);
  const clouds = join(dataDir, 'clouds.yaml');
  assert.equal(statSync(clouds).mode & 0o777, 0o600);
  const yaml = readFileSync(clouds, 'utf8');
  assert.match(yaml, /^clouds:\n  nimbus-admin:\n/);
  assert.match(yaml, /\n  nimbus-demo:\n/);
  assert.equal(yaml.match(/auth_url: (.*)/g)!.length, 2);
  for (const line of yaml.match(/auth_url: (.*)/g)!) assert.equal(line, `auth_url: ${url}/identity/v3`);
  assert.match(yaml, /region_name: RegionOne/);

  assert.match(stdout, new RegExp(`Nimbus is listening on ${url}\\n`));
  assert.equal(banner(stdout, 'driver'), 'fake');
  assert.equal(banner(stdout, 'database'), `sqlite:${join(dataDir, 'nimbus.sqlite')}`);
  assert.equal(banner(stdout, 'clouds'), clouds);
  assert.equal(banner(stdout, 'compute'), `${url}/compute/v2.1`);
  assert.equal(banner(stdout, 'network'), `${url}/network`);
  assert.match(stdout, /^ {2}network .*\(the demo project's network private, 10\.0\.0\.0\/26, routed by router1 to the external network public, 172\.24\.4\.0\/24, for floating IPs; made on first start as DevStack does\)$/m);
  const admin = cloudPassword(yaml, 'nimbus-admin');
  const demo = cloudPassword(yaml, 'nimbus-demo');
  assert.notEqual(admin, demo);
  assert.match(admin!, /^\S{16,}$/);

  const versions = await request(url, 'GET', '/compute/v2.1');
  assert.equal(versions.status, 200);
  const token = await projectToken(url, 'demo', demo!);
  assert.equal(token.status, 201, token.text);
  assert.equal(token.body.token.project.name, 'demo');

  assert.equal(await run.stop(), 0, 'SIGTERM is a clean exit');
  const rows = seededRows();
  assert.equal(rows.users, 2);
  assert.equal(rows.flavors, 5);
  assert.equal(rows.networks, 2, "the demo project's private network and the external network public");
  assert.equal(rows.subnets, 2);
  Object.assign(firstStart, { url, admin, demo, token: token.headers.get('x-subject-token')!, rows, output: run.output() });
});

test('the generated passwords never reach piped output: the first start names clouds.yaml instead', (t) => {
  if (!firstStart.output) return t.skip('the first start failed');
  const output = firstStart.output;
  assert.ok(!output.includes(firstStart.admin!), 'the admin password is not in stdout or stderr');
  assert.ok(!output.includes(firstStart.demo!), 'the demo password is not in stdout or stderr');
  assert.ok(output.includes(`First start: the generated passwords of admin and demo are in ${join(dataDir, 'clouds.yaml')} (mode 0600), not in this output.`), output);
});

const SCRIPT = '/usr/bin/script'; // util-linux: runs a command on a pseudo-terminal

test('at a terminal, a first start shows the generated passwords once', { skip: !existsSync(SCRIPT) && 'script(1) is not installed' }, async () => {
  const cwd = workDir('terminal');
  const port = await freePort();
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const child = spawn(SCRIPT, ['-qec', [process.execPath, CLI, 'serve'].map(quote).join(' '), '/dev/null'], {
    cwd,
    env: cleanEnv({ NIMBUS_LISTEN: `127.0.0.1:${port}`, NIMBUS_LOG_LEVEL: 'warn' }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so the server under script(1) is stopped with it
  });
  running.add(child);
  let screen = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no passwords within 20 s:\n${screen}`)), 20_000);
      child.stdout!.on('data', (d) => {
        screen += d;
        if (/\n  demo +\S+/.test(screen)) (clearTimeout(timer), resolve());
      });
      child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`script exited with ${code}:\n${screen}`))));
    });
  } finally {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
    running.delete(child);
  }
  const yaml = readFileSync(join(cwd, '.nimbus', 'clouds.yaml'), 'utf8');
  assert.match(screen, /First start: generated passwords, shown this once on this terminal/);
  assert.equal(banner(screen.replace(/\r/g, ''), 'admin'), cloudPassword(yaml, 'nimbus-admin'));
  assert.equal(banner(screen.replace(/\r/g, ''), 'demo'), cloudPassword(yaml, 'nimbus-demo'));
});

test('a second start reuses the database: no new passwords, no new seed, earlier tokens still valid', async (t) => {
  if (!firstStart.token) return t.skip('the first start failed');
  const port = await freePort();
  const run = launch(['serve'], { cwd: home, env: { NIMBUS_LISTEN: `127.0.0.1:${port}` } });
  await run.ready;
  const url = `http://127.0.0.1:${port}`;
  const stdout = run.stdout();
  assert.match(stdout, /Nimbus is listening/);
  assert.doesNotMatch(stdout, /First start/);
  assert.ok(!stdout.includes(firstStart.admin!), 'the admin password is not printed again');
  assert.ok(!stdout.includes(firstStart.demo!), 'the demo password is not printed again');

  const yaml = readFileSync(join(dataDir, 'clouds.yaml'), 'utf8');
  assert.equal(statSync(join(dataDir, 'clouds.yaml')).mode & 0o777, 0o600);
  assert.equal(cloudPassword(yaml, 'nimbus-admin'), firstStart.admin);
  assert.equal(cloudPassword(yaml, 'nimbus-demo'), firstStart.demo);
  assert.ok(yaml.includes(`auth_url: ${url}/identity/v3`), 'clouds.yaml follows the new listen address');

  const check = await request(url, 'GET', '/identity/v3/auth/tokens', { token: firstStart.token, headers: { 'x-subject-token': firstStart.token! } });
  assert.equal(check.status, 200, 'a token issued before the restart is still valid');
  assert.equal((await projectToken(url, 'admin', firstStart.admin!)).status, 201);
  assert.equal(await run.stop(), 0);

  assert.deepEqual(seededRows(), firstStart.rows, 'nothing was seeded twice');
});

test('NIMBUS_ADMIN_PASSWORD and NIMBUS_DEMO_PASSWORD are used on first start, written to clouds.yaml and not printed', async () => {
  const proc = await startProcess({ NIMBUS_ADMIN_PASSWORD: 'given-admin-pw-1', NIMBUS_DEMO_PASSWORD: 'given-demo-pw-2' });
  try {
    assert.doesNotMatch(proc.output(), /First start|given-admin-pw-1|given-demo-pw-2/);
    const yaml = readFileSync(join(proc.dataDir, 'clouds.yaml'), 'utf8');
    assert.equal(cloudPassword(yaml, 'nimbus-admin'), 'given-admin-pw-1');
    assert.equal(cloudPassword(yaml, 'nimbus-demo'), 'given-demo-pw-2');
    assert.equal((await projectToken(proc.url, 'admin', 'given-admin-pw-1')).status, 201);
  } finally {
    await proc.stop();
    rmSync(proc.dataDir, { recursive: true, force: true });
  }
});

test('NIMBUS_DATA_DIR and NIMBUS_LISTEN choose where the data lives and where Nimbus listens', async () => {
  const cwd = workDir('env');
  const dir = join(cwd, 'elsewhere', 'nested');
  const port = await freePort();
  const run = launch(['serve'], { cwd, env: { NIMBUS_LISTEN: `127.0.0.1:${port}`, NIMBUS_DATA_DIR: dir, NIMBUS_LOG_LEVEL: 'warn' } });
  try {
    await run.ready;
    assert.ok(existsSync(join(dir, 'nimbus.sqlite')));
    assert.ok(existsSync(join(dir, 'clouds.yaml')));
    assert.ok(!existsSync(join(cwd, '.nimbus')), 'nothing is written to ./.nimbus');
    assert.match(run.stdout(), new RegExp(`listening on http://127\\.0\\.0\\.1:${port}\\n`));
    assert.equal((await request(`http://127.0.0.1:${port}`, 'GET', '/compute/v2.1')).status, 200);
  } finally {
    await run.stop();
  }
});

test('a JSON config file given with --config sets the listen address, data directory, region and token lifetime', async () => {
  const cwd = workDir('config-file');
  const port = await freePort();
  const dir = join(cwd, 'state');
  const file = join(cwd, 'nimbus.json');
  writeFileSync(file, JSON.stringify({ listen: `127.0.0.1:${port}`, dataDir: dir, region: 'RegionTest', tokenTtlSeconds: 120, logLevel: 'warn', adminPassword: 'file-admin-pw' }));
  const run = launch(['serve', '--config', file], { cwd });
  try {
    await run.ready;
    const url = `http://127.0.0.1:${port}`;
    assert.ok(existsSync(join(dir, 'nimbus.sqlite')));
    assert.match(readFileSync(join(dir, 'clouds.yaml'), 'utf8'), /region_name: RegionTest/);
    const token = await projectToken(url, 'admin', 'file-admin-pw');
    assert.equal(token.status, 201, token.text);
    const t = token.body.token;
    const ttl = (Date.parse(t.expires_at) - Date.parse(t.issued_at)) / 1000;
    assert.ok(Math.abs(ttl - 120) < 2, `token lives ${ttl} s`);
    for (const service of t.catalog) for (const e of service.endpoints) assert.equal(e.region, 'RegionTest');
    // Only the admin password was given: the banner names the generated demo one's place, not the password.
    assert.ok(run.stdout().includes(`First start: the generated passwords of demo are in ${join(dir, 'clouds.yaml')}`), run.stdout());
    assert.ok(!run.output().includes(cloudPassword(readFileSync(join(dir, 'clouds.yaml'), 'utf8'), 'nimbus-demo')));
  } finally {
    await run.stop();
  }
});

test('NIMBUS_CONFIG names the config file, and the environment overrides what it says', async () => {
  const cwd = workDir('config-env');
  const [filePort, envPort] = [await freePort(), await freePort()];
  const file = join(cwd, 'nimbus.json');
  writeFileSync(file, JSON.stringify({ listen: `127.0.0.1:${filePort}`, dataDir: join(cwd, 'from-file'), region: 'RegionFile' }));
  const run = launch(['serve'], { cwd, env: { NIMBUS_CONFIG: file, NIMBUS_LISTEN: `127.0.0.1:${envPort}`, NIMBUS_LOG_LEVEL: 'warn' } });
  try {
    await run.ready;
    assert.match(run.stdout(), new RegExp(`listening on http://127\\.0\\.0\\.1:${envPort}\\n`));
    assert.ok(existsSync(join(cwd, 'from-file', 'nimbus.sqlite')), 'the data directory comes from the file');
    assert.match(readFileSync(join(cwd, 'from-file', 'clouds.yaml'), 'utf8'), /region_name: RegionFile/);
  } finally {
    await run.stop();
  }
});

test('nimbus migrate creates, migrates and seeds the database, then exits; serve then starts on it as is', async () => {
  const cwd = workDir('migrate');
  const dir = join(cwd, 'data');
  const { code, output } = await runToExit(['migrate'], { cwd, env: { NIMBUS_DATA_DIR: dir } });
  assert.equal(code, 0, output);
  const db = new SqliteDatabase(join(dir, 'nimbus.sqlite'), { readonly: true });
  try {
    assert.ok((db.prepare('select name from kysely_migration order by name').pluck().all() as string[]).includes('001_platform'));
    // The roles of a cluster never seed: the one first-start step is migrate's.
    assert.equal(db.prepare('select count(*) from users').pluck().get(), 2, 'migrate seeds admin and demo');
  } finally {
    db.close();
  }
  assert.match(output, /First start: the generated passwords of admin and demo are in /);
  const port = await freePort();
  const run = launch(['serve'], { cwd, env: { NIMBUS_DATA_DIR: dir, NIMBUS_LISTEN: `127.0.0.1:${port}`, NIMBUS_LOG_LEVEL: 'warn' } });
  try {
    await run.ready;
    assert.doesNotMatch(run.stdout(), /First start/);
  } finally {
    await run.stop();
  }
});

const BAD: { name: string; args?: string[]; env?: Record<string, string>; file?: string; message: RegExp; code?: number }[] = [
  { name: 'NIMBUS_DRIVER=bogus', env: { NIMBUS_DRIVER: 'bogus' }, message: /^nimbus: driver must be fake or qemu, got "bogus"$/m },
  { name: 'NIMBUS_LISTEN=nonsense', env: { NIMBUS_LISTEN: 'nonsense' }, message: /^nimbus: listen must be host:port, got "nonsense"$/m },
  { name: 'NIMBUS_LISTEN with port 99999', env: { NIMBUS_LISTEN: '127.0.0.1:99999' }, message: /^nimbus: listen port out of range: 99999$/m },
  { name: 'NIMBUS_TOKEN_TTL=soon', env: { NIMBUS_TOKEN_TTL: 'soon' }, message: /^nimbus: tokenTtlSeconds must be a positive integer$/m },
  { name: 'NIMBUS_CONFIG naming a missing file', env: { NIMBUS_CONFIG: '/nonexistent/nimbus.json' }, message: /^nimbus: config file not found: \/nonexistent\/nimbus\.json$/m },
  { name: '--config naming a file that is not JSON', args: ['--config', 'broken.json'], file: '{"listen": ', message: /^nimbus: config file broken\.json is not valid JSON/m },
  { name: 'a config file with driver "xen"', args: ['--config', 'xen.json'], file: '{"driver": "xen"}', message: /^nimbus: driver must be fake or qemu, got "xen"$/m },
  { name: 'NIMBUS_DATABASE_URL=mysql://…', env: { NIMBUS_DATABASE_URL: 'mysql://db/nimbus' }, message: /^nimbus: databaseUrl must be sqlite:<path> or postgres:\/\/user:password@host\/database$/m },
  { name: 'a config file with qemu.shutdownTimeout -1', args: ['--config', 'qemu.json'], file: '{"driver": "qemu", "qemu": {"shutdownTimeout": -1}}', message: /^nimbus: qemu.shutdownTimeout must be an integer number of seconds >= 0$/m },
  { name: 'NIMBUS_LOG_LEVEL=loud', env: { NIMBUS_LOG_LEVEL: 'loud' }, message: /^nimbus: logLevel must be one of fatal, error, warn, info, debug, trace, silent, got "loud"$/m },
  { name: 'a config file with compute.resizeConfirmWindow "soon"', args: ['--config', 'window.json'], file: '{"compute": {"resizeConfirmWindow": "soon"}}', message: /^nimbus: compute.resizeConfirmWindow must be an integer number of seconds >= 0$/m },
  { name: 'NIMBUS_NODE_ID with a space', env: { NIMBUS_NODE_ID: 'node one' }, message: /^nimbus: nodeId must be 1 to 64 letters, digits, "\.", "_", ":" or "-"$/m },
  { name: 'NIMBUS_TASK_LEASE_SECONDS=0', env: { NIMBUS_TASK_LEASE_SECONDS: '0' }, message: /^nimbus: taskLeaseSeconds must be an integer number of seconds from 1 to 86400$/m },
  { name: 'an unknown command', args: [], env: {}, message: /^nimbus: unknown command "frobnicate"$/m, code: 2 },
];

for (const bad of BAD) {
  test(`bad configuration: ${bad.name} exits non-zero with a clear message and starts nothing`, async () => {
    const cwd = workDir(`bad-${BAD.indexOf(bad)}`);
    if (bad.file) writeFileSync(join(cwd, bad.args![1]), bad.file);
    const args = bad.code === 2 ? ['frobnicate'] : ['serve', ...(bad.args ?? [])];
    const dir = join(cwd, 'data');
    const port = await freePort();
    const { code, output } = await runToExit(args, { cwd, env: { NIMBUS_LISTEN: `127.0.0.1:${port}`, NIMBUS_DATA_DIR: dir, ...bad.env } });
    assert.equal(code, bad.code ?? 1, output);
    assert.match(output, bad.message);
    assert.doesNotMatch(output, /Nimbus is listening/);
    assert.ok(!existsSync(dir), 'no data directory is created');
  });
}

test('a listen address already in use exits non-zero and names the address', async () => {
  const blocker = createServer();
  await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', res));
  const port = (blocker.address() as { port: number }).port;
  try {
    const { code, output } = await runToExit(['serve'], { cwd: workDir('in-use'), env: { NIMBUS_LISTEN: `127.0.0.1:${port}`, NIMBUS_DATA_DIR: join(scratch, 'in-use', 'data'), NIMBUS_LOG_LEVEL: 'warn' } });
    assert.equal(code, 1);
    assert.match(output, new RegExp(`EADDRINUSE.*127\\.0\\.0\\.1:${port}`));
    assert.doesNotMatch(output, /Nimbus is listening/);
  } finally {
    blocker.close();
  }
});
