import { conflict } from '../errors.js';
import { parseJson, type Server, type ServerFlavor } from './servers.js';
import { PowerState } from './states.js';

/** nova.compute.power_state.STATE_MAP: the names diagnostics and their errors use. */
export const POWER_STATE_NAMES: Record<number, string> = {
  [PowerState.NOSTATE]: 'pending',
  [PowerState.RUNNING]: 'running',
  [PowerState.PAUSED]: 'paused',
  [PowerState.SHUTDOWN]: 'shutdown',
  [PowerState.CRASHED]: 'crashed',
  [PowerState.SUSPENDED]: 'suspended',
};

export interface CpuStats {
  id: number;
  /** CPU time used, in nanoseconds. */
  time: number;
  utilisation: number;
}

export interface NicStats {
  mac: string;
  rxOctets: number;
  rxPackets: number;
  rxErrors: number;
  rxDrop: number;
  txOctets: number;
  txPackets: number;
  txErrors: number;
  txDrop: number;
}

export interface DiskStats {
  /** The guest's device name (vda, vdb …). */
  device: string;
  readBytes: number;
  readRequests: number;
  writeBytes: number;
  writeRequests: number;
  errors: number;
}

/** A running guest's counters, in no API's format. */
export interface Diagnostics {
  state: string;
  /** Seconds since the guest was launched. */
  uptime: number;
  configDrive: boolean;
  cpus: CpuStats[];
  nics: NicStats[];
  disks: DiskStats[];
  memoryMb: { maximum: number; used: number };
}

/**
 * Diagnostics of a simulated guest: shaped by its flavor (one CPU per vCPU, a disk for root,
 * ephemeral and swap, the flavor's RAM), one NIC per port, and counters that grow with
 * uptime so that two readings differ as on a real host. Refused, as Nova refuses, for a
 * server without a host or not running.
 */
export function diagnose(server: Server, nowMs: number): Diagnostics {
  if (!server.host) throw conflict(`Instance ${server.id} is not ready`);
  if (server.power_state !== PowerState.RUNNING) {
    throw conflict(`Cannot 'get_diagnostics' instance ${server.id} while it is in power state ${POWER_STATE_NAMES[server.power_state] ?? 'pending'}`);
  }
  const flavor = parseJson<Partial<ServerFlavor>>(server.flavor, {});
  const uptime = server.launched_at ? Math.max(0, Math.floor((nowMs - Date.parse(server.launched_at)) / 1000)) : 0;

  const cpus = Array.from({ length: Math.max(1, server.vcpus) }, (_, id) => ({ id, time: 2_500_000_000 + uptime * 40_000_000, utilisation: 4 }));

  const addresses = parseJson<Record<string, { 'OS-EXT-IPS-MAC:mac_addr'?: string }[]>>(server.addresses, {});
  const macs = [...new Set(Object.values(addresses).flatMap((list) => list.map((a) => a['OS-EXT-IPS-MAC:mac_addr']).filter((m): m is string => !!m)))];
  const nics = macs.map((mac) => {
    const rxOctets = 2_000_000 + uptime * 1_200;
    const txOctets = 140_000 + uptime * 300;
    return { mac, rxOctets, rxPackets: Math.floor(rxOctets / 90), rxErrors: 0, rxDrop: 0, txOctets, txPackets: Math.floor(txOctets / 210), txErrors: 0, txDrop: 0 };
  });

  const sizes = [flavor.disk ?? server.disk_gb, flavor.ephemeral ?? 0, flavor.swap ?? 0];
  const disks = sizes
    .map((size, i) => ({ size, boot: i === 0 }))
    .filter((d) => d.boot || d.size > 0)
    .map((d, i) => {
      const readBytes = d.boot ? 60 * 2 ** 20 + uptime * 4_096 : 262_144;
      const writeBytes = d.boot ? 6 * 2 ** 20 + uptime * 2_048 : 0;
      return { device: `vd${String.fromCharCode(97 + i)}`, readBytes, readRequests: Math.floor(readBytes / 32_768), writeBytes, writeRequests: Math.floor(writeBytes / 8_192), errors: 0 };
    });

  const ram = flavor.ram ?? server.memory_mb;
  return {
    state: POWER_STATE_NAMES[server.power_state],
    uptime,
    configDrive: server.config_drive !== '',
    cpus,
    nics,
    disks,
    memoryMb: { maximum: ram, used: Math.min(ram, Math.round(ram * 0.35)) },
  };
}
