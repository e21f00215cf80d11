import type { Kysely } from 'kysely';
import type { NetworkTable, Schema } from '../db/schema.js';
import { conflict, forbidden, invalid, notFound } from '../errors.js';
import { contains, formatIp, parseIp } from './addresses.js';
import { NetworkingError } from './errors.js';
import { subnetCidr } from './ipam.js';
import { canSeeNetwork, subnetsOf, type Viewer } from './networks.js';
import { bindGroups, canSeePort, createPort, portRecords, portStatus, visiblePort, type PortRecord } from './ports.js';
import { ensureDefaultSecurityGroup } from './securityGroups.js';
import { floatingIpsOfPorts } from './floatingIps.js';
import { canAutoAllocate, getOrCreateTopology } from './autoAllocate.js';

/**
 * What Nova's network API (nova/network/neutron.py) does for a server: check the requested
 * networks, ports and security groups, make or bind the ports, and give back the
 * `addresses` the servers API shows. Errors carry Nova's messages and the status Nova's
 * servers API answers with (400, or 409 for a port in use or an ambiguous network).
 */
type Q = Kysely<Schema>;

/** 'auto' and 'none' from 2.37; an empty list is a request that named no networks (before 2.37). */
export type RequestedNetworks = 'auto' | 'none' | { uuid?: string; port?: string; fixedIp?: string }[];

export interface ServerNetworking {
  projectId: string;
  serverId: string;
  requested: RequestedNetworks;
  /** Names or ids; empty means the project's `default` group. */
  securityGroups: string[];
  /** An admin may attach a server to any project's network or port. */
  isAdmin?: boolean;
  /** The host the server landed on (binding:host_id) and its zone (device_owner compute:<zone>). */
  host?: string | null;
  availabilityZone?: string | null;
}

export interface ServerAddress {
  version: number;
  addr: string;
  'OS-EXT-IPS:type': 'fixed' | 'floating';
  'OS-EXT-IPS-MAC:mac_addr': string;
}

export type Addresses = Record<string, ServerAddress[]>;

type Step = { port: PortRecord } | { network: NetworkTable; fixedIp?: string };

const compute = (zone?: string | null) => `compute:${zone || 'nova'}`;

/** The networks `auto` may choose from: the project's own, then the shared ones. */
async function availableNetworks(db: Q, projectId: string): Promise<NetworkTable[]> {
  const own = await db.selectFrom('networks').selectAll().where('project_id', '=', projectId).where('shared', '=', 0).orderBy('created_at').orderBy('id').execute();
  const shared = await db.selectFrom('networks').selectAll().where('shared', '=', 1).orderBy('created_at').orderBy('id').execute();
  return [...own, ...shared];
}

/**
 * The steps of a server's networking. `allocate` (at build, in its transaction) may make the
 * project's auto-allocated topology; the API's check before a create (validateForServer)
 * only asks whether one could be made, as Nova's validate_networks does with a dry run.
 */
