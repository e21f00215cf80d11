import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { AuthContext } from '../../identity/tokens.js';
import type { Schema } from '../../db/schema.js';
import type { Services } from '../../services.js';
import { NimbusError, conflict, forbidden, invalid, notFound } from '../../errors.js';
import { NetworkingError } from '../../network/errors.js';
import { createFloatingIp, deleteFloatingIp, findFloatingIp, listFloatingIps, updateFloatingIp, type FloatingIpRecord } from '../../network/floatingIps.js';
import type { ServerAddress } from '../../network/servers.js';
import { viewerOf } from '../network/access.js';
import { resource } from '../http.js';
import { onlyVersions } from './wire.js';

/**
 * Nova's floating IP proxies to Neutron (nova/api/openstack/compute/floating_ips.py,
 * floating_ip_pools.py): os-floating-ips and os-floating-ip-pools up to 2.35, and the
 * addFloatingIp / removeFloatingIp server actions up to 2.43, with Nova's messages. Nova
 * asks Neutron with the caller's token: what the caller cannot see there does not exist.
 */
const LAST_PROXY_VERSION = '2.35';
/** What Nova's CONF.neutron.default_floating_pool names when a create names no pool. */
const DEFAULT_POOL = 'nova';
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

type Q = Kysely<Schema>;

/** Nova's _translate_floating_ip_view: pool is the network's name (or id), instance_id the port's device. */
async function novaView(db: Q, fip: FloatingIpRecord): Promise<Record<string, unknown>> {
  const net = await db.selectFrom('networks').select(['id', 'name']).where('id', '=', fip.floating_network_id).executeTakeFirst();
  const port = fip.fixed_port_id ? await db.selectFrom('ports').select('device_id').where('id', '=', fip.fixed_port_id).executeTakeFirst() : undefined;
  return {
    id: fip.id,
    ip: fip.floating_ip_address,
    pool: net ? net.name || net.id : fip.floating_network_id,
    fixed_ip: fip.fixed_ip_address,
    instance_id: port ? port.device_id : null,
  };
}

/** Nova's _get_floating_ip_by_address: the caller's floating IP with this address, or 404 with Nova's message. */
async function byAddress(db: Q, ctx: AuthContext, address: string, message?: string): Promise<FloatingIpRecord> {
  const hits = address ? (await listFloatingIps(db, viewerOf(ctx))).filter((f) => f.floating_ip_address === address) : [];
  if (!hits.length) throw notFound(message ?? `Floating IP not found for address ${address}.`);
  if (hits.length > 1) throw conflict(`Multiple floating IPs are found for address ${address}.`);
  return hits[0];
}

/** The external network a pool names (by id when it looks like one, else by name), as Nova finds it. */
async function poolNetwork(db: Q, pool: string): Promise<string> {
  // External networks are visible to every project (Neutron's rule:external).
  const external = await db.selectFrom('networks').select(['id', 'name']).where('external', '=', 1).execute();
  const nets = external.filter((n) => (UUID.test(pool) ? n.id === pool : n.name === pool));
  if (!nets.length) throw notFound('Floating IP pool not found.');
  if (nets.length > 1) throw conflict(`Multiple floating IP pools matches found for name '${pool}'`);
  return nets[0].id;
}

export function floatingIpProxyRoutes(app: FastifyInstance, services: Services): void {
  const { db } = services;
  const authorize = (request: FastifyRequest, rule: string) => {
    onlyVersions(request, null, LAST_PROXY_VERSION);
    services.policy.authorize(request.auth, `os_compute_api:os-floating-ips:${rule}`, request.auth.projectId);
  };
  const byId = async (request: FastifyRequest) => {
    const { id } = request.params as { id: string };
    try {
      return await findFloatingIp(db, viewerOf(request.auth), id);
    } catch (err) {
      if (err instanceof NimbusError && err.kind === 'not_found') throw notFound(`Floating IP not found for ID ${id}`);
      throw err;
    }
  };

  resource(app, '/os-floating-ips', {
    GET: async (request) => {
      authorize(request, 'list');
      // get_floating_ips_by_project: the caller's project's, an admin's too.
      const own = (await listFloatingIps(db, viewerOf(request.auth))).filter((f) => f.project_id === request.auth.projectId);
      return { floating_ips: await Promise.all(own.map((f) => novaView(db, f))) };
    },
    POST: async (request) => {
      authorize(request, 'create');
      const body = request.body as Record<string, unknown> | null | undefined;
      const asked = body && typeof body === 'object' && 'pool' in body ? body.pool : undefined;
      if (asked !== undefined && asked !== null && typeof asked !== 'string') throw invalid('Invalid input for field/attribute pool.', 'pool');
      const pool = (asked as string | null | undefined) || DEFAULT_POOL;
      const ctx = request.auth;
      const networkId = await poolNetwork(db, pool);
      try {
        const fip = await services.network.transaction((tx, now) =>
          createFloatingIp(tx, now, viewerOf(ctx), ctx.projectId ?? '', { floating_network_id: networkId, description: '' }),
        );
        return { floating_ip: await novaView(db, fip) };
      } catch (err) {
        if (!(err instanceof NetworkingError)) throw err;
        if (err.neutronType === 'IpAddressGenerationFailure') throw notFound(asked ? `No more floating IPs in pool ${pool}.` : 'No more floating IPs available.');
        if (err.neutronType === 'OverQuota') throw forbidden(asked ? `IP allocation over quota in pool ${pool}.` : 'IP allocation over quota.');
        if (err.kind === 'invalid') throw invalid('The floating IP request failed with a BadRequest');
        throw err;
      }
    },
  });

  resource(app, '/os-floating-ips/:id', {
    GET: async (request) => {
      authorize(request, 'show');
      return { floating_ip: await novaView(db, await byId(request)) };
    },
    DELETE: async (request, reply) => {
      authorize(request, 'delete');
      const fip = await byId(request);
      // disassociate_and_release_floating_ip: gone, associated or not; the server's addresses follow.
      await services.network.transaction(async (tx, now) => deleteFloatingIp(tx, now, await findFloatingIp(tx, viewerOf(request.auth), fip.id)));
      return reply.code(202).send();
    },
  });

  resource(app, '/os-floating-ip-pools', {
    GET: async (request) => {
      onlyVersions(request, null, LAST_PROXY_VERSION);
      services.policy.authorize(request.auth, 'os_compute_api:os-floating-ip-pools', request.auth.projectId);
      // get_floating_ip_pools: the external networks the caller's token lists.
      const nets = await db.selectFrom('networks').select(['id', 'name']).where('external', '=', 1).orderBy('created_at').orderBy('id').execute();
      return { floating_ip_pools: nets.map((n) => ({ name: n.name || n.id })) };
    },
  });
}

