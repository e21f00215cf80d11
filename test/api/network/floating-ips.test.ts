/**
 * Neutron L3 through the Networking API: the seeded external network `public` and router1,
 * routers (gateway, interfaces), floating IPs (allocate, associate, filters, status) and
 * the server's addresses that follow them.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { bootServer } from '../compute/server-fixtures.js';
import { V2, makeNetworkWithSubnet, neutronError } from './fixtures.js';

let cloud: TestCloud;
let publicId: string;
let server: string;
let serverPort: { id: string; fixed_ips: { ip_address: string }[] };

before(async () => {
  cloud = await startCloud();
  publicId = (await cloud.req('GET', `${V2}/networks?name=public`, { token: cloud.demoToken })).body.networks[0].id;
  server = await bootServer(cloud, cloud.demoToken);
  serverPort = (await cloud.req('GET', `${V2}/ports?device_id=${server}`, { token: cloud.demoToken })).body.ports[0];
});
after(async () => cloud.close());

const fipCreate = (token: string, body: Record<string, unknown>) => cloud.req('POST', `${V2}/floatingips`, { token, body: { floatingip: body } });

test('the first start seeds DevStack\'s public network: external, the default one, with public-subnet, and router1 to the demo network', async () => {
  const net = (await cloud.req('GET', `${V2}/networks/${publicId}`, { token: cloud.demoToken })).body.network;
  assert.equal(net['router:external'], true);
  assert.equal(net.is_default, true);
  assert.equal(net.shared, false);
  assert.equal(net.project_id, cloud.adminProjectId);
  const subnets = (await cloud.req('GET', `${V2}/subnets?network_id=${publicId}`, { token: cloud.adminToken })).body.subnets;
  assert.deepEqual(subnets.map((s: any) => [s.name, s.cidr, s.gateway_ip]), [['public-subnet', '172.24.4.0/24', '172.24.4.1']]);
  const routers = (await cloud.req('GET', `${V2}/routers`, { token: cloud.demoToken })).body.routers;
  assert.equal(routers.length, 1);
  assert.equal(routers[0].name, 'router1');
  assert.equal(routers[0].external_gateway_info.network_id, publicId);
  assert.equal(routers[0].external_gateway_info.enable_snat, true);
});

test('a floating IP is allocated from the external network, DOWN and unassociated', async () => {
  const res = await fipCreate(cloud.demoToken, { floating_network_id: publicId });
  assert.equal(res.status, 201, res.text);
  const fip = res.body.floatingip;
  assert.match(fip.floating_ip_address, /^172\.24\.4\./);
  assert.equal(fip.status, 'DOWN');
  assert.equal(fip.port_id, null);
  assert.equal(fip.router_id, null);
  assert.equal(fip.project_id, cloud.demoProjectId);
});

test('a floating IP from a network that is not external is 400', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'not-external', '10.9.0.0/24');
  const msg = neutronError(await fipCreate(cloud.demoToken, { floating_network_id: network.id }), 400, 'BadRequest');
  assert.equal(msg, `Bad floatingip request: Network ${network.id} is not a valid external network.`);
});

test('associating a floating IP with a server port makes it ACTIVE with the router, and the server shows it as floating', async () => {
  const fip = (await fipCreate(cloud.demoToken, { floating_network_id: publicId })).body.floatingip;
  const res = await cloud.req('PUT', `${V2}/floatingips/${fip.id}`, { token: cloud.demoToken, body: { floatingip: { port_id: serverPort.id } } });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.floatingip.status, 'ACTIVE');
  assert.equal(res.body.floatingip.fixed_ip_address, serverPort.fixed_ips[0].ip_address);
  const router = (await cloud.req('GET', `${V2}/routers?name=router1`, { token: cloud.demoToken })).body.routers[0];
  assert.equal(res.body.floatingip.router_id, router.id);
  const addresses = (await cloud.req('GET', `/compute/v2.1/servers/${server}`, { token: cloud.demoToken })).body.server.addresses;
  assert.deepEqual(
    addresses.private.map((a: any) => [a.addr, a['OS-EXT-IPS:type']]),
    [[serverPort.fixed_ips[0].ip_address, 'fixed'], [fip.floating_ip_address, 'floating']],
  );
  const filtered = (await cloud.req('GET', `${V2}/floatingips?port_id=${serverPort.id}&status=ACTIVE`, { token: cloud.demoToken })).body.floatingips;
  assert.deepEqual(filtered.map((f: any) => f.id), [fip.id]);

  const off = await cloud.req('PUT', `${V2}/floatingips/${fip.id}`, { token: cloud.demoToken, body: { floatingip: { port_id: null } } });
  assert.equal(off.body.floatingip.status, 'DOWN');
  const after = (await cloud.req('GET', `/compute/v2.1/servers/${server}`, { token: cloud.demoToken })).body.server.addresses;
  assert.deepEqual(after.private.map((a: any) => a['OS-EXT-IPS:type']), ['fixed']);
});

test('a second floating IP on the same fixed IP is 409 FloatingIPPortAlreadyAssociated', async () => {
  const a = (await fipCreate(cloud.demoToken, { floating_network_id: publicId, port_id: serverPort.id })).body.floatingip;
  const b = (await fipCreate(cloud.demoToken, { floating_network_id: publicId })).body.floatingip;
  const res = await cloud.req('PUT', `${V2}/floatingips/${b.id}`, { token: cloud.demoToken, body: { floatingip: { port_id: serverPort.id } } });
  neutronError(res, 409, 'FloatingIPPortAlreadyAssociated');
  await cloud.req('DELETE', `${V2}/floatingips/${a.id}`, { token: cloud.demoToken });
});

test('a port no router joins to the external network cannot take a floating IP (404 ExternalGatewayForFloatingIPNotFound)', async () => {
  const { network, subnet } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'unrouted', '10.8.0.0/24');
  const port = (await cloud.req('POST', `${V2}/ports`, { token: cloud.demoToken, body: { port: { network_id: network.id } } })).body.port;
  const msg = neutronError(await fipCreate(cloud.demoToken, { floating_network_id: publicId, port_id: port.id }), 404, 'ExternalGatewayForFloatingIPNotFound');
  assert.equal(msg, `External network ${publicId} is not reachable from subnet ${subnet.id}.  Therefore, cannot associate Port ${port.id} with a Floating IP.`);
});

test('a router: gateway on public, an interface on a subnet at its gateway address, refused removal while it has ports, then deleted', async () => {
  const { subnet } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'routed', '10.7.0.0/24');
  const created = await cloud.req('POST', `${V2}/routers`, { token: cloud.demoToken, body: { router: { name: 'r', external_gateway_info: { network_id: publicId } } } });
  assert.equal(created.status, 201, created.text);
  const router = created.body.router;
  assert.match(router.external_gateway_info.external_fixed_ips[0].ip_address, /^172\.24\.4\./);
  const add = await cloud.req('PUT', `${V2}/routers/${router.id}/add_router_interface`, { token: cloud.demoToken, body: { subnet_id: subnet.id } });
  assert.equal(add.status, 200, add.text);
  assert.equal(add.body.subnet_id, subnet.id);
  const port = (await cloud.req('GET', `${V2}/ports/${add.body.port_id}`, { token: cloud.demoToken })).body.port;
  assert.equal(port.device_owner, 'network:router_interface');
  assert.equal(port.fixed_ips[0].ip_address, '10.7.0.1');
  neutronError(await cloud.req('DELETE', `${V2}/ports/${port.id}`, { token: cloud.demoToken }), 409, 'ServicePortInUse');
  neutronError(await cloud.req('DELETE', `${V2}/routers/${router.id}`, { token: cloud.demoToken }), 409, 'RouterInUse');
  const again = await cloud.req('PUT', `${V2}/routers/${router.id}/add_router_interface`, { token: cloud.demoToken, body: { subnet_id: subnet.id } });
  assert.equal(neutronError(again, 400), `Bad router request: Router already has a port on subnet ${subnet.id}.`);
  const remove = await cloud.req('PUT', `${V2}/routers/${router.id}/remove_router_interface`, { token: cloud.demoToken, body: { subnet_id: subnet.id } });
  assert.equal(remove.status, 200, remove.text);
  assert.equal((await cloud.req('DELETE', `${V2}/routers/${router.id}`, { token: cloud.demoToken })).status, 204);
});

test('a router gateway on a network that is not external is 400', async () => {
  const { network } = await makeNetworkWithSubnet(cloud, cloud.demoToken, 'inner', '10.6.0.0/24');
  const res = await cloud.req('POST', `${V2}/routers`, { token: cloud.demoToken, body: { router: { external_gateway_info: { network_id: network.id } } } });
  assert.equal(neutronError(res, 400, 'BadRequest'), `Bad router request: Network ${network.id} is not an external network.`);
});

test('setting enable_snat on a gateway is for admins (403)', async () => {
  const res = await cloud.req('POST', `${V2}/routers`, { token: cloud.demoToken, body: { router: { external_gateway_info: { network_id: publicId, enable_snat: false } } } });
  neutronError(res, 403, 'PolicyNotAuthorized');
});

test('an interface router1 needs for a floating IP cannot be removed (409)', async () => {
  const fip = (await fipCreate(cloud.demoToken, { floating_network_id: publicId, port_id: serverPort.id })).body.floatingip;
  const router = (await cloud.req('GET', `${V2}/routers?name=router1`, { token: cloud.demoToken })).body.routers[0];
  const subnetId = (await cloud.req('GET', `${V2}/subnets?name=private-subnet`, { token: cloud.demoToken })).body.subnets[0].id;
  const res = await cloud.req('PUT', `${V2}/routers/${router.id}/remove_router_interface`, { token: cloud.demoToken, body: { subnet_id: subnetId } });
  neutronError(res, 409, 'RouterInterfaceInUseByFloatingIP');
  await cloud.req('DELETE', `${V2}/floatingips/${fip.id}`, { token: cloud.demoToken });
});

test('Neutron\'s quotas count routers and floating IPs, and refuse one over the limit', async () => {
  const put = await cloud.req('PUT', `${V2}/quotas/${cloud.demoProjectId}`, { token: cloud.adminToken, body: { quota: { floatingip: 0 } } });
  assert.equal(put.status, 200, put.text);
  assert.equal(neutronError(await fipCreate(cloud.demoToken, { floating_network_id: publicId }), 409, 'OverQuota'), "Quota exceeded for resources: ['floatingip'].");
  await cloud.req('DELETE', `${V2}/quotas/${cloud.demoProjectId}`, { token: cloud.adminToken });
  const details = (await cloud.req('GET', `${V2}/quotas/${cloud.demoProjectId}/details`, { token: cloud.demoToken })).body.quota;
  assert.equal(details.router.limit, 10);
  assert.equal(details.router.used, 1);
  assert.equal(details.floatingip.limit, 50);
});

test('a server deleted leaves its floating IP unassociated (DOWN)', async () => {
  const privateId = (await cloud.req('GET', `${V2}/networks?name=private`, { token: cloud.demoToken })).body.networks[0].id;
  const other = await bootServer(cloud, cloud.demoToken, { name: 'gone', networks: [{ uuid: privateId }] });
  const port = (await cloud.req('GET', `${V2}/ports?device_id=${other}`, { token: cloud.demoToken })).body.ports[0];
  const fip = (await fipCreate(cloud.demoToken, { floating_network_id: publicId, port_id: port.id })).body.floatingip;
  assert.equal(fip.status, 'ACTIVE');
  await cloud.req('DELETE', `/compute/v2.1/servers/${other}`, { token: cloud.demoToken });
  await cloud.services.runner.idle();
  const now = (await cloud.req('GET', `${V2}/floatingips/${fip.id}`, { token: cloud.demoToken })).body.floatingip;
  assert.deepEqual([now.status, now.port_id, now.fixed_ip_address, now.router_id], ['DOWN', null, null, null]);
});
