import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { FAKE_DEFAULTS, type FakeOptions } from './virt/fake/driver.js';
import type { LogFormat } from './logging.js';

/** One typed configuration. The defaults are the embedded setup: SQLite, fake driver, loopback. */
export interface Config {
  listen: { host: string; port: number };
  /** Base URL clients reach us at; used in links and the service catalog. */
  publicUrl: string;
  dataDir: string;
  /**
   * Where image data lives: a directory every API node (and compute host) mounts when
   * several share one database. Default `<dataDir>/images`.
   */
  imageDir: string;
  /** `sqlite:<path>` or `postgres://…`. */
  databaseUrl: string;
  driver: 'fake' | 'qemu';
  region: string;
  tokenTtlSeconds: number;
  logLevel: string;
  /** `json` lines, `pretty` readable lines, or `auto`: pretty on a terminal, JSON otherwise. */
  logFormat: LogFormat;
  /** The simulated hosts of the fake driver. */
  fake: FakeOptions;
  /** The qemu driver: this host's name, Nova's shutdown_timeout, force_config_drive and sync_power_state_interval, and TCG's translation cache. */
  qemu: QemuConfig;
  /**
   * Nova's reclaim_instance_interval, resize_confirm_window, shelved_offload_time (seconds),
   * and the allocation ratios a compute host registers with: the scheduler places up to
   * ratio × the host's vCPUs, memory and disk (Nova's cpu_, ram_, disk_allocation_ratio).
   */
  compute: {
    reclaimInstanceInterval: number;
    resizeConfirmWindow: number;
    shelvedOffloadTime: number;
    cpuAllocationRatio: number;
    ramAllocationRatio: number;
    diskAllocationRatio: number;
  };
  /**
   * This node's name among the nodes sharing a PostgreSQL database: its task leases carry
   * it, so a restarted node takes its own work back at once. Default: kept in
   * `<dataDir>/node-id`, made on first start.
   */
  nodeId?: string;
  /** How long a claimed task is this node's alone before another node may take it over. */
  taskLeaseSeconds: number;
  /** Milliseconds between looks at the tasks table when nothing woke the runner (PostgreSQL's NOTIFY does). */
  taskPollMs: number;
  /** Nova's service_down_time: seconds without a heartbeat after which a service is down. */
  serviceDownTime: number;
  /** Nova's scheduler max_attempts: a build whose host died is rescheduled until it has had this many. */
  schedulerMaxAttempts: number;
  /** `nimbus compute`: the address this host is reached at (its host_ip). */
  hostIp?: string;
  /** Passwords for the seeded users; generated on first start when absent. */
  adminPassword?: string;
  demoPassword?: string;
}

export interface QemuConfig {
  /** The compute host's name (default: the machine's hostname). */
  host?: string;
  shutdownTimeout: number;
  forceConfigDrive: boolean;
  /** Seconds between comparisons of every machine's real power state with the database (-1: never). */
  syncPowerStateInterval: number;
  tbSizeMb: number;
  /**
   * Serve the metadata service at 169.254.169.254:80 to this host's machines (needs root or
   * CAP_NET_ADMIN; without them, the config drive). `auto`: only when nothing already
   * answers there (a host that is itself a cloud's guest keeps its own cloud's service).
   */
  metadataService: boolean | 'auto';
}

export const QEMU_CONFIG_DEFAULTS: QemuConfig = { shutdownTimeout: 60, forceConfigDrive: false, syncPowerStateInterval: 600, tbSizeMb: 32, metadataService: 'auto' };

export type ConfigFile = Partial<Omit<Config, 'listen' | 'fake' | 'compute' | 'qemu'>> & {
  listen?: string;
  fake?: Partial<FakeOptions>;
  qemu?: Partial<QemuConfig>;
  compute?: Partial<Config['compute']>;
  fakeHosts?: string | number;
  fakeOperationMs?: string | number;
  fakeBusyWindowMs?: string | number;
  fakeDriveMs?: string | number;
};

