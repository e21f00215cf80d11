/**
 * The rules every request meets at the edge, whatever its API (src/api/edge.ts): examples
 * from issue 11 in each dialect. test/api/fuzz.test.ts runs the same classes over every route.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../support.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

test('a NUL in a path id is a 400 naming the parameter, in Nova\'s dialect', async () => {
  const res = await cloud.req('GET', '/compute/v2.1/servers/%00', { token: cloud.demoToken });
  assert.equal(res.status, 400);
  assert.equal(res.body.badRequest.message, "Invalid input for path parameter id. Value: '\\x00'. The NUL character is not allowed.");
});

test('a NUL in a JSON string is a 400 naming the field, in Neutron\'s dialect', async () => {
  const res = await cloud.req('POST', '/network/v2.0/networks', { token: cloud.demoToken, body: { network: { name: 'a\u0000b' } } });
  assert.equal(res.status, 400);
  assert.equal(res.body.NeutronError.type, 'HTTPBadRequest');
  assert.equal(res.body.NeutronError.message, "Invalid input for field/attribute network.name. Value: 'a\\x00b'. The NUL character is not allowed.");
});

test('a NUL in a query value is a 400 naming the parameter, in Keystone\'s dialect', async () => {
  const res = await cloud.req('GET', '/identity/v3/projects?name=%00', { token: cloud.adminToken });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.message, "Invalid input for query parameter name. Value: '\\x00'. The NUL character is not allowed.");
});

test('a NUL in a JSON key (a metadata key) is a 400 naming the object that holds it', async () => {
  const image = await cloud.req('POST', '/image/v2/images', { token: cloud.demoToken, body: { name: 'nul-key', 'k\u0000': 'v' } });
  assert.equal(image.status, 400);
  assert.equal(image.body.error.message, "Invalid input for field/attribute body. Value: 'k\\x00'. The NUL character is not allowed.");
});

test('a JSON number too large for a double (1e400) is a 400 naming its field', async () => {
  const res = await cloud.req('POST', '/nimbus/v1/behaviours', {
    token: cloud.adminToken,
    raw: '{"behaviour": {"count": 1e400}}',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.message, 'Invalid input for field/attribute count. Value: inf. The number is out of range.');
});
