/**
 * The regular expressions callers send (the servers list's name, ip and ip6 filters, the
 * control API's behaviour match) run on an engine that cannot backtrack, read as Python's
 * re.search reads them (Nova's reading). What that costs is in bench/run.ts's regex case.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { bootServer, tenant, type Tenant } from './server-fixtures.js';

let cloud: TestCloud;
let t: Tenant;
/** A name that makes a backtracking engine try 2^40 ways to fail `^(a+)+$`. */
const CRAFTED = 'a'.repeat(40) + '!';
const ids: Record<string, string> = {};

before(async () => {
  cloud = await startCloud();
  t = await tenant(cloud, 'patterns');
  for (const name of [CRAFTED, 'a'.repeat(40), 'Web-1', 'wëb-2', 'db-{1}']) ids[name] = await bootServer(cloud, t.token, { name });
});
after(async () => cloud.close());

async function names(query: string): Promise<string[]> {
  const res = await cloud.req('GET', `/compute/v2.1/servers?${query}`, { token: t.token });
  assert.equal(res.status, 200, res.text);
  return res.body.servers.map((s: { name: string }) => s.name).sort();
}

test('a catastrophic-backtracking name filter against a crafted 41-character name answers, and correctly', async () => {
  assert.deepEqual(await names(`name=${encodeURIComponent('^(a+)+$')}`), ['a'.repeat(40)]);
});

test("the name filter reads patterns as Python's re.search: inline flags, Unicode \\w, {,n} and literal braces", async () => {
  assert.deepEqual(await names(`name=${encodeURIComponent('(?i)^WEB-')}`), ['Web-1']);
  assert.deepEqual(await names(`name=${encodeURIComponent('^\\w{3}-\\d$')}`), ['Web-1', 'wëb-2']);
  assert.deepEqual(await names(`name=${encodeURIComponent('^db-\\{1}$|^W{,1}eb')}`), ['Web-1', 'db-{1}']);
});

test('a pattern that needs backtracking (lookahead, a backreference) is 400 naming the filter', async () => {
  for (const [field, pattern] of [['name', 'web(?=-1)'], ['name', '(a)\\1'], ['ip', '^10(?!\\.)']]) {
    const res = await cloud.req('GET', `/compute/v2.1/servers?${field}=${encodeURIComponent(pattern)}`, { token: t.token });
    assert.equal(res.status, 400, `${field}=${pattern}: ${res.text}`);
    assert.match(res.body.badRequest.message, new RegExp(`^Invalid regular expression for ${field}: `));
  }
});

test('a pattern too large to match any name cheaply is 400 naming the filter', async () => {
  const res = await cloud.req('GET', `/compute/v2.1/servers?name=${encodeURIComponent('(?:[\\w.]{20}){12}')}`, { token: t.token });
  assert.equal(res.status, 400, res.text);
  assert.match(res.body.badRequest.message, /^Invalid regular expression for name: .*too large/);
});

test('the control API refuses a behaviour whose name match needs backtracking, naming match.name', async () => {
  const res = await cloud.req('POST', '/nimbus/v1/behaviours', { token: cloud.adminToken, body: { behaviour: { match: { name: '^(?!keep)' }, count: 1 } } });
  assert.equal(res.status, 400, res.text);
  assert.match(res.body.error.message, /^Invalid regular expression for match\.name: /);
});

test("a behaviour's catastrophic-backtracking name match against a crafted build name lets the build settle", async () => {
  const behaviour = await cloud.req('POST', '/nimbus/v1/behaviours', {
    token: cloud.adminToken,
    body: { behaviour: { match: { name: '^(a+)+$' }, count: 1, fault: { message: 'matched' } } },
  });
  assert.equal(behaviour.status, 201, behaviour.text);
  const id = await bootServer(cloud, t.token, { name: CRAFTED });
  const server = (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: t.token })).body.server;
  assert.equal(server.status, 'ACTIVE', 'the crafted name does not match, so the behaviour is not used');
  await cloud.req('DELETE', `/nimbus/v1/behaviours/${behaviour.body.behaviour.id}`, { token: cloud.adminToken });
});
