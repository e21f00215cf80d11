import { randomUUID } from 'node:crypto';
import type { Services } from '../services.js';
import type { Tx } from '../db/database.js';
import type { AuthContext } from '../identity/tokens.js';
import { NimbusError, conflict, forbidden, invalid, notFound } from '../errors.js';
import { generatePassword } from '../identity/passwords.js';
import { enqueue } from '../tasks/runner.js';
import { TaskState, VmState } from './states.js';
import { finishEvent, startAction, startEvent } from './actions.js';
import { checkLock, checkState, type AllowedStates } from './state-checks.js';
import { enforce } from './quotas.js';
import { parseJson, serverFlavor, type Server, type ServerFlavor } from './servers.js';
import { findKeypair } from './keypairs.js';
import { consoleUrl } from './consoles.js';
import { DriverError, HostUnavailable, PasswordRefused } from '../virt/driver.js';

const V = VmState;
const T = TaskState;

/** nova.compute.vm_states / task_states allow-lists for reboot. */
const ALLOW_HARD_REBOOT = [V.ACTIVE, V.STOPPED, V.PAUSED, V.SUSPENDED, V.ERROR];
const ALLOW_REBOOT = [null, T.REBOOTING, T.REBOOT_PENDING, T.REBOOT_STARTED, T.RESUMING, T.REBOOTING_HARD, T.UNPAUSING, T.PAUSING, T.SUSPENDING];
const SNAPSHOT_STATES = [V.ACTIVE, V.STOPPED, V.PAUSED, V.SUSPENDED];
/** How long an ACPI shutdown keeps pressing the power button (CloudSigma: a minute). */
export const ACPI_MINUTE_MS = 60_000;
const ALLOW_TRIGGER_CRASH_DUMP = [V.ACTIVE, V.PAUSED, V.RESCUED, V.RESIZED, V.ERROR];

/**
 * Nova's _tail_log, for every driver: the last `length` pieces of the text split on
 * newlines (a piece after a final newline counts, empty), and nothing for 0.
 */
export function tail(text: string, length: number): string {
  return length === 0 ? '' : text.split('\n').slice(-length).join('\n');
}

interface Begin {
  /** The instance action recorded ('reboot', 'stop' …). */
  action: string;
  /** The word Nova's 409 quotes ("Cannot 'pause' instance …"). */
  verb?: string;
  allowed: AllowedStates;
  /** The task_state the server takes while the work runs (null: done at once). */
  taskState: string | null;
  /** The task that does the work, with its first step and params. */
  task?: { kind: string; step?: string; params?: Record<string, unknown>; notBefore?: Date };
  /** Other fields to change in the same transaction. */
  patch?: Partial<Server>;
  /** Skip the lock check (lock and unlock decide for themselves). */
  ignoreLock?: boolean;
  /** Extra checks inside the transaction, after state and lock. */
  check?: (tx: Tx, server: Server) => Promise<void>;
}

/**
 * Every server action of Nova's API, as the core does it: check lock and state, set the
 * task_state (the lock against a second action), record the instance action and write
 * the task, all in one transaction; the task runner does the work.
 */
export class ServerActions {
  constructor(private readonly s: Services) {}

  private async load(tx: Tx, ctx: AuthContext, id: string): Promise<Server> {
    const server = await tx.selectFrom('servers').selectAll().where('id', '=', id).where('deleted', '=', 0).executeTakeFirst();
    if (!server || (!ctx.isAdmin && server.project_id !== ctx.projectId)) throw notFound(`Instance ${id} could not be found.`);
    return server;
  }

