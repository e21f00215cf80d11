import { execFile } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { truncateSync, statSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statfsSync, writeFileSync, createReadStream, unlinkSync, readdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { DriverError, PowerState, PasswordRefused, ResizeRefused, type LiveMigrationTarget, type DriveSource, type DriveSpec, type StorageType, type ConsoleClient, type ConsoleKind, type Driver, type GuestConsole, type GuestSpec, type GuestDrive, type HostInfo } from '../driver.js';
import { QmpClient } from './qmp.js';
import { MachineFiles, commandLine, startQemu, drivePciSlot, driveBlockdev, driveDevice, driveNode, pciAddr, type MachineRecord } from './machine.js';
import { writeConfigDrive } from './config-drive.js';
import type { HostProbe } from './probe.js';
import { QemuDrives } from './drives.js';
import { ImageCache, virtualSize, type Base } from './image-cache.js';
import { ContextPorts, type GuestContexts } from './context-port.js';
import { packFiles, unpackFiles } from './disk-bundle.js';

/** The files a migration moves: the root disk, and the ephemeral disk made compact for the move. */
const DISK = 'disk.qcow2';
const EPHEMERAL_QCOW2 = 'disk.eph0.qcow2';

const run = promisify(execFile);
/** How long a guest has to let go of a drive being unplugged (Nova's libvirt driver waits 20 s a try, 8 tries). */
const UNPLUG_SECONDS = 60;
/** mkfs and mkswap live in /usr/sbin, which a user's PATH may lack. */
const SBIN_PATH = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` };

export interface QemuOptions {
  /** Where machines keep their files: `<dataDir>/machines/<server id>/`. */
  dataDir: string;
  /** This compute host's name. */
  host: string;
  zone: string;
  /** Nova's shutdown_timeout: how long a clean shutdown may take before the power cord. */
  shutdownTimeoutSeconds: number;
  /** QEMU's TCG translation cache per machine (MiB); its default reserves about 1 GiB. */
  tbSizeMb: number;
  /** Every guest gets a config drive (Nova's force_config_drive). */
  forceConfigDrive: boolean;
  /** The SMBIOS version string (Nova gives its own version). */
  version: string;
  /** The file holding an image's data and its disk format, for drives cloned from images. */
  imageFile: (id: string) => Promise<{ path: string; diskFormat: string } | null>;
  /** The address other hosts reach this one at: where an incoming live migration listens. */
  hostIp: string;
  /** Nova's live_migration_completion_timeout: seconds per GiB of memory and disk before a live migration is cancelled (0: never). */
  liveMigrationCompletionTimeout: number;
  /** The compute-API server a drive stands for (its root disk or boot volume: the machine boots its own disk instead), if any. */
  serverOfDrive?: (driveId: string) => Promise<string | null>;
  /** The drives attached to a server now (block storage, a CloudSigma server's), asked each time its machine starts. */
  drivesOf?: (serverId: string) => Promise<GuestDrive[]>;
}

export const QEMU_DEFAULTS = { zone: 'nova', shutdownTimeoutSeconds: 60, tbSizeMb: 32, forceConfigDrive: false, hostIp: '127.0.0.1', liveMigrationCompletionTimeout: 800 };

/** What query-migrate answers, as far as it is read here. */
interface MigrationInfo {
  status?: string;
  'error-desc'?: string;
  ram?: { total: number; transferred: number };
  disk?: { total: number; transferred: number };
  'socket-address'?: { host: string; port: string }[];
}

/** The statuses of a migration under way (QEMU's MigrationStatus). */
const MIGRATING = new Set(['setup', 'active', 'pre-switchover', 'device', 'wait-unplug', 'postcopy-active', 'postcopy-paused', 'postcopy-recover', 'cancelling']);

/** QMP's run states as the core's power states (libvirt's mapping of the same states). */
function powerOfStatus(status: string): PowerState {
  switch (status) {
    case 'running':
      return PowerState.RUNNING;
    case 'shutdown':
      return PowerState.SHUTDOWN;
    case 'suspended':
      return PowerState.SUSPENDED;
    case 'internal-error':
    case 'io-error':
    case 'guest-panicked':
      return PowerState.CRASHED;
    default:
      return PowerState.PAUSED; // paused, prelaunch, inmigrate, postmigrate, save-vm …
  }
}

/** An IPv4 end as /proc/net/tcp prints it: the address's 32 bits in this (little-endian) host's order, the port, both in hex. */
function procNetEnd(address: string, port: number): string {
  const bytes = address.split('.').map(Number).reverse();
  return `${Buffer.from(bytes).toString('hex').toUpperCase()}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * The inode of the socket whose own end is `peer` and whose other end is `local`: the
 * client's side of a connection accepted here (this network namespace's /proc/net/tcp).
 */
async function socketInode(peer: { address: string; port: number }, local: { address: string; port: number }): Promise<string | null> {
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(peer.address) || !/^\d+\.\d+\.\d+\.\d+$/.test(local.address)) return null;
  const own = procNetEnd(peer.address, peer.port);
  const other = procNetEnd(local.address, local.port);
  const table = await readFile('/proc/net/tcp', 'latin1').catch(() => '');
  for (const line of table.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] === own && f[2] === other) return f[9] && f[9] !== '0' ? f[9] : null;
  }
  return null;
}

