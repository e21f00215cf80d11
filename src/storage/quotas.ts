/**
 * A project's drive limits, as Cinder's quotas have them: `volumes` (how many drives) and
 * `gigabytes` (their total size, GiB), with Cinder's defaults (quota_volumes 10,
 * quota_gigabytes 1000); -1 is unlimited. CloudSigma itself limits storage by what an
 * account has bought (subscriptions and balance), which Nimbus does not sell; Cinder's
 * per-project limits are the faithful fit for a project of a cloud like this one, live in
 * the same tables as Nova's (a project's row over the 'default' class over the built-in
 * value), and are what a Cinder face over these drives would show.
 *
 * Usage is counted from the live drive rows, not kept apart. An image-booted Nova server's
 * root disk is not a volume (Cinder never sees it), so it does not count.
 */
import { sql, type Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';
import type { Tx } from '../db/database.js';
import { NimbusError } from '../errors.js';
import { DEFAULT_QUOTA_CLASS, lockQuotas } from '../compute/quotas.js';

export const DRIVE_QUOTA_DEFAULTS = { volumes: 10, gigabytes: 1000 };
export type DriveQuotas = typeof DRIVE_QUOTA_DEFAULTS;

const GiB = 1024 ** 3;

/** The project's drive limits: its rows over the default class over Cinder's defaults. */
export async function driveQuotas(db: Kysely<Schema>, projectId: string): Promise<DriveQuotas> {
  const names = Object.keys(DRIVE_QUOTA_DEFAULTS);
  const classRows = await db.selectFrom('quota_classes').select(['resource', 'hard_limit']).where('class_name', '=', DEFAULT_QUOTA_CLASS).where('resource', 'in', names).execute();
  const projectRows = await db.selectFrom('quotas').select(['resource', 'hard_limit']).where('project_id', '=', projectId).where('resource', 'in', names).execute();
  const limits = { ...DRIVE_QUOTA_DEFAULTS };
  for (const r of [...classRows, ...projectRows]) limits[r.resource as keyof DriveQuotas] = Number(r.hard_limit);
  return limits;
}

/** The project's drives that count (all but servers' root disks): how many, and their bytes. */
export async function driveUsage(db: Kysely<Schema>, projectId: string): Promise<{ volumes: number; bytes: number }> {
  const row = await db
    .selectFrom('drives')
    .select((eb) => [eb.fn.countAll<number>().as('n'), sql<number>`coalesce(sum(size), 0)`.as('bytes')])
    .where('project_id', '=', projectId)
    .where('server_root', '=', 0)
    .executeTakeFirst();
  return { volumes: Number(row?.n ?? 0), bytes: Number(row?.bytes ?? 0) };
}

/**
 * Refuses (403 over_quota, Cinder's messages) `volumes` more drives of `bytes` more in all
 * in the project. Takes the project's quota lock (the one the server quotas take) before
 * counting, so parallel creates, clones and resizes in the project are serialized from the
 * count to their commit and never both see the same headroom. Call it inside the
 * transaction that writes the drives.
 */
export async function enforceDriveQuota(tx: Tx, projectId: string, delta: { volumes: number; bytes: number }): Promise<void> {
  await lockQuotas(tx, projectId);
  const limits = await driveQuotas(tx, projectId);
  const used = await driveUsage(tx, projectId);
  if (delta.volumes > 0 && limits.volumes >= 0 && used.volumes + delta.volumes > limits.volumes) {
    throw new NimbusError('over_quota', `VolumeLimitExceeded: Maximum number of volumes allowed (${limits.volumes}) exceeded for quota 'volumes'.`, 'objects');
  }
  if (delta.bytes > 0 && limits.gigabytes >= 0 && used.bytes + delta.bytes > limits.gigabytes * GiB) {
    const gb = (b: number) => Math.ceil(b / GiB);
    throw new NimbusError(
      'over_quota',
      `Requested volume or snapshot exceeds allowed gigabytes quota. Requested ${gb(delta.bytes)}G, quota is ${limits.gigabytes}G and ${gb(used.bytes)}G has been consumed.`,
      'size',
    );
  }
}
