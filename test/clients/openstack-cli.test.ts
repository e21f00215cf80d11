/**
 * The real `openstack` CLI (Debian's python3-openstackclient) against Nimbus started as
 * the README says: a `nimbus serve` process whose clouds.yaml the CLI reads through
 * OS_CLIENT_CONFIG_FILE. Under NIMBUS_TEST_DATABASE_URL the process runs on PostgreSQL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from '../support.js';
import { cliFor, cliSkip as skip, nimbusForTests } from './cli.js';

const nimbus = nimbusForTests(skip);
const cli = cliFor(nimbus, 'nimbus-admin');
const openstack = cli.openstack;
const openstackJson = cli.json;

/** What Nimbus itself says a token is (validated with itself). */
async function whoIs(token: string) {
  const res = await request(nimbus.current().url, 'GET', '/identity/v3/auth/tokens', { token, headers: { 'x-subject-token': token } });
  assert.equal(res.status, 200, res.text);
  return res.body.token;
}

const suffix = randomBytes(3).toString('hex');
const created: { projectId?: string; userId?: string } = {};

test('the demo cloud from clouds.yaml works right after start: openstack --os-cloud nimbus-demo flavor list', { skip }, async () => {
  const flavors = await openstackJson(['flavor', 'list'], 'nimbus-demo');
  const names = flavors.map((f: any) => f.Name);
  for (const n of ['m1.tiny', 'm1.small', 'm1.medium', 'm1.large', 'm1.xlarge']) assert.ok(names.includes(n), `${n} in ${names}`);
});

