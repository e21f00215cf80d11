import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud, type RequestOptions } from '../../support.js';
import { fault, memberOfProject } from './accounts.js';

let cloud: TestCloud;
let member: { token: string; projectId: string };
before(async () => {
  cloud = await startCloud();
  member = await memberOfProject(cloud, 'flavor-user');
});
after(async () => cloud.close());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
let serial = 0;
const uniqueName = () => `flavor-${++serial}`;
const create = (flavor: Record<string, unknown>, opts: RequestOptions = {}) =>
  cloud.req('POST', '/compute/v2.1/flavors', { token: cloud.adminToken, body: { flavor }, ...opts });
const minimal = (extra: Record<string, unknown> = {}) => ({ name: uniqueName(), ram: 256, vcpus: 1, disk: 1, ...extra });
const show = (id: string, opts: RequestOptions = {}) => cloud.req('GET', `/compute/v2.1/flavors/${id}`, { token: cloud.adminToken, ...opts });

async function assertBadRequest(flavor: Record<string, unknown>, message: string | RegExp, version?: string) {
  const res = await create(flavor, { version });
  assert.equal(res.status, 400, `${JSON.stringify(flavor)}: ${res.text}`);
  const f = fault(res.body);
  assert.equal(f.name, 'badRequest');
  if (typeof message === 'string') assert.equal(f.message, message);
  else assert.match(f.message, message);
}

// ── show ──

test('GET /flavors/{id} at 2.1 shows the flavor as Nova does', async () => {
  const res = await show('1');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, {
    flavor: {
      id: '1',
      name: 'm1.tiny',
      ram: 512,
      disk: 1,
      swap: '',
      'OS-FLV-EXT-DATA:ephemeral': 0,
      'OS-FLV-DISABLED:disabled': false,
      vcpus: 1,
      'os-flavor-access:is_public': true,
      rxtx_factor: 1,
      links: [
        { rel: 'self', href: `${cloud.url}/compute/v2.1/flavors/1` },
        { rel: 'bookmark', href: `${cloud.url}/compute/flavors/1` },
      ],
    },
  });
  assert.deepEqual(Object.keys(res.body.flavor), ['id', 'name', 'ram', 'disk', 'swap', 'OS-FLV-EXT-DATA:ephemeral', 'OS-FLV-DISABLED:disabled', 'vcpus', 'os-flavor-access:is_public', 'rxtx_factor', 'links']);
});

test('each microversion adds its part to the flavor: description at 2.55, extra_specs at 2.61, swap 0 at 2.75', async () => {
  const keys = async (version: string) => Object.keys((await show('1', { version })).body.flavor);
  assert.ok(!(await keys('2.54')).includes('description'));
  assert.deepEqual((await keys('2.55')).slice(-2), ['links', 'description']);
  assert.ok(!(await keys('2.60')).includes('extra_specs'));
  assert.deepEqual((await keys('2.61')).slice(-2), ['description', 'extra_specs']);
  assert.equal((await show('1', { version: '2.74' })).body.flavor.swap, '');
  assert.equal((await show('1', { version: '2.75' })).body.flavor.swap, 0);
});

test('a member sees extra_specs in the flavor from 2.61, as the extra specs index policy allows', async () => {
  const res = await show('1', { token: member.token, version: '2.61' });
  assert.deepEqual(res.body.flavor.extra_specs, {});
});

test('an unknown flavor is 404 itemNotFound', async () => {
  const res = await show('does-not-exist');
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, { itemNotFound: { code: 404, message: 'Flavor does-not-exist could not be found.' } });
});

test('a private flavor is 404 for a project without access and visible once given access', async () => {
  const created = await create(minimal({ 'os-flavor-access:is_public': false }));
  const id = created.body.flavor.id;
  assert.equal((await show(id, { token: member.token })).status, 404);
  await cloud.req('POST', `/compute/v2.1/flavors/${id}/action`, { token: cloud.adminToken, body: { addTenantAccess: { tenant: member.projectId } } });
  const visible = await show(id, { token: member.token });
  assert.equal(visible.status, 200);
  assert.equal(visible.body.flavor['os-flavor-access:is_public'], false);
});

// ── create ──

