import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, memberOfNewProject, type TestCloud } from '../../support.js';
import { V2, makeNetwork, makeNetworkWithSubnet, makePort, makeSubnet, neutronError } from './fixtures.js';

let cloud: TestCloud;
let other: { token: string; projectId: string };
before(async () => {
  cloud = await startCloud();
  other = await memberOfNewProject(cloud, 'portother');
});
after(async () => cloud.close());

const post = (port: Record<string, unknown>, token = cloud.demoToken) => cloud.req('POST', `${V2}/ports`, { token, body: { port } });
const addresses = (p: { fixed_ips: { ip_address: string }[] }) => p.fixed_ips.map((f) => f.ip_address);

test('POST /ports gives a DOWN port a Neutron MAC, an address and the default security group', async () => {
  const { network, subnet } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'port-basic', '10.0.0.0/24');
  const res = await post({ network_id: network.id, name: 'p' });
  assert.equal(res.status, 201);
  const p = res.body.port;
  assert.match(p.mac_address, /^fa:16:3e(:[0-9a-f]{2}){3}$/);
  assert.deepEqual(p.fixed_ips, [{ subnet_id: subnet.id, ip_address: '10.0.0.2' }]);
  assert.equal(p.status, 'DOWN');
  assert.equal(p.device_id, '');
  assert.equal(p.device_owner, '');
  assert.equal(p.admin_state_up, true);
  assert.equal(p.port_security_enabled, true);
  assert.equal(p.project_id, cloud.demoProjectId);
  const groups = await cloud.req('GET', `${V2}/security-groups?name=default`, { token: cloud.demoToken });
  assert.deepEqual(p.security_groups, [groups.body.security_groups[0].id]);
  assert.equal(p['binding:host_id'], undefined, 'binding details are for admins');
  assert.equal(p['binding:vnic_type'], 'normal');
});

test('addresses are given in order: the next free one in the pool', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'port-seq', '10.1.0.0/24');
  const got = [];
  for (let i = 0; i < 3; i++) got.push(addresses(await makePort(cloud, cloud.demoToken, network.id))[0]);
  assert.deepEqual(got, ['10.1.0.2', '10.1.0.3', '10.1.0.4']);
});

test('a requested fixed IP is honoured', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'port-fixed', '10.2.0.0/24');
  const p = await makePort(cloud, cloud.demoToken, network.id, { fixed_ips: [{ ip_address: '10.2.0.50' }] });
  assert.deepEqual(addresses(p), ['10.2.0.50']);
});

test('a requested fixed IP that is taken is 409 IpAddressInUse', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'port-taken', '10.3.0.0/24');
  await makePort(cloud, cloud.demoToken, network.id, { fixed_ips: [{ ip_address: '10.3.0.9' }] });
  const msg = neutronError(await post({ network_id: network.id, fixed_ips: [{ ip_address: '10.3.0.9' }] }), 409, 'IpAddressInUse');
  assert.equal(msg, `Unable to complete operation for network ${network.id}. The IP address 10.3.0.9 is in use.`);
});

test('the gateway address is never handed out, even on request', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'port-gw', '10.4.0.0/24');
  neutronError(await post({ network_id: network.id, fixed_ips: [{ ip_address: '10.4.0.1' }] }), 409, 'IpAddressInUse');
});

test('allocation skips an address taken by request and fills the gap later', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'port-gap', '10.5.0.0/24');
  await makePort(cloud, cloud.demoToken, network.id, { fixed_ips: [{ ip_address: '10.5.0.2' }] });
  assert.deepEqual(addresses(await makePort(cloud, cloud.demoToken, network.id)), ['10.5.0.3']);
});

test('an exhausted pool is 409 IpAddressGenerationFailure', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'port-full', '10.6.0.0/29', { allocation_pools: [{ start: '10.6.0.2', end: '10.6.0.3' }] });
  await makePort(cloud, cloud.demoToken, network.id);
  await makePort(cloud, cloud.demoToken, network.id);
  const msg = neutronError(await post({ network_id: network.id }), 409, 'IpAddressGenerationFailure');
  assert.equal(msg, `No more IP addresses available on network ${network.id}.`);
});

