import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, request, type TestCloud } from '../../support.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

const admin = (method: string, path: string, body?: unknown) => cloud.req(method, `/identity/v3${path}`, { token: cloud.adminToken, body });
const createUser = async (name: string, extra: Record<string, unknown> = {}) => {
  const res = await admin('POST', '/users', { user: { name, ...extra } });
  assert.equal(res.status, 201, res.text);
  return res.body.user;
};
const roleId = async (name: string) => (await admin('GET', `/roles?name=${name}`)).body.roles[0].id;

/** Password authentication, scoped to a project or unscoped; returns the status. */
async function authStatus(user: string, password: string, project?: string): Promise<number> {
  const res = await request(cloud.url, 'POST', '/identity/v3/auth/tokens', {
    body: {
      auth: {
        identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } },
        ...(project ? { scope: { project: { name: project, domain: { id: 'default' } } } } : { scope: 'unscoped' }),
      },
    },
  });
  return res.status;
}

test('creating a user answers 201 with Keystone user shape and never the password', async () => {
  const res = await admin('POST', '/users', {
    user: { name: 'alice', password: 'alice-secret', email: 'alice@example.org', default_project_id: cloud.demoProjectId, domain_id: 'default', enabled: true },
  });
  assert.equal(res.status, 201);
  const u = res.body.user;
  assert.match(u.id, /^[0-9a-f]{32}$/);
  assert.deepEqual(u, {
    id: u.id,
    name: 'alice',
    domain_id: 'default',
    enabled: true,
    password_expires_at: null,
    options: {},
    default_project_id: cloud.demoProjectId,
    email: 'alice@example.org',
    links: { self: `${cloud.url}/identity/v3/users/${u.id}` },
  });
  assert.ok(!res.text.includes('alice-secret'));
  assert.ok(!res.text.includes('scrypt'));
});

test('a user without default project or email shows neither', async () => {
  const u = await createUser('plain', { password: 'pw' });
  assert.ok(!('default_project_id' in u));
  assert.ok(!('email' in u));
});

test('a user created without a password cannot authenticate', async () => {
  await createUser('nopass');
  assert.equal(await authStatus('nopass', ''), 401);
  assert.equal(await authStatus('nopass', 'anything'), 401);
});

test('a created user authenticates with its password', async () => {
  await createUser('can-login', { password: 'login-pw' });
  assert.equal(await authStatus('can-login', 'login-pw'), 201);
  assert.equal(await authStatus('can-login', 'wrong'), 401);
});

test('users are listed with collection links and no passwords', async () => {
  const res = await admin('GET', '/users');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.links, { self: `${cloud.url}/identity/v3/users`, previous: null, next: null });
  const names = res.body.users.map((u: { name: string }) => u.name);
  assert.ok(names.includes('admin') && names.includes('demo'));
  for (const u of res.body.users) {
    assert.ok(!('password' in u) && !('password_hash' in u));
  }
  assert.ok(!res.text.includes('scrypt'));
});

test('the user list filters by name', async () => {
  const res = await admin('GET', '/users?name=demo');
  assert.deepEqual(res.body.users.map((u: { name: string }) => u.name), ['demo']);
});

test('the user list filters by domain_id', async () => {
  const dflt = await admin('GET', '/users?domain_id=default');
  assert.ok(dflt.body.users.length >= 2);
  const other = await admin('GET', '/users?domain_id=elsewhere');
  assert.deepEqual(other.body.users, []);
});

test('a user is shown by id', async () => {
  const u = await createUser('shown-user', { password: 'x' });
  const res = await admin('GET', `/users/${u.id}`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.user, u);
});

test('an unknown user is 404', async () => {
  const res = await admin('GET', '/users/nosuch');
  assert.equal(res.status, 404);
  assert.equal(res.body.error.message, 'Could not find user: nosuch.');
});

test('a user may read its own record without the admin role', async () => {
  const me = (await admin('GET', '/users?name=demo')).body.users[0];
  const res = await cloud.req('GET', `/identity/v3/users/${me.id}`, { token: cloud.demoToken });
  assert.equal(res.status, 200);
  assert.equal(res.body.user.name, 'demo');
});

test('a duplicate user name is 409', async () => {
  await createUser('dup-user');
  const res = await admin('POST', '/users', { user: { name: 'dup-user' } });
  assert.equal(res.status, 409);
  assert.match(res.body.error.message, /Duplicate entry/);
});

