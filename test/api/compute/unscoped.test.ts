/**
 * A token without a project (an unscoped token, as a user with no role anywhere gets)
 * passes keystonemiddleware, but Nova's require_context refuses a non-admin context without
 * a project: 403 "Forbidden". Nimbus answers so on every compute route that needs a token.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { startCloud, type TestCloud } from '../../support.js';
import { computeApi } from '../../../src/api/compute/index.js';

let cloud: TestCloud;
let unscoped: string;
before(async () => {
  cloud = await startCloud();
  const t = cloud.adminToken;
  const user = await cloud.req('POST', '/identity/v3/users', { token: t, body: { user: { name: 'no-role', password: 'no-role-pw' } } });
  assert.equal(user.status, 201);
  const res = await cloud.req('POST', '/identity/v3/auth/tokens', {
    body: { auth: { identity: { methods: ['password'], password: { user: { name: 'no-role', domain: { id: 'default' }, password: 'no-role-pw' } } } } },
  });
  assert.equal(res.status, 201);
  assert.equal(res.body.token.project, undefined);
  unscoped = res.headers.get('x-subject-token')!;
});
after(async () => cloud.close());

/**
 * Every compute route and method, as the compute plugin registers them (HEAD left out): a
 * resource is one route for every method, whose config names the methods it serves.
 */
async function computeRoutes(): Promise<{ method: string; url: string }[]> {
  const routes: { method: string; url: string }[] = [];
  const app = Fastify();
  app.addHook('onRoute', (r) => {
    const allowed = (r.config as { allowedMethods?: string[] } | undefined)?.allowedMethods;
    const methods = allowed ?? (typeof r.method === 'string' ? [r.method] : []);
    for (const method of methods) if (method !== 'HEAD') routes.push({ method, url: r.url });
  });
  await app.register(computeApi(cloud.services), { prefix: '/compute' });
  await app.ready();
  await app.close();
  return routes;
}

const forbidden = { forbidden: { code: 403, message: 'Forbidden' } };

test('a token without a project is 403 Forbidden on every compute route that needs a token', async () => {
  const routes = await computeRoutes();
  assert.ok(routes.length > 100, `only ${routes.length} compute routes found`);
  let checked = 0;
  for (const r of routes) {
    const path = r.url.replace(/:\w+/g, 'x');
    const body = ['POST', 'PUT', 'PATCH'].includes(r.method) ? {} : undefined;
    // The version documents need no token at all.
    if ((await cloud.req(r.method, path, { body })).status !== 401) continue;
    const res = await cloud.req(r.method, path, { token: unscoped, body });
    assert.equal(res.status, 403, `${r.method} ${r.url}: ${res.status} ${res.text}`);
    assert.deepEqual(res.body, forbidden, `${r.method} ${r.url}`);
    checked++;
  }
  assert.ok(checked > 100, `only ${checked} routes needed a token`);
});

test('a token without a project can neither create a keypair nor read limits or flavors', async () => {
  const keypair = await cloud.req('POST', '/compute/v2.1/os-keypairs', { token: unscoped, body: { keypair: { name: 'k1' } } });
  assert.equal(keypair.status, 403);
  assert.deepEqual((await cloud.req('GET', '/compute/v2.1/os-keypairs', { token: cloud.adminToken })).body.keypairs, []);
  for (const path of ['/limits', '/flavors', '/flavors/detail', '/flavors/1']) {
    assert.equal((await cloud.req('GET', `/compute/v2.1${path}`, { token: unscoped })).status, 403, path);
  }
});

test('an unknown compute path is still 404 and a wrong method 405 for a token without a project, as routing comes first', async () => {
  assert.equal((await cloud.req('GET', '/compute/v2.1/no-such-thing', { token: unscoped })).status, 404);
  assert.equal((await cloud.req('PATCH', '/compute/v2.1/flavors', { token: unscoped, body: {} })).status, 405);
});

test('the same token still reads the compute version document, which needs no token', async () => {
  assert.equal((await cloud.req('GET', '/compute/v2.1', { token: unscoped })).status, 200);
});

test('a project-scoped token is unaffected', async () => {
  assert.equal((await cloud.req('GET', '/compute/v2.1/limits', { token: cloud.demoToken })).status, 200);
});

test('images: a token without a project sees no image and cannot create one, as Glance answers without a project', async () => {
  const list = await cloud.req('GET', '/image/v2/images', { token: unscoped });
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.images, []);
  const publicImage = (await cloud.req('GET', '/image/v2/images', { token: cloud.demoToken })).body.images[0].id;
  assert.equal((await cloud.req('GET', `/image/v2/images/${publicImage}`, { token: unscoped })).status, 404);
  assert.equal((await cloud.req('POST', '/image/v2/images', { token: unscoped, body: { name: 'x' } })).status, 403);
});

test('networks: a token without a project lists nothing and cannot create a network, as Neutron answers without a project', async () => {
  assert.equal((await cloud.req('GET', '/network/v2.0/networks', { token: unscoped })).status, 403);
  const create = await cloud.req('POST', '/network/v2.0/networks', { token: unscoped, body: { network: { name: 'n' } } });
  assert.equal(create.status, 400);
  assert.match(create.body.NeutronError.message, /tenant_id is specified/);
});