test('deleting a port releases its address for the next port', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'port-release', '10.7.0.0/29', { allocation_pools: [{ start: '10.7.0.2', end: '10.7.0.2' }] });
  const p = await makePort(cloud, cloud.demoToken, network.id);
  neutronError(await post({ network_id: network.id }), 409);
  assert.equal((await cloud.req('DELETE', `${V2}/ports/${p.id}`, { token: cloud.demoToken })).status, 204);
  assert.deepEqual(addresses(await makePort(cloud, cloud.demoToken, network.id)), ['10.7.0.2']);
});

test('a fixed IP outside every subnet is 400 InvalidIpForNetwork', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'port-outside', '10.8.0.0/24');
  const msg = neutronError(await post({ network_id: network.id, fixed_ips: [{ ip_address: '192.168.1.1' }] }), 400, 'InvalidIpForNetwork');
  assert.equal(msg, 'IP address 192.168.1.1 is not a valid IP for any of the subnets on the specified network.');
});

test('a fixed IP that is not an address is 400 naming fixed_ips', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'port-badip', '10.9.0.0/24');
  assert.equal(neutronError(await post({ network_id: network.id, fixed_ips: [{ ip_address: '10.9.0' }] }), 400), "Invalid input for fixed_ips. Reason: '10.9.0' is not a valid IP address.");
});

test('a fixed IP by subnet takes the next free address of that subnet', async () => {
  const network = await makeNetwork(cloud, cloud.demoToken, 'port-twosubnets');
  await makeSubnet(cloud, cloud.demoToken, network.id, '10.10.0.0/24');
  const second = await makeSubnet(cloud, cloud.demoToken, network.id, '10.11.0.0/24');
  const p = await makePort(cloud, cloud.demoToken, network.id, { fixed_ips: [{ subnet_id: second.id }] });
  assert.deepEqual(p.fixed_ips, [{ subnet_id: second.id, ip_address: '10.11.0.2' }]);
});

test('a port on a dual-stack network gets one IPv4 and one IPv6 address', async () => {
  const network = await makeNetwork(cloud, cloud.demoToken, 'port-dual');
  await makeSubnet(cloud, cloud.demoToken, network.id, '10.12.0.0/24');
  await makeSubnet(cloud, cloud.demoToken, network.id, 'fd00:12::/64');
  assert.deepEqual(addresses(await makePort(cloud, cloud.demoToken, network.id)), ['10.12.0.2', 'fd00:12::2']);
});

test('a port on a SLAAC subnet gets the EUI-64 address of its MAC', async () => {
  const network = await makeNetwork(cloud, cloud.demoToken, 'port-slaac');
  await makeSubnet(cloud, cloud.demoToken, network.id, 'fd00:13::/64', { ipv6_address_mode: 'slaac', ipv6_ra_mode: 'slaac' });
  const p = await makePort(cloud, cloud.demoToken, network.id, { mac_address: 'fa:16:3e:11:22:33' });
  assert.deepEqual(addresses(p), ['fd00:13::f816:3eff:fe11:2233']);
});

test('a requested MAC is kept in lower case, and a duplicate on the network is 409', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'port-mac', '10.14.0.0/24');
  const p = await makePort(cloud, cloud.demoToken, network.id, { mac_address: 'FA:16:3E:AA:BB:CC' });
  assert.equal(p.mac_address, 'fa:16:3e:aa:bb:cc');
  neutronError(await post({ network_id: network.id, mac_address: 'fa:16:3e:aa:bb:cc' }), 409, 'MacAddressInUse');
  assert.equal(neutronError(await post({ network_id: network.id, mac_address: 'nope' }), 400), "Invalid input for mac_address. Reason: 'nope' is not a valid MAC address.");
});

test('a port on a network without subnets has no address', async () => {
  const network = await makeNetwork(cloud, cloud.demoToken, 'port-nosubnet');
  assert.deepEqual((await makePort(cloud, cloud.demoToken, network.id)).fixed_ips, []);
});

