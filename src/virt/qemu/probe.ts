import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export type Accelerator = 'kvm' | 'tcg';

export interface HostProbe {
  accel: Accelerator;
  /** Why KVM is not used, when it is not (the trial run's own words). */
  kvmFailure: string | null;
  qemuVersion: string;
  /** Nova's hypervisor_version: 7.2.22 → 7002022. */
  versionNumber: number;
}

export const QEMU = 'qemu-system-x86_64';

/** Whether QEMU is installed on this host at all (tests say so when it is not). */
export function qemuInstalled(): boolean {
  try {
    execFileSync(QEMU, ['--version'], { stdio: 'ignore' });
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A short trial run of QEMU with `-accel kvm` and no machine: /dev/kvm may exist and still
 * fail (no nested virtualisation, no permission), which only opening it tells.
 */
function tryKvm(): Promise<string | null> {
  if (!existsSync('/dev/kvm')) return Promise.resolve('/dev/kvm does not exist');
  return new Promise((resolve) => {
    const p = spawn(QEMU, ['-accel', 'kvm', '-machine', 'none', '-nodefaults', '-no-user-config', '-display', 'none', '-S', '-monitor', 'stdio'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 10000);
    p.on('error', (e) => {
      clearTimeout(timer);
      resolve(e.message);
    });
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? null : err.trim().split('\n').pop() || `exit ${code}`);
    });
    p.stdin.end('quit\n');
  });
}

export async function probeHost(): Promise<HostProbe> {
  const out = execFileSync(QEMU, ['--version'], { encoding: 'utf8' });
  const m = /version (\d+)\.(\d+)\.(\d+)/.exec(out);
  const qemuVersion = m ? `${m[1]}.${m[2]}.${m[3]}` : 'unknown';
  const versionNumber = m ? Number(m[1]) * 1000000 + Number(m[2]) * 1000 + Number(m[3]) : 0;
  const kvmFailure = await tryKvm();
  return { accel: kvmFailure === null ? 'kvm' : 'tcg', kvmFailure, qemuVersion, versionNumber };
}
