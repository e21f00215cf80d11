import type { Services } from '../services.js';
import type { Db, Tx } from '../db/database.js';
import type { HostTable, ServerTable } from '../db/schema.js';
import { ResizeRefused, type Driver, type GuestSpec, type LiveMigrationTarget } from '../virt/driver.js';
import { PowerState, TaskState, VmState } from '../compute/states.js';
import { parseJson, type ServerFlavor } from '../compute/servers.js';
import { placeServer } from './placement.js';
import { enqueue, passOn, type TaskRun } from './runner.js';
import { guestSpec } from './guest-spec.js';

const T = TaskState;
const V = VmState;

type Server = ServerTable;
type Values = Partial<Server>;

/** What one power operation does: its driver call and the state it ends in. */
const POWER_OPS: Record<string, { event: string; during?: string; run: (d: Driver, host: string, id: string) => Promise<void>; vm: string; power: number }> = {
  reboot_soft: { event: 'compute_reboot_instance', during: T.REBOOT_STARTED, run: (d, h, id) => d.reboot(h, id, false), vm: V.ACTIVE, power: PowerState.RUNNING },
  reboot_hard: { event: 'compute_reboot_instance', during: T.REBOOT_STARTED_HARD, run: (d, h, id) => d.reboot(h, id, true), vm: V.ACTIVE, power: PowerState.RUNNING },
  stop: { event: 'compute_stop_instance', run: (d, h, id) => d.powerOff(h, id), vm: V.STOPPED, power: PowerState.SHUTDOWN },
  start: { event: 'compute_start_instance', run: (d, h, id) => d.powerOn(h, id), vm: V.ACTIVE, power: PowerState.RUNNING },
  pause: { event: 'compute_pause_instance', run: (d, h, id) => d.pause(h, id), vm: V.PAUSED, power: PowerState.PAUSED },
  unpause: { event: 'compute_unpause_instance', run: (d, h, id) => d.unpause(h, id), vm: V.ACTIVE, power: PowerState.RUNNING },
  suspend: { event: 'compute_suspend_instance', run: (d, h, id) => d.suspend(h, id), vm: V.SUSPENDED, power: PowerState.SUSPENDED },
  resume: { event: 'compute_resume_instance', run: (d, h, id) => d.resume(h, id), vm: V.ACTIVE, power: PowerState.RUNNING },
  rescue: { event: 'compute_rescue_instance', run: (d, h, id) => d.rescue(h, id), vm: V.RESCUED, power: PowerState.RUNNING },
  unrescue: { event: 'compute_unrescue_instance', run: (d, h, id) => d.unrescue(h, id), vm: V.ACTIVE, power: PowerState.RUNNING },
  set_password: { event: 'compute_set_admin_password', run: async () => {}, vm: V.ACTIVE, power: PowerState.RUNNING },
};

/** The shared frame of an action's work: its server, its event, and how it ends. */
class ActionRun {
  constructor(
    readonly s: Services,
    readonly run: TaskRun,
    public server: Server,
  ) {}

