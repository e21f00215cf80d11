import type { FastifyPluginAsync } from 'fastify';
import { NimbusError, forbidden } from '../../errors.js';
import type { Services } from '../../services.js';
import { authenticate, handleErrors, refusedByRouting, sendError } from '../http.js';
import { novaFaults } from './faults.js';
import { negotiate } from './microversion.js';
import { versionRoutes } from './versions.js';
import { flavorRoutes } from './flavors.js';
import { jsonBodies } from './bodies.js';
import { serverRoutes } from './servers.js';
import { serverGroupRoutes } from './server-groups.js';
import { serverActionRoutes } from './server-actions.js';
import { keypairRoutes } from './keypairs.js';
import { quotaRoutes } from './quotas.js';
import { limitRoutes } from './limits.js';
import { hypervisorRoutes } from './hypervisors.js';
import { serviceRoutes } from './services.js';
import { hostRoutes } from './hosts.js';
import { aggregateRoutes } from './aggregates.js';
import { availabilityZoneRoutes } from './availability-zones.js';
import { serverMetadataRoutes } from './server-metadata.js';
import { serverTagRoutes } from './server-tags.js';
import { serverIpRoutes } from './server-ips.js';
import { serverPasswordRoutes } from './server-password.js';
import { serverDiagnosticsRoutes } from './server-diagnostics.js';
import { instanceActionRoutes } from './instance-actions.js';
import { usageRoutes } from './usage.js';
import { usageAuditLogRoutes } from './usage-audit-log.js';
import { imageProxyRoutes } from './images.js';
import { securityGroupProxyRoutes } from './security-groups.js';
import { networkProxyRoutes } from './networks.js';
import { floatingIpProxyRoutes } from './floating-ips.js';
import { serverInterfaceRoutes } from './server-interfaces.js';
import { imageMetadataRoutes } from './image-metadata.js';
import { extensionRoutes } from './extensions.js';
import { serverExternalEventRoutes } from './server-external-events.js';

/** Nova's osapi_compute max_request_body_size. */
const BODY_LIMIT = 114688;

/** The OpenStack Compute API v2.1, mounted under /compute. */
export function computeApi(services: Services): FastifyPluginAsync {
  const base = `${services.config.publicUrl}/compute`;
  return async (app) => {
    const faults = novaFaults(`${services.config.publicUrl}/identity`);
    handleErrors(app, faults);
    app.addHook('onRequest', async (request, reply) => {
      reply.header('x-compute-request-id', request.id);
    });
    app.addHook('onRoute', (route) => {
      route.bodyLimit ??= BODY_LIMIT;
      // Every body Nova stores is checked by a schema, which words a NUL in a name as Nova's
      // name formats do and refuses one anywhere else (src/api/edge.ts).
      route.config = { ...(route.config as object), bodiesBySchema: true };
    });
    versionRoutes(app, base);

    await app.register(
      async (api) => {
        // keystonemiddleware answers 401 before Nova sees the request; then the version is negotiated.
        api.addHook('onRequest', authenticate(services));
        api.addHook('onRequest', async (request, reply) => negotiate(request, reply));
        // keystonemiddleware lets an unscoped token through with no project; Nova's
        // require_context then refuses a non-admin context without one (403 "Forbidden")
        // on the database calls behind its resources. Here one rule covers every resource.
        api.addHook('preHandler', async (request) => {
          if (request.auth.projectId === null && !refusedByRouting(request)) throw forbidden('Forbidden');
        });
        jsonBodies(api);
        // An unknown path under v2.1 still goes through the token check and negotiation.
        api.setNotFoundHandler((_request, reply) => sendError(reply, faults(new NimbusError('not_found', 'The resource could not be found.'))));
        flavorRoutes(api, services, base);
        serverRoutes(api, services, base);
        serverGroupRoutes(api, services);
        serverActionRoutes(api, services, base);
        keypairRoutes(api, services, base);
        quotaRoutes(api, services);
        limitRoutes(api, services);
        hypervisorRoutes(api, services, base);
        serviceRoutes(api, services);
        hostRoutes(api, services);
        aggregateRoutes(api, services);
        availabilityZoneRoutes(api, services);
        serverMetadataRoutes(api, services);
        serverTagRoutes(api, services, base);
        serverIpRoutes(api, services);
        serverPasswordRoutes(api, services);
        serverDiagnosticsRoutes(api, services);
        instanceActionRoutes(api, services, base);
        usageRoutes(api, services, base);
        usageAuditLogRoutes(api, services);
        imageProxyRoutes(api, services, base);
        securityGroupProxyRoutes(api, services);
        networkProxyRoutes(api, services);
        floatingIpProxyRoutes(api, services);
        serverInterfaceRoutes(api, services);
        imageMetadataRoutes(api, services);
        extensionRoutes(api, services);
        serverExternalEventRoutes(api, services);
      },
      { prefix: '/v2.1' },
    );
  };
}
