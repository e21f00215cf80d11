import { setTimeout as sleep } from 'node:timers/promises';
import { DriverError, PowerState, type LiveMigrationTarget, type DriveSource, type DriveSpec, type StorageType, type ConsoleClient, type ConsoleKind, type Driver, type GuestConsole, type GuestSpec, type HostInfo } from '../driver.js';
import { RfbServer } from './rfb.js';
import { SerialConsole } from './serial.js';

export interface FakeOptions {
  /** Number of simulated hosts (default 3), named fake-host-1 … */
  hosts: number;
  vcpus: number;
  memoryMb: number;
  localGb: number;
  /** Availability zones, assigned to hosts round-robin (default ["nova"]). */
  zones: string[];
  /** How long every operation takes, in milliseconds (default 0). */
  operationMs: number;
  /**
   * How long the operations a client can watch on a real cloud stay in progress: a
   * snapshot's upload, a resize or migration, a live migration (default 2000 ms; 0: at once).
   * A client that acts while one runs (a second snapshot, a delete of the image being saved)
   * then meets the busy server or saving image it would meet on Nova.
   */
  busyWindowMs: number;
  /** How long a drive's create, clone or resize takes, in milliseconds (default 0: at once). */
  driveMs: number;
  /** Simulated storage pools drives are spread over, named fake-storage-1 … (default 2). */
  storagePools: number;
  /**
   * `nimbus compute --host NAME`: simulate exactly this one host (its address `hostIp`)
   * instead of `hosts` numbered ones; the other hosts are other processes' own.
   */
  only?: { name: string; hostIp: string };
}

export const FAKE_DEFAULTS: FakeOptions = { hosts: 3, vcpus: 64, memoryMb: 262144, localGb: 4096, zones: ['nova'], operationMs: 0, busyWindowMs: 2000, driveMs: 0, storagePools: 2 };

const GiB = 1024 ** 3;

/** The storage types the fake offers, with the sizes CloudSigma's capabilities give them. */
const FAKE_STORAGE: StorageType[] = [
  { name: 'dssd', minSize: 512 * 1024 ** 2, maxSize: 15492389427364 },
  { name: 'nvme', minSize: 512 * 1024 ** 2, maxSize: 12074020121525 },
  { name: 'zadara', minSize: GiB, maxSize: 14180205493621 },
];

interface FakeDrive {
  size: number;
  storageType: string;
  location: string;
  /** The guests it is plugged into, by server id. */
  pluggedInto: Set<string>;
}

/**
 * Where the fake finds a drive or snapshot it has not seen: the database. Another process
 * may have made it (a second conductor, the process before a restart); the simulated
 * storage is one, as real storage is, whichever process asks.
 */
export interface FakeStorageRecords {
  drive(id: string): Promise<{ size: number; storageType: string; location: string | null } | null>;
  snapshot(id: string): Promise<{ driveId: string; size: number } | null>;
}

/** As little as a guest needs: a host may hold 100,000 of them. */
interface FakeGuest {
  hostname: string;
  power: PowerState;
  /**
   * What the guest wrote to its serial console after its boot log, if anything: the boot log
   * is made when read, since a host of 100,000 idle guests would otherwise hold 100,000 copies.
   */
  written?: string;
  /** Its flavor's shape, as the guest sees it (absent on a guest adopted after a restart). */
  vcpus?: number;
  memoryMb?: number;
  diskGb?: number;
  /** What the guest wrote to its disk (a marker tests write), kept through a resize and its revert. */
  data?: string;
  /** The destination's copy of a live migration, until it has arrived (what a rollback removes). */
  incoming?: boolean;
  /** Its state came with the migration (both hosts in this process); otherwise it arrives running. */
  received?: boolean;
  /** The source's copy once the migration completed: it runs no more, destroy removes it. */
  migrated?: boolean;
}

/**
 * Simulated hypervisor hosts: instant (or as slow as configured), faithful in the power
 * state transitions, and able to fail on demand. Its guests live in memory; on start the
 * task layer adopts the guests the database says exist, as a real host would still have them.
 */
