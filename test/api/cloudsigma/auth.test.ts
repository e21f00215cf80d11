import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { DEMO_PASSWORD, startCloud, type TestCloud } from '../../support.js';
import { DEMO, assertError, basic, cs } from './cs.js';

/** The CloudSigma face's authentication: Basic, Digest and the session cookie with CSRF. */
let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
});
after(async () => cloud.close());

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** A Digest Authorization header answering the 401's challenge (RFC 7616, MD5, qop=auth). */
async function digestHeader(path: string, user: string, password: string, method = 'GET') {
  const challenge = await cs(cloud, method, path, { auth: null });
  assert.equal(challenge.status, 401);
  const header = challenge.headers.get('www-authenticate') ?? '';
  const nonce = /nonce="([^"]+)"/.exec(header)![1];
  const uri = '/api/2.0' + path;
  const ha1 = md5(`${user}:Nimbus:${password}`);
  const ha2 = md5(`${method}:${uri}`);
  const cnonce = 'abcdef0123456789';
  const response = md5(`${ha1}:${nonce}:00000001:${cnonce}:auth:${ha2}`);
  return `Digest username="${user}", realm="Nimbus", nonce="${nonce}", uri="${uri}", qop=auth, nc=00000001, cnonce="${cnonce}", response="${response}", algorithm=MD5`;
}

function sessionCookies(res: { headers: Headers }) {
  const jar: Record<string, string> = {};
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    jar[pair.slice(0, i)] = decodeURIComponent(pair.slice(i + 1));
  }
  return jar;
}

test('a request without credentials is 401 with a permission error and Basic and Digest challenges', async () => {
  const res = await cs(cloud, 'GET', '/servers/', { auth: null });
  assertError(res, 401, 'permission', null);
  const challenge = res.headers.get('www-authenticate') ?? '';
  assert.match(challenge, /Digest realm="Nimbus"/);
  assert.match(challenge, /Basic realm="Nimbus"/);
});

test('HTTP Basic with the user name and password lists the user\'s servers', async () => {
  const res = await cs(cloud, 'GET', '/servers/', { auth: DEMO });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(Object.keys(res.body), ['meta', 'objects']);
});

test('HTTP Basic with a wrong password is 401', async () => {
  assertError(await cs(cloud, 'GET', '/servers/', { auth: basic('demo', 'wrong') }), 401, 'permission');
});

test('HTTP Basic with the user\'s email instead of the name works', async () => {
  const user = await cloud.req('POST', '/identity/v3/users', { token: cloud.adminToken, body: { user: { name: 'mailer', email: 'mailer@example.org', password: 'mailer-pw', default_project_id: cloud.demoProjectId } } });
  assert.equal(user.status, 201, user.text);
  const role = (await cloud.req('GET', '/identity/v3/roles?name=member', { token: cloud.adminToken })).body.roles[0].id;
  await cloud.req('PUT', `/identity/v3/projects/${cloud.demoProjectId}/users/${user.body.user.id}/roles/${role}`, { token: cloud.adminToken });
  const res = await cs(cloud, 'GET', '/servers/', { auth: basic('mailer@example.org', 'mailer-pw') });
  assert.equal(res.status, 200, res.text);
});

test('HTTP Digest with the user name and password works', async () => {
  const res = await cs(cloud, 'GET', '/servers/', { auth: await digestHeader('/servers/', 'demo', DEMO_PASSWORD) });
  assert.equal(res.status, 200, res.text);
});

test('HTTP Digest with a wrong password is 401', async () => {
  assertError(await cs(cloud, 'GET', '/servers/', { auth: await digestHeader('/servers/', 'demo', 'nope') }), 401, 'permission');
});

test('HTTP Digest for another URI than the request\'s is 401', async () => {
  assertError(await cs(cloud, 'GET', '/servers/detail/', { auth: await digestHeader('/servers/', 'demo', DEMO_PASSWORD) }), 401, 'permission');
});

/** A member of the demo project with an email, made through the identity API. */
async function userWithEmail(name: string, email: string, password: string) {
  const user = await cloud.req('POST', '/identity/v3/users', { token: cloud.adminToken, body: { user: { name, email, password, default_project_id: cloud.demoProjectId } } });
  assert.equal(user.status, 201, user.text);
  const role = (await cloud.req('GET', '/identity/v3/roles?name=member', { token: cloud.adminToken })).body.roles[0].id;
  await cloud.req('PUT', `/identity/v3/projects/${cloud.demoProjectId}/users/${user.body.user.id}/roles/${role}`, { token: cloud.adminToken });
  return user.body.user.id as string;
}

