/**
 * The driver contract, run against every driver: what the core may rely on, whatever
 * runs the guests. One guest goes through every operation in turn (a real machine boots in
 * seconds, not instantly), each step a test of its own.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PowerState } from '../../src/compute/states.js';
import { DriverError, ResizeRefused, type Driver, type GuestDrive, type GuestSpec } from '../../src/virt/driver.js';

export interface ContractSubject {
  driver: Driver;
  host: string;
  /** A spec the driver can boot (a real image for a real driver). */
  spec(id: string): GuestSpec;
  /** Resolves once the guest has booted far enough to act on ACPI and print what it was given. */
  booted(id: string, since?: number): Promise<void>;
  /** What the guest prints once booted, seen in its console output. */
  bootText: string;
  /**
   * A second host, for cold migration: maybe another driver (another process's), as the
   * destination's process holds its own. The core carries the disks from one to the other.
   */
  second: { driver: Driver; host: string };
  /** Writes `data` (16 characters) at the start of the running guest's root disk, from inside it. */
  writeDisk(host: string, id: string, data: string): Promise<void>;
  /** What the running guest sees: the start of its root disk, the disk's size, and its memory (MiB, as the guest counts it). */
  inside(host: string, id: string): Promise<{ data: string; diskBytes: number; memoryMb: number }>;
  /** Whether a resize keeps disks of the guest aside on `host`. */
  keeps(host: string, id: string): boolean;
  /** Whether the driver lets a root disk shrink (the fake does, as Nova's fake does; libvirt refuses). */
  shrinks: boolean;
  /** The sizes (bytes) of the disks the running guest sees. */
  diskSizes(host: string, id: string): Promise<number[]>;
  /** Records a guest's drives as the core does (a real driver reads them at each start of the guest: drivesOf). */
  recordDrives(id: string, drives: GuestDrive[]): void;
  close(): Promise<void>;
}

