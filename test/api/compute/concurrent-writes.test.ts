/**
 * Requests that race for the same quota, id or unique name, sent all at once: every
 * answer is the one a serial run would give some of them (2xx, 403 or 409), never a
 * 500, and no limit is passed. On PostgreSQL these run on several pooled connections
 * at once; on SQLite they interleave between statements.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type Response, type TestCloud } from '../../support.js';
import { tenant, colleague, bootServer, type Tenant } from './server-fixtures.js';
import { ComputeHosts } from '../../../src/compute/hosts.js';
import type { Driver } from '../../../src/virt/driver.js';
import { isPostgres, lockName } from '../../../src/db/database.js';

let cloud: TestCloud;
let imageId: string;
before(async () => {
  cloud = await startCloud();
  imageId = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
});
after(async () => cloud.close());

const QS = '/compute/v2.1/os-quota-sets';

const setQuota = async (projectId: string, quotaSet: Record<string, number>) => {
  const res = await cloud.req('PUT', `${QS}/${projectId}`, { token: cloud.adminToken, body: { quota_set: quotaSet } });
  assert.equal(res.status, 200, res.text);
};

const createServer = (t: Tenant, server: Record<string, unknown> = {}, body: Record<string, unknown> = {}) =>
  cloud.req('POST', '/compute/v2.1/servers', { token: t.token, body: { server: { name: 'race', imageRef: imageId, flavorRef: '1', ...server }, ...body } });

const parallel = (n: number, send: (i: number) => Promise<Response>) => Promise.all(Array.from({ length: n }, (_, i) => send(i)));

/** How many answers had each status, e.g. { 202: 10, 403: 20 }. */
const statuses = (answers: Response[]) => {
  const out: Record<number, number> = {};
  for (const a of answers) out[a.status] = (out[a.status] ?? 0) + 1;
  return out;
};

const liveServers = async (projectId: string) =>
  Number(
    (
      await cloud.services.db
        .selectFrom('servers')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('project_id', '=', projectId)
        .where('deleted', '=', 0)
        .executeTakeFirstOrThrow()
    ).n,
  );

test('30 parallel creates at an instances quota of 10: exactly 10 are accepted, the rest 403 with Nova’s message', async () => {
  const t = await tenant(cloud, 'race-instances');
  const answers = await parallel(30, () => createServer(t));
  assert.deepEqual(statuses(answers), { 202: 10, 403: 20 });
  for (const a of answers.filter((x) => x.status === 403)) {
    assert.equal(a.body.forbidden.message, 'Quota exceeded for instances: Requested 1, but already used 10 of 10 instances');
  }
  await cloud.services.runner.idle();
  assert.equal(await liveServers(t.projectId), 10);
});

test('a create does not wait for another create of its project that has not committed yet', async (t) => {
  if (!isPostgres(cloud.services.db)) return t.skip('SQLite runs one transaction at a time');
  const tenantA = await tenant(cloud, 'race-alongside');
  // What an unfinished create of the project holds: its quota lock, shared.
  await cloud.services.db.transaction().execute(async (tx) => {
    await lockName(tx, `quota:${tenantA.projectId}`, 'shared');
    const answer = await createServer(tenantA);
    assert.equal(answer.status, 202, answer.text);
  });
});

test('parallel multi-creates of up to 3 servers fill the instances quota and never pass it', async () => {
  const t = await tenant(cloud, 'race-multi');
  const answers = await parallel(12, () => createServer(t, { min_count: 1, max_count: 3 }));
  assert.ok(answers.every((a) => a.status === 202 || a.status === 403), JSON.stringify(statuses(answers)));
  await cloud.services.runner.idle();
  assert.equal(await liveServers(t.projectId), 10);
});

