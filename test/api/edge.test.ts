/**
 * The rules every request meets at the edge, whatever its API (src/api/edge.ts): examples
 * from issue 11 in each dialect. test/api/fuzz.test.ts runs the same classes over every route.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { PG_URL, startCloud, type TestCloud } from '../support.js';
import { DATA_EXCEPTION_MESSAGE, toNimbusError } from '../../src/api/http.js';

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

test('a NUL in a body the Compute API reads without a schema (os-security-groups) is a 400 naming the field', async () => {
  const res = await cloud.req('POST', '/compute/v2.1/os-security-groups', { token: cloud.demoToken, version: '2.35', body: { security_group: { name: 'a\u0000b', description: 'd' } } });
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.badRequest.message, "Invalid input for field/attribute name. Value: 'a\\x00b'. The NUL character is not allowed");
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

test("a JSON number past 2^53 (1e308) is not of type 'integer' in any schema, before its bounds, as Python reads a float", async () => {
  const res = await cloud.req('PUT', `/compute/v2.1/os-quota-sets/${cloud.demoProjectId}`, {
    token: cloud.adminToken,
    raw: '{"quota_set": {"instances": 1e308}}',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.badRequest.message, "Invalid input for field/attribute instances. Value: 1e+308. 1e+308 is not of type 'integer', 'string'");
});

test('a NUL the edge missed is refused by SQLite as PostgreSQL refuses it: the same 400 on both databases', async () => {
  const err = await sql`select ${'a\u0000b'} as t`.execute(cloud.services.db).then(
    () => assert.fail('the database took a NUL'),
    (e: unknown) => e,
  );
  const known = toNimbusError(err);
  assert.equal(known?.status, 400, String(err));
  assert.equal(known?.message, DATA_EXCEPTION_MESSAGE);
  assert.equal((err as { code?: string }).code, '22021');
});

test('a PostgreSQL data exception the edge missed (SQLSTATE class 22) is a 400, never a 500', { skip: !PG_URL && 'PostgreSQL only' }, async () => {
  const errors: unknown[] = [];
  // Out of range (22003), not an integer (22P02), a NUL in text (22021).
  for (const query of [sql`select cast('2147483648' as integer)`, sql`select cast('1.5' as integer)`, sql`select cast(${'a\u0000b'} as text)`]) {
    await query.execute(cloud.services.db).then(
      () => assert.fail(`PostgreSQL took ${query.compile(cloud.services.db).sql}`),
      (err) => errors.push(err),
    );
  }
  for (const err of errors) {
    const known = toNimbusError(err);
    assert.equal(known?.status, 400, String(err));
    assert.equal(known?.message, DATA_EXCEPTION_MESSAGE);
  }
});