test('an admin creates a flavor with an integer id, which comes back as a string', async () => {
  const res = await create(minimal({ id: 100 }));
  assert.equal(res.status, 200);
  assert.equal(res.body.flavor.id, '100');
  assert.equal(res.body.flavor.links[0].href, `${cloud.url}/compute/v2.1/flavors/100`);
  assert.equal((await show('100')).status, 200);
});

test('an admin creates a flavor with a UUID id or a string id', async () => {
  const uuid = crypto.randomUUID();
  assert.equal((await create(minimal({ id: uuid }))).body.flavor.id, uuid);
  assert.equal((await create(minimal({ id: 'my flavor.v2_x-1' }))).body.flavor.id, 'my flavor.v2_x-1');
});

test('a flavor with an id of 255 characters can be shown, updated and deleted by that id', async () => {
  const id = `f${'l'.repeat(254)}`;
  assert.equal((await create(minimal({ id }))).status, 200);
  const shown = await show(id);
  assert.equal(shown.status, 200, shown.text);
  assert.equal(shown.body.flavor.id, id);
  assert.equal((await cloud.req('PUT', `/compute/v2.1/flavors/${id}`, { token: cloud.adminToken, version: '2.55', body: { flavor: { description: 'd' } } })).status, 200);
  assert.equal((await cloud.req('DELETE', `/compute/v2.1/flavors/${id}`, { token: cloud.adminToken })).status, 202);
});

test('a flavor created without an id, or with id null, gets a UUID', async () => {
  assert.match((await create(minimal())).body.flavor.id, UUID);
  assert.match((await create(minimal({ id: null }))).body.flavor.id, UUID);
});

test('a created flavor has Nova’s defaults: no ephemeral, no swap, rxtx_factor 1.0, public, enabled', async () => {
  const name = uniqueName();
  const res = await create({ name, ram: 2048, vcpus: 2, disk: 20 });
  assert.equal(res.status, 200);
  const { id, links, ...rest } = res.body.flavor;
  assert.match(id, UUID);
  assert.equal(links.length, 2);
  assert.deepEqual(rest, {
    name, ram: 2048, disk: 20, swap: '', 'OS-FLV-EXT-DATA:ephemeral': 0, 'OS-FLV-DISABLED:disabled': false, vcpus: 2, 'os-flavor-access:is_public': true, rxtx_factor: 1,
  });
  assert.match(res.text, /"rxtx_factor":1\.0/);
});

test('every size may be given, as a number or a string of digits', async () => {
  const res = await create({ name: uniqueName(), ram: '1024', vcpus: '2', disk: '10', 'OS-FLV-EXT-DATA:ephemeral': '5', swap: '512', rxtx_factor: '2.5', 'os-flavor-access:is_public': 'false' });
  assert.equal(res.status, 200, res.text);
  const f = res.body.flavor;
  assert.deepEqual([f.ram, f.vcpus, f.disk, f['OS-FLV-EXT-DATA:ephemeral'], f.swap, f.rxtx_factor, f['os-flavor-access:is_public']], [1024, 2, 10, 5, 512, 2.5, false]);
});

test('at 2.55 a flavor is created with its description, shown at once', async () => {
  const res = await create(minimal({ description: 'for small jobs' }), { version: '2.55' });
  assert.equal(res.status, 200);
  assert.equal(res.body.flavor.description, 'for small jobs');
  assert.equal((await show(res.body.flavor.id, { version: '2.55' })).body.flavor.description, 'for small jobs');
});

test('at 2.61 the created flavor carries empty extra_specs and at 2.75 swap 0', async () => {
  const res = await create(minimal(), { version: '2.75' });
  assert.deepEqual(res.body.flavor.extra_specs, {});
  assert.equal(res.body.flavor.swap, 0);
  assert.equal(res.body.flavor.description, null);
});

test('a duplicate name is 409', async () => {
  const flavor = minimal();
  assert.equal((await create(flavor)).status, 200);
  const res = await create({ ...flavor });
  assert.equal(res.status, 409);
  assert.deepEqual(res.body, { conflictingRequest: { code: 409, message: `Flavor with name ${flavor.name} already exists.` } });
});

