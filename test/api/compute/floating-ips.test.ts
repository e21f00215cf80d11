/**
 * Nova's floating IP proxies (os-floating-ips, os-floating-ip-pools up to 2.35) and the
 * addFloatingIp / removeFloatingIp actions (up to 2.43), over Neutron's floating IPs, with
 * Nova's messages; a server's addresses show a floating IP on its port's network.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { bootServer } from './server-fixtures.js';

let cloud: TestCloud;
let server: string;

before(async () => {
  cloud = await startCloud();
  server = await bootServer(cloud, cloud.demoToken);
});
after(async () => cloud.close());

const nova = (method: string, path: string, body?: unknown, version = '2.35', token = cloud.demoToken) =>
  cloud.req(method, `/compute/v2.1${path}`, { token, body, version });
const allocate = async () => {
  const res = await nova('POST', '/os-floating-ips', { pool: 'public' });
  assert.equal(res.status, 200, res.text);
  return res.body.floating_ip;
};

test('os-floating-ip-pools lists the external networks by name', async () => {
  const res = await nova('GET', '/os-floating-ip-pools');
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, { floating_ip_pools: [{ name: 'public' }] });
});

test('os-floating-ips create allocates from the pool, and show and list give the same view', async () => {
  const fip = await allocate();
  assert.deepEqual(Object.keys(fip).sort(), ['fixed_ip', 'id', 'instance_id', 'ip', 'pool']);
  assert.equal(fip.pool, 'public');
  assert.equal(fip.instance_id, null);
  assert.deepEqual((await nova('GET', `/os-floating-ips/${fip.id}`)).body.floating_ip, fip);
  assert.ok((await nova('GET', '/os-floating-ips')).body.floating_ips.some((f: any) => f.id === fip.id));
});

test('os-floating-ips create from a pool that does not exist is 404 "Floating IP pool not found."', async () => {
  const res = await nova('POST', '/os-floating-ips', { pool: 'no-such-pool' });
  assert.equal(res.status, 404);
  assert.equal(res.body.itemNotFound.message, 'Floating IP pool not found.');
});

test('os-floating-ips show of an unknown id is 404 with Nova\'s message', async () => {
  const id = '5f3c1bd4-7c8e-4b86-9f3a-0c2b3f5d6e7a';
  const res = await nova('GET', `/os-floating-ips/${id}`);
  assert.equal(res.status, 404);
  assert.equal(res.body.itemNotFound.message, `Floating IP not found for ID ${id}`);
});

test('os-floating-ips and os-floating-ip-pools are gone from 2.36 (404)', async () => {
  assert.equal((await nova('GET', '/os-floating-ips', undefined, '2.36')).status, 404);
  assert.equal((await nova('GET', '/os-floating-ip-pools', undefined, '2.36')).status, 404);
});

test('addFloatingIp puts it on the server (floating in its addresses, instance_id in the proxy); removeFloatingIp takes it off', async () => {
  const fip = await allocate();
  const add = await nova('POST', `/servers/${server}/action`, { addFloatingIp: { address: fip.ip } }, '2.43');
  assert.equal(add.status, 202, add.text);
  const shown = (await nova('GET', `/os-floating-ips/${fip.id}`)).body.floating_ip;
  assert.equal(shown.instance_id, server);
  assert.ok(shown.fixed_ip);
  const addresses = (await nova('GET', `/servers/${server}`, undefined, '2.1')).body.server.addresses;
  assert.deepEqual(addresses.private.find((a: any) => a.addr === fip.ip)['OS-EXT-IPS:type'], 'floating');
  const remove = await nova('POST', `/servers/${server}/action`, { removeFloatingIp: { address: fip.ip } }, '2.43');
  assert.equal(remove.status, 202, remove.text);
  assert.equal((await nova('GET', `/os-floating-ips/${fip.id}`)).body.floating_ip.instance_id, null);
});

test('addFloatingIp of a second floating IP onto the same fixed address is 400 "association has failed"', async () => {
  const a = await allocate();
  const b = await allocate();
  assert.equal((await nova('POST', `/servers/${server}/action`, { addFloatingIp: { address: a.ip } }, '2.43')).status, 202);
  const res = await nova('POST', `/servers/${server}/action`, { addFloatingIp: { address: b.ip } }, '2.43');
  assert.equal(res.status, 400);
  assert.equal(res.body.badRequest.message, `Floating IP ${b.ip} association has failed.`);
  await nova('DELETE', `/os-floating-ips/${a.id}`);
});

test('addFloatingIp of an address that is no floating IP is 404 "floating IP not found"', async () => {
  const res = await nova('POST', `/servers/${server}/action`, { addFloatingIp: { address: '0.0.0.0' } }, '2.43');
  assert.equal(res.status, 404);
  assert.equal(res.body.itemNotFound.message, 'floating IP not found');
});

test('addFloatingIp with an empty address is 400 (the schema)', async () => {
  const res = await nova('POST', `/servers/${server}/action`, { addFloatingIp: { address: '' } }, '2.43');
  assert.equal(res.status, 400);
});

test('removeFloatingIp of a floating IP on no server is 409 "not associated with instance"', async () => {
  const fip = await allocate();
  const res = await nova('POST', `/servers/${server}/action`, { removeFloatingIp: { address: fip.ip } }, '2.43');
  assert.equal(res.status, 409);
  assert.equal(res.body.conflictingRequest.message, `Floating IP ${fip.ip} is not associated with instance ${server}.`);
});

test('addFloatingIp is no action from 2.44 (400)', async () => {
  const fip = await allocate();
  const res = await nova('POST', `/servers/${server}/action`, { addFloatingIp: { address: fip.ip } }, '2.44');
  assert.equal(res.status, 400);
  assert.equal(res.body.badRequest.message, 'There is no such action: addFloatingIp');
});

test('os-floating-ips delete releases an associated floating IP and the server no longer shows it', async () => {
  const fip = await allocate();
  await nova('POST', `/servers/${server}/action`, { addFloatingIp: { address: fip.ip } }, '2.43');
  assert.equal((await nova('DELETE', `/os-floating-ips/${fip.id}`)).status, 202);
  assert.equal((await nova('GET', `/os-floating-ips/${fip.id}`)).status, 404);
  const addresses = (await nova('GET', `/servers/${server}`, undefined, '2.1')).body.server.addresses;
  assert.ok(!addresses.private.some((a: any) => a.addr === fip.ip));
});
