import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { Servers, parseJson, type Server } from '../../compute/servers.js';
import { notFound } from '../../errors.js';
import { resource } from '../http.js';

type Addresses = Record<string, { version: number; addr: string }[]>;

/** The ips resource shows only version and addr, without the OS-EXT-IPS extensions the server view has. */
const plain = (list: { version: number; addr: string }[]) => list.map((a) => ({ version: a.version, addr: a.addr }));

const addressesOf = (server: Server) => parseJson<Addresses>(server.addresses, {});

/** GET /servers/{id}/ips and /ips/{network}: the server's addresses by network name. */
export function serverIpRoutes(app: FastifyInstance, services: Services): void {
  const servers = new Servers(services);
  const authorized = async (request: FastifyRequest, rule: string) => {
    const { id } = request.params as { id: string };
    const server = await servers.get(request.auth, id);
    services.policy.authorize(request.auth, `os_compute_api:ips:${rule}`, server.project_id);
    return server;
  };

  resource(app, '/servers/:id/ips', {
    GET: async (request) => {
      const addresses = addressesOf(await authorized(request, 'index'));
      return { addresses: Object.fromEntries(Object.entries(addresses).map(([network, list]) => [network, plain(list)])) };
    },
  });

  resource(app, '/servers/:id/ips/:network', {
    GET: async (request) => {
      const { network } = request.params as { network: string };
      const addresses = addressesOf(await authorized(request, 'show'));
      if (!Object.hasOwn(addresses, network)) throw notFound('Instance is not a member of specified network');
      return { [network]: plain(addresses[network]) };
    },
  });
}
