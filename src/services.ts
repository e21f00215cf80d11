import type { Logger } from 'pino';
import { createLogger } from './logging.js';
import { Clock } from './clock.js';
import type { Config } from './config.js';
import { openDatabase, migrate, pendingMigrations, isPostgresUrl, sqliteFile, type Db } from './db/database.js';
import { otherHostsOf, remoteDriverFor } from './compute/host-calls.js';
import { setServiceDownTime } from './scheduler/scheduler.js';
import type { RunnerRole } from './tasks/runner.js';
import { ImageFiles } from './image/files.js';
import { startInvalidations, type Invalidations } from './db/invalidations.js';
import { secureDataDir } from './data-dir.js';
import { Directory } from './identity/directory.js';
import { Images } from './image/images.js';
import { Tokens } from './identity/tokens.js';
import { Policy } from './policy/policy.js';
import { Flavors } from './compute/flavors.js';
import { FakeDriver, type FakeStorageRecords } from './virt/fake/driver.js';
import type { Driver } from './virt/driver.js';
import { QemuDriver, QEMU_DEFAULTS } from './virt/qemu/driver.js';
import { probeHost, qemuInstalled } from './virt/qemu/probe.js';
import { hostname } from 'node:os';
import { ConfigError } from './config.js';
import { ComputeHosts } from './compute/hosts.js';
import { TaskRunner } from './tasks/runner.js';
import { nodeIdOf } from './tasks/node.js';
import { Networking } from './network/networking.js';
import { BuildBehaviours } from './compute/behaviours.js';
import { ServerGroups } from './compute/server-groups.js';
import { ConsoleTokens } from './compute/consoles.js';
import { Drives } from './storage/drives.js';
import { Snapshots } from './storage/snapshots.js';
import { Jobs } from './storage/jobs.js';
import { Library } from './storage/library.js';
import { Profiles } from './identity/profiles.js';
import { attachedDrives } from './tasks/guest-spec.js';
import type { MetadataService } from './compute/metadata-service.js';
import { guestContexts } from './api/cloudsigma/context.js';

/**
 * Which loops this process runs (DESIGN: roles are entry points, not forks). `serve` holds
 * every role and migrates; the others run against a schema `nimbus migrate` made.
 */
export type Role = { kind: 'serve' } | { kind: 'migrate' } | { kind: 'api' } | { kind: 'conductor' } | { kind: 'compute'; host: string };

/** Everything a request handler may use, built once per process. */
export interface Services {
  config: Config;
  role: Role;
  clock: Clock;
  db: Db;
  log: Logger;
  directory: Directory;
  tokens: Tokens;
  policy: Policy;
  images: Images;
  flavors: Flavors;
  driver: Driver;
  /**
   * The hosts this process does not run, for a step on one host that reads from another (a
   * cold migration's destination reads the source's disks): in a compute process their
   * processes, through their host endpoints; elsewhere the driver itself, which reaches every host.
   */
  otherHosts: Driver;
  hosts: ComputeHosts;
  runner: TaskRunner;
  network: Networking;
  behaviours: BuildBehaviours;
  serverGroups: ServerGroups;
  consoleTokens: ConsoleTokens;
  /** Block storage: drives, their snapshots, the library (images as drives), and the jobs clients watch. */
  drives: Drives;
  snapshots: Snapshots;
  library: Library;
  jobs: Jobs;
  profiles: Profiles;
  /** Tells the other processes on the database which of their caches to forget. */
  invalidations: Invalidations;
  /** The metadata service of this host's machines, when this process runs them and could start it. */
  metadataService?: MetadataService | null;
}

export async function createServices(config: Config, options: { clock?: Clock; log?: Logger; role?: Role } = {}): Promise<Services> {
  const role = options.role ?? { kind: 'serve' };
  const split = role.kind === 'api' || role.kind === 'conductor' || role.kind === 'compute';
  if (split && !isPostgresUrl(config.databaseUrl)) throw new ConfigError(`nimbus ${role.kind} shares its database with the other roles: set NIMBUS_DATABASE_URL=postgres://… (SQLite is for nimbus serve)`);
  setServiceDownTime(config.serviceDownTime);
  const log = options.log ?? createLogger(config.logLevel, config.logFormat);
  const clock = options.clock ?? new Clock();
  const tightened = secureDataDir(config.dataDir, sqliteFile(config.databaseUrl));
  if (tightened) log.warn({ paths: tightened }, 'data directory was readable by other users; tightened to 0700 directories and 0600 files');
  const db = await openDatabase(config.databaseUrl, (err) => log.warn({ err }, 'database connection lost; reconnecting'));
  if (split) {
    const pending = await pendingMigrations(db).catch(async (err) => {
      await db.destroy();
      throw err;
    });
    if (pending.length) {
      await db.destroy();
      throw new ConfigError(`the database schema is older than this Nimbus (${pending.length} migration${pending.length > 1 ? 's' : ''} not run, from ${pending[0]}): run "nimbus migrate" with this version first`);
    }
  } else {
    const applied = await migrate(db);
    if (applied.length) log.info({ migrations: applied }, 'database migrated');
  }
  const driver = await driverFor(role, config, log, db, clock);
  const invalidations = await startInvalidations(config.databaseUrl, db, log);
  const tokens = new Tokens(db, clock, config.tokenTtlSeconds, invalidations);
  const services: Services = {
    config,
    role,
    clock,
    db,
    log,
    directory: new Directory(db, clock, (event) => tokens.forget(event), () => tokens.forgetLogins()),
    tokens,
    policy: new Policy(),
    images: new Images(db, clock, config.imageDir),
    flavors: new Flavors(db, clock, invalidations),
    driver,
    otherHosts: role.kind === 'compute' ? otherHostsOf(db, clock, driver.name) : driver,
    hosts: new ComputeHosts(db, clock, driver, config.compute),
    runner: new TaskRunner(db, clock, log, {
      owner: nodeIdOf(config),
      leaseMs: config.taskLeaseSeconds * 1000,
      pollMs: config.taskPollMs,
      role: runnerRole(role),
      listenUrl: isPostgresUrl(config.databaseUrl) ? config.databaseUrl : undefined,
    }),
    network: new Networking(db, clock),
    behaviours: new BuildBehaviours(db, clock),
    serverGroups: new ServerGroups(db, clock),
    consoleTokens: new ConsoleTokens(db, clock),
    jobs: new Jobs(db, clock),
    profiles: new Profiles(db, clock),
    invalidations,
  } as Omit<Services, 'drives' | 'snapshots' | 'library'> as Services;
  // These read the other services through the whole, as Servers does.
  services.drives = new Drives(services);
  services.snapshots = new Snapshots(services);
  services.library = new Library(services);
  // The process that owns the machines answers their guests' context ports (not `nimbus migrate`).
  if (driver instanceof QemuDriver && (role.kind === 'serve' || role.kind === 'compute')) driver.serveContexts(guestContexts(services), (err) => log.warn({ err }, 'answering a server context request failed'));
  return services;
}

