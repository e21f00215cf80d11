import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../support.js';

/*
 * Placements that run at once (a multi-create's builds are leased and run together): each
 * claim must see the claims committed before it, whatever host the others chose. Three
 * simulated hosts of 2 vCPUs at cpu_allocation_ratio 1.5 hold exactly three 1-vCPU servers each.
 */
let cloud: TestCloud;
let imageId: string;
let flavorRef: string;
before(async () => {
  cloud = await startCloud({ fake: { hosts: 3, vcpus: 2, memoryMb: 65536, localGb: 1000 }, compute: { cpuAllocationRatio: 1.5 } });
  imageId = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
  const quota = await cloud.req('PUT', `/compute/v2.1/os-quota-sets/${cloud.adminProjectId}`, { token: cloud.adminToken, body: { quota_set: { instances: -1, cores: -1, ram: -1, server_group_members: -1 } } });
  assert.equal(quota.status, 200, quota.text);
  const flavor = await cloud.req('POST', '/compute/v2.1/flavors', { token: cloud.adminToken, body: { flavor: { name: 'one-vcpu', vcpus: 1, ram: 64, disk: 0 } } });
  assert.equal(flavor.status, 200, flavor.text);
  flavorRef = flavor.body.flavor.id;
});
after(async () => cloud.close());
afterEach(async () => {
  for (const s of await servers()) await cloud.req('DELETE', `/compute/v2.1/servers/${s.id}`, { token: cloud.adminToken });
  await cloud.services.runner.idle();
});

interface Placed {
  id: string;
  status: string;
  host: string | null;
  fault?: { message: string };
}

async function servers(): Promise<Placed[]> {
  const res = await cloud.req('GET', '/compute/v2.1/servers/detail', { token: cloud.adminToken });
  return (res.body.servers as Record<string, unknown>[]).map((s) => ({ id: s.id as string, status: s.status as string, host: s['OS-EXT-SRV-ATTR:host'] as string | null, fault: s.fault as Placed['fault'] }));
}

/** One multi-create of `count` servers (their builds run at once), settled. */
async function bootAtOnce(count: number, hints: Record<string, unknown> = {}): Promise<Placed[]> {
  const res = await cloud.req('POST', '/compute/v2.1/servers', {
    token: cloud.adminToken,
    body: { server: { name: 'racer', imageRef: imageId, flavorRef, min_count: count, max_count: count, networks: 'none' }, 'os:scheduler_hints': hints },
    version: '2.37',
  });
  assert.equal(res.status, 202, res.text);
  await cloud.services.runner.idle();
  return servers();
}

const group = async (body: Record<string, unknown>) => {
  const res = await cloud.req('POST', '/compute/v2.1/os-server-groups', { token: cloud.adminToken, version: '2.64', body: { server_group: { name: 'g', ...body } } });
  assert.equal(res.status, 200, res.text);
  return res.body.server_group.id as string;
};
const active = (all: Placed[]) => all.filter((s) => s.status === 'ACTIVE');
const perHost = (all: Placed[]) => {
  const n = new Map<string, number>();
  for (const s of active(all)) n.set(s.host!, (n.get(s.host!) ?? 0) + 1);
  return [...n.values()].sort();
};
const noValidHost = (all: Placed[]) => all.filter((s) => s.status === 'ERROR' && /No valid host was found/.test(s.fault?.message ?? '')).length;

test('builds at once onto hosts with room for exactly nine place nine, three a host, and find no host for the rest', async () => {
  const all = await bootAtOnce(12);
  assert.deepEqual(perHost(all), [3, 3, 3]);
  assert.equal(noValidHost(all), 3);
});

test("an anti-affinity group's members built at once never share a host", async () => {
  const all = await bootAtOnce(5, { group: await group({ policy: 'anti-affinity' }) });
  assert.deepEqual(perHost(all), [1, 1, 1]);
  assert.equal(noValidHost(all), 2);
});

test("an anti-affinity group's max_server_per_host holds for members built at once", async () => {
  const all = await bootAtOnce(8, { group: await group({ policy: 'anti-affinity', rules: { max_server_per_host: 2 } }) });
  assert.deepEqual(perHost(all), [2, 2, 2]);
  assert.equal(noValidHost(all), 2);
});

test("an affinity group's members built at once share one host, as many as it holds", async () => {
  const all = await bootAtOnce(5, { group: await group({ policy: 'affinity' }) });
  assert.deepEqual(perHost(all), [3]);
  assert.equal(noValidHost(all), 2);
});

test("a soft-affinity group's members built at once share one host while it has room", async () => {
  const all = await bootAtOnce(3, { group: await group({ policy: 'soft-affinity' }) });
  assert.deepEqual(perHost(all), [3]);
});