test('a port without network_id is 400 naming it; an unknown network is 404', async () => {
  assert.equal(neutronError(await post({ name: 'x' }), 400), "Failed to parse request. Required attribute 'network_id' not specified");
  assert.equal(neutronError(await post({ network_id: 'not-a-uuid' }), 400), "Invalid input for network_id. Reason: 'not-a-uuid' is not a valid UUID.");
  neutronError(await post({ network_id: '00000000-0000-0000-0000-000000000000' }), 404, 'NetworkNotFound');
});

test('security_groups names the groups of a port, and an unknown one is 404', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'port-sg', '10.15.0.0/24');
  const sg = await cloud.req('POST', `${V2}/security-groups`, { token: cloud.demoToken, body: { security_group: { name: 'port-sg' } } });
  const p = await makePort(cloud, cloud.demoToken, network.id, { security_groups: [sg.body.security_group.id] });
  assert.deepEqual(p.security_groups, [sg.body.security_group.id]);
  const none = await makePort(cloud, cloud.demoToken, network.id, { security_groups: [] });
  assert.deepEqual(none.security_groups, []);
  neutronError(await post({ network_id: network.id, security_groups: ['00000000-0000-0000-0000-000000000000'] }), 404, 'SecurityGroupNotFound');
});

test('a port with port security off carries no security group', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'port-nosec', '10.16.0.0/24');
  const p = await makePort(cloud, cloud.demoToken, network.id, { port_security_enabled: false });
  assert.deepEqual(p.security_groups, []);
  assert.equal(p.port_security_enabled, false);
});

test('GET /ports filters by network_id, device_id and fixed_ips, and fields trims', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'port-filter', '10.17.0.0/24');
  const a = await makePort(cloud, cloud.demoToken, network.id, { device_id: 'dev-1' });
  const b = await makePort(cloud, cloud.demoToken, network.id);
  const byNet = await cloud.req('GET', `${V2}/ports?network_id=${network.id}`, { token: cloud.demoToken });
  assert.deepEqual(byNet.body.ports.map((p: { id: string }) => p.id), [a.id, b.id]);
  const byDev = await cloud.req('GET', `${V2}/ports?device_id=dev-1`, { token: cloud.demoToken });
  assert.deepEqual(byDev.body.ports.map((p: { id: string }) => p.id), [a.id]);
  const byIp = await cloud.req('GET', `${V2}/ports?fixed_ips=ip_address%3D${addresses(b)[0]}&network_id=${network.id}`, { token: cloud.demoToken });
  assert.deepEqual(byIp.body.ports.map((p: { id: string }) => p.id), [b.id]);
  const trimmed = await cloud.req('GET', `${V2}/ports?id=${a.id}&fields=id&fields=mac_address`, { token: cloud.demoToken });
  assert.deepEqual(Object.keys(trimmed.body.ports[0]).sort(), ['id', 'mac_address']);
});

test('GET /ports/{id} shows a port; an admin also sees its binding', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'port-show', '10.18.0.0/24');
  const p = await makePort(cloud, cloud.demoToken, network.id);
  const mine = await cloud.req('GET', `${V2}/ports/${p.id}`, { token: cloud.demoToken });
  assert.equal(mine.body.port.id, p.id);
  const admin = await cloud.req('GET', `${V2}/ports/${p.id}`, { token: cloud.adminToken });
  assert.equal(admin.body.port['binding:host_id'], '');
  assert.equal(admin.body.port['binding:vif_type'], 'unbound');
});

test('PUT /ports/{id} renames a port and replaces its fixed IPs', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'port-put', '10.19.0.0/24');
  const p = await makePort(cloud, cloud.demoToken, network.id);
  const res = await cloud.req('PUT', `${V2}/ports/${p.id}`, { token: cloud.demoToken, body: { port: { name: 'renamed', fixed_ips: [{ ip_address: '10.19.0.99' }] } } });
  assert.equal(res.status, 200);
  assert.equal(res.body.port.name, 'renamed');
  assert.deepEqual(addresses(res.body.port), ['10.19.0.99']);
  // The old address is free again.
  assert.deepEqual(addresses(await makePort(cloud, cloud.demoToken, network.id)), ['10.19.0.2']);
  const mac = await cloud.req('PUT', `${V2}/ports/${p.id}`, { token: cloud.demoToken, body: { port: { network_id: network.id } } });
  assert.equal(neutronError(mac, 400), 'Cannot update read-only attribute network_id');
});

