import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { forbidden, notFound } from '../../errors.js';
import { resource } from '../http.js';
import { authorize, collection, roleView } from './views.js';

interface GrantParams {
  project_id: string;
  user_id: string;
  role_id: string;
}

/** Role grants of a user on a project: /v3/projects/{p}/users/{u}/roles[/{r}]. */
export function grantRoutes(app: FastifyInstance, services: Services): void {
  const { directory } = services;

  /** Keystone looks up role, user, then project, answering 404 for the first missing. */
  async function assertExists(p: Partial<GrantParams>): Promise<void> {
    if (p.role_id !== undefined) await directory.getRole(p.role_id);
    if (p.user_id !== undefined) await directory.getUser(p.user_id);
    if (p.project_id !== undefined) await directory.getProject(p.project_id);
  }

  const missingGrant = (p: GrantParams) =>
    notFound(`Could not find role assignment with role: ${p.role_id}, user or group: ${p.user_id}, project, domain, or system: ${p.project_id}.`);

  const check = async (request: FastifyRequest, reply: FastifyReply) => {
    const p = request.params as GrantParams;
    authorize(services, request, 'identity:check_grant');
    await assertExists(p);
    if (!(await directory.hasAssignment(p.project_id, p.user_id, p.role_id))) throw missingGrant(p);
    return reply.code(204).send();
  };

  resource(app, '/v3/projects/:project_id/users/:user_id/roles/:role_id', {
    GET: check,
    HEAD: check,
    PUT: async (request, reply) => {
      const p = request.params as GrantParams;
      authorize(services, request, 'identity:create_grant');
      await directory.assignRole(p.project_id, p.user_id, p.role_id);
      return reply.code(204).send();
    },
    DELETE: async (request, reply) => {
      const p = request.params as GrantParams;
      authorize(services, request, 'identity:revoke_grant');
      await assertExists({ role_id: p.role_id, project_id: p.project_id });
      if (!(await directory.hasAssignment(p.project_id, p.user_id, p.role_id))) throw missingGrant(p);
      // The caller's own token rests on these grants; revoking one could leave nobody admin.
      if (p.user_id === request.auth.userId && p.project_id === request.auth.projectId) {
        throw forbidden('You cannot revoke your own role on the project your token is scoped to; use a token scoped to another project.');
      }
      await directory.unassignRole(p.project_id, p.user_id, p.role_id);
      return reply.code(204).send();
    },
  });

  resource(app, '/v3/projects/:project_id/users/:user_id/roles', {
    GET: async (request) => {
      const p = request.params as GrantParams;
      authorize(services, request, 'identity:list_grants');
      await assertExists({ user_id: p.user_id, project_id: p.project_id });
      const assignments = await directory.listAssignments({ userId: p.user_id, projectId: p.project_id });
      return collection(services, request, 'roles', assignments.map((a) => roleView(services, { id: a.role_id, name: a.role_name })));
    },
  });
}