  get id() {
    return this.server.id;
  }
  now() {
    return this.s.clock.now().toISOString();
  }
  /** Starts the action's event (or, resumed, finds the one this task started). */
  async begin(event: string) {
    await this.run.event(event, this.server.host);
  }
  /** The next steps call the driver on `host`: run them in its process (see TaskRun.on). */
  on(host: string | null) {
    return host ? this.run.on(host) : Promise.resolve();
  }
  /** Changes the server unless a delete took it over meanwhile. */
  async set(values: Values, db: Db | Tx = this.s.db): Promise<boolean> {
    const r = await db
      .updateTable('servers')
      .set({ ...values, updated_at: this.now() })
      .where('id', '=', this.id)
      .where('deleted', '=', 0)
      .where((eb) => eb.or([eb('task_state', 'is', null), eb('task_state', '!=', T.DELETING)]))
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 1) this.server = { ...this.server, ...values };
    return Number(r.numUpdatedRows) === 1;
  }
  /**
   * The work is done: the server's final state, what follows from it (`also`: a migration
   * record, the next delayed job) and the end of the task and its event commit together,
   * so a crash never leaves half of it or runs the work again.
   */
  async done(values: Values, also?: (tx: Tx) => Promise<unknown>) {
    await this.s.db.transaction().execute(async (tx) => {
      await this.set({ task_state: null, ...values }, tx);
      await also?.(tx);
      await this.run.finish(tx);
    });
  }
  /** The work failed: the task state is rolled back and the action says Error, as Nova's reverts_task_state does. */
  async failed(err: unknown, values: Values = {}) {
    passOn(err);
    const e = err as Error;
    const t = this.now();
    await this.s.db.transaction().execute(async (tx) => {
      await this.set({ task_state: null, ...values, fault: JSON.stringify({ code: 500, message: e.message, details: e.stack ?? '', created: t }) }, tx);
      await this.run.finish(tx, { message: e.message, traceback: e.stack });
    });
  }
  /** Changes the server and records that the task reached `step`, together. */
  async reach(step: string, values: Values, tx?: Tx) {
    const go = async (tx: Tx) => {
      await this.set(values, tx);
      await this.run.reached(step, tx);
    };
    await (tx ? go(tx) : this.s.db.transaction().execute(go));
  }
  spec(flavor?: ServerFlavor, extra?: Parameters<typeof guestSpec>[3]): Promise<GuestSpec> {
    return guestSpec(this.s, this.server, flavor, extra);
  }
}

async function load(s: Services, run: TaskRun): Promise<ActionRun | null> {
  const server = await s.db.selectFrom('servers').selectAll().where('id', '=', run.task.server_id).executeTakeFirst();
  if (!server || server.deleted) return null;
  return new ActionRun(s, run, server);
}

/**
 * A host for a server that must move: not `exclude`, honouring a requested host or zone,
 * claimed with what `claim` writes (see tasks/placement.ts).
 */
function placeElsewhere<R>(
  s: Services,
  server: Server,
  o: { exclude: string[]; host?: string | null; zone?: string | null; vcpus?: number; memoryMb?: number; diskGb?: number; avoid?: string[] },
  claim: (tx: Tx, host: HostTable | null) => Promise<R>,
): Promise<R> {
  return placeServer(s, server, { vcpus: o.vcpus, memoryMb: o.memoryMb, diskGb: o.diskGb, zone: o.zone ?? null, forcedHost: o.host ?? null, exclude: o.exclude, avoid: o.avoid }, claim);
}

/**
 * Takes the guest's disk (the driver's snapshot) and copies it into the image (the fake
 * disk is the image it booted), under the two task states Nova's drivers show.
 */
async function snapshotInto(a: ActionRun, imageId: string, pending: string, uploading: string) {
  await a.set({ task_state: pending });
  const disk = a.server.host ? await a.s.driver.snapshot(a.server.host, a.id) : null;
  await a.set({ task_state: uploading });
  let image = await a.s.images.find(imageId);
  // Resumed after a crash mid-upload: the upload left saving was this task's own.
  if (image?.status === 'saving' && a.run.task.attempts > 1 && (await a.s.images.restartUpload(imageId))) image = await a.s.images.find(imageId);
  if (image && image.status === 'queued') await upload(a.s, a.server, imageId, disk);
}

/** Uploads the disk into a snapshot image, or the server's base image when the disk is still that. */
async function upload(s: Services, server: Server, imageId: string, disk: AsyncIterable<Buffer> | null) {
  const base = !disk && server.image_id ? await s.images.openData(server.image_id).catch(() => null) : null;
  async function* data() {
    if (disk) for await (const chunk of disk) yield chunk;
    else if (base) for await (const chunk of base.stream as AsyncIterable<Buffer>) yield chunk;
  }
  await s.images.storeData(imageId, data());
}

async function hostNamed(s: Services, name: string) {
  return s.db.selectFrom('hosts').select(['name', 'availability_zone']).where('name', '=', name).executeTakeFirstOrThrow();
}

async function migrationOf(s: Services, serverId: string) {
  return s.db.selectFrom('migrations').selectAll().where('server_id', '=', serverId).orderBy('id', 'desc').limit(1).executeTakeFirst();
}

async function setMigration(s: Services, id: number, values: { status: string; dest_host?: string | null }, db: Db | Tx = s.db) {
  await db.updateTable('migrations').set({ ...values, updated_at: s.clock.now().toISOString() }).where('id', '=', id).execute();
}

