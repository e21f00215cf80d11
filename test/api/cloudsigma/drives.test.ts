import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, memberOfNewProject, type TestCloud } from '../../support.js';
import { assertError, basic, cs, dump, unlimitedDrives } from './cs.js';
import type { FakeDriver } from '../../../src/virt/fake/driver.js';

/** /drives/, /libdrives/, /snapshots/, /jobs/ and /profile/, built on the captured dumps. */
let cloud: TestCloud;
let otherAuth: string;
const GiB = 1024 ** 3;
const settle = () => cloud.services.runner.idle();
const keys = (o: object) => Object.keys(o).sort();
/** The dumps' drive fields, less the ones later CloudSigma versions added (backup_scheduler, iops, remote_snapshots). */
const DRIVE_KEYS = keys(dump('response_drive_get_unmounted'));

before(async () => {
  cloud = await startCloud();
  await unlimitedDrives(cloud);
  await memberOfNewProject(cloud, 'drives-other');
  otherAuth = basic('drives-other-user', 'drives-other-pw');
});
after(() => cloud.close());

async function createDrive(fields: Record<string, unknown> = {}) {
  const res = await cs(cloud, 'POST', '/drives/', { body: { objects: [{ media: 'disk', name: 'test_drive_1', size: GiB, ...fields }] } });
  assert.equal(res.status, 201, res.text);
  await settle();
  return res.body.objects[0];
}

async function getDrive(uuid: string, auth?: string) {
  const res = await cs(cloud, 'GET', `/drives/${uuid}/`, { auth });
  assert.equal(res.status, 200, res.text);
  return res.body;
}

async function setCloneNaming(name: 'none' | 'counter' | 'date' | 'timestamp') {
  const res = await cs(cloud, 'PUT', '/profile/', { body: dump(`request_drive_clone_naming_set_profile_to_${name}`) });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.clone_naming, name.toUpperCase());
}

test('create minimal answers 201 with Location and the dump’s fields, creating; then the drive is unmounted', async () => {
  const res = await cs(cloud, 'POST', '/drives/', { body: dump('request_drive_create_minimal') });
  assert.equal(res.status, 201, res.text);
  const [d] = res.body.objects;
  assert.deepEqual(keys(d), keys(dump('response_drive_create_minimal').objects[0]));
  assert.equal(res.headers.get('location'), `${cloud.services.config.publicUrl}/api/2.0/drives/${d.uuid}/`);
  assert.equal(d.status, 'creating');
  assert.deepEqual(d.runtime, { is_snapshotable: null, snapshots_allocated_size: 0, storage_type: 'dssd' });
  assert.equal(d.size, 1073741824);
  assert.equal(d.owner.uuid, (await cloud.services.tokens.validate(cloud.demoToken))!.userId);
  await settle();
  const got = await getDrive(d.uuid);
  assert.deepEqual(keys(got), DRIVE_KEYS);
  assert.equal(got.status, 'unmounted');
  assert.equal(got.runtime.is_snapshotable, true);
});

test('a single bare object is created too, and answered with objects', async () => {
  const res = await cs(cloud, 'POST', '/drives/', { body: { media: 'cdrom', name: 'bare', size: GiB } });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.objects[0].media, 'cdrom');
  await settle();
});

test('bulk create makes every drive of the dump, and is all or nothing', async () => {
  const res = await cs(cloud, 'POST', '/drives/', { body: dump('request_drive_create_bulk') });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(
    res.body.objects.map((o: { name: string }) => o.name),
    dump('response_drive_create_bulk').objects.map((o: { name: string }) => o.name),
  );
  const before = (await cs(cloud, 'GET', '/drives/?limit=0')).body.meta.total_count;
  const bad = await cs(cloud, 'POST', '/drives/', { body: { objects: [{ media: 'disk', name: 'a', size: GiB }, { media: 'disk', name: 'b', size: 12 }] } });
  assertError(bad, 400, 'validation', 'size');
  assert.equal((await cs(cloud, 'GET', '/drives/?limit=0')).body.meta.total_count, before);
  await settle();
});

