import type { FastifyInstance, FastifyRequest } from 'fastify';
import { forbidden, invalid, NimbusError } from '../../errors.js';
import { checkWritable, type Image, type ImageChange, type NewImage, type Visibility } from '../../image/images.js';
import type { AuthContext } from '../../identity/tokens.js';
import type { Services } from '../../services.js';
import { resource } from '../http.js';
import { ACCEPT_PATCH, parseImagePatch, PATCH_MEDIA_TYPES } from './patch.js';
import { parseImageQuery } from './query.js';
import { validateImage } from './schemas.js';
import { imageView } from './views.js';

/** Attributes Glance takes from a create body as the image's own; the rest are custom properties. */
const CREATE_ATTRIBUTES = ['id', 'name', 'visibility', 'protected', 'os_hidden', 'owner', 'container_format', 'disk_format', 'min_disk', 'min_ram', 'tags'];
/** Refused before the schema is even consulted. */
const NEVER_GIVEN = ['direct_url', 'self', 'file', 'schema', 'stores'];

type Params = { id: string };

/**
 * Policy for acting on an image the caller can see: `rule` is checked against the image's
 * project, so another project's public image is visible but not theirs to change (403).
 */
export function authorizeOn(services: Services, ctx: AuthContext, action: string, image: Image): void {
  services.policy.authorize(ctx, action, image.owner);
}

/** The image if the caller may see it; Glance answers 404 both for missing and for hidden. */
export async function visibleImage(services: Services, ctx: AuthContext, id: string): Promise<Image> {
  const image = await services.images.get(id, ctx);
  if (!services.policy.check(ctx, 'image:get_image')) throw new NimbusError('not_found', `No image found with ID ${id}`);
  return image;
}

function authorizeVisibility(services: Services, ctx: AuthContext, visibility: unknown): void {
  if (visibility === 'public') services.policy.authorize(ctx, 'image:publicize_image');
  if (visibility === 'community') services.policy.authorize(ctx, 'image:communitize_image');
}

function newImage(body: unknown, ctx: AuthContext): NewImage {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('Body expected in request.');
  const fields = body as Record<string, unknown>;
  for (const key of NEVER_GIVEN) if (key in fields) throw forbidden(`Attribute '${key}' is read-only.`);
  validateImage(fields);
  const properties: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (CREATE_ATTRIBUTES.includes(key)) continue;
    if (key.length > 255) throw invalid('Custom property should not be greater than 255 characters.');
    if (key === 'locations') throw forbidden(`Attribute '${key}' is reserved.`);
    checkWritable(key);
    properties[key] = value as string;
  }
  return {
    id: fields.id as string | undefined,
    name: fields.name as string | null | undefined,
    owner: (fields.owner as string | null | undefined) ?? ctx.projectId ?? '',
    visibility: fields.visibility as Visibility | undefined,
    protected: fields.protected as boolean | undefined,
    osHidden: fields.os_hidden as boolean | undefined,
    containerFormat: fields.container_format as string | null | undefined,
    diskFormat: fields.disk_format as string | null | undefined,
    minDisk: fields.min_disk as number | undefined,
    minRam: fields.min_ram as number | undefined,
    tags: fields.tags as string[] | undefined,
    properties,
  };
}

const queryString = (request: FastifyRequest) => {
  const i = request.url.indexOf('?');
  return i < 0 ? '' : request.url.slice(i + 1);
};

export function imageRoutes(app: FastifyInstance, services: Services, base: string): void {
  const { images } = services;

  resource(app, '/v2/images', {
    GET: async (request) => {
      const ctx = request.auth;
      services.policy.authorize(ctx, 'image:get_images');
      const params = new URLSearchParams(queryString(request));
      const query = parseImageQuery(params);
      // Each listed image must pass get_image too; without it nothing is listed.
      const page = services.policy.check(ctx, 'image:get_image') ? await images.list(ctx, query) : { images: [], more: false };
      params.delete('marker');
      const rest = params.toString();
      const body: Record<string, unknown> = {
        images: page.images.map(imageView),
        first: rest ? `/v2/images?${rest}` : '/v2/images',
        schema: '/v2/schemas/images',
      };
      if (page.more) {
        params.set('marker', page.images[page.images.length - 1].id);
        body.next = `/v2/images?${params.toString()}`;
      }
      return body;
    },
    POST: async (request, reply) => {
      const ctx = request.auth;
      const input = newImage(request.body, ctx);
      if (!services.policy.check(ctx, 'image:add_image', input.owner)) {
        if (ctx.projectId !== null && input.owner !== ctx.projectId) throw forbidden(`You are not permitted to create images owned by '${input.owner}'.`);
        services.policy.authorize(ctx, 'image:add_image', input.owner);
      }
      authorizeVisibility(services, ctx, input.visibility);
      const image = await images.create(input);
      return reply.code(201).header('location', `${base}/v2/images/${image.id}`).send(imageView(image));
    },
  });

  resource(app, '/v2/images/:id', {
    GET: async (request) => imageView(await visibleImage(services, request.auth, (request.params as Params).id)),
    PATCH: async (request, reply) => {
      const ctx = request.auth;
      const { id } = request.params as Params;
      const mediaType = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      const draft = PATCH_MEDIA_TYPES[mediaType];
      if (!draft) {
        reply.header('accept-patch', ACCEPT_PATCH);
        throw new NimbusError('unsupported_media', `The request media type ${mediaType || 'None'} is not supported by this server.`);
      }
      const changes: ImageChange[] = parseImagePatch(request.body, draft);
      const image = await visibleImage(services, ctx, id);
      if (!changes.length) return imageView(image);
      authorizeOn(services, ctx, 'image:modify_image', image);
      for (const change of changes) {
        if (change.op === 'remove') continue;
        if (change.attribute === 'visibility') authorizeVisibility(services, ctx, change.value);
        if (change.attribute === 'owner' && !ctx.isAdmin) throw forbidden("Owner can't be updated by non admin.");
      }
      return imageView(await images.update(id, changes));
    },
    DELETE: async (request, reply) => {
      const ctx = request.auth;
      const { id } = request.params as Params;
      const image = await visibleImage(services, ctx, id).catch((err: unknown) => {
        if (err instanceof NimbusError && err.kind === 'not_found') throw new NimbusError('not_found', `Failed to find image ${id} to delete`);
        throw err;
      });
      authorizeOn(services, ctx, 'image:delete_image', image);
      await images.delete(id);
      return reply.code(204).send();
    },
  });
}
