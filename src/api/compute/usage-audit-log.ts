import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';
import { invalid } from '../../errors.js';
import { usageAudit, type UsageAudit } from '../../compute/usage-audit.js';
import { resource } from '../http.js';
import { noSuchRoute } from './wire.js';

/** Python's str(datetime): "2024-05-01 00:00:00", microseconds only when there are some. */
function pyDateTime(d: Date): string {
  const [date, time] = d.toISOString().split('T');
  const [hms, fraction] = time.replace('Z', '').split('.');
  return fraction === '000' ? `${date} ${hms}` : `${date} ${hms}.${fraction}000`;
}

/**
 * The `before` timestamp as Nova's strptime reads it: "%Y-%m-%d %H:%M:%S", with ".%f"
 * when it holds a dot. Taken as UTC, as Nova compares it with naive UTC times.
 */
function parseBefore(text: string): Date {
  const m = text.includes('.')
    ? /^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})\.(\d{1,6})$/.exec(text)
    : /^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})$/.exec(text);
  const bad = () => invalid(`Invalid timestamp for date ${text}`);
  if (!m) throw bad();
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const ms = m[7] ? Math.floor(Number(m[7].padEnd(6, '0')) / 1000) : 0;
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) throw bad();
  return date;
}

function auditView(a: UsageAudit): Record<string, unknown> {
  const done = a.hostsDone.length;
  const all = a.hosts.length;
  return {
    period_beginning: pyDateTime(a.periodBeginning),
    period_ending: pyDateTime(a.periodEnding),
    num_hosts: all,
    num_hosts_done: done,
    num_hosts_running: a.hostsRunning.length,
    num_hosts_not_run: a.hostsNotRun.length,
    hosts_not_run: a.hostsNotRun,
    total_instances: a.totalInstances,
    total_errors: a.totalErrors,
    overall_status: `${done === all ? 'ALL' : `${done} of ${all}`} hosts done. ${a.totalErrors} errors.`,
    log: a.log,
  };
}

/** GET /os-instance_usage_audit_log[/{before}]: admin only, at every microversion. */
export function usageAuditLogRoutes(app: FastifyInstance, services: Services): void {
  resource(app, '/os-instance_usage_audit_log', {
    GET: async (request) => {
      services.policy.authorize(request.auth, 'os_compute_api:os-instance-usage-audit-log:list');
      return { instance_usage_audit_logs: auditView(await usageAudit(services.db, services.clock.now())) };
    },
  });
  resource(app, '/os-instance_usage_audit_log/:before', {
    GET: async (request) => {
      const { before } = request.params as { before: string };
      if (before === '') throw noSuchRoute();
      services.policy.authorize(request.auth, 'os_compute_api:os-instance-usage-audit-log:show');
      return { instance_usage_audit_log: auditView(await usageAudit(services.db, parseBefore(before))) };
    },
  });
}
