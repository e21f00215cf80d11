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

/**
 * What a test types until the guest's shell answers, and the answer. Typed while the guest
 * boots, characters can be lost: a probe with quotes that lost one left the shell waiting
 * for the closing quote (its "> " prompt) for good, and one that lost the quotes inside
 * echoed a line that passed for the answer. This one has nothing to leave open, and only
 * the shell's answer has digits after the marker ($$ is the shell's pid).
 */
export const SHELL_PROBE = 'echo SHELL-UP-$$\r';
export const SHELL_UP = /SHELL-UP-\d+/;

/**
 * Types `command` into the guest's serial shell and waits until what the guest answers
 * matches `answer`. A guest still booting has no shell reading its port yet, and what is
 * typed then is lost in part: the shell is first asked to answer a probe (again every 3 s),
 * and only then given the command. Write the answer's marker so that the echo of the typed
 * command cannot match it ("A""B").
 */
export async function guestShell(driver: Driver, host: string, id: string, command: string, answer: RegExp, timeoutMs = 240000): Promise<RegExpExecArray> {
  const until = Date.now() + timeoutMs;
  let seen = '';
  for (;;) {
    seen = '';
    const found = await new Promise<RegExpExecArray | null>((resolve) => {
      let console: { write(d: Buffer): void; close(): void } | null = null;
      let asked = false;
      const done = (m: RegExpExecArray | null) => {
        clearInterval(probe);
        clearTimeout(timer);
        console?.close();
        resolve(m);
      };
      const timer = setTimeout(() => done(null), 60000);
      const probe = setInterval(() => !asked && console?.write(Buffer.from(SHELL_PROBE)), 3000);
      try {
        console = driver.openConsole(host, id, 'serial', {
          send: (d) => {
            seen += d.toString('latin1');
            if (!asked && SHELL_UP.test(seen)) {
              asked = true;
              seen = '';
              console!.write(Buffer.from(command + '\r'));
            }
            const m = asked ? answer.exec(seen) : null;
            if (m) done(m);
          },
          hangUp: () => done(null),
        });
        console.write(Buffer.from(SHELL_PROBE));
      } catch {
        setTimeout(() => done(null), 3000); // not running yet
      }
    });
    if (found) return found;
    if (Date.now() > until) throw new Error(`the guest never answered ${answer} to ${command}; its console shows:\n${seen.slice(-2000)}`);
  }
}

/** What a tiny guest sees of itself, typed into its shell: the start of its root disk, the disk's size, its memory. */
export async function tinyGuestInside(driver: Driver, host: string, id: string): Promise<{ data: string; diskBytes: number; memoryMb: number }> {
  const m = await guestShell(driver, host, id, `echo "IN""SIDE [$(head -c 16 /dev/vda | tr -d '\\000')] $(cat /sys/block/vda/size) $(grep MemTotal /proc/meminfo | tr -s ' ' | cut -d ' ' -f 2) END"`, /INSIDE \[([^\]]*)\] (\d+) (\d+) END/);
  return { data: m[1], diskBytes: Number(m[2]) * 512, memoryMb: Math.floor(Number(m[3]) / 1024) };
}

/** Writes `data` (no spaces or quotes) at the start of a tiny guest's root disk, from inside it, and syncs it. */
export async function tinyGuestWrite(driver: Driver, host: string, id: string, data: string): Promise<void> {
  await guestShell(driver, host, id, `printf '${data}' > /dev/vda; sync; echo "WRIT""TEN ${data}"`, new RegExp(`WRITTEN ${data}`));
}