test('each invalid create field is a 400 validation error naming it', async () => {
  for (const [field, value] of [
    ['media', 'tape'],
    ['size', -1],
    ['size', 'big'],
    ['name', 42],
    ['storage_type', 'floppy'],
    ['meta', 'x'],
    ['allow_multimount', 'yes'],
  ] as const) {
    const res = await cs(cloud, 'POST', '/drives/', { body: { objects: [{ media: 'disk', name: 'x', size: GiB, [field]: value }] } });
    assertError(res, 400, 'validation', field);
  }
  assertError(await cs(cloud, 'POST', '/drives/', { body: { objects: [{ media: 'disk', size: GiB }] } }), 400, 'validation', 'name');
});

test('storage_type from the capabilities: an nvme drive is nvme (request_drive_storage_type)', async () => {
  const caps = (await cs(cloud, 'GET', '/capabilities/')).body;
  assert.deepEqual(Object.keys(caps.drives).sort(), ['dssd', 'nvme', 'zadara']);
  assert.equal(caps.drives.dssd.min_size, 536870912);
  // The dump's request lacks its closing bracket; its object, as sent:
  const body = { objects: [{ media: 'disk', name: 'test_nvme_drive', size: 1073741824, storage_type: 'nvme' }] };
  const res = await cs(cloud, 'POST', '/drives/', { body });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.objects[0].storage_type, 'nvme');
  assert.equal(res.body.objects[0].runtime.storage_type, 'nvme');
  await settle();
});

test('the list shows owner, resource_uri, status and uuid; detail the whole drive; fields= picks fields', async () => {
  await createDrive();
  const list = await cs(cloud, 'GET', '/drives/?limit=0');
  assert.equal(list.status, 200);
  assert.deepEqual(keys(list.body.objects[0]), keys(dump('response_drive_list').objects[0]));
  assert.equal(list.body.meta.total_count, list.body.objects.length);
  const detail = await cs(cloud, 'GET', '/drives/detail/?limit=0');
  assert.deepEqual(keys(detail.body.objects[0]), DRIVE_KEYS);
  const just = await cs(cloud, 'GET', '/drives/?fields=uuid,status&limit=0');
  assert.deepEqual(keys(just.body.objects[0]), ['status', 'uuid']);
  const noSlash = await cs(cloud, 'GET', '/drives?limit=1');
  assert.equal(noSlash.status, 200);
  assert.equal(noSlash.body.objects.length, 1);
});

test('the schema lists the driver’s storage types', async () => {
  const res = await cs(cloud, 'GET', '/drives/schema/');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.fields.storage_type.choices, ['dssd', 'nvme', 'zadara']);
  assert.deepEqual(res.body.fields.media.choices, ['cdrom', 'disk']);
});

test('edit changes media and name (request_drive_edit) and meta with new lines (request_drive_update_meta)', async () => {
  const d = await createDrive();
  const res = await cs(cloud, 'PUT', `/drives/${d.uuid}/`, { body: dump('request_drive_edit') });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.media, 'cdrom');
  assert.equal(res.body.name, 'test_drive_y');
  const meta = await cs(cloud, 'PUT', `/drives/${d.uuid}/`, { body: { ...dump('request_drive_update_meta'), media: 'cdrom' } });
  assert.equal(meta.status, 200, meta.text);
  assert.deepEqual(meta.body.meta, { meta_key1: 'value', meta_key2: 'value\nwith\nnew lines' });
});

test('a new size in an edit is a resize: resizing with the old size, then the new one (request_drive_resize)', async () => {
  const d = await createDrive({ size: 2 * GiB });
  const res = await cs(cloud, 'PUT', `/drives/${d.uuid}/`, { body: dump('request_drive_resize') });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.status, 'resizing');
  assert.equal(res.body.size, 2 * GiB);
  await settle();
  const after = await getDrive(d.uuid);
  assert.equal(after.status, 'unmounted');
  assert.equal(after.size, 5368709120);
});