// CloudSigma's logins are emails: Digest takes the email as the username too, with its own secret.
test('HTTP Digest with the user\'s email as the username works', async () => {
  await userWithEmail('digest-mailer', 'digest-mailer@example.org', 'dm-pw');
  const res = await cs(cloud, 'GET', '/servers/', { auth: await digestHeader('/servers/', 'digest-mailer@example.org', 'dm-pw') });
  assert.equal(res.status, 200, res.text);
  assertError(await cs(cloud, 'GET', '/servers/', { auth: await digestHeader('/servers/', 'digest-mailer@example.org', 'wrong') }), 401, 'permission');
});

test('after an email change, Digest by the old email is 401 and by the new one works once the password is set again', async () => {
  const id = await userWithEmail('moving-mailer', 'old-mailer@example.org', 'mm-pw');
  const patched = await cloud.req('PATCH', `/identity/v3/users/${id}`, { token: cloud.adminToken, body: { user: { email: 'new-mailer@example.org' } } });
  assert.equal(patched.status, 200, patched.text);
  assertError(await cs(cloud, 'GET', '/servers/', { auth: await digestHeader('/servers/', 'old-mailer@example.org', 'mm-pw') }), 401, 'permission');
  // The new email's secret is made when the password is next used (Basic) or set.
  assert.equal((await cs(cloud, 'GET', '/servers/', { auth: basic('new-mailer@example.org', 'mm-pw') })).status, 200);
  assert.equal((await cs(cloud, 'GET', '/servers/', { auth: await digestHeader('/servers/', 'new-mailer@example.org', 'mm-pw') })).status, 200);
});

test('login gives session and CSRF cookies; the session reads without the CSRF token', async () => {
  const login = await cs(cloud, 'POST', '/accounts/action/?do=login', { auth: null, body: { username: 'demo', password: DEMO_PASSWORD } });
  assert.equal(login.status, 200, login.text);
  const jar = sessionCookies(login);
  assert.ok(jar.sessionid && jar.csrftoken);
  const res = await cs(cloud, 'GET', '/servers/', { auth: null, headers: { cookie: `sessionid=${jar.sessionid}; csrftoken=${jar.csrftoken}` } });
  assert.equal(res.status, 200, res.text);
});

test('with a session, a POST without X-CSRFToken is 403 and with it is served', async () => {
  const jar = sessionCookies(await cs(cloud, 'POST', '/accounts/action/?do=login', { auth: null, body: { username: 'demo', password: DEMO_PASSWORD } }));
  const cookie = `sessionid=${jar.sessionid}; csrftoken=${jar.csrftoken}`;
  const body = { objects: [{ cpu: 1000, mem: 536870912, name: 'csrf', vnc_password: 'x' }] };
  assertError(await cs(cloud, 'POST', '/servers/', { auth: null, headers: { cookie }, body }), 403, 'permission');
  assertError(await cs(cloud, 'POST', '/servers/', { auth: null, headers: { cookie, 'x-csrftoken': 'forged' }, body }), 403, 'permission');
  const ok = await cs(cloud, 'POST', '/servers/', { auth: null, headers: { cookie, 'x-csrftoken': jar.csrftoken }, body });
  assert.equal(ok.status, 201, ok.text);
});

test('logout ends the session', async () => {
  const jar = sessionCookies(await cs(cloud, 'POST', '/accounts/action/?do=login', { auth: null, body: { username: 'demo', password: DEMO_PASSWORD } }));
  const cookie = `sessionid=${jar.sessionid}; csrftoken=${jar.csrftoken}`;
  const out = await cs(cloud, 'POST', '/accounts/action/?do=logout', { auth: null, headers: { cookie, 'x-csrftoken': jar.csrftoken } });
  assert.equal(out.status, 204, out.text);
  assertError(await cs(cloud, 'GET', '/servers/', { auth: null, headers: { cookie } }), 401, 'permission');
});

