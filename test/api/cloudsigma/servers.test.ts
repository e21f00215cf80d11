import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { memberOfNewProject, startCloud, type TestCloud } from '../../support.js';
import { act, assertError, basic, createDrive, createServer, cs, driveUuids, dump, runningServer, show, unlimited } from './cs.js';

/** /servers/ over the core, built on the captured dumps; and the same servers through /compute. */
let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
  await unlimited(cloud);
});
after(async () => cloud.close());

const nova = async (id: string) => (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: cloud.demoToken, version: '2.90' })).body.server;
const fieldsOf = (o: object) => Object.keys(o).sort();

test('create minimal (request_server_create_minimal) answers 201 with every field of response_server_create_minimal, stopped', async () => {
  const res = await cs(cloud, 'POST', '/servers/', { body: dump('request_server_create_minimal') });
  assert.equal(res.status, 201, res.text);
  const want = dump('response_server_create_minimal').objects[0];
  const got = res.body.objects[0];
  for (const key of Object.keys(want)) assert.ok(key in got, `missing ${key}`);
  for (const key of ['cpu', 'mem', 'smp', 'name', 'vnc_password', 'status', 'hypervisor', 'cpu_type', 'context', 'runtime', 'drives', 'nics', 'meta', 'tags', 'jobs', 'pubkeys', 'requirements']) assert.deepEqual(got[key], want[key], key);
  assert.equal(got.resource_uri, `/api/2.0/servers/${got.uuid}/`);
  assert.equal(res.headers.get('location'), `${cloud.url}/api/2.0/servers/${got.uuid}/`);
});

test('a server created here is SHUTOFF with power_state 4 through the compute API, its size as the flavor', async () => {
  const s = await createServer(cloud, { cpu: 3000, smp: 2, mem: 1073741824 });
  const n = await nova(s.uuid);
  assert.equal(n.status, 'SHUTOFF');
  assert.equal(n['OS-EXT-STS:power_state'], 4);
  assert.equal(n.flavor.vcpus, 2);
  assert.equal(n.flavor.ram, 1024);
  assert.equal(n.flavor.extra_specs['cloudsigma:cpu_mhz'], '3000');
});