export class FakeDriver implements Driver {
  readonly name = 'fake';
  private readonly guests = new Map<string, Map<string, FakeGuest>>();
  private readonly failSpawns = new Map<string, string>();
  private readonly failMigrations = new Map<string, string>();
  /** Guests (by id) that play an OS ignoring ACPI power-button events. */
  private readonly ignoresAcpi = new Set<string>();
  private readonly hostList: HostInfo[];
  private readonly drives = new Map<string, FakeDrive>();
  private readonly downPools = new Set<string>();
  private readonly snapshots = new Map<string, { driveId: string; size: number }>();
  /** What a resize keeps on its source host (Nova's `<instance>_resize`), by `host/id`. */
  private readonly kept = new Map<string, FakeGuest>();

  constructor(
    private readonly options: FakeOptions = FAKE_DEFAULTS,
    private readonly records?: FakeStorageRecords,
  ) {
    this.hostList = options.only
      ? [{ name: options.only.name, availabilityZone: options.zones[0], vcpus: options.vcpus, memoryMb: options.memoryMb, localGb: options.localGb, hostIp: options.only.hostIp }]
      : Array.from({ length: options.hosts }, (_, i) => ({
      name: `fake-host-${i + 1}`,
      availabilityZone: options.zones[i % options.zones.length],
      vcpus: options.vcpus,
      memoryMb: options.memoryMb,
      localGb: options.localGb,
      hostIp: `127.0.0.${i + 2}`,
    }));
    for (const h of this.hostList) this.guests.set(h.name, new Map());
  }

  hosts(): HostInfo[] {
    return this.hostList;
  }

  /** Failure injection: every spawn on `host` (and every guest a migration makes there) fails with `message` until cleared (null). */
  setSpawnFailure(host: string, message: string | null): void {
    if (message === null) this.failSpawns.delete(host);
    else this.failSpawns.set(host, message);
  }

  /** Failure injection: every live migration sent from `host` fails with `message` until cleared (null). */
  setLiveMigrationFailure(host: string, message: string | null): void {
    if (message === null) this.failMigrations.delete(host);
    else this.failMigrations.set(host, message);
  }

  /** Makes the guest with this id ignore (or honour again) ACPI shutdown, whether or not it runs yet. */
  setAcpiIgnored(id: string, ignored: boolean): void {
    if (ignored) this.ignoresAcpi.add(id);
    else this.ignoresAcpi.delete(id);
  }

  /** Restores a guest the database knows about, after a restart. */
  adopt(host: string, id: string, hostname: string, power: PowerState): void {
    this.on(host).set(id, { hostname, power });
  }

  private on(host: string): Map<string, FakeGuest> {
    const guests = this.guests.get(host);
    if (!guests) throw new DriverError(`Compute host ${host} could not be found.`);
    return guests;
  }

  private guest(host: string, id: string): FakeGuest {
    const g = this.on(host).get(id);
    if (!g) throw new DriverError(`Instance ${id} could not be found on ${host}.`);
    return g;
  }

  private async work(): Promise<void> {
    if (this.options.operationMs > 0) await sleep(this.options.operationMs);
  }

  /** An operation a client can watch: it lasts the busy window. */
  private async longWork(): Promise<void> {
    await this.work();
    if (this.options.busyWindowMs > 0) await sleep(this.options.busyWindowMs);
  }

  async spawn(host: string, spec: GuestSpec): Promise<void> {
    const guests = this.on(host);
    await this.work();
    const failure = this.failSpawns.get(host);
    if (failure) throw new DriverError(failure, `fake driver: spawn on ${host} set to fail`);
    if (!guests.has(spec.id)) {
      guests.set(spec.id, { hostname: spec.hostname, power: PowerState.RUNNING, vcpus: spec.vcpus, memoryMb: spec.memoryMb, diskGb: spec.diskGb });
    }
  }

  async destroy(host: string, id: string): Promise<void> {
    await this.work();
    this.guests.get(host)?.delete(id);
  }

  /** Sets the guest's power state; `written` is what it prints on its console meanwhile. */
  private async setPower(host: string, id: string, power: PowerState, written: string[]): Promise<void> {
    const g = this.guest(host, id);
    await this.work();
    g.power = power;
    if (written.length) g.written = (g.written ?? '') + '\n' + written.join('\n');
  }

