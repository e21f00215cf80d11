import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { Servers } from '../../compute/servers.js';
import { resource } from '../http.js';

/**
 * GET and DELETE /servers/{id}/os-server-password. In Nova this is the password the guest
 * itself posts to the metadata service, encrypted with the server's key pair: never the
 * adminPass, which is not kept anywhere. Nimbus has no metadata service for guests to post
 * to, so there is never such a password: GET shows the empty string Nova shows until a
 * guest posts one, and DELETE has nothing to clear.
 */
export function serverPasswordRoutes(app: FastifyInstance, services: Services): void {
  const servers = new Servers(services);
  const authorize = async (request: FastifyRequest, rule: string) => {
    const { id } = request.params as { id: string };
    const server = await servers.get(request.auth, id);
    services.policy.authorize(request.auth, `os_compute_api:os-server-password:${rule}`, server.project_id);
  };

  resource(app, '/servers/:id/os-server-password', {
    GET: async (request) => {
      await authorize(request, 'show');
      return { password: '' };
    },
    DELETE: async (request, reply) => {
      await authorize(request, 'clear');
      return reply.code(204).send();
    },
  });
}
