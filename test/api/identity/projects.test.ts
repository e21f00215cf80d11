import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

const admin = (method: string, path: string, body?: unknown) => cloud.req(method, `/identity/v3${path}`, { token: cloud.adminToken, body });
const create = async (name: string, extra: Record<string, unknown> = {}) => {
  const res = await admin('POST', '/projects', { project: { name, ...extra } });
  assert.equal(res.status, 201, res.text);
  return res.body.project;
};

test('creating a project answers 201 with Keystone project shape and self link', async () => {
  const res = await admin('POST', '/projects', { project: { name: 'shape', description: 'Team shape', domain_id: 'default', enabled: true } });
  assert.equal(res.status, 201);
  const p = res.body.project;
  assert.match(p.id, /^[0-9a-f]{32}$/);
  assert.deepEqual(p, {
    id: p.id,
    name: 'shape',
    description: 'Team shape',
    domain_id: 'default',
    enabled: true,
    parent_id: 'default',
    is_domain: false,
    tags: [],
    options: {},
    links: { self: `${cloud.url}/identity/v3/projects/${p.id}` },
  });
});

test('a project named alone is created enabled in the default domain', async () => {
  const p = await create('bare');
  assert.equal(p.domain_id, 'default');
  assert.equal(p.enabled, true);
  assert.equal(p.description, '');
});

test("openstackclient's create body, with empty options and tags, is accepted", async () => {
  const p = await create('osc-style', { description: 'x', enabled: true, options: {}, tags: [] });
  assert.equal(p.name, 'osc-style');
});

test('enabled may be spelled as a string, as Keystone accepts', async () => {
  const p = await create('string-bool', { enabled: 'False' });
  assert.equal(p.enabled, false);
});

test('projects are listed with Keystone collection links', async () => {
  const res = await admin('GET', '/projects');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.links, { self: `${cloud.url}/identity/v3/projects`, previous: null, next: null });
  const names = res.body.projects.map((p: { name: string }) => p.name);
  assert.ok(names.includes('admin') && names.includes('demo'));
  for (const p of res.body.projects) assert.equal(p.links.self, `${cloud.url}/identity/v3/projects/${p.id}`);
});

test('the list filters by name and its self link repeats the query', async () => {
  const res = await admin('GET', '/projects?name=demo');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.projects.map((p: { name: string }) => p.name), ['demo']);
  assert.equal(res.body.links.self, `${cloud.url}/identity/v3/projects?name=demo`);
});

test('the list filters by enabled', async () => {
  await create('off-list', { enabled: false });
  const off = await admin('GET', '/projects?enabled=false');
  assert.ok(off.body.projects.some((p: { name: string }) => p.name === 'off-list'));
  assert.ok(off.body.projects.every((p: { enabled: boolean }) => p.enabled === false));
  const on = await admin('GET', '/projects?enabled=true');
  assert.ok(on.body.projects.every((p: { enabled: boolean }) => p.enabled === true));
});

test('the list filters by domain_id: default has every project, another domain none', async () => {
  const all = await admin('GET', '/projects');
  const dflt = await admin('GET', '/projects?domain_id=default');
  assert.equal(dflt.body.projects.length, all.body.projects.length);
  const other = await admin('GET', '/projects?domain_id=elsewhere');
  assert.equal(other.status, 200);
  assert.deepEqual(other.body.projects, []);
});

test('a project is shown by id', async () => {
  const p = await create('shown');
  const res = await admin('GET', `/projects/${p.id}`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.project, p);
});

test('an unknown project is 404 in Keystone error format', async () => {
  const res = await admin('GET', '/projects/nosuch');
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, { error: { code: 404, title: 'Not Found', message: 'Could not find project: nosuch.' } });
});

test('a duplicate project name is 409', async () => {
  await create('twice');
  const res = await admin('POST', '/projects', { project: { name: 'twice' } });
  assert.equal(res.status, 409);
  assert.equal(res.body.error.code, 409);
  assert.match(res.body.error.message, /same name in the same domain : twice/);
});

test('attributes Keystone does not know are kept, shown back, and merged by PATCH', async () => {
  const p = await create('extra-attrs', { cost_centre: 42, owner: 'team-a' });
  assert.deepEqual([p.cost_centre, p.owner], [42, 'team-a']);
  assert.equal((await admin('PATCH', `/projects/${p.id}`, { project: { owner: 'team-b' } })).status, 200);
  const shown = (await admin('GET', `/projects/${p.id}`)).body.project;
  assert.deepEqual([shown.cost_centre, shown.owner, shown.id], [42, 'team-b', p.id]);
});

test('PATCH changes name, description and enabled and returns the project', async () => {
  const p = await create('before-patch');
  const res = await admin('PATCH', `/projects/${p.id}`, { project: { name: 'after-patch', description: 'new', enabled: false } });
  assert.equal(res.status, 200);
  assert.equal(res.body.project.name, 'after-patch');
  assert.equal(res.body.project.description, 'new');
  assert.equal(res.body.project.enabled, false);
  const shown = await admin('GET', `/projects/${p.id}`);
  assert.deepEqual(shown.body.project, res.body.project);
});

test('PATCH to a name another project has is 409', async () => {
  await create('taken-name');
  const p = await create('rename-me');
  const res = await admin('PATCH', `/projects/${p.id}`, { project: { name: 'taken-name' } });
  assert.equal(res.status, 409);
});

