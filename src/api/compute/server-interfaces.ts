import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { NimbusError, notFound } from '../../errors.js';
import { ServerActions } from '../../compute/server-actions.js';
import { Servers, parseJson } from '../../compute/servers.js';
import type { PortRecord } from '../../network/ports.js';
import { validate } from '../validation.js';
import { resource } from '../http.js';
import { perVersion, type Microversion } from './microversion.js';
import { tag } from './schemas/servers.js';

/**
 * Nova's os-interface (nova/api/openstack/compute/attach_interfaces.py): a server's ports,
 * and attaching or detaching one while the server runs, is paused or is shut off.
 */
const createSchema = perVersion((v: Microversion) => ({
  type: 'object',
  properties: {
    interfaceAttachment: {
      type: 'object',
      properties: {
        net_id: { type: 'string', format: 'uuid' },
        port_id: { type: 'string', format: 'uuid' },
        fixed_ips: {
          type: 'array',
          minItems: 1,
          maxItems: 1,
          items: { type: 'object', properties: { ip_address: { type: 'string', oneOf: [{ format: 'ipv4' }, { format: 'ipv6' }] } }, required: ['ip_address'], additionalProperties: false },
        },
        ...(v.atLeast('2.49') ? { tag } : {}),
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
}));

interface Attachment {
  net_id?: string;
  port_id?: string;
  fixed_ips?: { ip_address: string }[];
  tag?: string;
}

/** Nova's view; the tag (from 2.70) is the one a port was attached with, which Nimbus does not keep. */
function attachmentView(p: PortRecord, v: Microversion) {
  return {
    net_id: p.network_id,
    port_id: p.id,
    mac_addr: p.mac_address,
    port_state: p.status,
    fixed_ips: p.fixed_ips.map((f) => ({ subnet_id: f.subnet_id, ip_address: f.ip_address })),
    ...(v.atLeast('2.70') ? { tag: null } : {}),
  };
}

/** Attach's lookups: a port or network that is not there is 404 here (a create answers 400 for the same). */
function notThere(err: unknown): unknown {
  return err instanceof NimbusError && err.kind === 'invalid' && / could not be found\.$/.test(err.message) ? notFound(err.message) : err;
}

export function serverInterfaceRoutes(app: FastifyInstance, services: Services): void {
  const servers = new Servers(services);
  const actions = new ServerActions(services);
  const params = (request: FastifyRequest) => request.params as { id: string; port_id: string };
  const serverOf = async (request: FastifyRequest, policy: string) => {
    const server = await servers.get(request.auth, params(request).id);
    services.policy.authorize(request.auth, `os_compute_api:os-attach-interfaces:${policy}`, server.project_id);
    return server;
  };

  resource(app, '/servers/:id/os-interface', {
    GET: async (request) => {
      const server = await serverOf(request, 'list');
      const ports = await services.network.serverPorts(services.db, { id: server.id, projectId: server.project_id });
      return { interfaceAttachments: ports.map((p) => attachmentView(p, request.microversion)) };
    },
    POST: async (request) => {
      const server = await serverOf(request, 'create');
      const body = validate<{ interfaceAttachment?: Attachment }>(createSchema(request.microversion), request.body ?? {});
      const a = body.interfaceAttachment ?? {};
      const ip = a.fixed_ips?.[0]?.ip_address;
      if (a.net_id && a.port_id) throw new NimbusError('invalid', 'Must not input both network_id and port_id');
      if (ip && !a.net_id) throw new NimbusError('invalid', 'Must input network_id when request IP address');
      const port = await actions
        .changeInterface(request.auth, server.id, request.id, 'attach_interface', (tx, s) =>
          services.network.attachPort(tx, {
            projectId: s.project_id,
            serverId: s.id,
            requested: a.net_id || a.port_id ? [{ uuid: a.net_id, port: a.port_id, fixedIp: ip }] : 'auto',
            securityGroups: parseJson<string[]>(s.security_groups, []),
            isAdmin: request.auth.isAdmin,
            host: s.host,
            availabilityZone: s.availability_zone,
          }),
        )
        .catch((err) => Promise.reject(notThere(err)));
      return { interfaceAttachment: attachmentView(port, request.microversion) };
    },
  });

  resource(app, '/servers/:id/os-interface/:port_id', {
    GET: async (request) => {
      const server = await serverOf(request, 'show');
      const portId = params(request).port_id;
      const port = (await services.network.serverPorts(services.db, { id: server.id, projectId: server.project_id })).find((p) => p.id === portId);
      if (!port) throw notFound(`Instance ${server.id} does not have a port with id ${portId}`);
      return { interfaceAttachment: attachmentView(port, request.microversion) };
    },
    DELETE: async (request, reply) => {
      const server = await serverOf(request, 'delete');
      await actions.changeInterface(request.auth, server.id, request.id, 'detach_interface', (tx, s) =>
        services.network.detachPort(tx, { id: s.id, projectId: s.project_id }, params(request).port_id),
      );
      return reply.code(202).send();
    },
  });
}
