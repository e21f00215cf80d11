import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, memberOfNewProject, type TestCloud } from '../support.js';
import type { AuthContext } from '../../src/identity/tokens.js';
import { DriveError } from '../../src/storage/drive-states.js';
import { cloneName } from '../../src/identity/profiles.js';
import { FakeDriver } from '../../src/virt/fake/driver.js';
import { unlimitedDrives } from '../api/cloudsigma/cs.js';

/**
 * The core's drive state rules (CloudSigma's drive diagram), through the Drives service on a
 * real database and the fake driver. The task runner is held while a rule needs a drive to
 * stay in a passing state (creating, cloning), so no test depends on timing.
 */

let cloud: TestCloud;
let demo: AuthContext;
let other: AuthContext;
const GiB = 1024 ** 3;

before(async () => {
  cloud = await startCloud();
  // These tests make many drives in one project; the quotas have tests of their own.
  await unlimitedDrives(cloud);
  demo = (await cloud.services.tokens.validate(cloud.demoToken))!;
  const o = await memberOfNewProject(cloud, 'drives-other');
  other = (await cloud.services.tokens.validate(o.token))!;
});
after(() => cloud.close());

const drives = () => cloud.services.drives;
const settle = () => cloud.services.runner.idle();

/** Runs `fn` with the task runner stopped: what it starts stays in its first status. */
async function held<T>(fn: () => Promise<T>): Promise<T> {
  await cloud.services.runner.stop();
  try {
    return await fn();
  } finally {
    await cloud.services.runner.start(true);
  }
}

async function rejects(p: Promise<unknown>, kind: string, point?: string) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DriveError, `a DriveError, got ${err}`);
    assert.equal(err.kind, kind);
    if (point !== undefined) assert.equal(err.point, point);
    return true;
  });
}

async function newDrive(name: string, extra: Record<string, unknown> = {}) {
  const [d] = await drives().create(demo, [{ name, size: GiB, media: 'disk', ...extra }]);
  await settle();
  return drives().get(demo, d.id);
}

/** A Nova server of the demo project, ACTIVE, and its id. */
async function novaServer(name: string): Promise<string> {
  const res = await cloud.req('POST', '/compute/v2.1/servers', {
    token: cloud.demoToken,
    body: { server: { name, imageRef: (await seedImage()).id, flavorRef: '1' } },
  });
  assert.equal(res.status, 202, res.text);
  await settle();
  return res.body.server.id;
}

async function seedImage() {
  const res = await cloud.req('GET', '/image/v2/images?name=nimbus-demo', { token: cloud.demoToken });
  return res.body.images[0];
}

async function stopServer(id: string) {
  const res = await cloud.req('POST', `/compute/v2.1/servers/${id}/action`, { token: cloud.demoToken, body: { 'os-stop': null } });
  assert.equal(res.status, 202, res.text);
  await settle();
}

test('a new drive is creating until the driver has made it, then unmounted', async () => {
  const [d] = await held(() => drives().create(demo, [{ name: 'fresh', size: GiB, media: 'disk' }]));
  assert.equal(d.status, 'creating');
  await settle();
  const made = await drives().get(demo, d.id);
  assert.equal(made.status, 'unmounted');
  assert.ok(made.location?.startsWith('fake-storage-'));
  assert.equal((cloud.services.driver as FakeDriver).driveOf(d.id)?.size, GiB);
});

test('a bulk create is all or none: one bad size refuses every drive, naming the field', async () => {
  const before = (await drives().list(demo, { limit: 0, offset: 0 })).total;
  await rejects(
    drives().create(demo, [
      { name: 'ok', size: GiB, media: 'disk' },
      { name: 'tiny', size: 1000, media: 'disk' },
    ]),
    'invalid',
    'size',
  );
  assert.equal((await drives().list(demo, { limit: 0, offset: 0 })).total, before);
});

test('an unknown storage type or media is refused, naming the field', async () => {
  await rejects(drives().create(demo, [{ name: 'x', size: GiB, media: 'disk', storageType: 'floppy' }]), 'invalid', 'storage_type');
  await rejects(drives().create(demo, [{ name: 'x', size: GiB, media: 'tape' as never }]), 'invalid', 'media');
});

