import type { FastifyInstance } from 'fastify';
import { invalid } from '../../errors.js';
import { CONTAINER_FORMATS, DISK_FORMATS, STATUSES, VISIBILITIES } from '../../image/images.js';
import { resource } from '../http.js';
import { compile, explain, pyRepr } from '../validation.js';

const UUID_PATTERN = '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$';

/** Glance's image properties (glance.api.v2.images.get_base_properties), descriptions included: clients show them. */
const BASE_PROPERTIES = {
  id: { type: 'string', description: 'An identifier for the image', pattern: UUID_PATTERN },
  name: { type: ['null', 'string'], description: 'Descriptive name for the image', maxLength: 255 },
  status: { type: 'string', readOnly: true, description: 'Status of the image', enum: [...STATUSES] },
  visibility: { type: 'string', description: 'Scope of image accessibility', enum: [...VISIBILITIES] },
  protected: { type: 'boolean', description: 'If true, image will not be deletable.' },
  os_hidden: { type: 'boolean', description: 'If true, image will not appear in default image list response.' },
  checksum: { type: ['null', 'string'], readOnly: true, description: 'md5 hash of image contents.', maxLength: 32 },
  os_hash_algo: { type: ['null', 'string'], readOnly: true, description: 'Algorithm to calculate the os_hash_value', maxLength: 64 },
  os_hash_value: {
    type: ['null', 'string'],
    readOnly: true,
    description: 'Hexdigest of the image contents using the algorithm specified by the os_hash_algo',
    maxLength: 128,
  },
  owner: { type: ['null', 'string'], description: 'Owner of the image', maxLength: 255 },
  size: { type: ['null', 'integer'], readOnly: true, description: 'Size of image file in bytes' },
  virtual_size: { type: ['null', 'integer'], readOnly: true, description: 'Virtual size of image in bytes' },
  container_format: { type: ['null', 'string'], description: 'Format of the container', enum: [null, ...CONTAINER_FORMATS] },
  disk_format: { type: ['null', 'string'], description: 'Format of the disk', enum: [null, ...DISK_FORMATS] },
  created_at: { type: 'string', readOnly: true, description: 'Date and time of image registration' },
  updated_at: { type: 'string', readOnly: true, description: 'Date and time of the last image modification' },
  tags: { type: 'array', description: 'List of strings related to the image', items: { type: 'string', maxLength: 255 } },
  direct_url: { type: 'string', readOnly: true, description: 'URL to access the image file kept in external store' },
  min_ram: { type: 'integer', description: 'Amount of ram (in MB) required to boot image.' },
  min_disk: { type: 'integer', description: 'Amount of disk space (in GB) required to boot image.' },
  self: { type: 'string', readOnly: true, description: 'An image self url' },
  file: { type: 'string', readOnly: true, description: 'An image file url' },
  stores: {
    type: 'string',
    readOnly: true,
    description:
      'Store in which image data resides.  Only present when the operator has enabled multiple stores.  May be a comma-separated list of store identifiers.',
  },
  schema: { type: 'string', readOnly: true, description: 'An image schema url' },
  locations: {
    type: 'array',
    items: {
      type: 'object',
      properties: {
        url: { type: 'string', maxLength: 255 },
        metadata: { type: 'object' },
        validation_data: {
          description:
            "Values to be used to populate the corresponding image properties. If the image status is not 'queued', values must exactly match those already contained in the image properties.",
          type: 'object',
          writeOnly: true,
          additionalProperties: false,
          properties: {
            checksum: { type: 'string', minLength: 32, maxLength: 32 },
            os_hash_algo: { type: 'string', maxLength: 64 },
            os_hash_value: { type: 'string', maxLength: 128 },
          },
          required: ['os_hash_algo', 'os_hash_value'],
        },
      },
      required: ['url', 'metadata'],
    },
    description: 'A set of URLs to access the image file kept in external store',
  },
};

/** GET /v2/schemas/image: custom properties are allowed and are strings. */
export const IMAGE_SCHEMA = {
  name: 'image',
  properties: BASE_PROPERTIES,
  additionalProperties: { type: 'string' },
  links: [
    { rel: 'self', href: '{self}' },
    { rel: 'enclosure', href: '{file}' },
    { rel: 'describedby', href: '{schema}' },
  ],
};

export const IMAGES_SCHEMA = {
  name: 'images',
  properties: {
    images: { type: 'array', items: IMAGE_SCHEMA },
    first: { type: 'string' },
    next: { type: 'string' },
    schema: { type: 'string' },
  },
  links: [
    { rel: 'first', href: '{first}' },
    { rel: 'next', href: '{next}' },
    { rel: 'describedby', href: '{schema}' },
  ],
};

const pyPath = (segments: string[]) => segments.map((s) => `[${pyRepr(/^\d+$/.test(s) ? Number(s) : s)}]`).join('');

/**
 * Validates (part of) an image against Glance's schema, or 400 with jsonschema's wording
 * as Glance relays it, naming the schema path and the field.
 */
export function validateImage(data: unknown): void {
  const fn = compile(IMAGE_SCHEMA);
  if (fn(data)) return;
  const e = fn.errors![0];
  const f = explain(e, data);
  const schemaPath = e.schemaPath.replace(/^#\//, '').split('/').slice(0, -1);
  const instancePath = e.instancePath.split('/').slice(1);
  throw invalid(
    `Provided object does not match schema 'image': ${f.detail}\n\n` +
      `Failed validating ${pyRepr(e.keyword)} in schema${pyPath(schemaPath)}\n\n` +
      `On instance${pyPath(instancePath)}:\n    ${pyRepr(f.value)}`,
  );
}

/** Clients (glanceclient, warlock) fetch these to build and check image models. */
export function schemaRoutes(app: FastifyInstance): void {
  resource(app, '/v2/schemas/image', { GET: async () => IMAGE_SCHEMA });
  resource(app, '/v2/schemas/images', { GET: async () => IMAGES_SCHEMA });
}
