/**
 * Quotas as Nova's DbQuotaDriver keeps them: a limit per resource comes from the project
 * user's own row, else the project's row, else the 'default' quota class, else the built-in
 * default; -1 is unlimited. Usage is counted from the live rows (servers, keypairs), never
 * kept as a separate counter, so it cannot drift.
 */
import type { Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';
import { isPostgres, lockName, type Tx } from '../db/database.js';
import { invalid, NimbusError } from '../errors.js';
import { VmState } from './states.js';

/** Nova's quota resources and defaults (nova.conf quota group), in the order Nova registers them. */
export const QUOTA_DEFAULTS = {
  instances: 10,
  cores: 20,
  ram: 51200,
  metadata_items: 128,
  injected_files: 5,
  injected_file_content_bytes: 10240,
  injected_file_path_bytes: 255,
  key_pairs: 100,
  server_groups: 10,
  server_group_members: 10,
  // nova-network's resources: no default, so unlimited; APIs stop showing them at 2.36.
  fixed_ips: -1,
  floating_ips: -1,
  security_groups: -1,
  security_group_rules: -1,
};

export type QuotaResource = keyof typeof QUOTA_DEFAULTS;
export type Quotas = Record<QuotaResource, number>;
export type QuotaDeltas = Partial<Record<QuotaResource, number>>;

/** Alphabetical, as Nova's QUOTAS.resources (the order quota-set bodies list them). */
export const QUOTA_RESOURCES = (Object.keys(QUOTA_DEFAULTS) as QuotaResource[]).slice().sort();

export const isQuotaResource = (name: string): name is QuotaResource => Object.hasOwn(QUOTA_DEFAULTS, name);

export const DEFAULT_QUOTA_CLASS = 'default';

/** Accepts the database or a transaction. */
type Reader = Kysely<Schema>;

function overlay(base: Quotas, rows: { resource: string; hard_limit: number }[]): Quotas {
  const result = { ...base };
  for (const r of rows) if (isQuotaResource(r.resource)) result[r.resource] = Number(r.hard_limit);
  return result;
}

/** A quota class: its rows over the built-in defaults (Nova's get_class_quotas). */
export async function classQuotas(db: Reader, className: string): Promise<Quotas> {
  const rows = await db.selectFrom('quota_classes').select(['resource', 'hard_limit']).where('class_name', '=', className).execute();
  return overlay(QUOTA_DEFAULTS, rows);
}

/** The defaults every project starts with: the 'default' class over the built-in defaults. */
export const defaultQuotas = (db: Reader) => classQuotas(db, DEFAULT_QUOTA_CLASS);

async function projectRows(db: Reader, projectId: string) {
  return db.selectFrom('quotas').select(['resource', 'hard_limit']).where('project_id', '=', projectId).execute();
}

async function userRows(db: Reader, projectId: string, userId: string) {
  return db
    .selectFrom('project_user_quotas')
    .select(['resource', 'hard_limit'])
    .where('project_id', '=', projectId)
    .where('user_id', '=', userId)
    .execute();
}

export async function projectQuotas(db: Reader, projectId: string): Promise<Quotas> {
  return overlay(await defaultQuotas(db), await projectRows(db, projectId));
}

/** A user's limits within a project: the user's rows over the project's limits. */
export async function userQuotas(db: Reader, projectId: string, userId: string): Promise<Quotas> {
  return overlay(await projectQuotas(db, projectId), await userRows(db, projectId, userId));
}

const zeroUsage = (): Quotas => Object.fromEntries(Object.keys(QUOTA_DEFAULTS).map((k) => [k, 0])) as Quotas;

/**
 * What a project (or one user in it) uses now: live servers (soft-deleted ones no longer
 * count, as in Nova), their vCPUs and RAM, server groups, and, for a user, their keypairs.
 * Per-request limits (metadata, injected files) have no usage.
 */
export async function usage(db: Reader, projectId: string, userId?: string): Promise<Quotas> {
  // server_usage holds the live servers' sums, kept by triggers: no scan of servers per create.
  let servers = db
    .selectFrom('server_usage')
    .select((eb) => [eb.fn.sum<number>('instances').as('instances'), eb.fn.sum<number>('vcpus').as('cores'), eb.fn.sum<number>('memory_mb').as('ram')])
    .where('project_id', '=', projectId)
    .where('vm_state', '!=', VmState.SOFT_DELETED);
  if (userId) servers = servers.where('user_id', '=', userId);
  const counted = await servers.executeTakeFirst();
  const result = zeroUsage();
  result.instances = Number(counted?.instances ?? 0);
  result.cores = Number(counted?.cores ?? 0);
  result.ram = Number(counted?.ram ?? 0);
  let groups = db.selectFrom('server_groups').select((eb) => eb.fn.countAll<number>().as('n')).where('project_id', '=', projectId);
  if (userId) groups = groups.where('user_id', '=', userId);
  result.server_groups = Number((await groups.executeTakeFirst())?.n ?? 0);
  if (userId) result.key_pairs = await keypairCount(db, userId);
  return result;
}

export async function keypairCount(db: Reader, userId: string): Promise<number> {
  const row = await db.selectFrom('keypairs').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirst();
  return Number(row?.n ?? 0);
}

/**
 * Usage as Nova's quota views report it: key pairs and server group members are per-user
 * counts that Nova never shows as in use (always 0 in /os-quota-sets/detail).
 */
export async function reportedUsage(db: Reader, projectId: string, userId?: string): Promise<Quotas> {
  const used = await usage(db, projectId, userId);
  used.key_pairs = 0;
  used.server_group_members = 0;
  return used;
}

const over = (limit: number, value: number) => limit >= 0 && value > limit;

const overQuota = (message: string) => new NimbusError('over_quota', message);

/** The instance-count resources, reported together in one message as Nova's TooManyInstances. */
const INSTANCE_RESOURCES = ['cores', 'instances', 'ram'] as const;
type InstanceResource = (typeof INSTANCE_RESOURCES)[number];

/** Resources counted across rows (not per request): their checks must not interleave. */
const COUNTED: QuotaResource[] = [...INSTANCE_RESOURCES, 'server_groups', 'server_group_members'];

/**
 * Serializes the quota checks of a project: a transaction that counts a project's
 * servers, cores, ram, server groups or group members and then writes more of them holds
 * this until it commits, so two of them never both see the same headroom. Key pairs
 * belong to a user, whatever the project: they are counted under `keypairs:<user>`.
 * Taken by enforce itself; also by whatever removes a counted thing that a check may be
 * about to write a reference to (a server group). Inside createWithinQuota's optimistic
 * transaction (which holds this lock shared) it is the project's recount lock instead.
 */
export async function lockQuotas(tx: Reader, projectId: string): Promise<void> {
  if (recounting.has(tx)) await lockName(tx, `quota-recount:${projectId}`);
  else await lockName(tx, `quota:${projectId}`);
}

/** Transactions in createWithinQuota's optimistic mode: they hold `quota:<project>` shared. */
const recounting = new WeakSet<Reader>();

/** Races lost in a row before a create takes the quota lock from its start. */
const OPTIMISTIC_TRIES = 3;

/** Thrown inside a transaction whose recount found the project over a limit: it rolls back and runs again. */
const RACED = new Error('another create of the project took the headroom first');

/**
 * A server create's transaction as Nova's count, write, recount (quota_recheck), so that
 * one project's creates do not run one at a time. On PostgreSQL each attempt holds the
 * project's quota lock shared: creates run alongside each other, and whatever takes the
 * lock whole (a resize, a group delete, a CloudSigma definition) waits for them and they
 * for it. `write` counts (fitInstances) and writes the servers without waiting for
 * anyone; then, under `quota-recount:<project>`, `counted` does the checks that must see
 * every other create's result (group membership, through lockQuotas) and the instance
 * quotas are counted again with this transaction's own servers in: within the limits, it
 * commits (and the next recount sees it); over, it rolls back and tries again, counting
 * afresh. After OPTIMISTIC_TRIES lost races it holds the lock whole from its start, as
 * every other check does, so it ends. SQLite runs one transaction at a time: one attempt,
 * no recount.
 */
export async function createWithinQuota<T>(db: Kysely<Schema>, projectId: string, userId: string, write: (tx: Tx) => Promise<T>, counted: (tx: Tx, made: T) => Promise<void>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const optimistic = isPostgres(db) && attempt <= OPTIMISTIC_TRIES;
    try {
      return await db.transaction().execute(async (tx) => {
        if (optimistic) {
          recounting.add(tx);
          await lockName(tx, `quota:${projectId}`, 'shared');
        } else await lockQuotas(tx, projectId);
        const made = await write(tx);
        if (optimistic) await lockQuotas(tx, projectId);
        await counted(tx, made);
        if (optimistic && instanceOvers(await instanceUsage(tx, projectId, userId, {}), { instances: 0, cores: 0, ram: 0 })) throw RACED;
        return made;
      });
    } catch (err) {
      if (err !== RACED) throw err;
    }
  }
}

