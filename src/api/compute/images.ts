import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { forbidden, invalid, NimbusError, notFound } from '../../errors.js';
import { isoSeconds } from '../../clock.js';
import type { Image } from '../../image/images.js';
import { listImages, type ProxyImageFilters } from '../../compute/image-proxy.js';
import { resource } from '../http.js';
import { boolFromString, lastValue, noSuchRoute, onlyVersions, queryLists, type QueryLists } from './wire.js';

/** Nova's CONF.api.max_limit. */
const MAX_LIMIT = 1000;
/** The proxy APIs went at 2.36. */
const LAST_PROXY_VERSION = '2.35';

/** nova.api.openstack.compute.views.images: Glance's status and progress in Nova's words. */
const STATUS: Record<string, string> = { active: 'ACTIVE', queued: 'SAVING', saving: 'SAVING', deleted: 'DELETED', pending_delete: 'DELETED', killed: 'ERROR' };
const PROGRESS: Record<string, number> = { queued: 25, saving: 50, active: 100 };

const imageNotFound = () => notFound('Image not found.');

/** The image if the caller may see it, else 404 — another project's private image does not exist for it. */
export async function visibleImage(services: Services, request: FastifyRequest, id: string): Promise<Image> {
  if (!services.policy.check(request.auth, 'image:get_image')) throw imageNotFound();
  try {
    return await services.images.get(id, request.auth);
  } catch (err) {
    if (err instanceof NimbusError && err.kind === 'not_found') throw imageNotFound();
    throw err;
  }
}

interface Urls {
  compute: string;
  image: string;
}

function imageLinks(urls: Urls, id: string) {
  return [
    { rel: 'self', href: `${urls.compute}/v2.1/images/${id}` },
    { rel: 'bookmark', href: `${urls.compute}/images/${id}` },
    // Nova's alternate link is the Glance endpoint without its version.
    { rel: 'alternate', type: 'application/vnd.openstack.image', href: `${urls.image}/images/${id}` },
  ];
}

function basicView(urls: Urls, image: Image): Record<string, unknown> {
  return { id: image.id, name: image.name, links: imageLinks(urls, image.id) };
}

function detailView(urls: Urls, image: Image): Record<string, unknown> {
  const view: Record<string, unknown> = {
    id: image.id,
    name: image.name,
    minRam: image.minRam,
    minDisk: image.minDisk,
    metadata: image.properties,
    created: isoSeconds(image.createdAt),
    updated: isoSeconds(image.updatedAt),
    status: STATUS[image.status] ?? 'UNKNOWN',
    progress: PROGRESS[image.status] ?? 0,
    'OS-EXT-IMG-SIZE:size': image.size ?? 0,
    links: imageLinks(urls, image.id),
  };
  // A snapshot names the server it was taken of.
  const server = image.properties.instance_uuid;
  if (server !== undefined) {
    view.server = {
      id: server,
      links: [
        { rel: 'self', href: `${urls.compute}/v2.1/servers/${server}` },
        { rel: 'bookmark', href: `${urls.compute}/servers/${server}` },
      ],
    };
  }
  const autoDiskConfig = image.properties.auto_disk_config;
  if (autoDiskConfig !== undefined) view['OS-DCF:diskConfig'] = boolFromString(autoDiskConfig) ? 'AUTO' : 'MANUAL';
  return view;
}

/** oslo's validate_integer with a minimum of 0, as Nova's paging reads limit. */
function pagingLimit(value: string): number {
  if (!/^\s*[+-]?\d+\s*$/.test(value)) throw invalid('Invalid input received: limit must be an integer');
  const n = Number(value.trim());
  if (n < 0) throw invalid('Invalid input received: limit must be >= 0');
  return n;
}

/** An ISO 8601 time as Glance's parse_isotime reads it; no zone means UTC. */
function isoTime(key: string, value: string): Date {
  const bad = () => invalid(`Invalid input for query parameters ${key}. Value: ${value}. '${value}' is not a 'date-time'`);
  if (!/^\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?$/i.test(value)) throw bad();
  const zoned = /[zZ]|[+-]\d\d:?\d\d$/.test(value.slice(10)) ? value : value.length > 10 ? `${value}Z` : value;
  const t = Date.parse(zoned.replace(' ', 'T'));
  if (Number.isNaN(t)) throw bad();
  return new Date(t);
}