/**
 * addFloatingIp (up to 2.43): the floating IP onto the server's fixed address (the one
 * named, or its first IPv4 address), as Nova's _add_floating_ip checks and words it.
 */
export async function addFloatingIp(services: Services, ctx: AuthContext, serverId: string, address: string, fixedAddress: string | undefined): Promise<void> {
  const { db } = services;
  const server = await db.selectFrom('servers').select(['addresses', 'project_id']).where('id', '=', serverId).where('deleted', '=', 0).executeTakeFirstOrThrow();
  const cached = Object.values(JSON.parse(server.addresses || '{}') as Record<string, ServerAddress[]>).flat();
  if (!cached.length) throw invalid('Instance network is not ready yet');
  const fixed = cached.filter((a) => a['OS-EXT-IPS:type'] === 'fixed');
  if (!fixed.length) throw invalid('No fixed IPs associated to instance');
  let fixedIp = fixedAddress;
  if (fixedIp !== undefined) {
    if (!fixed.some((a) => a.addr === fixedIp)) throw invalid('Specified fixed address not assigned to instance');
  } else {
    fixedIp = fixed.find((a) => a.version === 4)?.addr;
    if (!fixedIp) {
      throw invalid(`Unable to associate floating IP ${address} to any fixed IPs for instance ${serverId}. Instance has no fixed IPv4 addresses to associate.`);
    }
  }
  const failed = (error: string) => invalid(`Unable to associate floating IP ${address} to fixed IP ${fixedIp} for instance ${serverId}. Error: ${error}`);
  const fip = await byAddress(db, ctx, address, 'floating IP not found');
  await services.network.transaction(async (tx, now) => {
    // _get_port_id_by_fixed_address: the server's port (device_owner compute:…) holding that address.
    const port = await tx
      .selectFrom('ports')
      .innerJoin('ip_allocations', 'ip_allocations.port_id', 'ports.id')
      .select('ports.id')
      .where('ports.device_id', '=', serverId)
      .where('ports.device_owner', 'like', 'compute:%')
      .where('ip_allocations.ip_address', '=', fixedIp!)
      .executeTakeFirst();
    if (!port) throw failed(`Fixed IP not found for address ${fixedIp}.`);
    try {
      await updateFloatingIp(tx, now, viewerOf(ctx), fip, { port_id: port.id, fixed_ip_address: fixedIp });
    } catch (err) {
      if (!(err instanceof NetworkingError)) throw err;
      if (err.kind === 'conflict') throw invalid(`Floating IP ${address} association has failed.`);
      if (err.kind === 'forbidden') throw forbidden(err.message);
      throw failed(err.message);
    }
  });
}

/**
 * removeFloatingIp (up to 2.43): the floating IP off the server it is on; 409 when it is
 * not on this one. The policy is checked against the project of the server it is on.
 */
export async function removeFloatingIp(services: Services, ctx: AuthContext, serverId: string, address: string): Promise<void> {
  const { db } = services;
  const fip = await byAddress(db, ctx, address);
  let instance: { id: string; project_id: string } | undefined;
  if (fip.fixed_port_id) {
    const port = await db.selectFrom('ports').select('device_id').where('id', '=', fip.fixed_port_id).executeTakeFirst();
    if (port?.device_id) {
      instance = await db.selectFrom('servers').select(['id', 'project_id']).where('id', '=', port.device_id).where('deleted', '=', 0).executeTakeFirst();
      if (!instance || (!ctx.isAdmin && instance.project_id !== ctx.projectId)) throw notFound(`Instance ${port.device_id} could not be found.`);
    }
  }
  services.policy.authorize(ctx, 'os_compute_api:os-floating-ips:remove', instance?.project_id ?? ctx.projectId);
  if (!instance || instance.id !== serverId) throw conflict(`Floating IP ${address} is not associated with instance ${serverId}.`);
  await services.network.transaction(async (tx, now) => updateFloatingIp(tx, now, viewerOf(ctx), fip, { port_id: null }));
}
