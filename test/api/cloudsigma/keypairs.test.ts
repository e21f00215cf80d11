import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { assertError, cs, dump } from './cs.js';

/** /keypairs/ and /pubkeys/, the same keypairs as the compute API's. */
let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
});
after(async () => cloud.close());

const novaKeys = async () => (await cloud.req('GET', '/compute/v2.1/os-keypairs', { token: cloud.demoToken })).body.keypairs.map((k: { keypair: { name: string } }) => k.keypair.name);

test('a keypair generated here (request_autogen_keypair_create) answers with its private key once, and fields as response_autogen_keypair_create', async () => {
  const res = await cs(cloud, 'POST', '/keypairs/', { body: { objects: [{ name: 'generated' }] } });
  assert.equal(res.status, 201, res.text);
  const k = res.body.objects[0];
  assert.deepEqual(Object.keys(k).sort(), Object.keys(dump('response_autogen_keypair_create').objects[0]).sort());
  assert.match(k.private_key, /BEGIN RSA PRIVATE KEY/);
  assert.match(k.public_key, /^ssh-rsa /);
  const again = await cs(cloud, 'GET', `/keypairs/${k.uuid}/`);
  assert.equal(again.body.private_key, null);
  assert.equal(again.body.fingerprint, k.fingerprint);
});

test('a keypair made here is a keypair of the compute API, and one made there is listed here', async () => {
  await cs(cloud, 'POST', '/keypairs/', { body: { name: 'shared-here' } });
  assert.ok((await novaKeys()).includes('shared-here'));
  const made = await cloud.req('POST', '/compute/v2.1/os-keypairs', { token: cloud.demoToken, body: { keypair: { name: 'made-there' } } });
  assert.equal(made.status, 200, made.text);
  const listed = await cs(cloud, 'GET', '/keypairs/?limit=0&name=made-there');
  assert.equal(listed.body.objects.length, 1);
  assert.match(listed.body.objects[0].uuid, /^[0-9a-f-]{36}$/);
});

test('a public key only (request_pub_key_only_keypair_create) shows in /pubkeys/ with has_private_key false', async () => {
  const body = dump('request_pub_key_only_keypair_create');
  const res = await cs(cloud, 'POST', '/keypairs/', { body });
  assert.equal(res.status, 201, res.text);
  const uuid = res.body.objects[0].uuid;
  const pub = await cs(cloud, 'GET', `/pubkeys/${uuid}/`);
  assert.equal(pub.status, 200);
  assert.equal(pub.body.has_private_key, false);
  assert.equal(pub.body.private_key, undefined);
  assert.deepEqual(Object.keys(pub.body).sort(), Object.keys(dump('response_pubkeys_list').objects[0]).sort());
});

test('/pubkeys/ never shows a private key; a generated pair has has_private_key true', async () => {
  await cs(cloud, 'POST', '/keypairs/', { body: { name: 'with-private' } });
  const list = await cs(cloud, 'GET', '/pubkeys/?limit=0');
  assert.ok(list.body.objects.length >= 1);
  for (const k of list.body.objects) assert.equal(k.private_key, undefined);
  assert.equal(list.body.objects.find((k: { name: string }) => k.name === 'with-private').has_private_key, true);
});

test('keypair update (request_keypair_update) renames it; delete removes it from both APIs', async () => {
  const k = (await cs(cloud, 'POST', '/keypairs/', { body: { name: 'to-rename' } })).body.objects[0];
  const put = await cs(cloud, 'PUT', `/keypairs/${k.uuid}/`, { body: { ...dump('request_keypair_update'), uuid: k.uuid } });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.body.name, 'new_name');
  assert.equal((await cs(cloud, 'DELETE', `/keypairs/${k.uuid}/`)).status, 204);
  assert.ok(!(await novaKeys()).includes('new_name'));
  assertError(await cs(cloud, 'GET', `/keypairs/${k.uuid}/`), 404, 'notexist');
});

test('libcloud lists keypairs without the trailing slash', async () => {
  const res = await cs(cloud, 'GET', '/keypairs');
  assert.equal(res.status, 200);
  assert.ok(Array.isArray(res.body.objects));
});

test('a public key that is not one is 400 naming public_key', async () => {
  assertError(await cs(cloud, 'POST', '/keypairs/', { body: { name: 'broken', public_key: 'ssh-rsa nope' } }), 400, 'validation', 'public_key');
});

test('a keypair without a name is 400 naming name', async () => {
  assertError(await cs(cloud, 'POST', '/keypairs/', { body: { objects: [{}] } }), 400, 'validation', 'name');
});

test('a server’s pubkeys must be the caller’s own: another user’s key, or none, is 400 naming it, on create and edit', async () => {
  const { memberOfNewProject } = await import('../../support.js');
  const { basic, createServer } = await import('./cs.js');
  await memberOfNewProject(cloud, 'pk-other');
  const theirs = (await cs(cloud, 'POST', '/keypairs/', { auth: basic('pk-other-user', 'pk-other-pw'), body: { name: 'theirs' } })).body.objects[0];
  const mine = (await cs(cloud, 'POST', '/keypairs/', { body: { name: 'mine-for-server' } })).body.objects[0];
  const base = { name: 'pk', cpu: 1000, mem: 536870912, vnc_password: 'x' };
  assertError(await cs(cloud, 'POST', '/servers/', { body: { ...base, pubkeys: [mine.uuid, theirs.uuid] } }), 400, 'validation', 'pubkeys[1]');
  assertError(await cs(cloud, 'POST', '/servers/', { body: { ...base, pubkeys: ['6b0ea4bb-9a3c-4d1e-8d4c-2a7a0d27a111'] } }), 400, 'validation', 'pubkeys[0]');
  const s = await createServer(cloud, { pubkeys: [mine.uuid] });
  assert.deepEqual(s.pubkeys.map((k: { uuid: string }) => k.uuid), [mine.uuid]);
  assertError(await cs(cloud, 'PUT', `/servers/${s.uuid}/`, { body: { ...base, pubkeys: [theirs.uuid] } }), 400, 'validation', 'pubkeys[0]');
  const ctx = await cs(cloud, 'GET', `/servers/${s.uuid}/context/?key=/pubkeys/0/public_key`);
  assert.equal(ctx.text, mine.public_key);
});