export function driverContract(name: string, make: () => Promise<ContractSubject>, options: { skip?: string | false } = {}): void {
  describe(`the driver contract: ${name}`, { skip: options.skip ?? false }, () => {
    let s: ContractSubject;
    const id = randomUUID();
    const power = () => s.driver.powerState(s.host, id);

    before(async () => {
      s = await make();
    });
    after(async () => {
      await s?.driver.destroy(s.host, id).catch(() => {});
      await s?.close();
    });

    it('knows no guest it was never asked for', async () => {
      assert.equal(await s.driver.powerState(s.host, randomUUID()), null);
    });

    it('spawns a running guest', async () => {
      await s.driver.spawn(s.host, s.spec(id));
      assert.equal(await power(), PowerState.RUNNING);
    });

    it('spawning the same guest again changes nothing (a resumed task runs its step again)', async () => {
      await s.driver.spawn(s.host, s.spec(id));
      assert.equal(await power(), PowerState.RUNNING);
    });

    it("shows the guest's boot in its console output", async () => {
      await s.booted(id);
      assert.match(await s.driver.consoleOutput(s.host, id), new RegExp(s.bootText));
    });

    it('pauses and unpauses the guest', async () => {
      await s.driver.pause(s.host, id);
      assert.equal(await power(), PowerState.PAUSED);
      await s.driver.unpause(s.host, id);
      assert.equal(await power(), PowerState.RUNNING);
    });

    it('suspends the guest and resumes it', async () => {
      await s.driver.suspend(s.host, id);
      assert.equal(await power(), PowerState.SUSPENDED);
      await s.driver.resume(s.host, id);
      assert.equal(await power(), PowerState.RUNNING);
    });

    it('powers the guest off cleanly (the guest itself powers down), and on again', async () => {
      const running = (await s.driver.consoleOutput(s.host, id)).length;
      await s.driver.powerOff(s.host, id);
      assert.equal(await power(), PowerState.SHUTDOWN);
      assert.match((await s.driver.consoleOutput(s.host, id)).slice(running), /reboot: Power down/);
      const before = (await s.driver.consoleOutput(s.host, id)).length;
      await s.driver.powerOn(s.host, id);
      assert.equal(await power(), PowerState.RUNNING);
      await s.booted(id, before);
    });

    it('reboots the guest hard, and it boots again', async () => {
      const before = (await s.driver.consoleOutput(s.host, id)).length;
      await s.driver.reboot(s.host, id, true);
      assert.equal(await power(), PowerState.RUNNING);
      await s.booted(id, before);
    });

    it('reboots the guest softly, and it boots again', async () => {
      const before = (await s.driver.consoleOutput(s.host, id)).length;
      await s.driver.reboot(s.host, id, false);
      assert.equal(await power(), PowerState.RUNNING);
      await s.booted(id, before);
    });

    // Hotplug of a drive of the block storage: the core records the attachment, then asks the driver to plug it.
    const drive = randomUUID();
    const DRIVE_BYTES = 512 * 2 ** 20;
    const record = () => s.recordDrives(id, [{ id: drive, media: 'disk', bootOrder: null, image: null, device: 'virtio', devChannel: '0:1' }]);
    const sees = async () => (await s.diskSizes(s.host, id)).includes(DRIVE_BYTES);
    /** A real guest takes a moment to hear of a plugged device and probe it (the plug returns before, as libvirt's does). */
    const comesToSee = async () => {
      for (let i = 0; i < 60 && !(await sees()); i++) await sleep(1000);
      return sees();
    };

    it('plugs a drive into the running guest, which sees it; plugging it again changes nothing', async () => {
      await s.driver.createDrive({ id: drive, size: DRIVE_BYTES, storageType: s.driver.storageTypes()[0].name, media: 'disk', avoid: [] });
      assert.equal(await sees(), false);
      record();
      await s.driver.attachDrive(s.host, id, drive, { device: 'virtio', devChannel: '0:1' });
      await s.driver.attachDrive(s.host, id, drive, { device: 'virtio', devChannel: '0:1' });
      assert.equal(await comesToSee(), true);
    });

    it('refuses to resize a drive plugged into a running guest', async () => {
      await assert.rejects(s.driver.resizeDrive(drive, 2 * DRIVE_BYTES), DriverError);
    });

    it("refuses to change a suspended guest's drives (its saved state is of the machine as it was)", async () => {
      await s.driver.suspend(s.host, id);
      await assert.rejects(s.driver.detachDrive(s.host, id, drive), DriverError);
      await s.driver.resume(s.host, id);
      assert.equal(await power(), PowerState.RUNNING);
    });

    it('a plugged drive is still there after a suspend and resume', async () => {
      await s.driver.suspend(s.host, id);
      await s.driver.resume(s.host, id);
      assert.equal(await sees(), true);
    });

    it('a plugged drive is still there after a power-off and on (the guest boots with it)', async () => {
      await s.driver.powerOff(s.host, id, 0);
      const before = (await s.driver.consoleOutput(s.host, id)).length;
      await s.driver.powerOn(s.host, id);
      await s.booted(id, before);
      assert.equal(await sees(), true);
    });

    it('unplugs the drive from the running guest, which no longer sees it; unplugging it again succeeds', async () => {
      await s.driver.detachDrive(s.host, id, drive);
      await s.driver.detachDrive(s.host, id, drive);
      s.recordDrives(id, []);
      assert.equal(await sees(), false);
      await s.driver.resizeDrive(drive, 2 * DRIVE_BYTES);
      await s.driver.deleteDrive(drive);
    });

    it('rescues the guest (it boots again, from a rescue disk) and unrescues it', async () => {
      let before = (await s.driver.consoleOutput(s.host, id)).length;
      await s.driver.rescue(s.host, id);
      assert.equal(await power(), PowerState.RUNNING);
      await s.booted(id, before);
      before = (await s.driver.consoleOutput(s.host, id)).length;
      await s.driver.unrescue(s.host, id);
      assert.equal(await power(), PowerState.RUNNING);
      await s.booted(id, before);
    });

    it('pulls the power cord when asked for no clean shutdown', async () => {
      await s.driver.powerOff(s.host, id, 0);
      assert.equal(await power(), PowerState.SHUTDOWN);
    });

    it('destroys the guest, and destroying it again succeeds', async () => {
      await s.driver.destroy(s.host, id);
      assert.equal(await power(), null);
      await s.driver.destroy(s.host, id);
    });

    it('refuses an operation on a guest it does not have, as a DriverError', async () => {
      await assert.rejects(s.driver.pause(s.host, id), (err: Error) => err.constructor.name === 'DriverError');
    });
  });

  /**
   * Nova's resize and cold migration, the core's calls in its order: the source keeps the
   * guest's disks aside, the destination makes the guest from them with the new flavor;
   * confirm drops what was kept, revert brings it back exactly. One guest throughout.
   */
  describe(`the driver contract, resize and cold migration: ${name}`, { skip: options.skip ?? false }, () => {
    let s: ContractSubject;
    const id = randomUUID();
    const MARK = 'kept-through-it1';
    let old: GuestSpec;
    let bigger: GuestSpec;
    let was: { data: string; diskBytes: number; memoryMb: number };

    before(async () => {
      s = await make();
      old = s.spec(id);
      bigger = { ...old, diskGb: old.diskGb + 1, memoryMb: old.memoryMb + 64 };
    });
    after(async () => {
      await s?.driver.destroy(s.host, id).catch(() => {});
      await s?.second.driver.destroy(s.second.host, id).catch(() => {});
      await s?.driver.confirmMigration(s.host, id).catch(() => {});
      await s?.second.driver.confirmMigration(s.second.host, id).catch(() => {});
      await s?.close();
    });

    it('a guest writes to its disk', async () => {
      await s.driver.spawn(s.host, old);
      await s.writeDisk(s.host, id, MARK);
      was = await s.inside(s.host, id);
      assert.equal(was.data, MARK);
      assert.equal(was.diskBytes, old.diskGb * 2 ** 30);
    });

    it('the source step powers the guest off and keeps its disks aside; run again, it does nothing more', async () => {
      await s.driver.migrateDiskAndPowerOff(s.host, id, bigger);
      assert.equal(await s.driver.powerState(s.host, id), null);
      assert.ok(s.keeps(s.host, id));
      await s.driver.migrateDiskAndPowerOff(s.host, id, bigger);
      assert.ok(s.keeps(s.host, id));
    });

    it('on the same host, the guest comes up from its kept disks: its data there, its disk grown, more memory; run again, nothing changes', async () => {
      await s.driver.finishMigration(s.host, bigger, null, true);
      await s.driver.finishMigration(s.host, bigger, null, true);
      assert.equal(await s.driver.powerState(s.host, id), PowerState.RUNNING);
      const now = await s.inside(s.host, id);
      assert.equal(now.data, MARK);
      assert.equal(now.diskBytes, bigger.diskGb * 2 ** 30);
      assert.ok(now.memoryMb > was.memoryMb, `${now.memoryMb} MiB after, ${was.memoryMb} before`);
      assert.ok(s.keeps(s.host, id), 'kept until confirmed or reverted');
    });

    it('a revert brings the old disk back exactly (not what the guest wrote since), with the old flavor; run again, nothing changes', async () => {
      await s.writeDisk(s.host, id, 'written-resized1');
      await s.driver.destroy(s.host, id);
      assert.ok(s.keeps(s.host, id), 'destroying the resized guest leaves the kept disks');
      await s.driver.finishRevertMigration(s.host, old, true);
      await s.driver.finishRevertMigration(s.host, old, true);
      assert.equal(await s.driver.powerState(s.host, id), PowerState.RUNNING);
      assert.ok(!s.keeps(s.host, id));
      assert.deepEqual(await s.inside(s.host, id), was);
    });

    it('a resize to a smaller root disk is refused before anything changes, by a driver that cannot shrink one', async (t) => {
      if (s.shrinks) return t.skip('this driver shrinks disks');
      await assert.rejects(s.driver.migrateDiskAndPowerOff(s.host, id, { ...old, diskGb: old.diskGb / 2 }), ResizeRefused);
      assert.equal(await s.driver.powerState(s.host, id), PowerState.RUNNING);
      assert.ok(!s.keeps(s.host, id));
    });

    it('a cold migration moves the disks to another host (the core carries them); confirm removes what the source kept', async () => {
      await s.driver.migrateDiskAndPowerOff(s.host, id, old);
      await s.second.driver.finishMigration(s.second.host, old, () => s.driver.migratedDisks(s.host, id), true);
      assert.equal(await s.second.driver.powerState(s.second.host, id), PowerState.RUNNING);
      assert.deepEqual(await s.inside(s.second.host, id), was);
      await s.driver.confirmMigration(s.host, id);
      await s.driver.confirmMigration(s.host, id);
      assert.ok(!s.keeps(s.host, id));
      assert.equal(await s.driver.powerState(s.host, id), null);
    });

    it('migrated back powered off, then reverted: the guest is where it was, its disk as it was', async () => {
      await s.second.driver.migrateDiskAndPowerOff(s.second.host, id, bigger);
      await s.driver.finishMigration(s.host, bigger, () => s.second.driver.migratedDisks(s.second.host, id), false);
      assert.equal(await s.driver.powerState(s.host, id), PowerState.SHUTDOWN);
      await s.driver.destroy(s.host, id);
      await s.second.driver.finishRevertMigration(s.second.host, old, true);
      assert.ok(!s.keeps(s.second.host, id));
      assert.deepEqual(await s.inside(s.second.host, id), was);
      await s.second.driver.destroy(s.second.host, id);
    });
  });
}