const lockKeypairs = (tx: Reader, userId: string) => lockName(tx, `keypairs:${userId}`);

/** A project's (and user's) instance limits and what is in use, read once for a check. */
interface InstanceUsage {
  project: Quotas;
  user: Quotas;
  /** Whether the user has instance limits of their own: then their usage is counted apart, as in Nova. */
  userScoped: boolean;
  projectUsed: Quotas;
  userUsed: Quotas;
}

async function instanceUsage(tx: Reader, projectId: string, userId: string, used: QuotaDeltas): Promise<InstanceUsage> {
  const project = await projectQuotas(tx, projectId);
  const ownRows = await userRows(tx, projectId, userId);
  const userScoped = ownRows.some((r) => (INSTANCE_RESOURCES as readonly string[]).includes(r.resource));
  const projectUsed = { ...(await usage(tx, projectId)), ...used };
  const userUsed = userScoped ? { ...(await usage(tx, projectId, userId)), ...used } : projectUsed;
  return { project, user: overlay(project, ownRows), userScoped, projectUsed, userUsed };
}

/** The resources `deltas` would take over a limit (the project's first, as Nova checks), or null. */
function instanceOvers(u: InstanceUsage, deltas: QuotaDeltas): { overs: InstanceResource[]; overUser: boolean } | null {
  const overs: InstanceResource[] = [];
  let overUser = false;
  for (const r of INSTANCE_RESOURCES) {
    if (deltas[r] === undefined) continue;
    if (over(u.project[r], u.projectUsed[r] + deltas[r]!)) overs.push(r);
    else if (u.userScoped && over(u.user[r], u.userUsed[r] + deltas[r]!)) (overs.push(r), (overUser = true));
  }
  return overs.length ? { overs, overUser } : null;
}