test('a clone is cloning_dst and its source cloning_src until copied; then both are at rest and the job succeeded', async () => {
  const source = await newDrive('to-copy');
  const copy = await held(async () => {
    const c = await drives().clone(demo, source.id, { name: 'the-copy' });
    assert.equal(c.status, 'cloning_dst');
    assert.equal((await drives().get(demo, source.id)).status, 'cloning_src');
    return c;
  });
  await settle();
  assert.equal((await drives().get(demo, copy.id)).status, 'unmounted');
  assert.equal((await drives().get(demo, source.id)).status, 'unmounted');
  const job = await cloud.services.jobs.get(demo, copy.jobs[0]);
  assert.equal(job.operation, 'drive_clone');
  assert.equal(job.state, 'success');
  assert.equal(job.progress, 100);
  assert.deepEqual(job.resources, [
    { kind: 'drive', id: source.id },
    { kind: 'drive', id: copy.id },
  ]);
});

test('a drive being cloned cannot be cloned, resized or deleted again until the copy is done', async () => {
  const source = await newDrive('busy-source');
  await held(async () => {
    await drives().clone(demo, source.id, {});
    await rejects(drives().clone(demo, source.id, {}), 'conflict', 'status');
    await rejects(drives().resize(demo, source.id, 2 * GiB), 'conflict', 'status');
    await rejects(drives().delete(demo, [source.id]), 'conflict', 'status');
  });
  await settle();
});

test('a drive still being created cannot be cloned', async () => {
  await held(async () => {
    const [d] = await drives().create(demo, [{ name: 'unborn', size: GiB, media: 'disk' }]);
    await rejects(drives().clone(demo, d.id, {}), 'conflict', 'status');
  });
  await settle();
});

test('a clone is at least its source’s size; a smaller one is refused naming size', async () => {
  const source = await newDrive('big', { size: 2 * GiB });
  await rejects(drives().clone(demo, source.id, { size: GiB }), 'invalid', 'size');
  const bigger = await drives().clone(demo, source.id, { size: 3 * GiB, storageType: 'nvme' });
  assert.equal(bigger.size, 3 * GiB);
  assert.equal(bigger.storageType, 'nvme');
  await settle();
});

test('a resize is resizing with the old size until done, then has the new size; a drive cannot shrink', async () => {
  const d = await newDrive('grow');
  await held(async () => {
    const r = await drives().resize(demo, d.id, 2 * GiB);
    assert.equal(r.status, 'resizing');
    assert.equal(r.size, GiB);
  });
  await settle();
  const grown = await drives().get(demo, d.id);
  assert.equal(grown.status, 'unmounted');
  assert.equal(grown.size, 2 * GiB);
  await rejects(drives().resize(demo, d.id, GiB), 'invalid', 'size');
});

test('a Nova server booted from an image has its root disk as a drive, mounted while it runs, and not a Nova volume', async () => {
  const id = await novaServer('rooted');
  const attachments = (await drives().attachmentsOf(cloud.services.db, [id])).get(id)!;
  assert.equal(attachments.length, 1);
  const root = await drives().get(demo, attachments[0].driveId);
  assert.equal(root.status, 'mounted');
  assert.equal(root.serverRoot, true);
  assert.deepEqual(root.mountedOn, [id]);
  const show = await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: cloud.demoToken });
  assert.deepEqual(show.body.server['os-extended-volumes:volumes_attached'], []);
  await stopServer(id);
  assert.equal((await drives().get(demo, root.id)).status, 'unmounted');
});

test('a mounted drive can be neither resized nor deleted, and an edit of it ignores media and size', async () => {
  const id = await novaServer('holder');
  const rootId = (await drives().attachmentsOf(cloud.services.db, [id])).get(id)![0].driveId;
  await rejects(drives().resize(demo, rootId, 5 * GiB), 'conflict', 'status');
  await rejects(drives().delete(demo, [rootId]), 'conflict', 'status');
  const edited = await drives().update(demo, rootId, { name: 'renamed', media: 'cdrom', size: 5 * GiB, meta: { a: 'b' } });
  assert.equal(edited.name, 'renamed');
  assert.deepEqual(edited.meta, { a: 'b' });
  assert.equal(edited.media, 'disk');
  assert.equal(edited.status, 'mounted');
});

