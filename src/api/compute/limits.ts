import type { FastifyInstance } from 'fastify';
import { queryLists } from '../query.js';
import type { Services } from '../../services.js';
import { projectQuotas, QUOTA_DEFAULTS, reportedUsage, type QuotaResource } from '../../compute/quotas.js';
import type { Microversion } from './microversion.js';
import { resource } from '../http.js';
import { firstValue, multiParams, querySchema, validateQuery } from './query.js';

/** The absolute limits each quota shows as (Nova's limits view); fixed_ips and path bytes show as none. */
const LIMIT_NAMES: Partial<Record<QuotaResource, string[]>> = {
  ram: ['maxTotalRAMSize'],
  instances: ['maxTotalInstances'],
  cores: ['maxTotalCores'],
  key_pairs: ['maxTotalKeypairs'],
  floating_ips: ['maxTotalFloatingIps'],
  metadata_items: ['maxServerMeta', 'maxImageMeta'],
  injected_files: ['maxPersonality'],
  injected_file_content_bytes: ['maxPersonalitySize'],
  security_groups: ['maxSecurityGroups'],
  security_group_rules: ['maxSecurityGroupRules'],
  server_groups: ['maxServerGroups'],
  server_group_members: ['maxServerGroupMembers'],
};

/** The usage figures, in Nova's order. */
const USED_NAMES: [string, QuotaResource][] = [
  ['totalRAMUsed', 'ram'],
  ['totalCoresUsed', 'cores'],
  ['totalInstancesUsed', 'instances'],
  ['totalFloatingIpsUsed', 'floating_ips'],
  ['totalSecurityGroupsUsed', 'security_groups'],
  ['totalServerGroupsUsed', 'server_groups'],
];

/** Network limits go at 2.36 (with the proxy APIs), maxImageMeta at 2.39, personality at 2.57. */
function hiddenLimits(v: Microversion): Set<string> {
  const hidden = new Set<string>();
  if (v.atLeast('2.36')) for (const r of ['floating_ips', 'security_groups', 'security_group_rules']) hidden.add(r);
  if (v.atLeast('2.39')) hidden.add('maxImageMeta');
  if (v.atLeast('2.57')) for (const r of ['injected_files', 'injected_file_content_bytes']) hidden.add(r);
  return hidden;
}

const QUERY_V21 = querySchema({ tenant_id: multiParams({ type: 'string' }) }, false);
const QUERY_V275 = querySchema({ tenant_id: multiParams({ type: 'string' }) }, true);

export function limitRoutes(app: FastifyInstance, services: Services): void {
  resource(app, '/limits', {
    GET: async (request) => {
      const query = validateQuery(request.microversion.atLeast('2.75') ? QUERY_V275 : QUERY_V21, queryLists(request));
      services.policy.authorize(request.auth, 'os_compute_api:limits');
      let projectId = request.auth.projectId ?? '';
      // Any tenant_id, even the caller's own, needs the other-project rule, as in Nova.
      if (query.tenant_id) {
        projectId = firstValue(query, 'tenant_id')!;
        services.policy.authorize(request.auth, 'os_compute_api:limits:other_project');
      }
      const limits = await projectQuotas(services.db, projectId);
      const used = await reportedUsage(services.db, projectId);
      const hidden = hiddenLimits(request.microversion);
      const absolute: Record<string, number> = {};
      for (const r of Object.keys(QUOTA_DEFAULTS) as QuotaResource[]) {
        if (hidden.has(r)) continue;
        for (const name of LIMIT_NAMES[r] ?? []) if (!hidden.has(name)) absolute[name] = limits[r];
      }
      for (const [name, r] of USED_NAMES) if (!hidden.has(r)) absolute[name] = used[r];
      return { limits: { rate: [], absolute } };
    },
  });
}