  powerOff(host: string, id: string) {
    return this.setPower(host, id, PowerState.SHUTDOWN, ['reboot: Power down']);
  }
  powerOn(host: string, id: string) {
    return this.setPower(host, id, PowerState.RUNNING, [bootLog(this.guest(host, id).hostname)]);
  }
  async acpiShutdown(host: string, id: string) {
    const g = this.guest(host, id);
    if (this.ignoresAcpi.has(id) || g.power !== PowerState.RUNNING) return;
    await this.setPower(host, id, PowerState.SHUTDOWN, ['ACPI: Power Button [PWRF]', 'reboot: Power down']);
  }
  async reboot(host: string, id: string, hard: boolean) {
    const boot = bootLog(this.guest(host, id).hostname);
    await this.setPower(host, id, PowerState.RUNNING, hard ? [boot] : ['reboot: Restarting system', boot]);
  }
  pause(host: string, id: string) {
    return this.setPower(host, id, PowerState.PAUSED, []);
  }
  unpause(host: string, id: string) {
    return this.setPower(host, id, PowerState.RUNNING, []);
  }
  suspend(host: string, id: string) {
    return this.setPower(host, id, PowerState.SUSPENDED, ['PM: suspend entry (deep)']);
  }
  resume(host: string, id: string) {
    return this.setPower(host, id, PowerState.RUNNING, ['PM: suspend exit']);
  }

  rescue(host: string, id: string) {
    return this.setPower(host, id, PowerState.RUNNING, [bootLog('rescue')]);
  }
  unrescue(host: string, id: string) {
    return this.setPower(host, id, PowerState.RUNNING, [bootLog(this.guest(host, id).hostname)]);
  }

  async snapshot(host: string, id: string): Promise<null> {
    this.guest(host, id);
    await this.longWork();
    return null; // a fake guest never writes to its disk
  }

  /** Any size will do, a smaller disk too, as Nova's fake driver takes it; the busy window is the disk's move. */
  async migrateDiskAndPowerOff(host: string, id: string): Promise<void> {
    const g = this.on(host).get(id);
    if (!g) {
      if (this.kept.has(`${host}/${id}`)) return; // done before a crash
      throw new DriverError(`Instance ${id} could not be found on ${host}.`);
    }
    await this.longWork();
    this.kept.set(`${host}/${id}`, { ...g, power: PowerState.SHUTDOWN });
    this.on(host).delete(id);
  }

  /**
   * The kept guest as JSON. The fake's memory is all it keeps: after a restart (guests are
   * adopted with no data) a kept disk that was lost moves as an empty one.
   */
  async migratedDisks(host: string, id: string): Promise<AsyncIterable<Buffer>> {
    this.on(host);
    const k = this.kept.get(`${host}/${id}`) ?? {};
    return (async function* () {
      yield Buffer.from(JSON.stringify(k));
    })();
  }

  async finishMigration(host: string, spec: GuestSpec, disks: (() => Promise<AsyncIterable<Buffer>>) | null, powerOn: boolean): Promise<void> {
    const guests = this.on(host);
    const there = guests.get(spec.id);
    if (there) {
      if (powerOn) there.power = PowerState.RUNNING;
      return;
    }
    const failure = this.failSpawns.get(host);
    if (failure) throw new DriverError(failure, `fake driver: spawn on ${host} set to fail`);
    let from: Partial<FakeGuest> = this.kept.get(`${host}/${spec.id}`) ?? {};
    if (disks) {
      const chunks: Buffer[] = [];
      for await (const c of await disks()) chunks.push(Buffer.from(c));
      from = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Partial<FakeGuest>;
    }
    await this.work();
    guests.set(spec.id, { hostname: spec.hostname, power: powerOn ? PowerState.RUNNING : PowerState.SHUTDOWN, vcpus: spec.vcpus, memoryMb: spec.memoryMb, diskGb: Math.max(spec.diskGb, from.diskGb ?? 0), data: from.data, written: from.written });
  }

  async confirmMigration(host: string, id: string): Promise<void> {
    this.on(host);
    await this.work();
    this.kept.delete(`${host}/${id}`);
  }

