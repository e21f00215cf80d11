import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { NetworkTable, Schema, SubnetTable } from '../db/schema.js';
import { type Ip, contains, formatCidr, formatIp, overlaps, parseCidr, parseIp } from './addresses.js';
import { badAttribute, invalidInput, networkInUse, networkNotFound, subnetInUse, subnetNotFound } from './errors.js';
import { type Pool, checkPools, defaultPools, isAutoAddressSubnet, lockNetwork, subnetCidr } from './ipam.js';
import { enforceNetworkQuota } from './quotas.js';

type Q = Kysely<Schema>;

/** Who is looking: admins see every project's resources, others their own and what is shared. */
export interface Viewer {
  projectId: string | null;
  isAdmin: boolean;
}

export interface NetworkRecord extends NetworkTable {
  subnets: string[];
}

export interface NetworkInput {
  name: string;
  description: string;
  admin_state_up: boolean;
  shared: boolean;
  external: boolean;
  mtu: number;
  port_security_enabled: boolean;
  /** The default external network (auto-allocated-topology's is_default). */
  is_default?: boolean;
}

export const DEFAULT_MTU = 1500;

/** Neutron's rule:shared / rule:external: anyone may see (and use) a shared network. */
export function canSeeNetwork(v: Viewer, n: Pick<NetworkTable, 'project_id' | 'shared' | 'external'>): boolean {
  return v.isAdmin || n.project_id === v.projectId || n.shared === 1 || n.external === 1;
}

/** Ports owned by the network itself (DHCP, router) do not keep it in use. */
export const isNetworkOwned = (deviceOwner: string) => deviceOwner.startsWith('network:');

/** The L3 service's ports: a router's gateway and interfaces, a floating IP's address. */
export const L3_OWNERS = ['network:router_gateway', 'network:router_interface', 'network:floatingip'];

/** What keeps a network or subnet in use: any port but the network's own (DHCP), L3's included, as in Neutron. */
const keepsInUse = (deviceOwner: string) => !isNetworkOwned(deviceOwner) || L3_OWNERS.includes(deviceOwner);

async function withSubnets(db: Q, rows: NetworkTable[]): Promise<NetworkRecord[]> {
  const bySubnet = new Map<string, string[]>(rows.map((r) => [r.id, []]));
  for (let i = 0; i < rows.length; i += 500) {
    const ids = rows.slice(i, i + 500).map((r) => r.id);
    const subs = await db.selectFrom('subnets').select(['id', 'network_id']).where('network_id', 'in', ids).orderBy('created_at').orderBy('id').execute();
    for (const s of subs) bySubnet.get(s.network_id)!.push(s.id);
  }
  return rows.map((r) => ({ ...r, subnets: bySubnet.get(r.id)! }));
}

export async function listNetworks(db: Q, v: Viewer): Promise<NetworkRecord[]> {
  let q = db.selectFrom('networks').selectAll();
  if (!v.isAdmin) {
    q = q.where((eb) => eb.or([eb('project_id', '=', v.projectId ?? ''), eb('shared', '=', 1), eb('external', '=', 1)]));
  }
  return withSubnets(db, await q.orderBy('created_at').orderBy('id').execute());
}

/** The network, or Neutron's 404 when it does not exist or the viewer may not see it. */
export async function findNetwork(db: Q, v: Viewer, id: string): Promise<NetworkRecord> {
  const row = await db.selectFrom('networks').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || !canSeeNetwork(v, row)) throw networkNotFound(id);
  return (await withSubnets(db, [row]))[0];
}

export async function createNetwork(tx: Q, now: string, projectId: string, input: NetworkInput): Promise<NetworkRecord> {
  await enforceNetworkQuota(tx, projectId, 'network');
  const row: NetworkTable = {
    id: randomUUID(),
    project_id: projectId,
    name: input.name,
    description: input.description,
    admin_state_up: input.admin_state_up ? 1 : 0,
    shared: input.shared ? 1 : 0,
    external: input.external ? 1 : 0,
    mtu: input.mtu,
    port_security_enabled: input.port_security_enabled ? 1 : 0,
    status: 'ACTIVE',
    is_default: input.is_default ? 1 : 0,
    revision_number: 1,
    created_at: now,
    updated_at: now,
  };
  await tx.insertInto('networks').values(row).execute();
  return { ...row, subnets: [] };
}

