/**
 * Nova's name format on every Compute API name: printable characters only, so a NUL or
 * any other control, format or separator character is 400 with Nova's InvalidName message
 * (and PostgreSQL never sees it), while any printable name of the Basic Multilingual Plane
 * is fine.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, memberOfNewProject, type TestCloud } from '../../support.js';

let cloud: TestCloud;
let imageId: string;
let member: { token: string; projectId: string };
let serverId: string;

const INVALID = "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.";
/** NUL, a control character, a line break, a zero-width space (format), a line separator, and a character past the BMP. */
const NOT_PRINTABLE = ['a\u0000b', 'bell\u0007', 'two\nlines', 'zero\u200bwidth', 'line\u2028sep', 'rocket \u{1F680}'];

before(async () => {
  cloud = await startCloud();
  imageId = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
  member = await memberOfNewProject(cloud, 'names');
  const res = await cloud.req('POST', '/compute/v2.1/servers', { token: member.token, body: { server: { name: 'named', imageRef: imageId, flavorRef: '1' } } });
  assert.equal(res.status, 202, res.text);
  serverId = res.body.server.id;
  await cloud.services.runner.idle();
});
after(async () => cloud.close());

const v = 'latest';
async function refused(method: string, path: string, body: unknown, message = INVALID, token = member.token, version = v) {
  const res = await cloud.req(method, `/compute/v2.1${path}`, { token, body, version });
  assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
  assert.equal(res.body.badRequest.message, message, JSON.stringify(body));
}

test('a server name that is not printable is 400 on create, update and rebuild', async () => {
  for (const name of NOT_PRINTABLE) {
    await refused('POST', '/servers', { server: { name, imageRef: imageId, flavorRef: '1', networks: 'none' } });
    await refused('PUT', `/servers/${serverId}`, { server: { name } });
    await refused('POST', `/servers/${serverId}/action`, { rebuild: { imageRef: imageId, name } });
  }
  const s = (await cloud.req('GET', `/compute/v2.1/servers/${serverId}`, { token: member.token })).body.server;
  assert.equal(s.name, 'named');
});

test('a server name with leading or trailing blanks is 400 with the same message', async () => {
  await refused('POST', '/servers', { server: { name: ' padded', imageRef: imageId, flavorRef: '1', networks: 'none' } });
  await refused('PUT', `/servers/${serverId}`, { server: { name: 'padded\u00a0' } });
});

test('a printable server name with inner spaces and letters of any script is accepted', async () => {
  const res = await cloud.req('PUT', `/compute/v2.1/servers/${serverId}`, { token: member.token, body: { server: { name: 'web 1 ünïcødé 服务器' } } });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.server.name, 'web 1 ünïcødé 服务器');
});

test("the names a server create takes (key, zone, security group) are Nova names too", async () => {
  const server = { name: 'ok', imageRef: imageId, flavorRef: '1', networks: 'none' };
  await refused('POST', '/servers', { server: { ...server, key_name: 'k\u0000' } });
  await refused('POST', '/servers', { server: { ...server, availability_zone: 'nova\u0000' } });
  await refused('POST', '/servers', { server: { ...server, security_groups: [{ name: 'default\u0000' }] } });
});

test('a server description that is not printable is 400 naming description', async () => {
  for (const description of ['a\u0000b', 'a tab\there']) {
    const res = await cloud.req('PUT', `/compute/v2.1/servers/${serverId}`, { token: member.token, version: v, body: { server: { description } } });
    assert.equal(res.status, 400, res.text);
    assert.ok(res.body.badRequest.message.startsWith('Invalid input for field/attribute description. '), res.text);
  }
  const ok = await cloud.req('PUT', `/compute/v2.1/servers/${serverId}`, { token: member.token, version: v, body: { server: { description: 'printable, spaces and ünïcødé' } } });
  assert.equal(ok.status, 200, ok.text);
});

test('an image name from createImage or createBackup that is not printable is 400', async () => {
  for (const name of NOT_PRINTABLE) {
    await refused('POST', `/servers/${serverId}/action`, { createImage: { name } });
    await refused('POST', `/servers/${serverId}/action`, { createBackup: { name, backup_type: 'daily', rotation: 1 } });
  }
});

test('a server group name that is not printable is 400', async () => {
  for (const name of NOT_PRINTABLE) await refused('POST', '/os-server-groups', { server_group: { name, policy: 'affinity' } });
});

test('a keypair name that is not printable is 400', async () => {
  for (const name of NOT_PRINTABLE) await refused('POST', '/os-keypairs', { keypair: { name, public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGiB6JbDDbzpuH3q4BdEVs8qC1UOX7xJvzeC0fIhI8Sv x' } });
});

test('a flavor name that is not printable is 400', async () => {
  for (const name of NOT_PRINTABLE) await refused('POST', '/flavors', { flavor: { name, ram: 512, vcpus: 1, disk: 1 } }, INVALID, cloud.adminToken);
});

test('an aggregate name or zone that is not printable is 400', async () => {
  for (const name of NOT_PRINTABLE) {
    await refused('POST', '/os-aggregates', { aggregate: { name } }, INVALID, cloud.adminToken);
    await refused('POST', '/os-aggregates', { aggregate: { name: 'agg', availability_zone: name } }, "An invalid 'name' value was provided. The name must be: printable characters except :.Can not start or end with whitespace.", cloud.adminToken);
  }
});

test("an unshelve zone that is not printable is 400 (2.77 to 2.90, where Nova's schema makes it a name)", async () => {
  await refused('POST', `/servers/${serverId}/action`, { unshelve: { availability_zone: 'nova\u0000' } }, INVALID, member.token, '2.77');
});