test('create full (request_server_create_full) keeps nics, drives, meta and flags as response_server_create_full shows them', async () => {
  const body = dump('request_server_create_full');
  // The dump's drives, made here first.
  const disk = await createDrive(cloud, { name: 'full-disk' });
  const cdrom = await createDrive(cloud, { name: 'full-cdrom', media: 'cdrom' });
  body.objects[0].drives[0].drive = disk.uuid;
  body.objects[0].drives[1].drive = cdrom.uuid;
  const res = await cs(cloud, 'POST', '/servers/', { body });
  assert.equal(res.status, 201, res.text);
  const got = res.body.objects[0];
  const want = dump('response_server_create_full').objects[0];
  assert.deepEqual(fieldsOf(got.nics[0]), fieldsOf(want.nics[0]));
  assert.deepEqual(got.nics[0].ip_v4_conf, { conf: 'dhcp', ip: null });
  assert.match(got.nics[0].mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  assert.deepEqual(got.meta, want.meta);
  assert.deepEqual(fieldsOf(got.drives[0]), fieldsOf(want.drives[0]));
  assert.deepEqual(got.drives.map((d: { drive: { uuid: string }; device: string }) => [d.drive.uuid, d.device]).sort(), [[disk.uuid, 'virtio'], [cdrom.uuid, 'ide']].sort());
  assert.equal(got.mem, 268435456);
  // The drive knows its server, and Nova sees the disk as an attached volume.
  const d = await cs(cloud, 'GET', `/drives/${disk.uuid}/`);
  assert.deepEqual(d.body.mounted_on.map((m: { uuid: string }) => m.uuid), [got.uuid]);
  const vols = (await nova(got.uuid))['os-extended-volumes:volumes_attached'].map((v: { id: string }) => v.id);
  assert.ok(vols.includes(disk.uuid), JSON.stringify(vols));
});

test('a create naming a drive that does not exist makes no server and names the drive', async () => {
  const before = (await cs(cloud, 'GET', '/servers/?limit=0')).body.meta.total_count;
  const res = await cs(cloud, 'POST', '/servers/', { body: { name: 'x', cpu: 1000, mem: 536870912, vnc_password: 'x', drives: [{ device: 'virtio', dev_channel: '0:0', drive: '6b0ea4bb-9a3c-4d1e-8d4c-2a7a0d27a111' }] } });
  assert.ok(res.status === 400 || res.status === 404, res.text);
  assert.equal(res.body[0].error_point, 'drives[0].drive');
  assert.equal((await cs(cloud, 'GET', '/servers/?limit=0')).body.meta.total_count, before);
});

test('a disk attached to one server cannot be attached to another without allow_multimount', async () => {
  const disk = await createDrive(cloud, { name: 'single' });
  await createServer(cloud, { drives: [{ device: 'virtio', dev_channel: '0:0', drive: disk.uuid }] });
  const res = await cs(cloud, 'POST', '/servers/', { body: { name: 'x', cpu: 1000, mem: 536870912, vnc_password: 'x', drives: [{ device: 'virtio', dev_channel: '0:0', drive: disk.uuid }] } });
  assertError(res, 409, 'concurrency', 'drives[0].drive');
});

async function serverWithDiskAndCdrom(name: string) {
  const disk = await createDrive(cloud, { name: `${name}-disk` });
  const cdrom = await createDrive(cloud, { name: `${name}-cdrom`, media: 'cdrom' });
  const s = await createServer(cloud, {
    name,
    drives: [
      { boot_order: 1, dev_channel: '0:0', device: 'virtio', drive: disk.uuid },
      { boot_order: 2, dev_channel: '0:1', device: 'ide', drive: cdrom.uuid },
    ],
  });
  return { s, disk: disk.uuid as string, cdrom: cdrom.uuid as string };
}

test('delete ?recurse=all_drives deletes the server and every drive attached', async () => {
  const { s, disk, cdrom } = await serverWithDiskAndCdrom('rec-all');
  assert.equal((await cs(cloud, 'DELETE', `/servers/${s.uuid}/?recurse=all_drives`)).status, 204);
  await cloud.services.runner.idle();
  const left = await driveUuids(cloud);
  assert.ok(!left.includes(disk) && !left.includes(cdrom));
});

test('delete ?recurse=disks deletes the disks and leaves the cdroms', async () => {
  const { s, disk, cdrom } = await serverWithDiskAndCdrom('rec-disks');
  assert.equal((await cs(cloud, 'DELETE', `/servers/${s.uuid}/?recurse=disks`)).status, 204);
  await cloud.services.runner.idle();
  const left = await driveUuids(cloud);
  assert.ok(!left.includes(disk));
  assert.ok(left.includes(cdrom));
});

test('delete ?recurse=cdroms deletes the cdroms and leaves the disks', async () => {
  const { s, disk, cdrom } = await serverWithDiskAndCdrom('rec-cdroms');
  assert.equal((await cs(cloud, 'DELETE', `/servers/${s.uuid}/?recurse=cdroms`)).status, 204);
  await cloud.services.runner.idle();
  const left = await driveUuids(cloud);
  assert.ok(left.includes(disk));
  assert.ok(!left.includes(cdrom));
});

test('delete without recurse leaves the drives, unmounted', async () => {
  const { s, disk, cdrom } = await serverWithDiskAndCdrom('rec-none');
  assert.equal((await cs(cloud, 'DELETE', `/servers/${s.uuid}/`)).status, 204);
  await cloud.services.runner.idle();
  const left = await driveUuids(cloud);
  assert.ok(left.includes(disk) && left.includes(cdrom));
  assert.equal((await cs(cloud, 'GET', `/drives/${disk}/`)).body.status, 'unmounted');
});

test('a server booted from an image through the compute API shows its root disk as a drive', async () => {
  const image = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
  const made = await cloud.req('POST', '/compute/v2.1/servers', { token: cloud.demoToken, body: { server: { name: 'rooted', imageRef: image, flavorRef: '1' } } });
  await cloud.services.runner.idle();
  const s = await show(cloud, made.body.server.id);
  assert.equal(s.drives.length, 1);
  assert.equal((await cs(cloud, 'GET', `/drives/${s.drives[0].drive.uuid}/`)).status, 200);
});

test('one bare object (as libcloud sends) is a create too, answered with objects', async () => {
  const res = await cs(cloud, 'POST', '/servers/', { body: { name: 'bare', cpu: 1000, mem: 536870912, vnc_password: 'x' } });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.objects.length, 1);
});

