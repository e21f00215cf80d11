import type { Kysely } from 'kysely';
import type { Schema, SubnetTable } from '../db/schema.js';
import { type Cidr, type Ip, contains, eui64, formatIp, parseCidr, parseIp } from './addresses.js';
import {
  NetworkingError,
  invalidInput,
  invalidIpForNetwork,
  invalidIpForSubnet,
  ipAddressGenerationFailure,
  ipAddressInUse,
  networkNotFound,
  subnetNotFound,
} from './errors.js';

/**
 * IP address management as Neutron's reference IPAM does it: pools around the gateway,
 * one address per IP version from the network's subnets (plus SLAAC addresses), a
 * requested address honoured or refused, addresses freed with their port.
 * Allocation takes the next free address in pool order, so it is predictable.
 */
type Q = Kysely<Schema>;

export interface Pool {
  start: string;
  end: string;
}

interface Range {
  first: bigint;
  last: bigint;
}

export interface FixedIpRequest {
  subnet_id?: string;
  ip_address?: string;
}

export interface FixedIp {
  subnet_id: string;
  ip_address: string;
}

const AUTO_ADDRESS_MODES = ['slaac', 'dhcpv6-stateless'];

export function subnetCidr(subnet: Pick<SubnetTable, 'cidr'>): Cidr {
  const parsed = parseCidr(subnet.cidr);
  if (!parsed.ok) throw new Error(`stored subnet cidr ${subnet.cidr} does not parse`); // a bug
  return parsed.cidr;
}

/** Subnets whose addresses come from the MAC (SLAAC), not from the pools. */
export function isAutoAddressSubnet(s: Pick<SubnetTable, 'ipv6_address_mode' | 'ipv6_ra_mode'>): boolean {
  return AUTO_ADDRESS_MODES.includes(s.ipv6_address_mode ?? '') || AUTO_ADDRESS_MODES.includes(s.ipv6_ra_mode ?? '');
}

/** The range of a subnet that may hold host addresses (neutron.ipam.utils.generate_pools). */
function hostRange(c: Cidr): Range | null {
  if (c.first === c.last) return { first: c.first, last: c.last };
  if (c.version === 4) return c.prefix <= 30 ? { first: c.first + 1n, last: c.last - 1n } : { first: c.first, last: c.last };
  return { first: c.first + 1n, last: c.last };
}

/** The default allocation pools: the host range with the gateway cut out. */
export function defaultPools(c: Cidr, gateway: Ip | null): Pool[] {
  const range = hostRange(c);
  if (!range) return [];
  const ranges: Range[] = [];
  if (gateway && gateway.value >= range.first && gateway.value <= range.last) {
    if (gateway.value > range.first) ranges.push({ first: range.first, last: gateway.value - 1n });
    if (gateway.value < range.last) ranges.push({ first: gateway.value + 1n, last: range.last });
  } else {
    ranges.push(range);
  }
  return ranges.map((r) => ({ start: formatIp({ version: c.version, value: r.first }), end: formatIp({ version: c.version, value: r.last }) }));
}

const rangeText = (c: Cidr, r: Range) => `${formatIp({ version: c.version, value: r.first })}-${formatIp({ version: c.version, value: r.last })}`;

