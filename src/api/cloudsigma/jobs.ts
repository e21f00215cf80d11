/** /jobs/: the progress and state of the caller's drive and server clones (src/storage/jobs.ts). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { notFound } from '../../errors.js';
import { listOf, route } from './http.js';
import { jobView } from './drive-view.js';
import { JOBS_SCHEMA } from './schemas/drives.js';

export function jobRoutes(api: FastifyInstance, services: Services): void {
  const list = async (request: FastifyRequest) => {
    services.policy.authorize(request.auth, 'volume:get_all');
    const { jobs } = await services.jobs.list(request.auth, { limit: 0, offset: 0 });
    return listOf(request, jobs.map(jobView), { filterable: ['state', 'operation', 'uuid'], orderable: ['uuid', 'last_modified', 'created'] });
  };
  route(api, '/jobs/', { GET: list });
  route(api, '/jobs/detail/', { GET: list });
  route(api, '/jobs/schema/', { GET: async () => JOBS_SCHEMA });
  route(api, '/jobs/:uuid/', {
    GET: async (request) => {
      services.policy.authorize(request.auth, 'volume:get');
      const id = (request.params as { uuid: string }).uuid;
      if (!/^[0-9a-f-]{36}$/i.test(id)) throw notFound(`Job ${id} does not exist`);
      return jobView(await services.jobs.get(request.auth, id.toLowerCase()));
    },
  });
}
