import type { Services } from '../services.js';
import type { Db, Tx } from '../db/database.js';
import type { ServerTable } from '../db/schema.js';
import { DriverError } from '../virt/driver.js';
import { PowerState, TaskState, VmState } from '../compute/states.js';
import { parseJson, type Fault, type ServerFlavor } from '../compute/servers.js';
import { placeServer } from './placement.js';
import type { RequestedNetworks } from '../network/networking.js';
import { enqueue, passOn, type TaskRun } from './runner.js';
import type { BuildEffect } from '../compute/behaviours.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { guestSpec } from './guest-spec.js';
import type { Recurse } from '../storage/drives.js';

const NO_VALID_HOST = 'No valid host was found. There are not enough hosts available.';

/**
 * Changes a server unless a delete has claimed it meanwhile: the delete's task_state
 * must never be overwritten by the work it interrupts.
 */
async function updateServer(db: Db | Tx, id: string, values: Partial<ServerTable>): Promise<boolean> {
  const r = await db
    .updateTable('servers')
    .set(values)
    .where('id', '=', id)
    .where('deleted', '=', 0)
    .where((eb) => eb.or([eb('task_state', 'is', null), eb('task_state', '!=', TaskState.DELETING)]))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

function faultOf(err: unknown, now: string, code = 500): Fault {
  const e = err as Error;
  return { code, message: e.message, details: err instanceof DriverError ? err.details : (e.stack ?? ''), created: now };
}

/** Build: scheduling → networking → block_device_mapping → spawning → ACTIVE, or ERROR with a fault. */
export function buildTask(s: Services) {
  return async (run: TaskRun<{ files: { path: string; contents: string }[]; effect?: BuildEffect | null; exclude?: string[] }>): Promise<void> => {
    const { db, clock, driver } = s;
    const id = run.task.server_id;
    const now = () => clock.now().toISOString();
    let server = await db.selectFrom('servers').selectAll().where('id', '=', id).executeTakeFirst();
    if (!server || server.deleted || server.task_state === TaskState.DELETING) return;
    await run.event('compute__do_build_and_run_instance', server.host);

    const fail = async (err: unknown, code = 500) => {
      passOn(err);
      const t = now();
      await db.transaction().execute(async (tx) => {
        // A failed build gives back its ports, as Nova deallocates the network.
        await s.network.releaseForServer(tx, { id, projectId: server!.project_id });
        await updateServer(tx, id, { vm_state: VmState.ERROR, task_state: null, power_state: PowerState.NOSTATE, fault: JSON.stringify(faultOf(err, t, code)), updated_at: t });
        await run.finish(tx, { message: (err as Error).message, traceback: (err as Error).stack });
      });
    };

    if (run.task.step === TaskState.SCHEDULING) {
      const spec = parseJson<{ zone: string | null; forcedHost: string | null; hints: { sameHost?: string[]; differentHost?: string[] } }>(server!.request_spec, { zone: null, forcedHost: null, hints: {} });
      const want = {
        zone: spec.zone,
        forcedHost: spec.forcedHost,
        sameAs: spec.hints.sameHost,
        differentFrom: spec.hints.differentHost,
        // hosts an earlier attempt of this build died on (rescheduled, as Nova retries a build)
        exclude: run.params.exclude ?? [],
      };
      const placed = await placeServer(s, server, want, async (tx, host) => {
        // A control-API behaviour is decided once, with the placement, and kept in the task
        // (after the placement's locks: rows are locked only after advisory locks).
        run.params.effect = await s.behaviours.claim(tx, { name: server!.name, metadata: parseJson(server!.metadata, {}) });
        await run.saveParams(tx);
        if (!host) return null;
        const ok = await updateServer(tx, id, { host: host.name, availability_zone: host.availability_zone, task_state: TaskState.NETWORKING, progress: 25, updated_at: now() });
        if (ok) await run.reached(TaskState.NETWORKING, tx);
        return ok ? host.name : undefined;
      });
      if (placed === undefined) return; // deleted meanwhile
      if (placed === null) return fail(new Error(NO_VALID_HOST));
    }
    server = (await db.selectFrom('servers').selectAll().where('id', '=', id).executeTakeFirst())!;
    // Placed: the rest (ports bound to the host, disks, the guest) is the host's work.
    if (server.host) await run.on(server.host);

    if (run.task.step === TaskState.NETWORKING) {
      // Ports and the step advance commit together, so a resumed build never allocates twice.
      const spec = parseJson<{ networks: RequestedNetworks; securityGroups: string[]; isAdmin: boolean }>(server.request_spec, { networks: [], securityGroups: [], isAdmin: false });
      let moved = false;
      try {
        moved = await db.transaction().execute(async (tx) => {
          const addresses = await s.network.allocateForServer(tx, {
            projectId: server!.project_id,
            serverId: id,
            requested: spec.networks ?? [],
            securityGroups: spec.securityGroups ?? [],
            isAdmin: spec.isAdmin,
            host: server!.host,
            availabilityZone: server!.availability_zone,
          });
          const ok = await updateServer(tx, id, { addresses: JSON.stringify(addresses), task_state: TaskState.BLOCK_DEVICE_MAPPING, progress: 50, updated_at: now() });
          if (ok) await run.reached(TaskState.BLOCK_DEVICE_MAPPING, tx);
          return ok;
        });
      } catch (err) {
        return fail(err);
      }
      if (!moved) return;
    }
    if (run.task.step === TaskState.BLOCK_DEVICE_MAPPING) {
      try {
        await s.drives.makeServerDisks(id);
      } catch (err) {
        return fail(err);
      }
      if (!(await updateServer(db, id, { task_state: TaskState.SPAWNING, progress: 75, updated_at: now() }))) return;
      await run.reached(TaskState.SPAWNING);
    }
    if (run.task.step === TaskState.SPAWNING) {
      const flavor = parseJson<ServerFlavor>(server.flavor, {} as ServerFlavor);
      const effect = run.params.effect;
      if (effect?.buildMs) await sleep(effect.buildMs);
      if (effect?.fault && effect.errorAfterMs === undefined) return fail(new Error(effect.fault.message), effect.fault.code);
      try {
        await driver.spawn(server.host!, await guestSpec(s, server, flavor, { files: run.params.files ?? [] }));
      } catch (err) {
        return fail(err);
      }
      const t = now();
      await db.transaction().execute(async (tx) => {
        // A delete that came in while spawning keeps the server: its task destroys the guest.
        if (!(await updateServer(tx, id, { vm_state: VmState.ACTIVE, task_state: null, power_state: PowerState.RUNNING, progress: 100, launched_at: t, updated_at: t }))) return;
        if (effect?.errorAfterMs !== undefined) {
          await enqueue(tx, clock, {
            serverId: id,
            kind: 'inject_error',
            step: 'error',
            params: { message: effect.fault?.message ?? 'The server failed after it was built (injected by the control API).', code: effect.fault?.code ?? 500 },
            notBefore: new Date(clock.nowMs() + effect.errorAfterMs!),
          });
        }
        await run.finish(tx);
      });
    }
  };
}

/** A control-API behaviour's delayed failure: the server goes to ERROR with the fault. */
export function injectErrorTask(s: Services) {
  return async (run: TaskRun<{ message: string; code: number }>): Promise<void> => {
    const t = s.clock.now().toISOString();
    await s.db.transaction().execute(async (tx) => {
      await updateServer(tx, run.task.server_id, {
        vm_state: VmState.ERROR,
        task_state: null,
        fault: JSON.stringify({ code: run.params.code, message: run.params.message, details: 'injected by the Nimbus control API', created: t }),
        updated_at: t,
      });
      await run.finish(tx);
    });
  };
}

/** The migrations whose source keeps the guest's disks aside (migrateDiskAndPowerOff) until confirmed. */
const KEEPING_MIGRATIONS = ['resize', 'migration'];

/** The step a delete records when the guest is destroyed and the source of its resize is left to clean. */
const DESTROYED = 'destroyed';

/** Delete: destroy the guest, release what it held, and mark the server DELETED. */
export function deleteTask(s: Services) {
  return async (run: TaskRun): Promise<void> => {
    const { db, clock, driver } = s;
    const id = run.task.server_id;
    const server = await db.selectFrom('servers').selectAll().where('id', '=', id).executeTakeFirst();
    if (!server || server.deleted) return;
    const destroyed = run.task.step === DESTROYED;
    // A reclaim is due only if the server is still soft-deleted (not restored meanwhile).
    if ((run.params as { reclaim?: boolean }).reclaim && !destroyed && !(await run.takeServer(VmState.SOFT_DELETED, { task_state: TaskState.DELETING }))) return;
    await run.event('compute_terminate_instance', server.host);
    // A server deleted while resized: what its source host keeps goes too, as Nova confirms
    // the resize of a server it deletes; so does what a resize that failed after the source's
    // step (ERROR, its disks kept for an admin) kept. Its guest first, then (in the source's
    // process) that.
    const resized = await db.selectFrom('migrations').select(['id', 'status', 'source_host', 'migration_type']).where('server_id', '=', id).orderBy('id', 'desc').limit(1).executeTakeFirst();
    const keeps = resized?.status === 'finished' || (resized?.status === 'error' && KEEPING_MIGRATIONS.includes(resized.migration_type));
    const kept = keeps && resized?.source_host ? resized.source_host : null;
    if (server.host && !destroyed) {
      await run.on(server.host);
      await driver.destroy(server.host, id);
      if (kept) await run.reached(DESTROYED);
    }
    if (kept) {
      await run.on(kept);
      await driver.confirmMigration(kept, id);
    }
    const t = clock.now().toISOString();
    await db.transaction().execute(async (tx) => {
      if (kept && resized!.status === 'finished') await tx.updateTable('migrations').set({ status: 'confirmed', updated_at: t }).where('id', '=', resized!.id).execute();
      await s.network.releaseForServer(tx, { id, projectId: server.project_id });
      // Its drives are detached; the ones made with it, and with ?recurse= those of that media, deleted.
      await s.drives.releaseForServer(tx, id, (run.params as { recurse?: Recurse }).recurse ?? null);
      await tx
        .updateTable('servers')
        .set({ vm_state: VmState.DELETED, task_state: null, power_state: PowerState.NOSTATE, deleted: 1, deleted_at: t, terminated_at: t, updated_at: t })
        .where('id', '=', id)
        .execute();
      await run.finish(tx);
    });
  };
}
