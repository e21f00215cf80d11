
/** A guest's power state, numbered as nova.compute.power_state (and libvirt's driver) number them. */
export const PowerState = {
  NOSTATE: 0,
  RUNNING: 1,
  PAUSED: 3,
  SHUTDOWN: 4,
  CRASHED: 6,
  SUSPENDED: 7,
} as const;
export type PowerState = (typeof PowerState)[keyof typeof PowerState];

/** A hypervisor host as a driver reports it. */
export interface HostInfo {
  name: string;
  availabilityZone: string;
  vcpus: number;
  memoryMb: number;
  localGb: number;
  hostIp: string;
  /** Nova's hypervisor_version: the hypervisor's version as an integer (QEMU 7.2.22 → 7002022). */
  hypervisorVersion?: number;
}

/** What a driver needs to start a guest; nothing of any API dialect. */
export interface GuestSpec {
  id: string;
  name: string;
  hostname: string;
  vcpus: number;
  memoryMb: number;
  diskGb: number;
  /** The flavor's ephemeral disk (GiB) and swap (MiB); none when 0 or absent. */
  ephemeralGb?: number;
  swapMb?: number;
  imageId: string;
  userData: string | null;
  keyData: string | null;
  /** Only in memory on its way to the guest; never stored. */
  adminPassword: string | null;
  files: { path: string; contents: string }[];
  ports: GuestPort[];
  /* What a real machine needs besides (the fake driver ignores it): */
  projectId?: string;
  availabilityZone?: string | null;
  launchIndex?: number;
  reservationId?: string;
  keyName?: string | null;
  /** The flavor's name and the server's security groups, as EC2's meta-data gives them. */
  flavorName?: string;
  securityGroups?: string[];
  /** The server's metadata, as the config drive's meta_data.json gives it. */
  metadata?: Record<string, string>;
  /** Whether the guest gets a config drive (the create's config_drive). */
  configDrive?: boolean;
  /** The image the root disk is made from, with the files it needs, or null (boot from volume). */
  image?: GuestImage | null;
}

/**
 * A drive of the block storage attached to a guest (a CloudSigma server's), as the driver
 * that holds it knows it: by id, with its media and boot order, and the image it was cloned
 * from when that image boots with its own kernel and ramdisk.
 */
export interface GuestDrive {
  id: string;
  media: 'disk' | 'cdrom';
  /** 1 first; null: attached, not booted from. */
  bootOrder: number | null;
  image: GuestImage | null;
  /** How it is plugged (CloudSigma's device and dev_channel, as 'virtio' and '0:1'): where a real machine puts it. */
  device?: string;
  devChannel?: string;
}

/** A network port of a guest: one NIC with the port's MAC, and its fixed IPs with their subnets. */
export interface GuestPort {
  mac: string;
  ips: string[];
  id?: string;
  networkId?: string;
  mtu?: number;
  /**
   * The port's addresses with their subnets: `dhcp` is Neutron's enable_dhcp (absent: true, as
   * Neutron's default), `dns` its dns_nameservers, `routes` its host_routes.
   */
  subnets?: { ip: string; cidr: string; gateway: string | null; dhcp?: boolean; dns?: string[]; routes?: { destination: string; nexthop: string }[] }[];
  /** The floating IPs pointed at the port's fixed IPs, in their order. */
  floatingIps?: string[];
}

/** An image as a driver reads it: where its bytes are, and a kernel and ramdisk when it boots with them (Glance's kernel_id, ramdisk_id). */
export interface GuestImage {
  id: string;
  diskFormat: string;
  path: string;
  kernelPath: string | null;
  ramdiskPath: string | null;
  /** Glance's os_command_line: the kernel's command line. */
  commandLine: string | null;
  /** Glance's hw_qemu_guest_agent: the guest runs QEMU's guest agent on its channel. */
  guestAgent?: boolean;
  /** Glance's os_admin_user: whose password changePassword sets (root by default). */
  adminUser?: string | null;
}

