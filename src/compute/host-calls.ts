/**
 * Host calls between processes: a compute process serves its driver on the host endpoint
 * and says in the database where and with which secret; an API node or conductor reaches
 * the hosts through a RemoteDriver that reads that. The secret lives only in
 * host_endpoints, which no API answer reads.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../db/database.js';
import type { Clock } from '../clock.js';
import type { Driver, HostInfo, StorageType } from '../virt/driver.js';
import { RemoteDriver, type HostAddress, type RemoteDriverOptions } from '../virt/remote/driver.js';
import { serveHost, type HostEndpoint } from '../virt/remote/endpoint.js';
import { isUp } from '../scheduler/scheduler.js';
import { ConfigError } from '../config.js';

/** What a host's row in host_endpoints says of its driver besides the hosts row. */
interface EndpointInfo {
  hypervisorVersion?: number;
  storageTypes: StorageType[];
}

/**
 * Where a compute process listens for host calls: NIMBUS_HOST_IP:NIMBUS_HOST_PORT,
 * 127.0.0.1:8775 by default (port 0: any free one; the database records the one it got).
 * The address is also the one the other processes are told, so it cannot be a wildcard.
 */
export function hostListen(env: NodeJS.ProcessEnv = process.env): { host: string; port: number } {
  const port = Number(env.NIMBUS_HOST_PORT ?? 8775);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`NIMBUS_HOST_PORT must be a port number, got "${env.NIMBUS_HOST_PORT}"`);
  const host = env.NIMBUS_HOST_IP || '127.0.0.1';
  if (host === '0.0.0.0' || host === '::') throw new ConfigError(`NIMBUS_HOST_IP must be the address the API nodes reach this host at, not the wildcard ${host}`);
  return { host, port };
}

/**
 * Serves this process's driver to the other processes, for the hosts it runs, with a new
 * random secret, and records where (one row per host, rewritten at each start: the old
 * secret stops working with the process that had it).
 */
export async function startHostEndpoint(
  services: { db: Db; clock: Clock; log: Logger; driver: Driver },
  listen = hostListen(),
): Promise<HostEndpoint> {
  const { db, clock, log, driver } = services;
  const secret = randomBytes(32).toString('base64url');
  const endpoint = await serveHost(driver, { listen, secret, onError: (err, what) => log.warn({ err }, `host endpoint: ${what} failed`) }).catch((err) => {
    // Two computes on one machine share the default port: say which setting to change.
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE') throw new ConfigError(`the host endpoint's address ${listen.host}:${listen.port} is in use (another nimbus compute on this machine?): set NIMBUS_HOST_PORT to a free port, or 0 for any`);
    if (code === 'EADDRNOTAVAIL') throw new ConfigError(`NIMBUS_HOST_IP ${listen.host} is not an address of this machine`);
    throw err;
  });
  const now = clock.now().toISOString();
  for (const h of driver.hosts()) {
    const info: EndpointInfo = { hypervisorVersion: h.hypervisorVersion, storageTypes: driver.storageTypes() };
    const row = { url: endpoint.url, secret, driver: driver.name, info: JSON.stringify(info), updated_at: now };
    await db
      .insertInto('host_endpoints')
      .values({ host: h.name, ...row })
      .onConflict((oc) => oc.column('host').doUpdateSet(row))
      .execute();
  }
  log.info({ url: endpoint.url, hosts: driver.hosts().map((h) => h.name) }, 'host endpoint listening');
  return endpoint;
}

/** Where a host's process answers, read from the database at each call; null when the host is down. */
export function hostResolver(db: Db, clock: Clock): (host: string) => Promise<HostAddress | null> {
  return async (host) => {
    const row = await db
      .selectFrom('host_endpoints')
      .innerJoin('hosts', 'hosts.name', 'host_endpoints.host')
      .select(['host_endpoints.url', 'host_endpoints.secret', 'hosts.last_seen_at', 'hosts.forced_down'])
      .where('host_endpoints.host', '=', host)
      .executeTakeFirst();
    return row && isUp(row, clock.nowMs()) ? { url: row.url, secret: row.secret } : null;
  };
}

/**
 * What a compute process calls on another host (a cold migration's destination reads the
 * source's disks): that host's process, through its endpoint. It lists no hosts of its own.
 */
export function otherHostsOf(db: Db, clock: Clock, name: string): RemoteDriver {
  return new RemoteDriver({ name, resolve: hostResolver(db, clock), hosts: () => [] });
}

export interface RemoteHosts {
  driver: RemoteDriver;
  /** Reads the registered hosts again (the periodic read does it every refreshMs). */
  refresh(): Promise<void>;
  stop(): void;
}

/**
 * The driver of a process that runs no host: each call goes to the process of the host it
 * names, found in the database at the time of the call (a host down by its heartbeat, or
 * forced down, fails at once). hosts() is the registered hosts, read now and every refreshMs.
 */
export async function remoteDriverFor(
  db: Db,
  clock: Clock,
  options: Partial<Pick<RemoteDriverOptions, 'storage' | 'connectTimeoutMs' | 'callTimeoutMs' | 'longCallTimeoutMs'>> & { refreshMs?: number; onError?: (err: unknown) => void } = {},
): Promise<RemoteHosts> {
  let hosts: HostInfo[] = [];
  let storageTypes: StorageType[] = [];
  let name = 'fake';

  const refresh = async () => {
    const rows = await db
      .selectFrom('hosts')
      .leftJoin('host_endpoints', 'host_endpoints.host', 'hosts.name')
      .select(['hosts.name', 'hosts.availability_zone', 'hosts.vcpus', 'hosts.memory_mb', 'hosts.local_gb', 'hosts.host_ip', 'hosts.driver', 'host_endpoints.info'])
      .orderBy('hosts.num_id')
      .execute();
    hosts = rows.map((r) => {
      const info = r.info ? (JSON.parse(r.info) as EndpointInfo) : null;
      return {
        name: r.name,
        availabilityZone: r.availability_zone,
        vcpus: r.vcpus,
        memoryMb: r.memory_mb,
        localGb: r.local_gb,
        hostIp: r.host_ip,
        ...(info?.hypervisorVersion !== undefined ? { hypervisorVersion: info.hypervisorVersion } : {}),
      };
    });
    const first = rows.find((r) => r.info);
    storageTypes = first ? (JSON.parse(first.info!) as EndpointInfo).storageTypes : [];
    if (rows[0]) name = rows[0].driver;
  };

  const resolve = hostResolver(db, clock);

  await refresh();
  const driver = new RemoteDriver({
    ...options,
    name: () => name,
    resolve,
    hosts: () => hosts,
    storageTypes: () => storageTypes,
    // The first registered host does the drive work that names no host.
    storageHost: () => hosts[0]?.name ?? null,
  });
  const timer = setInterval(() => refresh().catch((err) => options.onError?.(err)), options.refreshMs ?? 5000);
  timer.unref();
  return { driver, refresh, stop: () => clearInterval(timer) };
}