test('bulk create (request_server_create_bulk) makes every server in the order given', async () => {
  const res = await cs(cloud, 'POST', '/servers/', { body: dump('request_server_create_bulk') });
  assert.equal(res.status, 201, res.text);
  const asked = dump('request_server_create_bulk').objects.map((o: { name: string }) => o.name);
  assert.deepEqual(res.body.objects.map((o: { name: string }) => o.name), asked);
  assert.equal(res.headers.get('location'), null);
});

test('bulk create is all or nothing: one bad object, none made, the error names it', async () => {
  const before = (await cs(cloud, 'GET', '/servers/?limit=0')).body.meta.total_count;
  const res = await cs(cloud, 'POST', '/servers/', { body: { objects: [{ name: 'ok-1', cpu: 1000, mem: 536870912, vnc_password: 'x' }, { name: 'bad', cpu: 1000, mem: 'lots', vnc_password: 'x' }] } });
  assertError(res, 400, 'validation', 'mem');
  assert.equal((await cs(cloud, 'GET', '/servers/?limit=0')).body.meta.total_count, before);
});

test('bulk create over the quota makes none', async () => {
  const team = await memberOfNewProject(cloud, 'bulkquota');
  const auth = basic('bulkquota-user', 'bulkquota-pw');
  const res = await cs(cloud, 'POST', '/servers/', { auth, body: { objects: Array.from({ length: 11 }, (_, i) => ({ name: `q${i}`, cpu: 1000, mem: 268435456, vnc_password: 'x' })) } });
  assertError(res, 403, 'permission');
  assert.equal((await cs(cloud, 'GET', '/servers/?limit=0', { auth })).body.meta.total_count, 0);
  assert.ok(team.projectId);
});

test('each missing required field is 400 naming it', async () => {
  for (const field of ['name', 'cpu', 'mem', 'vnc_password']) {
    const body: Record<string, unknown> = { name: 'x', cpu: 1000, mem: 536870912, vnc_password: 'x' };
    delete body[field];
    assertError(await cs(cloud, 'POST', '/servers/', { body }), 400, 'validation', field);
  }
});

test('a hypervisor and cpu_type pair not in the capabilities is 400', async () => {
  assertError(await cs(cloud, 'POST', '/servers/', { body: { name: 'x', cpu: 1000, mem: 536870912, vnc_password: 'x', cpu_type: 'sparc_t4' } }), 400, 'validation', 'cpu_type');
  assertError(await cs(cloud, 'POST', '/servers/', { body: { name: 'x', cpu: 1000, mem: 536870912, vnc_password: 'x', hypervisor: 'solaris-kz' } }), 400, 'validation', 'hypervisor');
});

test('cpu and mem outside the capabilities\' ranges are 400 naming the field', async () => {
  assertError(await cs(cloud, 'POST', '/servers/', { body: { name: 'x', cpu: 100, mem: 536870912, vnc_password: 'x' } }), 400, 'validation', 'cpu');
  assertError(await cs(cloud, 'POST', '/servers/', { body: { name: 'x', cpu: 1000, mem: 1024, vnc_password: 'x' } }), 400, 'validation', 'mem');
});

test('a NIC with an unknown ip_v4_conf is 400 naming the field', async () => {
  assertError(await cs(cloud, 'POST', '/servers/', { body: { name: 'x', cpu: 1000, mem: 536870912, vnc_password: 'x', nics: [{ ip_v4_conf: { conf: 'magic' } }] } }), 400, 'validation', 'nics[0].ip_v4_conf.conf');
});

