import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

const admin = (method: string, path: string, body?: unknown) => cloud.req(method, `/identity/v3${path}`, { token: cloud.adminToken, body });
const defaultDomain = () => ({
  id: 'default',
  name: 'Default',
  description: 'The default domain',
  enabled: true,
  tags: [],
  options: {},
  links: { self: `${cloud.url}/identity/v3/domains/default` },
});

test('the domain list holds only the default domain', async () => {
  const res = await admin('GET', '/domains');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { domains: [defaultDomain()], links: { self: `${cloud.url}/identity/v3/domains`, previous: null, next: null } });
});

test('the domain list filters by name', async () => {
  assert.deepEqual((await admin('GET', '/domains?name=Default')).body.domains, [defaultDomain()]);
  assert.deepEqual((await admin('GET', '/domains?name=Other')).body.domains, []);
});

test('the domain list filters by enabled', async () => {
  assert.deepEqual((await admin('GET', '/domains?enabled=false')).body.domains, []);
});

test('the default domain is shown by id', async () => {
  const res = await admin('GET', '/domains/default');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { domain: defaultDomain() });
});

test('any authenticated user may show the default domain', async () => {
  const res = await cloud.req('GET', '/identity/v3/domains/default', { token: cloud.demoToken });
  assert.equal(res.status, 200);
});

test('an unknown domain is 404', async () => {
  const res = await admin('GET', '/domains/elsewhere');
  assert.equal(res.status, 404);
  assert.equal(res.body.error.message, 'Could not find domain: elsewhere.');
});

test('creating a domain is 501: only the default domain exists', async () => {
  const res = await admin('POST', '/domains', { domain: { name: 'Other' } });
  assert.equal(res.status, 501);
  assert.deepEqual(res.body.error.code, 501);
  assert.match(res.body.error.message, /only the default domain/);
});

test('updating or deleting the default domain is 501', async () => {
  assert.equal((await admin('PATCH', '/domains/default', { domain: { name: 'Renamed' } })).status, 501);
  assert.equal((await admin('DELETE', '/domains/default')).status, 501);
  assert.equal((await admin('GET', '/domains/default')).body.domain.name, 'Default');
});

test('an unsupported method on domains is 405', async () => {
  assert.equal((await admin('PUT', '/domains/default', { domain: {} })).status, 405);
});
