import type { Logger } from 'pino';
import { createLogger } from './logging.js';
import { Clock } from './clock.js';
import type { Config } from './config.js';
import { openDatabase, migrate, sqliteFile, type Db } from './db/database.js';
import { secureDataDir } from './data-dir.js';
import { Directory } from './identity/directory.js';
import { Images } from './image/images.js';
import { Tokens } from './identity/tokens.js';
import { Policy } from './policy/policy.js';
import { Flavors } from './compute/flavors.js';
import { FakeDriver } from './virt/fake/driver.js';
import type { Driver } from './virt/driver.js';
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

/** Everything a request handler may use, built once per process. */
export interface Services {
  config: Config;
  clock: Clock;
  db: Db;
  log: Logger;
  directory: Directory;
  tokens: Tokens;
  policy: Policy;
  images: Images;
  flavors: Flavors;
  driver: Driver;
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
}

export async function createServices(config: Config, options: { clock?: Clock; log?: Logger } = {}): Promise<Services> {
  const log = options.log ?? createLogger(config.logLevel, config.logFormat);
  const clock = options.clock ?? new Clock();
  const tightened = secureDataDir(config.dataDir, sqliteFile(config.databaseUrl));
  if (tightened) log.warn({ paths: tightened }, 'data directory was readable by other users; tightened to 0700 directories and 0600 files');
  const db = await openDatabase(config.databaseUrl, (err) => log.warn({ err }, 'database connection lost; reconnecting'));
  const applied = await migrate(db);
  if (applied.length) log.info({ migrations: applied }, 'database migrated');
  const driver = new FakeDriver(config.fake);
  const tokens = new Tokens(db, clock, config.tokenTtlSeconds);
  const services: Services = {
    config,
    clock,
    db,
    log,
    directory: new Directory(db, clock, (event) => tokens.forget(event)),
    tokens,
    policy: new Policy(),
    images: new Images(db, clock, config.dataDir),
    flavors: new Flavors(db, clock),
    driver,
    hosts: new ComputeHosts(db, clock, driver),
    runner: new TaskRunner(db, clock, log, { owner: nodeIdOf(config), leaseMs: config.taskLeaseSeconds * 1000 }),
    network: new Networking(db, clock),
    behaviours: new BuildBehaviours(db, clock),
    serverGroups: new ServerGroups(db, clock),
    consoleTokens: new ConsoleTokens(db, clock),
    jobs: new Jobs(db, clock),
    profiles: new Profiles(db, clock),
  } as Omit<Services, 'drives' | 'snapshots' | 'library'> as Services;
  // These read the other services through the whole, as Servers does.
  services.drives = new Drives(services);
  services.snapshots = new Snapshots(services);
  services.library = new Library(services);
  return services;
}

export async function closeServices(services: Services): Promise<void> {
  await services.runner.stop();
  await services.db.destroy();
}
