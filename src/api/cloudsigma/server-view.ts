/**
 * One server as CloudSigma shows it, from the core's row: the status mapping, the size
 * (cpu MHz, smp, mem bytes) from the embedded flavor, and the definition the face keeps
 * (servers.cloudsigma). A server made through the compute API has no such definition and
 * shows CloudSigma's defaults, with a NIC per address it has.
 */
import type { ServerRow, ServerFlavor } from '../../compute/servers.js';
import { parseJson } from '../../compute/servers.js';
import { TaskState as T, VmState as V } from '../../compute/states.js';
import { API, ref } from './http.js';

export const MIB = 1024 * 1024;
/** A compute-API server's cpu when its flavor says nothing: 2 GHz a core, CloudSigma's usual core. */
export const MHZ_PER_CORE = 2000;
export const CPU_SPEC = 'cloudsigma:cpu_mhz';

export interface Nic {
  boot_order: number | null;
  ip_v4_conf: { conf: string; ip: unknown } | null;
  ip_v6_conf: { conf: string; ip: unknown } | null;
  mac: string;
  model: string;
  vlan: unknown;
  firewall_policy?: unknown;
}

export interface DriveAttachment {
  boot_order: number | null;
  dev_channel: string;
  device: string;
  drive: string;
}

/** What servers.cloudsigma holds: the definition fields the core has no column for. */
export interface Definition {
  cpu: number;
  vnc_password: string | null;
  hypervisor: string;
  cpu_type: string;
  cpu_model: string | null;
  cpus_instead_of_cores: boolean;
  enable_numa: boolean;
  hv_relaxed: boolean;
  hv_tsc: boolean;
  context: boolean;
  auto_start: boolean;
  requirements: unknown[];
  drives: DriveAttachment[];
  nics: Nic[];
  pubkeys: string[];
  gpus: unknown[];
  epcs: unknown[];
}

export type Row = Pick<ServerRow, 'id' | 'name' | 'user_id' | 'project_id' | 'vm_state' | 'task_state' | 'host' | 'flavor' | 'metadata' | 'addresses' | 'launched_at' | 'cloudsigma'>;
export const VIEW_COLUMNS = ['id', 'name', 'user_id', 'project_id', 'vm_state', 'task_state', 'host', 'flavor', 'metadata', 'addresses', 'launched_at', 'cloudsigma'] as const;

const STOPPING = new Set<string>([T.POWERING_OFF, T.DELETING, T.SOFT_DELETING, T.SHELVING, T.SHELVING_IMAGE_PENDING_UPLOAD, T.SHELVING_IMAGE_UPLOADING, T.SHELVING_OFFLOADING]);
const STARTING = new Set<string>([T.POWERING_ON, T.UNSHELVING, T.RESUMING, T.UNPAUSING, T.REBUILDING, T.REBUILD_SPAWNING, T.REBUILD_BLOCK_DEVICE_MAPPING]);

/**
 * The core's state as CloudSigma's status (the README has the table). `hostDown`: the
 * server's host has stopped answering, so a guest on it cannot be reached.
 */
export function statusOf(vmState: string, taskState: string | null, hostDown: boolean): string {
  if (taskState && STOPPING.has(taskState)) return 'stopping';
  if (vmState === V.BUILDING || (taskState && STARTING.has(taskState))) return 'starting';
  if (hostDown && (vmState === V.ACTIVE || vmState === V.PAUSED || vmState === V.RESCUED || vmState === V.RESIZED)) return 'unavailable';
  switch (vmState) {
    case V.ACTIVE:
    case V.RESCUED:
    case V.RESIZED:
      return 'running';
    case V.PAUSED:
    case V.SUSPENDED:
      return 'paused';
    case V.ERROR:
      return 'unavailable';
    default:
      return 'stopped'; // stopped, shelved, shelved_offloaded, soft-deleted
  }
}

/** A definition for a server that has none (made through the compute API). */
export function defaultDefinition(flavor: ServerFlavor): Definition {
  const cpu = Number(flavor.extra_specs?.[CPU_SPEC]) || (flavor.vcpus || 1) * MHZ_PER_CORE;
  return { cpu, vnc_password: null, hypervisor: 'kvm', cpu_type: 'amd', cpu_model: null, cpus_instead_of_cores: false, enable_numa: false, hv_relaxed: false, hv_tsc: false, context: true, auto_start: false, requirements: [], drives: [], nics: [], pubkeys: [], gpus: [], epcs: [] };
}

export function definitionOf(row: Pick<Row, 'flavor' | 'cloudsigma'>): Definition {
  const flavor = parseJson<ServerFlavor>(row.flavor, {} as ServerFlavor);
  return { ...defaultDefinition(flavor), ...parseJson<Partial<Definition>>(row.cloudsigma, {}) };
}

