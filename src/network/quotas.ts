/**
 * Neutron's quotas (its DbQuotaDriver): a limit per project and resource, Neutron's default
 * where the project has no row of its own, -1 unlimited. Usage is counted from the live
 * rows, never kept apart. A create counts and writes in one transaction that holds the
 * project's quota lock, so creates running at once cannot together pass a limit.
 */
import type { Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';
import { lockName } from '../db/database.js';
import { NetworkingError } from './errors.js';

type Q = Kysely<Schema>;

/**
 * Neutron's defaults (neutron/conf/quota.py) for the resources its default plugins register
 * (ML2, security groups, L3, RBAC); subnetpool has no option of its own, so default_quota (-1).
 */
export const NETWORK_QUOTA_DEFAULTS = {
  network: 100,
  subnet: 100,
  port: 500,
  router: 10,
  floatingip: 50,
  security_group: 10,
  security_group_rule: 100,
  rbac_policy: 10,
  subnetpool: -1,
};

export type NetworkQuotaResource = keyof typeof NETWORK_QUOTA_DEFAULTS;
export type NetworkQuotas = Record<NetworkQuotaResource, number>;

export const NETWORK_QUOTA_RESOURCES = Object.keys(NETWORK_QUOTA_DEFAULTS) as NetworkQuotaResource[];

export const isNetworkQuotaResource = (name: string): name is NetworkQuotaResource => Object.hasOwn(NETWORK_QUOTA_DEFAULTS, name);

/** The tables whose rows a resource counts; the others (RBAC policies, subnet pools) Nimbus has none of. */
const COUNTED = {
  network: 'networks',
  subnet: 'subnets',
  port: 'ports',
  router: 'routers',
  floatingip: 'floating_ips',
  security_group: 'security_groups',
  security_group_rule: 'security_group_rules',
} as const;

type Counted = keyof typeof COUNTED;

function overlay(rows: { resource: string; hard_limit: number }[]): NetworkQuotas {
  const limits = { ...NETWORK_QUOTA_DEFAULTS };
  for (const r of rows) if (isNetworkQuotaResource(r.resource)) limits[r.resource] = Number(r.hard_limit);
  return limits;
}

/** A project's limits: its own rows over Neutron's defaults. */
export async function networkQuotas(db: Q, projectId: string): Promise<NetworkQuotas> {
  return overlay(await db.selectFrom('network_quotas').select(['resource', 'hard_limit']).where('project_id', '=', projectId).execute());
}

async function count(db: Q, resource: NetworkQuotaResource, projectId: string): Promise<number> {
  if (!(resource in COUNTED)) return 0;
  const row = await db
    .selectFrom(COUNTED[resource as Counted])
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('project_id', '=', projectId)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** What a project uses of each resource now. */
export async function networkUsage(db: Q, projectId: string): Promise<NetworkQuotas> {
  const used = {} as NetworkQuotas;
  for (const r of NETWORK_QUOTA_RESOURCES) used[r] = await count(db, r, projectId);
  return used;
}

/**
 * Checks, in the transaction that will write it, that the project may have `adding` more
 * of `resource`, or throws Neutron's 409 OverQuota. Holds the project's quota lock until
 * the transaction ends: the count and the write are one step for every other create.
 */
export async function enforceNetworkQuota(tx: Q, projectId: string, resource: Counted, adding = 1): Promise<void> {
  await lockName(tx, `network-quota:${projectId}`);
  const limit = (await networkQuotas(tx, projectId))[resource];
  if (limit < 0) return;
  if ((await count(tx, resource, projectId)) + adding > limit) {
    throw new NetworkingError('conflict', `Quota exceeded for resources: ['${resource}'].`, 'OverQuota');
  }
}

/** Every project with limits of its own, each with all its limits (Neutron's get_all_quotas). */
export async function allNetworkQuotas(db: Q): Promise<(NetworkQuotas & { project_id: string })[]> {
  const rows = await db.selectFrom('network_quotas').select(['project_id', 'resource', 'hard_limit']).orderBy('project_id').execute();
  const byProject = new Map<string, { resource: string; hard_limit: number }[]>();
  for (const r of rows) byProject.set(r.project_id, [...(byProject.get(r.project_id) ?? []), r]);
  return [...byProject].map(([projectId, own]) => ({ ...overlay(own), project_id: projectId }));
}

/** Sets some of a project's limits; the others keep theirs. */
export async function setNetworkQuotas(tx: Q, projectId: string, limits: Partial<NetworkQuotas>): Promise<void> {
  for (const [resource, hardLimit] of Object.entries(limits)) {
    await tx
      .insertInto('network_quotas')
      .values({ project_id: projectId, resource, hard_limit: hardLimit })
      .onConflict((oc) => oc.columns(['project_id', 'resource']).doUpdateSet({ hard_limit: hardLimit }))
      .execute();
  }
}

/** Back to the defaults; Neutron's 404 when the project had no limits of its own. */
export async function resetNetworkQuotas(tx: Q, projectId: string): Promise<void> {
  const r = await tx.deleteFrom('network_quotas').where('project_id', '=', projectId).executeTakeFirst();
  if (Number(r.numDeletedRows) === 0) {
    throw new NetworkingError('not_found', `Quota for tenant ${projectId} could not be found.`, 'TenantQuotaNotFound');
  }
}
