/**
 * What one project can do to another through ports: each test is the attacking project's
 * request (or an admin's, where only an admin can set the scene) and what the victim sees.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, memberOfNewProject, type TestCloud } from '../../support.js';
import { V2, makeNetworkWithSubnet, makePort, neutronError } from './fixtures.js';

let cloud: TestCloud;
let imageId: string;
type Member = { token: string; projectId: string };
let victim: Member;
let attacker: Member;
/** The victim's network and its server on it. */
let victimNet: { id: string; name: string };
let victimServer: string;
/** The attacker's own network. */
let attackerNet: { id: string };
/** A network the admin project owns and shares with everyone. */
let shared: { id: string };

before(async () => {
  cloud = await startCloud();
  imageId = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
  victim = await memberOfNewProject(cloud, 'victim');
  attacker = await memberOfNewProject(cloud, 'attacker');
  victimNet = (await makeNetworkWithSubnet(cloud, victim.token, 'victim-net', '10.40.0.0/24')).network;
  attackerNet = (await makeNetworkWithSubnet(cloud, attacker.token, 'attacker-net', '10.41.0.0/24')).network;
  shared = (await makeNetworkWithSubnet(cloud, cloud.adminToken, 'shared-net', '10.42.0.0/24')).network;
  assert.equal((await cloud.req('PUT', `${V2}/networks/${shared.id}`, { token: cloud.adminToken, body: { network: { shared: true } } })).status, 200);
  victimServer = await boot(victim.token, 'victim-vm', [{ uuid: victimNet.id }]);
});
after(async () => cloud.close());

async function boot(token: string, name: string, networks: unknown): Promise<string> {
  const res = await cloud.req('POST', '/compute/v2.1/servers', { token, body: { server: { name, imageRef: imageId, flavorRef: '1', networks } } });
  assert.equal(res.status, 202, res.text);
  await cloud.services.runner.idle();
  return res.body.server.id;
}

const server = async (id: string, token = victim.token) => (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token })).body.server;
const port = async (id: string) => (await cloud.req('GET', `${V2}/ports/${id}`, { token: cloud.adminToken })).body.port;

/** An admin's port in the attacker's project, on the attacker's network, bound to the victim's server. */
const foreignPortOnVictim = () =>
  makePort(cloud, cloud.adminToken, attackerNet.id, { project_id: attacker.projectId, device_id: victimServer, device_owner: 'compute:nova' });

test("a port bound to another project's server is 409, as Neutron refuses a device_id the project does not own", async () => {
  const before = await server(victimServer);
  const res = await cloud.req('POST', `${V2}/ports`, { token: attacker.token, body: { port: { network_id: attackerNet.id, device_id: victimServer, device_owner: 'compute:nova' } } });
  const message = neutronError(res, 409, 'DeviceIDNotOwnedByTenant');
  assert.equal(message, `The following device_id ${victimServer} is not owned by your tenant or matches another tenants router.`);
  assert.deepEqual((await server(victimServer)).addresses, before.addresses);
});

test("moving a port onto another project's server is 409 too", async () => {
  const mine = await makePort(cloud, attacker.token, attackerNet.id);
  const res = await cloud.req('PUT', `${V2}/ports/${mine.id}`, { token: attacker.token, body: { port: { device_id: victimServer, device_owner: 'compute:nova' } } });
  neutronError(res, 409, 'DeviceIDNotOwnedByTenant');
  assert.equal((await port(mine.id)).device_id, '');
});

test("another project's port bound to a server is not among the server's addresses", async () => {
  const foreign = await foreignPortOnVictim();
  // Any change to the server's ports rebuilds its addresses: the victim adds a port and removes it.
  const own = await makePort(cloud, victim.token, victimNet.id, { device_id: victimServer, device_owner: 'compute:nova' });
  assert.equal((await cloud.req('DELETE', `${V2}/ports/${own.id}`, { token: victim.token })).status, 204);
  const s = await server(victimServer);
  assert.deepEqual(Object.keys(s.addresses), ['victim-net']);
  assert.ok(!JSON.stringify(s.addresses).includes(foreign.fixed_ips[0].ip_address));
  const ips = await cloud.req('GET', `/compute/v2.1/servers/${victimServer}/ips`, { token: victim.token });
  assert.deepEqual(Object.keys(ips.body.addresses), ['victim-net']);
});

test("deleting a server leaves another project's port that names it alone", async () => {
  const target = await boot(victim.token, 'victim-doomed', [{ uuid: victimNet.id }]);
  const foreign = await makePort(cloud, cloud.adminToken, attackerNet.id, { project_id: attacker.projectId, device_id: target, device_owner: 'compute:nova' });
  assert.equal((await cloud.req('DELETE', `/compute/v2.1/servers/${target}`, { token: victim.token })).status, 204);
  await cloud.services.runner.idle();
  const after = await port(foreign.id);
  assert.equal(after.device_id, target);
  assert.equal(after.device_owner, 'compute:nova');
});

