import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, memberOfNewProject, type TestCloud } from '../../support.js';
import { V2, makeNetwork, makePort, makeSubnet, neutronError } from './fixtures.js';

let cloud: TestCloud;
let other: { token: string; projectId: string };
before(async () => {
  cloud = await startCloud();
  other = await memberOfNewProject(cloud, 'subother');
});
after(async () => cloud.close());

const post = (subnet: Record<string, unknown>, token = cloud.demoToken) => cloud.req('POST', `${V2}/subnets`, { token, body: { subnet } });

test('POST /subnets puts the gateway at the first host and the pool around it', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-defaults');
  const res = await post({ network_id: n.id, ip_version: 4, cidr: '10.0.0.0/24', name: 's' });
  assert.equal(res.status, 201);
  const s = res.body.subnet;
  assert.equal(s.cidr, '10.0.0.0/24');
  assert.equal(s.gateway_ip, '10.0.0.1');
  assert.deepEqual(s.allocation_pools, [{ start: '10.0.0.2', end: '10.0.0.254' }]);
  assert.equal(s.enable_dhcp, true);
  assert.equal(s.ip_version, 4);
  assert.equal(s.network_id, n.id);
  assert.equal(s.project_id, cloud.demoProjectId);
  assert.deepEqual(s.dns_nameservers, []);
  assert.deepEqual(s.host_routes, []);
});

test('a CIDR with host bits set is stored as its network', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-hostbits');
  const s = await makeSubnet(cloud, cloud.demoToken, n.id, '10.1.0.77/24');
  assert.equal(s.cidr, '10.1.0.0/24');
});

test('gateway_ip null gives a subnet without gateway, its pool covering every host', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-nogw');
  const s = await makeSubnet(cloud, cloud.demoToken, n.id, '10.2.0.0/29', { gateway_ip: null });
  assert.equal(s.gateway_ip, null);
  assert.deepEqual(s.allocation_pools, [{ start: '10.2.0.1', end: '10.2.0.6' }]);
});

test('a gateway inside the range splits the default pool', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-midgw');
  const s = await makeSubnet(cloud, cloud.demoToken, n.id, '10.3.0.0/28', { gateway_ip: '10.3.0.5' });
  assert.deepEqual(s.allocation_pools, [
    { start: '10.3.0.1', end: '10.3.0.4' },
    { start: '10.3.0.6', end: '10.3.0.14' },
  ]);
});

test('requested allocation pools are kept, and a gateway inside one is 409', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-pools');
  const s = await makeSubnet(cloud, cloud.demoToken, n.id, '10.4.0.0/24', { allocation_pools: [{ start: '10.4.0.100', end: '10.4.0.110' }] });
  assert.deepEqual(s.allocation_pools, [{ start: '10.4.0.100', end: '10.4.0.110' }]);
  const n2 = await makeNetwork(cloud, cloud.demoToken, 'sub-pools-2');
  const res = await post({ network_id: n2.id, ip_version: 4, cidr: '10.4.0.0/24', gateway_ip: '10.4.0.105', allocation_pools: [{ start: '10.4.0.100', end: '10.4.0.110' }] });
  assert.equal(neutronError(res, 409, 'GatewayConflictWithAllocationPools'), 'Gateway ip 10.4.0.105 conflicts with allocation pool 10.4.0.100-10.4.0.110.');
});

test('a pool beyond the CIDR is 400 OutOfBoundsAllocationPool', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-oob');
  const res = await post({ network_id: n.id, ip_version: 4, cidr: '10.5.0.0/24', allocation_pools: [{ start: '10.5.0.10', end: '10.5.1.10' }] });
  assert.equal(neutronError(res, 400, 'OutOfBoundsAllocationPool'), 'The allocation pool 10.5.0.10-10.5.1.10 spans beyond the subnet cidr 10.5.0.0/24.');
});

test('overlapping pools are 409 OverlappingAllocationPools', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-overlap-pools');
  const res = await post({
    network_id: n.id,
    ip_version: 4,
    cidr: '10.6.0.0/24',
    allocation_pools: [
      { start: '10.6.0.10', end: '10.6.0.20' },
      { start: '10.6.0.15', end: '10.6.0.30' },
    ],
  });
  neutronError(res, 409, 'OverlappingAllocationPools');
});