/** Nova's TooManyInstances message; `requested` is what the request asked for, as Nova words it. */
function tooManyInstances(u: InstanceUsage, found: { overs: InstanceResource[]; overUser: boolean }, requested: Partial<Record<InstanceResource, number | string>>): NimbusError {
  const limits = found.overUser ? u.user : u.project;
  const shown = u.userScoped ? u.userUsed : u.projectUsed;
  const list = (f: (r: InstanceResource) => unknown) => found.overs.map((r) => String(f(r))).join(', ');
  const names = found.overs.join(', ');
  return overQuota(`Quota exceeded for ${names}: Requested ${list((r) => requested[r])}, but already used ${list((r) => shown[r])} of ${list((r) => limits[r])} ${names}`);
}

/**
 * Checks that adding `deltas` stays within the limits of the project and of the user, or
 * throws over_quota with Nova's message. Call it inside the transaction that writes the
 * resources: for counted resources it takes the project's quota lock (lockQuotas) before
 * counting, so the count and the write see the same rows on both databases. For the
 * per-request limits (metadata_items, injected_files, injected_file_path_bytes,
 * injected_file_content_bytes) the delta is the request's own count or size. `used`
 * supplies counts that only the caller knows (server_group_members: the live members of
 * the group being joined, counted after lockQuotas) or has just made.
 */
