import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { RouterTable, Schema } from '../db/schema.js';
import { overlaps } from './addresses.js';
import { NetworkingError, badResourceRequest, routerInUse, routerNotFound } from './errors.js';
import { type FixedIp, type FixedIpRequest, subnetCidr } from './ipam.js';
import { findNetwork, findSubnet, type Viewer } from './networks.js';
import { createDevicePort, deletePort, findPort, portRecords } from './ports.js';
import { enforceNetworkQuota } from './quotas.js';

/**
 * Neutron's L3 routers (neutron/db/l3_db.py): a router joins its interfaces (ports with
 * device_owner network:router_interface holding each subnet's gateway address) to an
 * external network through its gateway port (network:router_gateway, owned by no project,
 * as Neutron makes it). Nothing forwards packets: what is modelled is what the API shows
 * and refuses, and the reachability floating IPs are checked against.
 */
type Q = Kysely<Schema>;

export const GATEWAY_OWNER = 'network:router_gateway';
export const INTERFACE_OWNER = 'network:router_interface';

export interface GatewayInfo {
  network_id: string;
  enable_snat: boolean;
  external_fixed_ips: FixedIp[];
}

export interface RouterRecord extends RouterTable {
  gateway: GatewayInfo | null;
}

export interface GatewayInput {
  network_id: string;
  enable_snat?: boolean;
  external_fixed_ips?: FixedIpRequest[];
}

export interface RouterInput {
  name: string;
  description: string;
  admin_state_up: boolean;
  /** undefined: no gateway; null: none (same on create, "clear" on update). */
  gateway?: GatewayInput | null;
}

/** Neutron's get_router rule: an admin sees every router, others their project's. */
const canSeeRouter = (v: Viewer, r: Pick<RouterTable, 'project_id'>) => v.isAdmin || r.project_id === v.projectId;

async function withGateways(db: Q, rows: RouterTable[]): Promise<RouterRecord[]> {
  const ids = rows.filter((r) => r.gw_network_id).map((r) => r.id);
  const ports = ids.length ? await db.selectFrom('ports').selectAll().where('device_owner', '=', GATEWAY_OWNER).where('device_id', 'in', ids).execute() : [];
  const records = await portRecords(db, ports);
  return rows.map((r) => {
    if (!r.gw_network_id) return { ...r, gateway: null };
    const port = records.find((p) => p.device_id === r.id);
    return { ...r, gateway: { network_id: r.gw_network_id, enable_snat: r.enable_snat === 1, external_fixed_ips: port?.fixed_ips ?? [] } };
  });
}

export async function listRouters(db: Q, v: Viewer): Promise<RouterRecord[]> {
  let q = db.selectFrom('routers').selectAll();
  if (!v.isAdmin) q = q.where('project_id', '=', v.projectId ?? '');
  return withGateways(db, await q.orderBy('created_at').orderBy('id').execute());
}

export async function findRouter(db: Q, v: Viewer, id: string): Promise<RouterRecord> {
  const row = await db.selectFrom('routers').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || !canSeeRouter(v, row)) throw routerNotFound(id);
  return (await withGateways(db, [row]))[0];
}

/** Neutron's _validate_gw_info and _create_gw_port: a port on the external network for the router. */
async function setGateway(tx: Q, now: string, v: Viewer, router: RouterTable, gw: GatewayInput): Promise<void> {
  const network = await findNetwork(tx, v, gw.network_id);
  if (!network.external) throw badResourceRequest('router', `Network ${network.id} is not an external network`);
  await createDevicePort(tx, now, '', v.isAdmin, network, { fixed_ips: gw.external_fixed_ips, device_id: router.id, device_owner: GATEWAY_OWNER });
  await tx
    .updateTable('routers')
    .set({ gw_network_id: network.id, enable_snat: gw.enable_snat === false ? 0 : 1 })
    .where('id', '=', router.id)
    .execute();
}

/** Removes a router's gateway; refused while floating IPs reach their network through it. */
async function clearGateway(tx: Q, router: RouterTable): Promise<void> {
  if (!router.gw_network_id) return;
  const fip = await tx.selectFrom('floating_ips').select('id').where('router_id', '=', router.id).where('fixed_port_id', 'is not', null).executeTakeFirst();
  if (fip) {
    throw new NetworkingError(
      'conflict',
      `Gateway cannot be updated for router ${router.id}, since a gateway to external network ${router.gw_network_id} is required by one or more floating IPs.`,
      'RouterExternalGatewayInUseByFloatingIp',
    );
  }
  await tx.deleteFrom('ports').where('device_owner', '=', GATEWAY_OWNER).where('device_id', '=', router.id).execute();
  await tx.updateTable('routers').set({ gw_network_id: null, enable_snat: 1 }).where('id', '=', router.id).execute();
}

