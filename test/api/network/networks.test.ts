import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, memberOfNewProject, type TestCloud } from '../../support.js';
import { V2, makeNetwork, makeNetworkWithSubnet, makePort, neutronError } from './fixtures.js';

let cloud: TestCloud;
let other: { token: string; projectId: string };
let reader: { token: string; projectId: string };
before(async () => {
  cloud = await startCloud();
  other = await memberOfNewProject(cloud, 'netother');
  reader = await memberOfNewProject(cloud, 'netreader', 'reader');
});
after(async () => cloud.close());

test('GET /network/ lists v2.0 as CURRENT without a token', async () => {
  const res = await cloud.req('GET', '/network/');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.versions, [{ id: 'v2.0', status: 'CURRENT', links: [{ rel: 'self', href: `${cloud.url}/network/v2.0/` }] }]);
});

test('GET /network/v2.0 lists the resources, and needs a token', async () => {
  const res = await cloud.req('GET', V2, { token: cloud.demoToken });
  assert.equal(res.status, 200);
  assert.deepEqual(
    res.body.resources.map((r: { collection: string }) => r.collection),
    ['networks', 'subnets', 'ports', 'security-groups', 'security-group-rules', 'routers', 'floatingips'],
  );
  const anon = await cloud.req('GET', V2);
  assert.equal(anon.status, 401);
  assert.match(anon.headers.get('www-authenticate')!, /^Keystone uri=/);
});

test('the service catalog names the network endpoint neutron at /network', async () => {
  const res = await cloud.req('GET', '/identity/v3/auth/tokens', { token: cloud.demoToken, headers: { 'x-subject-token': cloud.demoToken } });
  const network = res.body.token.catalog.find((s: { type: string }) => s.type === 'network');
  assert.equal(network.name, 'neutron');
  assert.equal(network.endpoints[0].url, `${cloud.url}/network`);
});

test('GET /extensions lists the implemented extensions, and one is shown by alias', async () => {
  const res = await cloud.req('GET', `${V2}/extensions`, { token: cloud.demoToken });
  assert.equal(res.status, 200);
  const aliases = res.body.extensions.map((e: { alias: string }) => e.alias);
  for (const a of ['security-group', 'external-net', 'port-security', 'binding', 'project-id', 'net-mtu']) assert.ok(aliases.includes(a), a);
  const one = await cloud.req('GET', `${V2}/extensions/security-group`, { token: cloud.demoToken });
  assert.equal(one.body.extension.name, 'security-group');
  neutronError(await cloud.req('GET', `${V2}/extensions/tag-ports-during-bulk-creation`, { token: cloud.demoToken }), 404);
});

