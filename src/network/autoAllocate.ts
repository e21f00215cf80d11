import type { Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';
import { lockName } from '../db/database.js';
import { NetworkingError } from './errors.js';
import { DEFAULT_MTU, createNetwork, createSubnet, deleteNetwork } from './networks.js';
import { addInterface, createRouter, deleteRouter, findRouter, removeInterface } from './routers.js';

/**
 * Neutron's auto-allocated topology (neutron/services/auto_allocate/db.py): on first ask, a
 * project gets a network, an IPv4 subnet and a router joining it to the default external
 * network (is_default); later asks return the same network. Neutron takes the subnet from
 * the default subnet pool; Nimbus has no subnet pools and uses 10.0.0.0/24 (each project's
 * network is its own, so they may overlap). Made under a per-project lock, so creates that
 * race make one topology.
 */
type Q = Kysely<Schema>;

export const AUTO_NETWORK = 'auto_allocated_network';
export const AUTO_SUBNET = { name: 'auto_allocated_subnet_v4', cidr: '10.0.0.0/24' };
export const AUTO_ROUTER = 'auto_allocated_router';

const failure = (reason: string) => new NetworkingError('conflict', `Deployment error: ${reason}.`, 'AutoAllocationFailure');

/** The default external network, or null. */
export async function defaultExternalNetwork(db: Q): Promise<{ id: string } | null> {
  return (await db.selectFrom('networks').select('id').where('external', '=', 1).where('is_default', '=', 1).orderBy('created_at').executeTakeFirst()) ?? null;
}

/** Whether a topology can be given (Neutron's dry-run: a default external network exists). */
export async function canAutoAllocate(db: Q): Promise<boolean> {
  return !!(await defaultExternalNetwork(db));
}

/** The project's topology network id, made now if it has none. */
export async function getOrCreateTopology(tx: Q, now: string, projectId: string): Promise<string> {
  await lockName(tx, `auto-allocate:${projectId}`);
  const existing = await tx.selectFrom('auto_allocated_topologies').select('network_id').where('project_id', '=', projectId).executeTakeFirst();
  if (existing) return existing.network_id;
  const external = await defaultExternalNetwork(tx);
  if (!external) throw failure('No default router:external network');
  const viewer = { projectId, isAdmin: true };
  const network = await createNetwork(tx, now, projectId, {
    name: AUTO_NETWORK,
    description: '',
    admin_state_up: true,
    shared: false,
    external: false,
    mtu: DEFAULT_MTU,
    port_security_enabled: true,
  });
  const subnet = await createSubnet(tx, now, projectId, network, {
    name: AUTO_SUBNET.name,
    description: '',
    ip_version: 4,
    cidr: AUTO_SUBNET.cidr,
    enable_dhcp: true,
    dns_nameservers: [],
    host_routes: [],
    ipv6_ra_mode: null,
    ipv6_address_mode: null,
  });
  const router = await createRouter(tx, now, viewer, projectId, { name: AUTO_ROUTER, description: '', admin_state_up: true, gateway: { network_id: external.id } });
  await addInterface(tx, now, viewer, router, { subnet_id: subnet.id });
  await tx.insertInto('auto_allocated_topologies').values({ project_id: projectId, network_id: network.id, router_id: router.id }).execute();
  return network.id;
}

/** Takes the project's topology apart (router interface, router, network); nothing to do when it has none. */
export async function deleteTopology(tx: Q, projectId: string): Promise<void> {
  await lockName(tx, `auto-allocate:${projectId}`);
  const t = await tx.selectFrom('auto_allocated_topologies').selectAll().where('project_id', '=', projectId).executeTakeFirst();
  if (!t) return;
  const viewer = { projectId, isAdmin: true };
  if (t.router_id) {
    const router = await findRouter(tx, viewer, t.router_id);
    const ifaces = await tx.selectFrom('ports').select('id').where('device_id', '=', router.id).where('device_owner', '=', 'network:router_interface').execute();
    for (const p of ifaces) await removeInterface(tx, router, { port_id: p.id });
    await deleteRouter(tx, router);
  }
  await deleteNetwork(tx, t.network_id);
}