/** Where the source host sends a guest it live-migrates: the destination's answer, opaque to the core (QEMU: a migration URI). */
export interface LiveMigrationTarget {
  uri: string;
}

/** A guest's console as a driver opens it: what the client sends goes in with write. */
export interface GuestConsole {
  write(data: Buffer): void;
  close(): void;
}

/** The client's end of a console, given at opening: the guest's output goes to send; hangUp ends the connection. */
export interface ConsoleClient {
  send(data: Buffer): void;
  hangUp(): void;
}

/** The consoles a driver may offer: a graphical one (the RFB protocol, for VNC clients) and the serial port. */
export type ConsoleKind = 'vnc' | 'serial';

/** The error a driver throws when an operation fails on the host; becomes the server's fault. */
export class DriverError extends Error {
  constructor(
    message: string,
    readonly details = '',
  ) {
    super(message);
  }
}

/**
 * A driver's refusal of a resize or migration before it changed anything (a disk that
 * cannot shrink, say), as Nova's InstanceFaultRollback: the server stays where and as it
 * was, with the message as its fault, and the action's event in error.
 */
export class ResizeRefused extends DriverError {}

/** A driver's refusal to set a guest's password that nothing in the guest could change (Nova's SetAdminPasswdNotSupported, QemuGuestAgentNotEnabled): a 409. */
export class PasswordRefused extends DriverError {}
/**
 * The host a call was for does not answer (its process is down, unreachable, or did not
 * answer in time): Nova's ComputeServiceUnavailable, a 409 for the caller, at once.
 */
export class HostUnavailable extends DriverError {
  constructor(readonly host: string) {
    super(`Compute service of ${host} is unavailable at this time.`);
  }
}

/** A kind of storage a driver offers drives on, with the sizes it takes (bytes). */
export interface StorageType {
  name: string;
  minSize: number;
  maxSize: number;
}

/** What a drive is made from: nothing (a blank drive), another drive, a snapshot, or an image. */
export type DriveSource = { kind: 'blank' } | { kind: 'drive'; id: string } | { kind: 'snapshot'; id: string } | { kind: 'image'; id: string };

/** What a driver needs to make a drive; nothing of any API dialect. */
export interface DriveSpec {
  id: string;
  size: number;
  storageType: string;
  media: 'disk' | 'cdrom';
  /** Storage locations to keep it off, best effort (CloudSigma's avoid). */
  avoid: string[];
}

/**
 * Drives: block storage that outlives guests. Every operation is idempotent, as the guest
 * operations are: a task resumed after a crash runs its step again. A long one reports
 * its progress (0-100) as it goes.
 */
export interface DriveOperations {
  /** The storage types drives can be made on; the first is the default. */
  storageTypes(): StorageType[];
  /** Whether the storage at `location` answers; the drives on storage that does not are unavailable. */
  storageUp(location: string): boolean;
  /** Makes a blank drive; answers where it lives. */
  createDrive(spec: DriveSpec, progress?: (percent: number) => void): Promise<{ location: string }>;
  /** Makes a drive with a copy of `source` (at least the source's size); answers where it lives. */
  cloneDrive(spec: DriveSpec, source: DriveSource, progress?: (percent: number) => void): Promise<{ location: string }>;
  /** Grows (or shrinks) a drive that no guest is using. */
  resizeDrive(id: string, size: number, progress?: (percent: number) => void): Promise<void>;
  deleteDrive(id: string): Promise<void>;
  /** A point-in-time copy of a drive, that drives can later be cloned from. */
  snapshotDrive(driveId: string, snapshotId: string): Promise<void>;
  deleteSnapshot(snapshotId: string): Promise<void>;
  /**
   * Plugs a drive into a running guest on `host` (hotplug), as `device` on `devChannel`; a
   * stopped guest gets it at its next start. The core records the attachment first: a real
   * machine's definition of its drives is the core's record, read at each start (qemu's
   * drivesOf). DriverError when the guest cannot take it now (suspended, or a device kind that
   * cannot be hot-plugged).
   */
  attachDrive(host: string, serverId: string, driveId: string, device: { device: string; devChannel: string }): Promise<void>;
  /** Unplugs a drive from a running guest (the guest lets it go); the core drops its record after. */
  detachDrive(host: string, serverId: string, driveId: string): Promise<void>;
}