test('a CIDR overlapping another subnet of the network is 400', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-overlap');
  await makeSubnet(cloud, cloud.demoToken, n.id, '10.7.0.0/24');
  const res = await post({ network_id: n.id, ip_version: 4, cidr: '10.7.0.128/25' });
  assert.equal(
    neutronError(res, 400, 'InvalidInput'),
    `Invalid input for operation: Requested subnet with cidr: 10.7.0.128/25 for network: ${n.id} overlaps with another subnet.`,
  );
});

test('an invalid CIDR is 400 naming cidr', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-badcidr');
  assert.equal(neutronError(await post({ network_id: n.id, ip_version: 4, cidr: '10.0.0.300/24' }), 400), "Invalid input for cidr. Reason: '10.0.0.300/24' is not a valid IP subnet.");
  assert.equal(
    neutronError(await post({ network_id: n.id, ip_version: 4, cidr: '10.0.0.0' }), 400),
    "Invalid input for cidr. Reason: '10.0.0.0' isn't a recognized IP subnet cidr, '10.0.0.0/32' is recommended.",
  );
});

test('a CIDR of the other IP version is 400', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-version');
  const msg = neutronError(await post({ network_id: n.id, ip_version: 6, cidr: '10.0.0.0/24' }), 400);
  assert.equal(msg, "Invalid input for operation: cidr '10.0.0.0/24' does not match the ip_version '6'.");
});

test('ip_version other than 4 or 6 is 400 naming ip_version', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-ipv5');
  assert.equal(neutronError(await post({ network_id: n.id, ip_version: 5, cidr: '10.0.0.0/24' }), 400), 'Invalid input for ip_version. Reason: 5 is not in [4, 6].');
});

test('a subnet without network_id is 400 naming it', async () => {
  assert.equal(neutronError(await post({ ip_version: 4, cidr: '10.0.0.0/24' }), 400), "Failed to parse request. Required attribute 'network_id' not specified");
});

test('a subnet without cidr is 400 (there are no subnet pools)', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-nocidr');
  assert.match(neutronError(await post({ network_id: n.id, ip_version: 4 }), 400), /a subnetpool must be specified in the absence of a cidr/);
});

test('a gateway outside the IP version or on the network address is 400', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-badgw');
  assert.equal(neutronError(await post({ network_id: n.id, ip_version: 4, cidr: '10.8.0.0/24', gateway_ip: 'gw' }), 400), "Invalid input for gateway_ip. Reason: 'gw' is not a valid IP address.");
  assert.equal(neutronError(await post({ network_id: n.id, ip_version: 4, cidr: '10.8.0.0/24', gateway_ip: '10.8.0.0' }), 400), 'Invalid input for operation: Gateway is not valid on subnet.');
});

test('an IPv6 subnet gets a compressed CIDR, ::1 gateway and a pool to the end', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-v6');
  const s = await makeSubnet(cloud, cloud.demoToken, n.id, '2001:DB8:0:0::/64');
  assert.equal(s.cidr, '2001:db8::/64');
  assert.equal(s.gateway_ip, '2001:db8::1');
  assert.deepEqual(s.allocation_pools, [{ start: '2001:db8::2', end: '2001:db8::ffff:ffff:ffff:ffff' }]);
});

test('a SLAAC subnet must be a /64', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-slaac');
  const res = await post({ network_id: n.id, ip_version: 6, cidr: '2001:db8:1::/80', ipv6_address_mode: 'slaac', ipv6_ra_mode: 'slaac' });
  assert.match(neutronError(res, 400), /requires the prefix to be \/64/);
});

test('dns_nameservers and host_routes are kept, and a bad nameserver is 400 naming it', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-dns');
  const s = await makeSubnet(cloud, cloud.demoToken, n.id, '10.9.0.0/24', {
    dns_nameservers: ['8.8.8.8', '1.1.1.1'],
    host_routes: [{ destination: '192.168.0.0/16', nexthop: '10.9.0.254' }],
  });
  assert.deepEqual(s.dns_nameservers, ['8.8.8.8', '1.1.1.1']);
  assert.deepEqual(s.host_routes, [{ destination: '192.168.0.0/16', nexthop: '10.9.0.254' }]);
  const bad = await post({ network_id: n.id, ip_version: 4, cidr: '10.10.0.0/24', dns_nameservers: ['dns.example'] });
  assert.match(neutronError(bad, 400), /^Invalid input for dns_nameservers\./);
});