test('parallel creates into one group never pass the server_group_members quota', async () => {
  const t = await tenant(cloud, 'race-members');
  // Several users: their servers' usage rows differ, so nothing but the quota lock orders them.
  const tokens = [t.token];
  for (let i = 0; i < 3; i++) tokens.push(await colleague(cloud, t.projectId, t.name, `race-members-${i}`, 'member'));
  await setQuota(t.projectId, { server_group_members: 3 });
  const group = await cloud.req('POST', '/compute/v2.1/os-server-groups', { token: t.token, body: { server_group: { name: 'g', policies: ['soft-affinity'] } }, version: '2.15' });
  assert.equal(group.status, 200, group.text);
  const answers = await parallel(8, (i) => createServer({ ...t, token: tokens[i % tokens.length] }, {}, { 'os:scheduler_hints': { group: group.body.server_group.id } }));
  assert.deepEqual(statuses(answers), { 202: 3, 403: 5 });
  assert.ok(answers.filter((a) => a.status === 403).every((a) => a.body.forbidden.message === 'Quota exceeded, too many servers in group'));
});

test('parallel server group creates never pass the server_groups quota', async () => {
  const t = await tenant(cloud, 'race-groups');
  await setQuota(t.projectId, { server_groups: 3 });
  const answers = await parallel(10, (i) =>
    cloud.req('POST', '/compute/v2.1/os-server-groups', { token: t.token, body: { server_group: { name: `g${i}`, policies: ['affinity'] } } }),
  );
  assert.deepEqual(statuses(answers), { 200: 3, 403: 7 });
  assert.ok(answers.filter((a) => a.status === 403).every((a) => a.body.forbidden.message === 'Quota exceeded, too many server groups.'));
});

const PUBLIC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9126EtuKT4e273qrRKRxuC1PFZK8MqpWGhTTEvLJZq root@vm';
const importKeypair = (t: Tenant, name: string) => cloud.req('POST', '/compute/v2.1/os-keypairs', { token: t.token, body: { keypair: { name, public_key: PUBLIC_KEY } } });

test('parallel keypair imports never pass the key_pairs quota', async () => {
  const t = await tenant(cloud, 'race-keypairs');
  await setQuota(t.projectId, { key_pairs: 4 });
  const answers = await parallel(10, (i) => importKeypair(t, `k${i}`));
  assert.deepEqual(statuses(answers), { 200: 4, 403: 6 });
  assert.ok(answers.filter((a) => a.status === 403).every((a) => a.body.forbidden.message === 'Quota exceeded, too many key pairs.'));
});

test('parallel imports of one keypair name: one is created, the others are 409', async () => {
  const t = await tenant(cloud, 'race-keyname');
  const answers = await parallel(8, () => importKeypair(t, 'same'));
  assert.deepEqual(statuses(answers), { 200: 1, 409: 7 });
  assert.ok(answers.filter((a) => a.status === 409).every((a) => a.body.conflictingRequest.message === "Key pair 'same' already exists."));
});

test('parallel metadata writes to one server keep every item and never pass the metadata_items quota', async () => {
  const t = await tenant(cloud, 'race-metadata');
  await setQuota(t.projectId, { metadata_items: 4 });
  const id = await bootServer(cloud, t.token);
  const answers = await parallel(10, (i) => cloud.req('POST', `/compute/v2.1/servers/${id}/metadata`, { token: t.token, body: { metadata: { [`k${i}`]: 'v' } } }));
  assert.deepEqual(statuses(answers), { 200: 4, 403: 6 });
  const shown = await cloud.req('GET', `/compute/v2.1/servers/${id}/metadata`, { token: t.token });
  assert.equal(Object.keys(shown.body.metadata).length, 4);
});

test('10 parallel PUT /servers/{id}/tags all succeed and leave one of the sets', async () => {
  const t = await tenant(cloud, 'race-tags');
  const id = await bootServer(cloud, t.token);
  const sets = Array.from({ length: 10 }, (_, i) => ['common', `only-${i}`]);
  const answers = await parallel(10, (i) => cloud.req('PUT', `/compute/v2.1/servers/${id}/tags`, { token: t.token, version: '2.26', body: { tags: sets[i] } }));
  assert.deepEqual(statuses(answers), { 200: 10 });
  const shown = await cloud.req('GET', `/compute/v2.1/servers/${id}/tags`, { token: t.token, version: '2.26' });
  assert.ok(sets.some((s) => JSON.stringify(s) === JSON.stringify(shown.body.tags)), JSON.stringify(shown.body.tags));
});

