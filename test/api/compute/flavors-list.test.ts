import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { fault, memberOfProject } from './accounts.js';

let cloud: TestCloud;
let member: { token: string; projectId: string };
let privateId: string;
before(async () => {
  cloud = await startCloud();
  member = await memberOfProject(cloud, 'flavor-lister');
  // One private flavor, shared with the member's project; another no one may use.
  const shared = await cloud.req('POST', '/compute/v2.1/flavors', {
    token: cloud.adminToken,
    body: { flavor: { name: 'private.shared', id: 'p1', ram: 1024, vcpus: 1, disk: 10, 'os-flavor-access:is_public': false } },
  });
  privateId = shared.body.flavor.id;
  await cloud.req('POST', `/compute/v2.1/flavors/${privateId}/action`, { token: cloud.adminToken, body: { addTenantAccess: { tenant: member.projectId } } });
  await cloud.req('POST', '/compute/v2.1/flavors', {
    token: cloud.adminToken,
    body: { flavor: { name: 'private.hidden', id: 'p2', ram: 1024, vcpus: 1, disk: 10, 'os-flavor-access:is_public': 'False' } },
  });
});
after(async () => cloud.close());

const list = (query = '', opts: { token?: string; version?: string; detail?: boolean } = {}) =>
  cloud.req('GET', `/compute/v2.1/flavors${opts.detail ? '/detail' : ''}${query}`, { token: opts.token ?? cloud.adminToken, version: opts.version });
const ids = (res: { body: { flavors: { id: string }[] } }) => res.body.flavors.map((f) => f.id);

// Nova's key order (nova-golden 68, 69, 70).
const SUMMARY_KEYS = ['id', 'name', 'links'];
const DETAIL_KEYS_21 = ['id', 'name', 'ram', 'disk', 'swap', 'OS-FLV-EXT-DATA:ephemeral', 'OS-FLV-DISABLED:disabled', 'vcpus', 'os-flavor-access:is_public', 'rxtx_factor', 'links'];
const DETAIL_KEYS_LATEST = [...DETAIL_KEYS_21, 'description', 'extra_specs'];

test('GET /flavors lists the public flavors by id, each with id, name and self and bookmark links', async () => {
  const res = await list();
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.deepEqual(ids(res), ['1', '2', '3', '4', '5']);
  const tiny = res.body.flavors[0];
  assert.deepEqual(Object.keys(tiny), SUMMARY_KEYS);
  assert.deepEqual(tiny, {
    id: '1',
    name: 'm1.tiny',
    links: [
      { rel: 'self', href: `${cloud.url}/compute/v2.1/flavors/1` },
      { rel: 'bookmark', href: `${cloud.url}/compute/flavors/1` },
    ],
  });
  assert.equal(res.body.flavors_links, undefined);
});

test('GET /flavors/detail at 2.1 has Nova’s keys, swap "" and rxtx_factor as a float', async () => {
  const res = await list('', { detail: true });
  assert.equal(res.status, 200);
  const tiny = res.body.flavors[0];
  assert.deepEqual(Object.keys(tiny), DETAIL_KEYS_21);
  assert.deepEqual(
    { ...tiny, links: undefined },
    { id: '1', name: 'm1.tiny', ram: 512, disk: 1, swap: '', 'OS-FLV-EXT-DATA:ephemeral': 0, 'OS-FLV-DISABLED:disabled': false, vcpus: 1, 'os-flavor-access:is_public': true, rxtx_factor: 1, links: undefined },
  );
  assert.match(res.text, /"rxtx_factor":1\.0,/);
});

test('GET /flavors/detail at latest adds description and extra_specs and says swap 0', async () => {
  const res = await list('', { detail: true, version: 'latest' });
  const tiny = res.body.flavors[0];
  assert.deepEqual(Object.keys(tiny), DETAIL_KEYS_LATEST);
  assert.equal(tiny.swap, 0);
  assert.equal(tiny.description, null);
  assert.deepEqual(tiny.extra_specs, {});
});

test('from 2.55 the summary list carries the description', async () => {
  const res = await list('', { version: '2.55' });
  assert.deepEqual(Object.keys(res.body.flavors[0]), [...SUMMARY_KEYS, 'description']);
});

test('a minRam or minDisk beyond any flavor size (2147483648) lists no flavors', async () => {
  assert.deepEqual(ids(await list('?minRam=2147483648')), []);
  assert.deepEqual(ids(await list('?minDisk=99999999999', { detail: true })), []);
});

test('minRam and minDisk keep flavors at least that big', async () => {
  assert.deepEqual(ids(await list('?minRam=4096')), ['3', '4', '5']);
  assert.deepEqual(ids(await list('?minDisk=80')), ['4', '5']);
  assert.deepEqual(ids(await list('?minRam=2048&minDisk=40', { detail: true })), ['3', '4', '5']);
});

