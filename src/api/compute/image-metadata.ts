import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { forbidden, invalid, notFound } from '../../errors.js';
import type { Image } from '../../image/images.js';
import { checkMetadataQuota, setProperties } from '../../compute/image-proxy.js';
import { projectQuotas } from '../../compute/quotas.js';
import { validate } from '../validation.js';
import { resource } from '../http.js';
import { visibleImage } from './images.js';
import { noSuchRoute, onlyVersions } from './wire.js';

/** Image metadata outlived the image proxy by three versions: it went at 2.39. */
const LAST_VERSION = '2.38';

type Metadata = Record<string, string>;

/** Nova's parameter_types.metadata. */
const metadata = {
  type: 'object',
  patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: 'string', maxLength: 255 } },
  additionalProperties: false,
};
/** nova/api/openstack/compute/schemas/image_metadata.py */
const metadataBody = { type: 'object', properties: { metadata }, required: ['metadata'], additionalProperties: false };
const metaBody = {
  type: 'object',
  properties: { meta: { ...metadata, minProperties: 1, maxProperties: 1 } },
  required: ['meta'],
  additionalProperties: false,
};

/** /images/{id}/metadata and /images/{id}/metadata/{key}: Glance custom properties, up to 2.38. */
export function imageMetadataRoutes(app: FastifyInstance, services: Services): void {
  /** The image, after the version check, as Nova looks it up before anything else. */
  const image = async (request: FastifyRequest): Promise<Image> => {
    const { id } = request.params as { id: string };
    return visibleImage(services, request, id);
  };
  /** Glance's modify policy, on the image's project: another project's public image is not the caller's to change. */
  const authorizeWrite = (request: FastifyRequest, target: Image) => {
    if (!services.policy.check(request.auth, 'image:modify_image', target.owner)) throw forbidden(`Not authorized for image ${target.id}.`);
  };
  /** Nova checks the metadata_items quota on what the image would hold, then Glance's policy. */
  const write = async (request: FastifyRequest, target: Image, properties: Metadata, counted: Metadata): Promise<Image> => {
    checkMetadataQuota(counted, (await projectQuotas(services.db, request.auth.projectId ?? '')).metadata_items);
    authorizeWrite(request, target);
    return setProperties(services.images, target, properties);
  };
  const versions = (request: FastifyRequest) => onlyVersions(request, null, LAST_VERSION);

  resource(app, '/images/:id/metadata', {
    GET: async (request) => {
      versions(request);
      return { metadata: (await image(request)).properties };
    },
    // Merge: the given items over the present ones.
    POST: async (request) => {
      versions(request);
      const body = validate<{ metadata: Metadata }>(metadataBody, request.body ?? null);
      const current = await image(request);
      const merged = { ...current.properties, ...body.metadata };
      return { metadata: (await write(request, current, merged, merged)).properties };
    },
    // Replace: exactly the given items.
    PUT: async (request) => {
      versions(request);
      const body = validate<{ metadata: Metadata }>(metadataBody, request.body ?? null);
      const current = await image(request);
      await write(request, current, body.metadata, body.metadata);
      return { metadata: body.metadata };
    },
  });

  resource(app, '/images/:id/metadata/:key', {
    GET: async (request) => {
      versions(request);
      const { key } = request.params as { key: string };
      const properties = (await image(request)).properties;
      if (!Object.hasOwn(properties, key)) throw notFound('The resource could not be found.');
      return { meta: { [key]: properties[key] } };
    },
    PUT: async (request) => {
      versions(request);
      const { key } = request.params as { key: string };
      const body = validate<{ meta: Metadata }>(metaBody, request.body ?? null);
      if (!Object.hasOwn(body.meta, key)) throw invalid('Request body and URI mismatch');
      const current = await image(request);
      const merged = { ...current.properties, [key]: body.meta[key] };
      await write(request, current, merged, merged);
      return { meta: body.meta };
    },
    DELETE: async (request, reply) => {
      versions(request);
      const { key } = request.params as { key: string };
      if (key === '') throw noSuchRoute();
      const current = await image(request);
      if (!Object.hasOwn(current.properties, key)) throw notFound('Invalid metadata key');
      const rest = { ...current.properties };
      delete rest[key];
      authorizeWrite(request, current);
      await setProperties(services.images, current, rest);
      return reply.code(204).send();
    },
  });
}