/** Requested pools, checked as Neutron's validate_allocation_pools and validate_gw_out_of_pools do. */
export function checkPools(c: Cidr, cidrText: string, pools: Pool[], gateway: Ip | null): Pool[] {
  const ranges: Range[] = [];
  const poolRepr = (p: Pool) => `{'start': '${p.start}', 'end': '${p.end}'}`;
  for (const p of pools) {
    const start = parseIp(p.start);
    const end = parseIp(p.end);
    if (!start || !end || start.version !== end.version || start.value > end.value) {
      throw new NetworkingError('invalid', `The allocation pool ${poolRepr(p)} is not valid.`, 'InvalidAllocationPool');
    }
    const r = { first: start.value, last: end.value };
    if (start.version !== c.version) {
      throw new NetworkingError('invalid', `The allocation pool ${rangeText(c, r)} is not valid.`, 'InvalidAllocationPool');
    }
    const host = hostRange(c)!;
    if (r.first < host.first || r.last > host.last) {
      throw new NetworkingError('invalid', `The allocation pool ${rangeText(c, r)} spans beyond the subnet cidr ${cidrText}.`, 'OutOfBoundsAllocationPool');
    }
    ranges.push(r);
  }
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      if (ranges[i].first <= ranges[j].last && ranges[j].first <= ranges[i].last) {
        throw new NetworkingError(
          'conflict',
          `Found overlapping allocation pools: ${rangeText(c, ranges[i])} ${rangeText(c, ranges[j])} for subnet ${cidrText}.`,
          'OverlappingAllocationPools',
        );
      }
    }
  }
  if (gateway) {
    for (const r of ranges) {
      if (gateway.value >= r.first && gateway.value <= r.last) {
        throw new NetworkingError('conflict', `Gateway ip ${formatIp(gateway)} conflicts with allocation pool ${rangeText(c, r)}.`, 'GatewayConflictWithAllocationPools');
      }
    }
  }
  return ranges.map((r) => ({ start: formatIp({ version: c.version, value: r.first }), end: formatIp({ version: c.version, value: r.last }) }));
}

/** May a port hold this address on this subnet? Never the network or (IPv4) broadcast address. */
function validOnSubnet(c: Cidr, ip: Ip): boolean {
  if (!contains(c, ip)) return false;
  if (c.version === 6) return ip.value !== c.first;
  return c.prefix >= 31 || (ip.value !== c.first && ip.value !== c.last);
}

/**
 * Serialises address allocation on one network: on PostgreSQL the row lock holds until
 * the transaction ends, so two ports never pick the same "next free" address (SQLite
 * runs one writer at a time anyway). The primary key of ip_allocations stays the last word.
 * A network deleted before the lock was taken is 404 here, not a foreign key violation
 * at the next insert.
 */
export async function lockNetwork(tx: Q, networkId: string): Promise<void> {
  const r = await tx.updateTable('networks').set((eb) => ({ revision_number: eb.ref('revision_number') })).where('id', '=', networkId).executeTakeFirst();
  if (!Number(r.numUpdatedRows)) throw networkNotFound(networkId);
}

async function taken(tx: Q, subnetId: string): Promise<Set<bigint>> {
  const rows = await tx.selectFrom('ip_allocations').select('ip_address').where('subnet_id', '=', subnetId).execute();
  return new Set(rows.map((r) => parseIp(r.ip_address)!.value));
}

function gatewayOf(s: SubnetTable): Ip | null {
  return s.gateway_ip ? parseIp(s.gateway_ip) : null;
}

/** The next free address of a subnet in pool order, or null when the pools are exhausted. */
async function nextFree(tx: Q, s: SubnetTable, alsoTaken: string[] = []): Promise<string | null> {
  const c = subnetCidr(s);
  const used = await taken(tx, s.id);
  for (const a of alsoTaken) used.add(parseIp(a)!.value);
  const gw = gatewayOf(s);
  if (gw) used.add(gw.value);
  for (const p of JSON.parse(s.allocation_pools) as Pool[]) {
    const end = parseIp(p.end)!.value;
    for (let v = parseIp(p.start)!.value; v <= end; v++) {
      if (!used.has(v)) return formatIp({ version: c.version, value: v });
    }
  }
  return null;
}

async function isTaken(tx: Q, s: SubnetTable, ip: Ip, gatewayFree = false): Promise<boolean> {
  const gw = gatewayOf(s);
  if (!gatewayFree && gw && gw.value === ip.value) return true;
  const row = await tx.selectFrom('ip_allocations').select('port_id').where('subnet_id', '=', s.id).where('ip_address', '=', formatIp(ip)).executeTakeFirst();
  return !!row;
}

/**
 * Chooses the addresses of a port: the requested fixed IPs (each by subnet, address or
 * both), or, when none were asked for, one address from the IPv4 subnets, one from the
 * stateful IPv6 subnets, and the SLAAC address of every SLAAC subnet. The caller holds
 * lockNetwork and records the result with recordAllocations.
 */
