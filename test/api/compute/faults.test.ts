import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud, type Response } from '../../support.js';
import { fault } from './accounts.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

const flavor = (extra: Record<string, unknown> = {}) => ({ flavor: { name: `f-${Math.random().toString(36).slice(2)}`, ram: 64, vcpus: 1, disk: 1, ...extra } });
const create = (opts: Parameters<TestCloud['req']>[2]) => cloud.req('POST', '/compute/v2.1/flavors', { token: cloud.adminToken, ...opts });

/** Nova's error bodies come as application/json; charset=UTF-8, which Tempest accepts. */
function assertFault(res: Response, status: number, name: string, message?: string | RegExp) {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json(; ?charset=utf-8)?$/i);
  const f = fault(res.body);
  assert.equal(f.name, name);
  assert.equal(f.code, status);
  if (typeof message === 'string') assert.equal(f.message, message);
  else if (message) assert.match(f.message, message);
}

function assertRequestIds(res: Response) {
  const id = res.headers.get('x-openstack-request-id');
  assert.match(id ?? '', /^req-[0-9a-f-]{36}$/);
  assert.equal(res.headers.get('x-compute-request-id'), id);
}

test('every response carries x-openstack-request-id and the same x-compute-request-id, errors included', async () => {
  const responses = [
    await cloud.req('GET', '/compute/'),
    await cloud.req('GET', '/compute/v2.1/'),
    await cloud.req('GET', '/compute/v2.1/flavors', { token: cloud.adminToken }),
    await cloud.req('GET', '/compute/v2.1/flavors'),
    await cloud.req('GET', '/compute/v2.1/flavors/nope', { token: cloud.adminToken }),
    await cloud.req('GET', '/compute/v2.1/nowhere', { token: cloud.adminToken }),
    await cloud.req('GET', '/compute/v2.1/flavors', { token: cloud.adminToken, version: '9.99' }),
    await create({ raw: '{"flavor": ', headers: { 'content-type': 'application/json' } }),
  ];
  for (const res of responses) assertRequestIds(res);
  const ids = new Set(responses.map((r) => r.headers.get('x-openstack-request-id')));
  assert.equal(ids.size, responses.length, 'each request has its own id');
});

test('a request without a token is 401 in Keystone’s format, before anything else', async () => {
  for (const [method, path] of [['GET', '/compute/v2.1/flavors'], ['GET', '/compute/v2.1/nowhere'], ['POST', '/compute/v2.1/flavors']]) {
    const res = await cloud.req(method, path, { version: '9.99', body: method === 'POST' ? {} : undefined });
    assert.equal(res.status, 401, `${method} ${path}`);
    assert.deepEqual(res.body, { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
    assert.match(res.headers.get('www-authenticate') ?? '', /^Keystone uri="/);
    assert.equal(res.headers.get('openstack-api-version'), null);
  }
});

test('an unknown token is 401', async () => {
  const res = await cloud.req('GET', '/compute/v2.1/flavors', { token: 'nbnotatoken' });
  assert.equal(res.status, 401);
  assert.equal(res.body.error.code, 401);
});

test('malformed JSON is 400 "Malformed request body"', async () => {
  const res = await create({ raw: '{"flavor": ', headers: { 'content-type': 'application/json' } });
  assertFault(res, 400, 'badRequest', 'Malformed request body');
  assert.equal(res.headers.get('openstack-api-version'), 'compute 2.1');
});

test('a content type Nova does not read is 415 badMediaType', async () => {
  for (const type of ['application/xml', 'application/x-www-form-urlencoded']) {
    const res = await create({ raw: JSON.stringify(flavor()), headers: { 'content-type': type } });
    assertFault(res, 415, 'badMediaType', 'Unsupported Content-Type');
  }
});

test('a JSON body sent as text/plain, or with no content type, is read as JSON as Nova does', async () => {
  const plain = await create({ raw: JSON.stringify(flavor()), headers: { 'content-type': 'text/plain' } });
  assert.equal(plain.status, 200, plain.text);
  const res = await fetch(`${cloud.url}/compute/v2.1/flavors`, {
    method: 'POST',
    headers: { 'x-auth-token': cloud.adminToken },
    body: new Blob([JSON.stringify(flavor())]), // a Blob without a type sends no content type
  });
  assert.equal(res.status, 200, await res.clone().text());
});

test('the vendor media type application/vnd.openstack.compute+json is JSON', async () => {
  const res = await create({ raw: JSON.stringify(flavor()), headers: { 'content-type': 'application/vnd.openstack.compute+json' } });
  assert.equal(res.status, 200, res.text);
});

test('an unknown field is 400 naming it', async () => {
  const res = await create({ body: flavor({ colour: 'blue' }) });
  assertFault(res, 400, 'badRequest', /^Invalid input for field\/attribute flavor\. Value: .*Additional properties are not allowed \('colour' was unexpected\)$/);
});

test('a field of the wrong type is 400 naming the field', async () => {
  const res = await create({ body: flavor({ ram: true }) });
  assertFault(res, 400, 'badRequest', "Invalid input for field/attribute ram. Value: True. True is not of type 'integer', 'string'");
});

test('a missing body is 400', async () => {
  const res = await create({});
  assertFault(res, 400, 'badRequest', "None is not of type 'object'");
});

test('a body over 114688 bytes is 413 overLimit', async () => {
  const big = JSON.stringify(flavor({ description: 'x'.repeat(120000) }));
  const res = await create({ raw: big, headers: { 'content-type': 'application/json' }, version: '2.55' });
  assertFault(res, 413, 'overLimit');
  assert.equal(res.headers.get('retry-after'), null); // with it, Tempest would call it a rate limit
});

test('a body just under the limit is read', async () => {
  const body = flavor({ description: "" }) as { flavor: Record<string, unknown> };
  const pad = 114688 - JSON.stringify(body).length;
  body.flavor.description = 'x'.repeat(Math.min(pad, 65535));
  const res = await create({ body, version: '2.55' });
  assert.equal(res.status, 200, res.text.slice(0, 200));
});

test('an unknown path is 404 itemNotFound', async () => {
  const res = await cloud.req('GET', '/compute/v2.1/nowhere', { token: cloud.adminToken });
  assertFault(res, 404, 'itemNotFound', 'The resource could not be found.');
  assert.equal(res.headers.get('openstack-api-version'), 'compute 2.1');
});

test('an unknown path outside any version is 404 itemNotFound', async () => {
  const res = await cloud.req('GET', '/compute/v3/', { token: cloud.adminToken });
  assertFault(res, 404, 'itemNotFound');
});

test('a method a resource does not have is 405 badMethod', async () => {
  for (const [method, path] of [['PATCH', '/compute/v2.1/flavors'], ['DELETE', '/compute/v2.1/flavors'], ['POST', '/compute/v2.1/flavors/1/os-flavor-access']]) {
    const res = await cloud.req(method, path, { token: cloud.adminToken });
    assertFault(res, 405, 'badMethod', 'The method specified is not allowed for this resource.');
  }
});
