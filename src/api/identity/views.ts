import type { FastifyRequest } from 'fastify';
import type { ProjectTable, RoleTable, UserTable } from '../../db/schema.js';
import type { Services } from '../../services.js';
import { DEFAULT_DOMAIN } from '../../identity/directory.js';
import { forbidden } from '../../errors.js';

/** Keystone's base for self links: http://host/identity/v3. */
export const v3Url = (services: Services) => `${services.config.publicUrl}/identity/v3`;

/**
 * Keystone's list envelope. `self` repeats the request, query string included; Keystone
 * never paginates these lists, so `previous` and `next` are always null.
 */
export function collection<T>(services: Services, request: FastifyRequest, key: string, items: T[]) {
  return { [key]: items, links: { self: `${services.config.publicUrl}${request.url}`, previous: null, next: null } };
}

/**
 * Policy check worded as Keystone words a denial (the shared Policy.authorize speaks Nova).
 * `targetProjectId` lets project-scoped rules match the project acted on.
 */
export function authorize(services: Services, request: FastifyRequest, action: string, targetProjectId?: string | null): void {
  if (!services.policy.check(request.auth, action, targetProjectId)) {
    throw forbidden(`You are not authorized to perform the requested action: ${action}.`);
  }
}

/** Nimbus projects are top-level projects of the default domain, so their parent is the domain. */
export function projectView(services: Services, p: ProjectTable) {
  return {
    ...(JSON.parse(p.extra) as Record<string, unknown>),
    id: p.id,
    name: p.name,
    domain_id: p.domain_id,
    description: p.description,
    enabled: !!p.enabled,
    parent_id: p.domain_id,
    is_domain: false,
    tags: [] as string[],
    options: {},
    links: { self: `${v3Url(services)}/projects/${p.id}` },
  };
}

/** Keystone's user: never the password; default_project_id and email only when set; extra attributes as given. */
export function userView(services: Services, u: UserTable) {
  return {
    ...(JSON.parse(u.extra) as Record<string, unknown>),
    id: u.id,
    name: u.name,
    domain_id: u.domain_id,
    enabled: !!u.enabled,
    password_expires_at: null,
    options: {},
    ...(u.default_project_id ? { default_project_id: u.default_project_id } : {}),
    ...(u.email !== null ? { email: u.email } : {}),
    links: { self: `${v3Url(services)}/users/${u.id}` },
  };
}

/** Global roles only: domain_id is always null. */
export function roleView(services: Services, r: RoleTable) {
  return { id: r.id, name: r.name, domain_id: null, description: null, options: {}, links: { self: `${v3Url(services)}/roles/${r.id}` } };
}

export function domainView(services: Services) {
  return {
    id: DEFAULT_DOMAIN.id,
    name: DEFAULT_DOMAIN.name,
    description: 'The default domain',
    enabled: true,
    tags: [] as string[],
    options: {},
    links: { self: `${v3Url(services)}/domains/${DEFAULT_DOMAIN.id}` },
  };
}
