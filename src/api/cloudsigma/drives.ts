/**
 * /drives/: list, detail, schema, create (one or many, all or nothing), show, edit, delete
 * (one, or many with DELETE /drives/), the clone and resize actions, and the availability
 * groups. Every rule is the core's (src/storage/drives.ts); this file reads CloudSigma's
 * bodies and renders its views.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { NimbusError, invalid, notFound } from '../../errors.js';
import type { Drive } from '../../storage/drives.js';
import { created, listOf, objectAt, objectsOf, param, route } from './http.js';
import { cloneRequest, driveChange, newDrive, size, uuidOf } from './drive-bodies.js';
import { driveSummary, driveView, libdriveAsDrive } from './drive-view.js';
import { DRIVE_SCHEMA } from './schemas/drives.js';

const FILTERABLE = ['name', 'uuid', 'status', 'tag', 'media', 'storage_type'];
const ORDERABLE = ['uuid', 'name', 'size', 'status'];
const UUID = /^[0-9a-f-]{36}$/i;

export function driveRoutes(api: FastifyInstance, services: Services): void {
  const drives = services.drives;
  const authorize = (request: FastifyRequest, action: string) => services.policy.authorize(request.auth, `volume:${action}`);
  const uuid = (request: FastifyRequest) => {
    const id = (request.params as { uuid: string }).uuid;
    if (!UUID.test(id)) throw notFound(`Drive ${id} does not exist`);
    return id.toLowerCase();
  };
  /**
   * Lists filter and page over the full view, so a filter on any shown field sees what the
   * client sees; `fields=a,b` keeps only those fields (response_drive_list_just_uuid_and_status).
   */
  const page = async (request: FastifyRequest, render: (d: Drive) => Record<string, unknown>) => {
    const every = (await drives.list(request.auth, { limit: 0, offset: 0 })).drives;
    const byId = new Map(every.map((d) => [d.id, d]));
    const list = listOf(request, every.map(driveView), { filterable: FILTERABLE, orderable: ORDERABLE });
    const fields = param(request, 'fields')?.split(',').filter(Boolean);
    const objects = list.objects.map((v) => {
      const shown = render === driveView ? v : render(byId.get(v.uuid as string)!);
      return fields?.length ? Object.fromEntries(fields.filter((f) => f in v).map((f) => [f, v[f]])) : shown;
    });
    return { ...list, objects };
  };

  route(api, '/drives/', {
    GET: async (request) => {
      authorize(request, 'get_all');
      return page(request, driveSummary);
    },
    POST: async (request, reply) => {
      authorize(request, 'create');
      const projectId = request.auth.projectId!;
      const requests = [];
      for (const o of objectsOf(request.body)) requests.push(await newDrive(services.db, projectId, o));
      const made = await drives.create(request.auth, requests);
      return created(reply, made.map(driveView) as { resource_uri: string }[], services.config.publicUrl);
    },
    /** Many at once, all or none: `{"objects": [{"uuid": …} | "uuid", …]}` or a bare list. */
    DELETE: async (request, reply) => {
      authorize(request, 'delete');
      const body = request.body;
      const items = Array.isArray(body) ? body : body && typeof body === 'object' && Array.isArray((body as { objects?: unknown }).objects) ? (body as { objects: unknown[] }).objects : null;
      if (!items || items.length === 0) throw invalid('A list of drives to delete is required', 'objects');
      await drives.delete(request.auth, items.map((item, i) => uuidOf(item, `objects[${i}]`)));
      return reply.code(204).send();
    },
  });

  route(api, '/drives/detail/', {
    GET: async (request) => {
      authorize(request, 'get_all');
      return page(request, driveView);
    },
  });

  route(api, '/drives/schema/', {
    GET: async () => {
      const schema = structuredClone(DRIVE_SCHEMA);
      schema.fields.storage_type.choices = drives.storageTypes().map((t) => t.name);
      return schema;
    },
  });

  route(api, '/drives/availability_groups/', {
    GET: async (request) => {
      authorize(request, 'get_all');
      return drives.availabilityGroups(request.auth);
    },
  });

  route(api, '/drives/:uuid/', {
    GET: async (request) => {
      authorize(request, 'get');
      const id = uuid(request);
      try {
        return driveView(await drives.get(request.auth, id));
      } catch (err) {
        // A library drive can be read as a drive too (response_librdrive_get_through_drives).
        if (!(err instanceof NimbusError) || err.kind !== 'not_found') throw err;
        const library = await services.library.get(request.auth, id).catch(() => null);
        if (!library) throw err;
        return libdriveAsDrive(library, drives.storageTypes()[0].name);
      }
    },
    PUT: async (request) => {
      authorize(request, 'update');
      const id = uuid(request);
      await drives.get(request.auth, id); // 404 before the body's 400s
      const change = await driveChange(services.db, request.auth.projectId!, objectAt(request.body ?? null, 'body'));
      return driveView(await drives.update(request.auth, id, change));
    },
    DELETE: async (request, reply) => {
      authorize(request, 'delete');
      await drives.delete(request.auth, [uuid(request)]);
      return reply.code(204).send();
    },
  });

  route(api, '/drives/:uuid/action/', {
    POST: async (request, reply) => {
      const id = uuid(request);
      const action = param(request, 'do');
      const body = request.body === undefined || request.body === null ? {} : objectAt(request.body, 'body');
      switch (action) {
        case 'clone': {
          authorize(request, 'create');
          // A library drive is cloned through /drives/ too: libcloud's create_node does so.
          const own = await drives.get(request.auth, id).catch((err) => {
            if (err instanceof NimbusError && err.kind === 'not_found') return null;
            throw err;
          });
          const library = own ? null : await services.library.get(request.auth, id).catch(() => null);
          if (!own && !library) throw notFound(`Drive ${id} does not exist.`);
          const req = await cloneRequest(services.db, request.auth.projectId!, body, param(request, 'avoid'));
          const copy = own ? await drives.clone(request.auth, id, req) : await drives.cloneImage(request.auth, id, req);
          reply.code(202);
          return { objects: [driveView(copy)] };
        }
        case 'resize': {
          authorize(request, 'extend');
          await drives.get(request.auth, id);
          const resized = await drives.resize(request.auth, id, size(body, 'size', true)!);
          reply.code(202);
          return { objects: [driveView(resized)] };
        }
        default:
          throw invalid(`Unknown action ${action ?? '(none)'}`, 'do');
      }
    },
  });
}
