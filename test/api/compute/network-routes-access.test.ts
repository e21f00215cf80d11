/**
 * Who may reach the compute routes that touch a server's ports and groups (os-interface,
 * add/removeSecurityGroup, a server's os-security-groups) and Nova's proxies
 * (os-security-groups, os-security-group-rules, os-networks, os-tenant-networks): another
 * project's server, port, group, rule or network is 404, and a reader of the project may
 * read but not change them (403), as Nova's policy has it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { bootServer, colleague, tenant } from './server-fixtures.js';

let cloud: TestCloud;
let outsider: string;
let reader: string;
const ids: Record<string, string> = {};

before(async () => {
  cloud = await startCloud();
  outsider = (await tenant(cloud, 'net-outsider')).token;
  reader = await colleague(cloud, cloud.demoProjectId, 'demo', 'net-reader', 'reader');
  ids.server = await bootServer(cloud, cloud.demoToken);
  ids.port = (await cloud.req('GET', `/network/v2.0/ports?device_id=${ids.server}`, { token: cloud.demoToken })).body.ports[0].id;
  ids.network = (await cloud.req('GET', '/network/v2.0/networks?name=private', { token: cloud.demoToken })).body.networks[0].id;
  const group = await cloud.req('POST', '/compute/v2.1/os-security-groups', { token: cloud.demoToken, body: { security_group: { name: 'acc', description: 'd' } } });
  ids.group = group.body.security_group.id;
  const rule = await cloud.req('POST', '/compute/v2.1/os-security-group-rules', { token: cloud.demoToken, body: { security_group_rule: { parent_group_id: ids.group, ip_protocol: 'tcp', from_port: 22, to_port: 22 } } });
  ids.rule = rule.body.security_group_rule.id;
});
after(async () => cloud.close());

type Case = [method: string, path: string, body?: unknown];
const fill = (path: string) => path.replace(/\{(\w+)\}/g, (_, k: string) => ids[k]);
const call = (token: string, [method, path, body]: Case) => cloud.req(method, `/compute/v2.1${fill(path)}`, { token, body, version: '2.35' });

const READS: Case[] = [
  ['GET', '/servers/{server}/os-interface'],
  ['GET', '/servers/{server}/os-interface/{port}'],
  ['GET', '/servers/{server}/os-security-groups'],
  ['GET', '/os-security-groups/{group}'],
  ['GET', '/os-networks/{network}'],
  ['GET', '/os-tenant-networks/{network}'],
];
const WRITES: Case[] = [
  ['POST', '/servers/{server}/os-interface', { interfaceAttachment: {} }],
  ['DELETE', '/servers/{server}/os-interface/{port}'],
  ['POST', '/servers/{server}/action', { addSecurityGroup: { name: 'acc' } }],
  ['POST', '/servers/{server}/action', { removeSecurityGroup: { name: 'default' } }],
  ['PUT', '/os-security-groups/{group}', { security_group: { name: 'x', description: 'y' } }],
  ['DELETE', '/os-security-groups/{group}'],
  ['POST', '/os-security-group-rules', { security_group_rule: { parent_group_id: '{group}', ip_protocol: 'udp', from_port: 53, to_port: 53 } }],
  ['DELETE', '/os-security-group-rules/{rule}'],
];

for (const c of [...READS, ...WRITES]) {
  test(`${c[0]} ${c[1]} of another project's resource is 404`, async () => {
    const body = c[2] === undefined ? undefined : JSON.parse(fill(JSON.stringify(c[2])));
    const res = await call(outsider, [c[0], c[1], body]);
    assert.equal(res.status, 404, res.text);
  });
}

for (const c of READS) {
  test(`a reader may ${c[0]} ${c[1]}`, async () => {
    const res = await call(reader, c);
    assert.equal(res.status, 200, res.text);
  });
}

for (const c of WRITES) {
  test(`a reader's ${c[0]} ${c[1]} is 403, and changes nothing`, async () => {
    const body = c[2] === undefined ? undefined : JSON.parse(fill(JSON.stringify(c[2])));
    const res = await call(reader, [c[0], c[1], body]);
    assert.equal(res.status, 403, res.text);
    assert.equal((await call(cloud.demoToken, ['GET', '/servers/{server}/os-interface'])).body.interfaceAttachments.length, 1);
    assert.equal((await call(cloud.demoToken, ['GET', '/os-security-groups/{group}'])).body.security_group.rules.length, 1);
  });
}
