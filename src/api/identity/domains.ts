import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { DEFAULT_DOMAIN } from '../../identity/directory.js';
import { NimbusError, notFound } from '../../errors.js';
import { resource } from '../http.js';
import { booleanFilter, param } from './query.js';
import { authorize, collection, domainView } from './views.js';

/** Nimbus serves exactly one domain, `default`; it can be read, never created, changed or deleted. */
const onlyDefault = () =>
  new NimbusError('not_implemented', 'Nimbus serves only the default domain; domains cannot be created, updated or deleted.');

export function domainRoutes(app: FastifyInstance, services: Services): void {
  const getDefault = (request: FastifyRequest) => {
    const { domain_id } = request.params as { domain_id: string };
    if (domain_id !== DEFAULT_DOMAIN.id) throw notFound(`Could not find domain: ${domain_id}.`);
  };

  resource(app, '/v3/domains', {
    GET: async (request) => {
      authorize(services, request, 'identity:list_domains');
      const name = param(request, 'name');
      const enabled = booleanFilter(request, 'enabled');
      const matches = (name === undefined || name === DEFAULT_DOMAIN.name) && enabled !== false;
      return collection(services, request, 'domains', matches ? [domainView(services)] : []);
    },
    POST: async (request) => {
      authorize(services, request, 'identity:create_domain');
      throw onlyDefault();
    },
  });

  resource(app, '/v3/domains/:domain_id', {
    GET: async (request) => {
      authorize(services, request, 'identity:get_domain');
      getDefault(request);
      return { domain: domainView(services) };
    },
    PATCH: async (request) => {
      authorize(services, request, 'identity:update_domain');
      getDefault(request);
      throw onlyDefault();
    },
    DELETE: async (request) => {
      authorize(services, request, 'identity:delete_domain');
      getDefault(request);
      throw onlyDefault();
    },
  });
}
