import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { Servers } from '../../compute/servers.js';
import { serverPasswords } from '../../compute/server-passwords.js';
import { resource } from '../http.js';

/**
 * GET and DELETE /servers/{id}/os-server-password. In Nova this is the password the guest
 * itself posts to the metadata service (encrypted with the server's key pair): never the
 * adminPass, which is not kept anywhere. GET shows the empty string until a guest posts
 * one; DELETE clears it, and the guest may then post again.
 */
export function serverPasswordRoutes(app: FastifyInstance, services: Services): void {
  const servers = new Servers(services);
  const authorize = async (request: FastifyRequest, rule: string) => {
    const { id } = request.params as { id: string };
    const server = await servers.get(request.auth, id);
    services.policy.authorize(request.auth, `os_compute_api:os-server-password:${rule}`, server.project_id);
    return server.id;
  };

  resource(app, '/servers/:id/os-server-password', {
    GET: async (request) => {
      const id = await authorize(request, 'show');
      return { password: (await serverPasswords.get(services.db, id)) ?? '' };
    },
    DELETE: async (request, reply) => {
      const id = await authorize(request, 'clear');
      await serverPasswords.clear(services.db, id);
      return reply.code(204).send();
    },
  });
}