  async finishRevertMigration(host: string, spec: GuestSpec, powerOn: boolean): Promise<void> {
    const guests = this.on(host);
    const k = this.kept.get(`${host}/${spec.id}`);
    await this.work();
    if (k) {
      guests.set(spec.id, { ...k, power: powerOn ? PowerState.RUNNING : PowerState.SHUTDOWN });
      this.kept.delete(`${host}/${spec.id}`);
      return;
    }
    const there = guests.get(spec.id);
    // Lost in a restart (see migratedDisks): the guest comes back as adopted ones do, with no data.
    if (!there) guests.set(spec.id, { hostname: spec.hostname, power: powerOn ? PowerState.RUNNING : PowerState.SHUTDOWN, vcpus: spec.vcpus, memoryMb: spec.memoryMb, diskGb: spec.diskGb });
    else if (powerOn) there.power = PowerState.RUNNING;
  }

  /** For tests: the guest writes `data` to its disk (the fake's stand-in for bytes on a real disk). */
  writeDisk(host: string, id: string, data: string): void {
    this.guest(host, id).data = data;
  }

  /** For tests: what the guest sees of itself: what its disk holds, its disk's size, its memory and vCPUs. */
  inside(host: string, id: string): { data: string | null; diskGb: number | null; memoryMb: number | null; vcpus: number | null } {
    const g = this.guest(host, id);
    return { data: g.data ?? null, diskGb: g.diskGb ?? null, memoryMb: g.memoryMb ?? null, vcpus: g.vcpus ?? null };
  }

  /** For tests: whether a resize keeps disks of `id` on `host`. */
  keeps(host: string, id: string): boolean {
    return this.kept.has(`${host}/${id}`);
  }

  /** The destination makes a copy of the guest waiting for it (paused, as QEMU's inmigrate); a spawn failure set on it refuses. */
  async preLiveMigration(dest: string, spec: GuestSpec): Promise<LiveMigrationTarget> {
    const guests = this.on(dest);
    await this.work();
    const uri = `fake://${dest}/${spec.id}`;
    const there = guests.get(spec.id);
    if (there?.incoming) return { uri };
    if (there) throw new DriverError(`Instance ${spec.id} already exists on ${dest}.`);
    const failure = this.failSpawns.get(dest);
    if (failure) throw new DriverError(failure, `fake driver: spawn on ${dest} set to fail`);
    guests.set(spec.id, { hostname: spec.hostname, power: PowerState.PAUSED, vcpus: spec.vcpus, memoryMb: spec.memoryMb, diskGb: spec.diskGb, incoming: true });
    return { uri };
  }

  /**
   * Lasts the busy window. With both hosts here the destination's copy takes the guest's
   * state (power, console, what it wrote to its disk); across processes each side does its half. The source's copy
   * stays, paused and marked migrated, until destroy, as QEMU's postmigrate machine does.
   */
  async liveMigrate(source: string, dest: string, spec: GuestSpec): Promise<void> {
    const g = this.guest(source, spec.id);
    if (g.migrated) return; // run again after a crash
    await this.longWork();
    const failure = this.failMigrations.get(source);
    if (failure) throw new DriverError(failure, `fake driver: live migration from ${source} set to fail`);
    const to = this.guests.get(dest);
    if (to) {
      const copy = to.get(spec.id);
      if (!copy?.incoming) throw new DriverError(`Live migration of instance ${spec.id} to ${dest} failed: the destination is not waiting for it.`);
      Object.assign(copy, { ...g, incoming: true, received: true }); // its power, console and disk as they were
    }
    g.migrated = true;
    g.power = PowerState.PAUSED;
  }

  async postLiveMigrationAtDestination(dest: string, id: string): Promise<void> {
    const g = this.guest(dest, id);
    await this.work();
    if (!g.incoming) return;
    if (!g.received) g.power = PowerState.RUNNING;
    delete g.incoming;
    delete g.received;
  }

  async rollbackLiveMigrationAtDestination(dest: string, id: string): Promise<void> {
    const guests = this.on(dest);
    await this.work();
    if (guests.get(id)?.incoming) guests.delete(id);
  }