test('deleting a Nova server deletes its root disk drive', async () => {
  const id = await novaServer('doomed');
  const rootId = (await drives().attachmentsOf(cloud.services.db, [id])).get(id)![0].driveId;
  const res = await cloud.req('DELETE', `/compute/v2.1/servers/${id}`, { token: cloud.demoToken });
  assert.equal(res.status, 204);
  await settle();
  await rejects(drives().get(demo, rootId), 'not_found');
});

test('drives attached to a stopped server show in Nova’s volumes_attached; a disk held elsewhere needs allow_multimount, a cdrom does not', async () => {
  const a = await novaServer('att-a');
  const b = await novaServer('att-b');
  await stopServer(a);
  await stopServer(b);
  const disk = await newDrive('data');
  const [cd] = await drives().create(demo, [{ name: 'iso', size: GiB, media: 'cdrom' }]);
  await settle();
  const attach = (server: string, list: { driveId: string; devChannel: string }[]) =>
    cloud.services.db.transaction().execute((tx) => drives().setServerDrives(tx, demo, server, list.map((x) => ({ ...x, bootOrder: null, device: 'virtio' }))));
  const rootA = (await drives().attachmentsOf(cloud.services.db, [a])).get(a)![0].driveId;
  await attach(a, [
    { driveId: rootA, devChannel: '0:0' },
    { driveId: disk.id, devChannel: '0:1' },
    { driveId: cd.id, devChannel: '0:2' },
  ]);
  const show = await cloud.req('GET', `/compute/v2.1/servers/${a}`, { token: cloud.demoToken, version: '2.3' });
  assert.deepEqual(show.body.server['os-extended-volumes:volumes_attached'], [
    { id: disk.id, delete_on_termination: false },
    { id: cd.id, delete_on_termination: false },
  ]);
  await rejects(attach(b, [{ driveId: disk.id, devChannel: '0:1' }]), 'conflict', 'drives[0].drive');
  await attach(b, [{ driveId: cd.id, devChannel: '0:1' }]);
  await drives().update(demo, disk.id, { allowMultimount: true });
  await attach(b, [
    { driveId: cd.id, devChannel: '0:1' },
    { driveId: disk.id, devChannel: '0:2' },
  ]);
  assert.deepEqual((await drives().get(demo, disk.id)).mountedOn, [a, b]);
  await rejects(drives().update(demo, disk.id, { allowMultimount: false }), 'conflict', 'allow_multimount');
});

test('two drives on one channel, or another project’s drive, are refused naming the drive', async () => {
  const s = await novaServer('channels');
  await stopServer(s);
  const d1 = await newDrive('c1');
  const d2 = await newDrive('c2');
  const attach = (ctx: AuthContext, list: { driveId: string; devChannel: string }[]) =>
    cloud.services.db.transaction().execute((tx) => drives().setServerDrives(tx, ctx, s, list.map((x) => ({ ...x, bootOrder: null, device: 'virtio' }))));
  await rejects(
    attach(demo, [
      { driveId: d1.id, devChannel: '0:1' },
      { driveId: d2.id, devChannel: '0:1' },
    ]),
    'invalid',
    'drives[1].dev_channel',
  );
  const [foreign] = await drives().create(other, [{ name: 'theirs', size: GiB, media: 'disk' }]);
  await rejects(attach(demo, [{ driveId: foreign.id, devChannel: '0:1' }]), 'invalid', 'drives[0].drive');
  await settle();
});

test('a project sees only its own drives', async () => {
  const mine = await newDrive('private-one');
  await rejects(drives().get(other, mine.id), 'not_found');
  await rejects(drives().clone(other, mine.id, {}), 'not_found');
  await rejects(drives().delete(other, [mine.id]), 'not_found');
  const theirs = await drives().list(other, { limit: 0, offset: 0 });
  assert.ok(!theirs.drives.some((d) => d.id === mine.id));
});

