import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, memberOfNewProject, type TestCloud } from '../../support.js';

let cloud: TestCloud;
let member: { token: string; projectId: string; userId: string };
let ids: { demoUser: string; adminRole: string; memberRole: string };
before(async () => {
  cloud = await startCloud();
  member = await memberOfNewProject(cloud, 'policy-team');
  const get = async (path: string) => (await cloud.req('GET', `/identity/v3${path}`, { token: cloud.adminToken })).body;
  ids = {
    demoUser: (await get('/users?name=demo')).users[0].id,
    adminRole: (await get('/roles?name=admin')).roles[0].id,
    memberRole: (await get('/roles?name=member')).roles[0].id,
  };
});
after(async () => cloud.close());

const asMember = (method: string, path: string, body?: unknown) => cloud.req(method, `/identity/v3${path}`, { token: member.token, body });

/** Admin-only routes, as [method, path, body]; paths are built once the cloud is up. */
const adminRoutes: [string, () => string, unknown?][] = [
  ['GET', () => '/projects'],
  ['POST', () => '/projects', { project: { name: 'by-member' } }],
  ['GET', () => `/projects/${cloud.demoProjectId}`],
  ['PATCH', () => `/projects/${member.projectId}`, { project: { name: 'renamed-by-member' } }],
  ['DELETE', () => `/projects/${cloud.demoProjectId}`],
  ['GET', () => '/users'],
  ['POST', () => '/users', { user: { name: 'by-member' } }],
  ['GET', () => `/users/${ids.demoUser}`],
  ['PATCH', () => `/users/${ids.demoUser}`, { user: { enabled: false } }],
  ['DELETE', () => `/users/${ids.demoUser}`],
  ['GET', () => `/users/${ids.demoUser}/projects`],
  ['GET', () => '/roles'],
  ['POST', () => '/roles', { role: { name: 'by-member' } }],
  ['GET', () => `/roles/${ids.adminRole}`],
  ['DELETE', () => `/roles/${ids.adminRole}`],
  ['PUT', () => `/projects/${member.projectId}/users/${member.userId}/roles/${ids.adminRole}`],
  ['HEAD', () => `/projects/${member.projectId}/users/${member.userId}/roles/${ids.memberRole}`],
  ['GET', () => `/projects/${member.projectId}/users/${member.userId}/roles/${ids.memberRole}`],
  ['DELETE', () => `/projects/${cloud.demoProjectId}/users/${ids.demoUser}/roles/${ids.memberRole}`],
  ['GET', () => `/projects/${member.projectId}/users/${member.userId}/roles`],
  ['GET', () => '/role_assignments'],
  ['GET', () => '/domains'],
  ['POST', () => '/domains', { domain: { name: 'by-member' } }],
  ['PATCH', () => '/domains/default', { domain: { name: 'by-member' } }],
  ['DELETE', () => '/domains/default'],
];

for (const [method, path, body] of adminRoutes) {
  const shown = path.toString().replace(/^\(\) => /, '').replace(/[`$]/g, '');
  test(`a member token is refused ${method} ${shown} with 403`, async () => {
    const res = await asMember(method, path(), body);
    assert.equal(res.status, 403, res.text);
    if (method !== 'HEAD') {
      assert.equal(res.body.error.code, 403);
      assert.match(res.body.error.message, /^You are not authorized to perform the requested action: identity:\w+\.$/);
    }
  });
}

test('the refusals changed nothing: the member still holds only the member role', async () => {
  const res = await cloud.req('GET', `/identity/v3/role_assignments?user.id=${member.userId}`, { token: cloud.adminToken });
  assert.deepEqual(res.body.role_assignments.map((a: { role: { id: string } }) => a.role.id), [ids.memberRole]);
  assert.equal((await cloud.req('GET', `/identity/v3/users/${ids.demoUser}`, { token: cloud.adminToken })).body.user.enabled, true);
});

test('a member may show the project its token is scoped to', async () => {
  const res = await asMember('GET', `/projects/${member.projectId}`);
  assert.equal(res.status, 200);
  assert.equal(res.body.project.name, 'policy-team');
});

test('a member may show its own user and list its own projects', async () => {
  assert.equal((await asMember('GET', `/users/${member.userId}`)).status, 200);
  const projects = await asMember('GET', `/users/${member.userId}/projects`);
  assert.equal(projects.status, 200);
  assert.deepEqual(projects.body.projects.map((p: { id: string }) => p.id), [member.projectId]);
});

test('a member may not rename itself (update_user is admin-only)', async () => {
  assert.equal((await asMember('PATCH', `/users/${member.userId}`, { user: { name: 'self-renamed' } })).status, 403);
});

test('identity routes refuse a request without a token with 401', async () => {
  for (const path of ['/projects', '/users', '/roles', '/role_assignments', '/domains', `/projects/${member.projectId}/users/${member.userId}/roles`]) {
    const res = await cloud.req('GET', `/identity/v3${path}`);
    assert.equal(res.status, 401, path);
    assert.equal(res.body.error.code, 401);
  }
});