export async function createRouter(tx: Q, now: string, v: Viewer, projectId: string, input: RouterInput): Promise<RouterRecord> {
  await enforceNetworkQuota(tx, projectId, 'router');
  const row: RouterTable = {
    id: randomUUID(),
    project_id: projectId,
    name: input.name,
    description: input.description,
    admin_state_up: input.admin_state_up ? 1 : 0,
    status: 'ACTIVE',
    gw_network_id: null,
    enable_snat: 1,
    revision_number: 1,
    created_at: now,
    updated_at: now,
  };
  await tx.insertInto('routers').values(row).execute();
  if (input.gateway) await setGateway(tx, now, v, row, input.gateway);
  return findRouter(tx, { projectId, isAdmin: true }, row.id);
}

export async function updateRouter(tx: Q, now: string, v: Viewer, router: RouterRecord, patch: Partial<RouterInput>): Promise<RouterRecord> {
  const values: Partial<RouterTable> = { updated_at: now };
  if (patch.name !== undefined) values.name = patch.name;
  if (patch.description !== undefined) values.description = patch.description;
  if (patch.admin_state_up !== undefined) values.admin_state_up = patch.admin_state_up ? 1 : 0;
  if (patch.gateway !== undefined) {
    const same = patch.gateway && router.gateway && patch.gateway.network_id === router.gateway.network_id && !patch.gateway.external_fixed_ips;
    if (same) {
      if (patch.gateway!.enable_snat !== undefined) values.enable_snat = patch.gateway!.enable_snat ? 1 : 0;
    } else {
      await clearGateway(tx, router);
      if (patch.gateway) await setGateway(tx, now, v, router, patch.gateway);
    }
  }
  await tx
    .updateTable('routers')
    .set((eb) => ({ ...values, revision_number: eb('revision_number', '+', 1) }))
    .where('id', '=', router.id)
    .execute();
  return findRouter(tx, { projectId: router.project_id, isAdmin: true }, router.id);
}

/** Deletes a router and its gateway; 409 while it has interfaces. */
export async function deleteRouter(tx: Q, router: RouterRecord): Promise<void> {
  const iface = await tx.selectFrom('ports').select('id').where('device_owner', '=', INTERFACE_OWNER).where('device_id', '=', router.id).executeTakeFirst();
  if (iface) throw routerInUse(router.id);
  await clearGateway(tx, router);
  await tx.deleteFrom('routers').where('id', '=', router.id).execute();
}

/** What add_router_interface and remove_router_interface answer. */
export interface InterfaceInfo {
  id: string;
  tenant_id: string;
  project_id: string;
  network_id: string;
  port_id: string;
  subnet_id: string;
  subnet_ids: string[];
}

const interfaceInfo = (router: RouterTable, port: { id: string; network_id: string; fixed_ips: FixedIp[] }): InterfaceInfo => ({
  id: router.id,
  tenant_id: router.project_id,
  project_id: router.project_id,
  network_id: port.network_id,
  port_id: port.id,
  subnet_id: port.fixed_ips[0]?.subnet_id ?? '',
  subnet_ids: port.fixed_ips.map((f) => f.subnet_id),
});

/** The subnets a router's interfaces are on. */
async function interfaceSubnets(tx: Q, routerId: string) {
  return tx
    .selectFrom('ip_allocations')
    .innerJoin('ports', 'ports.id', 'ip_allocations.port_id')
    .innerJoin('subnets', 'subnets.id', 'ip_allocations.subnet_id')
    .select(['subnets.id', 'subnets.cidr', 'ports.id as port_id'])
    .where('ports.device_id', '=', routerId)
    .where('ports.device_owner', '=', INTERFACE_OWNER)
    .execute();
}

/** Neutron's add_router_interface: by subnet (a port at its gateway address) or by port. */
export async function addInterface(tx: Q, now: string, v: Viewer, router: RouterRecord, by: { subnet_id?: string; port_id?: string }): Promise<InterfaceInfo> {
  if (by.subnet_id !== undefined && by.port_id !== undefined) throw badResourceRequest('router', 'Cannot specify both subnet-id and port-id');
  if (by.subnet_id === undefined && by.port_id === undefined) throw badResourceRequest('router', 'Either subnet_id or port_id must be specified');
  const existing = await interfaceSubnets(tx, router.id);
  const checkOverlap = (subnet: { id: string; cidr: string }) => {
    for (const other of existing) {
      if (other.id === subnet.id) throw badResourceRequest('router', `Router already has a port on subnet ${subnet.id}`);
      if (overlaps(subnetCidr(other), subnetCidr(subnet))) {
        throw badResourceRequest('router', `Cidr ${subnet.cidr} of subnet ${subnet.id} overlaps with cidr ${other.cidr} of subnet ${other.id}`);
      }
    }
  };
  if (by.port_id !== undefined) {
    const port = await findPort(tx, v, by.port_id);
    if (port.device_id) {
      throw new NetworkingError(
        'conflict',
        `Unable to complete operation on port ${port.id} for network ${port.network_id}. Port already has an attached device ${port.device_id}.`,
        'PortInUse',
      );
    }
    if (!port.fixed_ips.length) throw badResourceRequest('router', 'Router port must have at least one fixed IP');
    for (const f of port.fixed_ips) {
      const subnet = await tx.selectFrom('subnets').select(['id', 'cidr']).where('id', '=', f.subnet_id).executeTakeFirstOrThrow();
      checkOverlap(subnet);
    }
    await tx
      .updateTable('ports')
      .set((eb) => ({ device_id: router.id, device_owner: INTERFACE_OWNER, status: 'ACTIVE', updated_at: now, revision_number: eb('revision_number', '+', 1) }))
      .where('id', '=', port.id)
      .execute();
    return interfaceInfo(router, port);
  }
  const subnet = await findSubnet(tx, v, by.subnet_id!);
  if (!subnet.gateway_ip) throw badResourceRequest('router', 'Subnet for router interface must have a gateway IP');
  checkOverlap(subnet);
  const network = await findNetwork(tx, { projectId: null, isAdmin: true }, subnet.network_id);
  const port = await createDevicePort(tx, now, router.project_id, true, network, { fixed_ips: [{ subnet_id: subnet.id, ip_address: subnet.gateway_ip }], device_id: router.id, device_owner: INTERFACE_OWNER });
  return interfaceInfo(router, port);
}