/** The steps of a live migration after placement: resumed at one, the task keeps its destination. */
const LIVE_STEPS = ['pre_live_migration', 'live_migration', 'post_live_migration', 'post_live_migration_at_destination', 'rollback'];

const withSpec = (server: Server, extra: Record<string, unknown>) => JSON.stringify({ ...parseJson<Record<string, unknown>>(server.request_spec, {}), ...extra });

export function actionTasks(s: Services): Record<string, (run: TaskRun<any>) => Promise<void>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const { driver, clock, config } = s;

  return {
    power: async (run: TaskRun<{ op: string }>) => {
      const a = await load(s, run);
      if (!a) return;
      const op = POWER_OPS[run.params.op];
      await a.begin(op.event);
      try {
        await a.on(a.server.host);
        if (op.during) await a.set({ task_state: op.during });
        if (a.server.host) await op.run(driver, a.server.host, a.id);
        await a.done({ vm_state: op.vm, power_state: op.power });
      } catch (err) {
        await a.failed(err);
      }
    },

    snapshot: async (run: TaskRun<{ imageId: string | null; rotation?: number; backupType?: string }>) => {
      const a = await load(s, run);
      if (!a) return;
      const backup = run.params.rotation !== undefined;
      await a.begin(backup ? 'compute_backup_instance' : 'compute_snapshot_instance');
      try {
        await a.on(a.server.host);
        if (run.params.imageId) await snapshotInto(a, run.params.imageId, T.IMAGE_PENDING_UPLOAD, T.IMAGE_UPLOADING);
        if (backup) {
          // Rotation: keep the newest `rotation` backups of this type, delete the rest.
          const all = await s.db.selectFrom('images').select(['id', 'properties', 'created_at']).where('owner', '=', a.server.project_id).orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
          const mine = all.filter((i) => {
            const p = JSON.parse(i.properties) as Record<string, string>;
            return p.instance_uuid === a.id && p.image_type === 'backup' && p.backup_type === run.params.backupType;
          });
          for (const old of mine.slice(run.params.rotation)) await s.images.delete(old.id).catch(() => {});
        }
        await a.done({});
      } catch (err) {
        await a.failed(err);
      }
    },

    shelve: async (run: TaskRun<{ imageId: string | null }>) => {
      const a = await load(s, run);
      if (!a) return;
      await a.begin('compute_shelve_instance');
      try {
        await a.on(a.server.host);
        if (a.server.host && a.server.power_state !== PowerState.SHUTDOWN) await driver.powerOff(a.server.host, a.id);
        if (run.params.imageId) await snapshotInto(a, run.params.imageId, T.SHELVING_IMAGE_PENDING_UPLOAD, T.SHELVING_IMAGE_UPLOADING);
        // shelved_offload_time: 0 offloads now, > 0 after that many seconds, -1 never.
        const wait = config.compute.shelvedOffloadTime;
        await a.done({ vm_state: V.SHELVED, power_state: PowerState.SHUTDOWN, request_spec: withSpec(a.server, { shelvedImageId: run.params.imageId }) }, async (tx) => {
          if (wait >= 0) await enqueue(tx, clock, { serverId: a.id, kind: 'shelve_offload', step: 'start', params: { auto: true }, actionId: run.task.action_id, notBefore: new Date(clock.nowMs() + wait * 1000) });
        });
      } catch (err) {
        await a.failed(err);
      }
    },

    shelve_offload: async (run: TaskRun<{ auto?: boolean }>) => {
      const a = await load(s, run);
      if (!a) return;
      // The periodic offload takes a server still shelved and idle (not unshelved meanwhile).
      if (run.params.auto && !(await run.takeServer(V.SHELVED, { task_state: T.SHELVING_OFFLOADING }))) return;
      await a.begin('compute_shelve_offload_instance');
      try {
        await a.on(a.server.host);
        if (a.server.host) await driver.destroy(a.server.host, a.id);
        await a.done({ vm_state: V.SHELVED_OFFLOADED, power_state: PowerState.NOSTATE, host: null, availability_zone: null });
      } catch (err) {
        await a.failed(err);
      }
    },

    unshelve: async (run: TaskRun<{ zone: string | null; host: string | null }>) => {
      const a = await load(s, run);
      if (!a) return;
      await a.begin('compute_unshelve_instance');
      try {
        const spec = parseJson<{ shelvedImageId?: string | null; zone?: string | null }>(a.server.request_spec, {});
        // An offloaded server comes back from its shelved snapshot, as Nova's unshelve boots it: its disk as it was shelved.
        const shelved = () => a.spec(undefined, { diskImageId: spec.shelvedImageId });
        if (run.task.step === 'spawning') {
          await a.on(a.server.host);
          await driver.spawn(a.server.host!, await shelved()); // resumed, or handed over: on the host it chose
        } else if (a.server.vm_state === V.SHELVED_OFFLOADED || !a.server.host) {
          const host = await placeElsewhere(s, a.server, { exclude: [], host: run.params.host, zone: run.params.zone ?? spec.zone ?? null }, async (tx, h) => {
            if (h) await a.reach('spawning', { host: h.name, availability_zone: h.availability_zone, task_state: T.SPAWNING }, tx);
            return h;
          });
          if (!host) throw new Error('No valid host was found. There are not enough hosts available.');
          await a.on(host.name);
          await driver.spawn(host.name, await shelved());
        } else {
          await a.on(a.server.host);
          await driver.powerOn(a.server.host, a.id);
        }
        if (spec.shelvedImageId) await s.images.delete(spec.shelvedImageId).catch(() => {});
        await a.done({ vm_state: V.ACTIVE, power_state: PowerState.RUNNING, request_spec: withSpec(a.server, { shelvedImageId: null }) });
      } catch (err) {
        await a.failed(err);
      }
    },

    resize: async (run: TaskRun<{ targetHost: string | null }>) => {
      const a = await load(s, run);
      if (!a) return;
      const migration = await migrationOf(s, a.id);
      if (!migration) return;
      const flavor = parseJson<ServerFlavor>(migration.new_flavor, {} as ServerFlavor);
      await a.begin(migration.migration_type === 'resize' ? 'compute_resize_instance' : 'compute_prep_resize');
      try {
        const source = migration.source_host ?? a.server.host!;
        // Another host if there is one (Nova's default), else this one (allow_resize_to_same_host).
        // Resumed, the task keeps the destination it chose.
        const dest = run.task.step === 'migrating' || run.task.step === 'finish' ? await hostNamed(s, migration.dest_host!) : await (async () => {
          const size = { vcpus: flavor.vcpus, memoryMb: flavor.ram, diskGb: flavor.disk + flavor.ephemeral };
          const claim = async (tx: Tx, h: HostTable | null) => {
            if (!h) return null;
            await setMigration(s, migration.id, { status: 'migrating', dest_host: h.name }, tx);
            await a.reach('migrating', { task_state: T.RESIZE_MIGRATING, request_spec: withSpec(a.server, { oldVmState: a.server.vm_state }) }, tx);
            return h;
          };
          // Each choice in a placement of its own: one host lock per transaction.
          const h = await placeElsewhere(s, a.server, { exclude: [source], host: run.params.targetHost, ...size }, claim);
          return h ?? (migration.migration_type === 'resize' ? placeElsewhere(s, a.server, { exclude: [], host: source, ...size }, claim) : null);
        })();
        if (!dest) {
          await setMigration(s, migration.id, { status: 'error' });
          throw new Error('No valid host was found. There are not enough hosts available.');
        }
        // The source host's part (Nova's resize_instance), then the destination's (finish_resize).
        if (run.task.step === 'migrating') {
          await a.on(source);
          try {
            // Powered off, its disks kept aside: they move, and stay for a revert until confirmed.
            await driver.migrateDiskAndPowerOff(source, a.id, await a.spec(flavor));
          } catch (err) {
            if (!(err instanceof ResizeRefused)) throw err;
            // Refused before anything moved: the server stays as it was (Nova's InstanceFaultRollback).
            await setMigration(s, migration.id, { status: 'error' });
            await a.failed(err);
            return;
          }
          await a.set({ task_state: T.RESIZE_MIGRATED });
          await setMigration(s, migration.id, { status: 'post-migrating' });
          await a.reach('finish', { task_state: T.RESIZE_FINISH });
        }
        await a.on(dest.name);
        const stopped = a.server.vm_state === V.STOPPED;
        // From another host the disks come through the source's process; on the same host they are read in place.
        const from = source === dest.name ? null : s.runner.runsHost(source) ? driver : s.otherHosts;
        try {
          await driver.finishMigration(dest.name, await a.spec(flavor), from && (() => from.migratedDisks(source, a.id)), !stopped);
        } catch (err) {
          // The guest left its source and did not come up here: not ACTIVE anywhere, as Nova's failed finish_resize leaves it.
          passOn(err);
          await setMigration(s, migration.id, { status: 'error' });
          await a.failed(err, { vm_state: V.ERROR });
          return;
        }
        await a.done(
          {
            vm_state: V.RESIZED,
            power_state: stopped ? PowerState.SHUTDOWN : PowerState.RUNNING,
            host: dest.name,
            availability_zone: dest.availability_zone,
            flavor: migration.new_flavor,
            flavor_id: flavor.id,
            vcpus: flavor.vcpus,
            memory_mb: flavor.ram,
            disk_gb: flavor.disk + flavor.ephemeral,
          },
          async (tx) => {
            await setMigration(s, migration.id, { status: 'finished' }, tx);
            // resize_confirm_window: a periodic confirm after that many seconds (0: never).
            if (config.compute.resizeConfirmWindow > 0) {
              await enqueue(tx, clock, { serverId: a.id, kind: 'confirm_resize', step: 'start', params: { auto: true, migration: migration.id }, actionId: run.task.action_id, notBefore: new Date(clock.nowMs() + config.compute.resizeConfirmWindow * 1000) });
            }
          },
        );
      } catch (err) {
        await a.failed(err);
      }
    },

    confirm_resize: async (run: TaskRun<{ auto?: boolean; migration?: number }>) => {
      const a = await load(s, run);
      if (!a) return;
      const migration = await migrationOf(s, a.id);
      // The periodic confirm takes a server still resized by that migration, and idle.
      if (run.params.auto && (migration?.id !== run.params.migration || !(await run.takeServer(V.RESIZED, { task_state: T.RESIZE_CONFIRMING })))) return;
      await a.begin('compute_confirm_resize');
      try {
        // What the resize kept on the source host goes, as Nova's confirm_migration cleans it up.
        if (migration?.source_host) {
          await a.on(migration.source_host);
          await driver.confirmMigration(migration.source_host, a.id);
        }
        const old = parseJson<{ oldVmState?: string }>(a.server.request_spec, {}).oldVmState ?? V.ACTIVE;
        await a.done({ vm_state: old === V.STOPPED ? V.STOPPED : V.ACTIVE }, async (tx) => {
          if (migration) await setMigration(s, migration.id, { status: 'confirmed' }, tx);
        });
      } catch (err) {
        await a.failed(err);
      }
    },

    revert_resize: async (run: TaskRun) => {
      const a = await load(s, run);
      if (!a) return;
      const migration = await migrationOf(s, a.id);
      await a.begin('compute_revert_resize');
      try {
        if (!migration) throw new Error('no migration to revert');
        const old = parseJson<ServerFlavor>(migration.old_flavor, {} as ServerFlavor);
        const source = migration.source_host!;
        // The destination's part (Nova's revert_resize), then the source's (finish_revert_resize).
        if (run.task.step !== 'revert_finish') {
          await a.on(a.server.host);
          if (a.server.host) await driver.destroy(a.server.host, a.id);
          await a.reach('revert_finish', {});
        }
        await a.on(source);
        // The disks the source kept come back exactly, with the old flavor (Nova's finish_revert_migration).
        const wasStopped = parseJson<{ oldVmState?: string }>(a.server.request_spec, {}).oldVmState === V.STOPPED;
        await driver.finishRevertMigration(source, await a.spec(old), !wasStopped);
        const zone = await s.db.selectFrom('hosts').select('availability_zone').where('name', '=', source).executeTakeFirst();
        await a.done(
          {
            vm_state: wasStopped ? V.STOPPED : V.ACTIVE,
            power_state: wasStopped ? PowerState.SHUTDOWN : PowerState.RUNNING,
            host: source,
            availability_zone: zone?.availability_zone ?? a.server.availability_zone,
            flavor: migration.old_flavor,
            flavor_id: old.id,
            vcpus: old.vcpus,
            memory_mb: old.ram,
            disk_gb: old.disk + old.ephemeral,
          },
          (tx) => setMigration(s, migration.id, { status: 'reverted' }, tx),
        );
      } catch (err) {
        await a.failed(err);
      }
    },

    rebuild: async (run: TaskRun) => {
      const a = await load(s, run);
      if (!a) return;
      await a.begin('compute_rebuild_instance');
      try {
        await a.on(a.server.host);
        await a.set({ task_state: T.REBUILD_BLOCK_DEVICE_MAPPING });
        await a.set({ task_state: T.REBUILD_SPAWNING });
        if (a.server.host) {
          await driver.destroy(a.server.host, a.id);
          await driver.spawn(a.server.host, await a.spec());
        }
        // A stopped server stays stopped after a rebuild; an errored one comes back ACTIVE.
        const stopped = a.server.vm_state === V.STOPPED;
        if (stopped && a.server.host) await driver.powerOff(a.server.host, a.id);
        await a.done({ vm_state: stopped ? V.STOPPED : V.ACTIVE, power_state: stopped ? PowerState.SHUTDOWN : PowerState.RUNNING, launched_at: a.now(), progress: 100, fault: null });
      } catch (err) {
        await a.failed(err, { vm_state: V.ERROR });
      }
    },

    soft_delete: async (run: TaskRun) => {
      const a = await load(s, run);
      if (!a) return;
      await a.begin('compute_soft_delete_instance');
      try {
        await a.on(a.server.host);
        if (a.server.host && a.server.power_state !== PowerState.NOSTATE) await driver.powerOff(a.server.host, a.id);
        // reclaim_instance_interval: the server is deleted for good after that many seconds.
        await a.done({ vm_state: V.SOFT_DELETED, power_state: PowerState.SHUTDOWN, deleted_at: a.now() }, (tx) =>
          enqueue(tx, clock, { serverId: a.id, kind: 'delete', step: 'terminate', params: { reclaim: true }, actionId: run.task.action_id, notBefore: new Date(clock.nowMs() + config.compute.reclaimInstanceInterval * 1000) }),
        );
      } catch (err) {
        await a.failed(err);
      }
    },

    restore: async (run: TaskRun) => {
      const a = await load(s, run);
      if (!a) return;
      await a.begin('compute_restore_instance');
      try {
        await a.on(a.server.host);
        if (a.server.host) await driver.powerOn(a.server.host, a.id);
        await a.done({ vm_state: V.ACTIVE, power_state: PowerState.RUNNING, deleted_at: null });
      } catch (err) {
        await a.failed(err);
      }
    },

    /**
     * Live migration as Nova runs it, each step in its host's process: the conductor places
     * it; the destination prepares (pre_live_migration: a machine waiting for the guest, and
     * where to send it); the source sends it (live_migration) — once it runs on the
     * destination the server is there, in the same transaction as the step; the source lets
     * go of what it held (post_live_migration); the destination takes it as its own
     * (post_live_migration_at_destination). Before the guest has moved, a failure rolls back:
     * the destination's half removed in its process, the server running on the source as it
     * was, the migration `error` (refused while preparing) or `failed`, the event in error.
     */
    live_migrate: async (run: TaskRun<{ host: string | null; target?: LiveMigrationTarget; error?: { message: string; stack?: string } }>) => {
      const a = await load(s, run);
      if (!a) return;
      const migration = await migrationOf(s, a.id);
      await a.begin('compute_live_migration');
      const source = migration?.source_host ?? a.server.host!;
      let dest: { name: string; availability_zone: string } | null = null;
      // The destination's half undone in its process, the migration failed, the server as it was.
      const rollBack = async (dest: string) => {
        await a.on(dest);
        await driver.rollbackLiveMigrationAtDestination(dest, a.id).catch((err) => run.log.warn({ err }, 'live migration: the rollback at the destination failed'));
        if (migration) await setMigration(s, migration.id, { status: 'failed' });
        const e = run.params.error;
        await a.failed(Object.assign(new Error(e?.message ?? 'Live migration failed.'), { stack: e?.stack }), { progress: 0 });
      };
      try {
        // Resumed, the task keeps the destination it chose.
        dest = LIVE_STEPS.includes(run.task.step) && migration?.dest_host ? await hostNamed(s, migration.dest_host) : await placeElsewhere(s, a.server, { exclude: [source], host: run.params.host }, async (tx, h) => {
          if (h && migration) await setMigration(s, migration.id, { status: 'preparing', dest_host: h.name }, tx);
          if (h) await run.reached('pre_live_migration', tx);
          return h;
        });
        if (!dest) {
          if (migration) await setMigration(s, migration.id, { status: 'error' });
          throw new Error('No valid host was found. There are not enough hosts available.');
        }
        if (run.task.step === 'rollback') return await rollBack(dest.name);
        if (run.task.step === 'pre_live_migration') {
          await a.on(dest.name);
          try {
            run.params.target = await driver.preLiveMigration(dest.name, await a.spec());
          } catch (err) {
            passOn(err);
            // Refused while preparing: what it made goes at once, here in its own process.
            await driver.rollbackLiveMigrationAtDestination(dest.name, a.id).catch(() => {});
            if (migration) await setMigration(s, migration.id, { status: 'error' });
            throw err;
          }
          await s.db.transaction().execute(async (tx) => {
            await run.saveParams(tx);
            if (migration) await setMigration(s, migration.id, { status: 'running' }, tx);
            await run.reached('live_migration', tx);
          });
        }
        if (run.task.step === 'live_migration') {
          await a.on(source);
          let shown = 0;
          const progress = (p: number) => {
            if (p < shown + 10) return;
            shown = p;
            void a.set({ progress: p }).catch(() => {});
          };
          try {
            await driver.liveMigrate(source, dest.name, await a.spec(), run.params.target!, progress);
          } catch (err) {
            passOn(err);
            // The guest goes on running on the source; the rollback is the destination's to do.
            const e = err as Error;
            run.params.error = { message: e.message, stack: e.stack };
            await s.db.transaction().execute(async (tx) => {
              await run.saveParams(tx);
              await run.reached('rollback', tx);
            });
            return await rollBack(dest.name);
          }
          // The guest runs on the destination: so says the database, from now on.
          await a.reach('post_live_migration', { host: dest.name, availability_zone: dest.availability_zone });
        }
        if (run.task.step === 'post_live_migration') {
          await a.on(source);
          await driver.destroy(source, a.id);
          await run.reached('post_live_migration_at_destination');
        }
        await a.on(dest.name);
        await driver.postLiveMigrationAtDestination(dest.name, a.id);
        await a.done({ host: dest.name, availability_zone: dest.availability_zone, progress: 0 }, async (tx) => {
          if (migration) await setMigration(s, migration.id, { status: 'completed' }, tx);
        });
      } catch (err) {
        passOn(err);
        // Before the guest moved it stays where it was; after, where it went, with the fault.
        if (migration && run.task.step.startsWith('post_')) await setMigration(s, migration.id, { status: 'error' });
        await a.failed(err, { progress: 0 });
      }
    },

    /**
     * Start: power the guest on where it is; or, for a server on no host (defined and never
     * started) or on a host to avoid, place it now and spawn it there. `avoid` is hosts the
     * scheduler should prefer not to use (best effort: a soft weigher).
     */
    start: async (run: TaskRun<{ avoid?: string[] }>) => {
      const a = await load(s, run);
      if (!a) return;
      await a.begin('compute_start_instance');
      const avoid = run.params.avoid ?? [];
      try {
        const old = a.server.host;
        if (old && !avoid.includes(old) && run.task.step !== 'spawning') {
          await a.on(old);
          if ((await driver.powerState(old, a.id)) === null) await driver.spawn(old, await a.spec());
          else await driver.powerOn(old, a.id);
        } else {
          const dest = run.task.step === 'spawning' ? await hostNamed(s, a.server.host!) : await placeElsewhere(s, a.server, { exclude: [], avoid }, async (tx, h) => {
            if (h) await a.reach('spawning', { host: h.name, availability_zone: h.availability_zone }, tx);
            return h;
          });
          if (!dest) throw new Error('No valid host was found. There are not enough hosts available.');
          // The host left (likely down) is not waited for: if it comes back, its reconcile
          // destroys the guest the database now places elsewhere.
          if (old && old !== dest.name && s.runner.runsHost(old)) await driver.destroy(old, a.id).catch(() => {});
          await a.on(dest.name);
          await driver.spawn(dest.name, await a.spec());
          await driver.powerOn(dest.name, a.id);
        }
        // A server defined without a network gets the project's one network on first start, if it has one.
        if (a.server.addresses === '{}' && parseJson<{ networks?: unknown }>(a.server.request_spec, {}).networks === 'none' && a.server.cloudsigma) {
          const nics = parseJson<{ nics?: { ip_v4_conf?: { conf?: string } | null }[] }>(a.server.cloudsigma, {}).nics ?? [];
          if (nics.some((n) => n.ip_v4_conf?.conf === 'dhcp')) {
            await s.db.transaction().execute(async (tx) => {
              const addresses = await s.network.allocateForServer(tx, { projectId: a.server.project_id, serverId: a.id, requested: [], securityGroups: [], isAdmin: false, host: a.server.host, availabilityZone: a.server.availability_zone }).catch(() => null);
              if (addresses) await a.set({ addresses: JSON.stringify(addresses) }, tx);
            });
          }
        }
        await a.done({ vm_state: V.ACTIVE, power_state: PowerState.RUNNING, launched_at: a.server.launched_at ?? a.now() });
      } catch (err) {
        await a.failed(err);
      }
    },

    /**
     * ACPI shutdown (CloudSigma's `shutdown`): press the guest's power button once a second
     * for a minute of the clock. The server is stopped when the guest powers off; back to
     * running, idle, if it has not by the deadline. Each press is a task of its own, due a
     * second after the last, so the minute survives a restart and follows a moved clock.
     */
    acpi_shutdown: async (run: TaskRun<{ until: number; presses?: number }>) => {
      const a = await load(s, run);
      if (!a) return;
      if (!run.params.presses) await a.begin('compute_stop_instance');
      try {
        const host = a.server.host;
        await a.on(host);
        if (host) await driver.acpiShutdown(host, a.id);
        const power = host ? await driver.powerState(host, a.id) : PowerState.SHUTDOWN;
        if (power === PowerState.SHUTDOWN || power === null) return await a.done({ vm_state: V.STOPPED, power_state: PowerState.SHUTDOWN });
        if (clock.nowMs() >= run.params.until) return await a.done({});
        await s.db.transaction().execute(async (tx) => {
          await run.finish(tx);
          await enqueue(tx, clock, { serverId: a.id, kind: 'acpi_shutdown', step: 'press', params: { until: run.params.until, presses: (run.params.presses ?? 0) + 1 }, notBefore: new Date(clock.nowMs() + 1000), host });
        });
        s.runner.kick();
      } catch (err) {
        await a.failed(err);
      }
    },

    evacuate: async (run: TaskRun<{ host: string | null; toStopped?: boolean }>) => {
      const a = await load(s, run);
      if (!a) return;
      const migration = await migrationOf(s, a.id);
      await a.begin('compute_rebuild_instance');
      try {
        const source = a.server.host;
        // Resumed, the server is already on the host the task chose.
        const dest = run.task.step === 'spawning' ? await hostNamed(s, a.server.host!) : await placeElsewhere(s, a.server, { exclude: source ? [source] : [], host: run.params.host }, async (tx, h) => {
          if (h) await a.reach('spawning', { host: h.name, availability_zone: h.availability_zone, task_state: T.REBUILD_SPAWNING }, tx);
          return h;
        });
        if (!dest) {
          if (migration) await setMigration(s, migration.id, { status: 'error' });
          throw new Error('No valid host was found. There are not enough hosts available.');
        }
        await a.on(dest.name);
        await driver.spawn(dest.name, await a.spec());
        const stopped = a.server.vm_state === V.STOPPED || !!run.params.toStopped;
        if (stopped) await driver.powerOff(dest.name, a.id);
        await a.done({ vm_state: stopped ? V.STOPPED : V.ACTIVE, power_state: stopped ? PowerState.SHUTDOWN : PowerState.RUNNING }, async (tx) => {
          if (migration) await setMigration(s, migration.id, { status: 'done', dest_host: dest.name }, tx);
        });
      } catch (err) {
        await a.failed(err);
      }
    },
  };
}