test('a duplicate id is 409', async () => {
  assert.equal((await create(minimal({ id: 'dup-id' }))).status, 200);
  const res = await create(minimal({ id: 'dup-id' }));
  assert.equal(res.status, 409);
  assert.equal(fault(res.body).message, 'Flavor with ID dup-id already exists.');
});

test('a missing required field is 400 naming it', async () => {
  for (const field of ['name', 'ram', 'vcpus', 'disk']) {
    const flavor = minimal();
    delete (flavor as Record<string, unknown>)[field];
    await assertBadRequest(flavor, new RegExp(`^Invalid input for field/attribute flavor\\. Value: \\{.*\\}\\. '${field}' is a required property$`));
  }
  const res = await cloud.req('POST', '/compute/v2.1/flavors', { token: cloud.adminToken, body: { name: 'x' } });
  assert.equal(res.status, 400);
  assert.match(fault(res.body).message, /'flavor' is a required property|Additional properties are not allowed/);
});

test('sizes below their minimum are 400: ram and vcpus from 1, disk, ephemeral and swap from 0', async () => {
  await assertBadRequest(minimal({ ram: 0 }), 'Invalid input for field/attribute ram. Value: 0. 0 is less than the minimum of 1');
  await assertBadRequest(minimal({ vcpus: 0 }), 'Invalid input for field/attribute vcpus. Value: 0. 0 is less than the minimum of 1');
  await assertBadRequest(minimal({ disk: -1 }), 'Invalid input for field/attribute disk. Value: -1. -1 is less than the minimum of 0');
  await assertBadRequest(minimal({ 'OS-FLV-EXT-DATA:ephemeral': -1 }), 'Invalid input for field/attribute OS-FLV-EXT-DATA:ephemeral. Value: -1. -1 is less than the minimum of 0');
  await assertBadRequest(minimal({ swap: -1 }), 'Invalid input for field/attribute swap. Value: -1. -1 is less than the minimum of 0');
  assert.equal((await create(minimal({ disk: 0, swap: 0, 'OS-FLV-EXT-DATA:ephemeral': 0 }))).status, 200);
});

test('a size given as a string is bounded too', async () => {
  await assertBadRequest(minimal({ ram: '0' }), 'Invalid input for field/attribute ram. Value: 0. 0 is less than the minimum of 1');
  await assertBadRequest(minimal({ vcpus: '2147483648' }), 'Invalid input for field/attribute vcpus. Value: 2147483648. 2147483648 is greater than the maximum of 2147483647');
});

test('a size that is not a whole number is 400', async () => {
  await assertBadRequest(minimal({ ram: 'lots' }), "Invalid input for field/attribute ram. Value: lots. 'lots' does not match '^[0-9]+$'");
  await assertBadRequest(minimal({ disk: '-1' }), "Invalid input for field/attribute disk. Value: -1. '-1' does not match '^[0-9]+$'");
  await assertBadRequest(minimal({ vcpus: 1.5 }), "Invalid input for field/attribute vcpus. Value: 1.5. 1.5 is not of type 'integer', 'string'");
  await assertBadRequest(minimal({ swap: null }), "Invalid input for field/attribute swap. Value: None. None is not of type 'integer', 'string'");
});

test('a size over the database’s integer is 400', async () => {
  await assertBadRequest(minimal({ ram: 2147483648 }), 'Invalid input for field/attribute ram. Value: 2147483648. 2147483648 is greater than the maximum of 2147483647');
});

test('rxtx_factor must be a positive number', async () => {
  await assertBadRequest(minimal({ rxtx_factor: 0 }), 'Invalid input for field/attribute rxtx_factor. Value: 0. 0 is less than or equal to the minimum of 0');
  await assertBadRequest(minimal({ rxtx_factor: '0' }), 'Invalid input for field/attribute rxtx_factor. Value: 0. 0 is less than or equal to the minimum of 0');
  await assertBadRequest(minimal({ rxtx_factor: -1.5 }), /^Invalid input for field\/attribute rxtx_factor\. Value: -1\.5\. -1\.5 is less than or equal to the minimum of 0$/);
  await assertBadRequest(minimal({ rxtx_factor: 'fast' }), "Invalid input for field/attribute rxtx_factor. Value: fast. 'fast' does not match '^[0-9]+(\\\\.[0-9]+)?$'");
  assert.equal((await create(minimal({ rxtx_factor: 0.5 }))).body.flavor.rxtx_factor, 0.5);
});

