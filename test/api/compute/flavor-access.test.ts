import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud, type RequestOptions } from '../../support.js';
import { fault, memberOfProject } from './accounts.js';

let cloud: TestCloud;
let member: { token: string; projectId: string };
let other: { token: string; projectId: string };
let serial = 0;
before(async () => {
  cloud = await startCloud();
  member = await memberOfProject(cloud, 'access-one');
  other = await memberOfProject(cloud, 'access-two');
});
after(async () => cloud.close());

async function newFlavor(isPublic: boolean): Promise<string> {
  const res = await cloud.req('POST', '/compute/v2.1/flavors', {
    token: cloud.adminToken,
    body: { flavor: { name: `access-${++serial}`, ram: 128, vcpus: 1, disk: 1, 'os-flavor-access:is_public': isPublic } },
  });
  assert.equal(res.status, 200, res.text);
  return res.body.flavor.id;
}
const action = (id: string, body: unknown, opts: RequestOptions = {}) => cloud.req('POST', `/compute/v2.1/flavors/${id}/action`, { token: cloud.adminToken, body, ...opts });
const accessList = (id: string, opts: RequestOptions = {}) => cloud.req('GET', `/compute/v2.1/flavors/${id}/os-flavor-access`, { token: cloud.adminToken, ...opts });

test('a new private flavor has an empty access list', async () => {
  const id = await newFlavor(false);
  const res = await accessList(id);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { flavor_access: [] });
});

test('addTenantAccess grants a project and answers with the access list', async () => {
  const id = await newFlavor(false);
  const res = await action(id, { addTenantAccess: { tenant: member.projectId } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { flavor_access: [{ flavor_id: id, tenant_id: member.projectId }] });
  const two = await action(id, { addTenantAccess: { tenant: other.projectId } });
  assert.deepEqual(
    two.body.flavor_access.map((a: { tenant_id: string }) => a.tenant_id).sort(),
    [member.projectId, other.projectId].sort(),
  );
  assert.deepEqual((await accessList(id)).body, two.body);
});

test('granting the same project twice is 409', async () => {
  const id = await newFlavor(false);
  await action(id, { addTenantAccess: { tenant: member.projectId } });
  const res = await action(id, { addTenantAccess: { tenant: member.projectId } });
  assert.equal(res.status, 409);
  assert.deepEqual(res.body, {
    conflictingRequest: { code: 409, message: `Flavor access already exists for flavor ${id} and project ${member.projectId} combination.` },
  });
});

test('removeTenantAccess takes the project off the list', async () => {
  const id = await newFlavor(false);
  await action(id, { addTenantAccess: { tenant: member.projectId } });
  const res = await action(id, { removeTenantAccess: { tenant: member.projectId } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { flavor_access: [] });
  assert.equal((await cloud.req('GET', `/compute/v2.1/flavors/${id}`, { token: member.token })).status, 404);
});

test('removing access a project does not have is 404', async () => {
  const id = await newFlavor(false);
  const res = await action(id, { removeTenantAccess: { tenant: member.projectId } });
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, { itemNotFound: { code: 404, message: `Flavor access not found for ${id} / ${member.projectId} combination.` } });
});

test('removing access of a project that no longer exists is fine when it had access, 404 otherwise', async () => {
  const id = await newFlavor(false);
  const res = await action(id, { removeTenantAccess: { tenant: 'no-such-project' } });
  assert.equal(res.status, 404);
  assert.equal(fault(res.body).message, `Flavor access not found for ${id} / no-such-project combination.`);
});

test('granting an unknown project is 400', async () => {
  const id = await newFlavor(false);
  const res = await action(id, { addTenantAccess: { tenant: 'no-such-project' } });
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { badRequest: { code: 400, message: 'Project ID no-such-project is not a valid project.' } });
});

test('the access list of a public flavor is 404', async () => {
  const res = await accessList('1');
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, { itemNotFound: { code: 404, message: 'Access list not available for public flavors.' } });
});

test('granting access to a public flavor is allowed before 2.7 and 409 from 2.7', async () => {
  const id = await newFlavor(true);
  const old = await action(id, { addTenantAccess: { tenant: member.projectId } });
  assert.equal(old.status, 200);
  const res = await action(id, { addTenantAccess: { tenant: other.projectId } }, { version: '2.7' });
  assert.equal(res.status, 409);
  assert.deepEqual(res.body, { conflictingRequest: { code: 409, message: 'Can not add access to a public flavor.' } });
});

test('flavor access on an unknown flavor is 404', async () => {
  assert.equal((await accessList('nope')).status, 404);
  const add = await action('nope', { addTenantAccess: { tenant: member.projectId } });
  assert.equal(add.status, 404);
  assert.equal(fault(add.body).message, 'Flavor nope could not be found.');
  const remove = await action('nope', { removeTenantAccess: { tenant: member.projectId } });
  assert.equal(remove.status, 404);
});

test('a bad addTenantAccess or removeTenantAccess body is 400 naming the field', async () => {
  const id = await newFlavor(false);
  const missing = await action(id, { addTenantAccess: {} });
  assert.equal(missing.status, 400);
  assert.equal(fault(missing.body).message, "Invalid input for field/attribute addTenantAccess. Value: {}. 'tenant' is a required property");
  const empty = await action(id, { removeTenantAccess: { tenant: '' } });
  assert.equal(empty.status, 400);
  assert.equal(fault(empty.body).message, "Invalid input for field/attribute tenant. Value: . '' is too short");
  const number = await action(id, { addTenantAccess: { tenant: 7 } });
  assert.equal(number.status, 400);
  assert.equal(fault(number.body).message, "Invalid input for field/attribute tenant. Value: 7. 7 is not of type 'string'");
});

test('an unknown action is 400 naming it', async () => {
  const res = await action('1', { shrink: null });
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { badRequest: { code: 400, message: 'There is no such action: shrink' } });
});

test('an action body without exactly one key is 400 "Malformed request body"', async () => {
  for (const body of [{}, { addTenantAccess: { tenant: 'x' }, removeTenantAccess: { tenant: 'x' } }]) {
    const res = await action('1', body);
    assert.equal(res.status, 400);
    assert.equal(fault(res.body).message, 'Malformed request body');
  }
});

test('a member gets 403 listing, granting or removing flavor access', async () => {
  const id = await newFlavor(false);
  const list = await accessList(id, { token: member.token });
  assert.equal(list.status, 403);
  assert.equal(fault(list.body).message, "Policy doesn't allow os_compute_api:os-flavor-access to be performed.");
  const add = await action(id, { addTenantAccess: { tenant: member.projectId } }, { token: member.token });
  assert.equal(add.status, 403);
  assert.equal(fault(add.body).message, "Policy doesn't allow os_compute_api:os-flavor-access:add_tenant_access to be performed.");
  const remove = await action(id, { removeTenantAccess: { tenant: member.projectId } }, { token: member.token });
  assert.equal(remove.status, 403);
  assert.equal(fault(remove.body).message, "Policy doesn't allow os_compute_api:os-flavor-access:remove_tenant_access to be performed.");
});

test('access granted to one project does not show the flavor to another', async () => {
  const id = await newFlavor(false);
  await action(id, { addTenantAccess: { tenant: member.projectId } });
  const mine = await cloud.req('GET', '/compute/v2.1/flavors', { token: member.token });
  const theirs = await cloud.req('GET', '/compute/v2.1/flavors', { token: other.token });
  assert.ok(mine.body.flavors.some((f: { id: string }) => f.id === id));
  assert.ok(!theirs.body.flavors.some((f: { id: string }) => f.id === id));
});
