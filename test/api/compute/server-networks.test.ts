/**
 * Which network a server gets when its create names none, as Nova decides it
 * (nova/network/neutron.py _ports_needed_per_instance, with no auto-allocated topology):
 * the project's own networks and the shared ones are the candidates; one is used, several
 * are 409, and none is 400 for `auto` but no network at all when nothing was asked for
 * (before 2.37). A new cloud gives the demo project DevStack's `private` network.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { tenant } from './server-fixtures.js';

let cloud: TestCloud;
let imageId: string;
before(async () => {
  cloud = await startCloud();
  imageId = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
});
after(async () => cloud.close());

const create = (token: string, server: Record<string, unknown>, version?: string) =>
  cloud.req('POST', '/compute/v2.1/servers', { token, version, body: { server: { name: 'n', imageRef: imageId, flavorRef: '1', ...server } } });

async function addresses(token: string, id: string) {
  await cloud.services.runner.idle();
  const s = (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token })).body.server;
  assert.equal(s.status, 'ACTIVE', JSON.stringify(s.fault));
  return s.addresses;
}

async function network(token: string, name: string, cidr: string, extra: Record<string, unknown> = {}) {
  const net = await cloud.req('POST', '/network/v2.0/networks', { token, body: { network: { name, ...extra } } });
  assert.equal(net.status, 201, net.text);
  const sub = await cloud.req('POST', '/network/v2.0/subnets', { token, body: { subnet: { network_id: net.body.network.id, cidr, ip_version: 4 } } });
  assert.equal(sub.status, 201, sub.text);
  return net.body.network;
}

test('a new cloud gives the demo project DevStack’s private network with private-subnet 10.0.0.0/26; other projects do not see it', async () => {
  const nets = (await cloud.req('GET', '/network/v2.0/networks', { token: cloud.demoToken })).body.networks;
  // public is DevStack's external network: every project sees it, none boots on it unasked.
  assert.deepEqual(nets.map((n: { name: string }) => n.name), ['private', 'public']);
  const [priv] = nets;
  assert.equal(priv.project_id, cloud.demoProjectId);
  assert.equal(priv.shared, false);
  assert.equal(priv['router:external'], false);
  const subnets = (await cloud.req('GET', `/network/v2.0/subnets?network_id=${priv.id}`, { token: cloud.demoToken })).body.subnets;
  assert.deepEqual(
    subnets.map((s: Record<string, unknown>) => [s.name, s.cidr, s.gateway_ip, s.ip_version, s.enable_dhcp]),
    [['private-subnet', '10.0.0.0/26', '10.0.0.1', 4, true]],
  );
  const other = await tenant(cloud, 'outsider');
  assert.deepEqual((await cloud.req('GET', '/network/v2.0/networks', { token: other.token })).body.networks.map((n: { name: string }) => n.name), ['public']);
  assert.deepEqual((await cloud.req('GET', '/network/v2.0/networks', { token: cloud.adminToken })).body.networks.map((n: { id: string }) => n.id), [priv.id, nets[1].id]);
});

test('a demo server created without networks (2.1) gets an address on private', async () => {
  const res = await create(cloud.demoToken, { name: 'newcomer' });
  assert.equal(res.status, 202, res.text);
  const addrs = await addresses(cloud.demoToken, res.body.server.id);
  assert.deepEqual(Object.keys(addrs), ['private']);
  assert.match(addrs.private[0].addr, /^10\.0\.0\.([2-9]|[1-5]\d|6[0-2])$/);
  await cloud.req('DELETE', `/compute/v2.1/servers/${res.body.server.id}`, { token: cloud.demoToken });
});

test('networks "auto" (2.37) takes the project’s only network', async () => {
  const res = await create(cloud.demoToken, { name: 'auto', networks: 'auto' }, '2.37');
  assert.equal(res.status, 202, res.text);
  assert.deepEqual(Object.keys(await addresses(cloud.demoToken, res.body.server.id)), ['private']);
  await cloud.req('DELETE', `/compute/v2.1/servers/${res.body.server.id}`, { token: cloud.demoToken });
});

test('networks "none" boots without an address where a network exists', async () => {
  const res = await create(cloud.demoToken, { name: 'none', networks: 'none' }, '2.37');
  assert.equal(res.status, 202, res.text);
  assert.deepEqual(await addresses(cloud.demoToken, res.body.server.id), {});
  await cloud.req('DELETE', `/compute/v2.1/servers/${res.body.server.id}`, { token: cloud.demoToken });
});

test('networks "auto" with no network for the project gets Neutron\'s auto-allocated topology, and a second server the same network', async () => {
  const t = await tenant(cloud, 'netless');
  const first = await create(t.token, { networks: 'auto' }, '2.37');
  assert.equal(first.status, 202, first.text);
  await cloud.services.runner.idle();
  const second = await create(t.token, { networks: 'auto' }, '2.37');
  assert.equal(second.status, 202, second.text);
  await cloud.services.runner.idle();
  assert.deepEqual(Object.keys(await addresses(t.token, first.body.server.id)), ['auto_allocated_network']);
  assert.deepEqual(Object.keys(await addresses(t.token, second.body.server.id)), ['auto_allocated_network']);
  const routers = (await cloud.req('GET', '/network/v2.0/routers', { token: t.token })).body.routers;
  assert.deepEqual(routers.map((r: { name: string }) => r.name), ['auto_allocated_router']);
});

test('networks "auto" with no network and no default external network is 400, as Nova answers when Neutron cannot allocate', async () => {
  const publicId = (await cloud.req('GET', '/network/v2.0/networks?name=public', { token: cloud.adminToken })).body.networks[0].id;
  await cloud.req('PUT', `/network/v2.0/networks/${publicId}`, { token: cloud.adminToken, body: { network: { is_default: false } } });
  try {
    const t = await tenant(cloud, 'netless-no-default');
    const res = await create(t.token, { networks: 'auto' }, '2.37');
    assert.equal(res.status, 400);
    assert.equal(res.body.badRequest.message, `Unable to automatically allocate a network for project ${t.projectId}`);
  } finally {
    await cloud.req('PUT', `/network/v2.0/networks/${publicId}`, { token: cloud.adminToken, body: { network: { is_default: true } } });
  }
});

test('no networks named (below 2.37) with no network for the project boots without an address', async () => {
  const t = await tenant(cloud, 'netless-old');
  const res = await create(t.token, {}, '2.36');
  assert.equal(res.status, 202, res.text);
  assert.deepEqual(await addresses(t.token, res.body.server.id), {});
});

test('with several networks, "auto" and no networks named are both 409 "Multiple possible networks found"', async () => {
  const t = await tenant(cloud, 'two-nets');
  await network(t.token, 'one', '10.1.0.0/24');
  await network(t.token, 'two', '10.2.0.0/24');
  for (const [body, version] of [[{ networks: 'auto' }, '2.37'], [{}, '2.1']] as const) {
    const res = await create(t.token, body, version);
    assert.equal(res.status, 409, res.text);
    assert.equal(res.body.conflictingRequest.message, 'Multiple possible networks found, use a Network ID to be more specific.');
  }
});

test('a shared network is a candidate beside the project’s own: alone it is used, with another it is ambiguous', async () => {
  const shared = await network(cloud.adminToken, 'everyone', '172.30.0.0/24', { shared: true });
  try {
    const t = await tenant(cloud, 'shared-user');
    const res = await create(t.token, { networks: 'auto' }, '2.37');
    assert.equal(res.status, 202, res.text);
    assert.deepEqual(Object.keys(await addresses(t.token, res.body.server.id)), ['everyone']);
    await cloud.req('DELETE', `/compute/v2.1/servers/${res.body.server.id}`, { token: t.token });
    // The demo project has private and now the shared one too.
    const demo = await create(cloud.demoToken, {});
    assert.equal(demo.status, 409, demo.text);
  } finally {
    await cloud.services.runner.idle();
    await cloud.req('DELETE', `/network/v2.0/networks/${shared.id}`, { token: cloud.adminToken });
  }
});