const ENV: Record<string, keyof ConfigFile> = {
  NIMBUS_LISTEN: 'listen',
  NIMBUS_PUBLIC_URL: 'publicUrl',
  NIMBUS_DATA_DIR: 'dataDir',
  NIMBUS_IMAGE_DIR: 'imageDir',
  NIMBUS_DATABASE_URL: 'databaseUrl',
  NIMBUS_DRIVER: 'driver',
  NIMBUS_REGION: 'region',
  NIMBUS_TOKEN_TTL: 'tokenTtlSeconds',
  NIMBUS_LOG_LEVEL: 'logLevel',
  NIMBUS_LOG_FORMAT: 'logFormat',
  NIMBUS_ADMIN_PASSWORD: 'adminPassword',
  NIMBUS_DEMO_PASSWORD: 'demoPassword',
  NIMBUS_FAKE_HOSTS: 'fakeHosts',
  NIMBUS_FAKE_OPERATION_MS: 'fakeOperationMs',
  NIMBUS_NODE_ID: 'nodeId',
  NIMBUS_TASK_LEASE_SECONDS: 'taskLeaseSeconds',
  NIMBUS_TASK_POLL_MS: 'taskPollMs',
  NIMBUS_SERVICE_DOWN_TIME: 'serviceDownTime',
  NIMBUS_SCHEDULER_MAX_ATTEMPTS: 'schedulerMaxAttempts',
  NIMBUS_HOST_IP: 'hostIp',
  NIMBUS_FAKE_BUSY_WINDOW_MS: 'fakeBusyWindowMs',
  NIMBUS_FAKE_DRIVE_MS: 'fakeDriveMs',
};

export class ConfigError extends Error {}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const LOG_FORMATS: LogFormat[] = ['auto', 'pretty', 'json'];

