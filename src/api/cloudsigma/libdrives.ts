/**
 * /libdrives/: the library, which is the image store's images seen as drives
 * (src/storage/library.ts), and their clone into a drive of the caller's.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { invalid, notFound } from '../../errors.js';
import { listOf, objectAt, param, route } from './http.js';
import { cloneRequest } from './drive-bodies.js';
import { driveView, libdriveView } from './drive-view.js';
import { LIBDRIVE_SCHEMA } from './schemas/drives.js';

const FILTERABLE = ['name', 'uuid', 'os', 'arch', 'image_type', 'media', 'distribution', 'version', 'category', 'tag'];
const UUID = /^[0-9a-f-]{36}$/i;

export function libdriveRoutes(api: FastifyInstance, services: Services): void {
  const authorize = (request: FastifyRequest, action: string) => services.policy.authorize(request.auth, `volume:${action}`);
  const uuid = (request: FastifyRequest) => {
    const id = (request.params as { uuid: string }).uuid;
    if (!UUID.test(id)) throw notFound(`Library drive ${id} does not exist`);
    return id.toLowerCase();
  };
  const list = async (request: FastifyRequest) => {
    authorize(request, 'get_all');
    const { drives } = await services.library.list(request.auth, { limit: 0, offset: 0 });
    return listOf(request, drives.map(libdriveView), { filterable: FILTERABLE });
  };
  route(api, '/libdrives/', { GET: list });
  route(api, '/libdrives/detail/', { GET: list });
  route(api, '/libdrives/schema/', { GET: async () => LIBDRIVE_SCHEMA });
  route(api, '/libdrives/:uuid/', {
    GET: async (request) => {
      authorize(request, 'get');
      return libdriveView(await services.library.get(request.auth, uuid(request)));
    },
  });
  route(api, '/libdrives/:uuid/action/', {
    POST: async (request, reply) => {
      const id = uuid(request);
      const action = param(request, 'do');
      if (action !== 'clone') throw invalid(`Unknown action ${action ?? '(none)'}`, 'do');
      authorize(request, 'create');
      await services.library.get(request.auth, id);
      const body = request.body === undefined || request.body === null ? {} : objectAt(request.body, 'body');
      const copy = await services.drives.cloneImage(request.auth, id, await cloneRequest(services.db, request.auth.projectId!, body, param(request, 'avoid')));
      reply.code(202);
      return { objects: [driveView(copy)] };
    },
  });
}