test('POST /networks creates a network with Neutron defaults and answers 201', async () => {
  const res = await cloud.req('POST', `${V2}/networks`, { token: cloud.demoToken, body: { network: { name: 'net-defaults' } } });
  assert.equal(res.status, 201);
  const n = res.body.network;
  assert.match(n.id, /^[0-9a-f-]{36}$/);
  assert.equal(n.name, 'net-defaults');
  assert.equal(n.project_id, cloud.demoProjectId);
  assert.equal(n.tenant_id, cloud.demoProjectId);
  assert.equal(n.admin_state_up, true);
  assert.equal(n.shared, false);
  assert.equal(n['router:external'], false);
  assert.equal(n.status, 'ACTIVE');
  assert.equal(n.mtu, 1500);
  assert.equal(n.port_security_enabled, true);
  assert.deepEqual(n.subnets, []);
  assert.match(n.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test('GET /networks/{id} shows a network and lists its subnets', async () => {
  const { network, subnet } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'net-show');
  const res = await cloud.req('GET', `${V2}/networks/${network.id}`, { token: cloud.demoToken });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.network.subnets, [subnet.id]);
});

test('GET /networks/{id} of an unknown network is 404 NetworkNotFound', async () => {
  const msg = neutronError(await cloud.req('GET', `${V2}/networks/nope`, { token: cloud.demoToken }), 404, 'NetworkNotFound');
  assert.equal(msg, 'Network nope could not be found.');
});

test('GET /networks filters by name and id, and fields trims each network', async () => {
  const a = await makeNetwork(cloud, cloud.demoToken, 'filter-a');
  await makeNetwork(cloud, cloud.demoToken, 'filter-b');
  const byName = await cloud.req('GET', `${V2}/networks?name=filter-a`, { token: cloud.demoToken });
  assert.deepEqual(byName.body.networks.map((n: { id: string }) => n.id), [a.id]);
  const byId = await cloud.req('GET', `${V2}/networks?id=${a.id}&fields=id&fields=name`, { token: cloud.demoToken });
  assert.deepEqual(byId.body.networks, [{ id: a.id, name: 'filter-a' }]);
});

test('GET /networks filters booleans written as Python does (shared=False)', async () => {
  const res = await cloud.req('GET', `${V2}/networks?shared=False`, { token: cloud.demoToken });
  assert.equal(res.status, 200);
  assert.ok(res.body.networks.length > 0);
  assert.ok(res.body.networks.every((n: { shared: boolean }) => n.shared === false));
});

test('GET /networks with an unknown filter is 400 naming it', async () => {
  const msg = neutronError(await cloud.req('GET', `${V2}/networks?colour=red`, { token: cloud.demoToken }), 400);
  assert.equal(msg, "['colour'] is invalid attribute for filtering");
});

test('GET /networks pages with limit and marker and links the next page', async () => {
  for (const n of ['page-1', 'page-2', 'page-3']) await makeNetwork(cloud, other.token, n);
  // The seeded external network `public` is in every project's list: the owner's networks are filtered by project.
  const first = await cloud.req('GET', `${V2}/networks?limit=2&sort_key=name&sort_dir=asc&router:external=false`, { token: other.token });
  assert.deepEqual(first.body.networks.map((n: { name: string }) => n.name), ['page-1', 'page-2']);
  const next = first.body.networks_links.find((l: { rel: string }) => l.rel === 'next');
  const second = await cloud.req('GET', next.href.slice(cloud.url.length), { token: other.token });
  assert.deepEqual(second.body.networks.map((n: { name: string }) => n.name), ['page-3']);
  assert.equal(second.body.networks_links.find((l: { rel: string }) => l.rel === 'next'), undefined);
});

test('GET /networks sorts by sort_key and refuses an unknown one', async () => {
  const res = await cloud.req('GET', `${V2}/networks?sort_key=name&sort_dir=desc`, { token: other.token });
  const names = res.body.networks.map((n: { name: string }) => n.name);
  assert.deepEqual(names, [...names].sort().reverse());
  const bad = await cloud.req('GET', `${V2}/networks?sort_key=colour&sort_dir=asc`, { token: other.token });
  assert.equal(neutronError(bad, 400), "['colour'] is invalid attribute for sort_keys");
});

test('PUT /networks/{id} renames a network and bumps its revision', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'before-rename');
  const res = await cloud.req('PUT', `${V2}/networks/${n.id}`, { token: cloud.demoToken, body: { network: { name: 'after-rename', admin_state_up: false } } });
  assert.equal(res.status, 200);
  assert.equal(res.body.network.name, 'after-rename');
  assert.equal(res.body.network.admin_state_up, false);
  assert.equal(res.body.network.revision_number, n.revision_number + 1);
});

test('PUT /networks/{id} of a read-only attribute is 400 naming it', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'read-only');
  const msg = neutronError(await cloud.req('PUT', `${V2}/networks/${n.id}`, { token: cloud.demoToken, body: { network: { status: 'DOWN' } } }), 400);
  assert.equal(msg, 'Cannot update read-only attribute status');
  const put = await cloud.req('PUT', `${V2}/networks/${n.id}`, { token: cloud.demoToken, body: { network: { project_id: 'x' } } });
  assert.equal(neutronError(put, 400), 'Cannot update read-only attribute project_id');
});

test('DELETE /networks/{id} answers 204 and the network is gone', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'to-delete');
  const del = await cloud.req('DELETE', `${V2}/networks/${network.id}`, { token: cloud.demoToken });
  assert.equal(del.status, 204);
  assert.equal(del.text, '');
  assert.equal((await cloud.req('GET', `${V2}/networks/${network.id}`, { token: cloud.demoToken })).status, 404);
});

test('DELETE /networks/{id} with a port on it is 409 NetworkInUse', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'in-use');
  await makePort(cloud, cloud.demoToken, network.id);
  const msg = neutronError(await cloud.req('DELETE', `${V2}/networks/${network.id}`, { token: cloud.demoToken }), 409, 'NetworkInUse');
  assert.match(msg, /There are one or more ports still in use on the network/);
});

test('a bad attribute type is 400 naming the attribute', async () => {
  const res = await cloud.req('POST', `${V2}/networks`, { token: cloud.demoToken, body: { network: { name: 'x', admin_state_up: 'maybe' } } });
  assert.equal(neutronError(res, 400), "Invalid input for admin_state_up. Reason: 'maybe' cannot be converted to boolean.");
  const long = await cloud.req('POST', `${V2}/networks`, { token: cloud.demoToken, body: { network: { name: 'x'.repeat(256) } } });
  assert.match(neutronError(long, 400), /^Invalid input for name\. Reason: 'x+' exceeds maximum length of 255\.$/);
});