test('PATCH changes name, email and default project', async () => {
  const u = await createUser('patch-me', { password: 'x' });
  const res = await admin('PATCH', `/users/${u.id}`, { user: { name: 'patched', email: 'p@example.org', default_project_id: cloud.demoProjectId } });
  assert.equal(res.status, 200);
  assert.equal(res.body.user.name, 'patched');
  assert.equal(res.body.user.email, 'p@example.org');
  assert.equal(res.body.user.default_project_id, cloud.demoProjectId);
});

test('PATCH with a new password replaces the old one', async () => {
  const u = await createUser('repass', { password: 'old-pw' });
  const res = await admin('PATCH', `/users/${u.id}`, { user: { password: 'new-pw' } });
  assert.equal(res.status, 200);
  assert.ok(!res.text.includes('new-pw'));
  assert.equal(await authStatus('repass', 'new-pw'), 201);
  assert.equal(await authStatus('repass', 'old-pw'), 401);
});

test('PATCH with a null password leaves a user who cannot authenticate', async () => {
  const u = await createUser('unpass', { password: 'pw' });
  assert.equal((await admin('PATCH', `/users/${u.id}`, { user: { password: null } })).status, 200);
  assert.equal(await authStatus('unpass', 'pw'), 401);
});

test('disabling a user refuses its tokens', async () => {
  const roles = await roleId('member');
  const u = await createUser('to-disable', { password: 'pw' });
  assert.equal((await admin('PUT', `/projects/${cloud.demoProjectId}/users/${u.id}/roles/${roles}`)).status, 204);
  const token = await cloud.token('to-disable', 'pw', 'demo');
  const res = await admin('PATCH', `/users/${u.id}`, { user: { enabled: false } });
  assert.equal(res.status, 200);
  assert.equal(res.body.user.enabled, false);
  cloud.clock.advance(3000); // past the token cache
  try {
    assert.equal((await cloud.req('GET', '/identity/v3/auth/projects', { token })).status, 401);
  } finally {
    cloud.clock.advance(-3000);
  }
  assert.equal(await authStatus('to-disable', 'pw', 'demo'), 401);
});

test('PATCH to a taken name is 409', async () => {
  await createUser('taken-user');
  const u = await createUser('rename-user');
  const res = await admin('PATCH', `/users/${u.id}`, { user: { name: 'taken-user' } });
  assert.equal(res.status, 409);
});

test('PATCH with an empty user is 400', async () => {
  const u = await createUser('empty-user-patch');
  const res = await admin('PATCH', `/users/${u.id}`, { user: {} });
  assert.equal(res.status, 400);
});

test('PATCH cannot change the id or the domain', async () => {
  const u = await createUser('fixed-user');
  assert.equal((await admin('PATCH', `/users/${u.id}`, { user: { id: 'other' } })).body.error.message, 'Cannot change ID');
  assert.equal((await admin('PATCH', `/users/${u.id}`, { user: { domain_id: 'elsewhere' } })).body.error.message, 'Cannot change Domain ID');
});

test('PATCH of an unknown user is 404', async () => {
  assert.equal((await admin('PATCH', '/users/nosuch', { user: { name: 'x' } })).status, 404);
});

test('the caller cannot disable itself (403)', async () => {
  const me = (await admin('GET', '/users?name=admin')).body.users[0];
  const res = await admin('PATCH', `/users/${me.id}`, { user: { enabled: false } });
  assert.equal(res.status, 403);
  assert.equal((await admin('GET', `/users/${me.id}`)).body.user.enabled, true);
});

test('deleting a user answers 204 and it is gone', async () => {
  const u = await createUser('doomed-user');
  const del = await admin('DELETE', `/users/${u.id}`);
  assert.equal(del.status, 204);
  assert.equal((await admin('GET', `/users/${u.id}`)).status, 404);
  assert.equal((await admin('DELETE', `/users/${u.id}`)).status, 404);
});

test('the caller cannot delete itself (403), so the cloud keeps its admin', async () => {
  const me = (await admin('GET', '/users?name=admin')).body.users[0];
  const res = await admin('DELETE', `/users/${me.id}`);
  assert.equal(res.status, 403);
  assert.equal(res.body.error.message, 'You cannot delete the user you are authenticated as.');
  assert.equal((await admin('GET', `/users/${me.id}`)).status, 200);
});

