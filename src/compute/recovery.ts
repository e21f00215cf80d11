import type { Services } from '../services.js';
import { isUp } from '../scheduler/scheduler.js';
import { enqueue } from '../tasks/runner.js';
import { finishEvent, startAction } from './actions.js';
import { PowerState, TaskState, VmState } from './states.js';
import type { TaskTable } from '../db/schema.js';
import type { Recurse } from '../storage/drives.js';

/** How often the hosts are looked at for servers to restart elsewhere. */
export const RECOVERY_MS = 5000;

/**
 * CloudSigma's host crash (its server diagram): a running server whose host goes down is
 * `starting` again and comes back `running` on another host, or stays `unavailable` while
 * no host can take it (this job tries again each period). It applies to servers defined
 * through the CloudSigma face; a compute-API server keeps Nova's behaviour (it stays, and
 * an admin evacuates it). The restart is the ordinary start task, avoiding the dead host.
 */
export async function restartServersOfDownHosts(s: Services): Promise<number> {
  const now = s.clock.nowMs();
  const hosts = await s.db.selectFrom('hosts').select(['name', 'last_seen_at', 'forced_down']).execute();
  const down = hosts.filter((h) => !isUp(h, now)).map((h) => h.name);
  if (down.length === 0) return 0;
  const stranded = await s.db
    .selectFrom('servers')
    .select(['id', 'host', 'project_id', 'user_id'])
    .where('host', 'in', down)
    .where('deleted', '=', 0)
    .where('vm_state', '=', VmState.ACTIVE)
    .where('task_state', 'is', null)
    .where('cloudsigma', 'is not', null)
    .execute();
  let restarted = 0;
  for (const server of stranded) {
    const at = s.clock.now().toISOString();
    const taken = await s.db.transaction().execute(async (tx) => {
      // Taken only if still idle on the dead host: a user's action meanwhile wins.
      const r = await tx.updateTable('servers').set({ task_state: TaskState.POWERING_ON, updated_at: at }).where('id', '=', server.id).where('host', '=', server.host).where('task_state', 'is', null).where('vm_state', '=', VmState.ACTIVE).executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) return false;
      const actionId = await startAction(tx, { serverId: server.id, action: 'start', requestId: 'req-host-recovery', projectId: server.project_id, userId: server.user_id, now: at });
      await enqueue(tx, s.clock, { serverId: server.id, kind: 'start', step: 'start', params: { avoid: [server.host] }, actionId });
      return true;
    });
    if (taken) restarted++;
  }
  if (restarted) s.runner.kick();
  return restarted;
}

/** Work left to a host that is down, resolved by a conductor: how each kind ends. */
const MIGRATING_KINDS = ['resize', 'live_migrate', 'evacuate'];

/**
 * The work addressed to a compute host that is down (no heartbeat within service_down_time,
 * forced down, or deleted), and not running under a live lease, never waits for it:
 *  - a build is rescheduled avoiding the host, as Nova reschedules, until it has had
 *    NIMBUS_SCHEDULER_MAX_ATTEMPTS attempts; then ERROR with Nova's MaxRetriesExceeded fault;
 *  - a delete completes as Nova's local delete (no driver call: the host's reconcile
 *    destroys the guest if it comes back);
 *  - any other action fails cleanly: its event ends in error, an instance fault, the task
 *    state cleared (the vm state kept, as reverts_task_state does).
 * Each is taken with the same conditional claim a runner makes, and ended in its transaction:
 * never done twice, by two conductors or by the host coming back.
 */
export async function resolveWorkOfDownHosts(s: Services): Promise<number> {
  const now = s.clock.nowMs();
  const hosts = await s.db.selectFrom('hosts').select(['name', 'last_seen_at', 'forced_down']).execute();
  const up = new Set(hosts.filter((h) => isUp(h, now)).map((h) => h.name));
  const due = s.clock.now().toISOString();
  const stranded = await s.db
    .selectFrom('tasks')
    .selectAll()
    .where('status', '=', 'pending')
    .where('host', 'is not', null)
    .where((eb) => eb.or([eb('not_before', '<=', due), eb('attempts', '>', 0)]))
    .execute();
  let resolved = 0;
  for (const task of stranded.filter((t) => !up.has(t.host!))) {
    try {
      if (await resolveOne(s, task)) resolved++;
    } catch (err) {
      s.log.error({ err, task: task.id, kind: task.kind, host: task.host }, 'resolving the work of a down host failed');
    }
  }
  if (resolved) s.runner.kick();
  return resolved;
}