test('an unknown attribute is 400 naming it, and a body without the resource is 400', async () => {
  const res = await cloud.req('POST', `${V2}/networks`, { token: cloud.demoToken, body: { network: { name: 'x', colour: 'red' } } });
  assert.equal(neutronError(res, 400), "Unrecognized attribute(s) 'colour'");
  const posted = await cloud.req('POST', `${V2}/networks`, { token: cloud.demoToken, body: { network: { id: 'mine' } } });
  assert.equal(neutronError(posted, 400), "Attribute 'id' not allowed in POST");
  const none = await cloud.req('POST', `${V2}/networks`, { token: cloud.demoToken, body: { net: {} } });
  assert.equal(neutronError(none, 400), "Unable to find 'network' in request body");
  const mtu = await cloud.req('POST', `${V2}/networks`, { token: cloud.demoToken, body: { network: { mtu: 9000 } } });
  assert.equal(neutronError(mtu, 400, 'InvalidInput'), 'Invalid input for operation: Requested MTU is too big, maximum is 1500.');
});

test('POST /networks with a networks list creates them all (bulk)', async () => {
  const res = await cloud.req('POST', `${V2}/networks`, { token: cloud.demoToken, body: { networks: [{ name: 'bulk-1' }, { name: 'bulk-2' }] } });
  assert.equal(res.status, 201);
  assert.deepEqual(res.body.networks.map((n: { name: string }) => n.name), ['bulk-1', 'bulk-2']);
});

test('a member may not create a shared or external network', async () => {
  const shared = await cloud.req('POST', `${V2}/networks`, { token: cloud.demoToken, body: { network: { name: 'x', shared: true } } });
  assert.equal(neutronError(shared, 403, 'PolicyNotAuthorized'), 'rule:create_network:shared is disallowed by policy');
  const ext = await cloud.req('POST', `${V2}/networks`, { token: cloud.demoToken, body: { network: { name: 'x', 'router:external': true } } });
  neutronError(ext, 403);
});

test('a reader may list networks but not create one', async () => {
  assert.equal((await cloud.req('GET', `${V2}/networks`, { token: reader.token })).status, 200);
  const res = await cloud.req('POST', `${V2}/networks`, { token: reader.token, body: { network: { name: 'x' } } });
  assert.equal(neutronError(res, 403), 'rule:create_network is disallowed by policy');
});

test('a member may not create a network for another project', async () => {
  const res = await cloud.req('POST', `${V2}/networks`, { token: cloud.demoToken, body: { network: { name: 'x', project_id: other.projectId } } });
  assert.match(neutronError(res, 400), /requires admin privileges/);
});

test('an admin creates a network for another project', async () => {
  const n = await makeNetwork(cloud, cloud.adminToken, 'for-other', { project_id: other.projectId });
  assert.equal(n.project_id, other.projectId);
  const seen = await cloud.req('GET', `${V2}/networks/${n.id}`, { token: other.token });
  assert.equal(seen.status, 200);
});

test("another project's private network is invisible: 404 and absent from lists", async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'demo-private');
  neutronError(await cloud.req('GET', `${V2}/networks/${n.id}`, { token: other.token }), 404, 'NetworkNotFound');
  neutronError(await cloud.req('DELETE', `${V2}/networks/${n.id}`, { token: other.token }), 404);
  const list = await cloud.req('GET', `${V2}/networks`, { token: other.token });
  assert.ok(!list.body.networks.some((x: { id: string }) => x.id === n.id));
});

test('a shared network is visible to every project but changed only by its owner', async () => {
  const n = await makeNetwork(cloud, cloud.adminToken, 'shared-net', { shared: true });
  const list = await cloud.req('GET', `${V2}/networks?shared=true`, { token: other.token });
  assert.ok(list.body.networks.some((x: { id: string }) => x.id === n.id));
  const del = await cloud.req('DELETE', `${V2}/networks/${n.id}`, { token: other.token });
  assert.equal(neutronError(del, 403), 'rule:delete_network is disallowed by policy');
});

test('an admin sees the networks of every project', async () => {
  const n = await makeNetwork(cloud, other.token, 'seen-by-admin');
  const list = await cloud.req('GET', `${V2}/networks?project_id=${other.projectId}`, { token: cloud.adminToken });
  assert.ok(list.body.networks.some((x: { id: string }) => x.id === n.id));
});

test('a shared network cannot be made private while another project has ports on it', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.adminToken, 'shared-used', '10.9.0.0/24');
  await cloud.req('PUT', `${V2}/networks/${network.id}`, { token: cloud.adminToken, body: { network: { shared: true } } });
  await makePort(cloud, other.token, network.id);
  const res = await cloud.req('PUT', `${V2}/networks/${network.id}`, { token: cloud.adminToken, body: { network: { shared: false } } });
  neutronError(res, 409, 'InvalidSharedSetting');
});

test('an unsupported method on a network is 405 in Neutron format', async () => {
  neutronError(await cloud.req('PATCH', `${V2}/networks`, { token: cloud.demoToken, body: {} }), 405);
});
