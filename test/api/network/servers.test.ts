/**
 * The networking core as the compute core uses it: allocateForServer / releaseForServer,
 * called directly through cloud.services inside a transaction, as a build would.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startCloud, memberOfNewProject, type TestCloud } from '../../support.js';
import type { ServerNetworking } from '../../../src/network/networking.js';
import { V2, makeNetwork, makeNetworkWithSubnet, makePort } from './fixtures.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

/** A project of its own for each test, so `auto` sees only what the test made. */
const project = (name: string) => memberOfNewProject(cloud, name);

function allocate(s: Partial<ServerNetworking> & Pick<ServerNetworking, 'projectId'>) {
  const net = cloud.services.network;
  return net.transaction((tx) => net.allocateForServer(tx, { serverId: randomUUID(), requested: 'auto', securityGroups: [], ...s }));
}

function release(projectId: string, serverId: string) {
  const net = cloud.services.network;
  return net.transaction((tx) => net.releaseForServer(tx, { id: serverId, projectId }));
}

const getPort = async (token: string, id: string) => (await cloud.req('GET', `${V2}/ports/${id}`, { token })).body.port;
const portsOf = async (token: string, serverId: string) => (await cloud.req('GET', `${V2}/ports?device_id=${serverId}`, { token })).body.ports;

test('a request naming no networks, with no network for the project, gives the server no address, as Nova boots it', async () => {
  const p = await project('srv-none');
  assert.deepEqual(await allocate({ projectId: p.projectId, requested: [] }), {});
});

test("'auto' with no network for the project is refused when there is no default external network for an auto-allocated topology", async () => {
  await cloud.services.db.updateTable('networks').set({ is_default: 0 }).execute();
  const p = await project('srv-auto-none');
  await assert.rejects(allocate({ projectId: p.projectId }), { status: 400, message: `Unable to automatically allocate a network for project ${p.projectId}` });
});