test('the resize action answers 202 with the drive resizing, then it has the new size', async () => {
  const d = await createDrive({ size: 2 * GiB });
  const res = await cs(cloud, 'POST', `/drives/${d.uuid}/action/?do=resize`, { body: { ...dump('request_drive_resize_action'), uuid: d.uuid } });
  assert.equal(res.status, 202, res.text);
  assert.equal(res.body.objects[0].status, 'resizing');
  await settle();
  assert.equal((await getDrive(d.uuid)).size, 4294967296);
  assertError(await cs(cloud, 'POST', `/drives/${d.uuid}/action/?do=resize`, { body: { size: GiB } }), 400, 'validation', 'size');
  assertError(await cs(cloud, 'POST', `/drives/${d.uuid}/action/?do=shrink`, { body: {} }), 400, 'validation', 'do');
});

test('delete answers 204 and the drive is gone; DELETE /drives/ deletes a list, all or nothing', async () => {
  const d = await createDrive();
  const res = await cs(cloud, 'DELETE', `/drives/${d.uuid}/`);
  assert.equal(res.status, 204);
  assertError(await cs(cloud, 'GET', `/drives/${d.uuid}/`), 404, 'notexist');
  const a = await createDrive();
  const b = await createDrive();
  const missing = '00000000-0000-4000-8000-000000000000';
  assertError(await cs(cloud, 'DELETE', '/drives/', { body: { objects: [{ uuid: a.uuid }, { uuid: missing }] } }), 404, 'notexist');
  assert.equal((await getDrive(a.uuid)).uuid, a.uuid);
  const many = await cs(cloud, 'DELETE', '/drives/', { body: { objects: [{ uuid: a.uuid }, b.resource_uri] } });
  assert.equal(many.status, 204, many.text);
  assertError(await cs(cloud, 'GET', `/drives/${a.uuid}/`), 404, 'notexist');
  assertError(await cs(cloud, 'GET', `/drives/${b.uuid}/`), 404, 'notexist');
});

test('clone answers 202 with the copy cloning_dst and its job; the job ends in success with progress 100', async () => {
  const src = await createDrive({ name: 'clone-me', size: 1207959552 });
  const res = await cs(cloud, 'POST', `/drives/${src.uuid}/action/?do=clone`, { body: { ...dump('request_drive_clone'), size: 1207959631 } });
  assert.equal(res.status, 202, res.text);
  const [copy] = res.body.objects;
  assert.deepEqual(keys(copy), keys(dump('response_drive_clone').objects[0]));
  assert.equal(copy.status, 'cloning_dst');
  assert.equal(copy.name, 'test_drive_y');
  assert.equal(copy.media, 'cdrom');
  assert.equal(copy.jobs.length, 1);
  await settle();
  assert.equal((await getDrive(copy.uuid)).status, 'unmounted');
  assert.equal((await getDrive(src.uuid)).status, 'unmounted');
  const job = await cs(cloud, 'GET', `/jobs/${copy.jobs[0].uuid}/`);
  assert.equal(job.status, 200, job.text);
  assert.deepEqual(keys(job.body), keys(dump('response_jobs_drive_clone')));
  assert.equal(job.body.operation, 'drive_clone');
  assert.equal(job.body.state, 'success');
  assert.deepEqual(job.body.data, { progress: 100 });
  assert.deepEqual(job.body.resources, [src.resource_uri, copy.resource_uri]);
  const jobs = await cs(cloud, 'GET', '/jobs/?limit=0');
  assert.ok(jobs.body.objects.some((j: { uuid: string }) => j.uuid === copy.jobs[0].uuid));
});

test('a clone is at least its source’s size, and may go to another storage type (request_drive_clone_dssd_zadara)', async () => {
  const src = await createDrive({ size: 2 * GiB });
  assertError(await cs(cloud, 'POST', `/drives/${src.uuid}/action/?do=clone`, { body: { size: GiB } }), 400, 'validation', 'size');
  const res = await cs(cloud, 'POST', `/drives/${src.uuid}/action/?do=clone`, { body: dump('request_drive_clone_dssd_zadara') });
  assert.equal(res.status, 202, res.text);
  assert.equal(res.body.objects[0].storage_type, 'zadara');
  assert.equal(res.body.objects[0].size, 2 * GiB);
  await settle();
});