test('GET /subnets filters by network_id and GET /subnets/{id} shows one', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-list');
  const s = await makeSubnet(cloud, cloud.demoToken, n.id, '10.11.0.0/24');
  const list = await cloud.req('GET', `${V2}/subnets?network_id=${n.id}`, { token: cloud.demoToken });
  assert.deepEqual(list.body.subnets.map((x: { id: string }) => x.id), [s.id]);
  const one = await cloud.req('GET', `${V2}/subnets/${s.id}`, { token: cloud.demoToken });
  assert.equal(one.body.subnet.cidr, '10.11.0.0/24');
});

test('PUT /subnets/{id} changes name, dhcp and pools, but not the CIDR', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-put');
  const s = await makeSubnet(cloud, cloud.demoToken, n.id, '10.12.0.0/24');
  const res = await cloud.req('PUT', `${V2}/subnets/${s.id}`, {
    token: cloud.demoToken,
    body: { subnet: { name: 'renamed', enable_dhcp: false, allocation_pools: [{ start: '10.12.0.50', end: '10.12.0.60' }] } },
  });
  assert.equal(res.status, 200);
  assert.equal(res.body.subnet.name, 'renamed');
  assert.equal(res.body.subnet.enable_dhcp, false);
  assert.deepEqual(res.body.subnet.allocation_pools, [{ start: '10.12.0.50', end: '10.12.0.60' }]);
  const cidr = await cloud.req('PUT', `${V2}/subnets/${s.id}`, { token: cloud.demoToken, body: { subnet: { cidr: '10.13.0.0/24' } } });
  assert.equal(neutronError(cidr, 400), 'Cannot update read-only attribute cidr');
});

test('DELETE /subnets/{id} answers 204 and removes it from its network', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-del');
  const s = await makeSubnet(cloud, cloud.demoToken, n.id, '10.14.0.0/24');
  assert.equal((await cloud.req('DELETE', `${V2}/subnets/${s.id}`, { token: cloud.demoToken })).status, 204);
  const net = await cloud.req('GET', `${V2}/networks/${n.id}`, { token: cloud.demoToken });
  assert.deepEqual(net.body.network.subnets, []);
  neutronError(await cloud.req('GET', `${V2}/subnets/${s.id}`, { token: cloud.demoToken }), 404, 'SubnetNotFound');
});

test('DELETE /subnets/{id} with a port holding an address from it is 409 SubnetInUse', async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-inuse');
  const s = await makeSubnet(cloud, cloud.demoToken, n.id, '10.15.0.0/24');
  await makePort(cloud, cloud.demoToken, n.id);
  neutronError(await cloud.req('DELETE', `${V2}/subnets/${s.id}`, { token: cloud.demoToken }), 409, 'SubnetInUse');
});

test("a subnet on another project's private network is 404 NetworkNotFound", async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-private');
  neutronError(await post({ network_id: n.id, ip_version: 4, cidr: '10.16.0.0/24' }, other.token), 404, 'NetworkNotFound');
});

test("only the owner of a shared network may add subnets to it; others still see them", async () => {
  const n = await makeNetwork(cloud, cloud.adminToken, 'sub-shared', { shared: true });
  const s = await makeSubnet(cloud, cloud.adminToken, n.id, '10.17.0.0/24');
  assert.equal(neutronError(await post({ network_id: n.id, ip_version: 4, cidr: '10.18.0.0/24' }, other.token), 403), 'rule:create_subnet is disallowed by policy');
  assert.equal((await cloud.req('GET', `${V2}/subnets/${s.id}`, { token: other.token })).status, 200);
});

test("another project's subnet on a private network is invisible", async () => {
  const n = await makeNetwork(cloud, cloud.demoToken, 'sub-hidden');
  const s = await makeSubnet(cloud, cloud.demoToken, n.id, '10.19.0.0/24');
  neutronError(await cloud.req('GET', `${V2}/subnets/${s.id}`, { token: other.token }), 404);
  const list = await cloud.req('GET', `${V2}/subnets`, { token: other.token });
  assert.ok(!list.body.subnets.some((x: { id: string }) => x.id === s.id));
});
