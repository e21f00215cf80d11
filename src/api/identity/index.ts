import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../../services.js';
import { authenticate, handleErrors } from '../http.js';
import { keystoneErrors } from './errors.js';
import { authRoutes } from './auth.js';
import { projectRoutes } from './projects.js';
import { userRoutes } from './users.js';
import { roleRoutes } from './roles.js';
import { grantRoutes } from './grants.js';
import { roleAssignmentRoutes } from './role-assignments.js';
import { domainRoutes } from './domains.js';

/** The Identity v3 subset OpenStack clients need, mounted under /identity. */
export function identityApi(services: Services): FastifyPluginAsync {
  const base = `${services.config.publicUrl}/identity`;
  const v3 = {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${base}/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  };
  return async (app) => {
    handleErrors(app, keystoneErrors);
    app.get('/', async (_request, reply) => reply.code(300).send({ versions: { values: [v3] } }));
    app.get('/v3', async () => ({ version: v3 }));
    app.get('/v3/', async () => ({ version: v3 }));
    authRoutes(app, services);
    // Every other identity resource needs a token.
    app.register(async (scoped) => {
      scoped.addHook('onRequest', authenticate(services));
      projectRoutes(scoped, services);
      userRoutes(scoped, services);
      roleRoutes(scoped, services);
      grantRoutes(scoped, services);
      roleAssignmentRoutes(scoped, services);
      domainRoutes(scoped, services);
    });
  };
}