async function plan(db: Q, s: ServerNetworking, now?: string): Promise<Step[]> {
  if (s.requested === 'none') return [];
  if (s.requested === 'auto' || s.requested.length === 0) {
    // Nova's _ports_needed_per_instance: 'auto', or no networks asked for (before 2.37).
    const nets = await availableNetworks(db, s.projectId);
    if (nets.length > 1) throw conflict('Multiple possible networks found, use a Network ID to be more specific.');
    // 'auto' with no network: Nova's _auto_allocate_network, through Neutron's
    // auto-allocated-topology (which needs a default external network; without one,
    // Neutron's 409 is Nova's 400). A request that named no networks boots without any.
    if (nets.length === 0 && s.requested === 'auto') {
      const refused = invalid(`Unable to automatically allocate a network for project ${s.projectId}`);
      if (now === undefined) {
        if (!(await canAutoAllocate(db))) throw refused;
        return [];
      }
      try {
        const id = await getOrCreateTopology(db, now, s.projectId);
        return [{ network: (await db.selectFrom('networks').selectAll().where('id', '=', id).executeTakeFirstOrThrow()) }];
      } catch (err) {
        if (err instanceof NetworkingError && err.neutronType === 'AutoAllocationFailure') throw refused;
        throw err;
      }
    }
    return nets.map((network) => ({ network }));
  }
  // Nova asks Neutron with the caller's credentials: what they cannot see does not exist.
  const viewer: Viewer = { projectId: s.projectId, isAdmin: !!s.isAdmin };
  const steps: Step[] = [];
  for (const r of s.requested) {
    if (r.port) {
      const row = await visiblePort(db, viewer, r.port);
      if (!row) throw invalid(`Port id ${r.port} could not be found.`);
      // Nova's _validate_requested_port_ids, when it allocates: a port of another project is
      // never the instance's, whoever may see it (an admin, the network's owner).
      if (s.serverId && row.project_id !== s.projectId) throw invalid(`Port ${r.port} not usable for instance ${s.serverId}.`);
      if (row.device_id) throw conflict(`Port ${r.port} is still in use.`);
      const [port] = await portRecords(db, [row]);
      if (!port.fixed_ips.length) throw invalid(`Port ${r.port} requires a FixedIP in order to be used.`);
      steps.push({ port });
      continue;
    }
    const network = r.uuid ? await db.selectFrom('networks').selectAll().where('id', '=', r.uuid).executeTakeFirst() : undefined;
    if (!network || !canSeeNetwork(viewer, network)) throw invalid(`Network ${r.uuid ?? ''} could not be found.`);
    if (network.external && !network.shared && !s.isAdmin) throw forbidden(`It is not allowed to create an interface on external network ${network.id}`);
    const subnets = await subnetsOf(db, network.id);
    if (!subnets.length) throw invalid(`Network ${network.id} requires a subnet in order to boot instances on.`);
    if (r.fixedIp) {
      const ip = parseIp(r.fixedIp);
      if (!ip) throw invalid(`${r.fixedIp} is not a valid IP v4/6 address.`);
      if (!subnets.some((sub) => contains(subnetCidr(sub), ip))) {
        throw invalid(`Invalid input received: Fixed IP ${r.fixedIp} is not a valid ip address for network ${network.id}.`);
      }
      const holder = await db
        .selectFrom('ip_allocations')
        .innerJoin('ports', 'ports.id', 'ip_allocations.port_id')
        .select(['ports.device_id', 'ports.project_id'])
        .where('ip_allocations.network_id', '=', network.id)
        .where('ip_allocations.ip_address', '=', formatIp(ip))
        .executeTakeFirst();
      // Nova names the holder only when the caller's own port search finds it; a port the
      // caller cannot see fails later, as Neutron's IpAddressInUse ("Fixed IP … is already in use.").
      if (holder && canSeePort(viewer, holder, network)) throw invalid(`Fixed IP address ${r.fixedIp} is already in use on instance ${holder.device_id}.`);
    }
    steps.push({ network, fixedIp: r.fixedIp });
  }
  return steps;
}

/** Security group names or ids → ids, as Nova's _process_security_groups resolves them. */
async function resolveSecurityGroups(db: Q, projectId: string, wanted: string[]): Promise<string[]> {
  const groups = await db.selectFrom('security_groups').select(['id', 'name']).where('project_id', '=', projectId).orderBy('created_at').execute();
  const ids: string[] = [];
  for (const want of wanted) {
    const byName = groups.filter((g) => g.name === want);
    if (byName.length > 1) throw conflict(`Multiple security groups found matching '${want}'. Use an ID to be more specific.`);
    const hit = byName[0] ?? groups.find((g) => g.id === want);
    if (!hit) throw invalid(`Security group ${want} not found.`);
    if (!ids.includes(hit.id)) ids.push(hit.id);
  }
  return ids;
}

/**
 * The checks Nova's API makes before it accepts a create (validate_networks and the
 * security group lookup), without allocating anything. `default` is not checked here:
 * it is made on first use.
 */
export async function validateForServer(db: Q, s: Omit<ServerNetworking, 'serverId'>): Promise<void> {
  await plan(db, { ...s, serverId: '' });
  const named = s.securityGroups.filter((g) => g !== 'default');
  if (named.length) await resolveSecurityGroups(db, s.projectId, named);
}