function sparseFile(path: string, size: number): void {
  writeFileSync(path, '', { mode: 0o600 });
  truncateSync(path, size);
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * Every server a real QEMU machine on this host: one qemu-system-x86_64 process each,
 * daemonized so that it outlives Nimbus (as libvirt's guests outlive nova-compute), driven
 * over QMP, its files in its own folder. Nothing is kept only in memory: the folder's
 * machine.json and pidfile are how a restarted Nimbus finds each machine again.
 */
export class QemuDriver implements Driver {
  readonly name = 'qemu';
  /** Whether this host's metadata service answers at 169.254.169.254: machines started meanwhile are told so (SMBIOS OEM string). */
  metadataService = false;
  private readonly qmps = new Map<string, Promise<QmpClient>>();
  private readonly info: HostInfo;
  private readonly drives: QemuDrives;
  private readonly images: ImageCache;
  /** The second serial ports this process answers (CloudSigma's server context); none until serveContexts. */
  private contextPorts: ContextPorts | null = null;

  constructor(
    readonly probe: HostProbe,
    private readonly options: QemuOptions,
  ) {
    mkdirSync(this.machinesDir, { recursive: true, mode: 0o700 });
    this.images = new ImageCache(join(this.machinesDir, '_base'));
    // A clone or snapshot of a drive that stands for a machine's disk reads that disk, as it is now.
    const liveDisk = async (driveId: string) => {
      const server = await options.serverOfDrive?.(driveId);
      const disk = server ? join(this.machinesDir, server, DISK) : null;
      return disk && existsSync(disk) ? disk : null;
    };
    this.drives = new QemuDrives(options.dataDir, options.host, options.imageFile, this.images, liveDisk);
    const fs = statfsSync(options.dataDir);
    this.info = {
      name: options.host,
      availabilityZone: options.zone,
      vcpus: cpus().length,
      memoryMb: Math.floor(totalmem() / 1048576),
      localGb: Math.floor((fs.blocks * fs.bsize) / 2 ** 30),
      hostIp: options.hostIp,
      hypervisorVersion: probe.versionNumber,
    };
  }

  get machinesDir(): string {
    return join(this.options.dataDir, 'machines');
  }

  hosts(): HostInfo[] {
    return [this.info];
  }

  /** Every machine's folder, and a folder a crash left half made (`<id>.part`): destroy removes both. */
  async guestIds(host: string): Promise<string[]> {
    if (host !== this.info.name) return [];
    const ids = readdirSync(this.machinesDir).flatMap((f) => /^([0-9a-f-]{36})(\.part)?$/.exec(f)?.[1] ?? []);
    return [...new Set(ids)];
  }

  async keptIds(host: string): Promise<string[]> {
    if (host !== this.info.name) return [];
    return readdirSync(this.machinesDir).flatMap((f) => /^([0-9a-f-]{36})_resize$/.exec(f)?.[1] ?? []);
  }

  /** The hypervisor's own words for the banner and the logs. */
  describe(): string {
    const p = this.probe;
    return p.accel === 'kvm' ? `QEMU ${p.qemuVersion} with KVM` : `QEMU ${p.qemuVersion} with TCG (software emulation${p.kvmFailure ? `; KVM unusable: ${p.kvmFailure}` : ''})`;
  }

  private files(host: string, id: string): MachineFiles {
    if (host !== this.info.name) throw new DriverError(`Compute host ${host} could not be found.`);
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new DriverError(`Instance ${id} could not be found.`);
    return new MachineFiles(join(this.machinesDir, id));
  }

  private record(files: MachineFiles): MachineRecord {
    if (!files.exists()) throw new DriverError(`Instance ${files.dir.split('/').pop()} could not be found on ${this.info.name}.`);
    return JSON.parse(readFileSync(files.record, 'utf8')) as MachineRecord;
  }

  private saveRecord(files: MachineFiles, record: MachineRecord): void {
    writeFileSync(files.record + '.tmp', JSON.stringify(record), { mode: 0o600 });
    renameSync(files.record + '.tmp', files.record);
  }

  /** The machine's QMP connection, opened once and kept while the process lives. */
  private qmp(files: MachineFiles): Promise<QmpClient> {
    let c = this.qmps.get(files.dir);
    if (!c) {
      c = QmpClient.connect(files.qmp).then(
        (client) => {
          client.once('close', () => this.qmps.delete(files.dir));
          return client;
        },
        (err) => {
          this.qmps.delete(files.dir);
          throw err;
        },
      );
      this.qmps.set(files.dir, c);
    }
    return c;
  }

  private async execute<T = unknown>(files: MachineFiles, command: string, args?: Record<string, unknown>): Promise<T> {
    return (await this.qmp(files)).execute<T>(command, args);
  }

  private async status(files: MachineFiles): Promise<string | null> {
    if (files.pid() === null) return null;
    try {
      return (await this.execute<{ status: string }>(files, 'query-status')).status;
    } catch (err) {
      if (files.pid() === null) return null; // it ended meanwhile
      throw err;
    }
  }

  /** Waits until the machine's process has ended; false when `ms` passed first. */
  private async waitForExit(files: MachineFiles, ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (files.pid() !== null) {
      if (Date.now() >= until) return false;
      await sleep(100);
    }
    return true;
  }

  /**
   * From now on this process answers the context ports of the machines it starts, and of those
   * already running (machines outlive Nimbus: a restarted one connects to their sockets again).
   */
  serveContexts(contexts: GuestContexts, onError?: (err: unknown) => void): void {
    this.contextPorts?.close();
    this.contextPorts = new ContextPorts(contexts, onError);
    for (const id of readdirSync(this.machinesDir).filter((f) => /^[0-9a-f-]{36}$/.test(f))) {
      const files = new MachineFiles(join(this.machinesDir, id));
      if (existsSync(files.context) && files.pid() !== null) this.attachContext(id, files);
    }
  }

  private attachContext(id: string, files: MachineFiles): void {
    this.contextPorts?.attach(id, files.context, () => files.pid() !== null);
  }

  /** Whether this process answers the machine's context port now (for tests and diagnostics). */
  answersContext(id: string): boolean {
    return this.contextPorts?.isAttached(id) ?? false;
  }

  /** Pulls the power cord: the process ends now. */
  private async kill(files: MachineFiles): Promise<void> {
    const pid = files.pid();
    if (pid === null) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    if (!(await this.waitForExit(files, 10000))) throw new DriverError(`QEMU process ${pid} did not end`);
    this.contextPorts?.detach(files.dir.split('/').pop()!);
    this.qmps.get(files.dir)?.then((c) => c.close()).catch(() => {});
    this.qmps.delete(files.dir);
  }

  private async start(files: MachineFiles, record: MachineRecord, incoming?: string): Promise<void> {
    if (files.pid() !== null) return;
    rmSync(files.pidfile, { force: true });
    const drives = (await this.options.drivesOf?.(record.spec.id)) ?? [];
    for (const d of drives) if (!existsSync(this.drives.drivePath(d.id))) throw new DriverError(`Drive ${d.id} has no data on ${this.options.host}.`);
    // The context port is decided at each start: a server's context may be turned off while it is stopped.
    const id = record.spec.id;
    const context = (await this.contextPorts?.contexts.has(id)) ?? false;
    this.contextPorts?.detach(id);
    rmSync(files.context, { force: true });
    const o = { tbSizeMb: this.options.tbSizeMb, version: this.options.version, metadataService: this.metadataService, incoming, context, drives: drives.map((d) => ({ ...d, path: this.drives.drivePath(d.id) })) };
    await startQemu(commandLine(files, record, this.probe, o), files.dir);
    if (context) this.attachContext(id, files);
  }

  /** The host's copy of the guest's image, which every overlay made from the image shares. */
  private async baseOf(spec: GuestSpec): Promise<Base | null> {
    return spec.image ? this.images.base(spec.image.id, spec.image) : null;
  }

  /** A qcow2 overlay on the cached image, grown to the flavor's root disk (or a blank disk when there is no image). */
  private async makeDisk(path: string, spec: GuestSpec): Promise<void> {
    const base = await this.baseOf(spec);
    const want = spec.diskGb > 0 ? spec.diskGb * 2 ** 30 : 0;
    if (base) {
      if (want > 0 && want < base.size) throw new DriverError(`Flavor's disk is too small for requested image. Flavor disk is ${want} bytes, image is ${base.size} bytes.`);
      await ImageCache.overlay(path, base, want);
    } else {
      await run('qemu-img', ['create', '-q', '-f', 'qcow2', path, String(want || 2 ** 30)]);
    }
  }

  async spawn(host: string, spec: GuestSpec): Promise<void> {
    const files = this.files(host, spec.id);
    if (!files.exists()) {
      await this.build(files, spec, async (staged) => {
        // A server of drives (no image) boots them and has no disk of its own.
        if (spec.image || !(await this.options.drivesOf?.(spec.id))?.length) await this.makeDisk(staged.disk, spec);
      });
    }
    await this.start(files, this.record(files));
  }

  /**
   * Makes a machine's folder: its root disk by `root`, then the flavor's ephemeral disk and
   * swap, the config drive and the record. Built aside and renamed into place, so that a
   * crash halfway leaves no half machine. An incoming machine (the destination of a live
   * migration) gets blank ephemeral and swap disks of the same sizes: their contents come
   * with the migration.
   */
  private async build(files: MachineFiles, spec: GuestSpec, root: (staged: MachineFiles) => Promise<void>, sshPort?: number | null, incoming = false): Promise<void> {
    const part = files.dir + '.part';
    rmSync(part, { recursive: true, force: true });
    mkdirSync(part, { recursive: true, mode: 0o700 });
    const staged = new MachineFiles(part);
    const configDrive = !!spec.configDrive || this.options.forceConfigDrive;
    await root(staged);
    // Nova's ephemeral disk is ext4 labelled ephemeral0, its swap made by mkswap: sparse files here.
    // One moved with the guest is kept, grown to the flavor's (its file system as it was, as Nova grows it).
    const ephemeral = (spec.ephemeralGb ?? 0) * 2 ** 30;
    if (existsSync(staged.ephemeral) && ephemeral === 0) rmSync(staged.ephemeral);
    else if (existsSync(staged.ephemeral)) {
      if (statSync(staged.ephemeral).size < ephemeral) truncateSync(staged.ephemeral, ephemeral);
    } else if (ephemeral > 0) {
      sparseFile(staged.ephemeral, ephemeral);
      if (!incoming) await run('mkfs.ext4', ['-q', '-F', '-L', 'ephemeral0', staged.ephemeral], { env: SBIN_PATH });
    }
    if ((spec.swapMb ?? 0) > 0) {
      sparseFile(staged.swap, spec.swapMb! * 2 ** 20);
      if (!incoming) await run('mkswap', [staged.swap], { env: SBIN_PATH });
    }
    if (configDrive) await writeConfigDrive(spec, staged.configDrive);
    // The admin password reaches the guest through the config drive only: never stored.
    const record: MachineRecord = { spec: { ...spec, adminPassword: null }, sshPort: sshPort ?? (spec.ports.length ? await freeLoopbackPort() : null), configDrive, rescue: false, ...(incoming ? { incoming: { uri: null } } : {}) };
    this.saveRecord(staged, record);
    renameSync(part, files.dir);
  }

  async destroy(host: string, id: string): Promise<void> {
    const files = this.files(host, id);
    await this.kill(files);
    this.contextPorts?.detach(id);
    rmSync(files.dir, { recursive: true, force: true });
    rmSync(files.dir + '.part', { recursive: true, force: true });
  }

  async powerOff(host: string, id: string, timeoutSeconds = this.options.shutdownTimeoutSeconds): Promise<void> {
    const files = this.files(host, id);
    this.record(files);
    const status = await this.status(files);
    if (status === null) return;
    // A paused guest cannot hear ACPI; Nova's clean shutdown gives it the timeout, then the cord.
    if (timeoutSeconds > 0 && status === 'running') {
      await this.execute(files, 'system_powerdown').catch(() => {});
      if (await this.waitForExit(files, timeoutSeconds * 1000)) return;
    }
    await this.kill(files);
  }

  /** Presses the power button once: the guest decides (CloudSigma's shutdown presses it each second). */
  async acpiShutdown(host: string, id: string): Promise<void> {
    const files = this.files(host, id);
    if ((await this.status(files)) === 'running') await this.execute(files, 'system_powerdown').catch(() => {});
  }

  // ── drives: files under <dataDir>/drives (QemuDrives) ──
  storageTypes(): StorageType[] {
    return this.drives.storageTypes();
  }
  storageUp(location: string): boolean {
    return this.drives.storageUp(location);
  }
  createDrive(spec: DriveSpec, progress?: (percent: number) => void) {
    return this.drives.createDrive(spec, progress);
  }
  cloneDrive(spec: DriveSpec, source: DriveSource, progress?: (percent: number) => void) {
    return this.drives.cloneDrive(spec, source, progress);
  }
  resizeDrive(id: string, size: number, progress?: (percent: number) => void) {
    return this.drives.resizeDrive(id, size, progress);
  }
  deleteDrive(id: string) {
    return this.drives.deleteDrive(id);
  }
  snapshotDrive(driveId: string, snapshotId: string) {
    return this.drives.snapshotDrive(driveId, snapshotId);
  }
  deleteSnapshot(snapshotId: string) {
    return this.drives.deleteSnapshot(snapshotId);
  }
  /**
   * Plugs a drive into the running machine (QMP blockdev-add of its qcow2 file, then
   * device_add of a virtio-blk device at the PCI slot its channel names: drivePciSlot). The
   * machine's definition is the core's: drivesOf answers the drive from now on (the core
   * records the attachment before it asks), so every later start, resume or migration of the
   * machine has it at the same slot. A stopped machine has nothing to plug (its next start
   * does it); a suspended one is refused, its saved state being of the machine without it.
   */
  async attachDrive(host: string, serverId: string, driveId: string, device: { device: string; devChannel: string }): Promise<void> {
    const files = this.files(host, serverId);
    this.record(files);
    const path = this.drives.drivePath(driveId);
    if (!existsSync(path)) throw new DriverError(`Drive ${driveId} has no data on ${this.options.host}.`);
    const media = (await this.options.drivesOf?.(serverId))?.find((d) => d.id === driveId)?.media ?? 'disk';
    const slot = drivePciSlot({ media, ...device });
    if (slot === null) throw new DriverError(`Drive ${driveId} (${media} on ${device.device} ${device.devChannel}) cannot be plugged into a running machine: only disks on virtio channels 0:0 to 0:15 can.`);
    const status = await this.pluggable(files, serverId);
    if (status === null) return;
    if (await this.plugged(files, driveId)) return; // done before a crash
    const nodes = await this.execute<{ 'node-name': string }[]>(files, 'query-named-block-nodes', { flat: true });
    if (!nodes.some((n) => n['node-name'] === driveNode(driveId))) await this.execute(files, 'blockdev-add', driveBlockdev(driveId, path));
    try {
      await this.execute(files, 'device_add', { driver: 'virtio-blk-pci', id: driveDevice(driveId), drive: driveNode(driveId), addr: pciAddr(slot) });
    } catch (err) {
      await this.execute(files, 'blockdev-del', { 'node-name': driveNode(driveId) }).catch(() => {});
      throw new DriverError(`Drive ${driveId} cannot be plugged into instance ${serverId}: ${(err as Error).message}`);
    }
  }

  /**
   * Unplugs a drive from the running machine: device_del asks the guest to let it go (an ACPI
   * eject), and once QEMU says DEVICE_DELETED its block node goes (blockdev-del). A guest that
   * does not let go in `UNPLUG_SECONDS` keeps the drive, and the call fails. A stopped machine,
   * or one that no longer has it, has nothing to unplug.
   */
  async detachDrive(host: string, serverId: string, driveId: string): Promise<void> {
    const files = this.files(host, serverId);
    if (!files.exists()) return;
    const status = await this.pluggable(files, serverId);
    if (status === null) return;
    // A drive the machine started with at no fixed slot is there without a device id: it stays.
    const recorded = (await this.options.drivesOf?.(serverId))?.find((d) => d.id === driveId);
    if (recorded && drivePciSlot(recorded) === null) throw new DriverError(`Drive ${driveId} (${recorded.media} on ${recorded.device ?? 'virtio'} ${recorded.devChannel ?? ''}) cannot be unplugged from a running machine: only disks on virtio channels 0:0 to 0:15 can.`);
    const client = await this.qmp(files);
    if (await this.plugged(files, driveId)) {
      const id = driveDevice(driveId);
      if (status !== 'running') throw new DriverError(`Drive ${driveId} cannot be unplugged from instance ${serverId} while it is ${status}: the guest must let it go.`);
      let deleted!: () => void;
      const gone = new Promise<void>((resolve) => (deleted = resolve));
      const listener = (event: string, data: { device?: string }) => event === 'DEVICE_DELETED' && data.device === id && deleted();
      client.on('event', listener);
      try {
        await client.execute('device_del', { id }).catch((err: Error) => {
          if (!/not found/i.test(err.message)) throw err;
        });
        const until = Date.now() + UNPLUG_SECONDS * 1000;
        // The event, or the device's absence (the event may have come before a reconnection).
        while (!(await Promise.race([gone.then(() => true), sleep(1000).then(() => false)])) && (await this.plugged(files, driveId))) {
          if (Date.now() > until) throw new DriverError(`Drive ${driveId} was not released by the guest of instance ${serverId} within ${UNPLUG_SECONDS} s.`);
        }
      } finally {
        client.off('event', listener);
      }
    }
    const nodes = await this.execute<{ 'node-name': string }[]>(files, 'query-named-block-nodes', { flat: true });
    if (nodes.some((n) => n['node-name'] === driveNode(driveId))) await this.execute(files, 'blockdev-del', { 'node-name': driveNode(driveId) });
  }

  /** The run state of a machine that a drive can be plugged into or out of, null when it is not running; a suspended one is refused. */
  private async pluggable(files: MachineFiles, serverId: string): Promise<string | null> {
    const status = await this.status(files);
    if (status === null && existsSync(files.state)) throw new DriverError(`Instance ${serverId} is suspended: its saved state is of the machine as it was, drives cannot change until it resumes.`);
    if (status !== null && status !== 'running' && status !== 'paused') throw new DriverError(`Instance ${serverId} is ${status}: drives cannot change now.`);
    return status;
  }

  /** Whether the machine has the drive's device now. */
  private async plugged(files: MachineFiles, driveId: string): Promise<boolean> {
    const children = await this.execute<{ name: string }[]>(files, 'qom-list', { path: '/machine/peripheral' });
    return children.some((c) => c.name === driveDevice(driveId));
  }

  async powerOn(host: string, id: string): Promise<void> {
    const files = this.files(host, id);
    const record = this.record(files);
    const status = await this.status(files);
    if (status === null) {
      rmSync(files.state, { force: true }); // a power-on discards a saved state, as libvirt's managed save is discarded
      await this.start(files, record);
    } else if (status !== 'running') await this.execute(files, 'cont');
  }

  async reboot(host: string, id: string, hard: boolean): Promise<void> {
    const files = this.files(host, id);
    const record = this.record(files);
    const status = await this.status(files);
    if (status === null) return this.start(files, record);
    if (!hard && status === 'running') {
      // Soft: ACPI power-off and a fresh start; the hard way when the guest does not stop in time.
      await this.execute(files, 'system_powerdown').catch(() => {});
      if (await this.waitForExit(files, this.options.shutdownTimeoutSeconds * 1000)) return this.start(files, record);
    }
    await this.execute(files, 'system_reset');
    if ((await this.status(files)) !== 'running') await this.execute(files, 'cont');
  }

  async pause(host: string, id: string): Promise<void> {
    const files = this.files(host, id);
    this.record(files);
    if ((await this.status(files)) === null) throw new DriverError(`Instance ${id} is not running.`);
    await this.execute(files, 'stop');
  }

  async unpause(host: string, id: string): Promise<void> {
    const files = this.files(host, id);
    this.record(files);
    if ((await this.status(files)) === null) throw new DriverError(`Instance ${id} is not running.`);
    await this.execute(files, 'cont');
  }

  /** The machine's state (memory, devices) saved to a file and the process ended, as libvirt's managed save. */
  async suspend(host: string, id: string): Promise<void> {
    const files = this.files(host, id);
    this.record(files);
    if ((await this.status(files)) === null) {
      if (existsSync(files.state)) return; // done before a crash
      throw new DriverError(`Instance ${id} is not running.`);
    }
    const part = files.state + '.part';
    await this.execute(files, 'stop');
    await this.execute(files, 'migrate', { uri: `exec:cat > '${part}'` });
    for (;;) {
      const m = await this.execute<{ status?: string; 'error-desc'?: string }>(files, 'query-migrate');
      if (m.status === 'completed') break;
      if (m.status === 'failed' || m.status === 'cancelled') throw new DriverError(`Saving the machine's state failed: ${m['error-desc'] ?? m.status}`);
      await sleep(100);
    }
    renameSync(part, files.state);
    await this.kill(files);
  }

  async resume(host: string, id: string): Promise<void> {
    const files = this.files(host, id);
    const record = this.record(files);
    let status = await this.status(files);
    if (status === null) {
      if (!existsSync(files.state)) return this.start(files, record);
      await this.start(files, record, `exec:cat '${files.state}'`);
      while ((status = await this.status(files)) === 'inmigrate') await sleep(100);
      unlinkSync(files.state);
    }
    if (status !== 'running') await this.execute(files, 'cont');
  }

  /** Boots a fresh disk of the guest's image, with its own disk attached second. */
  async rescue(host: string, id: string): Promise<void> {
    const files = this.files(host, id);
    const record = this.record(files);
    if (record.rescue && files.pid() !== null) return;
    await this.kill(files);
    rmSync(files.rescueDisk, { force: true });
    await this.makeDisk(files.rescueDisk, { ...record.spec, diskGb: 0 });
    this.saveRecord(files, { ...record, rescue: true });
    await this.start(files, { ...record, rescue: true });
  }

  async unrescue(host: string, id: string): Promise<void> {
    const files = this.files(host, id);
    const record = this.record(files);
    await this.kill(files);
    rmSync(files.rescueDisk, { force: true });
    this.saveRecord(files, { ...record, rescue: false });
    await this.start(files, { ...record, rescue: false });
  }

  /**
   * The disk as one standalone image (the overlay chain flattened by qemu-img convert) in the
   * disk format of the image it booted from, which the snapshot image carries; the guest is
   * paused meanwhile so that the copy is consistent.
   */
  async snapshot(host: string, id: string): Promise<AsyncIterable<Buffer>> {
    const files = this.files(host, id);
    const format = this.record(files).spec.image?.diskFormat === 'qcow2' ? 'qcow2' : 'raw';
    const out = join(files.dir, 'snapshot.img');
    const running = (await this.status(files)) === 'running';
    if (running) await this.execute(files, 'stop');
    try {
      await run('qemu-img', ['convert', '-U', '-O', format, files.disk, out]);
    } finally {
      if (running) await this.execute(files, 'cont');
    }
    const stream = createReadStream(out);
    stream.once('close', () => rmSync(out, { force: true }));
    return stream;
  }

  /** Where a resize keeps the machine's folder on its source host until it is confirmed (Nova's `<instance>_resize`). */
  private kept(files: MachineFiles): MachineFiles {
    return new MachineFiles(files.dir + '_resize');
  }

  async migrateDiskAndPowerOff(host: string, id: string, target: GuestSpec): Promise<void> {
    const files = this.files(host, id);
    const kept = this.kept(files);
    if (!files.exists() && kept.exists()) return; // done before a crash
    const { spec } = this.record(files);
    // As libvirt refuses it, before anything changes: a disk cannot shrink.
    const size = existsSync(files.disk) ? await virtualSize(files.disk, 'qcow2') : 0;
    if (target.diskGb > 0 && target.diskGb * 2 ** 30 < size) throw new ResizeRefused('Resize error: Unable to resize disk down.');
    if ((target.ephemeralGb ?? 0) < (spec.ephemeralGb ?? 0)) throw new ResizeRefused('Resize error: Unable to resize disk down.');
    await this.powerOff(host, id);
    rmSync(files.state, { force: true });
    // A folder left by an attempt that failed goes first (Nova's _cleanup_failed_instance_base).
    rmSync(kept.dir, { recursive: true, force: true });
    renameSync(files.dir, kept.dir);
  }

  /** The kept root disk (a qcow2 overlay: only what the guest changed) and the ephemeral disk as compact qcow2. */
  async migratedDisks(host: string, id: string): Promise<AsyncIterable<Buffer>> {
    const kept = this.kept(this.files(host, id));
    if (!kept.exists()) throw new DriverError(`Instance ${id} has no disks kept for a migration on ${host}.`);
    const names: string[] = [];
    if (existsSync(kept.disk)) names.push(DISK);
    if (existsSync(kept.ephemeral)) {
      const moving = join(kept.dir, EPHEMERAL_QCOW2);
      if (!existsSync(moving)) {
        await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', kept.ephemeral, moving + '.part']);
        renameSync(moving + '.part', moving);
      }
      names.push(EPHEMERAL_QCOW2);
    }
    return packFiles(kept.dir, names);
  }

  async finishMigration(host: string, spec: GuestSpec, disks: (() => Promise<AsyncIterable<Buffer>>) | null, powerOn: boolean): Promise<void> {
    const files = this.files(host, spec.id);
    if (!files.exists()) {
      const kept = this.kept(files);
      if (!disks && !kept.exists()) throw new DriverError(`Instance ${spec.id} has no disks kept for a migration on ${host}.`);
      // On the same host the kept disks are copied (they stay kept for a revert), and so is the SSH port.
      const sshPort = disks ? undefined : this.record(kept).sshPort;
      await this.build(
        files,
        spec,
        async (staged) => {
          if (disks) {
            await unpackFiles(await disks(), staged.dir, [DISK, EPHEMERAL_QCOW2]);
            const moved = join(staged.dir, EPHEMERAL_QCOW2);
            if (existsSync(moved)) {
              await run('qemu-img', ['convert', '-q', '-f', 'qcow2', '-O', 'raw', moved, staged.ephemeral]);
              rmSync(moved);
            }
          } else {
            if (existsSync(kept.disk)) copyFileSync(kept.disk, staged.disk);
            if (existsSync(kept.ephemeral)) await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'raw', kept.ephemeral, staged.ephemeral]);
          }
          if (existsSync(staged.disk)) await this.growRoot(staged.disk, spec);
        },
        sshPort,
      );
    }
    if (powerOn) await this.start(files, this.record(files));
  }

  /** The moved overlay on this host's copy of its image (the same bytes: an unsafe rebase), grown to the flavor's root disk. */
  private async growRoot(path: string, spec: GuestSpec): Promise<void> {
    const { stdout } = await run('qemu-img', ['info', '-U', '--output=json', '-f', 'qcow2', path]);
    const info = JSON.parse(stdout) as { 'virtual-size': number; 'backing-filename'?: string };
    if (info['backing-filename']) {
      const base = await this.baseOf(spec);
      if (!base) throw new DriverError(`Instance ${spec.id}: the disk needs its image, which the guest spec does not give.`);
      if (base.path !== info['backing-filename']) await run('qemu-img', ['rebase', '-q', '-u', '-f', 'qcow2', '-F', base.format, '-b', base.path, path]);
    }
    const want = spec.diskGb * 2 ** 30;
    if (want > info['virtual-size']) await run('qemu-img', ['resize', '-q', '-f', 'qcow2', path, String(want)]);
  }

  async confirmMigration(host: string, id: string): Promise<void> {
    rmSync(this.kept(this.files(host, id)).dir, { recursive: true, force: true });
  }

  async finishRevertMigration(host: string, spec: GuestSpec, powerOn: boolean): Promise<void> {
    const files = this.files(host, spec.id);
    const kept = this.kept(files);
    if (kept.exists()) {
      // What the destination made here (the same host) goes; the kept folder comes back as it was.
      await this.kill(files);
      rmSync(files.dir, { recursive: true, force: true });
      rmSync(files.dir + '.part', { recursive: true, force: true });
      rmSync(join(kept.dir, EPHEMERAL_QCOW2), { force: true });
      rmSync(join(kept.dir, EPHEMERAL_QCOW2 + '.part'), { force: true });
      renameSync(kept.dir, files.dir);
    }
    const record = this.record(files);
    if (powerOn) await this.start(files, record);
  }

  // ── live migration: QMP migrate from the source's QEMU to one started with -incoming on the destination ──

  /**
   * The destination's part (Nova's pre_live_migration): a machine folder as spawn makes it (a
   * qcow2 overlay on this host's own cached copy of the image, of the same virtual size; the
   * config drive made again) and a QEMU of the same machine definition waiting with
   * `-incoming defer`, then listening on this host's address (a port the kernel picks) for
   * the source's stream. A folder of the guest that this step did not make is refused, as
   * Nova's libvirt driver refuses a destination whose instance directory exists.
   */
  async preLiveMigration(dest: string, spec: GuestSpec): Promise<LiveMigrationTarget> {
    const files = this.files(dest, spec.id);
    if (files.exists()) {
      const record = this.record(files);
      if (!record.incoming) throw new DriverError(`The supplied disk path (${files.dir}) already exists, it is expected not to exist.`);
      // Run again after a crash: the machine the first run started serves if it still waits untouched.
      if (record.incoming.uri && (await this.waitingForMigration(files))) return { uri: record.incoming.uri };
      await this.kill(files);
      rmSync(files.dir, { recursive: true, force: true });
    } else if (existsSync(files.dir)) {
      throw new DriverError(`The supplied disk path (${files.dir}) already exists, it is expected not to exist.`);
    }
    await this.build(
      files,
      spec,
      async (staged) => {
        // A server of drives (no image) boots them and has no disk of its own.
        if (spec.image || !(await this.options.drivesOf?.(spec.id))?.length) await this.makeDisk(staged.disk, spec);
      },
      undefined,
      true,
    );
    const record = this.record(files);
    try {
      await this.start(files, record, 'defer');
      const address = this.info.hostIp.includes(':') ? `[${this.info.hostIp}]` : this.info.hostIp;
      await this.execute(files, 'migrate-incoming', { uri: `tcp:${address}:0` });
      const listening = await this.execute<MigrationInfo>(files, 'query-migrate');
      const port = listening['socket-address']?.[0]?.port;
      if (!port) throw new DriverError(`The incoming machine of instance ${spec.id} on ${dest} does not say where it listens.`);
      const uri = `tcp:${address}:${port}`;
      this.saveRecord(files, { ...record, incoming: { uri } });
      return { uri };
    } catch (err) {
      await this.kill(files).catch(() => {});
      rmSync(files.dir, { recursive: true, force: true });
      throw err instanceof DriverError ? err : new DriverError(`Instance ${spec.id} cannot be received on ${dest}: ${(err as Error).message}`);
    }
  }

  /** The incoming machine runs and no stream has reached it yet. */
  private async waitingForMigration(files: MachineFiles): Promise<boolean> {
    if ((await this.status(files).catch(() => null)) !== 'inmigrate') return false;
    const m = await this.execute<MigrationInfo>(files, 'query-migrate').catch(() => null);
    return !!m && (!m.status || m.status === 'setup');
  }

  /**
   * The source's part (Nova's live_migration): QMP migrate to the destination's URI, with
   * block migration of the writable disks (QEMU's `block` capability) made incremental
   * (`block-incremental`: only what the overlay holds, since the destination has the same
   * backing image); the read-only config drive stays, made again there. Bounded as Nova's
   * live_migration_completion_timeout bounds it (800 s per GiB of memory and disk, at least
   * 2 GiB), then cancelled. Once completed the source's QEMU stays paused (postmigrate),
   * which is how a step run again after a crash knows the guest has gone; destroy ends it.
   */
  async liveMigrate(source: string, dest: string, spec: GuestSpec, target: LiveMigrationTarget, progress?: (percent: number) => void): Promise<void> {
    const files = this.files(source, spec.id);
    this.record(files);
    const state = await this.status(files);
    if (state === null) throw new DriverError(`Instance ${spec.id} is not running on ${source}.`);
    if (state === 'postmigrate') return; // sent before a crash: only a completed outgoing migration leaves this state
    let m = await this.execute<MigrationInfo>(files, 'query-migrate');
    // (A machine that came in by migration says `completed` of its incoming one.)
    if (!MIGRATING.has(m.status ?? '')) {
      await this.execute(files, 'migrate-set-capabilities', { capabilities: [{ capability: 'block', state: true }] });
      await this.execute(files, 'migrate-set-parameters', { 'block-incremental': true });
      await this.execute(files, 'migrate', { uri: target.uri });
    }
    const diskBytes = existsSync(files.disk) ? statSync(files.disk).size : 0;
    const gib = Math.max(2, (spec.memoryMb * 2 ** 20 + diskBytes) / 2 ** 30);
    const until = Date.now() + this.options.liveMigrationCompletionTimeout * gib * 1000;
    for (;;) {
      m = await this.execute<MigrationInfo>(files, 'query-migrate');
      if (m.status === 'completed') return progress?.(100);
      if (m.status === 'failed' || m.status === 'cancelled') throw new DriverError(`Live migration of instance ${spec.id} to ${dest} failed: ${m['error-desc'] ?? m.status}`);
      const total = (m.ram?.total ?? 0) + (m.disk?.total ?? 0);
      if (total > 0) progress?.(Math.min(99, Math.floor((100 * ((m.ram?.transferred ?? 0) + (m.disk?.transferred ?? 0))) / total)));
      if (this.options.liveMigrationCompletionTimeout > 0 && Date.now() > until) {
        await this.execute(files, 'migrate_cancel').catch(() => {});
        while (MIGRATING.has((m = await this.execute<MigrationInfo>(files, 'query-migrate')).status ?? '')) await sleep(100);
        if (m.status === 'completed') return;
        throw new DriverError(`Live migration of instance ${spec.id} to ${dest} did not complete within ${Math.round(this.options.liveMigrationCompletionTimeout * gib)} s and was aborted.`);
      }
      await sleep(200);
    }
  }

  /** The destination's last part (Nova's post_live_migration_at_destination): the machine has arrived and is an ordinary one of this host. */
  async postLiveMigrationAtDestination(dest: string, id: string): Promise<void> {
    const files = this.files(dest, id);
    const record = this.record(files);
    if (!record.incoming) return;
    // The source says completed a moment before this QEMU has loaded the last of the state.
    const until = Date.now() + 60_000;
    let status: string | null;
    while ((status = await this.status(files)) === 'inmigrate' && Date.now() < until) await sleep(100);
    if (status === null || status === 'inmigrate') throw new DriverError(`Instance ${id} has not arrived on ${dest}: its machine is ${status ?? 'not running'}.`);
    this.saveRecord(files, { ...record, incoming: null });
  }

  /** Undoes preLiveMigration: the incoming machine and its folder go; a folder it did not make stays. */
  async rollbackLiveMigrationAtDestination(dest: string, id: string): Promise<void> {
    const files = this.files(dest, id);
    rmSync(files.dir + '.part', { recursive: true, force: true });
    if (!files.exists() || !this.record(files).incoming) return;
    await this.kill(files);
    rmSync(files.dir, { recursive: true, force: true });
  }

  async powerState(host: string, id: string): Promise<PowerState | null> {
    const files = this.files(host, id);
    if (!files.exists()) return null;
    const status = await this.status(files).catch(() => 'running');
    if (status !== null) return powerOfStatus(status);
    return existsSync(files.state) ? PowerState.SUSPENDED : PowerState.SHUTDOWN;
  }

  async consoleOutput(host: string, id: string): Promise<string> {
    const files = this.files(host, id);
    this.record(files);
    try {
      return readFileSync(files.consoleLog, 'utf8');
    } catch {
      return '';
    }
  }

  openConsole(host: string, id: string, kind: ConsoleKind, client: ConsoleClient): GuestConsole {
    const files = this.files(host, id);
    this.record(files);
    if (files.pid() === null) throw new DriverError(`Instance ${id} is not running.`);
    const socket = createConnection(kind === 'serial' ? files.serial : files.vnc);
    socket.on('data', (d: Buffer) => client.send(d));
    socket.on('close', () => client.hangUp());
    socket.on('error', () => socket.destroy());
    return { write: (data) => socket.write(data), close: () => socket.destroy() };
  }

  /**
   * Through QEMU's guest agent (guest-set-user-password), as Nova's libvirt driver sets it;
   * refused, as there, when the image does not say the guest runs one (hw_qemu_guest_agent).
   */
  async setPassword(host: string, id: string, password: string): Promise<void> {
    const files = this.files(host, id);
    const { spec } = this.record(files);
    if (!spec.image?.guestAgent) throw new PasswordRefused('QEMU guest agent is not enabled');
    if (files.pid() === null) throw new DriverError(`Instance ${id} is not running.`);
    const user = spec.image.adminUser ?? 'root';
    await new Promise<void>((resolve, reject) => {
      const socket = createConnection(files.guestAgent);
      let buffer = '';
      const timer = setTimeout(() => finish(new DriverError('QEMU guest agent is unresponsive')), 10000);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        socket.destroy();
        if (err) reject(err);
        else resolve();
      };
      socket.setEncoding('utf8');
      socket.on('error', (err) => finish(new DriverError(`QEMU guest agent: ${err.message}`)));
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        const line = buffer.split('\n').find((l) => l.trim().startsWith('{'));
        if (!line) return;
        const msg = JSON.parse(line) as { error?: { desc: string } };
        finish(msg.error ? new DriverError(`QEMU guest agent: ${msg.error.desc}`) : undefined);
      });
      socket.write(JSON.stringify({ execute: 'guest-set-user-password', arguments: { username: user, password: Buffer.from(password).toString('base64'), crypted: false } }) + '\n');
    });
  }

  /** The loopback port forwarded to the guest's port 22 (its first NIC's), for the server's diagnostics. */
  sshForward(host: string, id: string): { address: string; port: number } | null {
    const files = this.files(host, id);
    const port = files.exists() ? this.record(files).sshPort : null;
    return port ? { address: '127.0.0.1', port } : null;
  }

  /**
   * The machine that made a TCP connection to this host, from its two ends: slirp connects
   * from inside the QEMU process, so the connection's socket (found by its ends in
   * /proc/net/tcp) is an open file of exactly one machine's process. Null when it is not
   * one of this host's machines (another process, a machine of another data directory).
   */
  async guestOfConnection(peer: { address: string; port: number }, local: { address: string; port: number }): Promise<string | null> {
    const inode = await socketInode(peer, local);
    if (inode === null) return null;
    const link = `socket:[${inode}]`;
    for (const id of await this.guestIds(this.info.name)) {
      const pid = new MachineFiles(join(this.machinesDir, id)).pid();
      if (pid === null) continue;
      const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
      const links = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
      if (links.includes(link)) return id;
    }
    return null;
  }

  /** Closes the QMP connections and context ports (the machines go on running). */
  close(): void {
    this.contextPorts?.close();
    this.contextPorts = null;
    for (const c of this.qmps.values()) c.then((q) => q.close()).catch(() => {});
    this.qmps.clear();
  }
}