test("a user's projects are the projects where it holds a role", async () => {
  const member = await roleId('member');
  const u = await createUser('projected', { password: 'pw' });
  const p1 = (await admin('POST', '/projects', { project: { name: 'proj-one' } })).body.project;
  const p2 = (await admin('POST', '/projects', { project: { name: 'proj-two', enabled: false } })).body.project;
  await admin('POST', '/projects', { project: { name: 'proj-none' } });
  await admin('PUT', `/projects/${p1.id}/users/${u.id}/roles/${member}`);
  await admin('PUT', `/projects/${p2.id}/users/${u.id}/roles/${member}`);
  const res = await admin('GET', `/users/${u.id}/projects`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.projects.map((p: { name: string }) => p.name), ['proj-one', 'proj-two']);
  assert.equal(res.body.links.self, `${cloud.url}/identity/v3/users/${u.id}/projects`);
  const enabled = await admin('GET', `/users/${u.id}/projects?enabled=true`);
  assert.deepEqual(enabled.body.projects.map((p: { name: string }) => p.name), ['proj-one']);
});

test('a user may list its own projects without the admin role', async () => {
  const me = (await admin('GET', '/users?name=demo')).body.users[0];
  const res = await cloud.req('GET', `/identity/v3/users/${me.id}/projects`, { token: cloud.demoToken });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.projects.map((p: { name: string }) => p.name), ['demo']);
});

test('the projects of an unknown user are 404', async () => {
  assert.equal((await admin('GET', '/users/nosuch/projects')).status, 404);
});

// Each invalid field gives a 400 whose message names that field.
const invalidCreates: [string, unknown, string][] = [
  ['no user envelope', { name: 'x' }, "'user' is a required property"],
  ['no name', { user: { password: 'x' } }, "'name' is a required property"],
  ['an empty name', { user: { name: '' } }, "field 'name'"],
  ['a name over 255 characters', { user: { name: 'n'.repeat(256) } }, "field 'name'"],
  ['a numeric password', { user: { name: 'x', password: 1234 } }, "field 'password'"],
  ['enabled not a boolean', { user: { name: 'x', enabled: 1 } }, "field 'enabled'"],
  ['a malformed default_project_id', { user: { name: 'x', default_project_id: 'bad id' } }, "field 'default_project_id'"],
  ['a malformed domain_id', { user: { name: 'x', domain_id: 'bad/id' } }, "field 'domain_id'"],
  ['a numeric email', { user: { name: 'x', email: 7 } }, "field 'email'"],
  ['an option set', { user: { name: 'x', options: { lock_password: true } } }, "field 'options'"],
  ['an unknown option', { user: { name: 'x', options: { colour: 'red' } } }, "'colour' was unexpected"],
  ['federation', { user: { name: 'x', federated: [{ idp_id: 'a', protocols: [] }] } }, "field 'federated'"],
  ['extra attributes over 64 KiB', { user: { name: 'x', notes: 'n'.repeat(70000) } }, "field 'notes'"],
];
for (const [what, body, names] of invalidCreates) {
  test(`creating a user with ${what} is 400 naming it`, async () => {
    const res = await admin('POST', '/users', body);
    assert.equal(res.status, 400, res.text);
    assert.ok(res.body.error.message.includes(names), res.body.error.message);
  });
}

test('attributes Keystone does not know are kept and shown back, as Tempest\'s dynamic credentials need', async () => {
  const u = await createUser('extra-attrs', { project_id: 'p1', description: 'hello', shoe_size: 44 });
  assert.equal(u.project_id, 'p1');
  assert.equal(u.description, 'hello');
  assert.equal(u.shoe_size, 44);
  const shown = (await admin('GET', `/users/${u.id}`)).body.user;
  assert.deepEqual([shown.project_id, shown.description, shown.shoe_size], ['p1', 'hello', 44]);
});

test('PATCH merges extra attributes into those a user has, and cannot overwrite its id through them', async () => {
  const u = await createUser('extra-patch', { description: 'one', colour: 'red' });
  const res = await admin('PATCH', `/users/${u.id}`, { user: { description: 'two', size: 3, links: 'no' } });
  assert.equal(res.status, 200, res.text);
  const shown = (await admin('GET', `/users/${u.id}`)).body.user;
  assert.deepEqual([shown.description, shown.colour, shown.size, shown.id], ['two', 'red', 3, u.id]);
  assert.equal(typeof shown.links, 'object');
});

test('creating a user in an unknown domain is 404', async () => {
  const res = await admin('POST', '/users', { user: { name: 'x', domain_id: 'elsewhere' } });
  assert.equal(res.status, 404);
  assert.equal(res.body.error.message, 'Could not find domain: elsewhere.');
});

test('an unsupported method on a user is 405', async () => {
  const u = await createUser('no-put');
  assert.equal((await admin('PUT', `/users/${u.id}`, { user: { name: 'x' } })).status, 405);
});
