import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { NetworkTable, PortTable, Schema } from '../db/schema.js';
import { randomMac } from './addresses.js';
import { NetworkingError, macAddressInUse, portNotFound, securityGroupNotFound } from './errors.js';
import { type FixedIp, type FixedIpRequest, chooseAddresses, lockNetwork, recordAllocations, releaseAddresses } from './ipam.js';
import { isNetworkOwned, subnetsOf, type Viewer } from './networks.js';
import { ensureDefaultSecurityGroup } from './securityGroups.js';
import { enforceNetworkQuota } from './quotas.js';

type Q = Kysely<Schema>;

export interface PortRecord extends PortTable {
  fixed_ips: FixedIp[];
  security_groups: string[];
}

export interface PortInput {
  name: string;
  description: string;
  admin_state_up: boolean;
  mac_address?: string;
  fixed_ips?: FixedIpRequest[];
  device_id: string;
  device_owner: string;
  /** undefined: the project's default group (when port security is on). */
  security_groups?: string[];
  port_security_enabled?: boolean;
  binding_host_id: string;
  binding_vnic_type: string;
  binding_profile: Record<string, unknown>;
  /** Nova's ports die with their server; a user's port is only unbound. */
  delete_with_device?: boolean;
  /**
   * A port Neutron makes for itself (a router's gateway or interface, a floating IP's
   * address): its plugin creates it past the API's quota check, as here.
   */
  uncounted?: boolean;
}

export type PortPatch = Partial<Pick<PortInput, 'name' | 'description' | 'admin_state_up' | 'fixed_ips' | 'device_id' | 'device_owner' | 'security_groups' | 'port_security_enabled' | 'binding_host_id' | 'binding_vnic_type' | 'binding_profile'>>;

/** A port is up when a compute device holds it (there is no agent to say otherwise). */
export function portStatus(p: Pick<PortTable, 'device_id' | 'device_owner' | 'admin_state_up'>): string {
  return p.admin_state_up && p.device_id && (p.device_owner.startsWith('compute:') || isNetworkOwned(p.device_owner)) ? 'ACTIVE' : 'DOWN';
}

/** Ports with their addresses and security groups. */
export async function portRecords(db: Q, rows: PortTable[]): Promise<PortRecord[]> {
  const ips = new Map<string, FixedIp[]>(rows.map((r) => [r.id, []]));
  const groups = new Map<string, string[]>(rows.map((r) => [r.id, []]));
  for (let i = 0; i < rows.length; i += 500) {
    const ids = rows.slice(i, i + 500).map((r) => r.id);
    const allocs = await db.selectFrom('ip_allocations').select(['port_id', 'subnet_id', 'ip_address']).where('port_id', 'in', ids).orderBy('position').execute();
    for (const a of allocs) ips.get(a.port_id)!.push({ subnet_id: a.subnet_id, ip_address: a.ip_address });
    const bindings = await db.selectFrom('port_security_groups').select(['port_id', 'security_group_id']).where('port_id', 'in', ids).orderBy('position').execute();
    for (const b of bindings) groups.get(b.port_id)!.push(b.security_group_id);
  }
  return rows.map((r) => ({ ...r, fixed_ips: ips.get(r.id)!, security_groups: groups.get(r.id)! }));
}

/**
 * Neutron's get_port rule, the one visibility rule for ports: an admin sees every port,
 * others the ports of their project and the ports on the networks they own.
 */
export function canSeePort(v: Viewer, port: Pick<PortTable, 'project_id'>, network: Pick<NetworkTable, 'project_id'> | undefined): boolean {
  return v.isAdmin || (v.projectId !== null && (port.project_id === v.projectId || network?.project_id === v.projectId));
}