test('PUT /ports/{id} with a device makes the port ACTIVE; clearing it makes it DOWN', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'port-device', '10.20.0.0/24');
  const p = await makePort(cloud, cloud.demoToken, network.id);
  const on = await cloud.req('PUT', `${V2}/ports/${p.id}`, { token: cloud.demoToken, body: { port: { device_id: 'vm-1', device_owner: 'compute:nova' } } });
  assert.equal(on.body.port.status, 'ACTIVE');
  const off = await cloud.req('PUT', `${V2}/ports/${p.id}`, { token: cloud.demoToken, body: { port: { device_id: '', device_owner: '' } } });
  assert.equal(off.body.port.status, 'DOWN');
});

test("another project's port is invisible, but the network owner sees ports on its shared network", async () => {
  const shared = await makeNetwork(cloud, cloud.demoToken, 'port-shared-owner');
  await makeSubnet(cloud, cloud.demoToken, shared.id, '10.21.0.0/24');
  // Only an admin may share; the demo project still owns it.
  await cloud.req('PUT', `${V2}/networks/${shared.id}`, { token: cloud.adminToken, body: { network: { shared: true } } });
  const theirs = await makePort(cloud, other.token, shared.id);
  assert.equal((await cloud.req('GET', `${V2}/ports/${theirs.id}`, { token: cloud.demoToken })).status, 200);
  const { network: priv } = await makeNetworkWithSubnet(cloud, other.token, 'port-other-private', '10.22.0.0/24');
  const hidden = await makePort(cloud, other.token, priv.id);
  neutronError(await cloud.req('GET', `${V2}/ports/${hidden.id}`, { token: cloud.demoToken }), 404, 'PortNotFound');
  neutronError(await cloud.req('DELETE', `${V2}/ports/${hidden.id}`, { token: cloud.demoToken }), 404);
  const list = await cloud.req('GET', `${V2}/ports`, { token: cloud.demoToken });
  assert.ok(!list.body.ports.some((p: { id: string }) => p.id === hidden.id));
});

test("a port on another project's private network is 404", async () => {
  const { network } = await makeNetworkWithSubnet(cloud, other.token, 'port-foreign', '10.23.0.0/24');
  neutronError(await post({ network_id: network.id }), 404, 'NetworkNotFound');
});

test('on a shared network only its owner may choose a fixed IP', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.adminToken, 'port-shared-fixed', '10.24.0.0/24');
  await cloud.req('PUT', `${V2}/networks/${network.id}`, { token: cloud.adminToken, body: { network: { shared: true } } });
  const res = await post({ network_id: network.id, fixed_ips: [{ ip_address: '10.24.0.10' }] });
  assert.equal(neutronError(res, 403), 'rule:create_port:fixed_ips:ip_address is disallowed by policy');
  assert.deepEqual(addresses(await makePort(cloud, cloud.demoToken, network.id)), ['10.24.0.2']);
});

test('a member may not bind a port to a host', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'port-bind', '10.25.0.0/24');
  neutronError(await post({ network_id: network.id, 'binding:host_id': 'host-1' }), 403, 'PolicyNotAuthorized');
});

test('DELETE /ports/{id} of an unknown port is 404 PortNotFound', async () => {
  const msg = neutronError(await cloud.req('DELETE', `${V2}/ports/nope`, { token: cloud.demoToken }), 404, 'PortNotFound');
  assert.equal(msg, 'Port nope could not be found.');
});

test('ports created at once on one network get distinct addresses, in pool order', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'port-race', '10.26.0.0/24');
  const results = await Promise.all(Array.from({ length: 12 }, () => post({ network_id: network.id })));
  assert.ok(results.every((r) => r.status === 201), results.map((r) => r.text).join('\n'));
  const got = results.map((r) => addresses(r.body.port)[0]).sort((a, b) => Number(a.split('.')[3]) - Number(b.split('.')[3]));
  assert.deepEqual(got, Array.from({ length: 12 }, (_, i) => `10.26.0.${i + 2}`));
});
