import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';

let cloud: TestCloud;
let ids: { admin: string; demo: string; adminRole: string; memberRole: string; readerRole: string };
before(async () => {
  cloud = await startCloud();
  const get = async (path: string) => (await cloud.req('GET', `/identity/v3${path}`, { token: cloud.adminToken })).body;
  ids = {
    admin: (await get('/users?name=admin')).users[0].id,
    demo: (await get('/users?name=demo')).users[0].id,
    adminRole: (await get('/roles?name=admin')).roles[0].id,
    memberRole: (await get('/roles?name=member')).roles[0].id,
    readerRole: (await get('/roles?name=reader')).roles[0].id,
  };
});
after(async () => cloud.close());

const list = (query = '') => cloud.req('GET', `/identity/v3/role_assignments${query}`, { token: cloud.adminToken });
const v3 = () => `${cloud.url}/identity/v3`;

test('every assignment is listed in Keystone shape with its grant link', async () => {
  const res = await list();
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.links, { self: `${v3()}/role_assignments`, previous: null, next: null });
  assert.deepEqual(
    res.body.role_assignments.find((a: { user: { id: string } }) => a.user.id === ids.demo),
    {
      links: { assignment: `${v3()}/projects/${cloud.demoProjectId}/users/${ids.demo}/roles/${ids.memberRole}` },
      role: { id: ids.memberRole },
      scope: { project: { id: cloud.demoProjectId } },
      user: { id: ids.demo },
    },
  );
  assert.equal(res.body.role_assignments.length, 2);
});

test('assignments filter by user.id', async () => {
  const res = await list(`?user.id=${ids.admin}`);
  assert.deepEqual(res.body.role_assignments.map((a: { role: { id: string } }) => a.role.id), [ids.adminRole]);
});

test('assignments filter by scope.project.id', async () => {
  const res = await list(`?scope.project.id=${cloud.demoProjectId}`);
  assert.deepEqual(res.body.role_assignments.map((a: { user: { id: string } }) => a.user.id), [ids.demo]);
});

test('assignments filter by role.id', async () => {
  const res = await list(`?role.id=${ids.adminRole}`);
  assert.deepEqual(res.body.role_assignments.map((a: { user: { id: string } }) => a.user.id), [ids.admin]);
  assert.equal(res.body.links.self, `${v3()}/role_assignments?role.id=${ids.adminRole}`);
});

test('include_names adds the names of role, user, project and their domains', async () => {
  const res = await list(`?user.id=${ids.demo}&include_names=True`);
  const domain = { id: 'default', name: 'Default' };
  assert.deepEqual(res.body.role_assignments, [
    {
      links: { assignment: `${v3()}/projects/${cloud.demoProjectId}/users/${ids.demo}/roles/${ids.memberRole}` },
      role: { id: ids.memberRole, name: 'member' },
      scope: { project: { id: cloud.demoProjectId, name: 'demo', domain } },
      user: { id: ids.demo, name: 'demo', domain },
    },
  ]);
});

test('include_names=0 leaves the names out', async () => {
  const res = await list(`?user.id=${ids.demo}&include_names=0`);
  assert.deepEqual(res.body.role_assignments[0].user, { id: ids.demo });
});

test('effective adds the implied roles, each linked to the grant that implies it', async () => {
  const res = await list(`?user.id=${ids.admin}&effective`);
  const byRole = Object.fromEntries(res.body.role_assignments.map((a: { role: { id: string } }) => [a.role.id, a]));
  assert.deepEqual(Object.keys(byRole).sort(), [ids.adminRole, ids.memberRole, ids.readerRole].sort());
  assert.deepEqual(byRole[ids.adminRole].links, { assignment: `${v3()}/projects/${cloud.adminProjectId}/users/${ids.admin}/roles/${ids.adminRole}` });
  assert.deepEqual(byRole[ids.memberRole].links, {
    assignment: `${v3()}/projects/${cloud.adminProjectId}/users/${ids.admin}/roles/${ids.adminRole}`,
    prior_role: `${v3()}/prior_role/${ids.memberRole}/implies/${ids.adminRole}`,
  });
  assert.equal(byRole[ids.readerRole].links.assignment, `${v3()}/projects/${cloud.adminProjectId}/users/${ids.admin}/roles/${ids.memberRole}`);
});

test('effective with role.id matches implied roles too', async () => {
  const res = await list(`?effective&role.id=${ids.readerRole}`);
  assert.deepEqual(res.body.role_assignments.map((a: { user: { id: string } }) => a.user.id).sort(), [ids.admin, ids.demo].sort());
});

test('group, domain and system assignments do not exist, so those filters list none', async () => {
  for (const q of ['?group.id=abc', '?scope.domain.id=default', '?scope.system=all', '?scope.OS-INHERIT:inherited_to=projects']) {
    const res = await list(q);
    assert.equal(res.status, 200, q);
    assert.deepEqual(res.body.role_assignments, [], q);
  }
});

test('user.id with group.id is 400', async () => {
  const res = await list(`?user.id=${ids.demo}&group.id=abc`);
  assert.equal(res.status, 400);
  assert.equal(res.body.error.message, 'Specify a user or group, not both');
});

test('scope.project.id with scope.domain.id is 400', async () => {
  const res = await list(`?scope.project.id=${cloud.demoProjectId}&scope.domain.id=default`);
  assert.equal(res.status, 400);
  assert.equal(res.body.error.message, 'Specify a domain or project, not both');
});

test('effective with group.id is 400', async () => {
  const res = await list('?effective&group.id=abc');
  assert.equal(res.status, 400);
});

test('role assignments cannot be created through the listing (405)', async () => {
  const res = await cloud.req('POST', '/identity/v3/role_assignments', { token: cloud.adminToken, body: {} });
  assert.equal(res.status, 405);
});