export async function updateNetwork(tx: Q, now: string, id: string, patch: Partial<NetworkInput>): Promise<void> {
  const values: Partial<NetworkTable> = { updated_at: now };
  if (patch.name !== undefined) values.name = patch.name;
  if (patch.description !== undefined) values.description = patch.description;
  if (patch.admin_state_up !== undefined) values.admin_state_up = patch.admin_state_up ? 1 : 0;
  if (patch.shared !== undefined) values.shared = patch.shared ? 1 : 0;
  if (patch.external !== undefined) values.external = patch.external ? 1 : 0;
  if (patch.mtu !== undefined) values.mtu = patch.mtu;
  if (patch.port_security_enabled !== undefined) values.port_security_enabled = patch.port_security_enabled ? 1 : 0;
  if (patch.is_default !== undefined) values.is_default = patch.is_default ? 1 : 0;
  await tx
    .updateTable('networks')
    .set((eb) => ({ ...values, revision_number: eb('revision_number', '+', 1) }))
    .where('id', '=', id)
    .execute();
}

/** Deletes a network and its subnets; 409 while a port other than the network's own is on it. */
export async function deleteNetwork(tx: Q, id: string): Promise<void> {
  // Under the network's lock, as ports are created: none lands on it between the check and the delete.
  await lockNetwork(tx, id);
  const ports = await tx.selectFrom('ports').select('device_owner').where('network_id', '=', id).execute();
  if (ports.some((p) => keepsInUse(p.device_owner))) throw networkInUse(id);
  await tx.deleteFrom('networks').where('id', '=', id).execute();
}

/** Changing a shared network back to private is refused while other projects use it. */
export async function otherProjectsUse(tx: Q, network: NetworkTable): Promise<boolean> {
  const row = await tx.selectFrom('ports').select('id').where('network_id', '=', network.id).where('project_id', '!=', network.project_id).executeTakeFirst();
  return !!row;
}

// ---- subnets ----

export interface HostRoute {
  destination: string;
  nexthop: string;
}

export interface SubnetInput {
  name: string;
  description: string;
  ip_version: number;
  cidr: string;
  /** undefined: the first host address; null: no gateway. */
  gateway_ip?: string | null;
  allocation_pools?: Pool[];
  enable_dhcp: boolean;
  dns_nameservers: string[];
  host_routes: HostRoute[];
  ipv6_ra_mode: string | null;
  ipv6_address_mode: string | null;
}

export type SubnetPatch = Partial<Pick<SubnetInput, 'name' | 'description' | 'gateway_ip' | 'allocation_pools' | 'enable_dhcp' | 'dns_nameservers' | 'host_routes'>>;

/** Subnets are visible to their project and to everyone who can use their (shared) network. */
export async function listSubnets(db: Q, v: Viewer): Promise<SubnetTable[]> {
  let q = db.selectFrom('subnets').selectAll('subnets');
  if (!v.isAdmin) {
    q = q
      .innerJoin('networks', 'networks.id', 'subnets.network_id')
      .where((eb) => eb.or([eb('subnets.project_id', '=', v.projectId ?? ''), eb('networks.shared', '=', 1)]));
  }
  return q.orderBy('subnets.created_at').orderBy('subnets.id').execute();
}

export async function findSubnet(db: Q, v: Viewer, id: string): Promise<SubnetTable> {
  const row = await db.selectFrom('subnets').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw subnetNotFound(id);
  if (!v.isAdmin && row.project_id !== v.projectId) {
    const net = await db.selectFrom('networks').select('shared').where('id', '=', row.network_id).executeTakeFirst();
    if (!net?.shared) throw subnetNotFound(id);
  }
  return row;
}

export async function subnetsOf(db: Q, networkId: string): Promise<SubnetTable[]> {
  return db.selectFrom('subnets').selectAll().where('network_id', '=', networkId).orderBy('created_at').orderBy('id').execute();
}