test('GET /servers/schema/ is the schema of response_server_schema', async () => {
  const res = await cs(cloud, 'GET', '/servers/schema/');
  assert.equal(res.status, 200);
  assert.deepEqual(fieldsOf(res.body.fields), fieldsOf(dump('response_server_schema').fields));
});

test('GET /servers/detail/ shows the full definitions, /servers/ the short one', async () => {
  const s = await createServer(cloud, { name: 'detailed' });
  const detail = (await cs(cloud, 'GET', '/servers/detail/?name=detailed')).body.objects[0];
  assert.deepEqual(detail, await show(cloud, s.uuid));
  const short = (await cs(cloud, 'GET', '/servers/?name=detailed')).body.objects[0];
  assert.deepEqual(fieldsOf(short), fieldsOf(dump('response_server_list').objects[0]));
});

test('edit (request_server_edit_minimal) of a stopped server changes cpu, name and vnc_password', async () => {
  const s = await createServer(cloud);
  const res = await cs(cloud, 'PUT', `/servers/${s.uuid}/`, { body: dump('request_server_edit_minimal') });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.cpu, 2000);
  assert.equal(res.body.name, 'test_server_updated');
  assert.equal(res.body.vnc_password, 'updated_password');
  assert.equal((await nova(s.uuid)).flavor.extra_specs['cloudsigma:cpu_mhz'], '2000');
});

test('edit attaches a drive and a NIC (request_server_attach_drive, request_server_add_dhcp_nic), and detaches it', async () => {
  const s = await createServer(cloud);
  const disk = await createDrive(cloud, { name: 'attach-me' });
  const body = dump('request_server_attach_drive');
  body.drives[0].drive = disk.uuid;
  const res = await cs(cloud, 'PUT', `/servers/${s.uuid}/`, { body: { ...body, nics: [{ ip_v4_conf: { conf: 'dhcp' }, model: 'virtio' }] } });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body.drives.map((d: { drive: { uuid: string } }) => d.drive.uuid), [disk.uuid]);
  assert.equal(res.body.nics.length, 1);
  const detached = await cs(cloud, 'PUT', `/servers/${s.uuid}/`, { body: { drives: [] } });
  assert.deepEqual(detached.body.drives, []);
  assert.equal((await cs(cloud, 'GET', `/drives/${disk.uuid}/`)).body.status, 'unmounted');
});

test('while running, an edit changes only name, meta and tags; the rest is ignored', async () => {
  const s = await runningServer(cloud, { name: 'runner' });
  const res = await cs(cloud, 'PUT', `/servers/${s.uuid}/`, { body: { name: 'renamed', meta: { k: 'v' }, cpu: 4000, mem: 1073741824, vnc_password: 'other' } });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.name, 'renamed');
  assert.deepEqual(res.body.meta, { k: 'v' });
  assert.equal(res.body.cpu, 1000);
  assert.equal(res.body.mem, 536870912);
  assert.equal(res.body.vnc_password, 'testserver');
});

test('meta set here is the server\'s metadata through the compute API, and the reverse', async () => {
  // Nova changes the metadata of launched servers only: this one has run.
  const s = await runningServer(cloud, { meta: { role: 'web' } });
  assert.deepEqual((await nova(s.uuid)).metadata, { role: 'web' });
  await cloud.req('PUT', `/compute/v2.1/servers/${s.uuid}/metadata`, { token: cloud.demoToken, body: { metadata: { role: 'db' } } });
  assert.deepEqual((await show(cloud, s.uuid)).meta, { role: 'db' });
});

test('delete of a stopped server is 204 and it is gone from both APIs', async () => {
  const s = await createServer(cloud);
  const res = await cs(cloud, 'DELETE', `/servers/${s.uuid}/`);
  assert.equal(res.status, 204, res.text);
  await cloud.services.runner.idle();
  assertError(await cs(cloud, 'GET', `/servers/${s.uuid}/`), 404, 'notexist');
  assert.equal((await cloud.req('GET', `/compute/v2.1/servers/${s.uuid}`, { token: cloud.demoToken })).status, 404);
});