export async function chooseAddresses(
  tx: Q,
  network: { id: string },
  subnets: SubnetTable[],
  mac: string,
  requested: FixedIpRequest[] | undefined,
  /** A router interface takes its subnet's gateway address, which no other port may. */
  gatewayFree = false,
): Promise<FixedIp[]> {
  const chosen: FixedIp[] = [];
  const claim = (subnet: SubnetTable, ip: string) => {
    if (chosen.some((c) => c.subnet_id === subnet.id && c.ip_address === ip)) throw ipAddressInUse(network.id, ip);
    chosen.push({ subnet_id: subnet.id, ip_address: ip });
  };

  if (requested === undefined) {
    const v4 = subnets.filter((s) => s.ip_version === 4);
    const v6Stateful = subnets.filter((s) => s.ip_version === 6 && !isAutoAddressSubnet(s));
    for (const group of [v4, v6Stateful]) {
      if (!group.length) continue;
      let got: FixedIp | null = null;
      for (const s of group) {
        const ip = await nextFree(tx, s);
        if (ip) {
          got = { subnet_id: s.id, ip_address: ip };
          break;
        }
      }
      if (!got) throw ipAddressGenerationFailure(network.id);
      chosen.push(got);
    }
    for (const s of subnets.filter((x) => x.ip_version === 6 && isAutoAddressSubnet(x))) {
      const ip = eui64(subnetCidr(s), mac);
      if (await isTaken(tx, s, ip)) throw ipAddressInUse(network.id, formatIp(ip));
      claim(s, formatIp(ip));
    }
    return chosen;
  }

  for (const fixed of requested) {
    if (!subnets.length) throw invalidInput('IP allocation requires subnets for network');
    let subnet: SubnetTable | undefined;
    const ip = fixed.ip_address !== undefined ? parseIp(fixed.ip_address) : null;
    if (fixed.subnet_id !== undefined) {
      subnet = subnets.find((s) => s.id === fixed.subnet_id);
      if (!subnet) {
        const exists = await tx.selectFrom('subnets').select('id').where('id', '=', fixed.subnet_id).executeTakeFirst();
        if (!exists) throw subnetNotFound(fixed.subnet_id);
        throw invalidInput(`Failed to create port on network ${network.id}, because fixed_ips included invalid subnet ${fixed.subnet_id}`);
      }
      if (ip && !validOnSubnet(subnetCidr(subnet), ip)) throw invalidIpForSubnet(fixed.ip_address!);
    } else if (ip) {
      subnet = subnets.find((s) => validOnSubnet(subnetCidr(s), ip));
      if (!subnet) throw invalidIpForNetwork(fixed.ip_address!);
    } else {
      throw invalidInput('IP allocation requires subnet_id or ip_address');
    }
    if (ip) {
      if (await isTaken(tx, subnet, ip, gatewayFree)) throw ipAddressInUse(network.id, formatIp(ip));
      claim(subnet, formatIp(ip));
    } else if (isAutoAddressSubnet(subnet)) {
      const auto = eui64(subnetCidr(subnet), mac);
      if (await isTaken(tx, subnet, auto)) throw ipAddressInUse(network.id, formatIp(auto));
      claim(subnet, formatIp(auto));
    } else {
      const next = await nextFree(tx, subnet, chosen.filter((c) => c.subnet_id === subnet!.id).map((c) => c.ip_address));
      if (!next) throw ipAddressGenerationFailure(network.id);
      claim(subnet, next);
    }
  }
  return chosen;
}

export async function recordAllocations(tx: Q, portId: string, networkId: string, ips: FixedIp[]): Promise<void> {
  if (!ips.length) return;
  await tx
    .insertInto('ip_allocations')
    .values(ips.map((ip, position) => ({ ...ip, port_id: portId, network_id: networkId, position })))
    .execute();
}

/** Frees every address a port holds. */
export async function releaseAddresses(tx: Q, portId: string): Promise<void> {
  await tx.deleteFrom('ip_allocations').where('port_id', '=', portId).execute();
}