/** Neutron's IPAM errors, as Nova reports them when it creates a server's port. */
function asNova(err: unknown, networkId: string, fixedIp?: string): unknown {
  if (!(err instanceof NetworkingError)) return err;
  switch (err.neutronType) {
    case 'IpAddressInUse':
      return invalid(`Fixed IP ${fixedIp} is already in use.`);
    case 'IpAddressGenerationFailure':
      return conflict(`No fixed IP addresses available for network: ${networkId}`);
    case 'InvalidIpForNetwork':
    case 'InvalidIpForSubnet':
      return invalid(`Invalid input received: Fixed IP ${fixedIp} is not a valid ip address for network ${networkId}.`);
    default:
      return err;
  }
}

/**
 * Gives a server its ports, in `tx`: binds the ports it was given, creates one on each
 * requested network (with the requested fixed IP and security groups), and returns the
 * server's Nova `addresses`. `auto` (or no request) takes the project's only network, or
 * the only shared one.
 */
export async function allocateForServer(tx: Q, now: string, s: ServerNetworking): Promise<Addresses> {
  return addressesOf(tx, await allocatePorts(tx, now, s));
}

/** The ports a server is given (bound or made), in the order of the request. */
async function allocatePorts(tx: Q, now: string, s: ServerNetworking): Promise<PortRecord[]> {
  const steps = await plan(tx, s, now);
  const needGroups = steps.some((st) => 'network' in st);
  let groups: string[] = [];
  if (needGroups) {
    const wanted = s.securityGroups.length ? s.securityGroups : ['default'];
    if (wanted.includes('default')) await ensureDefaultSecurityGroup(tx, now, s.projectId);
    groups = await resolveSecurityGroups(tx, s.projectId, wanted);
  }
  const owner = compute(s.availabilityZone);
  const ports: PortRecord[] = [];
  for (const st of steps) {
    if ('port' in st) {
      const bound = { device_id: s.serverId, device_owner: owner, binding_host_id: s.host ?? '', updated_at: now };
      await tx
        .updateTable('ports')
        .set((eb) => ({ ...bound, status: portStatus({ ...st.port, ...bound }), revision_number: eb('revision_number', '+', 1) }))
        .where('id', '=', st.port.id)
        .execute();
      ports.push({ ...st.port, ...bound });
      continue;
    }
    try {
      ports.push(
        await createPort(tx, now, s.projectId, !!s.isAdmin, st.network, {
          name: '',
          description: '',
          admin_state_up: true,
          fixed_ips: st.fixedIp ? [{ ip_address: st.fixedIp }] : undefined,
          device_id: s.serverId,
          device_owner: owner,
          security_groups: st.network.port_security_enabled ? groups : [],
          binding_host_id: s.host ?? '',
          binding_vnic_type: 'normal',
          binding_profile: {},
          delete_with_device: true,
        }),
      );
    } catch (err) {
      throw asNova(err, st.network.id, st.fixedIp);
    }
  }
  return ports;
}

/**
 * Nova's attach_interface: one more port for a running server, on the port or network
 * asked for (or the one network `auto` would take), with the server's groups. Returns it.
 */
export async function attachPort(tx: Q, now: string, s: ServerNetworking): Promise<PortRecord> {
  let [port] = await allocatePorts(tx, now, s);
  if (!port) throw invalid('Unable to attach interface: no network to attach it to.');
  await refreshServerPorts(tx, now, { device_id: s.serverId, project_id: s.projectId });
  [port] = await portRecords(tx, [(await tx.selectFrom('ports').selectAll().where('id', '=', port.id).executeTakeFirst())!]);
  return port;
}

/** Nova's detach_interface: the port Nova made is deleted, a port it was given is unbound; 404 for a port not the server's. */
export async function detachPort(tx: Q, now: string, server: ServerRef, portId: string): Promise<void> {
  const port = await boundPorts(tx, server).select(['id', 'delete_with_device']).where('ports.id', '=', portId).executeTakeFirst();
  if (!port) throw notFound(`Port id ${portId} could not be found.`);
  await freePorts(tx, now, [port]);
  await refreshServerPorts(tx, now, { device_id: server.id, project_id: server.projectId });
}

/** A server's ports as Nova's os-interface lists them (the caller's view of ports with its device id). */
export async function serverPortRecords(db: Q, server: ServerRef): Promise<PortRecord[]> {
  return serverPorts(db, server);
}

/** A server as its ports know it: its id and the project it belongs to. */
export interface ServerRef {
  id: string;
  projectId: string;
}