  private async begin(ctx: AuthContext, id: string, requestId: string, b: Begin): Promise<Server> {
    const { db, clock } = this.s;
    const now = clock.now().toISOString();
    const server = await db.transaction().execute(async (tx) => {
      const server = await this.load(tx, ctx, id);
      if (!b.ignoreLock) checkLock(ctx, server);
      checkState(server, { taskStates: [null], ...b.allowed }, b.verb ?? b.action);
      if (b.check) await b.check(tx, server);
      const values: Partial<Server> = { ...b.patch, updated_at: now };
      if (b.taskState !== null || b.task) values.task_state = b.taskState;
      // Conditional on the state read: a racing action that got there first wins, this one is 409.
      const r = await tx
        .updateTable('servers')
        .set(values)
        .where('id', '=', id)
        .where((eb) => (server.task_state === null ? eb('task_state', 'is', null) : eb('task_state', '=', server.task_state)))
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) throw conflict(`Cannot '${b.verb ?? b.action}' instance ${id} while it is in task_state ${server.task_state}`);
      const actionId = await startAction(tx, { serverId: id, action: b.action, requestId, projectId: server.project_id, userId: ctx.userId, now });
      if (b.task) await enqueue(tx, clock, { serverId: id, kind: b.task.kind, step: b.task.step ?? 'start', params: b.task.params, actionId, notBefore: b.task.notBefore });
      return { ...server, ...values };
    });
    if (b.task) this.s.runner.kick();
    return server;
  }

  /** A driver operation that ends in a state: reboot, stop, start, pause … */
  private power(ctx: AuthContext, id: string, rid: string, action: string, allowed: AllowedStates, taskState: string, op: string) {
    return this.begin(ctx, id, rid, { action, allowed, taskState, task: { kind: 'power', params: { op } } });
  }

  reboot(ctx: AuthContext, id: string, rid: string, hard: boolean) {
    return hard
      ? this.power(ctx, id, rid, 'reboot', { vmStates: ALLOW_HARD_REBOOT, taskStates: ALLOW_REBOOT }, T.REBOOTING_HARD, 'reboot_hard')
      : this.power(ctx, id, rid, 'reboot', { vmStates: [V.ACTIVE] }, T.REBOOTING, 'reboot_soft');
  }
  /** Stop; `powerCord` (CloudSigma's stop) also stops a paused or suspended guest, the only way to revive one there. */
  stop(ctx: AuthContext, id: string, rid: string, opts: { powerCord?: boolean } = {}) {
    return this.power(ctx, id, rid, 'stop', { vmStates: opts.powerCord ? [V.ACTIVE, V.ERROR, V.PAUSED, V.SUSPENDED] : [V.ACTIVE, V.ERROR] }, T.POWERING_OFF, 'stop');
  }
  /**
   * Start: on its host, or placed now when it has none (defined, never started). `avoid`
   * names servers whose hosts it should keep off (best effort), as the caller sees them.
   */
  async start(ctx: AuthContext, id: string, rid: string, opts: { avoid?: string[] } = {}) {
    let avoid: string[] = [];
    if (opts.avoid?.length) {
      let q = this.s.db.selectFrom('servers').select('host').where('id', 'in', opts.avoid).where('deleted', '=', 0).where('host', 'is not', null);
      if (!ctx.isAdmin) q = q.where('project_id', '=', ctx.projectId ?? '');
      avoid = [...new Set((await q.execute()).map((r) => r.host!))];
    }
    return this.begin(ctx, id, rid, {
      action: 'start',
      allowed: { vmStates: [V.STOPPED] },
      taskState: T.POWERING_ON,
      task: { kind: 'start', params: { avoid } },
      // A drive still being made, cloned or resized cannot be booted from yet.
      check: (tx) => this.s.drives.assertDrivesReady(tx, id),
    });
  }
  /** ACPI shutdown: the power button pressed each second for a minute (see the acpi_shutdown task). */
  shutdown(ctx: AuthContext, id: string, rid: string) {
    return this.begin(ctx, id, rid, { action: 'stop', verb: 'shutdown', allowed: { vmStates: [V.ACTIVE] }, taskState: T.POWERING_OFF, task: { kind: 'acpi_shutdown', step: 'press', params: { until: this.s.clock.nowMs() + ACPI_MINUTE_MS } } });
  }
  pause(ctx: AuthContext, id: string, rid: string) {
    return this.power(ctx, id, rid, 'pause', { vmStates: [V.ACTIVE] }, T.PAUSING, 'pause');
  }
  unpause(ctx: AuthContext, id: string, rid: string) {
    return this.power(ctx, id, rid, 'unpause', { vmStates: [V.PAUSED] }, T.UNPAUSING, 'unpause');
  }
  suspend(ctx: AuthContext, id: string, rid: string) {
    return this.power(ctx, id, rid, 'suspend', { vmStates: [V.ACTIVE] }, T.SUSPENDING, 'suspend');
  }
  resume(ctx: AuthContext, id: string, rid: string) {
    return this.power(ctx, id, rid, 'resume', { vmStates: [V.SUSPENDED] }, T.RESUMING, 'resume');
  }
  unrescue(ctx: AuthContext, id: string, rid: string) {
    return this.power(ctx, id, rid, 'unrescue', { vmStates: [V.RESCUED] }, T.UNRESCUING, 'unrescue');
  }
  async changePassword(ctx: AuthContext, id: string, rid: string, password?: string) {
    // The password goes to the guest agent and nowhere else: nothing is stored. A driver that
    // can set it does so now, as Nova's API waits on set_admin_password, so a guest that
    // cannot have it set is the caller's 409 (or 501 when its agent does not answer).
    if (password !== undefined && this.s.driver.setPassword) {
      const server = await this.s.db.transaction().execute((tx) => this.load(tx, ctx, id));
      checkState(server, { vmStates: [V.ACTIVE], taskStates: [null] }, 'changePassword');
      if (server.host) {
        try {
          await this.s.driver.setPassword(server.host, id, password);
        } catch (err) {
          if (err instanceof PasswordRefused) throw conflict(err.message);
          if (err instanceof HostUnavailable) throw err; // the edge's 409, not the agent's 501
          if (err instanceof DriverError) throw new NimbusError('not_implemented', 'Unable to set password on instance');
          throw err;
        }
      }
    }
    return this.power(ctx, id, rid, 'changePassword', { vmStates: [V.ACTIVE] }, T.UPDATING_PASSWORD, 'set_password');
  }

  async rescue(ctx: AuthContext, id: string, rid: string, opts: { adminPass?: string; imageRef?: string }): Promise<string> {
    // Nova's UnsupportedRescueImage when Glance, asked as the caller, finds no such image.
    if (opts.imageRef && !(await this.s.images.visible(opts.imageRef, ctx))) throw invalid(`Requested rescue image '${opts.imageRef}' is not supported`);
    await this.power(ctx, id, rid, 'rescue', { vmStates: [V.ACTIVE, V.STOPPED, V.ERROR] }, T.RESCUING, 'rescue');
    return opts.adminPass ?? generatePassword(12);
  }

  /** lock: the owner or an admin; a reason from 2.73. Done at once, as in Nova. */
  async lock(ctx: AuthContext, id: string, rid: string, reason: string | null): Promise<void> {
    await this.begin(ctx, id, rid, {
      action: 'lock',
      allowed: { taskStates: undefined },
      taskState: null,
      ignoreLock: true,
      patch: { locked: 1, locked_by: ctx.isAdmin ? 'admin' : 'owner', locked_reason: reason },
    });
  }

  /** unlock: a lock an admin set needs an admin to lift (unlock_override). */
  async unlock(ctx: AuthContext, id: string, rid: string): Promise<void> {
    await this.begin(ctx, id, rid, {
      action: 'unlock',
      allowed: { taskStates: undefined },
      taskState: null,
      ignoreLock: true,
      check: async (_tx, server) => {
        if (server.locked && server.locked_by === 'admin' && !ctx.isAdmin) throw forbidden(`Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override to be performed.`);
      },
      patch: { locked: 0, locked_by: null, locked_reason: null },
    });
  }

  /**
   * addSecurityGroup / removeSecurityGroup: a change to the server's ports made at once, in
   * any state, with no task and no instance action, as Nova makes it.
   */
  async changeSecurityGroup(ctx: AuthContext, id: string, group: string, add: boolean): Promise<void> {
    await this.s.db.transaction().execute(async (tx) => {
      const server = await this.load(tx, ctx, id);
      await this.s.network.changeServerSecurityGroup(tx, ctx.projectId ?? '', { id, projectId: server.project_id }, group, add);
    });
  }

  /**
   * Nova's attach_interface and detach_interface: a port given to or taken from a server that
   * is ACTIVE, PAUSED or SHUTOFF with no task, at once, recorded as an instance action.
   */
  async changeInterface<T>(ctx: AuthContext, id: string, rid: string, action: 'attach_interface' | 'detach_interface', change: (tx: Tx, server: Server) => Promise<T>): Promise<T> {
    const now = this.s.clock.now().toISOString();
    return this.s.db.transaction().execute(async (tx) => {
      const server = await this.load(tx, ctx, id);
      checkLock(ctx, server);
      checkState(server, { vmStates: [VmState.ACTIVE, VmState.PAUSED, VmState.STOPPED], taskStates: [null] }, action);
      const out = await change(tx, server);
      const actionId = await startAction(tx, { serverId: id, action, requestId: rid, projectId: server.project_id, userId: ctx.userId, now });
      await finishEvent(tx, actionId, await startEvent(tx, actionId, `compute_${action}`, server.host, now), now);
      return out;
    });
  }

  /** os-resetState (admin): sets vm_state and clears the task, whatever the server was doing. */
  async resetState(ctx: AuthContext, id: string, rid: string, state: 'active' | 'error'): Promise<void> {
    await this.begin(ctx, id, rid, {
      action: 'resetState',
      allowed: { taskStates: undefined },
      taskState: null,
      ignoreLock: true,
      patch: { vm_state: state, task_state: null },
    });
  }

  async triggerCrashDump(ctx: AuthContext, id: string, rid: string): Promise<void> {
    await this.begin(ctx, id, rid, {
      action: 'trigger_crash_dump',
      allowed: { vmStates: ALLOW_TRIGGER_CRASH_DUMP },
      taskState: null,
      check: async (_tx, server) => {
        if (!server.host) throw conflict(`Instance ${id} is not ready`);
      },
    });
  }

  async consoleOutput(ctx: AuthContext, id: string, length?: number): Promise<string> {
    const server = await this.s.db.transaction().execute((tx) => this.load(tx, ctx, id));
    if (!server.host || server.vm_state === V.BUILDING) throw conflict(`Instance ${id} is not ready`);
    const text = await this.s.driver.consoleOutput(server.host, id);
    return length === undefined ? text : tail(text, length);
  }

  async remoteConsole(ctx: AuthContext, id: string, protocol: string, type: string): Promise<string> {
    const server = await this.s.db.transaction().execute((tx) => this.load(tx, ctx, id));
    // A resized guest runs on its new host until confirmed or reverted: Nova gives it a console too.
    if (!server.host || (server.vm_state !== V.ACTIVE && server.vm_state !== V.RESIZED)) throw conflict(`Instance ${id} is not ready`);
    if ([T.DELETING, T.MIGRATING].includes(server.task_state as never)) throw conflict(`Cannot 'get_${protocol}_console' instance ${id} while it is in task_state ${server.task_state}`);
    const token = await this.s.consoleTokens.issue({ serverId: id, host: server.host, consoleType: type });
    return consoleUrl(this.s.config.publicUrl, type, token);
  }

  // ── resize and cold migration ──

  async resize(ctx: AuthContext, id: string, rid: string, flavorId: string | null, migrationType: 'resize' | 'migration', targetHost?: string, diskConfig?: string): Promise<void> {
    await this.begin(ctx, id, rid, {
      action: migrationType === 'resize' ? 'resize' : 'migrate',
      // Nova records the requested OS-DCF:diskConfig on the instance when the resize is accepted.
      patch: diskConfig ? { disk_config: diskConfig } : undefined,
      allowed: { vmStates: [V.ACTIVE, V.STOPPED] },
      taskState: T.RESIZE_PREP,
      check: async (tx, server) => {
        const old = parseJson<ServerFlavor>(server.flavor, {} as ServerFlavor);
        let flavor = old;
        if (flavorId !== null) {
          const found = await this.s.flavors.find(ctx, flavorId, tx);
          if (!found) throw invalid(`Flavor ${flavorId} could not be found.`);
          if (found.id === old.id) throw invalid('When resizing, instances must change flavor!');
          // Nova refuses only a root disk going to none (a volume-backed server has none to lose);
          // whether a disk can shrink is the driver's call (migrateDiskAndPowerOff).
          const volumeBacked = parseJson<{ bootImage?: string }>(server.request_spec, {}).bootImage !== undefined;
          if (found.disk === 0 && old.disk !== 0 && !volumeBacked) {
            throw invalid('Server disk was unable to be resized because: Resize to zero disk flavor is not allowed.');
          }
          flavor = serverFlavor(found);
          const deltas = { cores: Math.max(0, flavor.vcpus - old.vcpus), ram: Math.max(0, flavor.ram - old.ram) };
          if (deltas.cores || deltas.ram) await enforce(tx, server.project_id, server.user_id, deltas);
        }
        if (!server.host) throw conflict(`Instance ${id} is not ready`);
        const now = this.s.clock.now().toISOString();
        await tx
          .insertInto('migrations')
          .values({
            uuid: randomUUID(),
            server_id: id,
            project_id: server.project_id,
            user_id: ctx.userId,
            migration_type: migrationType,
            status: 'pre-migrating',
            source_host: server.host,
            dest_host: null,
            old_flavor: server.flavor,
            new_flavor: JSON.stringify(flavor),
            created_at: now,
            updated_at: now,
          })
          .execute();
      },
      task: { kind: 'resize', step: 'prep', params: { targetHost: targetHost ?? null } },
    });
  }

  confirmResize(ctx: AuthContext, id: string, rid: string) {
    return this.begin(ctx, id, rid, { action: 'confirmResize', allowed: { vmStates: [V.RESIZED] }, taskState: T.RESIZE_CONFIRMING, task: { kind: 'confirm_resize' } });
  }

  revertResize(ctx: AuthContext, id: string, rid: string) {
    return this.begin(ctx, id, rid, { action: 'revertResize', allowed: { vmStates: [V.RESIZED] }, taskState: T.RESIZE_REVERTING, task: { kind: 'revert_resize' } });
  }

  // ── images of a server ──

  private async snapshotImage(server: Server, name: string, properties: Record<string, string>): Promise<string> {
    const base = server.image_id ? await this.s.db.selectFrom('images').select(['disk_format', 'container_format', 'min_disk', 'min_ram', 'properties']).where('id', '=', server.image_id).executeTakeFirst() : undefined;
    // What the disk needs to boot is inherited, as Nova's snapshot keeps the image's properties: a kernel-booted image's kernel and ramdisk.
    const baseProps = parseJson<Record<string, string>>(base?.properties ?? '{}', {});
    const boot = Object.fromEntries(['kernel_id', 'ramdisk_id', 'os_command_line'].filter((k) => typeof baseProps[k] === 'string').map((k) => [k, baseProps[k]]));
    const image = await this.s.images.create({
      name,
      owner: server.project_id,
      visibility: 'private',
      diskFormat: base?.disk_format ?? 'raw',
      containerFormat: base?.container_format ?? 'bare',
      minDisk: Math.max(base?.min_disk ?? 0, parseJson<ServerFlavor>(server.flavor, {} as ServerFlavor).disk ?? 0),
      minRam: base?.min_ram ?? 0,
      properties: { ...boot, ...properties, instance_uuid: server.id, image_type: properties.image_type ?? 'snapshot', ...(server.image_id ? { base_image_ref: server.image_id } : {}) },
    });
    return image.id;
  }

  async createImage(ctx: AuthContext, id: string, rid: string, name: string, metadata: Record<string, string>): Promise<string> {
    const server = await this.s.db.transaction().execute((tx) => this.load(tx, ctx, id));
    checkState(server, { vmStates: SNAPSHOT_STATES, taskStates: [null] }, 'createImage');
    const imageId = await this.snapshotImage(server, name, metadata);
    try {
      await this.begin(ctx, id, rid, { action: 'createImage', allowed: { vmStates: SNAPSHOT_STATES }, taskState: T.IMAGE_SNAPSHOT, ignoreLock: true, task: { kind: 'snapshot', params: { imageId } } });
    } catch (err) {
      await this.s.images.delete(imageId);
      throw err;
    }
    return imageId;
  }

  async createBackup(ctx: AuthContext, id: string, rid: string, b: { name: string; backupType: string; rotation: number; metadata: Record<string, string> }): Promise<string | null> {
    const server = await this.s.db.transaction().execute((tx) => this.load(tx, ctx, id));
    checkLock(ctx, server);
    checkState(server, { vmStates: SNAPSHOT_STATES, taskStates: [null] }, 'createBackup');
    // rotation 0 deletes every backup of this type and makes none, as in Nova.
    const imageId = b.rotation === 0 ? null : await this.snapshotImage(server, b.name, { ...b.metadata, image_type: 'backup', backup_type: b.backupType });
    try {
      await this.begin(ctx, id, rid, {
        action: 'createBackup',
        allowed: { vmStates: SNAPSHOT_STATES },
        taskState: T.IMAGE_BACKUP,
        task: { kind: 'snapshot', params: { imageId, rotation: b.rotation, backupType: b.backupType } },
      });
    } catch (err) {
      if (imageId) await this.s.images.delete(imageId);
      throw err;
    }
    return imageId;
  }

  // ── shelve ──

  async shelve(ctx: AuthContext, id: string, rid: string): Promise<void> {
    const server = await this.s.db.transaction().execute((tx) => this.load(tx, ctx, id));
    checkLock(ctx, server);
    checkState(server, { vmStates: SNAPSHOT_STATES, taskStates: [null] }, 'shelve');
    const imageId = server.image_id ? await this.snapshotImage(server, `${server.name}-shelved`, { image_type: 'snapshot' }) : null;
    await this.begin(ctx, id, rid, { action: 'shelve', allowed: { vmStates: SNAPSHOT_STATES }, taskState: T.SHELVING, task: { kind: 'shelve', params: { imageId } } });
  }

  shelveOffload(ctx: AuthContext, id: string, rid: string) {
    return this.begin(ctx, id, rid, { action: 'shelveOffload', allowed: { vmStates: [V.SHELVED] }, taskState: T.SHELVING_OFFLOADING, task: { kind: 'shelve_offload' } });
  }

  async unshelve(ctx: AuthContext, id: string, rid: string, opts: { availabilityZone?: string | null; host?: string }): Promise<void> {
    await this.begin(ctx, id, rid, {
      action: 'unshelve',
      allowed: { vmStates: [V.SHELVED, V.SHELVED_OFFLOADED] },
      taskState: T.UNSHELVING,
      check: async (tx, server) => {
        if ((opts.availabilityZone || opts.host) && server.vm_state !== V.SHELVED_OFFLOADED) {
          throw conflict(`The server status must be SHELVED_OFFLOADED to unshelve to a zone or host.`);
        }
        if (opts.availabilityZone && !(await tx.selectFrom('hosts').select('id').where('availability_zone', '=', opts.availabilityZone).executeTakeFirst())) {
          throw invalid(`The requested availability zone is not available`);
        }
        if (opts.host && !(await tx.selectFrom('hosts').select('id').where('name', '=', opts.host).executeTakeFirst())) throw invalid(`Compute host ${opts.host} could not be found.`);
      },
      task: { kind: 'unshelve', params: { zone: opts.availabilityZone ?? null, host: opts.host ?? null } },
    });
  }

  // ── rebuild ──

  async rebuild(
    ctx: AuthContext,
    id: string,
    rid: string,
    r: { imageId: string; name?: string; adminPass?: string; metadata?: Record<string, string>; description?: string | null; keyName?: string | null; userData?: string | null; hostname?: string; diskConfig?: string; accessIPv4?: string; accessIPv6?: string; files?: { path: string; contents: string }[] },
  ): Promise<{ server: Server; adminPass: string }> {
    const { db } = this.s;
    const image = await this.s.images.visible(r.imageId, ctx);
    if (!image) throw invalid('Cannot find image for rebuild');
    if (image.status !== 'active') throw invalid(`Image ${r.imageId} is not active.`);
    const patch: Partial<Server> = { image_id: r.imageId, progress: 0 };
    if (r.name !== undefined) patch.name = r.name;
    if (r.metadata !== undefined) patch.metadata = JSON.stringify(r.metadata);
    if (r.description !== undefined) patch.description = r.description;
    if (r.userData !== undefined) patch.user_data = r.userData;
    if (r.hostname !== undefined) patch.hostname = r.hostname;
    if (r.diskConfig !== undefined) patch.disk_config = r.diskConfig;
    if (r.accessIPv4 !== undefined) patch.access_ipv4 = r.accessIPv4;
    if (r.accessIPv6 !== undefined) patch.access_ipv6 = r.accessIPv6;
    if (r.keyName !== undefined) {
      if (r.keyName === null) Object.assign(patch, { key_name: null, key_data: null });
      else {
        const kp = await findKeypair(db, ctx.userId, r.keyName);
        if (!kp) throw invalid(`Invalid key_name provided.`);
        Object.assign(patch, { key_name: kp.name, key_data: kp.public_key });
      }
    }
    const server = await this.begin(ctx, id, rid, {
      action: 'rebuild',
      allowed: { vmStates: [V.ACTIVE, V.STOPPED, V.ERROR] },
      taskState: T.REBUILDING,
      check: async (tx, current) => {
        if (r.metadata) await enforce(tx, current.project_id, ctx.userId, { metadata_items: Object.keys(r.metadata).length });
        const flavor = parseJson<ServerFlavor>(current.flavor, {} as ServerFlavor);
        if (image.minRam > flavor.ram) throw invalid(`Flavor's memory is too small for requested image.`);
        if (image.minDisk > flavor.disk && flavor.disk > 0) throw invalid(`Flavor's disk is too small for requested image.`);
      },
      patch,
      task: { kind: 'rebuild' },
    });
    return { server, adminPass: r.adminPass ?? generatePassword(12) };
  }

  // ── soft delete ──

  restore(ctx: AuthContext, id: string, rid: string) {
    return this.begin(ctx, id, rid, { action: 'restore', allowed: { vmStates: [V.SOFT_DELETED] }, taskState: T.RESTORING, task: { kind: 'restore' } });
  }

  forceDelete(ctx: AuthContext, id: string, rid: string) {
    return this.begin(ctx, id, rid, {
      action: 'forceDelete',
      allowed: { vmStates: [V.SOFT_DELETED] },
      taskState: T.DELETING,
      task: { kind: 'delete', step: 'terminate' },
    });
  }

  // ── admin moves ──

  async liveMigrate(ctx: AuthContext, id: string, rid: string, host: string | null): Promise<void> {
    await this.begin(ctx, id, rid, {
      action: 'live-migration',
      verb: 'os-migrateLive',
      allowed: { vmStates: [V.ACTIVE, V.PAUSED] },
      taskState: T.MIGRATING,
      check: async (tx, server) => {
        if (host !== null) {
          if (host === server.host) throw invalid(`The supplied hypervisor type of is invalid.`);
          if (!(await tx.selectFrom('hosts').select('id').where('name', '=', host).executeTakeFirst())) throw invalid(`Compute host ${host} could not be found.`);
        }
        const now = this.s.clock.now().toISOString();
        await tx
          .insertInto('migrations')
          .values({ uuid: randomUUID(), server_id: id, project_id: server.project_id, user_id: ctx.userId, migration_type: 'live-migration', status: 'queued', source_host: server.host, dest_host: host, old_flavor: server.flavor, new_flavor: server.flavor, created_at: now, updated_at: now })
          .execute();
      },
      task: { kind: 'live_migrate', params: { host } },
    });
  }

  async evacuate(ctx: AuthContext, id: string, rid: string, host: string | null, adminPass?: string, toStopped = false): Promise<string> {
    await this.begin(ctx, id, rid, {
      action: 'evacuate',
      allowed: { vmStates: [V.ACTIVE, V.STOPPED, V.ERROR] },
      taskState: T.REBUILDING,
      ignoreLock: true,
      check: async (tx, server) => {
        const source = server.host ? await tx.selectFrom('hosts').selectAll().where('name', '=', server.host).executeTakeFirst() : undefined;
        const { isUp } = await import('../scheduler/scheduler.js');
        if (source && isUp(source, this.s.clock.nowMs())) throw new NimbusError('conflict', `Compute service of ${server.host} is still in use.`);
        if (host !== null && !(await tx.selectFrom('hosts').select('id').where('name', '=', host).executeTakeFirst())) throw notFound(`Compute host ${host} not found.`);
        const now = this.s.clock.now().toISOString();
        await tx
          .insertInto('migrations')
          .values({ uuid: randomUUID(), server_id: id, project_id: server.project_id, user_id: ctx.userId, migration_type: 'evacuation', status: 'accepted', source_host: server.host, dest_host: host, old_flavor: server.flavor, new_flavor: server.flavor, created_at: now, updated_at: now })
          .execute();
      },
      task: { kind: 'evacuate', params: { host, toStopped } },
    });
    return adminPass ?? generatePassword(12);
  }
}