function integerFilter(key: string, value: string): number {
  if (!/^\s*[+-]?\d+\s*$/.test(value)) throw invalid(`Invalid input for query parameters ${key}. Value: ${value}. '${value}' is not of type 'integer'`);
  return Number(value.trim());
}

/** Nova's images _get_filters and paging: the supported filters, property-*, limit and marker. */
function parseFilters(q: QueryLists): ProxyImageFilters {
  const f: ProxyImageFilters = {};
  const value = (key: string) => lastValue(q, key);
  if (value('name') !== undefined) f.name = value('name');
  // Glance's statuses are lower case.
  if (value('status') !== undefined) f.status = value('status')!.toLowerCase();
  if (value('changes-since') !== undefined) f.changesSince = isoTime('changes-since', value('changes-since')!);
  // A server may be given by its link: the id is the last path segment.
  if (value('server') !== undefined) f.server = value('server')!.split('/').at(-1);
  if (value('type') !== undefined) f.type = value('type');
  if (value('minRam') !== undefined) f.minRam = integerFilter('minRam', value('minRam')!);
  if (value('minDisk') !== undefined) f.minDisk = integerFilter('minDisk', value('minDisk')!);
  for (const key of Object.keys(q)) {
    if (key.startsWith('property-') && key.length > 'property-'.length) (f.properties ??= {})[key.slice('property-'.length)] = value(key)!;
  }
  const limit = value('limit') === undefined ? 0 : pagingLimit(value('limit')!);
  // limit=0 asks for no limit, as Nova drops a zero before asking Glance.
  if (limit > 0) f.limit = Math.min(limit, MAX_LIMIT);
  if (value('marker') !== undefined) f.marker = value('marker');
  return f;
}

/** The compute API's image proxy: /images, /images/detail and /images/{id}, up to 2.35. */
export function imageProxyRoutes(app: FastifyInstance, services: Services, base: string): void {
  const urls: Urls = { compute: base, image: `${services.config.publicUrl}/image` };

  async function list(request: FastifyRequest, detail: boolean) {
    onlyVersions(request, null, LAST_PROXY_VERSION);
    const q = queryLists(request);
    const filters = parseFilters(q);
    const images = await listImages(services.images, request.auth, filters);
    const body: Record<string, unknown> = { images: images.map((i) => (detail ? detailView(urls, i) : basicView(urls, i))) };
    const rawLimit = lastValue(q, 'limit');
    const pageSize = Math.min(rawLimit === undefined ? MAX_LIMIT : pagingLimit(rawLimit), MAX_LIMIT);
    if (pageSize > 0 && images.length === pageSize) {
      const params = new URLSearchParams();
      for (const key of Object.keys(q).sort()) if (key !== 'marker') params.append(key, lastValue(q, key)!);
      params.append('marker', images[images.length - 1].id);
      body.images_links = [{ rel: 'next', href: `${base}/v2.1/images${detail ? '/detail' : ''}?${params}` }];
    }
    return body;
  }

  async function remove(request: FastifyRequest, id: string) {
    onlyVersions(request, null, LAST_PROXY_VERSION);
    const image = await visibleImage(services, request, id);
    const denied = () => forbidden('You are not allowed to delete the image.');
    // Glance's delete policy, and its refusal of protected images, both come back as 403.
    if (!services.policy.check(request.auth, 'image:delete_image', image.owner)) throw denied();
    try {
      await services.images.delete(id);
    } catch (err) {
      if (err instanceof NimbusError && err.kind === 'forbidden') throw denied();
      if (err instanceof NimbusError && err.kind === 'not_found') throw imageNotFound();
      throw err;
    }
  }

  resource(app, '/images', { GET: (request) => list(request, false) });
  resource(app, '/images/detail', {
    GET: (request) => list(request, true),
    // Nova's router falls through to /images/{id} with the id "detail".
    DELETE: async (request, reply) => {
      await remove(request, 'detail');
      return reply.code(204).send();
    },
  });
  resource(app, '/images/:id', {
    GET: async (request) => {
      const { id } = request.params as { id: string };
      if (id === '') throw noSuchRoute();
      onlyVersions(request, null, LAST_PROXY_VERSION);
      return { image: detailView(urls, await visibleImage(services, request, id)) };
    },
    DELETE: async (request, reply) => {
      const { id } = request.params as { id: string };
      if (id === '') throw noSuchRoute();
      await remove(request, id);
      return reply.code(204).send();
    },
  });
}
