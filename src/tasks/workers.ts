import type { Services } from '../services.js';
import { FakeDriver } from '../virt/fake/driver.js';
import { configuredZone, syncHostZones } from '../compute/aggregates.js';
import { buildTask, deleteTask, injectErrorTask } from './server-tasks.js';
import { actionTasks } from './action-tasks.js';
import { RECOVERY_MS, restartServersOfDownHosts } from '../compute/recovery.js';
import { driveTasks } from './drive-tasks.js';
import { holdNodeId } from './node.js';
import { isPostgresUrl } from '../db/database.js';
import { syncPowerStates } from './power-sync.js';

const HEARTBEAT_MS = 10000;
const ADOPT_PAGE = 5000;

/**
 * Starts the compute side of this process: registers its hosts, gives the fake driver
 * back the guests the database says it has, and runs tasks and periodic jobs.
 * `takeOver` resumes every task left running by a dead process (single-node SQLite);
 * otherwise only this node's own are resumed at once, and it first makes sure no other live
 * process runs under its node id.
 */
export async function startWorkers(s: Services, takeOver: boolean): Promise<void> {
  await s.hosts.register();
  // Registration writes the driver's configured zone; aggregates may say otherwise.
  await syncHostZones(s.db, configuredZone(s.driver));
  if (s.driver instanceof FakeDriver) {
    const names = s.driver.hosts().map((h) => h.name);
    // By pages: one read of every row of a host of 100,000 guests left ~40 MB of garbage
    // behind, and a heap grown to hold it stays grown.
    for (let after = ''; ; ) {
      const guests = await s.db
        .selectFrom('servers')
        .select(['id', 'hostname', 'host', 'power_state'])
        .where('deleted', '=', 0)
        .where('host', 'in', names)
        .where('power_state', '!=', 0)
        .where('id', '>', after)
        .orderBy('id')
        .limit(ADOPT_PAGE)
        .execute();
      for (const g of guests) s.driver.adopt(g.host!, g.id, g.hostname, g.power_state as never);
      if (guests.length < ADOPT_PAGE) break;
      after = guests[guests.length - 1].id;
    }
    // Its drives and snapshots too: a clone resumed after a restart copies from a source the fake holds.
    const drives = await s.db.selectFrom('drives').select(['id', 'size', 'storage_type', 'location']).where('status', '!=', 'creating').where('status', '!=', 'cloning_dst').execute();
    for (const d of drives) s.driver.adoptDrive(d.id, Number(d.size), d.storage_type, d.location);
    const snapshots = await s.db.selectFrom('drive_snapshots').select(['id', 'drive_id', 'size']).where('status', '=', 'available').execute();
    for (const sn of snapshots) s.driver.adoptSnapshot(sn.id, sn.drive_id, Number(sn.size));
  }
  s.runner.handle('build', buildTask(s));
  s.runner.handle('delete', deleteTask(s));
  s.runner.handle('inject_error', injectErrorTask(s));
  for (const [kind, handler] of Object.entries(actionTasks(s))) s.runner.handle(kind, handler);
  for (const [kind, handler] of Object.entries(driveTasks(s))) s.runner.handle(kind, handler);
  s.runner.every('heartbeat', HEARTBEAT_MS, () => s.hosts.heartbeat());
  // Real machines change on their own (a guest powers itself off); simulated ones never do.
  if (s.driver.name === 'qemu' && s.config.qemu.syncPowerStateInterval > 0) s.runner.every('sync_power_states', s.config.qemu.syncPowerStateInterval * 1000, () => syncPowerStates(s));
  s.runner.every('host-recovery', RECOVERY_MS, async () => void (await restartServersOfDownHosts(s)));
  const release = !takeOver && isPostgresUrl(s.config.databaseUrl) ? await holdNodeId(s.config.databaseUrl, s.runner.owner, s.log) : undefined;
  await s.runner.start(takeOver, release);
}
