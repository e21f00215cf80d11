import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud, ADMIN_PASSWORD } from '../../support.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

const passwordAuth = (user: string, password: string, scope?: unknown) => ({
  auth: { identity: { methods: ['password'], password: { user: { name: user, domain: { name: 'Default' }, password } } }, ...(scope ? { scope } : {}) },
});

test('a project-scoped password token has user, project, roles, catalog and X-Subject-Token', async () => {
  const res = await cloud.req('POST', '/identity/v3/auth/tokens', { body: passwordAuth('admin', ADMIN_PASSWORD, { project: { name: 'admin', domain: { name: 'Default' } } }) });
  assert.equal(res.status, 201);
  assert.match(res.headers.get('x-subject-token')!, /^\S{40,}$/);
  assert.match(res.headers.get('x-openstack-request-id')!, /^req-[0-9a-f-]{36}$/);
  const t = res.body.token;
  assert.equal(t.user.name, 'admin');
  assert.deepEqual(t.user.domain, { id: 'default', name: 'Default' });
  assert.equal(t.project.name, 'admin');
  assert.deepEqual(t.roles.map((r: { name: string }) => r.name).sort(), ['admin', 'member', 'reader']);
  assert.deepEqual(t.methods, ['password']);
  assert.match(t.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.match(t.issued_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  const byType = Object.fromEntries(t.catalog.map((s: { type: string }) => [s.type, s]));
  assert.equal(byType.compute.name, 'nova');
  assert.equal(byType.image.name, 'glance');
  assert.equal(byType.identity.name, 'keystone');
  for (const s of t.catalog) {
    assert.deepEqual(s.endpoints.map((e: { interface: string }) => e.interface).sort(), ['admin', 'internal', 'public']);
    for (const e of s.endpoints) assert.equal(e.region, 'RegionOne');
  }
  assert.equal(byType.compute.endpoints[0].url, `${cloud.url}/compute/v2.1`);
});

test('a wrong password and an unknown user get the same 401', async () => {
  const wrong = await cloud.req('POST', '/identity/v3/auth/tokens', { body: passwordAuth('admin', 'nope') });
  const unknown = await cloud.req('POST', '/identity/v3/auth/tokens', { body: passwordAuth('nobody', 'nope') });
  assert.equal(wrong.status, 401);
  assert.equal(unknown.status, 401);
  assert.deepEqual(wrong.body, unknown.body);
  assert.equal(wrong.body.error.code, 401);
  assert.equal(typeof wrong.body.error.message, 'string');
});

test('a token is validated, revoked, and then refused', async () => {
  const subject = await cloud.token('demo', 'demo-secret-pw', 'demo');
  const ok = await cloud.req('GET', '/identity/v3/auth/tokens', { token: cloud.adminToken, headers: { 'x-subject-token': subject } });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.token.user.name, 'demo');
  const del = await cloud.req('DELETE', '/identity/v3/auth/tokens', { token: cloud.adminToken, headers: { 'x-subject-token': subject } });
  assert.equal(del.status, 204);
  const after = await cloud.req('GET', '/compute/v2.1/flavors', { token: subject });
  assert.equal(after.status, 401);
});

test('an expired token is refused', async () => {
  const t = await cloud.token('demo', 'demo-secret-pw', 'demo');
  cloud.clock.advance(3601 * 1000);
  try {
    const res = await cloud.req('GET', '/compute/v2.1/flavors', { token: t });
    assert.equal(res.status, 401);
  } finally {
    cloud.clock.advance(-3601 * 1000);
  }
});