test("a network owner's server cannot take another project's port on that network: the build fails with Nova's PortNotUsable", async () => {
  const owner = await memberOfNewProject(cloud, 'netowner');
  const ownerNet = (await makeNetworkWithSubnet(cloud, owner.token, 'owner-net', '10.43.0.0/24')).network;
  assert.equal((await cloud.req('PUT', `${V2}/networks/${ownerNet.id}`, { token: cloud.adminToken, body: { network: { shared: true } } })).status, 200);
  const theirs = await makePort(cloud, victim.token, ownerNet.id);
  const id = await boot(owner.token, 'port-thief', [{ port: theirs.id }]);
  const s = await server(id, owner.token);
  assert.equal(s.status, 'ERROR');
  assert.equal(s.fault.message, `Port ${theirs.id} not usable for instance ${id}.`);
  assert.equal((await port(theirs.id)).device_id, '');
});

test("an admin's server cannot take another project's port either", async () => {
  const theirs = await makePort(cloud, victim.token, victimNet.id);
  const id = await boot(cloud.adminToken, 'admin-port-taker', [{ port: theirs.id }]);
  const s = await server(id, cloud.adminToken);
  assert.equal(s.status, 'ERROR');
  assert.equal(s.fault.message, `Port ${theirs.id} not usable for instance ${id}.`);
  assert.equal((await port(theirs.id)).device_id, '');
});

test("a fixed IP another project holds is refused without naming that project's server, as Nova's port create does", async () => {
  const holder = await boot(victim.token, 'victim-shared', [{ uuid: shared.id, fixed_ip: '10.42.0.10' }]);
  const res = await cloud.req('POST', '/compute/v2.1/servers', {
    token: attacker.token,
    body: { server: { name: 'ip-probe', imageRef: imageId, flavorRef: '1', networks: [{ uuid: shared.id, fixed_ip: '10.42.0.10' }] } },
  });
  assert.ok(!res.text.includes(holder), res.text);
  assert.equal(res.status, 202, res.text);
  await cloud.services.runner.idle();
  const s = await server(res.body.server.id, attacker.token);
  assert.equal(s.status, 'ERROR');
  assert.equal(s.fault.message, 'Fixed IP 10.42.0.10 is already in use.');
  assert.ok(!JSON.stringify(s).includes(holder));
});

test("a fixed IP the caller's own server holds is 400 naming that server, as Nova's validate_networks does", async () => {
  const holder = await boot(attacker.token, 'attacker-shared', [{ uuid: shared.id, fixed_ip: '10.42.0.20' }]);
  const res = await cloud.req('POST', '/compute/v2.1/servers', {
    token: attacker.token,
    body: { server: { name: 'again', imageRef: imageId, flavorRef: '1', networks: [{ uuid: shared.id, fixed_ip: '10.42.0.20' }] } },
  });
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.badRequest.message, `Fixed IP address 10.42.0.20 is already in use on instance ${holder}.`);
});

test("port_security_enabled on another project's shared network is 403, for its owner or an admin only", async () => {
  const res = await cloud.req('POST', `${V2}/ports`, { token: attacker.token, body: { port: { network_id: shared.id, port_security_enabled: false, security_groups: [] } } });
  assert.equal(neutronError(res, 403, 'PolicyNotAuthorized'), 'rule:create_port:port_security_enabled is disallowed by policy');
  const mine = await makePort(cloud, attacker.token, shared.id);
  const update = await cloud.req('PUT', `${V2}/ports/${mine.id}`, { token: attacker.token, body: { port: { port_security_enabled: false, security_groups: [] } } });
  assert.equal(neutronError(update, 403, 'PolicyNotAuthorized'), 'rule:update_port:port_security_enabled is disallowed by policy');
  assert.equal((await port(mine.id)).port_security_enabled, true);
});

test("a network: device_owner on another project's shared network is 403, for its owner or an admin only", async () => {
  const res = await cloud.req('POST', `${V2}/ports`, { token: attacker.token, body: { port: { network_id: shared.id, device_owner: 'network:dhcp', device_id: 'dhcp-x' } } });
  assert.equal(neutronError(res, 403, 'PolicyNotAuthorized'), 'rule:create_port:device_owner is disallowed by policy');
  const mine = await makePort(cloud, attacker.token, shared.id);
  const update = await cloud.req('PUT', `${V2}/ports/${mine.id}`, { token: attacker.token, body: { port: { device_owner: 'network:router_interface' } } });
  assert.equal(neutronError(update, 403, 'PolicyNotAuthorized'), 'rule:update_port:device_owner is disallowed by policy');
  assert.equal((await port(mine.id)).device_owner, '');
});

test('the network owner may set port_security_enabled and a network: device_owner on its own network', async () => {
  const off = await makePort(cloud, attacker.token, attackerNet.id, { port_security_enabled: false, security_groups: [] });
  assert.equal(off.port_security_enabled, false);
  const dhcp = await makePort(cloud, attacker.token, attackerNet.id, { device_owner: 'network:dhcp', device_id: 'dhcp-1' });
  assert.equal(dhcp.device_owner, 'network:dhcp');
  const admin = await makePort(cloud, cloud.adminToken, shared.id, { project_id: attacker.projectId, port_security_enabled: false, security_groups: [] });
  assert.equal(admin.port_security_enabled, false);
});