test('avoid keeps a clone off the storage of the drives named, and availability groups show who shares storage', async () => {
  const src = await createDrive({ name: 'avoided' });
  const res = await cs(cloud, 'POST', `/drives/${src.uuid}/action/?do=clone&avoid=${src.uuid}`, { body: {} });
  assert.equal(res.status, 202, res.text);
  await settle();
  const fake = cloud.services.driver as FakeDriver;
  assert.notEqual(fake.driveOf(res.body.objects[0].uuid)!.location, fake.driveOf(src.uuid)!.location);
  const groups = await cs(cloud, 'GET', '/drives/availability_groups/');
  assert.equal(groups.status, 200);
  const groupOf = (id: string) => groups.body.findIndex((g: string[]) => g.includes(id));
  assert.notEqual(groupOf(src.uuid), -1);
  assert.notEqual(groupOf(src.uuid), groupOf(res.body.objects[0].uuid));
  assertError(await cs(cloud, 'POST', `/drives/${src.uuid}/action/?do=clone&avoid=nope`, { body: {} }), 400, 'validation', 'avoid');
});

for (const naming of ['none', 'counter', 'date', 'timestamp'] as const) {
  test(`clone naming ${naming.toUpperCase()} names the copy as the dump does`, async () => {
    const src = await createDrive({ name: 'test_drive_x', media: 'cdrom' });
    await setCloneNaming(naming);
    const res = await cs(cloud, 'POST', `/drives/${src.uuid}/action/?do=clone`, { body: dump(`request_drive_clone_naming_${naming}`) });
    assert.equal(res.status, 202, res.text);
    const name: string = res.body.objects[0].name;
    const expected = dump(`response_drive_clone_naming_${naming}`).objects[0].name as string;
    // The dumps were taken on 2014-06-05 at 09:45:56: the shape is the same, the date is today's.
    const shape = (s: string) => s.replace(/\d{4}-\d{2}-\d{2}/, 'DATE').replace(/\d{2}:\d{2}:\d{2}/, 'TIME').replace(/_\d+$/, '_N');
    assert.equal(shape(name), shape(expected));
    if (naming === 'counter') assert.match(name, /^test_drive_x_\d+$/);
    if (naming === 'date') assert.equal(name, `test_drive_x-${cloud.clock.now().toISOString().slice(0, 10)}`);
    await settle();
    await setCloneNaming('none');
  });
}

test('the profile reads and sets clone_naming; an unknown one is 400 naming it', async () => {
  const res = await cs(cloud, 'GET', '/profile/');
  assert.equal(res.status, 200);
  assert.deepEqual(keys(res.body), keys(dump('response_profile')));
  assert.equal(res.body.clone_naming, 'NONE');
  assertError(await cs(cloud, 'PUT', '/profile/', { body: { clone_naming: 'RANDOM' } }), 400, 'validation', 'clone_naming');
  const update = await cs(cloud, 'PUT', '/profile/', { body: { first_name: 'John', clone_naming: 'DATE' } });
  assert.equal(update.body.first_name, 'John');
  assert.equal((await cs(cloud, 'GET', '/profile/')).body.clone_naming, 'DATE');
  await setCloneNaming('none');
});