test('os-flavor-access:is_public must be a boolean or a boolean word', async () => {
  await assertBadRequest(
    minimal({ 'os-flavor-access:is_public': 'maybe' }),
    "Invalid input for field/attribute os-flavor-access:is_public. Value: maybe. 'maybe' is not one of [True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no']",
  );
  assert.equal((await create(minimal({ 'os-flavor-access:is_public': 'No' }))).body.flavor['os-flavor-access:is_public'], false);
});

test('an id with characters Nova refuses, leading or trailing blanks, or empty is 400', async () => {
  await assertBadRequest(minimal({ id: ' a' }), "Invalid input for field/attribute id. Value:  a. ' a' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'");
  await assertBadRequest(minimal({ id: 'a/b' }), /^Invalid input for field\/attribute id\. Value: a\/b\. 'a\/b' does not match/);
  await assertBadRequest(minimal({ id: '' }), "Invalid input for field/attribute id. Value: . '' is too short");
  await assertBadRequest(minimal({ id: 'x'.repeat(256) }), /^Invalid input for field\/attribute id\. .* is too long$/);
  await assertBadRequest(minimal({ id: true }), "Invalid input for field/attribute id. Value: True. True is not of type 'string', 'number', 'null'");
});

test('a name that is empty, too long, or starts or ends with blanks is 400', async () => {
  await assertBadRequest(minimal({ name: '' }), "Invalid input for field/attribute name. Value: . '' is too short");
  await assertBadRequest(minimal({ name: 'n'.repeat(256) }), /^Invalid input for field\/attribute name\. .* is too long$/);
  const invalidName = "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.";
  await assertBadRequest(minimal({ name: ' padded' }), invalidName);
  await assertBadRequest(minimal({ name: 'padded\t' }), invalidName);
  await assertBadRequest(minimal({ name: 'bell\u0007' }), invalidName);
  assert.equal((await create(minimal({ name: 'spaced out ünïcode' }))).status, 200);
});

test('an unknown field is 400, and description is unknown before 2.55', async () => {
  await assertBadRequest(minimal({ colour: 'red' }), /Additional properties are not allowed \('colour' was unexpected\)$/);
  await assertBadRequest(minimal({ description: 'x' }), /Additional properties are not allowed \('description' was unexpected\)$/, '2.54');
});

test('a description that is not printable or too long is 400', async () => {
  await assertBadRequest(minimal({ description: 'bell\u0007' }), /^Invalid input for field\/attribute description\. Value: bell.\. 'bell\\x07' does not match /, '2.55');
  await assertBadRequest(minimal({ description: 'd'.repeat(65536) }), /^Invalid input for field\/attribute description\. .* is too long$/, '2.55');
  await assertBadRequest(minimal({ description: 5 }), "Invalid input for field/attribute description. Value: 5. 5 is not of type 'string', 'null'", '2.55');
});

test('a member gets 403 creating a flavor', async () => {
  const res = await create(minimal(), { token: member.token });
  assert.equal(res.status, 403);
  assert.deepEqual(res.body, { forbidden: { code: 403, message: "Policy doesn't allow os_compute_api:os-flavor-manage:create to be performed." } });
});

test('the body is validated before the policy check, as in Nova', async () => {
  const res = await create({ name: 'x' }, { token: member.token });
  assert.equal(res.status, 400);
});

// ── update (2.55) ──

test('PUT sets the description from 2.55', async () => {
  const id = (await create(minimal())).body.flavor.id;
  const res = await cloud.req('PUT', `/compute/v2.1/flavors/${id}`, { token: cloud.adminToken, version: '2.55', body: { flavor: { description: 'now described' } } });
  assert.equal(res.status, 200);
  assert.equal(res.body.flavor.description, 'now described');
  assert.equal(res.body.flavor.id, id);
  const cleared = await cloud.req('PUT', `/compute/v2.1/flavors/${id}`, { token: cloud.adminToken, version: '2.61', body: { flavor: { description: null } } });
  assert.equal(cleared.body.flavor.description, null);
  assert.deepEqual(cleared.body.flavor.extra_specs, {});
});