  async guestIds(host: string): Promise<string[]> {
    return [...(this.guests.get(host)?.keys() ?? [])];
  }

  async keptIds(host: string): Promise<string[]> {
    return [...this.kept.keys()].filter((k) => k.startsWith(`${host}/`)).map((k) => k.slice(host.length + 1));
  }

  async powerState(host: string, id: string): Promise<PowerState | null> {
    return this.guests.get(host)?.get(id)?.power ?? null;
  }

  openConsole(host: string, id: string, kind: ConsoleKind, client: ConsoleClient): GuestConsole {
    const g = this.guest(host, id);
    return kind === 'serial' ? new SerialConsole(g.hostname, client) : new RfbServer(g.hostname, client);
  }

  async consoleOutput(host: string, id: string): Promise<string> {
    const g = this.guest(host, id);
    return bootLog(g.hostname) + (g.written ?? '');
  }

  // Drives ---------------------------------------------------------------------------------

  storageTypes(): StorageType[] {
    return FAKE_STORAGE;
  }

  storageUp(location: string): boolean {
    return !this.downPools.has(location);
  }

  /** Failure injection: a storage pool stops answering (its drives are unavailable) or answers again. */
  setStorageDown(pool: string, down: boolean): void {
    if (down) this.downPools.add(pool);
    else this.downPools.delete(pool);
  }

  /** The drive, as this process holds it or as the records have it. */
  private async driveRecord(id: string): Promise<FakeDrive | undefined> {
    if (!this.drives.has(id)) {
      const r = await this.records?.drive(id);
      if (r && !this.drives.has(id)) this.drives.set(id, { size: r.size, storageType: r.storageType, location: r.location ?? this.pools()[0], pluggedInto: new Set() });
    }
    return this.drives.get(id);
  }

  /** A drive whose pool is down cannot be read, grown or copied. */
  private async reachable(id: string): Promise<FakeDrive | undefined> {
    const d = await this.driveRecord(id);
    if (d && this.downPools.has(d.location)) throw new DriverError(`The storage of drive ${id} (${d.location}) is unavailable.`);
    return d;
  }

  private async snapshotRecord(id: string): Promise<{ driveId: string; size: number } | undefined> {
    if (!this.snapshots.has(id)) {
      const r = await this.records?.snapshot(id);
      if (r && !this.snapshots.has(id)) this.snapshots.set(id, r);
    }
    return this.snapshots.get(id);
  }

  /** The simulated storage pools, in order. */
  pools(): string[] {
    return Array.from({ length: Math.max(1, this.options.storagePools) }, (_, i) => `fake-storage-${i + 1}`);
  }

  /** The drive's time, in four steps that report progress. */
  private async driveWork(progress?: (percent: number) => void): Promise<void> {
    const steps = 4;
    for (let i = 1; i <= steps; i++) {
      if (this.options.driveMs > 0) await sleep(this.options.driveMs / steps);
      progress?.(Math.round((100 * i) / steps));
    }
  }

  /** The least used pool not avoided (all avoided: the least used of all). */
  private place(avoid: string[]): string {
    const use = new Map(this.pools().map((p) => [p, 0]));
    for (const d of this.drives.values()) use.set(d.location, (use.get(d.location) ?? 0) + 1);
    const order = [...use.entries()].filter(([p]) => !this.downPools.has(p)).sort((a, b) => a[1] - b[1]).map(([p]) => p);
    if (order.length === 0) throw new DriverError('No storage is available.');
    return order.find((p) => !avoid.includes(p)) ?? order[0];
  }

  private checkType(storageType: string): void {
    if (!FAKE_STORAGE.some((t) => t.name === storageType)) throw new DriverError(`Storage type ${storageType} is not available.`);
  }

  async createDrive(spec: DriveSpec, progress?: (percent: number) => void): Promise<{ location: string }> {
    this.checkType(spec.storageType);
    const existing = this.drives.get(spec.id);
    if (existing) return { location: existing.location };
    const location = this.place(spec.avoid);
    await this.driveWork(progress);
    this.drives.set(spec.id, { size: spec.size, storageType: spec.storageType, location, pluggedInto: new Set() });
    return { location };
  }