function checkIp(attr: string, text: string): Ip {
  const ip = parseIp(text);
  if (!ip) throw badAttribute(attr, `'${text}' is not a valid IP address`);
  return ip;
}

function checkHostRoutes(routes: HostRoute[]): HostRoute[] {
  return routes.map((r) => {
    const dest = parseCidr(r.destination);
    if (!dest.ok) throw badAttribute('host_routes', `'${r.destination}' is not a valid CIDR`);
    return { destination: formatCidr(dest.cidr), nexthop: formatIp(checkIp('host_routes', r.nexthop)) };
  });
}

function checkNameservers(list: string[]): string[] {
  const seen = new Set<string>();
  return list.map((n) => {
    const ip = parseIp(n);
    if (!ip) throw badAttribute('dns_nameservers', `'${n}' is not a valid nameserver. '${n}' is not a valid IP address`);
    const text = formatIp(ip);
    if (seen.has(text)) throw badAttribute('dns_nameservers', `Duplicate nameserver '${n}'`);
    seen.add(text);
    return text;
  });
}

/** The gateway of a subnet as Neutron checks it (_validate_subnet). */
function checkGateway(cidr: ReturnType<typeof subnetCidr>, version: number, text: string): Ip {
  const gw = checkIp('gateway_ip', text);
  if (gw.version !== version) throw invalidInput(`gateway_ip '${text}' does not match the ip_version '${version}'`);
  if (contains(cidr, gw) && cidr.version === 4 && (gw.value === cidr.first || gw.value === cidr.last)) {
    throw invalidInput('Gateway is not valid on subnet');
  }
  return gw;
}

/** Creates a subnet with Neutron's checks and defaults (gateway at the first host, pools around it). */
export async function createSubnet(tx: Q, now: string, projectId: string, network: NetworkTable, input: SubnetInput): Promise<SubnetTable> {
  await enforceNetworkQuota(tx, projectId, 'subnet');
  const parsed = parseCidr(input.cidr);
  if (!parsed.ok) throw badAttribute('cidr', parsed.reason);
  const cidr = parsed.cidr;
  const cidrText = formatCidr(cidr);
  if (cidr.version !== input.ip_version) throw invalidInput(`cidr '${input.cidr}' does not match the ip_version '${input.ip_version}'`);
  if (cidr.prefix === 0) throw invalidInput('0 is not allowed as CIDR prefix length');
  if (input.ip_version === 4 && (input.ipv6_ra_mode || input.ipv6_address_mode)) {
    throw invalidInput(`${input.ipv6_ra_mode ? 'ipv6_ra_mode' : 'ipv6_address_mode'} is not valid when ip_version is 4`);
  }
  if (input.ipv6_ra_mode && input.ipv6_address_mode && input.ipv6_ra_mode !== input.ipv6_address_mode) {
    throw invalidInput(
      `ipv6_ra_mode set to '${input.ipv6_ra_mode}' with ipv6_address_mode set to '${input.ipv6_address_mode}' is not valid. If both attributes are set, they must be the same value`,
    );
  }
  if (isAutoAddressSubnet(input) && cidr.prefix !== 64) {
    throw invalidInput(`Invalid CIDR ${cidrText} for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64`);
  }
  if (input.enable_dhcp && ((cidr.version === 4 && cidr.prefix > 30) || (cidr.version === 6 && cidr.prefix > 126))) {
    throw invalidInput('Subnet has a prefix length that is incompatible with DHCP service enabled');
  }
  let gateway: Ip | null = null;
  if (input.gateway_ip === undefined) {
    gateway = cidr.first === cidr.last ? null : { version: cidr.version, value: cidr.first + 1n };
  } else if (input.gateway_ip !== null) {
    gateway = checkGateway(cidr, input.ip_version, input.gateway_ip);
  }
  // Under the network's lock, so two overlapping subnets created at once cannot both pass.
  await lockNetwork(tx, network.id);
  for (const other of await subnetsOf(tx, network.id)) {
    if (overlaps(subnetCidr(other), cidr)) {
      throw invalidInput(`Requested subnet with cidr: ${cidrText} for network: ${network.id} overlaps with another subnet`);
    }
  }
  const pools = input.allocation_pools ? checkPools(cidr, cidrText, input.allocation_pools, gateway) : defaultPools(cidr, gateway);
  const row: SubnetTable = {
    id: randomUUID(),
    project_id: projectId,
    network_id: network.id,
    name: input.name,
    description: input.description,
    ip_version: input.ip_version,
    cidr: cidrText,
    gateway_ip: gateway ? formatIp(gateway) : null,
    allocation_pools: JSON.stringify(pools),
    enable_dhcp: input.enable_dhcp ? 1 : 0,
    dns_nameservers: JSON.stringify(checkNameservers(input.dns_nameservers)),
    host_routes: JSON.stringify(checkHostRoutes(input.host_routes)),
    ipv6_ra_mode: input.ipv6_ra_mode,
    ipv6_address_mode: input.ipv6_address_mode,
    revision_number: 0,
    created_at: now,
    updated_at: now,
  };
  await tx.insertInto('subnets').values(row).execute();
  await tx
    .updateTable('networks')
    .set((eb) => ({ revision_number: eb('revision_number', '+', 1), updated_at: now }))
    .where('id', '=', network.id)
    .execute();
  return row;
}