export async function enforce(tx: Reader, projectId: string, userId: string, deltas: QuotaDeltas, used: QuotaDeltas = {}): Promise<void> {
  const wanted = (r: QuotaResource) => deltas[r] !== undefined;
  if (COUNTED.some(wanted)) await lockQuotas(tx, projectId);
  if (wanted('key_pairs')) await lockKeypairs(tx, userId);
  const project = await projectQuotas(tx, projectId);
  const user = overlay(project, await userRows(tx, projectId, userId));
  const exceeds = (r: QuotaResource, value: number) => over(project[r], value) || over(user[r], value);
  /** The limit a message names: the project's when it is the one exceeded, else the user's. */
  const exceeded = (r: QuotaResource) => (over(project[r], deltas[r]!) ? project[r] : user[r]);

  // Per-request limits first, in the order Nova checks a create request.
  if (deltas.metadata_items !== undefined && exceeds('metadata_items', deltas.metadata_items)) {
    throw overQuota(`Maximum number of metadata items exceeds ${exceeded('metadata_items')}`);
  }
  if (deltas.injected_files !== undefined && exceeds('injected_files', deltas.injected_files)) {
    throw overQuota('Personality file limit exceeded');
  }
  // Nova favours the path limit over the content limit when reporting.
  if (deltas.injected_file_path_bytes !== undefined && exceeds('injected_file_path_bytes', deltas.injected_file_path_bytes)) {
    throw overQuota(`Personality file path exceeds maximum ${exceeded('injected_file_path_bytes')}`);
  }
  if (deltas.injected_file_content_bytes !== undefined && exceeds('injected_file_content_bytes', deltas.injected_file_content_bytes)) {
    throw overQuota(`Personality file content exceeds maximum ${exceeded('injected_file_content_bytes')}`);
  }

  // A delta of 0 re-checks after a write, as Nova's recheck_quota does.
  if (INSTANCE_RESOURCES.some(wanted)) {
    const u = await instanceUsage(tx, projectId, userId, used);
    const found = instanceOvers(u, deltas);
    if (found) throw tooManyInstances(u, found, deltas);
  }

  if (wanted('server_groups')) {
    const inProject = used.server_groups ?? (await usage(tx, projectId)).server_groups;
    const byUser = used.server_groups ?? (await usage(tx, projectId, userId)).server_groups;
    if (over(project.server_groups, inProject + deltas.server_groups!) || over(user.server_groups, byUser + deltas.server_groups!)) {
      throw overQuota('Quota exceeded, too many server groups.');
    }
  }
  if (wanted('server_group_members')) {
    if (exceeds('server_group_members', (used.server_group_members ?? 0) + deltas.server_group_members!)) {
      throw overQuota('Quota exceeded, too many servers in group');
    }
  }
  if (wanted('key_pairs')) {
    const inUse = used.key_pairs ?? (await keypairCount(tx, userId));
    if (exceeds('key_pairs', inUse + deltas.key_pairs!)) throw overQuota('Quota exceeded, too many key pairs.');
  }
}

/** What one server of a flavor takes from the instance quotas. */
export interface InstanceSize {
  vcpus: number;
  ram: number;
}

/**
 * How many servers of `size` to create for a request of min..max, in one step as Nova's
 * check_num_instances_quota: max_count when it fits; else as many as the headroom of
 * instances, cores and ram (the project's and, when the user has limits, the user's)
 * allows, when that is at least min_count; else over_quota with Nova's message for the
 * whole request ("Requested 11-100000"). Never more than `most`. The cost does not depend
 * on the counts. Call it in createWithinQuota's `write`, which makes the count hold.
 */
export async function fitInstances(tx: Reader, projectId: string, userId: string, size: InstanceSize, minCount: number, maxCount: number, most = maxCount): Promise<number> {
  const u = await instanceUsage(tx, projectId, userId, {});
  const deltas = (n: number) => ({ instances: n, cores: n * size.vcpus, ram: n * size.ram });
  const found = instanceOvers(u, deltas(maxCount));
  if (!found) return Math.min(maxCount, most);
  const allowed = Math.min(headroom(u.project, u.projectUsed, size), u.userScoped ? headroom(u.user, u.userUsed, size) : Infinity);
  if (allowed >= minCount && !instanceOvers(u, deltas(allowed))) return Math.min(allowed, most);
  throw tooManyInstances(u, found, { ...deltas(maxCount), instances: minCount === maxCount ? minCount : `${minCount}-${maxCount}` });
}

/** How many more servers of `size` fit under `limits` (an unlimited resource never binds). */
function headroom(limits: Quotas, used: Quotas, size: InstanceSize): number {
  const room = (r: InstanceResource) => (limits[r] < 0 ? Infinity : limits[r] - used[r]);
  const per = (r: InstanceResource, each: number) => (each > 0 ? Math.floor(room(r) / each) : Infinity);
  return Math.max(0, Math.min(room('instances'), per('cores', size.vcpus), per('ram', size.ram)));
}

