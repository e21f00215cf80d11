import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, memberOfNewProject, type TestCloud } from '../../support.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

const admin = (method: string, path: string, body?: unknown) => cloud.req(method, `/identity/v3${path}`, { token: cloud.adminToken, body });

let seq = 0;
/** A fresh project, user (with password) and role, granted nothing. */
async function fixture() {
  const n = ++seq;
  const project = (await admin('POST', '/projects', { project: { name: `grant-p${n}` } })).body.project;
  const user = (await admin('POST', '/users', { user: { name: `grant-u${n}`, password: `pw${n}` } })).body.user;
  const member = (await admin('GET', '/roles?name=member')).body.roles[0];
  const path = `/projects/${project.id}/users/${user.id}/roles/${member.id}`;
  return { project, user, member, path, password: `pw${n}` };
}

test('a role named like a built-in (constructor, toString) can be granted, and its holder gets a token', async () => {
  for (const name of ['constructor', 'toString']) {
    const f = await fixture();
    const role = (await admin('POST', '/roles', { role: { name } })).body.role;
    assert.equal((await admin('PUT', `/projects/${f.project.id}/users/${f.user.id}/roles/${role.id}`)).status, 204);
    const token = await cloud.req('POST', '/identity/v3/auth/tokens', {
      body: { auth: { identity: { methods: ['password'], password: { user: { id: f.user.id, password: f.password } } }, scope: { project: { id: f.project.id } } } },
    });
    assert.equal(token.status, 201, token.text);
    assert.deepEqual(token.body.token.roles.map((r: { name: string }) => r.name), [name]);
  }
});

test('granting a role answers 204 and the grant is then present', async () => {
  const f = await fixture();
  const put = await admin('PUT', f.path);
  assert.equal(put.status, 204);
  assert.equal(put.text, '');
  assert.equal((await admin('HEAD', f.path)).status, 204);
  assert.equal((await admin('GET', f.path)).status, 204);
});

test('granting the same role twice is 204 both times', async () => {
  const f = await fixture();
  assert.equal((await admin('PUT', f.path)).status, 204);
  assert.equal((await admin('PUT', f.path)).status, 204);
  const list = await admin('GET', `/projects/${f.project.id}/users/${f.user.id}/roles`);
  assert.equal(list.body.roles.length, 1);
});

test('checking a grant that does not exist is 404 for HEAD and GET', async () => {
  const f = await fixture();
  assert.equal((await admin('HEAD', f.path)).status, 404);
  const get = await admin('GET', f.path);
  assert.equal(get.status, 404);
  assert.match(get.body.error.message, /^Could not find role assignment with role: /);
});

test("a user's roles on a project are listed in Keystone role shape", async () => {
  const f = await fixture();
  await admin('PUT', f.path);
  const res = await admin('GET', `/projects/${f.project.id}/users/${f.user.id}/roles`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, {
    roles: [{ id: f.member.id, name: 'member', domain_id: null, description: null, options: {}, links: { self: `${cloud.url}/identity/v3/roles/${f.member.id}` } }],
    links: { self: `${cloud.url}/identity/v3/projects/${f.project.id}/users/${f.user.id}/roles`, previous: null, next: null },
  });
});

test('listing roles for an unknown user or project is 404', async () => {
  const f = await fixture();
  assert.equal((await admin('GET', `/projects/${f.project.id}/users/nosuch/roles`)).status, 404);
  assert.equal((await admin('GET', `/projects/nosuch/users/${f.user.id}/roles`)).status, 404);
});

test('granting an unknown role, user or project is 404 naming it', async () => {
  const f = await fixture();
  const role = await admin('PUT', `/projects/${f.project.id}/users/${f.user.id}/roles/nosuch`);
  assert.equal(role.status, 404);
  assert.equal(role.body.error.message, 'Could not find role: nosuch.');
  const user = await admin('PUT', `/projects/${f.project.id}/users/nosuch/roles/${f.member.id}`);
  assert.equal(user.status, 404);
  assert.equal(user.body.error.message, 'Could not find user: nosuch.');
  const project = await admin('PUT', `/projects/nosuch/users/${f.user.id}/roles/${f.member.id}`);
  assert.equal(project.status, 404);
  assert.equal(project.body.error.message, 'Could not find project: nosuch.');
});

test('a granted user gets a token scoped to the project', async () => {
  const f = await fixture();
  await admin('PUT', f.path);
  const token = await cloud.token(f.user.name, f.password, f.project.name);
  assert.match(token, /\S{40,}/);
});

test('revoking a grant answers 204 and the grant is gone', async () => {
  const f = await fixture();
  await admin('PUT', f.path);
  const del = await admin('DELETE', f.path);
  assert.equal(del.status, 204);
  assert.equal((await admin('HEAD', f.path)).status, 404);
  await assert.rejects(cloud.token(f.user.name, f.password, f.project.name), /401/);
});

test('revoking a grant that does not exist is 404', async () => {
  const f = await fixture();
  assert.equal((await admin('DELETE', f.path)).status, 404);
});

test("the caller cannot revoke its own role on the project its token is scoped to (403)", async () => {
  const adminUser = (await admin('GET', '/users?name=admin')).body.users[0];
  const adminRole = (await admin('GET', '/roles?name=admin')).body.roles[0];
  const path = `/projects/${cloud.adminProjectId}/users/${adminUser.id}/roles/${adminRole.id}`;
  const res = await admin('DELETE', path);
  assert.equal(res.status, 403);
  assert.equal((await admin('HEAD', path)).status, 204);
});

test('memberOfNewProject yields a member token scoped to a new project', async () => {
  const m = await memberOfNewProject(cloud, 'helper-team');
  const res = await cloud.req('GET', '/identity/v3/auth/projects', { token: m.token });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.projects.map((p: { id: string }) => p.id), [m.projectId]);
});

test('an unsupported method on a grant is 405', async () => {
  const f = await fixture();
  assert.equal((await admin('POST', f.path)).status, 405);
});
