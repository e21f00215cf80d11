import assert from 'node:assert/strict';
import type { TestCloud } from '../../support.js';

/** Helpers shared by the Networking API tests. */
export const V2 = '/network/v2.0';

export async function makeNetwork(cloud: TestCloud, token: string, name: string, extra: Record<string, unknown> = {}) {
  const res = await cloud.req('POST', `${V2}/networks`, { token, body: { network: { name, ...extra } } });
  assert.equal(res.status, 201, res.text);
  return res.body.network;
}

export async function makeSubnet(cloud: TestCloud, token: string, networkId: string, cidr: string, extra: Record<string, unknown> = {}) {
  const res = await cloud.req('POST', `${V2}/subnets`, { token, body: { subnet: { network_id: networkId, cidr, ip_version: cidr.includes(':') ? 6 : 4, ...extra } } });
  assert.equal(res.status, 201, res.text);
  return res.body.subnet;
}

export async function makePort(cloud: TestCloud, token: string, networkId: string, extra: Record<string, unknown> = {}) {
  const res = await cloud.req('POST', `${V2}/ports`, { token, body: { port: { network_id: networkId, ...extra } } });
  assert.equal(res.status, 201, res.text);
  return res.body.port;
}

/** A network with one IPv4 subnet. */
export async function makeNetworkWithSubnet(cloud: TestCloud, token: string, name: string, cidr = '10.0.0.0/24', subnetExtra: Record<string, unknown> = {}) {
  const network = await makeNetwork(cloud, token, name);
  const subnet = await makeSubnet(cloud, token, network.id, cidr, subnetExtra);
  return { network, subnet };
}

/** Asserts Neutron's error body and returns its message. */
export function neutronError(res: { status: number; body: any; text: string }, status: number, type?: string): string {
  assert.equal(res.status, status, res.text);
  assert.equal(typeof res.body.NeutronError.message, 'string');
  assert.equal(res.body.NeutronError.detail, '');
  if (type) assert.equal(res.body.NeutronError.type, type);
  return res.body.NeutronError.message;
}
