import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { queryLists } from '../query.js';
import { NetworkingError, badAttribute } from '../../network/errors.js';
import { MAX_ID_LENGTH } from '../../identity/directory.js';
import { canAutoAllocate, deleteTopology, getOrCreateTopology } from '../../network/autoAllocate.js';
import { resource } from '../http.js';
import { authorize } from './access.js';

/** Neutron's /auto-allocated-topology/{project_id}: GET gives (making it first if need be), DELETE takes apart. */
export function autoAllocateRoutes(app: FastifyInstance, services: Services): void {
  // A project id longer than any project's is refused as Neutron's quotas refuse it, before the database.
  const projectOf = (request: FastifyRequest) => {
    const id = (request.params as { project_id: string }).project_id;
    if (id.length > MAX_ID_LENGTH) throw badAttribute('project_id', `'${id}' exceeds maximum length of ${MAX_ID_LENGTH}`);
    return id;
  };
  resource(app, '/auto-allocated-topology/:project_id', {
    GET: async (request) => {
      const project = projectOf(request);
      authorize(services, request.auth, 'get_auto_allocated_topology', project);
      // ?fields=dry-run: only whether it could be made, as Neutron's validation answers it.
      if ((queryLists(request).fields ?? []).includes('dry-run')) {
        if (!(await canAutoAllocate(services.db))) throw new NetworkingError('conflict', 'Deployment error: No default router:external network.', 'AutoAllocationFailure');
        return { auto_allocated_topology: { 'dry-run': 'pass' } };
      }
      const id = await services.network.transaction((tx, now) => getOrCreateTopology(tx, now, project));
      return { auto_allocated_topology: { id, tenant_id: project, project_id: project } };
    },
    DELETE: async (request: FastifyRequest, reply: FastifyReply) => {
      const project = projectOf(request);
      authorize(services, request.auth, 'delete_auto_allocated_topology', project);
      await services.network.transaction((tx) => deleteTopology(tx, project));
      return reply.code(204).send();
    },
  });
}
