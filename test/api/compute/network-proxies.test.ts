/**
 * Nova's network proxies up to 2.35 (os-networks, os-tenant-networks): the Neutron networks
 * the caller sees, in nova-network's shape; what changed networks is 410 Gone.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startCloud, type TestCloud } from '../../support.js';
import { tenant } from './server-fixtures.js';

let cloud: TestCloud;
let privateId: string;
before(async () => {
  cloud = await startCloud();
  privateId = (await cloud.req('GET', '/network/v2.0/networks?name=private', { token: cloud.demoToken })).body.networks[0].id;
});
after(async () => cloud.close());

const nova = (method: string, path: string, token = cloud.demoToken, version?: string, body?: unknown) =>
  cloud.req(method, `/compute/v2.1${path}`, { token, version, body });

/** The networks Neutron lists to a token, in nova-network's shape. */
const seenThroughNeutron = async (token: string) =>
  (await cloud.req('GET', '/network/v2.0/networks', { token })).body.networks.map((n: { id: string; name: string }) => ({ id: n.id, cidr: 'None', label: n.name }));

test('os-tenant-networks lists the networks the project sees, as id, label and cidr "None"', async () => {
  const res = await nova('GET', '/os-tenant-networks');
  assert.equal(res.status, 200);
  // Its own private network and DevStack's external public one, as Neutron lists them to it.
  assert.deepEqual(res.body.networks.map((n: { label: string }) => n.label).sort(), ['private', 'public']);
  assert.deepEqual(res.body.networks, await seenThroughNeutron(cloud.demoToken));
  assert.deepEqual((await nova('GET', `/os-tenant-networks/${privateId}`)).body.network, { id: privateId, cidr: 'None', label: 'private' });
});

test('os-networks shows nova-network’s fields, empty but for id and label; an admin sees more of them', async () => {
  const member = (await nova('GET', `/os-networks/${privateId}`)).body.network;
  assert.equal(Object.keys(member).length, 11);
  assert.deepEqual([member.id, member.label, member.cidr, member.gateway], [privateId, 'private', null, null]);
  const admin = (await nova('GET', '/os-networks', cloud.adminToken)).body.networks.find((n: { id: string }) => n.id === privateId);
  assert.equal(Object.keys(admin).length, 32);
  assert.equal(admin.project_id, null);
});

test('another project’s network, or none, is 404 "Network not found"', async () => {
  const other = await tenant(cloud, 'netproxy-other');
  for (const [id, token] of [[privateId, other.token], [randomUUID(), cloud.demoToken]]) {
    const res = await nova('GET', `/os-networks/${id}`, token);
    assert.equal(res.status, 404);
    assert.equal(res.body.itemNotFound.message, 'Network not found');
  }
  // Another project sees only the external network, not the demo project's.
  assert.deepEqual((await nova('GET', '/os-tenant-networks', other.token)).body.networks.map((n: { label: string }) => n.label), ['public']);
});

test('the proxies are gone from 2.36: 404', async () => {
  assert.equal((await nova('GET', '/os-networks', cloud.demoToken, '2.36')).status, 404);
  assert.equal((await nova('GET', `/os-tenant-networks/${privateId}`, cloud.demoToken, '2.36')).status, 404);
});

test('creating or deleting a network through them is 410 Gone', async () => {
  for (const [method, path] of [['POST', '/os-networks'], ['DELETE', `/os-networks/${privateId}`], ['POST', '/os-tenant-networks'], ['DELETE', `/os-tenant-networks/${privateId}`], ['POST', '/os-networks/add']]) {
    const res = await nova(method, path, cloud.adminToken, undefined, method === 'POST' ? { network: {} } : undefined);
    assert.equal(res.status, 410, `${method} ${path}`);
  }
});