/** The smallest and largest limit an update may set (Nova's get_settable_quotas); -1 is unbounded. */
async function settableRange(db: Reader, projectId: string, userId: string | null): Promise<Record<QuotaResource, { minimum: number; maximum: number }>> {
  const limits = await projectQuotas(db, projectId);
  const everyUser = await db.selectFrom('project_user_quotas').select(['resource', 'hard_limit']).where('project_id', '=', projectId).execute();
  // What is left to give out: the project's limit minus every user's own limit.
  const remains = { ...limits };
  for (const r of everyUser) if (isQuotaResource(r.resource)) remains[r.resource] -= Number(r.hard_limit);
  const unlimited = (a: number, b: number) => a <= -1 || b <= -1;
  const range = {} as Record<QuotaResource, { minimum: number; maximum: number }>;
  if (userId) {
    const own = overlay({} as Quotas, await userRows(db, projectId, userId));
    const inUse = await reportedUsage(db, projectId, userId);
    for (const r of Object.keys(QUOTA_DEFAULTS) as QuotaResource[]) {
      const mine = own[r] ?? 0;
      range[r] = { minimum: inUse[r], maximum: unlimited(remains[r], mine) ? -1 : remains[r] + mine };
    }
  } else {
    const inUse = await reportedUsage(db, projectId);
    for (const r of Object.keys(QUOTA_DEFAULTS) as QuotaResource[]) {
      const givenToUsers = unlimited(limits[r], remains[r]) ? -1 : limits[r] - remains[r];
      range[r] = { minimum: Math.max(givenToUsers, inUse[r]), maximum: -1 };
    }
  }
  return range;
}

/**
 * Sets limits for a project, or for one user in it. Unless forced, a limit may not fall
 * below what is in use (or already given to users), nor a user's rise above what the
 * project has left: all are checked before any is written, as Nova does.
 */
export async function setQuotas(db: Kysely<Schema>, projectId: string, userId: string | null, values: QuotaDeltas, force: boolean): Promise<void> {
  await db.transaction().execute(async (tx) => {
    if (!force) {
      const range = await settableRange(tx, projectId, userId);
      const inf = (v: number) => (v === -1 ? Infinity : v);
      for (const [r, limit] of Object.entries(values) as [QuotaResource, number][]) {
        const { minimum, maximum } = range[r];
        if (inf(limit) < inf(minimum)) {
          throw invalid(`Quota limit ${limit} for ${r} must be greater than or equal to already used and reserved ${minimum}.`);
        }
        if (inf(limit) > inf(maximum)) throw invalid(`Quota limit ${limit} for ${r} must be less than or equal to ${maximum}.`);
      }
    }
    for (const [resource, hardLimit] of Object.entries(values) as [QuotaResource, number][]) {
      if (userId) {
        await tx
          .insertInto('project_user_quotas')
          .values({ project_id: projectId, user_id: userId, resource, hard_limit: hardLimit })
          .onConflict((oc) => oc.columns(['project_id', 'user_id', 'resource']).doUpdateSet({ hard_limit: hardLimit }))
          .execute();
      } else {
        await tx
          .insertInto('quotas')
          .values({ project_id: projectId, resource, hard_limit: hardLimit })
          .onConflict((oc) => oc.columns(['project_id', 'resource']).doUpdateSet({ hard_limit: hardLimit }))
          .execute();
      }
    }
  });
}

/** Back to defaults: a project's limits and its users' limits, or one user's limits. */
export async function resetQuotas(db: Kysely<Schema>, projectId: string, userId: string | null): Promise<void> {
  await db.transaction().execute(async (tx) => {
    let users = tx.deleteFrom('project_user_quotas').where('project_id', '=', projectId);
    if (userId) users = users.where('user_id', '=', userId);
    await users.execute();
    if (!userId) await tx.deleteFrom('quotas').where('project_id', '=', projectId).execute();
  });
}

export async function setClassQuotas(db: Kysely<Schema>, className: string, values: QuotaDeltas): Promise<void> {
  await db.transaction().execute(async (tx) => {
    for (const [resource, hardLimit] of Object.entries(values) as [QuotaResource, number][]) {
      await tx
        .insertInto('quota_classes')
        .values({ class_name: className, resource, hard_limit: hardLimit })
        .onConflict((oc) => oc.columns(['class_name', 'resource']).doUpdateSet({ hard_limit: hardLimit }))
        .execute();
    }
  });
}
