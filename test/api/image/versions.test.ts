import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

test('GET /image lists the versions with 300 Multiple Choices and needs no token', async () => {
  const res = await cloud.req('GET', '/image');
  assert.equal(res.status, 300);
  assert.match(res.headers.get('content-type')!, /^application\/json/);
  const ids = res.body.versions.map((v: { id: string }) => v.id);
  assert.equal(ids[0], 'v2.15');
  assert.ok(ids.includes('v2.0'));
  assert.equal(res.body.versions.filter((v: { status: string }) => v.status === 'CURRENT').length, 1);
});

test('every version links to the v2 API under /image', async () => {
  const res = await cloud.req('GET', '/image/');
  for (const v of res.body.versions) assert.deepEqual(v.links, [{ rel: 'self', href: `${cloud.url}/image/v2/` }]);
});

test('GET /image/versions asks explicitly and answers 200', async () => {
  const res = await cloud.req('GET', '/image/versions');
  assert.equal(res.status, 200);
  assert.equal(res.body.versions[0].id, 'v2.15');
});

test('the v2 API itself needs a token: 401 in Keystone format with WWW-Authenticate', async () => {
  const res = await cloud.req('GET', '/image/v2/images');
  assert.equal(res.status, 401);
  assert.equal(res.body.error.code, 401);
  assert.match(res.headers.get('www-authenticate')!, /^Keystone uri=".*\/identity"$/);
});

test('a bad token is 401', async () => {
  const res = await cloud.req('GET', '/image/v2/images', { token: 'nope' });
  assert.equal(res.status, 401);
});
