/**
 * What the client tests share: a `nimbus serve` process per test file (on a fresh
 * PostgreSQL database under NIMBUS_TEST_DATABASE_URL), Debian's `openstack` CLI pointed at
 * its clouds.yaml, and Debian's Python for scripts that use openstacksdk or libcloud.
 * Debian's clients run on Debian's /usr/bin/python3, never on a python3 earlier on PATH,
 * and see none of the caller's OS_* or PYTHON* settings.
 */
import { before, after } from 'node:test';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freshDatabase, startProcess } from '../support.js';

export const OPENSTACK = '/usr/bin/openstack';
export const PYTHON = '/usr/bin/python3';

/** The test's skip reason when the CLI is absent, else false. */
export const cliSkip: string | false = existsSync(OPENSTACK) ? false : `${OPENSTACK} is absent: install python3-openstackclient (.ci/run does)`;

/** The skip reason when Debian's Python cannot import `modules` (e.g. ['libcloud']), else false. */
export function pythonSkip(modules: string[], packages: string): string | false {
  if (!existsSync(PYTHON)) return `${PYTHON} is absent: install ${packages} (.ci/run does)`;
  const imports = spawnSync(PYTHON, ['-c', `import ${modules.join(', ')}`], { env: cleanEnv() });
  return imports.status === 0 ? false : `${PYTHON} cannot import ${modules.join(', ')}: install ${packages} (.ci/run does)`;
}

/** Our environment without any OS_* or Python setting that could leak into the clients. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OS_|PYTHON)/.test(k)));
  return { ...env, LC_ALL: 'C.UTF-8', ...extra };
}

export type NimbusProcess = Awaited<ReturnType<typeof startProcess>>;

/**
 * Starts one `nimbus serve` for the test file (before) and stops it (after), unless the
 * tests are skipped. `current()` is the running process.
 */
export function nimbusForTests(skip: string | false, env: Record<string, string> = {}): { current: () => NimbusProcess } {
  let proc: NimbusProcess | undefined;
  let dropDatabase: () => Promise<void> = async () => {};
  before(async () => {
    if (skip) return;
    const database = await freshDatabase();
    dropDatabase = database.drop;
    proc = await startProcess({ ...env, ...(database.url ? { NIMBUS_DATABASE_URL: database.url } : {}) });
  });
  after(async () => {
    await proc?.stop();
    await dropDatabase();
    if (proc) rmSync(proc.dataDir, { recursive: true, force: true });
  });
  return {
    current: () => {
      if (!proc) throw new Error('nimbus is not running');
      return proc;
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The JSON the CLI printed. With --wait it may first print "Progress: 75" (each time it sees
 * a BUILD server's progress) and "Complete" on stdout: those lines come before the JSON.
 */
export function parseJson(out: string): any {
  return JSON.parse(out.slice(Math.max(0, out.search(/^[[{]/m))));
}

/**
 * The `openstack` CLI reading the clouds.yaml in `dataDir()`, as `--os-cloud <cloud>`
 * (no --os-cloud when cloud is null); `nimbusOutput` adds what Nimbus logged to failures.
 */
export function openstackCli(dataDir: () => string, options: { cloud?: string; nimbusOutput?: () => string } = {}) {
  const defaultCloud = options.cloud ?? 'nimbus-demo';

  /** Runs the CLI; resolves with what it printed and its exit code. */
  function run(args: string[], cloud: string | null = defaultCloud): Promise<CliResult> {
    const argv = cloud ? ['--os-cloud', cloud, ...args] : args;
    const env = cleanEnv({ OS_CLIENT_CONFIG_FILE: join(dataDir(), 'clouds.yaml') });
    return new Promise((resolve, reject) => {
      execFile(OPENSTACK, argv, { env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') reject(new Error(`openstack ${argv.join(' ')} did not finish (${err.code ?? err.signal}):\n${stderr}${stdout}`));
        else resolve({ code: err ? (err.code as unknown as number) : 0, stdout, stderr });
      });
    });
  }

  /** Runs the CLI and returns stdout, or throws with what the CLI and Nimbus said. */
  async function openstack(args: string[], cloud?: string | null): Promise<string> {
    const r = await run(args, cloud);
    if (r.code !== 0) {
      const said = options.nimbusOutput ? `\n--- nimbus said:\n${options.nimbusOutput().slice(-4000)}` : '';
      throw new Error(`openstack ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}${said}`);
    }
    return r.stdout;
  }

  /** Runs the CLI with `-f json` and parses what it printed. */
  async function json(args: string[], cloud?: string | null): Promise<any> {
    const out = await openstack([...args, '-f', 'json'], cloud);
    try {
      return parseJson(out);
    } catch {
      throw new Error(`openstack ${args.join(' ')} printed no JSON:\n${out}`);
    }
  }

  return { run, openstack, json };
}

/** The CLI against a process started by nimbusForTests. */
export const cliFor = (nimbus: { current: () => NimbusProcess }, cloud?: string) =>
  openstackCli(() => nimbus.current().dataDir, { cloud, nimbusOutput: () => nimbus.current().output() });

/**
 * Runs a Python script with Debian's Python, its cloud config in OS_CLIENT_CONFIG_FILE; the
 * script hands back its answer with `result(value)` (printed as one JSON line).
 */
export function python(nimbus: { current: () => NimbusProcess }, script: string, args: unknown = {}): Promise<any> {
  const prelude = `import json, os, sys\nargs = json.loads(os.environ['SCRIPT_ARGS'])\ndef result(value):\n    print('@@RESULT ' + json.dumps(value, default=str))\n`;
  const env = cleanEnv({ OS_CLIENT_CONFIG_FILE: join(nimbus.current().dataDir, 'clouds.yaml'), SCRIPT_ARGS: JSON.stringify(args) });
  return new Promise((resolve, reject) => {
    execFile(PYTHON, ['-c', prelude + script], { env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith('@@RESULT '));
      if (err || !line) reject(new Error(`python script failed (${err?.code ?? err?.signal ?? 'no result'}):\n${stderr}${stdout}\n--- nimbus said:\n${nimbus.current().output().slice(-4000)}`));
      else resolve(JSON.parse(line.slice('@@RESULT '.length)));
    });
  });
}