test('login with a wrong password is 401 and sets no cookie', async () => {
  const res = await cs(cloud, 'POST', '/accounts/action/?do=login', { auth: null, body: { username: 'demo', password: 'nope' } });
  assertError(res, 401, 'permission');
  assert.deepEqual(res.headers.getSetCookie(), []);
});

test('every answer has X-REQUEST-ID, errors and 401s included', async () => {
  for (const res of [await cs(cloud, 'GET', '/servers/'), await cs(cloud, 'GET', '/servers/', { auth: null }), await cs(cloud, 'GET', '/servers/00000000-0000-0000-0000-000000000000/')]) {
    assert.match(res.headers.get('x-request-id') ?? '', /^req-/);
  }
});

test('a request acts as the user in their project with its roles: a reader may list but not create', async () => {
  const user = await cloud.req('POST', '/identity/v3/users', { token: cloud.adminToken, body: { user: { name: 'watcher', password: 'watcher-pw', default_project_id: cloud.demoProjectId } } });
  const role = (await cloud.req('GET', '/identity/v3/roles?name=reader', { token: cloud.adminToken })).body.roles[0].id;
  await cloud.req('PUT', `/identity/v3/projects/${cloud.demoProjectId}/users/${user.body.user.id}/roles/${role}`, { token: cloud.adminToken });
  const auth = basic('watcher', 'watcher-pw');
  assert.equal((await cs(cloud, 'GET', '/servers/', { auth })).status, 200);
  assertError(await cs(cloud, 'POST', '/servers/', { auth, body: { cpu: 1000, mem: 536870912, name: 'no', vnc_password: 'x' } }), 403, 'permission');
});

// Basic and Digest checks are kept for 2 s like validated tokens; what takes authority away ends them at once.
async function memberUser(name: string, password: string) {
  const user = await cloud.req('POST', '/identity/v3/users', { token: cloud.adminToken, body: { user: { name, password, default_project_id: cloud.demoProjectId } } });
  assert.equal(user.status, 201, user.text);
  const role = (await cloud.req('GET', '/identity/v3/roles?name=member', { token: cloud.adminToken })).body.roles[0].id;
  const grant = `/identity/v3/projects/${cloud.demoProjectId}/users/${user.body.user.id}/roles/${role}`;
  assert.equal((await cloud.req('PUT', grant, { token: cloud.adminToken })).status, 204);
  const auth = basic(name, password);
  assert.equal((await cs(cloud, 'GET', '/servers/', { auth })).status, 200);
  return { id: user.body.user.id as string, grant, auth };
}

test('a role removed ends HTTP Basic access at once, not when a kept check expires', async () => {
  const u = await memberUser('role-loser', 'rl-pw');
  assert.equal((await cloud.req('DELETE', u.grant, { token: cloud.adminToken })).status, 204);
  assertError(await cs(cloud, 'GET', '/servers/', { auth: u.auth }), 401, 'permission');
});

test('a password change ends HTTP Basic with the old password at once', async () => {
  const u = await memberUser('pw-changer', 'old-pw');
  assert.equal((await cloud.req('PATCH', `/identity/v3/users/${u.id}`, { token: cloud.adminToken, body: { user: { password: 'new-pw' } } })).status, 200);
  assertError(await cs(cloud, 'GET', '/servers/', { auth: u.auth }), 401, 'permission');
  assert.equal((await cs(cloud, 'GET', '/servers/', { auth: basic('pw-changer', 'new-pw') })).status, 200);
});

test('a renamed user is not found by the old name at once', async () => {
  const u = await memberUser('old-name', 'on-pw');
  assert.equal((await cloud.req('PATCH', `/identity/v3/users/${u.id}`, { token: cloud.adminToken, body: { user: { name: 'new-name' } } })).status, 200);
  assertError(await cs(cloud, 'GET', '/servers/', { auth: u.auth }), 401, 'permission');
  assert.equal((await cs(cloud, 'GET', '/servers/', { auth: basic('new-name', 'on-pw') })).status, 200);
});

test('a disabled user is refused at once', async () => {
  const u = await memberUser('soon-disabled', 'sd-pw');
  assert.equal((await cloud.req('PATCH', `/identity/v3/users/${u.id}`, { token: cloud.adminToken, body: { user: { enabled: false } } })).status, 200);
  assertError(await cs(cloud, 'GET', '/servers/', { auth: u.auth }), 401, 'permission');
});
