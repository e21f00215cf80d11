/**
 * Neutron's quota API (quotasv2 and quota_details) and its enforcement on create: Neutron's
 * defaults, a project's own limits set and reset by an admin, usage counted from what
 * exists, and creates over a limit refused with 409 OverQuota, even when they run at once.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, memberOfNewProject, type TestCloud } from '../../support.js';
import { V2, makeNetwork, makeNetworkWithSubnet, makePort, neutronError } from './fixtures.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

const DEFAULTS = { network: 100, subnet: 100, port: 500, router: 10, floatingip: 50, security_group: 10, security_group_rule: 100, rbac_policy: 10, subnetpool: -1 };

const quota = (projectId: string, token: string, suffix = '') => cloud.req('GET', `${V2}/quotas/${projectId}${suffix}`, { token });
const setQuota = (projectId: string, body: unknown, token = cloud.adminToken) => cloud.req('PUT', `${V2}/quotas/${projectId}`, { token, body });

test('a project reads its own quotas: Neutron’s defaults', async () => {
  const p = await memberOfNewProject(cloud, 'q-own');
  const res = await quota(p.projectId, p.token);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, { quota: DEFAULTS });
});

test('/quotas/{project}/default is Neutron’s defaults, whatever the project’s own limits', async () => {
  const p = await memberOfNewProject(cloud, 'q-default');
  assert.equal((await setQuota(p.projectId, { quota: { network: 3 } })).status, 200);
  const res = await quota(p.projectId, p.token, '/default');
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, { quota: DEFAULTS });
});

test('/quotas/{project}/details counts what the project has, with its limits and nothing reserved', async () => {
  const p = await memberOfNewProject(cloud, 'q-details');
  const { network } = await makeNetworkWithSubnet(cloud, p.token, 'counted', '10.3.0.0/24');
  await makePort(cloud, p.token, network.id); // … and with it the project's default security group and its 4 rules
  const res = await quota(p.projectId, p.token, '/details');
  assert.equal(res.status, 200, res.text);
  const used = Object.fromEntries(Object.entries(res.body.quota).map(([k, v]: [string, any]) => [k, v.used]));
  assert.deepEqual(used, { network: 1, subnet: 1, port: 1, router: 0, floatingip: 0, security_group: 1, security_group_rule: 4, rbac_policy: 0, subnetpool: 0 });
  assert.deepEqual(res.body.quota.network, { limit: 100, used: 1, reserved: 0 });
  const demo = (await quota(cloud.demoProjectId, cloud.demoToken, '/details')).body.quota;
  assert.equal(demo.network.used, 1, 'the seeded private network counts');
  assert.equal(demo.subnet.used, 1);
});

test('another project’s quotas, the list, and every change are for admins: rule:get_quota, update_quota, delete_quota', async () => {
  const p = await memberOfNewProject(cloud, 'q-policy');
  const cases: [string, string, unknown, string][] = [
    ['GET', `${V2}/quotas/${cloud.adminProjectId}`, undefined, 'get_quota'],
    ['GET', `${V2}/quotas/${cloud.adminProjectId}/details`, undefined, 'get_quota'],
    ['GET', `${V2}/quotas/${cloud.adminProjectId}/default`, undefined, 'get_quota'],
    ['GET', `${V2}/quotas`, undefined, 'get_quota'],
    ['PUT', `${V2}/quotas/${p.projectId}`, { quota: { network: 1000 } }, 'update_quota'],
    ['DELETE', `${V2}/quotas/${p.projectId}`, undefined, 'delete_quota'],
  ];
  for (const [method, path, body, rule] of cases) {
    const res = await cloud.req(method, path, { token: p.token, body });
    assert.equal(neutronError(res, 403, 'PolicyNotAuthorized'), `rule:${rule} is disallowed by policy`, `${method} ${path}`);
  }
  assert.equal((await quota(p.projectId, cloud.adminToken)).status, 200, 'an admin reads any project’s');
});

test('an admin sets a project’s limits: the answer, show and the list have them', async () => {
  const p = await memberOfNewProject(cloud, 'q-set');
  const res = await setQuota(p.projectId, { quota: { network: 7, port: '25', security_group: -1 } });
  assert.equal(res.status, 200, res.text);
  const expected = { ...DEFAULTS, network: 7, port: 25, security_group: -1 };
  assert.deepEqual(res.body, { quota: expected });
  assert.deepEqual((await quota(p.projectId, p.token)).body, { quota: expected });
  const list = await cloud.req('GET', `${V2}/quotas`, { token: cloud.adminToken });
  assert.equal(list.status, 200);
  assert.deepEqual(
    list.body.quotas.find((q: { project_id: string }) => q.project_id === p.projectId),
    { ...expected, project_id: p.projectId, tenant_id: p.projectId },
  );
  assert.ok(!list.body.quotas.some((q: { project_id: string }) => q.project_id === cloud.demoProjectId), 'only projects with limits of their own');
});

test('a PUT names each bad limit as Neutron does: unknown resource, not an integer, out of range', async () => {
  const p = await memberOfNewProject(cloud, 'q-bad');
  const cases: [unknown, string, string][] = [
    [{ quota: { networks: 5 } }, 'HTTPBadRequest', "Unrecognized attribute(s) 'networks'"],
    [{ quota: { network: 'many' } }, 'InvalidInput', "Invalid input for operation: 'many' is not an integer."],
    [{ quota: { network: null } }, 'InvalidInput', "Invalid input for operation: 'None' is not an integer."],
    [{ quota: { network: -2 } }, 'HTTPBadRequest', "Invalid input for network. Reason: '-2' is too small - must be at least '-1'."],
    [{ quota: { port: 2 ** 31 } }, 'HTTPBadRequest', "Invalid input for port. Reason: '2147483648' is too large - must be no larger than '2147483647'."],
    [{ network: 5 }, 'HTTPBadRequest', "Unable to find 'quota' in request body"],
    [{ quota: [] }, 'HTTPBadRequest', "Object 'quota' contains invalid data"],
  ];
  for (const [body, type, message] of cases) {
    assert.equal(neutronError(await setQuota(p.projectId, body), 400, type), message, JSON.stringify(body));
  }
  assert.deepEqual((await quota(p.projectId, p.token)).body, { quota: DEFAULTS }, 'nothing was set');
});

test('a project id longer than any project id (65 characters) is 400 naming it: no limits are kept for it', async () => {
  const long = 'p'.repeat(65);
  const res = await setQuota(long, { quota: { network: 5 } });
  assert.equal(neutronError(res, 400), `Invalid input for project_id. Reason: '${long}' exceeds maximum length of 64.`);
  assert.equal((await setQuota('q'.repeat(256), { quota: { network: 5 } })).status, 400);
});

test('with check_limit a limit below what is used is 400; without it, it is set', async () => {
  const p = await memberOfNewProject(cloud, 'q-check');
  await makeNetwork(cloud, p.token, 'a');
  await makeNetwork(cloud, p.token, 'b');
  const refused = await setQuota(p.projectId, { quota: { network: 1, check_limit: true } });
  assert.equal(neutronError(refused, 400), 'Quota limit 1 for network must be greater than or equal to already used 2');
  const forced = await setQuota(p.projectId, { quota: { network: 1, force: true } });
  assert.equal(forced.status, 200, forced.text);
  assert.equal(forced.body.quota.network, 1);
});

test('DELETE brings back the defaults; with no limits of its own the project is 404 TenantQuotaNotFound', async () => {
  const p = await memberOfNewProject(cloud, 'q-reset');
  await setQuota(p.projectId, { quota: { subnet: 2 } });
  const del = await cloud.req('DELETE', `${V2}/quotas/${p.projectId}`, { token: cloud.adminToken });
  assert.equal(del.status, 204, del.text);
  assert.deepEqual((await quota(p.projectId, p.token)).body, { quota: DEFAULTS });
  const again = await cloud.req('DELETE', `${V2}/quotas/${p.projectId}`, { token: cloud.adminToken });
  assert.equal(neutronError(again, 404, 'TenantQuotaNotFound'), `Quota for tenant ${p.projectId} could not be found.`);
});

test('creates over a limit are 409 OverQuota: networks, subnets, ports, security groups and their rules', async () => {
  const p = await memberOfNewProject(cloud, 'q-enforce');
  const { network } = await makeNetworkWithSubnet(cloud, p.token, 'only', '10.4.0.0/24');
  await makePort(cloud, p.token, network.id);
  await setQuota(p.projectId, { quota: { network: 1, subnet: 1, port: 1, security_group: 1, security_group_rule: 4 } });
  const overs: [string, Record<string, unknown>, string][] = [
    ['networks', { network: { name: 'second' } }, 'network'],
    ['subnets', { subnet: { network_id: network.id, cidr: '10.5.0.0/24', ip_version: 4 } }, 'subnet'],
    ['ports', { port: { network_id: network.id } }, 'port'],
    ['security-groups', { security_group: { name: 'web' } }, 'security_group'],
    ['security-group-rules', { security_group_rule: { security_group_id: (await cloud.req('GET', `${V2}/security-groups`, { token: p.token })).body.security_groups[0].id, direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22 } }, 'security_group_rule'],
  ];
  for (const [collection, body, resource] of overs) {
    const res = await cloud.req('POST', `${V2}/${collection}`, { token: p.token, body });
    assert.equal(neutronError(res, 409, 'OverQuota'), `Quota exceeded for resources: ['${resource}'].`, collection);
  }
  // A bulk create counts every item: one more than the room is refused whole.
  await setQuota(p.projectId, { quota: { network: 3 } });
  const bulk = await cloud.req('POST', `${V2}/networks`, { token: p.token, body: { networks: [{ name: 'x' }, { name: 'y' }, { name: 'z' }] } });
  assert.equal(neutronError(bulk, 409, 'OverQuota'), "Quota exceeded for resources: ['network'].");
  assert.equal((await cloud.req('GET', `${V2}/networks?router:external=false`, { token: p.token })).body.networks.length, 1);
  // -1 is unlimited.
  await setQuota(p.projectId, { quota: { network: -1 } });
  await makeNetwork(cloud, p.token, 'free');
});

test('creates running at once cannot together pass a limit', async () => {
  const p = await memberOfNewProject(cloud, 'q-race');
  await setQuota(p.projectId, { quota: { network: 3 } });
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) => cloud.req('POST', `${V2}/networks`, { token: p.token, body: { network: { name: `race-${i}` } } })));
  assert.deepEqual(results.map((r) => r.status).sort(), [...Array(3).fill(201), ...Array(9).fill(409)]);
  assert.equal((await cloud.req('GET', `${V2}/networks?router:external=false`, { token: p.token })).body.networks.length, 3);
});

test('/quotas/tenant and /quotas/project name the caller’s project; POST /quotas is 501', async () => {
  const p = await memberOfNewProject(cloud, 'q-who');
  assert.deepEqual((await cloud.req('GET', `${V2}/quotas/tenant`, { token: p.token })).body, { tenant: { tenant_id: p.projectId } });
  assert.deepEqual((await cloud.req('GET', `${V2}/quotas/project`, { token: p.token })).body, { project: { project_id: p.projectId } });
  const post = await cloud.req('POST', `${V2}/quotas`, { token: cloud.adminToken, body: { quota: { network: 1 } } });
  assert.equal(neutronError(post, 501), 'POST requests are not supported on this resource.');
});

test('the extensions list has quotas and quota_details', async () => {
  const aliases = (await cloud.req('GET', `${V2}/extensions`, { token: cloud.demoToken })).body.extensions.map((e: { alias: string }) => e.alias);
  assert.ok(aliases.includes('quotas') && aliases.includes('quota_details'), aliases.join(' '));
});