/**
 * A server's ports: the ports of its own project bound to it (a compute: owner), as Nova
 * lists them with tenant_id = the instance's project. A port another project points at a
 * server is never part of it: not in its addresses or groups, not freed with it.
 */
function boundPorts(db: Q, server: ServerRef) {
  return db
    .selectFrom('ports')
    .where('ports.device_id', '=', server.id)
    .where('ports.project_id', '=', server.projectId)
    .where('ports.device_owner', 'like', 'compute:%');
}

/** Frees a server's ports: the ones Nova made are deleted, the ones it was given unbound. */
export async function releaseForServer(tx: Q, now: string, server: ServerRef): Promise<void> {
  await freePorts(tx, now, await boundPorts(tx, server).select(['id', 'delete_with_device']).execute());
}

async function freePorts(tx: Q, now: string, ports: { id: string; delete_with_device: number }[]): Promise<void> {
  const doomed = ports.filter((p) => p.delete_with_device).map((p) => p.id);
  const kept = ports.filter((p) => !p.delete_with_device).map((p) => p.id);
  if (doomed.length) await tx.deleteFrom('ports').where('id', 'in', doomed).execute();
  if (kept.length) {
    await tx
      .updateTable('ports')
      .set((eb) => ({ device_id: '', device_owner: '', binding_host_id: '', status: 'DOWN', updated_at: now, revision_number: eb('revision_number', '+', 1) }))
      .where('id', 'in', kept)
      .execute();
  }
}

async function serverPorts(db: Q, server: ServerRef): Promise<PortRecord[]> {
  const rows = await boundPorts(db, server).selectAll().orderBy('created_at').orderBy('id').execute();
  return portRecords(db, rows);
}