/** The ports `canSeePort` lets the viewer see, as one query. */
export async function listPorts(db: Q, v: Viewer, where: { networkId?: string; deviceId?: string } = {}): Promise<PortRecord[]> {
  let q = db.selectFrom('ports').selectAll('ports');
  if (!v.isAdmin) {
    q = q
      .innerJoin('networks', 'networks.id', 'ports.network_id')
      .where((eb) => eb.or([eb('ports.project_id', '=', v.projectId ?? ''), eb('networks.project_id', '=', v.projectId ?? '')]));
  }
  if (where.networkId !== undefined) q = q.where('ports.network_id', '=', where.networkId);
  if (where.deviceId !== undefined) q = q.where('ports.device_id', '=', where.deviceId);
  return portRecords(db, await q.orderBy('ports.created_at').orderBy('ports.id').execute());
}

/** The port's row if the viewer may see it (`canSeePort`), else undefined. */
export async function visiblePort(db: Q, v: Viewer, id: string): Promise<PortTable | undefined> {
  const row = await db.selectFrom('ports').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return undefined;
  const net = v.isAdmin || row.project_id === v.projectId ? undefined : await db.selectFrom('networks').select('project_id').where('id', '=', row.network_id).executeTakeFirst();
  return canSeePort(v, row, net) ? row : undefined;
}

export async function findPort(db: Q, v: Viewer, id: string): Promise<PortRecord> {
  const row = await visiblePort(db, v, id);
  if (!row) throw portNotFound(id);
  return (await portRecords(db, [row]))[0];
}

/** The groups a port may carry: its own project's (any for an admin), named by id. */
async function checkSecurityGroups(tx: Q, projectId: string, isAdmin: boolean, ids: string[]): Promise<string[]> {
  const unique = [...new Set(ids)];
  if (!unique.length) return [];
  const rows = await tx.selectFrom('security_groups').select(['id', 'project_id']).where('id', 'in', unique).execute();
  const ok = new Set(rows.filter((r) => isAdmin || r.project_id === projectId).map((r) => r.id));
  const missing = unique.filter((id) => !ok.has(id));
  if (missing.length) throw securityGroupNotFound(missing.join(', '));
  return unique;
}

const securityConflict = () =>
  new NetworkingError(
    'conflict',
    'Port has security group associated. Cannot disable port security or ip address until security group is removed',
    'PortSecurityAndIPRequiredForSecurityGroups',
  );

/** Sets a port's security groups, in order. */
export async function bindGroups(tx: Q, portId: string, groups: string[]): Promise<void> {
  await tx.deleteFrom('port_security_groups').where('port_id', '=', portId).execute();
  if (groups.length) {
    await tx
      .insertInto('port_security_groups')
      .values(groups.map((security_group_id, position) => ({ port_id: portId, security_group_id, position })))
      .execute();
  }
}

/** Creates a port: a MAC, addresses from IPAM, and security groups (the default one unless told). */
export async function createPort(tx: Q, now: string, projectId: string, isAdmin: boolean, network: NetworkTable, input: PortInput): Promise<PortRecord> {
  if (!input.uncounted) await enforceNetworkQuota(tx, projectId, 'port');
  await lockNetwork(tx, network.id);
  const portSecurity = input.port_security_enabled ?? network.port_security_enabled === 1;
  let mac = input.mac_address;
  if (mac) {
    const dup = await tx.selectFrom('ports').select('id').where('network_id', '=', network.id).where('mac_address', '=', mac).executeTakeFirst();
    if (dup) throw macAddressInUse(network.id, mac);
  } else {
    for (;;) {
      mac = randomMac();
      const dup = await tx.selectFrom('ports').select('id').where('network_id', '=', network.id).where('mac_address', '=', mac).executeTakeFirst();
      if (!dup) break;
    }
  }
  let groups: string[];
  if (input.security_groups !== undefined) {
    groups = await checkSecurityGroups(tx, projectId, isAdmin, input.security_groups);
    if (groups.length && !portSecurity) throw securityConflict();
  } else if (portSecurity && !isNetworkOwned(input.device_owner)) {
    groups = [await ensureDefaultSecurityGroup(tx, now, projectId)];
  } else {
    groups = [];
  }
  const ips = await chooseAddresses(tx, network, await subnetsOf(tx, network.id), mac, input.fixed_ips, input.device_owner === 'network:router_interface');
  const row: PortTable = {
    id: randomUUID(),
    project_id: projectId,
    network_id: network.id,
    name: input.name,
    description: input.description,
    mac_address: mac,
    admin_state_up: input.admin_state_up ? 1 : 0,
    status: 'DOWN',
    device_id: input.device_id,
    device_owner: input.device_owner,
    port_security_enabled: portSecurity ? 1 : 0,
    binding_host_id: input.binding_host_id,
    binding_vnic_type: input.binding_vnic_type,
    binding_profile: JSON.stringify(input.binding_profile),
    delete_with_device: input.delete_with_device ? 1 : 0,
    revision_number: 1,
    created_at: now,
    updated_at: now,
  };
  row.status = portStatus(row);
  await tx.insertInto('ports').values(row).execute();
  await recordAllocations(tx, row.id, network.id, ips);
  await bindGroups(tx, row.id, groups);
  return { ...row, fixed_ips: ips, security_groups: groups };
}


