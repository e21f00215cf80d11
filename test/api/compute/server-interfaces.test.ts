/**
 * Nova's os-interface (attach_interfaces.py): a server's ports as interface attachments, and
 * attaching or detaching one, with the checks and statuses Nova's API gives.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startCloud, type TestCloud } from '../../support.js';

let cloud: TestCloud;
let imageId: string;
let second: { id: string };
before(async () => {
  cloud = await startCloud();
  imageId = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
  const quota = { quota_set: { instances: 50, cores: 100, ram: 512 * 1024 } };
  await cloud.req('PUT', `/compute/v2.1/os-quota-sets/${cloud.demoProjectId}`, { token: cloud.adminToken, body: quota });
  second = (await cloud.req('POST', '/network/v2.0/networks', { token: cloud.demoToken, body: { network: { name: 'second' } } })).body.network;
  await cloud.req('POST', '/network/v2.0/subnets', { token: cloud.demoToken, body: { subnet: { network_id: second.id, cidr: '10.77.0.0/24', ip_version: 4 } } });
});
after(async () => cloud.close());

const nova = (method: string, path: string, body?: unknown, version?: string) => cloud.req(method, `/compute/v2.1${path}`, { token: cloud.demoToken, body, version });

async function activeServer(): Promise<string> {
  const privateNet = (await cloud.req('GET', '/network/v2.0/networks?name=private', { token: cloud.demoToken })).body.networks[0].id;
  const res = await nova('POST', '/servers', { server: { name: 'if', imageRef: imageId, flavorRef: '1', networks: [{ uuid: privateNet }] } });
  assert.equal(res.status, 202, res.text);
  await cloud.services.runner.idle();
  return res.body.server.id;
}

test('a server’s interfaces are its ports, in Nova’s shape', async () => {
  const id = await activeServer();
  const res = await nova('GET', `/servers/${id}/os-interface`);
  assert.equal(res.status, 200);
  const [a] = res.body.interfaceAttachments;
  const [port] = (await cloud.req('GET', `/network/v2.0/ports?device_id=${id}`, { token: cloud.demoToken })).body.ports;
  assert.deepEqual(a, { net_id: port.network_id, port_id: port.id, mac_addr: port.mac_address, port_state: 'ACTIVE', fixed_ips: port.fixed_ips });
  assert.deepEqual((await nova('GET', `/servers/${id}/os-interface/${port.id}`)).body.interfaceAttachment, a);
  assert.equal((await nova('GET', `/servers/${id}/os-interface`, undefined, '2.70')).body.interfaceAttachments[0].tag, null);
});

test('attaching by network gives the server a second port and address, recorded as an instance action', async () => {
  const id = await activeServer();
  const res = await nova('POST', `/servers/${id}/os-interface`, { interfaceAttachment: { net_id: second.id, fixed_ips: [{ ip_address: '10.77.0.50' }] } });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.interfaceAttachment.net_id, second.id);
  assert.equal(res.body.interfaceAttachment.fixed_ips[0].ip_address, '10.77.0.50');
  const server = (await nova('GET', `/servers/${id}`)).body.server;
  assert.deepEqual(Object.keys(server.addresses).sort(), ['private', 'second']);
  const actions = (await nova('GET', `/servers/${id}/os-instance-actions`)).body.instanceActions.map((a: { action: string }) => a.action);
  assert.ok(actions.includes('attach_interface'));
});

test('attaching a port of the project’s own binds it; a port in use is 409', async () => {
  const id = await activeServer();
  const port = (await cloud.req('POST', '/network/v2.0/ports', { token: cloud.demoToken, body: { port: { network_id: second.id } } })).body.port;
  assert.equal((await nova('POST', `/servers/${id}/os-interface`, { interfaceAttachment: { port_id: port.id } })).status, 200);
  const bound = (await cloud.req('GET', `/network/v2.0/ports/${port.id}`, { token: cloud.demoToken })).body.port;
  assert.equal(bound.device_id, id);
  const other = await activeServer();
  const res = await nova('POST', `/servers/${other}/os-interface`, { interfaceAttachment: { port_id: port.id } });
  assert.equal(res.status, 409);
  assert.equal(res.body.conflictingRequest.message, `Port ${port.id} is still in use.`);
});

test('detaching a port Nova made deletes it; detaching a port it was given unbinds it', async () => {
  const id = await activeServer();
  const given = (await cloud.req('POST', '/network/v2.0/ports', { token: cloud.demoToken, body: { port: { network_id: second.id } } })).body.port;
  await nova('POST', `/servers/${id}/os-interface`, { interfaceAttachment: { port_id: given.id } });
  const made = (await nova('GET', `/servers/${id}/os-interface`)).body.interfaceAttachments.find((a: { port_id: string }) => a.port_id !== given.id);
  assert.equal((await nova('DELETE', `/servers/${id}/os-interface/${made.port_id}`)).status, 202);
  assert.equal((await cloud.req('GET', `/network/v2.0/ports/${made.port_id}`, { token: cloud.demoToken })).status, 404);
  assert.equal((await nova('DELETE', `/servers/${id}/os-interface/${given.id}`)).status, 202);
  assert.equal((await cloud.req('GET', `/network/v2.0/ports/${given.id}`, { token: cloud.demoToken })).body.port.device_id, '');
  assert.deepEqual((await nova('GET', `/servers/${id}`)).body.server.addresses, {});
});

test('a port the server does not have is 404 to show and to detach', async () => {
  const id = await activeServer();
  const stranger = randomUUID();
  const shown = await nova('GET', `/servers/${id}/os-interface/${stranger}`);
  assert.equal(shown.status, 404);
  assert.equal(shown.body.itemNotFound.message, `Instance ${id} does not have a port with id ${stranger}`);
  assert.equal((await nova('DELETE', `/servers/${id}/os-interface/${stranger}`)).status, 404);
});

const badBodies: [string, unknown, number, string | RegExp][] = [
  ['both a network and a port', { interfaceAttachment: { net_id: randomUUID(), port_id: randomUUID() } }, 400, 'Must not input both network_id and port_id'],
  ['an address without a network', { interfaceAttachment: { fixed_ips: [{ ip_address: '10.0.0.9' }] } }, 400, 'Must input network_id when request IP address'],
  ['an unknown network', { interfaceAttachment: { net_id: '11111111-2222-3333-4444-555555555555' } }, 404, 'Network 11111111-2222-3333-4444-555555555555 could not be found.'],
  ['a network id that is not a uuid', { interfaceAttachment: { net_id: 'x' } }, 400, /net_id/],
  ['an unknown attribute', { interfaceAttachment: { colour: 'red' } }, 400, /colour/],
];
let target = '';
for (const [what, body, status, message] of badBodies) {
  test(`attaching with ${what} is ${status}`, async () => {
    const id = (target ||= await activeServer());
    const res = await nova('POST', `/servers/${id}/os-interface`, body);
    assert.equal(res.status, status, res.text);
    const fault = res.body.badRequest ?? res.body.itemNotFound;
    if (typeof message === 'string') assert.equal(fault.message, message);
    else assert.match(fault.message, message);
  });
}

test('a suspended server takes no interface: 409 naming its vm_state', async () => {
  const id = await activeServer();
  assert.equal((await nova('POST', `/servers/${id}/action`, { suspend: null })).status, 202);
  await cloud.services.runner.idle();
  const res = await nova('POST', `/servers/${id}/os-interface`, { interfaceAttachment: { net_id: second.id } });
  assert.equal(res.status, 409);
  assert.equal(res.body.conflictingRequest.message, `Cannot 'attach_interface' instance ${id} while it is in vm_state suspended`);
});