test('the library lists the images with their fields; a preinst one is seeded; a library drive clones into a drive', async () => {
  const list = await cs(cloud, 'GET', '/libdrives/?limit=0');
  assert.equal(list.status, 200);
  const seeded = list.body.objects.find((l: { name: string }) => l.name === 'nimbus-demo');
  assert.deepEqual(keys(seeded), keys(dump('response_libdrive_get')));
  assert.equal(seeded.image_type, 'preinst');
  assert.equal(seeded.os, 'linux');
  assert.equal(seeded.arch, '64');
  assert.equal(seeded.owner, null);
  const images = await cloud.req('GET', '/image/v2/images', { token: cloud.demoToken });
  assert.deepEqual(list.body.objects.map((l: { uuid: string }) => l.uuid).sort(), images.body.images.map((i: { id: string }) => i.id).sort());
  assert.equal((await cs(cloud, 'GET', `/libdrives/${seeded.uuid}/`)).body.uuid, seeded.uuid);
  const through = await cs(cloud, 'GET', `/drives/${seeded.uuid}/`);
  assert.equal(through.status, 200);
  assert.deepEqual(keys(through.body), keys(dump('response_librdrive_get_through_drives')));
  const clone = await cs(cloud, 'POST', `/libdrives/${seeded.uuid}/action/?do=clone`, { body: { name: 'from-library' } });
  assert.equal(clone.status, 202, clone.text);
  assert.equal(clone.body.objects[0].status, 'cloning_dst');
  await settle();
  const made = await getDrive(clone.body.objects[0].uuid);
  assert.equal(made.status, 'unmounted');
  assert.equal(made.name, 'from-library');
  // libcloud's create_node clones the library drive through /drives/ (ex_clone_drive).
  const viaDrives = await cs(cloud, 'POST', `/drives/${seeded.uuid}/action/?do=clone`, { body: { name: 'web-drive' } });
  assert.equal(viaDrives.status, 202, viaDrives.text);
  assert.equal(viaDrives.body.objects[0].name, 'web-drive');
  await settle();
  assert.equal((await cs(cloud, 'GET', '/libdrives/schema/')).status, 200);
});

test('a snapshot of a drive shows in the drive’s snapshots; cloning it makes a drive', async () => {
  const d = await createDrive(dump('request_drive_for_snapshots').objects[0]);
  const snap = await cs(cloud, 'POST', '/snapshots/', { body: { objects: [{ drive: d.uuid, name: 'first' }] } });
  assert.equal(snap.status, 201, snap.text);
  const s1 = snap.body.objects[0];
  assert.equal(s1.drive.uuid, d.uuid);
  await settle();
  assert.deepEqual((await getDrive(d.uuid)).snapshots, [{ resource_uri: `/api/2.0/snapshots/${s1.uuid}/`, uuid: s1.uuid }]);
  const s2 = (await cs(cloud, 'POST', '/snapshots/', { body: { drive: d.uuid } })).body.objects[0];
  await settle();
  assert.deepEqual(
    (await getDrive(d.uuid)).snapshots.map((s: { uuid: string }) => s.uuid).sort(),
    [s1.uuid, s2.uuid].sort(),
  );
  assert.equal((await cs(cloud, 'GET', `/snapshots/${s1.uuid}/`)).body.status, 'available');
  assert.equal((await cs(cloud, 'GET', `/snapshots/?drive=${d.uuid}&limit=0`)).body.meta.total_count, 2);
  const clone = await cs(cloud, 'POST', `/snapshots/${s1.uuid}/action/?do=clone`, { body: { name: 'restored' } });
  assert.equal(clone.status, 202, clone.text);
  assert.equal(clone.body.objects[0].size, d.size);
  await settle();
  assert.equal((await getDrive(clone.body.objects[0].uuid)).status, 'unmounted');
  assert.equal((await cs(cloud, 'DELETE', `/snapshots/${s2.uuid}/`)).status, 204);
  assertError(await cs(cloud, 'POST', '/snapshots/', { body: { drive: 'nope' } }), 400, 'validation', 'drive');
});

test('a Nova server’s root disk is a drive here, mounted on it; a mounted drive’s edit keeps media and size, and it cannot be deleted', async () => {
  const image = (await cloud.req('GET', '/image/v2/images?name=nimbus-demo', { token: cloud.demoToken })).body.images[0];
  const server = await cloud.req('POST', '/compute/v2.1/servers', { token: cloud.demoToken, body: { server: { name: 'nova-made', imageRef: image.id, flavorRef: '1' } } });
  assert.equal(server.status, 202, server.text);
  await settle();
  const id = server.body.server.id;
  const drives = (await cs(cloud, 'GET', '/drives/detail/?limit=0')).body.objects;
  const root = drives.find((d: { mounted_on: { uuid: string }[] }) => d.mounted_on.some((m) => m.uuid === id));
  assert.ok(root, 'the root disk is listed');
  assert.equal(root.status, 'mounted');
  assert.equal(root.size, GiB);
  const edit = await cs(cloud, 'PUT', `/drives/${root.uuid}/`, { body: { name: 'renamed', media: 'cdrom', size: 2 * GiB, meta: { k: 'v' } } });
  assert.equal(edit.status, 200, edit.text);
  assert.equal(edit.body.name, 'renamed');
  assert.equal(edit.body.media, 'disk');
  assert.equal(edit.body.size, GiB);
  assert.equal(edit.body.status, 'mounted');
  assertError(await cs(cloud, 'DELETE', `/drives/${root.uuid}/`), 409, 'concurrency');
  assertError(await cs(cloud, 'POST', `/drives/${root.uuid}/action/?do=resize`, { body: { size: 2 * GiB } }), 409, 'concurrency');
  assert.equal((await cs(cloud, 'GET', `/drives/?status=mounted&limit=0`)).body.objects.some((d: { uuid: string }) => d.uuid === root.uuid), true);
});

