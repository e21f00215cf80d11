import type { FastifyInstance, RouteHandlerMethod } from 'fastify';
import type { AuthContext } from '../../identity/tokens.js';
import type { Viewer } from '../../network/networks.js';
import { policyDenied } from '../../network/errors.js';
import type { Services } from '../../services.js';
import { resource } from '../http.js';

export const viewerOf = (ctx: AuthContext): Viewer => ({ projectId: ctx.projectId, isAdmin: ctx.isAdmin });

/**
 * Neutron's policy check: `target` is the project owning what is acted on (the caller's own
 * project when left out). Denied is 403 "rule:<action> is disallowed by policy".
 */
export function authorize(services: Services, ctx: AuthContext, action: string, target?: string): void {
  if (!services.policy.check(ctx, action, target)) throw policyDenied(action);
}

/** A collection answers with and without the trailing slash, as Neutron's router does. */
export function collection(app: FastifyInstance, url: string, handlers: Partial<Record<'GET' | 'POST', RouteHandlerMethod>>): void {
  resource(app, url, handlers);
  resource(app, `${url}/`, handlers);
}