export async function updateSubnet(tx: Q, now: string, subnet: SubnetTable, patch: SubnetPatch): Promise<SubnetTable> {
  const cidr = subnetCidr(subnet);
  const values: Partial<SubnetTable> = { updated_at: now };
  if (patch.name !== undefined) values.name = patch.name;
  if (patch.description !== undefined) values.description = patch.description;
  let gateway: Ip | null = subnet.gateway_ip ? parseIp(subnet.gateway_ip) : null;
  if (patch.gateway_ip !== undefined) {
    gateway = patch.gateway_ip === null ? null : checkGateway(cidr, subnet.ip_version, patch.gateway_ip);
    values.gateway_ip = gateway ? formatIp(gateway) : null;
  }
  if (patch.allocation_pools !== undefined || patch.gateway_ip !== undefined) {
    const pools = patch.allocation_pools ?? (JSON.parse(subnet.allocation_pools) as Pool[]);
    values.allocation_pools = JSON.stringify(checkPools(cidr, subnet.cidr, pools, gateway));
  }
  if (patch.enable_dhcp !== undefined) values.enable_dhcp = patch.enable_dhcp ? 1 : 0;
  if (patch.dns_nameservers !== undefined) values.dns_nameservers = JSON.stringify(checkNameservers(patch.dns_nameservers));
  if (patch.host_routes !== undefined) values.host_routes = JSON.stringify(checkHostRoutes(patch.host_routes));
  await tx
    .updateTable('subnets')
    .set((eb) => ({ ...values, revision_number: eb('revision_number', '+', 1) }))
    .where('id', '=', subnet.id)
    .execute();
  return (await tx.selectFrom('subnets').selectAll().where('id', '=', subnet.id).executeTakeFirst())!;
}

/** Deletes a subnet; 409 while a port (other than the network's own) holds an address from it. */
export async function deleteSubnet(tx: Q, now: string, subnet: SubnetTable): Promise<void> {
  // Under the network's lock, as ports take addresses: none is taken from it while it goes.
  await lockNetwork(tx, subnet.network_id);
  const holders = await tx
    .selectFrom('ip_allocations')
    .innerJoin('ports', 'ports.id', 'ip_allocations.port_id')
    .select('ports.device_owner')
    .where('ip_allocations.subnet_id', '=', subnet.id)
    .execute();
  if (holders.some((h) => keepsInUse(h.device_owner))) throw subnetInUse(subnet.id);
  await tx.deleteFrom('subnets').where('id', '=', subnet.id).execute();
  await tx
    .updateTable('networks')
    .set((eb) => ({ revision_number: eb('revision_number', '+', 1), updated_at: now }))
    .where('id', '=', subnet.network_id)
    .execute();
}