test('PATCH with an empty project is 400', async () => {
  const p = await create('empty-patch');
  const res = await admin('PATCH', `/projects/${p.id}`, { project: {} });
  assert.equal(res.status, 400);
  assert.match(res.body.error.message, /does not have enough properties/);
});

test('PATCH cannot change the id', async () => {
  const p = await create('keep-id');
  const res = await admin('PATCH', `/projects/${p.id}`, { project: { id: 'other' } });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.message, 'Cannot change ID');
});

test('PATCH cannot move a project to another domain', async () => {
  const p = await create('stay-home');
  const res = await admin('PATCH', `/projects/${p.id}`, { project: { domain_id: 'elsewhere' } });
  assert.equal(res.status, 400);
  assert.match(res.body.error.message, /domain_id/);
});

test('PATCH of an unknown project is 404', async () => {
  const res = await admin('PATCH', '/projects/nosuch', { project: { name: 'x' } });
  assert.equal(res.status, 404);
});

test('deleting a project answers 204 and it is gone', async () => {
  const p = await create('doomed');
  const del = await admin('DELETE', `/projects/${p.id}`);
  assert.equal(del.status, 204);
  assert.equal(del.text, '');
  assert.equal((await admin('GET', `/projects/${p.id}`)).status, 404);
  assert.equal((await admin('DELETE', `/projects/${p.id}`)).status, 404);
});

test('deleting a project removes the role assignments on it', async () => {
  const p = await create('with-grants');
  const roles = await admin('GET', '/roles?name=member');
  const users = await admin('GET', '/users?name=demo');
  const grant = await admin('PUT', `/projects/${p.id}/users/${users.body.users[0].id}/roles/${roles.body.roles[0].id}`);
  assert.equal(grant.status, 204);
  assert.equal((await admin('DELETE', `/projects/${p.id}`)).status, 204);
  const left = await admin('GET', `/role_assignments?scope.project.id=${p.id}`);
  assert.deepEqual(left.body.role_assignments, []);
});

test('the project the caller is scoped to cannot be deleted (403), so the admin keeps a way in', async () => {
  const res = await admin('DELETE', `/projects/${cloud.adminProjectId}`);
  assert.equal(res.status, 403);
  assert.equal(res.body.error.code, 403);
  assert.equal((await admin('GET', `/projects/${cloud.adminProjectId}`)).status, 200);
});

test('the project the caller is scoped to cannot be disabled (403)', async () => {
  const res = await admin('PATCH', `/projects/${cloud.adminProjectId}`, { project: { enabled: false } });
  assert.equal(res.status, 403);
  assert.equal((await admin('GET', `/projects/${cloud.adminProjectId}`)).body.project.enabled, true);
});

test('an unsupported method on projects is 405', async () => {
  const res = await admin('PUT', '/projects', { project: { name: 'x' } });
  assert.equal(res.status, 405);
  assert.equal(res.body.error.code, 405);
});

test('projects need a token (401)', async () => {
  const res = await cloud.req('GET', '/identity/v3/projects');
  assert.equal(res.status, 401);
  assert.equal(res.body.error.code, 401);
});

// Each invalid field gives a 400 whose message names that field.
const invalidCreates: [string, unknown, string][] = [
  ['no project envelope', { name: 'x' }, "'project' is a required property"],
  ['no name', { project: { description: 'x' } }, "'name' is a required property"],
  ['an empty name', { project: { name: '' } }, "field 'name'"],
  ['a blank name', { project: { name: '   ' } }, "field 'name'"],
  ['a name over 64 characters', { project: { name: 'n'.repeat(65) } }, "field 'name'"],
  ['a numeric name', { project: { name: 5 } }, "field 'name'"],
  ['a numeric description', { project: { name: 'x', description: 5 } }, "field 'description'"],
  ['enabled not a boolean', { project: { name: 'x', enabled: 'yes' } }, "field 'enabled'"],
  ['a malformed domain_id', { project: { name: 'x', domain_id: 'no spaces!' } }, "field 'domain_id'"],
  ['a malformed parent_id', { project: { name: 'x', parent_id: 'a/b' } }, "field 'parent_id'"],
  ['a nested parent', { project: { name: 'x', parent_id: 'abc123' } }, "field 'parent_id'"],
  ['is_domain true', { project: { name: 'x', is_domain: true } }, "field 'is_domain'"],
  ['tags not a list', { project: { name: 'x', tags: 'a' } }, "field 'tags'"],
  ['tags given', { project: { name: 'x', tags: ['a'] } }, "field 'tags'"],
  ['an immutable option', { project: { name: 'x', options: { immutable: true } } }, "field 'options'"],
  ['an unknown option', { project: { name: 'x', options: { colour: 'red' } } }, "'colour' was unexpected"],
  ['extra attributes over 64 KiB', { project: { name: 'x', notes: 'n'.repeat(70000) } }, "field 'notes'"],
  ['an unknown domain', { project: { name: 'x', domain_id: 'elsewhere' } }, 'Could not find domain: elsewhere.'],
];
for (const [what, body, names] of invalidCreates) {
  test(`creating a project with ${what} is 400 naming it`, async () => {
    const res = await admin('POST', '/projects', body);
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.error.code, 400);
    assert.ok(res.body.error.message.includes(names), res.body.error.message);
  });
}

test('a malformed JSON body is 400', async () => {
  const res = await cloud.req('POST', '/identity/v3/projects', { token: cloud.adminToken, raw: '{"project":', headers: { 'content-type': 'application/json' } });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, 400);
});
