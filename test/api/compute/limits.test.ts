import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, memberOfNewProject, type TestCloud } from '../../support.js';
import { insertServer, insertServerGroup } from './quota-fixtures.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

const LIMITS = '/compute/v2.1/limits';

/** Real Nova's answers (Zed), recorded with five servers (5 vCPUs, 4096 MB) in the project. */
const NOVA_LIMITS_V21 = {
  "limits": {
    "rate": [],
    "absolute": {
      "maxTotalInstances": 10,
      "maxTotalCores": 20,
      "maxTotalRAMSize": 51200,
      "maxServerMeta": 128,
      "maxImageMeta": 128,
      "maxPersonality": 5,
      "maxPersonalitySize": 10240,
      "maxTotalKeypairs": 100,
      "maxServerGroups": 10,
      "maxServerGroupMembers": 10,
      "maxTotalFloatingIps": -1,
      "maxSecurityGroups": -1,
      "maxSecurityGroupRules": -1,
      "totalRAMUsed": 4096,
      "totalCoresUsed": 5,
      "totalInstancesUsed": 5,
      "totalFloatingIpsUsed": 0,
      "totalSecurityGroupsUsed": 0,
      "totalServerGroupsUsed": 0
    }
  }
};
const NOVA_LIMITS_LATEST = {
  "limits": {
    "rate": [],
    "absolute": {
      "maxTotalInstances": 10,
      "maxTotalCores": 20,
      "maxTotalRAMSize": 51200,
      "maxServerMeta": 128,
      "maxTotalKeypairs": 100,
      "maxServerGroups": 10,
      "maxServerGroupMembers": 10,
      "totalRAMUsed": 4096,
      "totalCoresUsed": 5,
      "totalInstancesUsed": 5,
      "totalServerGroupsUsed": 0
    }
  }
};

/** A project using what the golden recordings' project used: 5 servers, 5 vCPUs, 4096 MB. */
async function projectLikeGolden(name: string) {
  const p = await memberOfNewProject(cloud, name);
  for (const memoryMb of [512, 512, 1024, 1024, 1024]) await insertServer(cloud, { projectId: p.projectId, vcpus: 1, memoryMb });
  return p;
}

test('limits at 2.1 are Nova\'s, key for key and in order', async () => {
  const p = await projectLikeGolden('limits-v21');
  const res = await cloud.req('GET', LIMITS, { token: p.token, version: '2.1' });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, NOVA_LIMITS_V21);
  assert.deepEqual(Object.keys(res.body.limits.absolute), Object.keys(NOVA_LIMITS_V21.limits.absolute));
});

test('limits at the latest version drop the network limits, maxImageMeta and personality, as Nova', async () => {
  const p = await projectLikeGolden('limits-latest');
  const res = await cloud.req('GET', LIMITS, { token: p.token, version: 'latest' });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, NOVA_LIMITS_LATEST);
  assert.deepEqual(Object.keys(res.body.limits.absolute), Object.keys(NOVA_LIMITS_LATEST.limits.absolute));
});

test('network limits go at 2.36, maxImageMeta at 2.39 and personality at 2.57', async () => {
  const keys = async (version: string) => Object.keys((await cloud.req('GET', LIMITS, { token: cloud.demoToken, version })).body.limits.absolute);
  const v235 = await keys('2.35');
  for (const k of ['maxTotalFloatingIps', 'maxSecurityGroups', 'maxSecurityGroupRules', 'totalFloatingIpsUsed', 'totalSecurityGroupsUsed', 'maxImageMeta']) {
    assert.ok(v235.includes(k), k);
  }
  const v236 = await keys('2.36');
  assert.ok(!v236.includes('maxTotalFloatingIps') && !v236.includes('totalSecurityGroupsUsed'));
  assert.ok(v236.includes('maxImageMeta'));
  const v239 = await keys('2.39');
  assert.ok(!v239.includes('maxImageMeta'));
  assert.ok(v239.includes('maxPersonality') && v239.includes('maxPersonalitySize'));
  const v257 = await keys('2.57');
  assert.ok(!v257.includes('maxPersonality') && !v257.includes('maxPersonalitySize'));
});