/** Two hosts, each reached through its driver (one driver may run both), for the live migration contract. */
export interface LiveMigrationSubject {
  source: { driver: Driver; host: string };
  dest: { driver: Driver; host: string };
  spec(id: string): GuestSpec;
  /** Resolves once the guest on `source` has booted. */
  booted(id: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Live migration's steps, each asked of the host that does it (as the core asks them, each
 * in its host's process): one guest there and back, the second time failing on purpose.
 */
export function liveMigrationContract(name: string, make: () => Promise<LiveMigrationSubject>, options: { skip?: string | false } = {}): void {
  describe(`the driver contract, live migration: ${name}`, { skip: options.skip ?? false }, () => {
    let s: LiveMigrationSubject;
    const id = randomUUID();
    const at = (side: 'source' | 'dest') => s[side].driver.powerState(s[side].host, id);

    before(async () => {
      s = await make();
      await s.source.driver.spawn(s.source.host, s.spec(id));
      await s.booted(id);
    });
    after(async () => {
      await s?.source.driver.destroy(s.source.host, id).catch(() => {});
      await s?.dest.driver.destroy(s.dest.host, id).catch(() => {});
      await s?.close();
    });

    it('moves a running guest: prepared on the destination, sent by the source, taken by the destination, let go by the source', async () => {
      const target = await s.dest.driver.preLiveMigration(s.dest.host, s.spec(id));
      assert.equal(typeof target.uri, 'string');
      // A step run again after a crash answers a target that is ready.
      const again = await s.dest.driver.preLiveMigration(s.dest.host, s.spec(id));
      await s.source.driver.liveMigrate(s.source.host, s.dest.host, s.spec(id), again);
      assert.equal(await at('dest'), PowerState.RUNNING);
      assert.notEqual(await at('source'), PowerState.RUNNING);
      await s.source.driver.liveMigrate(s.source.host, s.dest.host, s.spec(id), again); // run again: done already
      await s.dest.driver.postLiveMigrationAtDestination(s.dest.host, id);
      await s.dest.driver.postLiveMigrationAtDestination(s.dest.host, id);
      await s.source.driver.destroy(s.source.host, id);
      assert.equal(await at('source'), null);
      assert.equal(await at('dest'), PowerState.RUNNING);
    });

    it('a destination that already has the guest refuses it, and its rollback leaves that guest alone', async () => {
      await assert.rejects(s.dest.driver.preLiveMigration(s.dest.host, s.spec(id)), (err: Error) => err.constructor.name === 'DriverError');
      await s.dest.driver.rollbackLiveMigrationAtDestination(s.dest.host, id);
      assert.equal(await at('dest'), PowerState.RUNNING);
    });

    it('a send to a destination that no longer waits fails, and the guest goes on running where it was', async () => {
      // Back the other way: the old source prepares, then is rolled back before the send.
      const target = await s.source.driver.preLiveMigration(s.source.host, s.spec(id));
      await s.source.driver.rollbackLiveMigrationAtDestination(s.source.host, id);
      assert.equal(await at('source'), null);
      await s.source.driver.rollbackLiveMigrationAtDestination(s.source.host, id); // again: nothing left to undo
      await assert.rejects(s.dest.driver.liveMigrate(s.dest.host, s.source.host, s.spec(id), target), (err: Error) => err.constructor.name === 'DriverError');
      assert.equal(await at('dest'), PowerState.RUNNING);
    });

    it('moves a paused guest, which arrives paused', async () => {
      await s.dest.driver.pause(s.dest.host, id);
      const target = await s.source.driver.preLiveMigration(s.source.host, s.spec(id));
      await s.dest.driver.liveMigrate(s.dest.host, s.source.host, s.spec(id), target);
      await s.source.driver.postLiveMigrationAtDestination(s.source.host, id);
      await s.dest.driver.destroy(s.dest.host, id);
      assert.equal(await at('source'), PowerState.PAUSED);
      assert.equal(await at('dest'), null);
      await s.source.driver.unpause(s.source.host, id);
      assert.equal(await at('source'), PowerState.RUNNING);
    });
  });
}