test('a server’s deletion with recurse=disks deletes its disks and keeps its cdroms', async () => {
  const s = await novaServer('recursive');
  await stopServer(s);
  const disk = await newDrive('r-disk');
  const [cd] = await drives().create(demo, [{ name: 'r-cd', size: GiB, media: 'cdrom' }]);
  await settle();
  await cloud.services.db.transaction().execute(async (tx) => {
    await drives().setServerDrives(tx, demo, s, [
      { driveId: disk.id, devChannel: '0:1', bootOrder: 1, device: 'virtio' },
      { driveId: cd.id, devChannel: '0:2', bootOrder: null, device: 'ide' },
    ]);
    assert.deepEqual(await drives().releaseForServer(tx, s, 'disks'), [disk.id]);
  });
  await rejects(drives().get(demo, disk.id), 'not_found');
  assert.equal((await drives().get(demo, cd.id)).mountedOn.length, 0);
});

test('a server clone clones its disks and attaches its cdroms as they are, under one server_clone job', async () => {
  const src = await novaServer('clone-src');
  await stopServer(src);
  const target = await novaServer('clone-dst');
  await stopServer(target);
  const [cd] = await drives().create(demo, [{ name: 'c-cd', size: GiB, media: 'cdrom' }]);
  await settle();
  const rootSrc = (await drives().attachmentsOf(cloud.services.db, [src])).get(src)![0].driveId;
  await cloud.services.db.transaction().execute((tx) =>
    drives().setServerDrives(tx, demo, src, [
      { driveId: rootSrc, devChannel: '0:0', bootOrder: 1, device: 'virtio' },
      { driveId: cd.id, devChannel: '0:1', bootOrder: null, device: 'ide' },
    ]),
  );
  // The target here is an existing server stripped of its drives (the servers side makes a new one).
  await cloud.services.db.transaction().execute((tx) => drives().setServerDrives(tx, demo, target, []));
  const jobId = await held(async () => {
    const id = await cloud.services.db.transaction().execute((tx) => drives().cloneServerDrives(tx, demo, src, target));
    await assert.rejects(drives().assertDrivesReady(cloud.services.db, target), DriveError);
    return id;
  });
  await settle();
  await drives().assertDrivesReady(cloud.services.db, target);
  const held2 = (await drives().attachmentsOf(cloud.services.db, [target])).get(target)!;
  assert.equal(held2.length, 2);
  assert.notEqual(held2[0].driveId, rootSrc);
  assert.deepEqual({ ...held2[0], driveId: 'x' }, { driveId: 'x', devChannel: '0:0', bootOrder: 1, device: 'virtio' });
  assert.deepEqual(held2[1], { driveId: cd.id, devChannel: '0:1', bootOrder: null, device: 'ide' });
  const job = await cloud.services.jobs.get(demo, jobId);
  assert.equal(job.operation, 'server_clone');
  assert.equal(job.state, 'success');
  assert.equal(job.children.length, 1);
  assert.equal(job.children[0].operation, 'drive_clone');
  assert.equal(job.children[0].state, 'success');
});

test('clone names follow the profile: NONE, COUNTER, DATE and TIMESTAMP as CloudSigma names them', async () => {
  const at = new Date('2014-06-05T09:45:56.123Z');
  assert.equal(cloneName('NONE', 'test_drive_x', at), 'test_drive_x');
  assert.equal(cloneName('COUNTER', 'test_drive_x', at, ['test_drive_x']), 'test_drive_x_1');
  assert.equal(cloneName('COUNTER', 'test_drive_x', at, ['test_drive_x', 'test_drive_x_1', 'test_drive_x_3']), 'test_drive_x_2');
  assert.equal(cloneName('DATE', 'test_drive_x', at), 'test_drive_x-2014-06-05');
  assert.equal(cloneName('TIMESTAMP', 'test_drive_x', at), 'test_drive_x-2014-06-05 09:45:56');
  const source = await newDrive('named');
  await cloud.services.profiles.update(demo.userId, { cloneNaming: 'COUNTER' });
  assert.equal((await drives().clone(demo, source.id, {})).name, 'named_1');
  await settle();
  assert.equal((await drives().clone(demo, source.id, {})).name, 'named_2');
  await settle();
  await cloud.services.profiles.update(demo.userId, { cloneNaming: 'NONE' });
});