test('delete of a running server is refused until it is stopped', async () => {
  const s = await runningServer(cloud);
  assertError(await cs(cloud, 'DELETE', `/servers/${s.uuid}/`), 409, 'concurrency');
  assert.equal((await act(cloud, s.uuid, 'stop')).status, 202);
  await cloud.services.runner.idle();
  assert.equal((await cs(cloud, 'DELETE', `/servers/${s.uuid}/`)).status, 204);
});

test('delete with an unknown recurse option is 400 naming recurse', async () => {
  const s = await createServer(cloud);
  assertError(await cs(cloud, 'DELETE', `/servers/${s.uuid}/?recurse=everything`), 400, 'validation', 'recurse');
});

test('a server created through the compute API shows here with cpu, smp and mem from its flavor and a NIC per address', async () => {
  const image = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
  const made = await cloud.req('POST', '/compute/v2.1/servers', { token: cloud.demoToken, body: { server: { name: 'from-nova', imageRef: image, flavorRef: '2' } } });
  assert.equal(made.status, 202, made.text);
  await cloud.services.runner.idle();
  const s = await show(cloud, made.body.server.id);
  assert.equal(s.status, 'running');
  assert.equal(s.smp, 1);
  assert.equal(s.mem, 2048 * 1024 * 1024);
  assert.equal(s.cpu, 2000);
  assert.equal(s.nics.length, 1);
  assert.ok(s.runtime.nics[0].ip_v4.uuid);
});

test('a server created through the compute API is stopped and started here, and Nova sees it', async () => {
  const image = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
  const made = await cloud.req('POST', '/compute/v2.1/servers', { token: cloud.demoToken, body: { server: { name: 'nova-acted', imageRef: image, flavorRef: '1' } } });
  await cloud.services.runner.idle();
  const id = made.body.server.id;
  assert.equal((await act(cloud, id, 'stop')).status, 202);
  await cloud.services.runner.idle();
  assert.equal((await nova(id)).status, 'SHUTOFF');
  assert.equal((await act(cloud, id, 'start')).status, 202);
  await cloud.services.runner.idle();
  assert.equal((await nova(id)).status, 'ACTIVE');
});

test('a server created here is started through the compute API and runs here', async () => {
  const s = await createServer(cloud);
  const r = await cloud.req('POST', `/compute/v2.1/servers/${s.uuid}/action`, { token: cloud.demoToken, body: { 'os-start': null } });
  assert.equal(r.status, 202, r.text);
  await cloud.services.runner.idle();
  assert.equal((await show(cloud, s.uuid)).status, 'running');
  assert.equal((await nova(s.uuid))['OS-EXT-STS:power_state'], 1);
});

test('another project\'s server does not exist here: not listed, 404 to show, edit, act on or delete', async () => {
  const s = await createServer(cloud);
  await memberOfNewProject(cloud, 'isolated');
  const auth = basic('isolated-user', 'isolated-pw');
  assert.equal((await cs(cloud, 'GET', '/servers/detail/?limit=0', { auth })).body.meta.total_count, 0);
  assertError(await cs(cloud, 'GET', `/servers/${s.uuid}/`, { auth }), 404, 'notexist');
  assertError(await cs(cloud, 'PUT', `/servers/${s.uuid}/`, { auth, body: { name: 'mine' } }), 404, 'notexist');
  assertError(await act(cloud, s.uuid, 'start', {}, auth), 404, 'notexist');
  assertError(await cs(cloud, 'DELETE', `/servers/${s.uuid}/`, { auth }), 404, 'notexist');
});

test('tags given by name show as tag references, and filter the list', async () => {
  const s = await createServer(cloud, { name: 'tagged', tags: ['blue'] });
  assert.equal(s.tags.length, 1);
  assert.match(s.tags[0].uuid, /^[0-9a-f-]{36}$/);
  const listed = await cs(cloud, 'GET', `/servers/?tag=${s.tags[0].uuid}`);
  assert.deepEqual(listed.body.objects.map((o: { uuid: string }) => o.uuid), [s.uuid]);
  assert.deepEqual((await nova(s.uuid)).tags, ['blue']);
});