test('another project’s drives, snapshots and jobs do not exist for a caller', async () => {
  const d = await createDrive({ name: 'mine-only' });
  assertError(await cs(cloud, 'GET', `/drives/${d.uuid}/`, { auth: otherAuth }), 404, 'notexist');
  assertError(await cs(cloud, 'PUT', `/drives/${d.uuid}/`, { auth: otherAuth, body: { name: 'x' } }), 404, 'notexist');
  assertError(await cs(cloud, 'DELETE', `/drives/${d.uuid}/`, { auth: otherAuth }), 404, 'notexist');
  assertError(await cs(cloud, 'POST', `/drives/${d.uuid}/action/?do=clone`, { auth: otherAuth, body: {} }), 404, 'notexist');
  const theirs = await cs(cloud, 'GET', '/drives/?limit=0', { auth: otherAuth });
  assert.equal(theirs.status, 200);
  assert.ok(!theirs.body.objects.some((o: { uuid: string }) => o.uuid === d.uuid));
  const jobs = await cs(cloud, 'GET', '/jobs/?limit=0', { auth: otherAuth });
  assert.equal(jobs.body.meta.total_count, 0);
  assertError(await cs(cloud, 'GET', '/drives/not-a-uuid/'), 404, 'notexist');
});

test('malformed bodies and parameters on every drive route are 4xx naming the field, never a 500', async () => {
  const d = await createDrive({ name: 'target' });
  const cases: [string, string, unknown][] = [
    ['POST', '/drives/', []],
    ['POST', '/drives/', 'x'],
    ['POST', '/drives/', { objects: [] }],
    ['POST', '/drives/', { objects: [1] }],
    ['POST', '/drives/', { objects: [{ media: 'disk', name: 'n', size: 1e308 }] }],
    ['POST', '/drives/', { objects: [{ media: 'disk', name: 'x'.repeat(300), size: GiB }] }],
    ['POST', '/drives/', { objects: [{ media: 'disk', name: 'n', size: GiB, tags: 'x' }] }],
    ['POST', '/drives/', { objects: [{ media: 'disk', name: 'n', size: GiB, meta: { a: 1 } }] }],
    ['POST', '/drives/', { objects: Array.from({ length: 1001 }, () => ({ media: 'disk', name: 'n', size: GiB })) }],
    ['PUT', `/drives/${d.uuid}/`, []],
    ['PUT', `/drives/${d.uuid}/`, { size: -5 }],
    ['PUT', `/drives/${d.uuid}/`, { media: 7 }],
    ['PUT', `/drives/${d.uuid}/`, { allow_multimount: 'no' }],
    ['DELETE', '/drives/', {}],
    ['DELETE', '/drives/', { objects: [42] }],
    ['POST', `/drives/${d.uuid}/action/?do=clone`, 'x'],
    ['POST', `/drives/${d.uuid}/action/?do=clone`, { size: 'huge' }],
    ['POST', `/drives/${d.uuid}/action/?do=clone`, { storage_type: 'floppy' }],
    ['POST', `/drives/${d.uuid}/action/?do=resize`, {}],
    ['POST', `/drives/${d.uuid}/action/`, {}],
    ['POST', '/snapshots/', { objects: [{ drive: 5 }] }],
    ['POST', '/snapshots/', { objects: [{ drive: d.uuid, name: 5 }] }],
    ['PUT', '/profile/', { meta: 'x' }],
    ['PUT', '/profile/', { clone_naming: 5 }],
    ['PUT', '/profile/', { mailing_list: 'yes' }],
    ['GET', '/drives/?limit=x', undefined],
    ['GET', '/drives/?order_by=size_of_shoe', undefined],
    ['GET', '/libdrives/?offset=-1', undefined],
    ['GET', '/jobs/?limit=-1', undefined],
  ];
  for (const [method, path, body] of cases) {
    const res = await cs(cloud, method, path, { body });
    assert.ok(res.status >= 400 && res.status < 500, `${method} ${path} ${JSON.stringify(body)?.slice(0, 80)}: ${res.status} ${res.text.slice(0, 200)}`);
    assert.equal(res.body[0].error_type, 'validation', `${method} ${path}: ${res.text.slice(0, 200)}`);
    assert.ok(res.body[0].error_point, `${method} ${path}: ${res.text.slice(0, 200)}`);
  }
  for (const path of ['/drives/00000000-0000-4000-8000-000000000000/', '/libdrives/00000000-0000-4000-8000-000000000000/', '/snapshots/00000000-0000-4000-8000-000000000000/', '/jobs/00000000-0000-4000-8000-000000000000/']) {
    assertError(await cs(cloud, 'GET', path), 404, 'notexist');
  }
  await settle();
});

