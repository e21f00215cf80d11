import type { Services } from '../services.js';
import { PowerState, VmState } from '../compute/states.js';

/**
 * Nova's _sync_power_states: what each idle server's machine really is, compared with the
 * database. A guest that powered itself off (or crashed) is SHUTOFF, as Nova's stop on
 * sync makes it; a machine that vanished is NOSTATE. A server with a task is left alone:
 * its task decides its state.
 */
export async function syncPowerStates(s: Services, pageSize = 1000): Promise<void> {
  const names = s.driver.hosts().map((h) => h.name);
  // Page by page in id order: a host may hold more servers than one statement may read in time.
  for (let after = ''; ; ) {
    const servers = await s.db
      .selectFrom('servers')
      .select(['id', 'host', 'vm_state', 'power_state'])
      .where('id', '>', after)
      .where('deleted', '=', 0)
      .where('task_state', 'is', null)
      .where('host', 'in', names)
      .where('vm_state', 'in', [VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED, VmState.RESCUED, VmState.RESIZED])
      .orderBy('id')
      .limit(pageSize)
      .execute();
    for (const server of servers) await syncOne(s, server);
    if (servers.length < pageSize) return;
    after = servers[servers.length - 1].id;
  }
}

async function syncOne(s: Services, server: { id: string; host: string | null; vm_state: string; power_state: number }): Promise<void> {
  let real: number | null;
  try {
    real = await s.driver.powerState(server.host!, server.id);
  } catch (err) {
    s.log.warn({ err, server_id: server.id }, 'power state sync: the driver could not tell');
    return;
  }
  const power = real ?? PowerState.NOSTATE;
  const off = power === PowerState.SHUTDOWN || power === PowerState.CRASHED;
  const vm = server.vm_state === VmState.ACTIVE && off ? VmState.STOPPED : server.vm_state;
  if (power === server.power_state && vm === server.vm_state) return;
  const r = await s.db
    .updateTable('servers')
    .set({ power_state: power, vm_state: vm, updated_at: s.clock.now().toISOString() })
    .where('id', '=', server.id)
    .where('task_state', 'is', null)
    .where('deleted', '=', 0)
    .where('vm_state', '=', server.vm_state)
    .executeTakeFirst();
  if (Number(r.numUpdatedRows)) s.log.info({ server_id: server.id, power_state: power, vm_state: vm, was: { power_state: server.power_state, vm_state: server.vm_state } }, 'power state sync: the machine is not what the database said');
}