  async cloneDrive(spec: DriveSpec, source: DriveSource, progress?: (percent: number) => void): Promise<{ location: string }> {
    this.checkType(spec.storageType);
    const existing = this.drives.get(spec.id);
    if (existing) return { location: existing.location }; // run again after a crash: the copy is there
    let sourceSize = 0;
    if (source.kind === 'drive') {
      const d = await this.reachable(source.id);
      if (!d) throw new DriverError(`Drive ${source.id} could not be found.`);
      sourceSize = d.size;
    } else if (source.kind === 'snapshot') {
      const snap = await this.snapshotRecord(source.id);
      if (!snap) throw new DriverError(`Snapshot ${source.id} could not be found.`);
      sourceSize = snap.size;
    }
    const location = this.place(spec.avoid);
    await this.driveWork(progress);
    this.drives.set(spec.id, { size: Math.max(spec.size, sourceSize), storageType: spec.storageType, location, pluggedInto: new Set() });
    return { location };
  }

  async resizeDrive(id: string, size: number, progress?: (percent: number) => void): Promise<void> {
    const d = await this.reachable(id);
    if (!d) throw new DriverError(`Drive ${id} could not be found.`);
    if (d.pluggedInto.size) throw new DriverError(`Drive ${id} is in use by a guest.`);
    await this.driveWork(progress);
    d.size = size;
  }

  async deleteDrive(id: string): Promise<void> {
    await this.work();
    this.drives.delete(id);
  }

  async snapshotDrive(driveId: string, snapshotId: string): Promise<void> {
    const d = await this.reachable(driveId);
    if (!d) throw new DriverError(`Drive ${driveId} could not be found.`);
    await this.work();
    if (!this.snapshots.has(snapshotId)) this.snapshots.set(snapshotId, { driveId, size: d.size });
  }

  async deleteSnapshot(snapshotId: string): Promise<void> {
    await this.work();
    this.snapshots.delete(snapshotId);
  }

  async attachDrive(host: string, serverId: string, driveId: string): Promise<void> {
    const g = this.guest(host, serverId);
    const d = await this.driveRecord(driveId);
    if (!d) throw new DriverError(`Drive ${driveId} could not be found.`);
    // As on a real machine: a suspended guest's saved state is of the machine as it was.
    if (g.power === PowerState.SUSPENDED && !d.pluggedInto.has(serverId)) throw new DriverError(`Instance ${serverId} is suspended: drives cannot change until it resumes.`);
    await this.work();
    d.pluggedInto.add(serverId);
  }

  async detachDrive(host: string, serverId: string, driveId: string): Promise<void> {
    const g = this.guests.get(host)?.get(serverId);
    const d = this.drives.get(driveId);
    if (g && d?.pluggedInto.has(serverId) && g.power === PowerState.SUSPENDED) throw new DriverError(`Instance ${serverId} is suspended: drives cannot change until it resumes.`);
    await this.work();
    d?.pluggedInto.delete(serverId);
  }

  /** The drives plugged into a guest (for tests), by id. */
  pluggedDrives(serverId: string): string[] {
    return [...this.drives].filter(([, d]) => d.pluggedInto.has(serverId)).map(([id]) => id);
  }

  /** What the fake holds of a drive (for tests): its size, type and pool, or undefined. */
  driveOf(id: string): { size: number; storageType: string; location: string } | undefined {
    const d = this.drives.get(id);
    return d && { size: d.size, storageType: d.storageType, location: d.location };
  }
}

/** A boot as a serial console shows it: firmware, kernel, init, then getty's prompt, waiting on its line. */
function bootLog(hostname: string): string {
  return [
    'SeaBIOS (version 1.16.2-debian-1.16.2-1)',
    'Booting from Hard Disk...',
    '[    0.000000] Linux version 6.1.0-nimbus (fake) #1 SMP',
    '[    0.512000] Run /init as init process',
    'Starting network: OK',
    '',
    `Debian GNU/Linux 12 ${hostname} ttyS0`,
    '',
    `${hostname} login: `,
  ].join('\n');
}
