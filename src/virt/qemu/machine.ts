import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GuestDrive, GuestPort, GuestSpec } from '../driver.js';
import { QEMU, type HostProbe } from './probe.js';

/** The SMBIOS OEM string (type 11) of a machine whose host serves the metadata service. */
export const METADATA_OEM_STRING = 'io.nimbus.metadata-service';

/** What a machine's folder keeps about it, so that a restarted Nimbus can start it again as it was. */
export interface MachineRecord {
  spec: GuestSpec;
  /** The loopback port forwarded to the guest's port 22. */
  sshPort: number | null;
  configDrive: boolean;
  /** Booted from a rescue disk, its own disk second. */
  rescue: boolean;
  /**
   * The destination's machine of a live migration until it has arrived (made by
   * preLiveMigration, with the URI it listens on once it does): only such a machine is what a
   * rollback removes.
   */
  incoming?: { uri: string | null } | null;
}

/** The files of one machine, all in its own folder under the data directory. */
export class MachineFiles {
  constructor(readonly dir: string) {}
  get pidfile() {
    return join(this.dir, 'qemu.pid');
  }
  get qmp() {
    return join(this.dir, 'qmp.sock');
  }
  get serial() {
    return join(this.dir, 'serial.sock');
  }
  /** The second serial port (ttyS1): CloudSigma's server context, answered by the process owning the machine. */
  get context() {
    return join(this.dir, 'context.sock');
  }
  get vnc() {
    return join(this.dir, 'vnc.sock');
  }
  get consoleLog() {
    return join(this.dir, 'console.log');
  }
  get disk() {
    return join(this.dir, 'disk.qcow2');
  }
  get rescueDisk() {
    return join(this.dir, 'disk.rescue.qcow2');
  }
  get ephemeral() {
    return join(this.dir, 'disk.eph0');
  }
  get swap() {
    return join(this.dir, 'disk.swap');
  }
  get configDrive() {
    return join(this.dir, 'disk.config');
  }
  get guestAgent() {
    return join(this.dir, 'qga.sock');
  }
  get state() {
    return join(this.dir, 'state');
  }
  get record() {
    return join(this.dir, 'machine.json');
  }

  /** The QEMU process of this machine when it runs: the pidfile's pid, if that process is still this machine's QEMU. */
  pid(): number | null {
    let pid: number;
    try {
      pid = Number(readFileSync(this.pidfile, 'utf8').trim());
    } catch {
      return null;
    }
    if (!Number.isInteger(pid) || pid <= 0) return null;
    try {
      // A pid is reused once its process is gone: the command line must still name this folder.
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.includes(this.dir)) return null;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/\) [ZX] /.test(stat)) return null;
      return pid;
    } catch {
      return null;
    }
  }

  exists(): boolean {
    return existsSync(this.record);
  }
}

/** Unix socket paths are limited to 107 bytes; say so rather than fail obscurely. */
export function checkSocketPath(path: string): void {
  if (Buffer.byteLength(path) > 107) throw new Error(`socket path too long for a unix socket (${path}): use a shorter data directory`);
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}
function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/**
 * One NIC on QEMU's user-mode network (slirp): the port's subnet as slirp's network, its
 * gateway as slirp's host address, and DHCP handing out exactly the port's fixed IP.
 */
export function slirpNetdev(id: string, port: GuestPort, hostname: string, sshPort: number | null): string {
  const opts = [`user`, `id=${id}`, `hostname=${hostname.replace(/[^A-Za-z0-9.-]/g, '-')}`];
  const v4 = port.subnets?.find((s) => s.ip.includes('.') && Number(s.cidr.split('/')[1]) <= 29);
  if (v4) {
    const prefix = Number(v4.cidr.split('/')[1]);
    const base = ipToInt(v4.cidr.split('/')[0]);
    const last = base + 2 ** (32 - prefix) - 2;
    opts.push(`net=${v4.cidr}`, `dhcpstart=${v4.ip}`);
    if (v4.gateway) opts.push(`host=${v4.gateway}`);
    // slirp's DNS address defaults to .3, which may be a port's address: take the subnet's last one that is free.
    let dns = last;
    while (dns > base && (intToIp(dns) === v4.ip || intToIp(dns) === v4.gateway)) dns--;
    opts.push(`dns=${intToIp(dns)}`);
  }
  if (sshPort) opts.push(`hostfwd=tcp:127.0.0.1:${sshPort}-:22`);
  return opts.join(',');
}

