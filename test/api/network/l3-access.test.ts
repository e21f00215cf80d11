/**
 * Who may reach the L3 routes (routers, their interfaces, floating IPs, auto-allocated
 * topologies) and Nova's floating IP proxies: another project's router or floating IP is
 * 404, and a reader of the owning project may read but every write is 403, as Neutron's
 * and Nova's policies have it. Table-driven: a new route goes in a table.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { bootServer, colleague, tenant } from '../compute/server-fixtures.js';
import { V2 } from './fixtures.js';

let cloud: TestCloud;
let outsider: string;
let reader: string;
const ids: Record<string, string> = {};

before(async () => {
  cloud = await startCloud();
  outsider = (await tenant(cloud, 'l3-outsider')).token;
  reader = await colleague(cloud, cloud.demoProjectId, 'demo', 'l3-reader', 'reader');
  ids.public = (await cloud.req('GET', `${V2}/networks?name=public`, { token: cloud.demoToken })).body.networks[0].id;
  ids.router = (await cloud.req('GET', `${V2}/routers?name=router1`, { token: cloud.demoToken })).body.routers[0].id;
  ids.subnet = (await cloud.req('GET', `${V2}/subnets?name=private-subnet`, { token: cloud.demoToken })).body.subnets[0].id;
  const fip = await cloud.req('POST', `${V2}/floatingips`, { token: cloud.demoToken, body: { floatingip: { floating_network_id: ids.public } } });
  ids.fip = fip.body.floatingip.id;
  ids.fipAddress = fip.body.floatingip.floating_ip_address;
  ids.project = cloud.demoProjectId;
  ids.server = await bootServer(cloud, cloud.demoToken);
  ids.port = (await cloud.req('GET', `${V2}/ports?device_id=${ids.server}`, { token: cloud.demoToken })).body.ports[0].id;
});
after(async () => cloud.close());

type Case = [method: string, path: string, body?: unknown, version?: string];
const fill = (text: string) => text.replace(/\{(\w+)\}/g, (_, k: string) => ids[k]);
const call = (token: string, [method, path, body, version]: Case) =>
  cloud.req(method, fill(path), { token, body: body === undefined ? undefined : JSON.parse(fill(JSON.stringify(body))), version });

const OWNED_READS: Case[] = [
  ['GET', `${V2}/routers/{router}`],
  ['GET', `${V2}/floatingips/{fip}`],
  ['GET', '/compute/v2.1/os-floating-ips/{fip}', undefined, '2.35'],
];
const OWNED_WRITES: Case[] = [
  ['PUT', `${V2}/routers/{router}`, { router: { name: 'x' } }],
  ['DELETE', `${V2}/routers/{router}`],
  ['PUT', `${V2}/routers/{router}/add_router_interface`, { subnet_id: '{subnet}' }],
  ['PUT', `${V2}/routers/{router}/remove_router_interface`, { subnet_id: '{subnet}' }],
  ['PUT', `${V2}/floatingips/{fip}`, { floatingip: { description: 'x' } }],
  ['DELETE', `${V2}/floatingips/{fip}`],
  ['DELETE', '/compute/v2.1/os-floating-ips/{fip}', undefined, '2.35'],
  ['POST', '/compute/v2.1/servers/{server}/action', { addFloatingIp: { address: '{fipAddress}' } }, '2.43'],
  ['POST', '/compute/v2.1/servers/{server}/action', { removeFloatingIp: { address: '{fipAddress}' } }, '2.43'],
];
/** Writes that name no existing resource: a reader is refused by policy. */
const READER_WRITES: Case[] = [
  ...OWNED_WRITES,
  ['POST', `${V2}/routers`, { router: { name: 'r' } }],
  ['POST', `${V2}/floatingips`, { floatingip: { floating_network_id: '{public}' } }],
  ['POST', '/compute/v2.1/os-floating-ips', { pool: 'public' }, '2.35'],
  ['DELETE', `${V2}/auto-allocated-topology/{project}`],
];

for (const c of [...OWNED_READS, ...OWNED_WRITES]) {
  test(`${c[0]} ${c[1]} of another project's resource is 404`, async () => {
    const res = await call(outsider, c);
    assert.equal(res.status, 404, res.text);
  });
}

for (const c of OWNED_READS) {
  test(`a reader may ${c[0]} ${c[1]}`, async () => {
    const res = await call(reader, c);
    assert.equal(res.status, 200, res.text);
  });
}

for (const c of READER_WRITES) {
  test(`a reader's ${c[0]} ${c[1]} is 403, and changes nothing`, async () => {
    const res = await call(reader, c);
    assert.equal(res.status, 403, res.text);
    assert.equal((await call(cloud.demoToken, ['GET', `${V2}/routers/{router}`])).body.router.name, 'router1');
    assert.equal((await call(cloud.demoToken, ['GET', `${V2}/floatingips/{fip}`])).body.floatingip.description, '');
    assert.equal((await call(cloud.demoToken, ['GET', `${V2}/routers`])).body.routers.length, 1);
  });
}

test("another project's auto-allocated topology is 403 to a member of another project", async () => {
  const res = await call(outsider, ['GET', `${V2}/auto-allocated-topology/{project}`]);
  assert.equal(res.status, 403, res.text);
});

test("another project's port, subnet or floating IP named in one's own request is 404, and nothing is associated", async () => {
  // The outsider's own network, server, router and floating IP: only the names it gives are another's.
  const as = (method: string, path: string, body?: unknown, version?: string) => cloud.req(method, path, { token: outsider, body, version });
  const net = (await as('POST', `${V2}/networks`, { network: { name: 'outside' } })).body.network.id;
  assert.equal((await as('POST', `${V2}/subnets`, { subnet: { network_id: net, cidr: '10.9.0.0/24', ip_version: 4 } })).status, 201);
  const server = await bootServer(cloud, outsider, { networks: [{ uuid: net }] });
  const router = (await as('POST', `${V2}/routers`, { router: { name: 'outside', external_gateway_info: { network_id: ids.public } } })).body.router.id;
  const fip = (await as('POST', `${V2}/floatingips`, { floatingip: { floating_network_id: ids.public } })).body.floatingip.id;

  const onPort = await as('PUT', `${V2}/floatingips/${fip}`, { floatingip: { port_id: ids.port } });
  assert.equal(onPort.status, 404, onPort.text);
  const onSubnet = await as('PUT', `${V2}/routers/${router}/add_router_interface`, { subnet_id: ids.subnet });
  assert.equal(onSubnet.status, 404, onSubnet.text);
  const theirs = await as('POST', `/compute/v2.1/servers/${server}/action`, { addFloatingIp: { address: ids.fipAddress } }, '2.43');
  assert.equal(theirs.status, 404, theirs.text);

  assert.equal((await as('GET', `${V2}/floatingips/${fip}`)).body.floatingip.port_id, null);
  assert.equal((await call(cloud.demoToken, ['GET', `${V2}/floatingips/{fip}`])).body.floatingip.port_id, null);
  // No interface on the demo project's subnet (the gateway port is not the tenant's to list, as in Neutron).
  assert.deepEqual((await as('GET', `${V2}/ports?device_id=${router}`)).body.ports, []);
});
