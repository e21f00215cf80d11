import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { DriverError, type Driver, type DriveSpec } from '../../src/virt/driver.js';

/**
 * The drive operations every driver owes the core (DriveOperations in src/virt/driver.ts),
 * as one suite a driver's test file runs with its own driver: idempotent steps (a resumed
 * task runs its step again), progress up to 100, copies at least their source's size.
 */
export function driveContract(name: string, make: () => Promise<{ driver: Driver; guest: { host: string; id: string } | null; close?: () => Promise<void> }>): void {
  const GiB = 1024 ** 3;
  const spec = (extra: Partial<DriveSpec> = {}): DriveSpec => ({ id: randomUUID(), size: GiB, storageType: '', media: 'disk', avoid: [], ...extra });

  test(`${name}: storage types come with their sizes, the default first`, async () => {
    const { driver, close } = await make();
    const types = driver.storageTypes();
    assert.ok(types.length >= 1);
    for (const t of types) assert.ok(t.minSize > 0 && t.maxSize >= t.minSize, t.name);
    await close?.();
  });

  test(`${name}: a create run twice makes one drive, in one place, reporting progress up to 100`, async () => {
    const { driver, close } = await make();
    const s = spec({ storageType: driver.storageTypes()[0].name });
    const seen: number[] = [];
    const first = await driver.createDrive(s, (p) => seen.push(p));
    const again = await driver.createDrive(s);
    assert.equal(again.location, first.location);
    assert.equal(seen.at(-1), 100);
    assert.deepEqual([...seen].sort((a, b) => a - b), seen);
    await driver.deleteDrive(s.id);
    await driver.deleteDrive(s.id); // deleting what is gone succeeds
    await close?.();
  });

  test(`${name}: a clone is at least its source's size, and a clone run again finds its copy`, async () => {
    const { driver, close } = await make();
    const type = driver.storageTypes()[0].name;
    const source = spec({ storageType: type, size: 2 * GiB });
    await driver.createDrive(source);
    const copy = spec({ storageType: type, size: GiB });
    const first = await driver.cloneDrive(copy, { kind: 'drive', id: source.id });
    assert.equal((await driver.cloneDrive(copy, { kind: 'drive', id: source.id })).location, first.location);
    await driver.resizeDrive(copy.id, 3 * GiB);
    await assert.rejects(driver.cloneDrive(spec({ storageType: type }), { kind: 'drive', id: randomUUID() }), DriverError);
    await close?.();
  });

  test(`${name}: a snapshot can be cloned from, and deleted twice`, async () => {
    const { driver, close } = await make();
    const type = driver.storageTypes()[0].name;
    const d = spec({ storageType: type });
    await driver.createDrive(d);
    const snap = randomUUID();
    await driver.snapshotDrive(d.id, snap);
    await driver.snapshotDrive(d.id, snap);
    await driver.cloneDrive(spec({ storageType: type }), { kind: 'snapshot', id: snap });
    await driver.deleteSnapshot(snap);
    await driver.deleteSnapshot(snap);
    await close?.();
  });

  test(`${name}: a drive plugged into a guest cannot be resized until unplugged`, async () => {
    const { driver, guest, close } = await make();
    if (!guest) return void (await close?.());
    const d = spec({ storageType: driver.storageTypes()[0].name });
    await driver.createDrive(d);
    await driver.attachDrive(guest.host, guest.id, d.id, { device: 'virtio', devChannel: '0:1' });
    await assert.rejects(driver.resizeDrive(d.id, 2 * GiB), DriverError);
    await driver.detachDrive(guest.host, guest.id, d.id);
    await driver.detachDrive(guest.host, guest.id, d.id);
    await driver.resizeDrive(d.id, 2 * GiB);
    await close?.();
  });
}