function runnerRole(role: Role): RunnerRole {
  if (role.kind === 'conductor') return { kind: 'conductor' };
  if (role.kind === 'compute') return { kind: 'compute', host: role.host };
  return { kind: 'all' };
}

/**
 * serve: every host of the configured driver. compute: the driver of its one host. api and
 * conductor run no guests: a remote driver whose hosts are the registered ones, and whose
 * drives (the conductor runs drive tasks) are the fake's storage when the driver is fake.
 */
async function driverFor(role: Role, config: Config, log: Logger, db: Db, clock: Clock): Promise<Driver> {
  if (role.kind === 'compute') {
    if (config.driver === 'qemu') return qemuDriver({ ...config, qemu: { ...config.qemu, host: role.host } }, log, db);
    return new FakeDriver({ ...config.fake, only: { name: role.host, hostIp: config.hostIp ?? '127.0.0.1' } }, fakeStorageRecords(db));
  }
  if (role.kind === 'api' || role.kind === 'conductor') {
    const storage = config.driver === 'fake' ? new FakeDriver(config.fake, fakeStorageRecords(db)) : undefined;
    return (await remoteDriverFor(db, clock, { storage, onError: (err) => log.warn({ err }, 'reading the registered hosts failed') })).driver;
  }
  return config.driver === 'qemu' ? qemuDriver(config, log, db) : new FakeDriver(config.fake, fakeStorageRecords(db));
}

/** The fake's drives and snapshots as the database records them: made ones only (not those still being copied). */
function fakeStorageRecords(db: Db): FakeStorageRecords {
  return {
    drive: async (id) => {
      const d = await db.selectFrom('drives').select(['size', 'storage_type', 'location']).where('id', '=', id).where('status', 'not in', ['creating', 'cloning_dst']).executeTakeFirst();
      return d ? { size: Number(d.size), storageType: d.storage_type, location: d.location } : null;
    },
    snapshot: async (id) => {
      const sn = await db.selectFrom('drive_snapshots').select(['drive_id', 'size']).where('id', '=', id).where('status', '=', 'available').executeTakeFirst();
      return sn ? { driveId: sn.drive_id, size: Number(sn.size) } : null;
    },
  };
}

/** The qemu driver on this host, after the probe that decides between KVM and TCG. */
async function qemuDriver(config: Config, log: Logger, db: Db): Promise<QemuDriver> {
  if (!qemuInstalled()) throw new ConfigError('the qemu driver needs qemu-system-x86_64 and qemu-img: apt-get install qemu-system-x86 qemu-utils xorriso');
  const probe = await probeHost();
  const driver = new QemuDriver(probe, {
    ...QEMU_DEFAULTS,
    dataDir: config.dataDir,
    host: config.qemu.host ?? hostname().split('.')[0],
    // Where other hosts reach this one: the incoming side of a live migration listens there.
    hostIp: config.hostIp ?? '127.0.0.1',
    shutdownTimeoutSeconds: config.qemu.shutdownTimeout,
    tbSizeMb: config.qemu.tbSizeMb,
    forceConfigDrive: config.qemu.forceConfigDrive,
    version: NOVA_VERSION,
    imageFile: async (id) => {
      const image = await db.selectFrom('images').select('disk_format').where('id', '=', id).executeTakeFirst();
      return image ? { path: new ImageFiles(config.imageDir).path(id), diskFormat: image.disk_format ?? 'raw' } : null;
    },
    drivesOf: (serverId) => attachedDrives(db, config.imageDir, serverId),
    serverOfDrive: async (driveId) => {
      const row = await db
        .selectFrom('drive_attachments')
        .innerJoin('servers', 'servers.id', 'drive_attachments.server_id')
        .select('servers.id')
        .where('drive_attachments.drive_id', '=', driveId)
        .where('servers.cloudsigma', 'is', null)
        .executeTakeFirst();
      return row?.id ?? null;
    },
  });
  log.info({ accel: probe.accel, qemu: probe.qemuVersion, kvm_failure: probe.kvmFailure ?? undefined }, `qemu driver: ${driver.describe()}`);
  return driver;
}

/** The version SMBIOS gives each machine, as Nova gives its own. */
const NOVA_VERSION = '27.0.0';

export async function closeServices(services: Services): Promise<void> {
  await services.metadataService?.close();
  if (services.driver instanceof QemuDriver) services.driver.close();
  await services.runner.stop();
  await services.invalidations.close();
  await services.db.destroy();
}
