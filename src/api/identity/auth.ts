import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import type { AuthContext } from '../../identity/tokens.js';
import { DEFAULT_DOMAIN } from '../../identity/directory.js';
import { verifyPassword } from '../../identity/passwords.js';
import { notFound, unauthorized, invalid, forbidden } from '../../errors.js';
import { validate, type ValidationFailure } from '../validation.js';
import { authenticate, resource } from '../http.js';
import { serviceCatalog } from './catalog.js';
import { projectView } from './views.js';

const domainRef = {
  type: 'object',
  properties: { id: { type: 'string' }, name: { type: 'string' } },
};

const authSchema = {
  type: 'object',
  required: ['auth'],
  properties: {
    auth: {
      type: 'object',
      required: ['identity'],
      properties: {
        identity: {
          type: 'object',
          required: ['methods'],
          properties: {
            methods: { type: 'array', minItems: 1, items: { type: 'string', enum: ['password', 'token'] } },
            password: {
              type: 'object',
              required: ['user'],
              properties: {
                user: {
                  type: 'object',
                  required: ['password'],
                  properties: {
                    id: { type: 'string' },
                    name: { type: 'string' },
                    password: { type: 'string' },
                    domain: domainRef,
                  },
                },
              },
            },
            token: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
          },
        },
        scope: {
          anyOf: [
            { type: 'string', enum: ['unscoped'] },
            {
              type: 'object',
              properties: {
                project: {
                  type: 'object',
                  properties: { id: { type: 'string' }, name: { type: 'string' }, domain: domainRef },
                },
                domain: domainRef,
                system: { type: 'object' },
              },
            },
          ],
        },
      },
    },
  },
};

interface AuthBody {
  auth: {
    identity: {
      methods: string[];
      password?: { user: { id?: string; name?: string; password: string; domain?: { id?: string; name?: string } } };
      token?: { id: string };
    };
    scope?: 'unscoped' | { project?: { id?: string; name?: string; domain?: { id?: string; name?: string } }; domain?: object; system?: object };
  };
}

/** Keystone words schema failures as "Invalid input for field 'x': …". */
export const keystoneMessage = (f: ValidationFailure) =>
  f.field ? `Invalid input for field '${f.field}': ${f.detail}` : f.detail;

/** Only the default domain exists; a reference to another one matches nothing. */
function isDefaultDomain(ref?: { id?: string; name?: string }): boolean {
  if (!ref) return true;
  if (ref.id !== undefined) return ref.id === DEFAULT_DOMAIN.id;
  if (ref.name !== undefined) return ref.name.toLowerCase() === DEFAULT_DOMAIN.name.toLowerCase();
  return true;
}

/** Keystone's timestamps carry microseconds: 2026-11-23T12:00:00.000000Z. */
const keystoneTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export function tokenView(ctx: AuthContext, services: Services, withCatalog: boolean) {
  const token: Record<string, unknown> = {
    methods: ctx.methods,
    user: { domain: { ...DEFAULT_DOMAIN }, id: ctx.userId, name: ctx.userName, password_expires_at: null },
    audit_ids: [ctx.auditId],
    expires_at: keystoneTime(ctx.expiresAt),
    issued_at: keystoneTime(ctx.issuedAt),
  };
  if (ctx.projectId) {
    token.project = { domain: { ...DEFAULT_DOMAIN }, id: ctx.projectId, name: ctx.projectName };
    token.is_domain = false;
    token.roles = ctx.roles.map((r) => ({ id: r.id, name: r.name }));
    if (withCatalog) token.catalog = serviceCatalog(services.config);
  }
  return { token };
}

