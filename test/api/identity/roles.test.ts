import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

const admin = (method: string, path: string, body?: unknown) => cloud.req(method, `/identity/v3${path}`, { token: cloud.adminToken, body });
const createRole = async (name: string) => {
  const res = await admin('POST', '/roles', { role: { name } });
  assert.equal(res.status, 201, res.text);
  return res.body.role;
};

test('the seeded roles admin, member and reader are listed in Keystone role shape', async () => {
  const res = await admin('GET', '/roles');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.links, { self: `${cloud.url}/identity/v3/roles`, previous: null, next: null });
  const byName = Object.fromEntries(res.body.roles.map((r: { name: string }) => [r.name, r]));
  for (const name of ['admin', 'member', 'reader']) {
    const r = byName[name];
    assert.deepEqual(r, { id: r.id, name, domain_id: null, description: null, options: {}, links: { self: `${cloud.url}/identity/v3/roles/${r.id}` } });
  }
});

test('the role list filters by name', async () => {
  const res = await admin('GET', '/roles?name=member');
  assert.deepEqual(res.body.roles.map((r: { name: string }) => r.name), ['member']);
});

test('asking for domain-specific roles finds none', async () => {
  const res = await admin('GET', '/roles?domain_id=default');
  assert.deepEqual(res.body.roles, []);
});

test('creating a role answers 201 with the role', async () => {
  const res = await admin('POST', '/roles', { role: { name: 'auditor', options: {} } });
  assert.equal(res.status, 201);
  const r = res.body.role;
  assert.deepEqual(r, { id: r.id, name: 'auditor', domain_id: null, description: null, options: {}, links: { self: `${cloud.url}/identity/v3/roles/${r.id}` } });
});

test('a duplicate role name is 409', async () => {
  await createRole('twice-role');
  const res = await admin('POST', '/roles', { role: { name: 'twice-role' } });
  assert.equal(res.status, 409);
  assert.equal(res.body.error.code, 409);
});

test('a role is shown by id', async () => {
  const r = await createRole('shown-role');
  const res = await admin('GET', `/roles/${r.id}`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.role, r);
});

test('an unknown role is 404', async () => {
  const res = await admin('GET', '/roles/nosuch');
  assert.equal(res.status, 404);
  assert.equal(res.body.error.message, 'Could not find role: nosuch.');
});

test('deleting a role answers 204 and it is gone', async () => {
  const r = await createRole('doomed-role');
  assert.equal((await admin('DELETE', `/roles/${r.id}`)).status, 204);
  assert.equal((await admin('GET', `/roles/${r.id}`)).status, 404);
  assert.equal((await admin('DELETE', `/roles/${r.id}`)).status, 404);
});

test('deleting a role removes its grants', async () => {
  const r = await createRole('granted-role');
  const demo = (await admin('GET', '/users?name=demo')).body.users[0];
  assert.equal((await admin('PUT', `/projects/${cloud.demoProjectId}/users/${demo.id}/roles/${r.id}`)).status, 204);
  assert.equal((await admin('DELETE', `/roles/${r.id}`)).status, 204);
  const left = await admin('GET', `/role_assignments?role.id=${r.id}`);
  assert.deepEqual(left.body.role_assignments, []);
});

for (const name of ['admin', 'member', 'reader']) {
  test(`the ${name} role, which policy names, cannot be deleted (403)`, async () => {
    const r = (await admin('GET', `/roles?name=${name}`)).body.roles[0];
    const res = await admin('DELETE', `/roles/${r.id}`);
    assert.equal(res.status, 403);
    assert.equal((await admin('GET', `/roles/${r.id}`)).status, 200);
  });
}

test('updating a role is not offered (405)', async () => {
  const r = await createRole('fixed-role');
  assert.equal((await admin('PATCH', `/roles/${r.id}`, { role: { name: 'x' } })).status, 405);
});

// Each invalid field gives a 400 whose message names that field.
const invalidCreates: [string, unknown, string][] = [
  ['no role envelope', { name: 'x' }, "'role' is a required property"],
  ['no name', { role: {} }, "'name' is a required property"],
  ['an empty name', { role: { name: '' } }, "field 'name'"],
  ['a name over 255 characters', { role: { name: 'r'.repeat(256) } }, "field 'name'"],
  ['a numeric name', { role: { name: 3 } }, "field 'name'"],
  ['a description', { role: { name: 'x', description: 'words' } }, "field 'description'"],
  ['a domain', { role: { name: 'x', domain_id: 'default' } }, "field 'domain_id'"],
  ['an immutable option', { role: { name: 'x', options: { immutable: true } } }, "field 'options'"],
  ['an unknown attribute', { role: { name: 'x', colour: 'red' } }, "'colour' was unexpected"],
];
for (const [what, body, names] of invalidCreates) {
  test(`creating a role with ${what} is 400 naming it`, async () => {
    const res = await admin('POST', '/roles', body);
    assert.equal(res.status, 400, res.text);
    assert.ok(res.body.error.message.includes(names), res.body.error.message);
  });
}
