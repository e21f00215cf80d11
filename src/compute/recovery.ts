import type { Services } from '../services.js';
import { isUp } from '../scheduler/scheduler.js';
import { enqueue } from '../tasks/runner.js';
import { startAction } from './actions.js';
import { TaskState, VmState } from './states.js';

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