test("'auto' takes the project's only network: a port bound to the server, with an address and the default group", async () => {
  const p = await project('srv-auto');
  const { network } = await makeNetworkWithSubnet(cloud, p.token, 'private', '10.0.0.0/24');
  const serverId = randomUUID();
  const addresses = await allocate({ projectId: p.projectId, serverId, host: 'fake-host-1', availabilityZone: 'nova' });
  const [port] = await portsOf(p.token, serverId);
  assert.deepEqual(addresses, { private: [{ version: 4, addr: '10.0.0.2', 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': port.mac_address }] });
  assert.equal(port.network_id, network.id);
  assert.equal(port.device_owner, 'compute:nova');
  assert.equal(port.status, 'ACTIVE');
  const groups = (await cloud.req('GET', `${V2}/security-groups?name=default`, { token: p.token })).body.security_groups;
  assert.deepEqual(port.security_groups, [groups[0].id]);
  assert.equal((await getPort(cloud.adminToken, port.id))['binding:host_id'], 'fake-host-1');
});

test("'auto' takes a shared network when the project has none", async () => {
  const p = await project('srv-shared');
  const { network } = await makeNetworkWithSubnet(cloud, cloud.adminToken, 'public-shared', '172.24.0.0/24');
  await cloud.req('PUT', `${V2}/networks/${network.id}`, { token: cloud.adminToken, body: { network: { shared: true } } });
  const serverId = randomUUID();
  try {
    const addresses = await allocate({ projectId: p.projectId, serverId });
    assert.deepEqual(Object.keys(addresses), ['public-shared']);
  } finally {
    // Later tests here expect no shared network.
    await release(p.projectId, serverId);
    const unshared = await cloud.req('PUT', `${V2}/networks/${network.id}`, { token: cloud.adminToken, body: { network: { shared: false } } });
    assert.equal(unshared.status, 200, unshared.text);
  }
});

test("'auto' with more than one possible network is 409, as Nova's NetworkAmbiguous", async () => {
  const p = await project('srv-ambiguous');
  await makeNetworkWithSubnet(cloud, p.token, 'one', '10.1.0.0/24');
  await makeNetworkWithSubnet(cloud, p.token, 'two', '10.2.0.0/24');
  await assert.rejects(allocate({ projectId: p.projectId }), { kind: 'conflict', message: 'Multiple possible networks found, use a Network ID to be more specific.' });
});

test("'none' gives no address even when networks exist", async () => {
  const p = await project('srv-nonet');
  await makeNetworkWithSubnet(cloud, p.token, 'private', '10.3.0.0/24');
  assert.deepEqual(await allocate({ projectId: p.projectId, requested: 'none' }), {});
});

test('a requested network and fixed IP are honoured', async () => {
  const p = await project('srv-fixed');
  const { network } = await makeNetworkWithSubnet(cloud, p.token, 'net', '10.4.0.0/24');
  const addresses = await allocate({ projectId: p.projectId, requested: [{ uuid: network.id, fixedIp: '10.4.0.42' }] });
  assert.equal(addresses.net[0].addr, '10.4.0.42');
});

test('several requested networks give one port each, in order', async () => {
  const p = await project('srv-multi');
  const a = await makeNetworkWithSubnet(cloud, p.token, 'alpha', '10.5.0.0/24');
  const b = await makeNetworkWithSubnet(cloud, p.token, 'beta', 'fd00:5::/64');
  const addresses = await allocate({ projectId: p.projectId, requested: [{ uuid: b.network.id }, { uuid: a.network.id }] });
  assert.deepEqual(Object.keys(addresses), ['beta', 'alpha']);
  assert.deepEqual(addresses.beta.map((x) => [x.version, x.addr]), [[6, 'fd00:5::2']]);
});

test('an unknown network is 400 with Nova\'s message', async () => {
  const p = await project('srv-unknown');
  const id = randomUUID();
  await assert.rejects(allocate({ projectId: p.projectId, requested: [{ uuid: id }] }), { kind: 'invalid', message: `Network ${id} could not be found.` });
});

test("another project's private network cannot be requested", async () => {
  const p = await project('srv-foreign');
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'demo-only', '10.6.0.0/24');
  await assert.rejects(allocate({ projectId: p.projectId, requested: [{ uuid: network.id }] }), { kind: 'invalid', message: `Network ${network.id} could not be found.` });
});

test('a network without a subnet cannot be requested', async () => {
  const p = await project('srv-nosubnet');
  const network = await makeNetwork(cloud, p.token, 'bare');
  await assert.rejects(allocate({ projectId: p.projectId, requested: [{ uuid: network.id }] }), {
    kind: 'invalid',
    message: `Network ${network.id} requires a subnet in order to boot instances on.`,
  });
});

test('a fixed IP another server holds is 400 naming that server', async () => {
  const p = await project('srv-taken');
  const { network } = await makeNetworkWithSubnet(cloud, p.token, 'net', '10.7.0.0/24');
  const first = randomUUID();
  await allocate({ projectId: p.projectId, serverId: first, requested: [{ uuid: network.id, fixedIp: '10.7.0.9' }] });
  await assert.rejects(allocate({ projectId: p.projectId, requested: [{ uuid: network.id, fixedIp: '10.7.0.9' }] }), {
    kind: 'invalid',
    message: `Fixed IP address 10.7.0.9 is already in use on instance ${first}.`,
  });
});

test('a fixed IP outside the network is 400', async () => {
  const p = await project('srv-badip');
  const { network } = await makeNetworkWithSubnet(cloud, p.token, 'net', '10.8.0.0/24');
  await assert.rejects(allocate({ projectId: p.projectId, requested: [{ uuid: network.id, fixedIp: '192.168.0.5' }] }), {
    kind: 'invalid',
    message: `Invalid input received: Fixed IP 192.168.0.5 is not a valid ip address for network ${network.id}.`,
  });
});

test('an exhausted network is reported as Nova does', async () => {
  const p = await project('srv-full');
  const { network } = await makeNetworkWithSubnet(cloud, p.token, 'tiny', '10.9.0.0/29', { allocation_pools: [{ start: '10.9.0.2', end: '10.9.0.2' }] });
  await allocate({ projectId: p.projectId });
  await assert.rejects(allocate({ projectId: p.projectId }), { kind: 'conflict', message: `No fixed IP addresses available for network: ${network.id}` });
});

test('a requested port is bound to the server and its address shown', async () => {
  const p = await project('srv-port');
  const { network } = await makeNetworkWithSubnet(cloud, p.token, 'net', '10.10.0.0/24');
  const port = await makePort(cloud, p.token, network.id, { fixed_ips: [{ ip_address: '10.10.0.77' }] });
  const serverId = randomUUID();
  const addresses = await allocate({ projectId: p.projectId, serverId, requested: [{ port: port.id }] });
  assert.deepEqual(addresses, { net: [{ version: 4, addr: '10.10.0.77', 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': port.mac_address }] });
  const bound = await getPort(p.token, port.id);
  assert.equal(bound.device_id, serverId);
  assert.equal(bound.status, 'ACTIVE');
});

test('a port already in use is 409 with Nova\'s message', async () => {
  const p = await project('srv-portused');
  const { network } = await makeNetworkWithSubnet(cloud, p.token, 'net', '10.11.0.0/24');
  const port = await makePort(cloud, p.token, network.id, { device_id: 'someone-else' });
  await assert.rejects(allocate({ projectId: p.projectId, requested: [{ port: port.id }] }), { kind: 'conflict', message: `Port ${port.id} is still in use.` });
});

test('an unknown port, or another project\'s, is 400', async () => {
  const p = await project('srv-portunknown');
  const id = randomUUID();
  await assert.rejects(allocate({ projectId: p.projectId, requested: [{ port: id }] }), { kind: 'invalid', message: `Port id ${id} could not be found.` });
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'demo-port-net', '10.12.0.0/24');
  const theirs = await makePort(cloud, cloud.demoToken, network.id);
  await assert.rejects(allocate({ projectId: p.projectId, requested: [{ port: theirs.id }] }), { kind: 'invalid', message: `Port id ${theirs.id} could not be found.` });
});

test('security groups are resolved by name or id; an unknown one is 400', async () => {
  const p = await project('srv-sg');
  await makeNetworkWithSubnet(cloud, p.token, 'net', '10.13.0.0/24');
  const web = (await cloud.req('POST', `${V2}/security-groups`, { token: p.token, body: { security_group: { name: 'web' } } })).body.security_group;
  const serverId = randomUUID();
  await allocate({ projectId: p.projectId, serverId, securityGroups: ['web', 'default'] });
  const [port] = await portsOf(p.token, serverId);
  assert.equal(port.security_groups[0], web.id);
  assert.equal(port.security_groups.length, 2);
  const names = await cloud.services.network.serverSecurityGroups(cloud.services.db, { id: serverId, projectId: p.projectId });
  assert.deepEqual(names, ['web', 'default']);
  await assert.rejects(allocate({ projectId: p.projectId, securityGroups: ['nope'] }), { kind: 'invalid', message: 'Security group nope not found.' });
});

test('validateForServer refuses what allocation would, without allocating anything', async () => {
  const p = await project('srv-validate');
  const { network } = await makeNetworkWithSubnet(cloud, p.token, 'net', '10.14.0.0/24');
  const net = cloud.services.network;
  await net.validateForServer(net.db, { projectId: p.projectId, requested: [{ uuid: network.id }], securityGroups: ['default'] });
  await assert.rejects(net.validateForServer(net.db, { projectId: p.projectId, requested: [{ uuid: randomUUID() }], securityGroups: [] }), { kind: 'invalid' });
  await assert.rejects(net.validateForServer(net.db, { projectId: p.projectId, requested: 'auto', securityGroups: ['nope'] }), { message: 'Security group nope not found.' });
  assert.deepEqual((await cloud.req('GET', `${V2}/ports?network_id=${network.id}`, { token: p.token })).body.ports, []);
});

test('releaseForServer deletes the ports made for the server, freeing their addresses', async () => {
  const p = await project('srv-release');
  const { network } = await makeNetworkWithSubnet(cloud, p.token, 'net', '10.15.0.0/24');
  const serverId = randomUUID();
  await allocate({ projectId: p.projectId, serverId });
  await release(p.projectId, serverId);
  assert.deepEqual(await portsOf(p.token, serverId), []);
  assert.deepEqual(await cloud.services.network.serverAddresses(cloud.services.db, { id: serverId, projectId: p.projectId }), {});
  const again = await allocate({ projectId: p.projectId, requested: [{ uuid: network.id }] });
  assert.equal(again.net[0].addr, '10.15.0.2');
});

test('releaseForServer unbinds a port the server was given and keeps it', async () => {
  const p = await project('srv-unbind');
  const { network } = await makeNetworkWithSubnet(cloud, p.token, 'net', '10.16.0.0/24');
  const port = await makePort(cloud, p.token, network.id);
  const serverId = randomUUID();
  await allocate({ projectId: p.projectId, serverId, requested: [{ port: port.id }] });
  await release(p.projectId, serverId);
  const kept = await getPort(p.token, port.id);
  assert.equal(kept.device_id, '');
  assert.equal(kept.device_owner, '');
  assert.equal(kept.status, 'DOWN');
  assert.deepEqual(kept.fixed_ips, port.fixed_ips);
});

test('serverAddresses rebuilds the addresses allocateForServer returned', async () => {
  const p = await project('srv-addresses');
  await makeNetworkWithSubnet(cloud, p.token, 'net', '10.17.0.0/24');
  const serverId = randomUUID();
  const given = await allocate({ projectId: p.projectId, serverId });
  assert.deepEqual(await cloud.services.network.serverAddresses(cloud.services.db, { id: serverId, projectId: p.projectId }), given);
});

test('allocation in a transaction that fails leaves no port behind', async () => {
  const p = await project('srv-rollback');
  const { network } = await makeNetworkWithSubnet(cloud, p.token, 'net', '10.18.0.0/24');
  const net = cloud.services.network;
  await assert.rejects(
    net.transaction(async (tx) => {
      await net.allocateForServer(tx, { projectId: p.projectId, serverId: randomUUID(), requested: [{ uuid: network.id }], securityGroups: [] });
      throw new Error('the build failed');
    }),
    /the build failed/,
  );
  assert.deepEqual((await cloud.req('GET', `${V2}/ports?network_id=${network.id}`, { token: p.token })).body.ports, []);
});
