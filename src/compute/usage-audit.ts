import type { Db } from '../db/database.js';

/** The instance usage audit's summary over one audit period, in Nova's terms. */
export interface UsageAudit {
  periodBeginning: Date;
  periodEnding: Date;
  hosts: string[];
  hostsDone: string[];
  hostsRunning: string[];
  hostsNotRun: string[];
  totalInstances: number;
  totalErrors: number;
  log: Record<string, { state: string; instances: number; errors: number; message: string }>;
}

/**
 * nova.utils.last_completed_audit_period for Nova's default unit, `month`: the calendar
 * month (UTC) most recently completed strictly before `before`.
 */
export function lastCompletedAuditPeriod(before: Date): { begin: Date; end: Date } {
  const year = before.getUTCFullYear();
  const month = before.getUTCMonth();
  let end = new Date(Date.UTC(year, month, 1));
  if (end.getTime() >= before.getTime()) end = new Date(Date.UTC(year, month - 1, 1));
  const begin = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth() - 1, 1));
  return { begin, end };
}

/**
 * The audit of the period completed before `before`, over every compute host (disabled
 * ones too: they may still hold servers). Nimbus runs no periodic usage audit, like Nova
 * with its default `instance_usage_audit = False`, so no host has a task log for the
 * period: every host is reported as not run.
 */
export async function usageAudit(db: Db, before: Date): Promise<UsageAudit> {
  const { begin, end } = lastCompletedAuditPeriod(before);
  const hosts = (await db.selectFrom('hosts').select('name').orderBy('name').execute()).map((h) => h.name);
  return {
    periodBeginning: begin,
    periodEnding: end,
    hosts,
    hostsDone: [],
    hostsRunning: [],
    hostsNotRun: hosts,
    totalInstances: 0,
    totalErrors: 0,
    log: {},
  };
}