test('an invalid minRam or minDisk is 400 naming the filter', async () => {
  const ram = await list('?minRam=big');
  assert.equal(ram.status, 400);
  assert.deepEqual(fault(ram.body), { name: 'badRequest', code: 400, message: 'Invalid minRam filter [big]' });
  const disk = await list('?minDisk=1.5', { detail: true });
  assert.equal(disk.status, 400);
  assert.equal(fault(disk.body).message, 'Invalid minDisk filter [1.5]');
});

test('sort_key and sort_dir order the list', async () => {
  assert.deepEqual(ids(await list('?sort_key=memory_mb&sort_dir=desc')), ['5', '4', '3', '2', '1']);
  assert.deepEqual(ids(await list('?sort_key=name')), ['4', '3', '2', '1', '5']);
  assert.deepEqual(ids(await list('?sort_dir=desc')), ['5', '4', '3', '2', '1']);
  // flavor ids sort as text, as in Nova
  assert.deepEqual(ids(await list('?sort_key=flavorid&is_public=none')), ['1', '2', '3', '4', '5', 'p1', 'p2']);
});

test('an unknown sort_key or sort_dir is 400', async () => {
  const key = await list('?sort_key=colour');
  assert.equal(key.status, 400);
  assert.match(fault(key.body).message, /^Invalid input for query parameters sort_key\. Value: colour\. 'colour' is not one of \['created_at', /);
  const dir = await list('?sort_dir=up');
  assert.equal(dir.status, 400);
  assert.equal(fault(dir.body).message, "Invalid input for query parameters sort_dir. Value: up. 'up' is not one of ['asc', 'desc']");
});

test('limit pages the list and flavors_links points at the next page after the marker', async () => {
  const first = await list('?limit=2');
  assert.deepEqual(ids(first), ['1', '2']);
  assert.deepEqual(first.body.flavors_links, [{ rel: 'next', href: `${cloud.url}/compute/v2.1/flavors?limit=2&marker=2` }]);
  const second = await cloud.req('GET', first.body.flavors_links[0].href.slice(cloud.url.length), { token: cloud.adminToken });
  assert.deepEqual(ids(second), ['3', '4']);
  const third = await cloud.req('GET', second.body.flavors_links[0].href.slice(cloud.url.length), { token: cloud.adminToken });
  assert.deepEqual(ids(third), ['5']);
  assert.equal(third.body.flavors_links, undefined);
});

test('the detail list pages to /flavors/detail, keeping the other parameters sorted and the marker last', async () => {
  const res = await list('?minRam=1024&limit=1&sort_dir=desc', { detail: true });
  assert.deepEqual(ids(res), ['5']);
  assert.equal(res.body.flavors_links[0].href, `${cloud.url}/compute/v2.1/flavors/detail?limit=1&minRam=1024&sort_dir=desc&marker=5`);
});

test('a marker pages in the sort order', async () => {
  assert.deepEqual(ids(await list('?marker=3')), ['4', '5']);
  assert.deepEqual(ids(await list('?marker=3&sort_dir=desc')), ['2', '1']);
  assert.deepEqual(ids(await list('?marker=2&sort_key=name')), ['1', '5']);
});

test('limit=0 gives an empty list', async () => {
  const res = await list('?limit=0');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { flavors: [] });
});

test('a negative or non-numeric limit is 400', async () => {
  const negative = await list('?limit=-1');
  assert.equal(negative.status, 400);
  assert.equal(fault(negative.body).message, "Invalid input for query parameters limit. Value: -1. '-1' does not match '^[0-9]*$'");
  const word = await list('?limit=ten', { detail: true });
  assert.equal(word.status, 400);
  assert.match(fault(word.body).message, /^Invalid input for query parameters limit\./);
});

test('an unknown marker is 400', async () => {
  const res = await list('?marker=nope');
  assert.equal(res.status, 400);
  assert.deepEqual(fault(res.body), { name: 'badRequest', code: 400, message: 'marker [nope] not found' });
});

test('a marker the caller cannot see is unknown to them', async () => {
  const res = await list('?marker=p2', { token: member.token });
  assert.equal(res.status, 400);
  assert.equal(fault(res.body).message, 'marker [p2] not found');
});

test('unknown query parameters are ignored before 2.75 and refused from 2.75', async () => {
  const old = await list('?colour=blue');
  assert.equal(old.status, 200);
  const now = await list('?colour=blue', { version: '2.75' });
  assert.equal(now.status, 400);
  assert.equal(fault(now.body).message, "Additional properties are not allowed ('colour' was unexpected)");
});