test('a library drive is an image; cloning one makes a drive of the caller’s', async () => {
  const lib = await cloud.services.library.list(demo, { limit: 0, offset: 0 });
  const seeded = lib.drives.find((d) => d.name === 'nimbus-demo')!;
  assert.equal(seeded.imageType, 'preinst');
  assert.equal(seeded.arch, '64');
  assert.equal(seeded.os, 'linux');
  const copy = await drives().cloneImage(demo, seeded.id, {});
  assert.equal(copy.status, 'cloning_dst');
  assert.equal(copy.imageId, seeded.id);
  await settle();
  assert.equal((await drives().get(demo, copy.id)).status, 'unmounted');
});

test('a snapshot is creating then available, and a drive cloned from it has its size', async () => {
  const d = await newDrive('snapped', { size: 2 * GiB });
  const [snap] = await held(() => cloud.services.snapshots.create(demo, [{ driveId: d.id, name: 'first' }]));
  assert.equal(snap.status, 'creating');
  await settle();
  assert.equal((await cloud.services.snapshots.get(demo, snap.id)).status, 'available');
  assert.deepEqual((await drives().get(demo, d.id)).snapshots, [snap.id]);
  const copy = await drives().cloneSnapshot(demo, snap.id, {});
  assert.equal(copy.size, 2 * GiB);
  await settle();
  assert.equal((await drives().get(demo, copy.id)).status, 'unmounted');
});

test('list filters: names are OR, different filters AND, name__contains ignores case, status reads mounted', async () => {
  const a = await newDrive('Filter-Alpha');
  await newDrive('filter-beta');
  const q = (extra: object) => drives().list(demo, { limit: 0, offset: 0, ...extra });
  assert.equal((await q({ name: ['Filter-Alpha', 'filter-beta'] })).total, 2);
  assert.equal((await q({ name: ['Filter-Alpha', 'filter-beta'], id: [a.id] })).total, 1);
  assert.equal((await q({ nameContains: 'FILTER-' })).total, 2);
  assert.equal((await q({ nameContains: '%' })).total, 0);
  const mounted = await q({ status: ['mounted'] });
  assert.ok(mounted.drives.every((d) => d.status === 'mounted'));
  assert.ok(mounted.total >= 1);
  const page1 = await drives().list(demo, { limit: 2, offset: 0, order: [{ key: 'name', dir: 'asc' }] });
  const page2 = await drives().list(demo, { limit: 2, offset: 2, order: [{ key: 'name', dir: 'asc' }] });
  assert.equal(page1.total, page2.total);
  assert.ok(!page2.drives.some((d) => page1.drives.some((e) => e.id === d.id)));
});

test('a Nova server booted from a volume has that volume as a drive, with the volume’s id, deleted with it when asked', async () => {
  const image = await seedImage();
  const res = await cloud.req('POST', '/compute/v2.1/servers', {
    token: cloud.demoToken,
    body: { server: { name: 'bfv', flavorRef: '1', block_device_mapping_v2: [{ boot_index: 0, uuid: image.id, source_type: 'image', destination_type: 'volume', volume_size: 1, delete_on_termination: true }] } },
  });
  assert.equal(res.status, 202, res.text);
  await settle();
  const id = res.body.server.id;
  const show = await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: cloud.demoToken });
  const [volume] = show.body.server['os-extended-volumes:volumes_attached'];
  const drive = await drives().get(demo, volume.id);
  assert.equal(drive.serverRoot, false);
  assert.deepEqual(drive.mountedOn, [id]);
  assert.equal(drive.status, 'mounted');
  assert.equal((await cloud.req('DELETE', `/compute/v2.1/servers/${id}`, { token: cloud.demoToken })).status, 204);
  await settle();
  await rejects(drives().get(demo, volume.id), 'not_found');
});
