/**
 * Who may list what, as nova/api/openstack/compute/servers.py decides it: all_tenants
 * answers to the get_all_tenants policies, host and node are admin-only sort keys, and
 * a caller without allow_all_filters has the filters of its microversion only (Nova drops
 * the others without a word).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { bootServer, tenant, type Tenant } from './server-fixtures.js';

let cloud: TestCloud;
let member: Tenant;
let mine: string;
let theirs: string;
before(async () => {
  cloud = await startCloud();
  member = await tenant(cloud, 'lister');
  mine = await bootServer(cloud, member.token, { name: 'mine' });
  theirs = await bootServer(cloud, (await tenant(cloud, 'neighbour')).token, { name: 'theirs' });
});
after(async () => cloud.close());

const list = (query: string, token = member.token, version?: string) => cloud.req('GET', `/compute/v2.1/servers${query}`, { token, version });
const ids = (res: { body: { servers: { id: string }[] } }) => res.body.servers.map((s) => s.id).sort();

test('a member asking for all_tenants is 403 with the get_all_tenants policy message, on index and detail', async () => {
  for (const [path, rule] of [['', 'index'], ['/detail', 'detail']]) {
    for (const value of ['1', 'True', 'yes', '']) {
      const res = await list(`${path}?all_tenants=${value}`);
      assert.equal(res.status, 403, `${path} all_tenants=${value}: ${res.text}`);
      assert.deepEqual(res.body, { forbidden: { code: 403, message: `Policy doesn't allow os_compute_api:servers:${rule}:get_all_tenants to be performed.` } });
    }
  }
});

test('all_tenants=0 or false is the caller’s own servers, for a member too', async () => {
  for (const value of ['0', 'false', 'False', 'off']) {
    const res = await list(`/detail?all_tenants=${value}`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(ids(res), [mine]);
  }
});

test('an admin with all_tenants sees every project’s servers', async () => {
  const res = await list('/detail?all_tenants=1', cloud.adminToken);
  assert.equal(res.status, 200);
  assert.ok([mine, theirs].every((id) => ids(res).includes(id)));
});

test('an all_tenants value that is not a boolean is 400 with oslo’s message', async () => {
  const res = await list('?all_tenants=everyone', cloud.adminToken);
  assert.equal(res.status, 400);
  assert.equal(
    res.body.badRequest.message,
    "Invalid input received: Unrecognized value 'everyone', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'",
  );
});

test('a member sorting by host or node is 403 "Only administrators can sort servers by …"', async () => {
  for (const key of ['host', 'node']) {
    for (const path of ['', '/detail']) {
      const res = await list(`${path}?sort_key=${key}`);
      assert.equal(res.status, 403, res.text);
      assert.equal(res.body.forbidden.message, `Only administrators can sort servers by ${key}`);
    }
  }
  const mixed = await list('/detail?sort_key=display_name&sort_key=host');
  assert.equal(mixed.status, 403);
});

test('an admin may sort by host and by node', async () => {
  for (const key of ['host', 'node']) {
    const res = await list(`/detail?all_tenants=1&sort_key=${key}&sort_dir=asc`, cloud.adminToken, '2.3');
    assert.equal(res.status, 200, res.text);
    const hosts = res.body.servers.map((s: Record<string, string>) => s['OS-EXT-SRV-ATTR:host']);
    assert.deepEqual(hosts, [...hosts].sort());
  }
});

test('a member’s admin-only filters are dropped, as Nova drops them: host, project_id, user_id before 2.83', async () => {
  for (const q of ['host=no-such-host', `project_id=${cloud.adminProjectId}&all_tenants=0`, 'user_id=nobody', 'availability_zone=nowhere', 'deleted=true']) {
    const res = await list(`/detail?${q}`);
    assert.equal(res.status, 200, `${q}: ${res.text}`);
    assert.deepEqual(ids(res), [mine], q);
  }
});

test('from 2.83 a member may filter by availability_zone and user_id', async () => {
  assert.deepEqual(ids(await list('/detail?availability_zone=nowhere', member.token, '2.83')), []);
  assert.deepEqual(ids(await list('/detail?availability_zone=nova', member.token, '2.83')), [mine]);
  assert.deepEqual(ids(await list('/detail?user_id=nobody', member.token, '2.83')), []);
  assert.deepEqual(ids(await list(`/detail?user_id=${member.userId}`, member.token, '2.83')), [mine]);
});

test('a member’s ip6 filter counts from 2.5, as Nova lists it then', async () => {
  assert.deepEqual(ids(await list('/detail?ip6=^no-such-address$', member.token, '2.4')), [mine]);
  assert.deepEqual(ids(await list('/detail?ip6=^no-such-address$', member.token, '2.5')), []);
});