function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  if (!m) throw new ConfigError(`listen must be host:port, got "${value}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new ConfigError(`listen port out of range: ${port}`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/**
 * Precedence: built-in defaults < config file (NIMBUS_CONFIG or --config) < environment < overrides.
 */
export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv; overrides?: ConfigFile } = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file ?? env.NIMBUS_CONFIG;
  let merged: ConfigFile = {};
  if (file) {
    if (!existsSync(file)) throw new ConfigError(`config file not found: ${file}`);
    try {
      merged = JSON.parse(readFileSync(file, 'utf8')) as ConfigFile;
    } catch (err) {
      throw new ConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
    }
  }
  for (const [name, key] of Object.entries(ENV)) {
    if (env[name] !== undefined && env[name] !== '') (merged as Record<string, unknown>)[key] = env[name];
  }
  merged = { ...merged, ...options.overrides };

  const listen = parseListen(String(merged.listen ?? '127.0.0.1:8774'));
  const dataDir = resolve(String(merged.dataDir ?? '.nimbus'));
  const driver = String(merged.driver ?? 'fake');
  if (driver !== 'fake' && driver !== 'qemu') throw new ConfigError(`driver must be fake or qemu, got "${driver}"`);
  const logLevel = String(merged.logLevel ?? 'info');
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`logLevel must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  const logFormat = String(merged.logFormat ?? 'auto') as LogFormat;
  if (!LOG_FORMATS.includes(logFormat)) throw new ConfigError(`logFormat must be one of ${LOG_FORMATS.join(', ')}, got "${logFormat}"`);
  const ttl = Number(merged.tokenTtlSeconds ?? 3600);
  if (!Number.isInteger(ttl) || ttl <= 0) throw new ConfigError(`tokenTtlSeconds must be a positive integer`);
  const fake = { ...FAKE_DEFAULTS, ...merged.fake };
  if (merged.fakeHosts !== undefined) fake.hosts = Number(merged.fakeHosts);
  if (merged.fakeOperationMs !== undefined) fake.operationMs = Number(merged.fakeOperationMs);
  if (merged.fakeBusyWindowMs !== undefined) fake.busyWindowMs = Number(merged.fakeBusyWindowMs);
  if (merged.fakeDriveMs !== undefined) fake.driveMs = Number(merged.fakeDriveMs);
  if (!Number.isInteger(fake.hosts) || fake.hosts < 1) throw new ConfigError(`fake.hosts must be a positive integer`);
  // A host's size is a 32-bit integer column on both databases.
  for (const key of ['vcpus', 'memoryMb', 'localGb'] as const) {
    if (!Number.isInteger(fake[key]) || fake[key] < 1 || fake[key] > 2 ** 31 - 1) throw new ConfigError(`fake.${key} must be an integer from 1 to ${2 ** 31 - 1}`);
  }
  if (!Number.isFinite(fake.operationMs) || fake.operationMs < 0) throw new ConfigError(`fake.operationMs must be a number of milliseconds >= 0`);
  if (!Number.isFinite(fake.busyWindowMs) || fake.busyWindowMs < 0) throw new ConfigError(`fake.busyWindowMs must be a number of milliseconds >= 0`);
  if (!Number.isFinite(fake.driveMs) || fake.driveMs < 0) throw new ConfigError(`fake.driveMs must be a number of milliseconds >= 0`);
  // The ratios' defaults are Nova's initial_*_allocation_ratio (since Stein).
  const compute = { reclaimInstanceInterval: 0, resizeConfirmWindow: 0, shelvedOffloadTime: 0, cpuAllocationRatio: 4.0, ramAllocationRatio: 1.0, diskAllocationRatio: 1.0, ...merged.compute };
  for (const [key, value] of Object.entries(compute)) {
    if (key.endsWith('AllocationRatio')) {
      if (typeof value !== 'number' || !(value > 0) || value > 1000) throw new ConfigError(`compute.${key} must be a number above 0 and at most 1000`);
      continue;
    }
    const min = key === 'shelvedOffloadTime' ? -1 : 0;
    if (!Number.isInteger(value) || (value as number) < min) throw new ConfigError(`compute.${key} must be an integer number of seconds >= ${min}`);
  }
  const qemu = { ...QEMU_CONFIG_DEFAULTS, ...merged.qemu };
  if (!Number.isInteger(qemu.shutdownTimeout) || qemu.shutdownTimeout < 0) throw new ConfigError('qemu.shutdownTimeout must be an integer number of seconds >= 0');
  if (!Number.isInteger(qemu.syncPowerStateInterval) || qemu.syncPowerStateInterval < -1 || qemu.syncPowerStateInterval === 0) throw new ConfigError('qemu.syncPowerStateInterval must be a positive integer number of seconds, or -1 (never)');
  if (!Number.isInteger(qemu.tbSizeMb) || qemu.tbSizeMb < 1) throw new ConfigError('qemu.tbSizeMb must be a positive integer number of MiB');
  if (typeof qemu.forceConfigDrive !== 'boolean') throw new ConfigError('qemu.forceConfigDrive must be true or false');
  if (typeof qemu.metadataService !== 'boolean' && qemu.metadataService !== 'auto') throw new ConfigError('qemu.metadataService must be true, false or "auto"');
  if (qemu.host !== undefined && !/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(String(qemu.host))) throw new ConfigError('qemu.host must be a host name');
  const nodeId = merged.nodeId === undefined ? undefined : String(merged.nodeId);
  if (nodeId !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(nodeId)) throw new ConfigError('nodeId must be 1 to 64 letters, digits, ".", "_", ":" or "-"');
  const taskLeaseSeconds = Number(merged.taskLeaseSeconds ?? 30);
  if (!Number.isInteger(taskLeaseSeconds) || taskLeaseSeconds < 1 || taskLeaseSeconds > 86400) throw new ConfigError('taskLeaseSeconds must be an integer number of seconds from 1 to 86400');
  const positive = (key: 'taskPollMs' | 'serviceDownTime' | 'schedulerMaxAttempts', fallback: number, max: number) => {
    const v = Number(merged[key] ?? fallback);
    if (!Number.isInteger(v) || v < 1 || v > max) throw new ConfigError(`${key} must be an integer from 1 to ${max}`);
    return v;
  };
  const taskPollMs = positive('taskPollMs', 250, 3600000);
  const serviceDownTime = positive('serviceDownTime', 60, 86400);
  const schedulerMaxAttempts = positive('schedulerMaxAttempts', 3, 100);
  const hostIp = merged.hostIp === undefined ? undefined : String(merged.hostIp);
  if (hostIp !== undefined && !/^[0-9a-fA-F.:]+$/.test(hostIp)) throw new ConfigError('hostIp must be an IP address');
  const databaseUrl = String(merged.databaseUrl ?? `sqlite:${resolve(dataDir, 'nimbus.sqlite')}`);
  if (!/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(databaseUrl)) throw new ConfigError('databaseUrl must be sqlite:<path> or postgres://user:password@host/database');
  const urlHost = listen.host.includes(':') ? `[${listen.host}]` : listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host;
  return {
    listen,
    publicUrl: String(merged.publicUrl ?? `http://${urlHost}:${listen.port}`).replace(/\/+$/, ''),
    dataDir,
    imageDir: resolve(dataDir, String(merged.imageDir ?? 'images')),
    databaseUrl,
    driver,
    region: String(merged.region ?? 'RegionOne'),
    tokenTtlSeconds: ttl,
    logLevel,
    logFormat,
    fake,
    qemu,
    compute,
    nodeId,
    taskLeaseSeconds,
    taskPollMs,
    serviceDownTime,
    schedulerMaxAttempts,
    hostIp,
    adminPassword: merged.adminPassword,
    demoPassword: merged.demoPassword,
  };
}