test('a drive’s tags are tag references; a tag’s uuid tags another drive with the same tag', async () => {
  const a = await createDrive({ name: 'tagged-a', tags: ['blue'] });
  assert.equal(a.tags.length, 1);
  const blue = a.tags[0].uuid;
  const b = await createDrive({ name: 'tagged-b' });
  const res = await cs(cloud, 'PUT', `/drives/${b.uuid}/`, { body: { tags: [blue] } });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body.tags, a.tags);
  const list = await cs(cloud, 'GET', `/drives/?tag=${blue}&limit=0`);
  assert.deepEqual(list.body.objects.map((o: { uuid: string }) => o.uuid).sort(), [a.uuid, b.uuid].sort());
});

test('a drive whose storage is down is unavailable, and neither cloned nor resized; it is unmounted again when the storage answers', async () => {
  const d = await createDrive({ name: 'on-lost-storage' });
  const pool = (cloud.services.driver as FakeDriver).driveOf(d.uuid)!.location;
  const storage = (state: string) => cloud.req('PUT', `/nimbus/v1/storage/${pool}`, { token: cloud.adminToken, body: { storage: { state } } });
  assert.equal((await storage('down')).status, 200);
  try {
    assert.equal((await getDrive(d.uuid)).status, 'unavailable');
    assertError(await cs(cloud, 'POST', `/drives/${d.uuid}/action/?do=clone`, { body: {} }), 409, 'concurrency', 'status');
    assertError(await cs(cloud, 'POST', `/drives/${d.uuid}/action/?do=resize`, { body: { size: 2 * GiB } }), 409, 'concurrency', 'status');
    assert.ok((await cs(cloud, 'GET', '/drives/?status=unavailable&limit=0')).body.objects.some((o: { uuid: string }) => o.uuid === d.uuid));
  } finally {
    assert.equal((await storage('up')).status, 200);
  }
  assert.equal((await getDrive(d.uuid)).status, 'unmounted');
  assert.equal((await cloud.req('PUT', '/nimbus/v1/storage/no-such-pool', { token: cloud.adminToken, body: { storage: { state: 'down' } } })).status, 404);
});

// The edge's refusals (src/api/edge.ts: NUL bytes, numbers past a double) name their field
// in `point`, which this face shows as error_point.
test('a NUL byte in a body field is 400 with error_point naming the field', async () => {
  const res = await cs(cloud, 'POST', '/drives/', { body: { objects: [{ name: 'a\u0000b', size: 1073741824, media: 'disk' }] } });
  assertError(res, 400, 'validation', 'objects[0].name');
});

test('a NUL byte in a query value is 400 with error_point naming the parameter', async () => {
  assertError(await cs(cloud, 'GET', '/drives/?name=a%00b'), 400, 'validation', 'name');
});