test('the used figures count only the project\'s live servers', async () => {
  const p = await memberOfNewProject(cloud, 'limits-used');
  await insertServer(cloud, { projectId: p.projectId, vcpus: 4, memoryMb: 8192 });
  await insertServer(cloud, { projectId: p.projectId, vcpus: 4, memoryMb: 8192, deleted: true });
  await insertServer(cloud, { projectId: cloud.adminProjectId, vcpus: 2, memoryMb: 1024 });
  const abs = (await cloud.req('GET', LIMITS, { token: p.token })).body.limits.absolute;
  assert.equal(abs.totalInstancesUsed, 1);
  assert.equal(abs.totalCoresUsed, 4);
  assert.equal(abs.totalRAMUsed, 8192);
  assert.equal(abs.totalServerGroupsUsed, 0);
});

test('totalServerGroupsUsed counts the project\'s server groups', async () => {
  const p = await memberOfNewProject(cloud, 'limits-groups');
  await insertServerGroup(cloud, p.projectId, p.userId);
  await insertServerGroup(cloud, p.projectId);
  await insertServerGroup(cloud, cloud.adminProjectId);
  const abs = (await cloud.req('GET', LIMITS, { token: p.token, version: 'latest' })).body.limits.absolute;
  assert.equal(abs.totalServerGroupsUsed, 2);
});

test('limits follow the project\'s own quotas', async () => {
  const p = await memberOfNewProject(cloud, 'limits-quota');
  const set = await cloud.req('PUT', `/compute/v2.1/os-quota-sets/${p.projectId}`, {
    token: cloud.adminToken,
    body: { quota_set: { instances: 3, metadata_items: 7, key_pairs: -1 } },
  });
  assert.equal(set.status, 200);
  const abs = (await cloud.req('GET', LIMITS, { token: p.token })).body.limits.absolute;
  assert.equal(abs.maxTotalInstances, 3);
  assert.equal(abs.maxServerMeta, 7);
  assert.equal(abs.maxImageMeta, 7);
  assert.equal(abs.maxTotalKeypairs, -1);
});

test('an admin reads another project\'s limits with tenant_id', async () => {
  const p = await memberOfNewProject(cloud, 'limits-other');
  await insertServer(cloud, { projectId: p.projectId, vcpus: 3, memoryMb: 3000 });
  const res = await cloud.req('GET', `${LIMITS}?tenant_id=${p.projectId}`, { token: cloud.adminToken });
  assert.equal(res.status, 200);
  assert.equal(res.body.limits.absolute.totalCoresUsed, 3);
  assert.equal(res.body.limits.absolute.totalRAMUsed, 3000);
});

test('a member asking with tenant_id, even their own, is 403', async () => {
  for (const tenant of [cloud.adminProjectId, cloud.demoProjectId]) {
    const res = await cloud.req('GET', `${LIMITS}?tenant_id=${tenant}`, { token: cloud.demoToken });
    assert.equal(res.status, 403);
    assert.equal(res.body.forbidden.message, "Policy doesn't allow os_compute_api:limits:other_project to be performed.");
  }
});

test('from 2.75 unknown query parameters are refused', async () => {
  const res = await cloud.req('GET', `${LIMITS}?foo=1`, { token: cloud.demoToken, version: '2.75' });
  assert.equal(res.status, 400);
  assert.equal(res.body.badRequest.message, "Additional properties are not allowed ('foo' was unexpected)");
  assert.equal((await cloud.req('GET', `${LIMITS}?foo=1`, { token: cloud.demoToken, version: '2.74' })).status, 200);
});

test('limits need a token', async () => {
  const res = await cloud.req('GET', LIMITS);
  assert.equal(res.status, 401);
});
