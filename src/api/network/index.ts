import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../../services.js';
import { NetworkingError } from '../../network/errors.js';
import { authenticate, handleErrors, resource } from '../http.js';
import { neutronErrors } from './errors.js';
import { networkRoutes } from './networks.js';
import { portRoutes } from './ports.js';
import { quotaRoutes } from './quotas.js';
import { routerRoutes } from './routers.js';
import { floatingIpRoutes } from './floatingIps.js';
import { autoAllocateRoutes } from './autoAllocate.js';
import { securityGroupRoutes } from './securityGroups.js';
import { subnetRoutes } from './subnets.js';

/** The extensions whose attributes and behaviour Nimbus implements, as Neutron describes them. */
const EXTENSIONS = [
  ['security-group', 'security-group', 'The security groups extension.', '2012-10-05T10:00:00-00:00'],
  ['standard-attr-description', 'standard-attr-description', 'Extension to add descriptions to standard attributes', '2016-02-10T10:00:00-00:00'],
  ['standard-attr-timestamp', 'Resource timestamps', 'Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.', '2016-09-12T10:00:00-00:00'],
  ['standard-attr-revisions', 'Resource revision numbers', 'This extension will display the revision number of neutron resources.', '2016-04-11T10:00:00-00:00'],
  ['project-id', 'project_id field enabled', 'Extension that indicates that project_id field is enabled.', '2016-09-09T09:09:09-09:09'],
  ['net-mtu', 'Network MTU', 'Provides MTU attribute for a network resource.', '2015-03-25T10:00:00-00:00'],
  ['net-mtu-writable', 'Network MTU (writable)', 'Provides a writable MTU attribute for a network resource.', '2017-07-12T00:00:00-00:00'],
  ['external-net', 'Neutron external network', 'Adds external network attribute to network resource.', '2013-01-14T10:00:00-00:00'],
  ['port-security', 'Port Security', 'Provides port security', '2012-07-23T10:00:00-00:00'],
  ['binding', 'Port Binding', 'Expose port bindings of a virtual port to external application', '2014-02-03T10:00:00-00:00'],
  ['l2_adjacency', 'L2 Adjacency', 'Display L2 Adjacency for Neutron Networks.', '2016-04-12T16:00:00-00:00'],
  ['stateful-security-group', 'Stateful security group', 'Indicates if the security group is stateful or not', '2019-11-26T09:00:00-00:00'],
  ['security-groups-normalized-cidr', 'Normalized CIDR field for security group rules', 'Add new field with normalized remote_ip_prefix cidr in SG rule', '2020-07-28T10:00:00-00:00'],
  ['pagination', 'Pagination support', 'Extension that indicates that pagination is enabled.', '2016-06-12T00:00:00-00:00'],
  ['sorting', 'Sorting support', 'Extension that indicates that sorting is enabled.', '2016-06-12T00:00:00-00:00'],
  ['filter-validation', 'Filter parameters validation', 'Provides validation on filter parameters.', '2018-07-04T10:00:00-00:00'],
  ['quotas', 'Quota management support', 'Expose functions for quotas management per project', '2012-07-29T10:00:00-00:00'],
  ['quota_details', 'Quota details management support', 'Expose functions for quotas usage statistics per project', '2017-02-10T10:00:00-00:00'],
  ['router', 'Neutron L3 Router', 'Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway.', '2012-07-20T10:00:00-00:00'],
  ['ext-gw-mode', 'Neutron L3 Configurable external gateway mode', 'Extension of the router abstraction for specifying whether SNAT should occur on the external gateway', '2013-03-28T10:00:00-00:00'],
  ['auto-allocated-topology', 'Auto Allocated Topology Services', 'Auto Allocated Topology Services.', '2016-01-01T00:00:00-00:00'],
].map(([alias, name, description, updated]) => ({ alias, name, description, updated, links: [] }));

const RESOURCES = [
  ['network', 'networks'],
  ['subnet', 'subnets'],
  ['port', 'ports'],
  ['security_group', 'security-groups'],
  ['security_group_rule', 'security-group-rules'],
  ['router', 'routers'],
  ['floatingip', 'floatingips'],
];

/** The Networking API v2.0 subset, mounted under /network. */
export function networkApi(services: Services): FastifyPluginAsync {
  const base = `${services.config.publicUrl}/network`;
  const version = { id: 'v2.0', status: 'CURRENT', links: [{ rel: 'self', href: `${base}/v2.0/` }] };
  return async (app) => {
    handleErrors(app, neutronErrors(`${services.config.publicUrl}/identity`));
    // Version discovery is open, as in Neutron; everything under /v2.0 needs a token.
    resource(app, '/', { GET: async () => ({ versions: [version] }) });

    await app.register(
      async (api) => {
        api.addHook('onRequest', authenticate(services));
        resource(api, '/', {
          GET: async () => ({
            resources: RESOURCES.map(([name, collection]) => ({ name, collection, links: [{ rel: 'self', href: `${base}/v2.0/${collection}` }] })),
          }),
        });
        resource(api, '/extensions', { GET: async () => ({ extensions: EXTENSIONS }) });
        resource(api, '/extensions/:alias', {
          GET: async (request) => {
            const alias = (request.params as { alias: string }).alias;
            const ext = EXTENSIONS.find((e) => e.alias === alias);
            if (!ext) throw new NetworkingError('not_found', `Extension with alias ${alias} does not exist`, 'HTTPNotFound');
            return { extension: ext };
          },
        });
        networkRoutes(api, services, base);
        subnetRoutes(api, services, base);
        portRoutes(api, services, base);
        securityGroupRoutes(api, services, base);
        quotaRoutes(api, services);
        routerRoutes(api, services, base);
        floatingIpRoutes(api, services, base);
        autoAllocateRoutes(api, services);
      },
      { prefix: '/v2.0' },
    );
  };
}