async function resolveOne(s: Services, task: TaskTable): Promise<boolean> {
  const t = s.clock.now().toISOString();
  const host = task.host!;
  return s.db.transaction().execute(async (tx) => {
    // Taken only if still pending for that host: its compute back meanwhile, or another conductor, wins.
    const taken = await tx
      .updateTable('tasks')
      .set({ status: 'running', lease_owner: s.runner.owner, lease_until: new Date(Date.now() + 60000).toISOString() })
      .where('id', '=', task.id)
      .where('status', '=', 'pending')
      .where('host', '=', host)
      .executeTakeFirst();
    if (Number(taken.numUpdatedRows) !== 1) return false;
    const server = await tx.selectFrom('servers').selectAll().where('id', '=', task.server_id).executeTakeFirst();
    const params = JSON.parse(task.params) as { exclude?: string[]; recurse?: Recurse };
    const log = s.log.child({ server_id: task.server_id, task: task.kind, host });
    const end = async (error?: { message: string; traceback?: string }) => {
      if (task.event_id && task.action_id) await finishEvent(tx, task.action_id, task.event_id, t, error);
      await tx.deleteFrom('tasks').where('id', '=', task.id).execute();
    };
    if (!server || server.deleted) {
      await end();
      return true;
    }
    if (task.kind === 'build') {
      const exclude = [...new Set([...(params.exclude ?? []), host])];
      await s.network.releaseForServer(tx, { id: server.id, projectId: server.project_id });
      if (exclude.length < s.config.schedulerMaxAttempts) {
        // Rescheduled: back to a conductor, from scheduling, never onto the hosts it died on.
        await tx.updateTable('servers').set({ host: null, addresses: '{}', task_state: TaskState.SCHEDULING, progress: 0, updated_at: t }).where('id', '=', server.id).where('deleted', '=', 0).execute();
        await tx
          .updateTable('tasks')
          .set({ host: null, step: TaskState.SCHEDULING, params: JSON.stringify({ ...params, exclude }), status: 'pending', lease_owner: null, lease_until: null, updated_at: t })
          .where('id', '=', task.id)
          .execute();
        log.warn({ attempts: exclude.length }, `build rescheduled: compute host ${host} is down`);
        return true;
      }
      const message = `Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance ${server.id}.`;
      const details = `Build of instance ${server.id} was re-scheduled: compute host ${host} is down`;
      await tx
        .updateTable('servers')
        .set({ vm_state: VmState.ERROR, task_state: null, power_state: PowerState.NOSTATE, fault: JSON.stringify({ code: 500, message, details, created: t }), updated_at: t })
        .where('id', '=', server.id)
        .execute();
      await end({ message, traceback: details });
      log.warn(`build failed: ${message}`);
      return true;
    }
    if (task.kind === 'delete') {
      // Nova's local delete: the database lets the server go; the host destroys the guest when it returns.
      await s.network.releaseForServer(tx, { id: server.id, projectId: server.project_id });
      await s.drives.releaseForServer(tx, server.id, params.recurse ?? null);
      await tx
        .updateTable('servers')
        .set({ vm_state: VmState.DELETED, task_state: null, power_state: PowerState.NOSTATE, deleted: 1, deleted_at: t, terminated_at: t, updated_at: t })
        .where('id', '=', server.id)
        .execute();
      await end();
      log.warn(`deleted locally: compute host ${host} is down`);
      return true;
    }
    const message = `Compute service of ${host} is unavailable at this time.`;
    await tx
      .updateTable('servers')
      .set({ task_state: null, fault: JSON.stringify({ code: 500, message, details: `The ${task.kind} of instance ${server.id} could not run: compute host ${host} is down.`, created: t }), updated_at: t })
      .where('id', '=', server.id)
      .where('deleted', '=', 0)
      .execute();
    if (MIGRATING_KINDS.includes(task.kind)) {
      const migration = await tx.selectFrom('migrations').select(['id', 'status']).where('server_id', '=', server.id).orderBy('id', 'desc').limit(1).executeTakeFirst();
      if (migration && !['finished', 'confirmed', 'reverted', 'completed', 'done', 'error', 'failed'].includes(migration.status)) {
        await tx.updateTable('migrations').set({ status: 'error', updated_at: t }).where('id', '=', migration.id).execute();
      }
    }
    await end({ message });
    log.warn(`${task.kind} failed: ${message}`);
    return true;
  });
}
