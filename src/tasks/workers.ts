import type { Services } from '../services.js';
import { FakeDriver } from '../virt/fake/driver.js';
import { configuredZone, syncHostZones } from '../compute/aggregates.js';
import { buildTask, deleteTask, injectErrorTask } from './server-tasks.js';
import { actionTasks } from './action-tasks.js';
import { RECOVERY_MS, resolveWorkOfDownHosts, restartServersOfDownHosts } from '../compute/recovery.js';
import { beatControlServices } from '../compute/host-services.js';
import { hostname } from 'node:os';
import { driveTasks } from './drive-tasks.js';
import { holdNodeId } from './node.js';
import { isPostgresUrl } from '../db/database.js';
import { syncPowerStates } from './power-sync.js';
import { QemuDriver } from '../virt/qemu/driver.js';
import { startMetadataService } from '../compute/metadata-service.js';

const ADOPT_PAGE = 5000;

/** Nova's report_interval (10 s), shorter when service_down_time is short. */
const heartbeatMs = (s: Services) => Math.min(10000, (s.config.serviceDownTime * 1000) / 3);

/** What each role registers and runs; `serve` runs all of it, as one process always did. */
function runs(s: Services) {
  const kind = s.role.kind;
  return { hosts: kind !== 'conductor', conductor: kind !== 'compute' };
}

/**
 * Starts the compute side of this process: registers its hosts, gives the fake driver
 * back the guests the database says it has, and runs tasks and periodic jobs.
 * `takeOver` resumes every task left running by a dead process (single-node SQLite);
 * otherwise only this node's own are resumed at once, and it first makes sure no other live
 * process runs under its node id.
 */
export async function startWorkers(s: Services, takeOver: boolean, options: { processHost?: string } = {}): Promise<void> {
  const role = runs(s);
  if (role.hosts) {
    await s.hosts.register();
    // Registration writes the driver's configured zone; aggregates may say otherwise.
    // A compute knows only its own host's configured zone: it leaves the others' alone.
    await syncHostZones(s.db, configuredZone(s.driver), s.role.kind === 'compute' ? s.driver.hosts().map((h) => h.name) : undefined);
  }
  if (role.hosts && s.driver instanceof FakeDriver) {
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
  }
  s.runner.handle('build', buildTask(s));
  s.runner.handle('delete', deleteTask(s));
  s.runner.handle('inject_error', injectErrorTask(s));
  for (const [kind, handler] of Object.entries(actionTasks(s))) s.runner.handle(kind, handler);
  for (const [kind, handler] of Object.entries(driveTasks(s))) s.runner.handle(kind, handler);
  if (role.hosts && s.driver instanceof QemuDriver && s.config.qemu.metadataService) {
    // This process owns the machines, so it is the one that can tell which guest is asking.
    const driver = s.driver;
    s.metadataService = await startMetadataService(s, (peer, local) => driver.guestOfConnection(peer, local));
    driver.metadataService = !!s.metadataService;
  }
  if (role.hosts) {
    if (s.role.kind === 'compute') await reconcile(s);
    s.runner.every('heartbeat', heartbeatMs(s), () => s.hosts.heartbeat());
    // Real machines change on their own (a guest powers itself off); simulated ones never do.
    if (s.driver.name === 'qemu' && s.config.qemu.syncPowerStateInterval > 0) s.runner.every('sync_power_states', s.config.qemu.syncPowerStateInterval * 1000, () => syncPowerStates(s));
  }
  if (role.conductor) {
    // Once across the conductors of a cluster (leased in periodic_jobs); on each `serve` as before.
    s.runner.every('host-recovery', RECOVERY_MS, async () => void (await restartServersOfDownHosts(s)), { once: true });
    if (s.role.kind === 'conductor') {
      s.runner.every('down-host-work', Math.min(RECOVERY_MS, heartbeatMs(s)), async () => void (await resolveWorkOfDownHosts(s)), { once: true });
      const host = options.processHost ?? hostname();
      s.runner.every('control-heartbeat', heartbeatMs(s), () => beatControlServices(s.db, s.clock, host));
    }
  }
  const release = !takeOver && isPostgresUrl(s.config.databaseUrl) ? await holdNodeId(s.config.databaseUrl, s.runner.owner, s.log) : undefined;
  await s.runner.start(takeOver, release);
}

/**
 * A compute host that starts compares what its hypervisor runs with the database: a guest
 * the database places on another host (evacuated while this one was away) or has deleted
 * is destroyed, never started; then the power states are reported as they really are.
 */
export async function reconcile(s: Services): Promise<void> {
  for (const host of s.driver.hosts().map((h) => h.name)) {
    await removeGuestsNotHere(s, host);
    await removeKeptOfDeleted(s, host);
  }
  await syncPowerStates(s);
}

/** The guests this host has that the database places elsewhere or has deleted. */
async function removeGuestsNotHere(s: Services, host: string): Promise<void> {
  const have = (await s.driver.guestIds?.(host)) ?? [];
  if (have.length === 0) return;
  // Asked about the guests it has, a few at a time: the host may hold more servers than one statement may read in time.
  const mine = new Set<string>();
  for (let i = 0; i < have.length; i += 500) {
    const rows = await s.db.selectFrom('servers').select('id').where('id', 'in', have.slice(i, i + 500)).where('host', '=', host).where('deleted', '=', 0).execute();
    for (const r of rows) mine.add(r.id);
  }
  // A guest a resize is moving is its task's to settle, whichever of its two hosts the
  // database names yet: made on the destination, or brought back on the source by a revert
  // (there, destroying it would destroy the disks the revert brought back).
  const moving = await s.db
    .selectFrom('migrations')
    .innerJoin('servers', 'servers.id', 'migrations.server_id')
    .select('migrations.server_id')
    .where('servers.deleted', '=', 0)
    .where('migrations.migration_type', 'in', ['resize', 'migration'])
    .where('migrations.status', 'in', ['migrating', 'post-migrating', 'finished'])
    .where((eb) => eb.or([eb('migrations.source_host', '=', host), eb('migrations.dest_host', '=', host)]))
    .execute();
  for (const m of moving) mine.add(m.server_id);
  for (const id of have.filter((g) => !mine.has(g))) {
    s.log.warn({ server_id: id, host }, 'reconcile: destroying a guest the database places elsewhere or has deleted');
    await s.driver.destroy(host, id).catch((err) => s.log.error({ err, server_id: id }, 'reconcile: the guest could not be destroyed'));
  }
}

/**
 * What a resize kept here for a server deleted meanwhile (deleted while this host was down:
 * its delete could not confirm the resize here). A live server's kept disks stay, whatever
 * its state: a revert, a confirm or an admin still needs them.
 */
async function removeKeptOfDeleted(s: Services, host: string): Promise<void> {
  const kept = (await s.driver.keptIds?.(host)) ?? [];
  for (let i = 0; i < kept.length; i += 500) {
    const batch = kept.slice(i, i + 500);
    const live = new Set((await s.db.selectFrom('servers').select('id').where('id', 'in', batch).where('deleted', '=', 0).execute()).map((r) => r.id));
    for (const id of batch.filter((k) => !live.has(k))) {
      s.log.warn({ server_id: id, host }, 'reconcile: removing what a resize kept for a server since deleted');
      await s.driver.confirmMigration(host, id).catch((err) => s.log.error({ err, server_id: id }, 'reconcile: the kept disks could not be removed'));
    }
  }
}
