/**
 * Keystone's revocation events: what takes authority away revokes the tokens it affects for
 * good, at once on this node (each token is used just before the event, so it sits in the
 * validated-token cache when the event comes).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

const admin = (method: string, path: string, body?: unknown) => cloud.req(method, `/identity/v3${path}`, { token: cloud.adminToken, body });

async function roleId(name: string): Promise<string> {
  return (await admin('GET', `/roles?name=${name}`)).body.roles[0].id;
}

let seq = 0;
/** A fresh project and user holding `roles` on it. */
async function holder(roles: string[] = ['member']) {
  const n = ++seq;
  const project = (await admin('POST', '/projects', { project: { name: `revoke-p${n}` } })).body.project;
  const password = `revoke-pw${n}`;
  const user = (await admin('POST', '/users', { user: { name: `revoke-u${n}`, password } })).body.user;
  for (const r of roles) assert.equal((await admin('PUT', `/projects/${project.id}/users/${user.id}/roles/${await roleId(r)}`)).status, 204);
  return { project, user, password, token: await cloud.token(user.name, password, project.name) };
}

/** The token's status on a route every valid token may call; 200 also caches it. */
const statusOf = async (token: string) => (await cloud.req('GET', '/identity/v3/auth/projects', { token })).status;

async function unscopedToken(name: string, password: string): Promise<string> {
  const res = await cloud.req('POST', '/identity/v3/auth/tokens', {
    body: { auth: { identity: { methods: ['password'], password: { user: { name, domain: { id: 'default' }, password } } }, scope: 'unscoped' } },
  });
  assert.equal(res.status, 201);
  return res.headers.get('x-subject-token')!;
}

test("a password change revokes the user's tokens at once, and the new password gets a working one", async () => {
  const h = await holder();
  assert.equal(await statusOf(h.token), 200);
  assert.equal((await admin('PATCH', `/users/${h.user.id}`, { user: { password: 'a-new-password' } })).status, 200);
  assert.equal(await statusOf(h.token), 401);
  assert.equal(await statusOf(await cloud.token(h.user.name, 'a-new-password', h.project.name)), 200);
});

test("a password change revokes the user's unscoped tokens too", async () => {
  const h = await holder();
  const unscoped = await unscopedToken(h.user.name, h.password);
  assert.equal(await statusOf(unscoped), 200);
  assert.equal((await admin('PATCH', `/users/${h.user.id}`, { user: { password: 'another-password' } })).status, 200);
  assert.equal(await statusOf(unscoped), 401);
});

test("a disabled user's tokens stay revoked when the user is enabled again", async () => {
  const h = await holder();
  assert.equal(await statusOf(h.token), 200);
  assert.equal((await admin('PATCH', `/users/${h.user.id}`, { user: { enabled: false } })).status, 200);
  assert.equal(await statusOf(h.token), 401);
  assert.equal((await admin('PATCH', `/users/${h.user.id}`, { user: { enabled: true } })).status, 200);
  assert.equal(await statusOf(h.token), 401);
  assert.equal(await statusOf(await cloud.token(h.user.name, h.password, h.project.name)), 200);
});

test('other changes to a user (its email) revoke nothing', async () => {
  const h = await holder();
  assert.equal((await admin('PATCH', `/users/${h.user.id}`, { user: { email: 'someone@example.org' } })).status, 200);
  assert.equal(await statusOf(h.token), 200);
});

test("removing one of a user's roles on a project revokes its tokens there, even with another role left", async () => {
  const h = await holder(['member', 'reader']);
  assert.equal(await statusOf(h.token), 200);
  assert.equal((await admin('DELETE', `/projects/${h.project.id}/users/${h.user.id}/roles/${await roleId('reader')}`)).status, 204);
  assert.equal(await statusOf(h.token), 401);
  // The member role is left: a new token works and carries it.
  const fresh = await cloud.req('POST', '/identity/v3/auth/tokens', {
    body: {
      auth: {
        identity: { methods: ['password'], password: { user: { name: h.user.name, domain: { id: 'default' }, password: h.password } } },
        scope: { project: { id: h.project.id } },
      },
    },
  });
  assert.equal(fresh.status, 201);
  assert.deepEqual(fresh.body.token.roles.map((r: { name: string }) => r.name).sort(), ['member', 'reader']);
});

test("removing a user's role on one project leaves its tokens on another project working", async () => {
  const h = await holder();
  const other = (await admin('POST', '/projects', { project: { name: `revoke-other-${++seq}` } })).body.project;
  assert.equal((await admin('PUT', `/projects/${other.id}/users/${h.user.id}/roles/${await roleId('member')}`)).status, 204);
  const otherToken = await cloud.token(h.user.name, h.password, other.name);
  assert.equal((await admin('DELETE', `/projects/${h.project.id}/users/${h.user.id}/roles/${await roleId('member')}`)).status, 204);
  assert.equal(await statusOf(h.token), 401);
  assert.equal(await statusOf(otherToken), 200);
});

test('deleting a role revokes the tokens of everyone who held it', async () => {
  const role = (await admin('POST', '/roles', { role: { name: `revoke-role-${++seq}` } })).body.role;
  const h = await holder(['member']);
  assert.equal((await admin('PUT', `/projects/${h.project.id}/users/${h.user.id}/roles/${role.id}`)).status, 204);
  assert.equal(await statusOf(h.token), 200);
  assert.equal((await admin('DELETE', `/roles/${role.id}`)).status, 204);
  assert.equal(await statusOf(h.token), 401);
});

test("a disabled project's tokens stay revoked when the project is enabled again", async () => {
  const h = await holder();
  assert.equal(await statusOf(h.token), 200);
  assert.equal((await admin('PATCH', `/projects/${h.project.id}`, { project: { enabled: false } })).status, 200);
  assert.equal(await statusOf(h.token), 401);
  assert.equal((await admin('PATCH', `/projects/${h.project.id}`, { project: { enabled: true } })).status, 200);
  assert.equal(await statusOf(h.token), 401);
  assert.equal(await statusOf(await cloud.token(h.user.name, h.password, h.project.name)), 200);
});

test("disabling a project leaves the same user's unscoped token working", async () => {
  const h = await holder();
  const unscoped = await unscopedToken(h.user.name, h.password);
  assert.equal((await admin('PATCH', `/projects/${h.project.id}`, { project: { enabled: false } })).status, 200);
  assert.equal(await statusOf(unscoped), 200);
});

test("deleting a project revokes its tokens at once", async () => {
  const h = await holder();
  assert.equal(await statusOf(h.token), 200);
  assert.equal((await admin('DELETE', `/projects/${h.project.id}`)).status, 204);
  assert.equal(await statusOf(h.token), 401);
});

test('deleting a user revokes its tokens at once', async () => {
  const h = await holder();
  assert.equal(await statusOf(h.token), 200);
  assert.equal((await admin('DELETE', `/users/${h.user.id}`)).status, 204);
  assert.equal(await statusOf(h.token), 401);
});