/**
 * A port Neutron makes for one of its own devices (a router's gateway or interface, a floating
 * IP): no name, no security groups or port security, no binding, and not counted in the
 * project's port quota, as Neutron's L3 plugin makes them.
 */
export function createDevicePort(tx: Q, now: string, projectId: string, isAdmin: boolean, network: NetworkTable, device: Pick<PortInput, 'fixed_ips' | 'device_id' | 'device_owner'>): Promise<PortRecord> {
  return createPort(tx, now, projectId, isAdmin, network, {
    name: '',
    description: '',
    admin_state_up: true,
    ...device,
    security_groups: [],
    port_security_enabled: false,
    binding_host_id: '',
    binding_vnic_type: 'normal',
    binding_profile: {},
    uncounted: true,
  });
}
export async function updatePort(tx: Q, now: string, isAdmin: boolean, port: PortRecord, patch: PortPatch): Promise<PortRecord> {
  const values: Partial<PortTable> = { updated_at: now };
  if (patch.name !== undefined) values.name = patch.name;
  if (patch.description !== undefined) values.description = patch.description;
  if (patch.admin_state_up !== undefined) values.admin_state_up = patch.admin_state_up ? 1 : 0;
  if (patch.device_id !== undefined) values.device_id = patch.device_id;
  if (patch.device_owner !== undefined) values.device_owner = patch.device_owner;
  if (patch.port_security_enabled !== undefined) values.port_security_enabled = patch.port_security_enabled ? 1 : 0;
  if (patch.binding_host_id !== undefined) values.binding_host_id = patch.binding_host_id;
  if (patch.binding_vnic_type !== undefined) values.binding_vnic_type = patch.binding_vnic_type;
  if (patch.binding_profile !== undefined) values.binding_profile = JSON.stringify(patch.binding_profile);
  const merged = { ...port, ...values };
  values.status = portStatus(merged);

  if (patch.security_groups !== undefined) {
    const groups = await checkSecurityGroups(tx, port.project_id, isAdmin, patch.security_groups);
    if (groups.length && !merged.port_security_enabled) throw securityConflict();
    await bindGroups(tx, port.id, groups);
  } else if (patch.port_security_enabled === false && port.security_groups.length) {
    throw securityConflict();
  }
  if (patch.fixed_ips !== undefined) {
    // The port's own addresses are free to take again, so a request may keep some of them.
    await lockNetwork(tx, port.network_id);
    await releaseAddresses(tx, port.id);
    const ips = await chooseAddresses(tx, { id: port.network_id }, await subnetsOf(tx, port.network_id), port.mac_address, patch.fixed_ips);
    await recordAllocations(tx, port.id, port.network_id, ips);
  }
  await tx
    .updateTable('ports')
    .set((eb) => ({ ...values, revision_number: eb('revision_number', '+', 1) }))
    .where('id', '=', port.id)
    .execute();
  const row = (await tx.selectFrom('ports').selectAll().where('id', '=', port.id).executeTakeFirst())!;
  return (await portRecords(tx, [row]))[0];
}

/** Deletes a port, freeing its addresses (the allocations go with it). */
export async function deletePort(tx: Q, portId: string): Promise<void> {
  await tx.deleteFrom('ports').where('id', '=', portId).execute();
}