/** Which user is this, by id or by name in the default domain, and is the password right? */
async function passwordUser(services: Services, user: NonNullable<AuthBody['auth']['identity']['password']>['user']) {
  if (user.id === undefined && user.name === undefined) throw invalid("Invalid input for field 'user': 'id' or 'name' is required");
  if (user.id === undefined && !user.domain) throw invalid("Invalid input for field 'user': 'domain' is required with 'name'");
  const row = isDefaultDomain(user.domain) ? await services.directory.findUser(user.id !== undefined ? { id: user.id } : { name: user.name }) : undefined;
  // Verify even for an unknown user so the timing says nothing about which part was wrong.
  const ok = await verifyPassword(user.password, row?.password_hash ?? 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA');
  if (!row || !ok || !row.enabled) throw unauthorized('The request you have made requires authentication.');
  return row;
}

async function resolveScope(services: Services, body: AuthBody, userId: string, defaultProjectId: string | null): Promise<string | null> {
  const scope = body.auth.scope;
  if (scope === 'unscoped') return null;
  if (scope === undefined) {
    // Keystone scopes to the user's default project when the request names none.
    if (defaultProjectId && (await services.directory.projectsOfUser(userId)).some((p) => p.id === defaultProjectId)) return defaultProjectId;
    return null;
  }
  if (scope.domain || scope.system) throw unauthorized('Nimbus issues project-scoped and unscoped tokens only.');
  const ref = scope.project;
  if (!ref) return null;
  if (ref.id === undefined && ref.name === undefined) throw invalid("Invalid input for field 'project': 'id' or 'name' is required");
  if (ref.id === undefined && !ref.domain) throw invalid("Invalid input for field 'project': 'domain' is required with 'name'");
  const project = isDefaultDomain(ref.domain) ? await services.directory.findProject(ref.id !== undefined ? { id: ref.id } : { name: ref.name }) : undefined;
  if (!project) throw unauthorized(`The request you have made requires authentication.`);
  const roles = await services.directory.roleNames(userId, project.id);
  if (!project.enabled || roles.length === 0) throw unauthorized(`The request you have made requires authentication.`);
  return project.id;
}

async function issue(services: Services, request: FastifyRequest, reply: FastifyReply) {
  const body = validate<AuthBody>(authSchema, request.body ?? null, keystoneMessage);
  const { identity } = body.auth;
  let userId: string;
  let defaultProject: string | null;
  let methods: string[];
  let auditId: string | undefined;
  let expiresAt: Date | undefined;
  if (identity.methods.includes('password')) {
    if (!identity.password) throw invalid("Invalid input for field 'identity': 'password' is a required property");
    const user = await passwordUser(services, identity.password.user);
    userId = user.id;
    defaultProject = user.default_project_id;
    methods = ['password'];
  } else {
    if (!identity.token) throw invalid("Invalid input for field 'identity': 'token' is a required property");
    const ctx = await services.tokens.validate(identity.token.id);
    if (!ctx) throw unauthorized();
    const user = await services.directory.getUser(ctx.userId);
    userId = user.id;
    defaultProject = user.default_project_id;
    // A rescoped token keeps the original's methods, audit chain and expiry.
    methods = ctx.methods.includes('token') ? ctx.methods : [...ctx.methods, 'token'];
    auditId = ctx.auditId;
    expiresAt = ctx.expiresAt;
  }
  const projectId = await resolveScope(services, body, userId, defaultProject);
  const { token, ctx } = await services.tokens.issue({ userId, projectId, methods, auditId, expiresAt });
  const withCatalog = !('nocatalog' in (request.query as object));
  return reply.code(201).header('x-subject-token', token).send(tokenView(ctx, services, withCatalog));
}

async function subject(services: Services, request: FastifyRequest): Promise<{ token: string; ctx: AuthContext }> {
  const token = request.headers['x-subject-token'];
  if (typeof token !== 'string' || !token) throw invalid("Invalid input for field 'X-Subject-Token': the header is required");
  const ctx = await services.tokens.validate(token);
  if (!ctx) throw notFound(`Could not find token: ${token.slice(0, 8)}…`);
  // Keystone's default: an admin, or the token's own user.
  if (!request.auth.isAdmin && ctx.userId !== request.auth.userId) throw forbidden(`You are not authorized to perform the requested action: identity:validate_token.`);
  return { token, ctx };
}

export function authRoutes(app: FastifyInstance, services: Services): void {
  const needToken = authenticate(services);

  app.register(async (open) => {
    resource(open, '/v3/auth/tokens', {
      POST: (request, reply) => issue(services, request, reply),
      GET: async (request, reply) => {
        await needToken(request);
        const { token, ctx } = await subject(services, request);
        return reply.header('x-subject-token', token).send(tokenView(ctx, services, !('nocatalog' in (request.query as object))));
      },
      HEAD: async (request, reply) => {
        await needToken(request);
        const { token } = await subject(services, request);
        return reply.code(200).header('x-subject-token', token).send();
      },
      DELETE: async (request, reply) => {
        await needToken(request);
        const { token } = await subject(services, request);
        await services.tokens.revoke(token);
        return reply.code(204).send();
      },
    });
  });

  app.register(async (scoped) => {
    scoped.addHook('onRequest', needToken);
    resource(scoped, '/v3/auth/projects', {
      GET: async (request) => {
        const projects = await services.directory.projectsOfUser(request.auth.userId);
        return {
          projects: projects.map((p) => projectView(services, p)),
          links: { self: `${services.config.publicUrl}/identity/v3/auth/projects`, previous: null, next: null },
        };
      },
    });
    resource(scoped, '/v3/auth/catalog', {
      GET: async (request) => {
        if (!request.auth.projectId) throw forbidden('The service catalog is only available with a project-scoped token.');
        return { catalog: serviceCatalog(services.config), links: { self: `${services.config.publicUrl}/identity/v3/auth/catalog`, previous: null, next: null } };
      },
    });
  });
}


