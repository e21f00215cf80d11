import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { FloatingIpTable, Schema } from '../db/schema.js';
import { canonicalIp } from './addresses.js';
import { NetworkingError, badResourceRequest, floatingIpNotFound, portNotFound } from './errors.js';
import { findNetwork, subnetsOf, type Viewer } from './networks.js';
import { createDevicePort, portRecords, visiblePort } from './ports.js';
import { enforceNetworkQuota } from './quotas.js';
import { routerForFloatingIp } from './routers.js';
import { boundToServer, refreshServerPorts } from './servers.js';

/**
 * Neutron's floating IPs (neutron/db/l3_db.py): an address on an external network, held
 * by a port Neutron owns there (network:floatingip, no project, as Neutron makes it), and
 * pointed at one fixed IP of a port that a router joins to that network. A floating IP whose
 * port is gone (its server deleted) is unassociated: the foreign key sets it null, and what
 * it shows follows from that.
 */
type Q = Kysely<Schema>;

export const FLOATING_IP_OWNER = 'network:floatingip';

export interface FloatingIpRecord extends FloatingIpTable {
  status: 'ACTIVE' | 'DOWN';
}

const record = (row: FloatingIpTable): FloatingIpRecord =>
  row.fixed_port_id
    ? { ...row, status: 'ACTIVE' }
    : { ...row, fixed_ip_address: null, router_id: null, status: 'DOWN' };

/** Neutron's get_floatingip rule: an admin sees every floating IP, others their project's. */
export async function listFloatingIps(db: Q, v: Viewer): Promise<FloatingIpRecord[]> {
  let q = db.selectFrom('floating_ips').selectAll();
  if (!v.isAdmin) q = q.where('project_id', '=', v.projectId ?? '');
  return (await q.orderBy('created_at').orderBy('id').execute()).map(record);
}

export async function findFloatingIp(db: Q, v: Viewer, id: string): Promise<FloatingIpRecord> {
  const row = await db.selectFrom('floating_ips').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || (!v.isAdmin && row.project_id !== v.projectId)) throw floatingIpNotFound(id);
  return record(row);
}

export interface FloatingIpInput {
  floating_network_id: string;
  floating_ip_address?: string;
  subnet_id?: string;
  port_id?: string | null;
  fixed_ip_address?: string;
  description: string;
}

/** Keeps the addresses of the servers behind these ports in step (Nova's network info cache). */
async function refreshPorts(tx: Q, now: string, portIds: (string | null)[]): Promise<void> {
  for (const id of new Set(portIds.filter((p): p is string => !!p))) {
    const port = await tx.selectFrom('ports').select(['device_id', 'device_owner', 'project_id']).where('id', '=', id).executeTakeFirst();
    if (port && boundToServer(port)) await refreshServerPorts(tx, now, port);
  }
}

export async function createFloatingIp(tx: Q, now: string, v: Viewer, projectId: string, input: FloatingIpInput): Promise<FloatingIpRecord> {
  await enforceNetworkQuota(tx, projectId, 'floatingip');
  const network = await findNetwork(tx, v, input.floating_network_id);
  if (!network.external) throw badResourceRequest('floatingip', `Network ${network.id} is not a valid external network`);
  const id = randomUUID();
  let fixed: { subnet_id?: string; ip_address?: string };
  if (input.floating_ip_address !== undefined || input.subnet_id !== undefined) {
    fixed = { subnet_id: input.subnet_id, ip_address: input.floating_ip_address };
  } else {
    // Neutron gives a floating IP one IPv4 address: the first IPv4 subnet with room.
    const v4 = (await subnetsOf(tx, network.id)).filter((s) => s.ip_version === 4);
    if (!v4.length) throw badResourceRequest('floatingip', `Network ${network.id} does not contain any IPv4 subnet`);
    fixed = { subnet_id: v4[0].id };
  }
  const port = await createDevicePort(tx, now, '', true, network, { fixed_ips: [fixed], device_id: id, device_owner: FLOATING_IP_OWNER });
  const row: FloatingIpTable = {
    id,
    project_id: projectId,
    floating_network_id: network.id,
    floating_ip_address: port.fixed_ips[0].ip_address,
    floating_port_id: port.id,
    fixed_port_id: null,
    fixed_ip_address: null,
    router_id: null,
    description: input.description,
    revision_number: 0,
    created_at: now,
    updated_at: now,
  };
  await tx.insertInto('floating_ips').values(row).execute();
  if (input.port_id) return associate(tx, now, v, record(row), input.port_id, input.fixed_ip_address);
  return record(row);
}

/**
 * Points a floating IP at a port's fixed IP (the given one, or its IPv4 address), as
 * Neutron's _check_and_get_fip_assoc checks it: the port is the floating IP's project's,
 * that fixed IP has no other floating IP on this network, and a router reaches it.
 */
