import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { loadConfig, ConfigError } from '../../../src/config.js';

// One simulated host of 2 vCPUs and 4 GiB, placed against at 2× its vCPUs and 1.5× its memory.
let cloud: TestCloud;
let imageId: string;
before(async () => {
  cloud = await startCloud({ fake: { hosts: 1, vcpus: 2, memoryMb: 4096, localGb: 100 }, compute: { cpuAllocationRatio: 2, ramAllocationRatio: 1.5, diskAllocationRatio: 1 } });
  imageId = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
});
after(async () => cloud.close());

async function flavor(name: string, vcpus: number, ram: number): Promise<string> {
  const res = await cloud.req('POST', '/compute/v2.1/flavors', { token: cloud.adminToken, body: { flavor: { name, vcpus, ram, disk: 0 } } });
  assert.equal(res.status, 200);
  return res.body.flavor.id;
}

/** Boots `count` servers of the flavor one by one; answers their statuses once settled. */
async function boot(flavorRef: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await cloud.req('POST', '/compute/v2.1/servers', { token: cloud.adminToken, body: { server: { name: `r-${flavorRef}-${i}`, imageRef: imageId, flavorRef } } });
    assert.equal(res.status, 202);
    ids.push(res.body.server.id);
    await cloud.services.runner.idle();
  }
  const statuses = [];
  for (const id of ids) statuses.push((await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: cloud.adminToken })).body.server.status);
  for (const id of ids) await cloud.req('DELETE', `/compute/v2.1/servers/${id}`, { token: cloud.adminToken });
  await cloud.services.runner.idle();
  return statuses;
}

test('the scheduler places vCPUs up to cpu_allocation_ratio × the host\'s, then finds no valid host', async () => {
  assert.deepEqual(await boot(await flavor('cpu-heavy', 1, 64), 5), ['ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE', 'ERROR']);
});

test('the scheduler places memory up to ram_allocation_ratio × the host\'s, then finds no valid host', async () => {
  assert.deepEqual(await boot(await flavor('ram-heavy', 1, 2048), 4), ['ACTIVE', 'ACTIVE', 'ACTIVE', 'ERROR']);
});

test('the hypervisor still shows the host\'s real vCPUs and memory, not the ratio\'s', async () => {
  const h = (await cloud.req('GET', '/compute/v2.1/os-hypervisors/detail', { token: cloud.adminToken })).body.hypervisors[0];
  assert.equal(h.vcpus, 2);
  assert.equal(h.memory_mb, 4096);
});

test('an allocation ratio that is not a positive number is refused at start, naming the key', () => {
  for (const bad of [0, -1, 'two', 5000]) {
    assert.throws(() => loadConfig({ env: {}, overrides: { compute: { cpuAllocationRatio: bad as number } } }), (err: Error) => err instanceof ConfigError && /compute\.cpuAllocationRatio/.test(err.message));
  }
});

test('a simulated host size past a 32-bit integer is refused at start, naming the key', () => {
  for (const key of ['vcpus', 'memoryMb', 'localGb']) {
    assert.throws(() => loadConfig({ env: {}, overrides: { fake: { [key]: 2 ** 31 } } }), (err: Error) => err instanceof ConfigError && err.message.startsWith(`fake.${key} must be`));
  }
});