const escapeOpt = (v: string) => v.replace(/,/g, ',,');

/**
 * The PCI slot of a drive of the block storage, from its CloudSigma channel: virtio `0:U` is
 * slot 0x10 + U (U up to 15), the top half of the bus, which the machine's own devices (given
 * the lowest free slots) do not reach. A drive's place is then the same whenever the machine
 * starts and whatever was plugged or unplugged before, as a saved state (suspend) and a live
 * migration need. Null: no fixed slot (another device kind or channel, a cdrom on IDE): such a
 * drive boots, but cannot be plugged or unplugged while the machine runs.
 */
export function drivePciSlot(d: { media: 'disk' | 'cdrom'; device?: string; devChannel?: string }): number | null {
  if (d.media !== 'disk' || (d.device ?? 'virtio') !== 'virtio') return null;
  const m = /^0:(\d{1,2})$/.exec(d.devChannel ?? '');
  if (!m || Number(m[1]) > 15) return null;
  return 0x10 + Number(m[1]);
}

export const pciAddr = (slot: number) => `0x${slot.toString(16)}`;
/** A drive's block node (QEMU limits node names to 31 characters: a uuid's hex, shortened). */
export const driveNode = (id: string) => `d${id.replace(/-/g, '').slice(0, 30)}`;
/** A drive's device id, what device_del names. */
export const driveDevice = (id: string) => `drive-${id}`;
/** The block node of a drive's qcow2 file, as -blockdev and QMP blockdev-add take it (writeback caching, as the machine's other disks). */
export function driveBlockdev(id: string, path: string): Record<string, unknown> {
  return { 'node-name': driveNode(id), driver: 'qcow2', file: { driver: 'file', filename: path }, cache: { direct: false, 'no-flush': false } };
}