/**
 * One contract for every hypervisor: fake, qemu, later others. Every operation is
 * idempotent (spawning a guest that exists, or destroying one that does not, succeeds)
 * so that a task resumed after a crash can simply run its step again.
 */
export interface Driver extends DriveOperations {
  readonly name: string;
  /** The hosts this driver runs guests on. */
  hosts(): HostInfo[];
  spawn(host: string, spec: GuestSpec): Promise<void>;
  /** Ends the guest and removes its files; what a resize keeps aside stays (see confirmMigration). */
  destroy(host: string, id: string): Promise<void>;
  /**
   * Stops the guest: a clean shutdown (ACPI power-off) given `timeoutSeconds` (the driver's
   * shutdown_timeout when absent) before the power cord is pulled; 0 pulls it at once.
   */
  powerOff(host: string, id: string, timeoutSeconds?: number): Promise<void>;
  powerOn(host: string, id: string): Promise<void>;
  /**
   * Presses the guest's power button (an ACPI power-off event). A guest that handles it
   * powers off (powerState then says SHUTDOWN); one that does not keeps running.
   */
  acpiShutdown(host: string, id: string): Promise<void>;
  reboot(host: string, id: string, hard: boolean): Promise<void>;
  pause(host: string, id: string): Promise<void>;
  unpause(host: string, id: string): Promise<void>;
  suspend(host: string, id: string): Promise<void>;
  resume(host: string, id: string): Promise<void>;
  /** Boots the guest from a rescue image, keeping its disk; unrescue boots its own disk again. */
  rescue(host: string, id: string): Promise<void>;
  unrescue(host: string, id: string): Promise<void>;
  /**
   * Captures the guest's disk for an image: its bytes, or null when the disk is still the
   * image it booted from (the caller then copies that image).
   */
  snapshot(host: string, id: string): Promise<AsyncIterable<Buffer> | null>;
  /**
   * The source host's step of a resize or cold migration (Nova's migrate_disk_and_power_off).
   * Refuses with ResizeRefused, before changing anything, a guest that cannot take `target`
   * (a root or ephemeral disk that would have to shrink, on drivers that cannot shrink one).
   * Otherwise powers the guest off (a clean shutdown first) and keeps its disks aside (Nova's
   * `<instance>_resize`): migratedDisks reads them, finishRevertMigration brings them back
   * exactly, confirmMigration removes them. The guest is then no longer on `host` (powerState
   * null). Run again, it finds them kept and does nothing.
   */
  migrateDiskAndPowerOff(host: string, id: string, target: GuestSpec): Promise<void>;
  /**
   * The disks migrateDiskAndPowerOff keeps on `host`, as one stream that finishMigration of the
   * same driver on another host reads: the core carries it from one host's process to the
   * other's, as Nova copies the disks from host to host.
   */
  migratedDisks(host: string, id: string): Promise<AsyncIterable<Buffer>>;
  /**
   * The destination's step (Nova's finish_migration): makes the guest on `host` from its moved
   * disks, the root disk grown to `spec`'s (ephemeral disk and swap as `spec` has them), and
   * starts it with `spec`'s vCPUs and memory when `powerOn` (else leaves it powered off).
   * `disks` opens the moved disks (migratedDisks on the source; called at most once), or is
   * null when the source is `host` itself: its kept disks are copied, and stay kept. Run again,
   * a guest already made is left as it is (started if `powerOn`).
   */
  finishMigration(host: string, spec: GuestSpec, disks: (() => Promise<AsyncIterable<Buffer>>) | null, powerOn: boolean): Promise<void>;
  /** Nova's confirm_migration: removes what migrateDiskAndPowerOff kept on `host` (a guest on `host` is untouched). */
  confirmMigration(host: string, id: string): Promise<void>;
  /**
   * Nova's finish_revert_migration, on the source host: the guest as it was before the resize,
   * its kept disks back exactly, with `spec`'s (the old flavor's) vCPUs and memory, started
   * when `powerOn`. The core destroys the destination's guest first (destroy leaves the kept
   * disks). Run again, a guest already back is left as it is (started if `powerOn`).
   */
  finishRevertMigration(host: string, spec: GuestSpec, powerOn: boolean): Promise<void>;
  /**
   * Live migration, Nova's four steps, each called in its host's process (the core runs them
   * one after another, and rolls back on failure before the guest has moved):
   *  1. preLiveMigration on `dest`: makes the guest's disks and machine there, ready to
   *     receive it, and says where the source sends it. Refuses (DriverError) when `dest`
   *     already has something of that guest it did not make itself.
   *  2. liveMigrate on `source`: sends the running or paused guest (memory, devices, its
   *     writable disks) to that target and resolves once it runs on `dest`; the source's copy
   *     then runs no more, and `destroy(source)` removes what is left of it (Nova's
   *     post_live_migration). On failure the guest goes on running on the source, as it was.
   *  3. postLiveMigrationAtDestination on `dest`: the received guest is the host's own now.
   *  rollbackLiveMigrationAtDestination on `dest` undoes step 1, and only what step 1 made.
   * Each is idempotent: run again after a crash, step 1 answers a target that is ready,
   * step 2 finds the migration running or done and waits for it, steps 3 and the rollback
   * find their work done.
   */
  preLiveMigration(dest: string, spec: GuestSpec): Promise<LiveMigrationTarget>;
  liveMigrate(source: string, dest: string, spec: GuestSpec, target: LiveMigrationTarget, progress?: (percent: number) => void): Promise<void>;
  postLiveMigrationAtDestination(dest: string, id: string): Promise<void>;
  rollbackLiveMigrationAtDestination(dest: string, id: string): Promise<void>;
  /**
   * The ids of the guests the hypervisor has on `host`, whatever the database says: a compute
   * host that starts compares them with the database (its reconcile). Absent: it cannot tell.
   */
  guestIds?(host: string): Promise<string[]>;
  /**
   * The ids of the guests whose disks a resize keeps on `host` (migrateDiskAndPowerOff's, until
   * confirmMigration), whatever the database says: a compute host that starts removes those of
   * servers deleted while it was away. Absent: it cannot tell.
   */
  keptIds?(host: string): Promise<string[]>;
  /** The guest's power state as the hypervisor sees it, or null when it has no such guest. */
  powerState(host: string, id: string): Promise<PowerState | null>;
  /** Everything the guest wrote to its serial console (the core takes the tail a caller asks for). */
  consoleOutput(host: string, id: string): Promise<string>;
  /**
   * Sets a user's password inside the running guest, at once (Nova's set_admin_password is a
   * synchronous call): PasswordRefused when the guest cannot have it set, DriverError when it
   * does not answer. Absent: the driver accepts the password and does nothing with it.
   */
  setPassword?(host: string, id: string, password: string): Promise<void>;
  /**
   * Where the guest's SSH port is reachable from the host, when the driver forwards it
   * (user-mode networking forwards a loopback port); absent or null otherwise.
   */
  sshForward?(host: string, id: string): { address: string; port: number } | null;
  /** Connects to a guest's console; throws DriverError when the guest or that console is not there. */
  openConsole(host: string, id: string, kind: ConsoleKind, client: ConsoleClient): GuestConsole;
}