type Addresses = Record<string, { version: number; addr: string; 'OS-EXT-IPS-MAC:mac_addr'?: string; 'OS-EXT-IPS:type'?: string }[]>;

const ipRef = (ip: string) => ({ resource_uri: `${API}/ips/${ip}/`, uuid: ip });

export interface ViewContext {
  /** Hosts that are down now. */
  downHosts: Set<string>;
  /** Server tags by server id (as tag references). */
  tags: Map<string, unknown[]>;
  /** Each server's drives as the storage core holds them. */
  drives: Map<string, { driveId: string; bootOrder: number | null; devChannel: string; device: string }[]>;
  /** Each server's jobs (a clone's), by server id. */
  jobs: Map<string, string[]>;
}

/** The full (detail) view. */
export function serverDetail(row: Row, v: ViewContext): Record<string, unknown> {
  const def = definitionOf(row);
  const flavor = parseJson<ServerFlavor>(row.flavor, {} as ServerFlavor);
  const status = statusOf(row.vm_state, row.task_state, !!row.host && v.downHosts.has(row.host));
  const live = status === 'running' || status === 'stopping' || status === 'paused';
  const addresses = Object.values(parseJson<Addresses>(row.addresses, {})).flat();
  // A compute-API server shows a NIC per address; a CloudSigma one its own NICs.
  const nics: Nic[] = row.cloudsigma
    ? def.nics
    : [...new Map(addresses.map((a) => [a['OS-EXT-IPS-MAC:mac_addr'] ?? a.addr, a])).values()].map((a) => ({ boot_order: null, ip_v4_conf: { conf: 'dhcp', ip: null }, ip_v6_conf: null, mac: a['OS-EXT-IPS-MAC:mac_addr'] ?? '', model: 'virtio', vlan: null }));
  const v4 = addresses.filter((a) => a.version === 4);
  const nicRuntime = (nic: Nic, i: number) => {
    const byMac = v4.find((a) => a['OS-EXT-IPS-MAC:mac_addr'] === nic.mac);
    const staticIp = nic.ip_v4_conf?.conf === 'static' ? (nic.ip_v4_conf.ip as { uuid?: string } | string | null) : null;
    const ip = typeof staticIp === 'string' ? staticIp : (staticIp?.uuid ?? byMac?.addr ?? v4[i]?.addr ?? null);
    return {
      interface_type: nic.vlan ? 'private' : 'public',
      io: { bytes_recv: 0, bytes_sent: 0, packets_recv: 0, packets_sent: 0 },
      ip_v4: ip && nic.ip_v4_conf ? ipRef(ip) : null,
      ip_v6: null,
    };
  };
  const driveIo = { bytes_read: 0, bytes_written: 0, count_flush: 0, count_read: 0, count_written: 0, total_time_ns_flush: 0, total_time_ns_read: 0, total_time_ns_write: 0 };
  return {
    auto_start: def.auto_start,
    context: def.context,
    cpu: def.cpu,
    cpu_model: def.cpu_model,
    cpu_type: def.cpu_type,
    cpus_instead_of_cores: def.cpus_instead_of_cores,
    drives: (v.drives.get(row.id) ?? []).map((d) => ({ boot_order: d.bootOrder, dev_channel: d.devChannel, device: d.device, drive: ref('drives', d.driveId), runtime: live ? { io: driveIo } : null })),
    enable_numa: def.enable_numa,
    epcs: def.epcs,
    gpus: def.gpus,
    grantees: [],
    hv_relaxed: def.hv_relaxed,
    hv_tsc: def.hv_tsc,
    hypervisor: def.hypervisor,
    jobs: (v.jobs.get(row.id) ?? []).map((j) => ref('jobs', j)),
    mem: flavor.ram * MIB,
    meta: parseJson<Record<string, string>>(row.metadata, {}),
    name: row.name,
    nics: nics.map((n, i) => ({ ...n, runtime: live ? nicRuntime(n, i) : null })),
    owner: ref('user', row.user_id),
    permissions: [],
    pubkeys: def.pubkeys.map((k) => ref('keypairs', k)),
    requirements: def.requirements,
    resource_uri: `${API}/servers/${row.id}/`,
    runtime: live ? { active_since: row.launched_at ? row.launched_at.replace(/\.\d+Z$/, '+00:00').replace(/Z$/, '+00:00') : null, nics: nics.map((n, i) => ({ ...nicRuntime(n, i), mac: n.mac })) } : null,
    smp: flavor.vcpus,
    status,
    tags: v.tags.get(row.id) ?? [],
    uuid: row.id,
    vnc_password: def.vnc_password,
  };
}

/** The short (list) view: name, owner, resource_uri, runtime, status, uuid. */
export function summaryOf(d: Record<string, unknown>): Record<string, unknown> {
  return { name: d.name, owner: d.owner, resource_uri: d.resource_uri, runtime: d.runtime, status: d.status, uuid: d.uuid };
}