test('openstack token issue returns a token that Nimbus validates as admin in the admin project', { skip }, async () => {
  const t = await openstackJson(['token', 'issue']);
  assert.equal(typeof t.id, 'string');
  assert.ok(t.id.length >= 32);
  assert.match(t.expires, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
  const body = await whoIs(t.id);
  assert.equal(body.user.id, t.user_id);
  assert.equal(body.user.name, 'admin');
  assert.equal(body.project.id, t.project_id);
  assert.equal(body.project.name, 'admin');
});

test('openstack catalog list shows keystone, nova and glance with public, internal and admin endpoints in RegionOne', { skip }, async () => {
  const catalog = await openstackJson(['catalog', 'list']);
  const byType = Object.fromEntries(catalog.map((s: any) => [s.Type, s]));
  assert.equal(byType.identity?.Name, 'keystone');
  assert.equal(byType.compute?.Name, 'nova');
  assert.equal(byType.image?.Name, 'glance');
  for (const service of catalog) {
    assert.deepEqual(service.Endpoints.map((e: any) => e.interface).sort(), ['admin', 'internal', 'public'], service.Name);
    for (const e of service.Endpoints) assert.equal(e.region, 'RegionOne');
  }
  const publicUrl = (type: string) => byType[type].Endpoints.find((e: any) => e.interface === 'public').url;
  assert.equal(publicUrl('compute'), `${nimbus.current().url}/compute/v2.1`);
  assert.ok(publicUrl('identity').startsWith(`${nimbus.current().url}/identity`));
  assert.ok(publicUrl('image').startsWith(`${nimbus.current().url}/image`));
});

test('openstack flavor list shows the classic flavors with their sizes', { skip }, async () => {
  const flavors = await openstackJson(['flavor', 'list']);
  const tiny = flavors.find((f: any) => f.Name === 'm1.tiny');
  assert.ok(tiny, JSON.stringify(flavors));
  assert.equal(tiny.ID, '1');
  assert.equal(tiny.RAM, 512);
  assert.equal(tiny.Disk, 1);
  assert.equal(tiny.VCPUs, 1);
  assert.equal(tiny['Is Public'], true);
  assert.deepEqual(
    ['m1.small', 'm1.medium', 'm1.large', 'm1.xlarge'].map((n) => flavors.find((f: any) => f.Name === n)?.VCPUs),
    [1, 2, 4, 8],
  );
});

test('openstack flavor create makes a flavor that flavor list and the API then show', { skip }, async () => {
  const name = `cli.flavor-${suffix}`;
  const f = await openstackJson(['flavor', 'create', '--vcpus', '2', '--ram', '1536', '--disk', '12', name]);
  assert.equal(f.name, name);
  assert.equal(f.vcpus, 2);
  assert.equal(f.ram, 1536);
  assert.equal(f.disk, 12);
  assert.equal(typeof f.id, 'string');
  assert.ok(f.id.length > 0);
  const listed = (await openstackJson(['flavor', 'list'])).find((x: any) => x.ID === f.id);
  assert.equal(listed?.Name, name);
  const token = (await openstackJson(['token', 'issue'])).id;
  const shown = await request(nimbus.current().url, 'GET', `/compute/v2.1/flavors/${f.id}`, { token });
  assert.equal(shown.status, 200, shown.text);
  assert.equal(shown.body.flavor.name, name);
  assert.equal(shown.body.flavor.ram, 1536);
});

test('openstack image create --file uploads the bytes; the image is active with their size and checksum', { skip }, async () => {
  const data = randomBytes(300 * 1024 + 17);
  const file = join(nimbus.current().dataDir, `upload-${suffix}.raw`);
  writeFileSync(file, data);
  const name = `cli-image-${suffix}`;
  const img = await openstackJson(['image', 'create', '--file', file, '--disk-format', 'raw', '--container-format', 'bare', name]);
  assert.equal(img.name, name);
  assert.match(img.id, /^[0-9a-f-]{36}$/);
  // The CLI shows the image as created; ask for it again to see the upload's outcome.
  const shown = await openstackJson(['image', 'show', img.id]);
  assert.equal(shown.status, 'active');
  assert.equal(shown.size, data.length);
  assert.equal(shown.checksum, createHash('md5').update(data).digest('hex'));
  assert.equal(shown.disk_format, 'raw');
  const token = (await openstackJson(['token', 'issue'])).id;
  const download = await fetch(`${nimbus.current().url}/image/v2/images/${img.id}/file`, { headers: { 'x-auth-token': token } });
  assert.equal(download.status, 200);
  assert.ok(Buffer.from(await download.arrayBuffer()).equals(data), 'the bytes come back unchanged');
});

test('openstack image list shows the seeded image and the uploaded one', { skip }, async () => {
  const images = await openstackJson(['image', 'list']);
  const names = images.map((i: any) => i.Name);
  assert.ok(names.includes('nimbus-demo'), JSON.stringify(images));
  assert.ok(names.includes(`cli-image-${suffix}`), JSON.stringify(images));
  for (const i of images) {
    assert.match(i.ID, /^[0-9a-f-]{36}$/);
    assert.equal(i.Status, 'active');
  }
});

test('openstack project create makes an enabled project in the default domain', { skip }, async () => {
  const name = `cli-project-${suffix}`;
  const p = await openstackJson(['project', 'create', '--description', 'made by the CLI test', name]);
  assert.equal(p.name, name);
  assert.equal(p.domain_id, 'default');
  assert.equal(p.enabled, true);
  assert.equal(p.description, 'made by the CLI test');
  assert.match(p.id, /^[0-9a-f]{32}$/);
  const listed = await openstackJson(['project', 'list']);
  assert.ok(listed.some((x: any) => x.ID === p.id && x.Name === name), JSON.stringify(listed));
  created.projectId = p.id;
});

test('openstack user create makes a user with a password and a default project', { skip }, async () => {
  assert.ok(created.projectId, 'project create must have worked');
  const name = `cli-user-${suffix}`;
  const u = await openstackJson(['user', 'create', '--password', 'cli-user-pw', '--project', created.projectId!, '--email', 'cli@example.org', name]);
  assert.equal(u.name, name);
  assert.equal(u.domain_id, 'default');
  assert.equal(u.enabled, true);
  assert.equal(u.default_project_id, created.projectId);
  assert.match(u.id, /^[0-9a-f]{32}$/);
  assert.equal(u.password, undefined, 'the password is not echoed');
  created.userId = u.id;
});

test('openstack role add --project --user gives the user the member role there, so the user can work in it', { skip }, async () => {
  assert.ok(created.projectId && created.userId, 'project and user create must have worked');
  // `role add` prints nothing on success (it takes no -f).
  assert.equal((await openstack(['role', 'add', '--project', `cli-project-${suffix}`, '--user', `cli-user-${suffix}`, 'member'])).trim(), '');
  // The new user now gets a token scoped to the project, through the CLI (given every
  // auth option: the CLI does not reliably let --os-username override a cloud's user) …
  const asUser = [
    '--os-auth-url', `${nimbus.current().url}/identity/v3`, '--os-identity-api-version', '3', '--os-region-name', 'RegionOne',
    '--os-user-domain-name', 'Default', '--os-project-domain-name', 'Default',
    '--os-username', `cli-user-${suffix}`, '--os-password', 'cli-user-pw', '--os-project-name', `cli-project-${suffix}`,
  ];
  const t = await openstackJson([...asUser, 'token', 'issue'], null);
  assert.equal(t.user_id, created.userId);
  assert.equal(t.project_id, created.projectId);
  const body = await whoIs(t.id);
  assert.ok(body.roles.some((r: any) => r.name === 'member'), JSON.stringify(body.roles));
  assert.ok(!body.roles.some((r: any) => r.name === 'admin'));
  // … and can use compute with it.
  const flavors = await openstackJson([...asUser, 'flavor', 'list'], null);
  assert.ok(flavors.some((f: any) => f.Name === 'm1.tiny'));
});

test('the CLI read clouds.yaml from the data directory (sanity check of the setup itself)', { skip }, () => {
  const yaml = readFileSync(join(nimbus.current().dataDir, 'clouds.yaml'), 'utf8');
  assert.ok(yaml.includes(`auth_url: ${nimbus.current().url}/identity/v3`));
});
