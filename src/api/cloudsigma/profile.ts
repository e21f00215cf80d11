/**
 * /profile/: the caller's account profile (response_profile). Its clone_naming names the
 * copies they make (src/identity/profiles.ts); the other fields are kept as they set them,
 * with CloudSigma's defaults; email, uuid and signup_time are the Nimbus user's.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { invalid } from '../../errors.js';
import { objectAt, route } from './http.js';
import { csTime } from './drive-view.js';
import { PROFILE_SCHEMA } from './schemas/drives.js';

/** The fields a user may set, with their defaults (response_profile_schema). */
const WRITABLE: Record<string, 'string' | 'boolean' | 'decimal' | 'dict' | 'nullable_string'> = {
  address: 'string',
  api_https_only: 'boolean',
  autotopup_amount: 'decimal',
  autotopup_threshold: 'decimal',
  company: 'string',
  country: 'string',
  first_name: 'string',
  has_autotopup: 'boolean',
  has_tx_autotopup: 'boolean',
  invoicing: 'boolean',
  key_auth: 'boolean',
  language: 'string',
  last_name: 'string',
  mailing_list: 'boolean',
  meta: 'dict',
  my_notes: 'nullable_string',
  nickname: 'string',
  phone: 'string',
  postcode: 'string',
  title: 'string',
  town: 'string',
  vat: 'string',
};

const DEFAULTS: Record<string, unknown> = {
  address: '',
  api_https_only: false,
  autotopup_amount: '0E-16',
  autotopup_threshold: '0E-16',
  company: '',
  country: '',
  first_name: '',
  has_autotopup: false,
  has_tx_autotopup: false,
  invoicing: true,
  key_auth: false,
  language: 'EN',
  last_name: '',
  mailing_list: true,
  meta: {},
  my_notes: '',
  nickname: '',
  phone: '',
  postcode: '',
  title: '',
  town: '',
  vat: '',
};

function checked(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, type] of Object.entries(WRITABLE)) {
    const v = body[key];
    if (v === undefined) continue;
    const ok =
      type === 'boolean'
        ? typeof v === 'boolean'
        : type === 'decimal'
          ? (typeof v === 'string' && /^-?\d+(\.\d+)?(E-?\d+)?$/i.test(v)) || typeof v === 'number'
          : type === 'dict'
            ? v !== null && typeof v === 'object' && !Array.isArray(v)
            : type === 'nullable_string'
              ? v === null || typeof v === 'string'
              : typeof v === 'string';
    if (!ok) throw invalid(`${key} must be a ${type === 'nullable_string' ? 'string' : type}`, key);
    out[key] = type === 'decimal' ? String(v) : v;
  }
  return out;
}

export function profileRoutes(api: FastifyInstance, services: Services): void {
  const view = async (request: FastifyRequest) => {
    const user = await services.directory.getUser(request.auth.userId);
    const profile = await services.profiles.get(user.id);
    return {
      ...DEFAULTS,
      ...profile.fields,
      bank_reference: user.name,
      clone_naming: profile.cloneNaming,
      currency: 'USD',
      email: user.email ?? '',
      network_restrictions: null,
      reseller: '',
      signup_time: csTime(user.created_at),
      state: 'REGULAR',
      tax_name: null,
      tax_rate: null,
      tx_autotopup_amount: '0E-16',
      tx_autotopup_threshold: '0E-16',
      uuid: user.id,
    };
  };
  route(api, '/profile/', {
    GET: view,
    PUT: async (request) => {
      const body = objectAt(request.body ?? null, 'body');
      const naming = body.clone_naming;
      if (naming !== undefined && typeof naming !== 'string') throw invalid('clone_naming must be a string', 'clone_naming');
      await services.profiles.update(request.auth.userId, { cloneNaming: naming, fields: checked(body) });
      return view(request);
    },
  });
  route(api, '/profile/schema/', { GET: async () => PROFILE_SCHEMA });
}