async function addressesOf(db: Q, ports: PortRecord[]): Promise<Addresses> {
  const netIds = [...new Set(ports.map((p) => p.network_id))];
  const names = new Map<string, string>();
  if (netIds.length) {
    for (const n of await db.selectFrom('networks').select(['id', 'name']).where('id', 'in', netIds).execute()) names.set(n.id, n.name);
  }
  const floating = await floatingIpsOfPorts(db, ports.map((p) => p.id));
  const out: Addresses = {};
  for (const p of ports) {
    const label = names.get(p.network_id) ?? p.network_id;
    const list = (out[label] ??= []);
    for (const ip of p.fixed_ips) {
      list.push({ version: ip.ip_address.includes(':') ? 6 : 4, addr: ip.ip_address, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': p.mac_address });
      // Nova's network info cache lists a fixed IP's floating IPs right after it, on the port's network.
      for (const f of floating.filter((x) => x.fixed_port_id === p.id && x.fixed_ip_address === ip.ip_address)) {
        list.push({ version: 4, addr: f.floating_ip_address, 'OS-EXT-IPS:type': 'floating', 'OS-EXT-IPS-MAC:mac_addr': p.mac_address });
      }
    }
  }
  return out;
}

/** A server's addresses as they are now (Nova's network info cache, rebuilt). */
export async function serverAddresses(db: Q, server: ServerRef): Promise<Addresses> {
  return addressesOf(db, await serverPorts(db, server));
}

/** The security groups on a server's ports, each once, in the order Nova lists them. */
async function groupsOnPorts(db: Q, server: ServerRef): Promise<{ id: string; name: string }[]> {
  const rows = await boundPorts(db, server)
    .innerJoin('port_security_groups', 'port_security_groups.port_id', 'ports.id')
    .innerJoin('security_groups', 'security_groups.id', 'port_security_groups.security_group_id')
    .select(['security_groups.id', 'security_groups.name'])
    .orderBy('ports.created_at')
    .orderBy('port_security_groups.position')
    .execute();
  return [...new Map(rows.map((r) => [r.id, r])).values()];
}

/** The names of the security groups on a server's ports, as the server shows them. */
export async function serverSecurityGroups(db: Q, server: ServerRef): Promise<string[]> {
  return [...new Set((await groupsOnPorts(db, server)).map((g) => g.name))];
}

export async function serverSecurityGroupIds(db: Q, server: ServerRef): Promise<string[]> {
  return (await groupsOnPorts(db, server)).map((g) => g.id);
}

/** Whether a port is a server's (bound with a compute: owner), so the server shows it. */
export const boundToServer = (p: { device_id: string; device_owner: string }): boolean => !!p.device_id && p.device_owner.startsWith('compute:');

/**
 * Keeps what a server shows of its ports (addresses, security groups) in step when they
 * change through the Networking API or a server action (Nova hears of it as network-vif
 * events and refreshes its network info cache). A port of another project was never the
 * server's, so its going changes nothing there.
 */
export async function refreshServerPorts(tx: Q, now: string, port: { device_id: string; project_id: string }): Promise<void> {
  const server = { id: port.device_id, projectId: port.project_id };
  const addresses = await serverAddresses(tx, server);
  const groups = await serverSecurityGroups(tx, server);
  await tx
    .updateTable('servers')
    .set({ addresses: JSON.stringify(addresses), security_groups: JSON.stringify(groups), updated_at: now })
    .where('id', '=', server.id)
    .where('project_id', '=', server.projectId)
    .where('deleted', '=', 0)
    .execute();
}

/** The group a server action names, by name or id among the caller's project's (neutronclient's find_resourceid_by_name_or_id). */
async function groupForAction(db: Q, projectId: string, want: string): Promise<string> {
  const groups = await db.selectFrom('security_groups').select(['id', 'name']).where('project_id', '=', projectId).execute();
  const byName = groups.filter((g) => g.name === want);
  if (byName.length > 1) throw conflict(`Multiple security_group matches found for name '${want}', use an ID to be more specific.`);
  const hit = byName[0] ?? groups.find((g) => g.id === want);
  if (!hit) throw notFound(`Security group ${want} is not found for project ${projectId}`);
  return hit.id;
}

async function portsForAction(db: Q, server: ServerRef): Promise<PortRecord[]> {
  const ports = await serverPorts(db, server);
  if (!ports.length) throw notFound(`instance_id ${server.id} could not be found as device id on any ports`);
  return ports;
}

/**
 * Nova's addSecurityGroup: the group (the caller's project's, by name or id) goes on every
 * port of the server; a port without port security or addresses cannot take it (400).
 */
export async function addSecurityGroupToServer(tx: Q, now: string, callerProjectId: string, server: ServerRef, want: string): Promise<void> {
  const groupId = await groupForAction(tx, callerProjectId, want);
  const ports = await portsForAction(tx, server);
  if (ports.some((p) => !p.port_security_enabled || !p.fixed_ips.length)) {
    throw invalid('Network requires port_security_enabled and subnet associated in order to apply security groups.');
  }
  for (const p of ports) {
    if (!p.security_groups.includes(groupId)) await bindGroups(tx, p.id, [...p.security_groups, groupId]);
  }
  await refreshServerPorts(tx, now, { device_id: server.id, project_id: server.projectId });
}

/** Nova's removeSecurityGroup: off every port that has it; 404 when none had it. */
export async function removeSecurityGroupFromServer(tx: Q, now: string, callerProjectId: string, server: ServerRef, want: string): Promise<void> {
  const groupId = await groupForAction(tx, callerProjectId, want);
  const ports = (await portsForAction(tx, server)).filter((p) => p.security_groups.includes(groupId));
  if (!ports.length) throw notFound(`Security group ${want} not associated with the instance ${server.id}`);
  for (const p of ports) await bindGroups(tx, p.id, p.security_groups.filter((g) => g !== groupId));
  await refreshServerPorts(tx, now, { device_id: server.id, project_id: server.projectId });
}

/**
 * Neutron's _enforce_device_owner_not_router_intf_or_device_id, for servers: a project may
 * not bind its port (a compute: owner) to another project's server. Admins may; the port
 * still never becomes part of that server (see boundPorts).
 */
export async function checkDeviceOwner(db: Q, isAdmin: boolean, port: { project_id: string; device_id: string; device_owner: string }): Promise<void> {
  if (isAdmin || !port.device_id || !port.device_owner.startsWith('compute:')) return;
  const server = await db.selectFrom('servers').select('project_id').where('id', '=', port.device_id).where('deleted', '=', 0).executeTakeFirst();
  if (server && server.project_id !== port.project_id) {
    throw new NetworkingError('conflict', `The following device_id ${port.device_id} is not owned by your tenant or matches another tenants router.`, 'DeviceIDNotOwnedByTenant');
  }
}