/** Neutron's remove_router_interface: the interface port goes; refused while a floating IP needs it. */
export async function removeInterface(tx: Q, router: RouterRecord, by: { subnet_id?: string; port_id?: string }): Promise<InterfaceInfo> {
  if (by.subnet_id === undefined && by.port_id === undefined) throw badResourceRequest('router', 'Either subnet_id or port_id must be specified');
  const ifaces = await interfaceSubnets(tx, router.id);
  let portId: string | undefined;
  if (by.port_id !== undefined) {
    portId = ifaces.find((i) => i.port_id === by.port_id)?.port_id;
    if (!portId) throw new NetworkingError('not_found', `Router ${router.id} does not have an interface with id ${by.port_id}`, 'RouterInterfaceNotFound');
    if (by.subnet_id !== undefined && !ifaces.some((i) => i.port_id === portId && i.id === by.subnet_id)) {
      throw new NetworkingError('not_found', `Router ${router.id} has no interface on subnet ${by.subnet_id}`, 'RouterInterfaceNotFoundForSubnet');
    }
  } else {
    portId = ifaces.find((i) => i.id === by.subnet_id)?.port_id;
    if (!portId) throw new NetworkingError('not_found', `Router ${router.id} has no interface on subnet ${by.subnet_id}`, 'RouterInterfaceNotFoundForSubnet');
  }
  const [port] = await portRecords(tx, [(await tx.selectFrom('ports').selectAll().where('id', '=', portId).executeTakeFirstOrThrow())]);
  // Neutron's _confirm_router_interface_not_in_use: a floating IP reaching a fixed IP on these subnets needs it.
  for (const f of port.fixed_ips) {
    const used = await tx
      .selectFrom('floating_ips')
      .innerJoin('ip_allocations', (j) => j.onRef('ip_allocations.port_id', '=', 'floating_ips.fixed_port_id').onRef('ip_allocations.ip_address', '=', 'floating_ips.fixed_ip_address'))
      .select('floating_ips.id')
      .where('floating_ips.router_id', '=', router.id)
      .where('ip_allocations.subnet_id', '=', f.subnet_id)
      .executeTakeFirst();
    if (used) {
      throw new NetworkingError(
        'conflict',
        `Router interface for subnet ${f.subnet_id} on router ${router.id} cannot be deleted, as it is required by one or more floating IPs.`,
        'RouterInterfaceInUseByFloatingIP',
      );
    }
  }
  await deletePort(tx, port.id);
  return interfaceInfo(router, port);
}

/**
 * Neutron's _get_router_for_floatingip: the router with a gateway on the floating IP's
 * network and an interface on the subnet of the fixed IP, or Neutron's 404.
 */
export async function routerForFloatingIp(tx: Q, externalNetworkId: string, subnetId: string, portId: string): Promise<string> {
  const row = await tx
    .selectFrom('routers')
    .innerJoin('ports', 'ports.device_id', 'routers.id')
    .innerJoin('ip_allocations', 'ip_allocations.port_id', 'ports.id')
    .select('routers.id')
    .where('routers.gw_network_id', '=', externalNetworkId)
    .where('ports.device_owner', '=', INTERFACE_OWNER)
    .where('ip_allocations.subnet_id', '=', subnetId)
    .orderBy('routers.created_at')
    .executeTakeFirst();
  if (!row) {
    throw new NetworkingError(
      'not_found',
      `External network ${externalNetworkId} is not reachable from subnet ${subnetId}.  Therefore, cannot associate Port ${portId} with a Floating IP.`,
      'ExternalGatewayForFloatingIPNotFound',
    );
  }
  return row.id;
}
