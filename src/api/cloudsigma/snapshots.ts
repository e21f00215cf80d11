/**
 * /snapshots/: snapshots of the caller's drives (list, detail, create one or many, show,
 * edit, delete) and their clone into a new drive (src/storage/snapshots.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { invalid, notFound } from '../../errors.js';
import { created, listOf, objectAt, objectsOf, param, route } from './http.js';
import { cloneRequest, meta, tags, text, uuidOf } from './drive-bodies.js';
import { driveView, snapshotView } from './drive-view.js';

const UUID = /^[0-9a-f-]{36}$/i;

export function snapshotRoutes(api: FastifyInstance, services: Services): void {
  const snapshots = services.snapshots;
  const authorize = (request: FastifyRequest, action: string) => services.policy.authorize(request.auth, `volume:${action}`);
  const uuid = (request: FastifyRequest) => {
    const id = (request.params as { uuid: string }).uuid;
    if (!UUID.test(id)) throw notFound(`Snapshot ${id} does not exist`);
    return id.toLowerCase();
  };
  const list = async (request: FastifyRequest) => {
    authorize(request, 'get_snapshot');
    const { snapshots: all } = await snapshots.list(request.auth, { limit: 0, offset: 0 });
    // `drive=uuid` lists one drive's snapshots: the view's drive is a reference, so match its uuid.
    const views = all.map((sn) => ({ ...snapshotView(sn), drive_uuid: sn.driveId }));
    const drive = param(request, 'drive');
    const picked = drive ? views.filter((v) => drive.split(',').includes(v.drive_uuid)) : views;
    const out = listOf(request, picked, { filterable: ['name', 'uuid', 'status', 'tag'] });
    return { ...out, objects: out.objects.map(({ drive_uuid: _, ...v }) => v) };
  };
  route(api, '/snapshots/', {
    GET: list,
    POST: async (request, reply) => {
      authorize(request, 'create_snapshot');
      const projectId = request.auth.projectId!;
      const requests = [];
      for (const o of objectsOf(request.body)) {
        requests.push({ driveId: uuidOf(o.drive, 'drive'), name: text(o, 'name'), meta: meta(o), tags: await tags(services.db, projectId, o) });
      }
      const made = await snapshots.create(request.auth, requests);
      return created(reply, made.map(snapshotView) as { resource_uri: string }[], services.config.publicUrl);
    },
  });
  route(api, '/snapshots/detail/', { GET: list });
  route(api, '/snapshots/:uuid/', {
    GET: async (request) => {
      authorize(request, 'get_snapshot');
      return snapshotView(await snapshots.get(request.auth, uuid(request)));
    },
    PUT: async (request) => {
      authorize(request, 'update_snapshot');
      const id = uuid(request);
      await snapshots.get(request.auth, id);
      const o = objectAt(request.body ?? null, 'body');
      return snapshotView(await snapshots.update(request.auth, id, { name: text(o, 'name'), meta: meta(o), tags: await tags(services.db, request.auth.projectId!, o) }));
    },
    DELETE: async (request, reply) => {
      authorize(request, 'delete_snapshot');
      await snapshots.delete(request.auth, uuid(request));
      return reply.code(204).send();
    },
  });
  route(api, '/snapshots/:uuid/action/', {
    POST: async (request, reply) => {
      const id = uuid(request);
      const action = param(request, 'do');
      if (action !== 'clone') throw invalid(`Unknown action ${action ?? '(none)'}`, 'do');
      authorize(request, 'create');
      await snapshots.get(request.auth, id);
      const body = request.body === undefined || request.body === null ? {} : objectAt(request.body, 'body');
      const copy = await services.drives.cloneSnapshot(request.auth, id, await cloneRequest(services.db, request.auth.projectId!, body, param(request, 'avoid')));
      reply.code(202);
      return { objects: [driveView(copy)] };
    },
  });
}