test('PUT before 2.55 is 404: the update does not exist there', async () => {
  const res = await cloud.req('PUT', '/compute/v2.1/flavors/1', { token: cloud.adminToken, version: '2.54', body: { flavor: { description: 'x' } } });
  assert.equal(res.status, 404);
  assert.equal(fault(res.body).name, 'itemNotFound');
});

test('PUT with anything but a description is 400', async () => {
  const put = (body: unknown) => cloud.req('PUT', '/compute/v2.1/flavors/1', { token: cloud.adminToken, version: '2.55', body });
  const missing = await put({ flavor: {} });
  assert.equal(missing.status, 400);
  assert.equal(fault(missing.body).message, "Invalid input for field/attribute flavor. Value: {}. 'description' is a required property");
  const extra = await put({ flavor: { description: 'x', name: 'renamed' } });
  assert.equal(extra.status, 400);
  assert.match(fault(extra.body).message, /\('name' was unexpected\)$/);
});

test('PUT on an unknown flavor is 404', async () => {
  const res = await cloud.req('PUT', '/compute/v2.1/flavors/nope', { token: cloud.adminToken, version: '2.55', body: { flavor: { description: 'x' } } });
  assert.equal(res.status, 404);
  assert.equal(fault(res.body).message, 'Flavor nope could not be found.');
});

test('a member gets 403 updating a flavor', async () => {
  const res = await cloud.req('PUT', '/compute/v2.1/flavors/1', { token: member.token, version: '2.55', body: { flavor: { description: 'x' } } });
  assert.equal(res.status, 403);
  assert.equal(fault(res.body).message, "Policy doesn't allow os_compute_api:os-flavor-manage:update to be performed.");
});

// ── delete ──

test('DELETE is 202 with no body, and the flavor is gone', async () => {
  const id = (await create(minimal())).body.flavor.id;
  const res = await cloud.req('DELETE', `/compute/v2.1/flavors/${id}`, { token: cloud.adminToken });
  assert.equal(res.status, 202);
  assert.equal(res.text, '');
  assert.equal((await show(id)).status, 404);
});

test('deleting a flavor takes its extra specs and access list with it', async () => {
  const flavor = minimal({ id: 'reborn', 'os-flavor-access:is_public': false });
  await create(flavor);
  await cloud.req('POST', '/compute/v2.1/flavors/reborn/os-extra_specs', { token: cloud.adminToken, body: { extra_specs: { 'hw:cpu_policy': 'dedicated' } } });
  await cloud.req('POST', '/compute/v2.1/flavors/reborn/action', { token: cloud.adminToken, body: { addTenantAccess: { tenant: member.projectId } } });
  assert.equal((await cloud.req('DELETE', '/compute/v2.1/flavors/reborn', { token: cloud.adminToken })).status, 202);
  await create(flavor);
  const specs = await cloud.req('GET', '/compute/v2.1/flavors/reborn/os-extra_specs', { token: cloud.adminToken });
  assert.deepEqual(specs.body, { extra_specs: {} });
  const access = await cloud.req('GET', '/compute/v2.1/flavors/reborn/os-flavor-access', { token: cloud.adminToken });
  assert.deepEqual(access.body, { flavor_access: [] });
});

test('DELETE on an unknown flavor is 404', async () => {
  const res = await cloud.req('DELETE', '/compute/v2.1/flavors/nope', { token: cloud.adminToken });
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, { itemNotFound: { code: 404, message: 'Flavor nope could not be found.' } });
});

test('a member gets 403 deleting a flavor', async () => {
  const res = await cloud.req('DELETE', '/compute/v2.1/flavors/1', { token: member.token });
  assert.equal(res.status, 403);
  assert.equal(fault(res.body).message, "Policy doesn't allow os_compute_api:os-flavor-manage:delete to be performed.");
  assert.equal((await show('1')).status, 200);
});

test('DELETE /flavors/detail is a delete of a flavor called "detail", as in Nova', async () => {
  const res = await cloud.req('DELETE', '/compute/v2.1/flavors/detail', { token: cloud.adminToken });
  assert.equal(res.status, 404);
  assert.equal(fault(res.body).message, 'Flavor detail could not be found.');
});