test('parallel PUT /servers/{id}/tags/{tag} never pass 50 tags', async () => {
  const t = await tenant(cloud, 'race-tag-limit');
  const id = await bootServer(cloud, t.token);
  const answers = await parallel(60, (i) => cloud.req('PUT', `/compute/v2.1/servers/${id}/tags/t${i}`, { token: t.token, version: '2.26' }));
  assert.deepEqual(statuses(answers), { 201: 50, 400: 10 });
});

test('parallel deletes of one server delete it once', async () => {
  const t = await tenant(cloud, 'race-delete');
  const id = await bootServer(cloud, t.token);
  const answers = await parallel(6, () => cloud.req('DELETE', `/compute/v2.1/servers/${id}`, { token: t.token }));
  // A delete that comes after the server is gone is 404, as it should be.
  assert.ok(answers.every((a) => a.status === 204 || a.status === 404), JSON.stringify(statuses(answers)));
  const deletes = await cloud.services.db.selectFrom('instance_actions').select('id').where('server_id', '=', id).where('action', '=', 'delete').execute();
  assert.equal(deletes.length, 1);
  await cloud.services.runner.idle();
});

test('parallel resizes and migrations each get a migration of their own', async () => {
  const t = await tenant(cloud, 'race-resize');
  const ids = [];
  for (let i = 0; i < 4; i++) ids.push(await bootServer(cloud, t.token));
  const answers = await Promise.all(
    ids.map((id, i) =>
      cloud.req('POST', `/compute/v2.1/servers/${id}/action`, { token: i % 2 ? cloud.adminToken : t.token, body: i % 2 ? { migrate: null } : { resize: { flavorRef: '2' } } }),
    ),
  );
  assert.deepEqual(statuses(answers), { 202: 4 });
  const migrations = await cloud.services.db.selectFrom('migrations').select(['id', 'server_id']).where('server_id', 'in', ids).execute();
  assert.equal(new Set(migrations.map((m) => m.id)).size, 4);
  await cloud.services.runner.idle();
});

test('parallel add_host of one host to an aggregate: one 200, the others 409', async () => {
  const agg = await cloud.req('POST', '/compute/v2.1/os-aggregates', { token: cloud.adminToken, body: { aggregate: { name: 'race-agg' } } });
  const host = cloud.services.driver.hosts()[0].name;
  const answers = await parallel(6, () => cloud.req('POST', `/compute/v2.1/os-aggregates/${agg.body.aggregate.id}/action`, { token: cloud.adminToken, body: { add_host: { host } } }));
  assert.deepEqual(statuses(answers), { 200: 1, 409: 5 });
  await cloud.req('POST', `/compute/v2.1/os-aggregates/${agg.body.aggregate.id}/action`, { token: cloud.adminToken, body: { remove_host: { host } } });
});

test('parallel set_metadata of one key on an aggregate all succeed', async () => {
  const agg = await cloud.req('POST', '/compute/v2.1/os-aggregates', { token: cloud.adminToken, body: { aggregate: { name: 'race-agg-meta' } } });
  const answers = await parallel(6, (i) =>
    cloud.req('POST', `/compute/v2.1/os-aggregates/${agg.body.aggregate.id}/action`, { token: cloud.adminToken, body: { set_metadata: { metadata: { key: `v${i}` } } } }),
  );
  assert.deepEqual(statuses(answers), { 200: 6 });
});

test('parallel creates of one security group rule: one 201, the others 409', async () => {
  const t = await tenant(cloud, 'race-sg');
  const sg = await cloud.req('POST', '/network/v2.0/security-groups', { token: t.token, body: { security_group: { name: 'web' } } });
  assert.equal(sg.status, 201, sg.text);
  const rule = { security_group_id: sg.body.security_group.id, direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22 };
  const answers = await parallel(6, () => cloud.req('POST', '/network/v2.0/security-group-rules', { token: t.token, body: { security_group_rule: rule } }));
  assert.deepEqual(statuses(answers), { 201: 1, 409: 5 });
});

test('parallel creates of overlapping subnets on one network: one 201, the others 400', async () => {
  const t = await tenant(cloud, 'race-subnets');
  const net = await cloud.req('POST', '/network/v2.0/networks', { token: t.token, body: { network: { name: 'n' } } });
  assert.equal(net.status, 201, net.text);
  // 10.20.0.0/16, /17 … /21: each overlaps every other.
  const answers = await parallel(6, (i) =>
    cloud.req('POST', '/network/v2.0/subnets', { token: t.token, body: { subnet: { network_id: net.body.network.id, ip_version: 4, cidr: `10.20.0.0/${16 + i}` } } }),
  );
  assert.deepEqual(statuses(answers), { 201: 1, 400: 5 });
});