test('a member sees public flavors and the private ones shared with their project', async () => {
  const res = await list('', { token: member.token });
  assert.deepEqual(ids(res), ['1', '2', '3', '4', '5', 'p1']);
  const detail = await list('', { token: member.token, detail: true });
  assert.equal(detail.body.flavors.at(-1)['os-flavor-access:is_public'], false);
});

test('a member’s is_public is ignored, even when it is not a boolean', async () => {
  assert.deepEqual(ids(await list('?is_public=false', { token: member.token })), ['1', '2', '3', '4', '5', 'p1']);
  assert.equal((await list('?is_public=maybe', { token: member.token })).status, 200);
});

test('an admin sees public flavors by default, private ones with is_public=false and all with is_public=none', async () => {
  assert.deepEqual(ids(await list()), ['1', '2', '3', '4', '5']);
  assert.deepEqual(ids(await list('?is_public=false')), ['p1', 'p2']);
  assert.deepEqual(ids(await list('?is_public=0', { detail: true })), ['p1', 'p2']);
  assert.deepEqual(ids(await list('?is_public=true')), ['1', '2', '3', '4', '5']);
  assert.deepEqual(ids(await list('?is_public=None')), ['1', '2', '3', '4', '5', 'p1', 'p2']);
});

test('an admin’s invalid is_public is 400', async () => {
  const res = await list('?is_public=maybe');
  assert.equal(res.status, 400);
  assert.deepEqual(fault(res.body), { name: 'badRequest', code: 400, message: 'Invalid is_public filter [maybe]' });
});

test('a repeated parameter counts by its last value', async () => {
  assert.deepEqual(ids(await list('?minRam=99999&minRam=8192')), ['4', '5']);
});

test('an admin whose project was given access sees that private flavor among the public ones', async () => {
  await cloud.req('POST', '/compute/v2.1/flavors/p2/action', { token: cloud.adminToken, body: { addTenantAccess: { tenant: cloud.adminProjectId } } });
  try {
    assert.deepEqual(ids(await list()), ['1', '2', '3', '4', '5', 'p2']);
  } finally {
    await cloud.req('POST', '/compute/v2.1/flavors/p2/action', { token: cloud.adminToken, body: { removeTenantAccess: { tenant: cloud.adminProjectId } } });
  }
});

test('a listing reflects each flavor, extra spec and access change made just before it', async () => {
  // Lists are answered from a short-lived copy; every write through the API must clear it.
  const detail = async (token = cloud.adminToken) =>
    (await cloud.req('GET', '/compute/v2.1/flavors/detail?is_public=none', { token, version: '2.61' })).body.flavors as { id: string; extra_specs: Record<string, string>; description?: string }[];
  const find = async (id: string, token?: string) => (await detail(token)).find((f) => f.id === id);
  assert.equal(await find('fresh'), undefined);
  await cloud.req('POST', '/compute/v2.1/flavors', { token: cloud.adminToken, body: { flavor: { name: 'fresh', id: 'fresh', ram: 64, vcpus: 1, disk: 1, 'os-flavor-access:is_public': false } } });
  assert.deepEqual((await find('fresh'))?.extra_specs, {});
  await cloud.req('POST', '/compute/v2.1/flavors/fresh/os-extra_specs', { token: cloud.adminToken, body: { extra_specs: { 'hw:numa_nodes': '1' } } });
  assert.deepEqual((await find('fresh'))?.extra_specs, { 'hw:numa_nodes': '1' });
  await cloud.req('DELETE', '/compute/v2.1/flavors/fresh/os-extra_specs/hw:numa_nodes', { token: cloud.adminToken });
  assert.deepEqual((await find('fresh'))?.extra_specs, {});
  const mine = async () => ids(await list('', { token: member.token }));
  assert.ok(!(await mine()).includes('fresh'));
  await cloud.req('POST', '/compute/v2.1/flavors/fresh/action', { token: cloud.adminToken, body: { addTenantAccess: { tenant: member.projectId } } });
  assert.ok((await mine()).includes('fresh'));
  await cloud.req('POST', '/compute/v2.1/flavors/fresh/action', { token: cloud.adminToken, body: { removeTenantAccess: { tenant: member.projectId } } });
  assert.ok(!(await mine()).includes('fresh'));
  await cloud.req('PUT', '/compute/v2.1/flavors/fresh', { token: cloud.adminToken, version: '2.55', body: { flavor: { description: 'now described' } } });
  assert.equal((await cloud.req('GET', '/compute/v2.1/flavors/detail?is_public=none', { token: cloud.adminToken, version: '2.55' })).body.flavors.find((f: { id: string }) => f.id === 'fresh')?.description, 'now described');
  await cloud.req('DELETE', '/compute/v2.1/flavors/fresh', { token: cloud.adminToken });
  assert.equal(await find('fresh'), undefined);
});