/** The qemu-system-x86_64 command line of a machine. */
export function commandLine(
  files: MachineFiles,
  record: MachineRecord,
  probe: HostProbe,
  o: { tbSizeMb: number; incoming?: string; version: string; drives?: (GuestDrive & { path: string })[]; metadataService?: boolean; context?: boolean },
): string[] {
  const { spec } = record;
  const args = ['-name', `instance-${spec.id.slice(0, 8)}`, '-machine', 'pc'];
  if (probe.accel === 'kvm') args.push('-accel', 'kvm', '-cpu', 'host');
  else args.push('-accel', `tcg,tb-size=${o.tbSizeMb}`);
  args.push('-m', String(spec.memoryMb), '-smp', String(spec.vcpus), '-uuid', spec.id);
  // What Nova's libvirt driver gives: cloud-init looks for the metadata service only in an OpenStack machine.
  args.push('-smbios', `type=1,manufacturer=OpenStack Foundation,product=OpenStack Nova,version=${escapeOpt(o.version)},serial=${spec.id},uuid=${spec.id},family=Virtual Machine`);
  // An OEM string telling our tiny guest that this host answers at 169.254.169.254: without it the
  // guest does not ask, since slirp would carry the question to whatever answers there beyond the host.
  if (o.metadataService) args.push('-smbios', `type=11,value=${METADATA_OEM_STRING}`);
  args.push('-nodefaults', '-no-user-config', '-display', 'none', '-msg', 'timestamp=off');
  for (const p of [files.qmp, files.serial, files.vnc]) checkSocketPath(p);
  args.push('-qmp', `unix:${files.qmp},server=on,wait=off`);
  args.push('-chardev', `socket,id=serial0,path=${files.serial},server=on,wait=off,logfile=${files.consoleLog},logappend=on`, '-serial', 'chardev:serial0');
  if (o.context) {
    checkSocketPath(files.context);
    args.push('-chardev', `socket,id=context0,path=${files.context},server=on,wait=off`, '-serial', 'chardev:context0');
  }
  args.push('-vnc', `unix:${files.vnc}`, '-device', 'VGA');
  const own = existsSync(files.disk) ? [files.disk] : [];
  const disks = record.rescue ? [files.rescueDisk, ...own] : own;
  let boot = 1;
  disks.forEach((d, i) => args.push('-drive', `file=${d},if=none,id=disk${i},format=qcow2,cache=writeback`, '-device', `virtio-blk-pci,drive=disk${i}${i === 0 ? `,bootindex=${boot++}` : ''}`));
  // Drives of the block storage, booted in their order after any disk of the machine's own.
  const drives = o.drives ?? [];
  drives.forEach((d, i) => {
    const index = d.bootOrder !== null ? `,bootindex=${boot++}` : '';
    const slot = drivePciSlot(d);
    if (d.media === 'cdrom') args.push('-drive', `file=${d.path},if=none,id=drive${i},format=qcow2,media=cdrom,readonly=on`, '-device', `ide-cd,drive=drive${i}${index}`);
    // At the slot its channel names, as a hotplug puts it: the same layout at every start, so a saved state or a migration stream fits.
    else if (slot !== null) args.push('-blockdev', JSON.stringify(driveBlockdev(d.id, d.path)), '-device', `virtio-blk-pci,drive=${driveNode(d.id)},id=${driveDevice(d.id)},addr=${pciAddr(slot)}${index}`);
    else args.push('-drive', `file=${d.path},if=none,id=drive${i},format=qcow2,cache=writeback`, '-device', `virtio-blk-pci,drive=drive${i}${index}`);
  });
  // The flavor's ephemeral disk and swap follow the root disk, as Nova's libvirt driver orders them.
  if ((spec.ephemeralGb ?? 0) > 0) args.push('-drive', `file=${files.ephemeral},if=none,id=eph0,format=raw,cache=writeback`, '-device', 'virtio-blk-pci,drive=eph0');
  if ((spec.swapMb ?? 0) > 0) args.push('-drive', `file=${files.swap},if=none,id=swap0,format=raw,cache=writeback`, '-device', 'virtio-blk-pci,drive=swap0');
  if (record.configDrive) args.push('-drive', `file=${files.configDrive},if=none,id=config,format=raw,readonly=on`, '-device', 'virtio-blk-pci,drive=config');
  spec.ports.forEach((p, i) => args.push('-netdev', slirpNetdev(`net${i}`, p, spec.hostname, i === 0 ? record.sshPort : null), '-device', `virtio-net-pci,netdev=net${i},mac=${p.mac}`));
  if (spec.image?.guestAgent) {
    checkSocketPath(files.guestAgent);
    args.push('-chardev', `socket,id=qga0,path=${files.guestAgent},server=on,wait=off`, '-device', 'virtio-serial-pci', '-device', 'virtserialport,chardev=qga0,name=org.qemu.guest_agent.0');
  }
  // A kernel and ramdisk from the image, or from the image the first boot drive was cloned from.
  const kernelImage = spec.image ?? drives.find((d) => d.bootOrder !== null)?.image ?? null;
  if (kernelImage?.kernelPath) {
    args.push('-kernel', kernelImage.kernelPath);
    if (kernelImage.ramdiskPath) args.push('-initrd', kernelImage.ramdiskPath);
    args.push('-append', kernelImage.commandLine ?? 'console=ttyS0');
  }
  if (o.incoming) args.push('-incoming', o.incoming);
  args.push('-daemonize', '-pidfile', files.pidfile);
  return args;
}

/** Runs QEMU; it daemonizes (its own session, so it outlives Nimbus) once the machine is set up. */
export function startQemu(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(QEMU, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let err = '';
    p.stderr!.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${QEMU} failed (exit ${code}): ${err.trim()}`))));
  });
}
