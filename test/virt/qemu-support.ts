import { mkdtempSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { qemuInstalled, probeHost, type HostProbe } from '../../src/virt/qemu/probe.js';
import { buildTinyGuest, findKernel, BUSYBOX, type TinyGuest } from '../../src/virt/qemu/tiny-guest.js';
import { existsSync } from 'node:fs';
import type { Driver } from '../../src/virt/driver.js';

/**
 * Why the QEMU tests cannot run here, or false. On a developer's machine without QEMU they
 * skip and say so; under CI (CI=true, or NIMBUS_TEST_QEMU=required as .ci/run sets), where
 * .ci/run installs it, they never skip.
 */
export function qemuMissing(): string | false {
  const missing = !qemuInstalled() ? 'qemu-system-x86 and qemu-utils are not installed' : !findKernel() ? 'no Debian kernel in /boot (linux-image-cloud-amd64)' : !existsSync(BUSYBOX) ? 'busybox-static is not installed' : false;
  if (missing && (process.env.CI === 'true' || process.env.NIMBUS_TEST_QEMU === 'required')) throw new Error(`QEMU tests must run under CI, but ${missing}`);
  return missing ? `${missing}: the QEMU tests are skipped (apt-get install qemu-system-x86 qemu-utils xorriso busybox-static linux-image-cloud-amd64)` : false;
}

let probed: Promise<HostProbe> | undefined;
export const hostProbe = () => (probed ??= probeHost());

/** The tiny guest, built once per test process into a temporary folder. */
let guest: { dir: string; tiny: TinyGuest } | undefined;
export function tinyGuest(): TinyGuest {
  if (!guest) {
    const dir = mkdtempSync(join(tmpdir(), 'nimbus-guest-'));
    guest = { dir, tiny: buildTinyGuest(dir) };
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return guest.tiny;
}

/** Waits until `text` appears in the console output after `since` characters. */
export async function waitForConsole(read: () => Promise<string>, text: string | RegExp, since = 0, timeoutMs = 180000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const out = (await read().catch(() => '')).slice(since);
    if (typeof text === 'string' ? out.includes(text) : text.test(out)) return out;
    if (Date.now() > until) throw new Error(`console never showed ${text}; it shows:\n${out.slice(-2000)}`);
    await sleep(250);
  }
}

/** The QEMU processes whose command line names `dir` (a data directory or a machine's folder). */
export function qemuProcessesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.startsWith('qemu-system') && cmd.includes(dir)) pids.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** Ends every QEMU a test started under `dir`: none may outlive the test. */
export function killQemusUnder(dir: string): void {
  for (const pid of qemuProcessesUnder(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export type { Driver };
