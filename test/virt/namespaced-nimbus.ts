/**
 * `nimbus serve` (the built CLI, on its embedded SQLite) in a network namespace of its own,
 * joined to the test by a veth pair on a /30 of 10.232.0.0/16 that no address here is in:
 * what it takes (169.254.169.254 on its lo, port 80, for the metadata service) is that
 * namespace's alone, so this machine's own and other tests' processes are never touched.
 * Needs root and iproute2; everything it made goes at stop, or when the test process exits.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_PASSWORD, DEMO_PASSWORD } from '../support.js';
import { killQemusUnder } from './qemu-support.js';

const ROOT = new URL('../../..', import.meta.url).pathname;

/** Why a namespaced Nimbus cannot run here, or false. */
export function namespaceMissing(): string | false {
  if (process.getuid?.() !== 0) return 'the metadata service needs root (a network namespace, an address on its lo, port 80); CI runs it as root';
  if (spawnSync('ip', ['netns', 'list']).status !== 0) return 'the metadata service needs iproute2 (`ip netns`)';
  return false;
}

export function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** A /30 in 10.232.0.0/16 that no address of this host is in yet. */
function freeSubnet(): string {
  const used = spawnSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' }).stdout ?? '';
  for (let tries = 0; tries < 200; tries++) {
    const prefix = `10.232.${1 + Math.floor(Math.random() * 250)}.${4 * Math.floor(Math.random() * 60)}`;
    if (!used.includes(prefix.split('.').slice(0, 3).join('.') + '.')) return prefix;
  }
  throw new Error('no free /30 in 10.232.0.0/16');
}

export interface NamespacedNimbus {
  ns: string;
  /** The API, at the namespace's end of the veth pair. */
  url: string;
  dataDir: string;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `nimbus serve --config <config>` in a new namespace named after `name`, resolving once it listens. */
export async function startNamespacedNimbus(name: string, config: object): Promise<NamespacedNimbus> {
  const tag = randomBytes(3).toString('hex');
  const ns = `nimbus-${name}-${tag}`;
  const hostLink = `nb${name.slice(0, 4)}${tag}`;
  const dataDir = mkdtempSync(join(tmpdir(), `nimbus-${name}-`));
  let output = '';
  let child: ReturnType<typeof spawn> | undefined;
  const teardown = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    killQemusUnder(dataDir);
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    spawnSync('ip', ['link', 'del', hostLink], { stdio: 'ignore' });
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('exit', teardown);
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10000)]);
    }
    teardown();
    process.removeListener('exit', teardown);
  };
  try {
    const [a, b, c, d] = freeSubnet().split('.').map(Number);
    const nodeAddress = `${a}.${b}.${c}.${d + 2}`;
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('link', 'add', hostLink, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('addr', 'add', `${a}.${b}.${c}.${d + 1}/30`, 'dev', hostLink);
    ip('link', 'set', hostLink, 'up');
    ip('-n', ns, 'addr', 'add', `${nodeAddress}/30`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    const configFile = join(dataDir, 'nimbus.json');
    writeFileSync(configFile, JSON.stringify(config));
    const env: NodeJS.ProcessEnv = { ...process.env, NIMBUS_LISTEN: `${nodeAddress}:8774`, NIMBUS_DATA_DIR: join(dataDir, 'data'), NIMBUS_ADMIN_PASSWORD: ADMIN_PASSWORD, NIMBUS_DEMO_PASSWORD: DEMO_PASSWORD, NIMBUS_LOG_LEVEL: 'info' };
    delete env.NIMBUS_DATABASE_URL;
    child = spawn('ip', ['netns', 'exec', ns, process.execPath, join(ROOT, 'dist/src/cli.js'), 'serve', '--config', configFile], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (x) => (output += x));
    child.stderr!.on('data', (x) => (output += x));
    for (let i = 0; !/Nimbus is listening/.test(output); i++) {
      if (child.exitCode !== null || i > 1200) throw new Error(`nimbus serve did not start:\n${output}`);
      await sleep(100);
    }
    return { ns, url: `http://${nodeAddress}:8774`, dataDir, output: () => output, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