test('networks deleted while ports are created on them: every answer is 201, 204, 404 or 409', async () => {
  const t = await tenant(cloud, 'race-net-delete');
  const nets: string[] = [];
  for (let i = 0; i < 10; i++) {
    const net = await cloud.req('POST', '/network/v2.0/networks', { token: t.token, body: { network: { name: `n${i}` } } });
    await cloud.req('POST', '/network/v2.0/subnets', { token: t.token, body: { subnet: { network_id: net.body.network.id, ip_version: 4, cidr: `10.30.${i}.0/24` } } });
    nets.push(net.body.network.id);
  }
  const answers = await Promise.all(
    nets.flatMap((id) => [
      cloud.req('POST', '/network/v2.0/ports', { token: t.token, body: { port: { network_id: id } } }),
      cloud.req('DELETE', `/network/v2.0/networks/${id}`, { token: t.token }),
      cloud.req('POST', '/network/v2.0/ports', { token: t.token, body: { port: { network_id: id } } }),
    ]),
  );
  assert.ok(answers.every((a) => [201, 204, 404, 409].includes(a.status)), JSON.stringify(statuses(answers)));
  // A port that was created kept its network: no port is left on a network that is gone.
  const orphans = await cloud.services.db.selectFrom('ports').select('id').where('network_id', 'in', nets).where('network_id', 'not in', (eb) => eb.selectFrom('networks').select('id')).execute();
  assert.deepEqual(orphans, []);
});

test('parallel flavor creates with one id: one 200, the others 409', async () => {
  const answers = await parallel(6, (i) =>
    cloud.req('POST', '/compute/v2.1/flavors', { token: cloud.adminToken, body: { flavor: { id: 'race-flavor', name: `race-${i}`, ram: 64, vcpus: 1, disk: 0 } } }),
  );
  assert.deepEqual(statuses(answers), { 200: 1, 409: 5 });
});

test('flavors deleted while their extra specs and access change: every answer is 2xx, 404 or 409', async () => {
  const t = cloud.adminToken;
  const ids = Array.from({ length: 15 }, (_, i) => `race-fk-${i}`);
  for (const id of ids) {
    const res = await cloud.req('POST', '/compute/v2.1/flavors', { token: t, body: { flavor: { id, name: id, ram: 64, vcpus: 1, disk: 0, 'os-flavor-access:is_public': false } } });
    assert.equal(res.status, 200, res.text);
  }
  const answers = await Promise.all(
    ids.flatMap((id) => [
      cloud.req('POST', `/compute/v2.1/flavors/${id}/os-extra_specs`, { token: t, body: { extra_specs: { k: 'v' } } }),
      cloud.req('POST', `/compute/v2.1/flavors/${id}/action`, { token: t, body: { addTenantAccess: { tenant: cloud.demoProjectId } } }),
      cloud.req('DELETE', `/compute/v2.1/flavors/${id}`, { token: t }),
    ]),
  );
  assert.ok(answers.every((a) => [200, 202, 404, 409].includes(a.status)), JSON.stringify(statuses(answers)));
});

test('compute processes registering their hosts at once give each host its own number', async () => {
  const { db } = cloud.services;
  const node = (i: number) =>
    new ComputeHosts(db, cloud.clock, {
      name: 'fake',
      hosts: () => [0, 1].map((j) => ({ name: `race-host-${i}-${j}`, availabilityZone: 'nova', vcpus: 4, memoryMb: 4096, localGb: 40, hostIp: '10.9.0.1' })),
    } as unknown as Driver);
  await Promise.all([0, 1, 2, 3, 4, 5].map((i) => node(i).register()));
  const hosts = await db.selectFrom('hosts').select(['name', 'num_id']).execute();
  assert.equal(hosts.filter((h) => h.name.startsWith('race-host-')).length, 12);
  assert.equal(new Set(hosts.map((h) => h.num_id)).size, hosts.length);
});