async function associate(tx: Q, now: string, v: Viewer, fip: FloatingIpRecord, portId: string, fixedIp: string | undefined): Promise<FloatingIpRecord> {
  const row = await visiblePort(tx, v, portId);
  if (!row) throw portNotFound(portId);
  const [port] = await portRecords(tx, [row]);
  if (!v.isAdmin && port.project_id !== fip.project_id) {
    throw badResourceRequest('floatingip', `Cannot create floating IP and bind it to Port ${port.id}, since that port is owned by a different tenant`);
  }
  let ip = port.fixed_ips.find((f) => !f.ip_address.includes(':'));
  if (fixedIp !== undefined) {
    const wanted = canonicalIp(fixedIp);
    ip = port.fixed_ips.find((f) => f.ip_address === wanted);
    if (!ip) throw badResourceRequest('floatingip', `Port ${port.id} does not have fixed ip ${fixedIp}`);
    if (ip.ip_address.includes(':')) throw badResourceRequest('floatingip', `Cannot process floating IP association with ${fixedIp}, since that is not an IPv4 address`);
  }
  if (!ip) throw badResourceRequest('floatingip', `Cannot add floating IP to port ${port.id} that has no fixed IPv4 addresses`);
  const other = await tx
    .selectFrom('floating_ips')
    .select('id')
    .where('fixed_port_id', '=', port.id)
    .where('fixed_ip_address', '=', ip.ip_address)
    .where('floating_network_id', '=', fip.floating_network_id)
    .where('id', '!=', fip.id)
    .executeTakeFirst();
  if (other) {
    throw new NetworkingError(
      'conflict',
      `Cannot associate floating IP ${fip.floating_ip_address} (${fip.id}) with port ${port.id} using fixed IP ${ip.ip_address}, as that fixed IP already has a floating IP on external network ${fip.floating_network_id}.`,
      'FloatingIPPortAlreadyAssociated',
    );
  }
  const routerId = await routerForFloatingIp(tx, fip.floating_network_id, ip.subnet_id, port.id);
  await tx
    .updateTable('floating_ips')
    .set((eb) => ({ fixed_port_id: port.id, fixed_ip_address: ip!.ip_address, router_id: routerId, updated_at: now, revision_number: eb('revision_number', '+', 1) }))
    .where('id', '=', fip.id)
    .execute();
  await refreshPorts(tx, now, [fip.fixed_port_id, port.id]);
  return findFloatingIp(tx, { projectId: null, isAdmin: true }, fip.id);
}

/** Neutron's update_floatingip: port_id (null to disassociate), fixed_ip_address, description. */
export async function updateFloatingIp(
  tx: Q,
  now: string,
  v: Viewer,
  fip: FloatingIpRecord,
  patch: { port_id?: string | null; fixed_ip_address?: string; description?: string },
): Promise<FloatingIpRecord> {
  if (patch.description !== undefined) {
    await tx
      .updateTable('floating_ips')
      .set((eb) => ({ description: patch.description!, updated_at: now, revision_number: eb('revision_number', '+', 1) }))
      .where('id', '=', fip.id)
      .execute();
  }
  if (patch.port_id) return associate(tx, now, v, fip, patch.port_id, patch.fixed_ip_address);
  if (patch.port_id === null) {
    await tx
      .updateTable('floating_ips')
      .set((eb) => ({ fixed_port_id: null, fixed_ip_address: null, router_id: null, updated_at: now, revision_number: eb('revision_number', '+', 1) }))
      .where('id', '=', fip.id)
      .execute();
    await refreshPorts(tx, now, [fip.fixed_port_id]);
  }
  return findFloatingIp(tx, { projectId: null, isAdmin: true }, fip.id);
}

/** Deletes a floating IP and the port holding its address (the row goes with the port). */
export async function deleteFloatingIp(tx: Q, now: string, fip: FloatingIpRecord): Promise<void> {
  await tx.deleteFrom('ports').where('id', '=', fip.floating_port_id).execute();
  await refreshPorts(tx, now, [fip.fixed_port_id]);
}

/** The floating IPs pointed at these ports, for a server's addresses. */
export async function floatingIpsOfPorts(db: Q, portIds: string[]): Promise<{ fixed_port_id: string; fixed_ip_address: string; floating_ip_address: string }[]> {
  if (!portIds.length) return [];
  const rows = await db
    .selectFrom('floating_ips')
    .select(['fixed_port_id', 'fixed_ip_address', 'floating_ip_address'])
    .where('fixed_port_id', 'in', portIds)
    .orderBy('created_at')
    .execute();
  return rows as { fixed_port_id: string; fixed_ip_address: string; floating_ip_address: string }[];
}
