import { perVersion, type Microversion } from '../microversion.js';
import { DESCRIPTION_PATTERN, nameSchema } from '../../names.js';

/** Nova's parameter types, as JSON Schema. */
export const name = nameSchema('name');
export const description = { type: ['string', 'null'], minLength: 0, maxLength: 255, pattern: DESCRIPTION_PATTERN };
const metadata = {
  type: 'object',
  patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: 'string', maxLength: 255 } },
  additionalProperties: false,
};
const booleanish = { type: ['boolean', 'string'], enum: [true, false, 'True', 'true', 'TRUE', 'False', 'false', 'FALSE', '1', '0', 'yes', 'no', 'on', 'off', 'y', 'n', 't', 'f'] };
const positiveInt = { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 1 };
export const tag = { type: 'string', minLength: 1, maxLength: 60, pattern: '^[^,/]*$' };
const hostname = { type: 'string', minLength: 2, maxLength: 63, pattern: '^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$' };
/** 2.94: a hostname may be a fully qualified domain name. */
export const fqdnHostname = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9-._]*$' };
export const hostnameFor = (v: Microversion) => (v.atLeast('2.94') ? fqdnHostname : hostname);
const ipv4 = { type: 'string', format: 'ipv4' };
const ipv6 = { type: 'string', format: 'ipv6' };

const network = {
  type: 'object',
  properties: {
    fixed_ip: { type: 'string', oneOf: [{ format: 'ipv4' }, { format: 'ipv6' }] },
    port: { type: ['string', 'null'], format: 'uuid' },
    uuid: { type: 'string' },
  },
  additionalProperties: false,
};

const blockDevice = {
  type: 'object',
  properties: {
    uuid: { type: 'string' },
    source_type: { type: 'string', enum: ['volume', 'image', 'snapshot', 'blank'] },
    destination_type: { type: 'string', enum: ['local', 'volume'] },
    boot_index: { type: ['integer', 'string', 'null'] },
    volume_size: { type: ['integer', 'string'] },
    delete_on_termination: booleanish,
    device_name: { type: 'string' },
    device_type: { type: 'string' },
    disk_bus: { type: 'string' },
    guest_format: { type: 'string' },
    no_device: {},
  },
  additionalProperties: false,
};

/**
 * POST /servers, built version by version: each microversion's difference is one line.
 */
export const createServerSchema = perVersion((v: Microversion) => {
  const server: { type: string; properties: Record<string, unknown>; required: string[]; additionalProperties: boolean } = {
    type: 'object',
    properties: {
      name,
      imageRef: { type: 'string', anyOf: [{ format: 'uuid' }, { maxLength: 0 }] },
      flavorRef: { type: ['string', 'integer'], minLength: 1 },
      adminPass: { type: 'string' },
      metadata,
      networks: { type: 'array', items: network },
      'OS-DCF:diskConfig': { type: 'string', enum: ['AUTO', 'MANUAL'] },
      accessIPv4: ipv4,
      accessIPv6: ipv6,
      personality: {
        type: 'array',
        items: {
          type: 'object',
          properties: { path: { type: 'string' }, contents: { type: 'string', format: 'base64' } },
          additionalProperties: false,
        },
      },
      availability_zone: name,
      key_name: name,
      config_drive: booleanish,
      user_data: { type: 'string', format: 'base64', maxLength: 65535 },
      security_groups: { type: 'array', items: { type: 'object', properties: { name }, additionalProperties: false } },
      min_count: positiveInt,
      max_count: positiveInt,
      return_reservation_id: booleanish,
      block_device_mapping_v2: { type: 'array', items: blockDevice },
    },
    required: ['name', 'flavorRef'],
    additionalProperties: false,
  };
  const p = server.properties;
  if (v.atLeast('2.19')) p.description = description;
  if (v.atLeast('2.37')) {
    p.networks = { oneOf: [{ type: 'array', items: network }, { type: 'string', enum: ['none', 'auto'] }] };
    server.required = [...server.required, 'networks'];
  }
  if (v.atLeast('2.52')) p.tags = { type: 'array', items: tag, maxItems: 50 };
  if (v.atLeast('2.57')) delete p.personality;
  if (v.atLeast('2.74')) {
    p.host = { type: 'string', minLength: 1, maxLength: 255 };
    p.hypervisor_hostname = { type: 'string', minLength: 1, maxLength: 255 };
  }
  if (v.atLeast('2.90')) p.hostname = hostnameFor(v);

  const hints = { type: 'object', properties: { group: { type: 'string', format: 'uuid' }, same_host: { oneOf: [{ type: 'string', format: 'uuid' }, { type: 'array', items: { type: 'string', format: 'uuid' } }] }, different_host: { oneOf: [{ type: 'string', format: 'uuid' }, { type: 'array', items: { type: 'string', format: 'uuid' } }] } }, additionalProperties: true };
  return {
    type: 'object',
    properties: { server, 'os:scheduler_hints': hints, 'OS-SCH-HNT:scheduler_hints': hints },
    required: ['server'],
    additionalProperties: false,
  };
});

export const updateServerSchema = perVersion((v: Microversion) => {
  const properties: Record<string, unknown> = {
    name,
    accessIPv4: ipv4,
    accessIPv6: ipv6,
    'OS-DCF:diskConfig': { type: 'string', enum: ['AUTO', 'MANUAL'] },
  };
  if (v.atLeast('2.19')) properties.description = description;
  if (v.atLeast('2.90')) properties.hostname = hostnameFor(v);
  return {
    type: 'object',
    properties: { server: { type: 'object', properties, additionalProperties: false } },
    required: ['server'],
    additionalProperties: false,
  };
});
