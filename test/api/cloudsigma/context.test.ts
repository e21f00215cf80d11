import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { assertError, createDrive, createServer, cs, dump, runningServer } from './cs.js';

/** Server context and /global_context/, on the context dumps (server_context doc). */
let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
});
after(() => cloud.close());

const SSH_KEY = dump('response_guest_for_context').meta.ssh_public_key as string;
const context = (uuid: string, key?: string) => cs(cloud, 'GET', `/servers/${uuid}/context/${key === undefined ? '' : `?key=${encodeURIComponent(key)}`}`);

test('POST /global_context/ sets it as request_update_global_context shows, and GET reads it back', async () => {
  assert.deepEqual((await cs(cloud, 'GET', '/global_context/')).body, {});
  const res = await cs(cloud, 'POST', '/global_context/', { body: JSON.parse(JSON.stringify(dump('request_update_global_context'))) });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, dump('response_update_global_context'));
  assert.deepEqual((await cs(cloud, 'GET', '/global_context/')).body, dump('response_update_global_context'));
});

test('a global context value that is not a string is 400 naming its key', async () => {
  assertError(await cs(cloud, 'POST', '/global_context/', { body: { n: 1 } }), 400, 'validation', 'n');
  assertError(await cs(cloud, 'POST', '/global_context/', { body: [] }), 400, 'validation', 'body');
});

test('the whole context is the definition with the dump’s keys, drives expanded, and the global context (response_context_all)', async () => {
  await cs(cloud, 'POST', '/global_context/', { body: { new_global_key: 'new_global_val' } });
  const d = await createDrive(cloud, { name: 'test_clone_test_guest_context' });
  const s = await createServer(cloud, { name: 'test_srv_test_guest_context', meta: { ssh_public_key: SSH_KEY }, drives: [{ boot_order: 1, dev_channel: '0:0', device: 'virtio', drive: d.uuid }] });
  const res = await context(s.uuid);
  assert.equal(res.status, 200, res.text);
  assert.match(String(res.headers.get('content-type')), /application\/json/);
  assert.ok(!res.text.includes('\n'), 'one line');
  const want = dump('response_context_all');
  for (const k of Object.keys(want)) assert.ok(k in res.body, `${k} missing`);
  for (const k of ['owner', 'status', 'runtime', 'resource_uri', 'jobs']) assert.ok(!(k in res.body), `${k} shown`);
  assert.deepEqual(Object.keys(res.body.drives[0].drive).sort(), Object.keys(want.drives[0].drive).sort());
  assert.equal(res.body.drives[0].drive.name, 'test_clone_test_guest_context');
  assert.deepEqual(res.body.global_context, { new_global_key: 'new_global_val' });
  assert.equal(res.body.meta.ssh_public_key, SSH_KEY);
});

test('one key path answers the bare value: name, /meta/ssh_public_key, /global_context/new_global_key (the single value dumps)', async () => {
  await cs(cloud, 'POST', '/global_context/', { body: { new_global_key: 'new_global_val' } });
  const s = await createServer(cloud, { name: 'test_srv_test_guest_context', meta: { ssh_public_key: SSH_KEY } });
  const name = await context(s.uuid, 'name');
  assert.equal(name.status, 200, name.text);
  assert.match(String(name.headers.get('content-type')), /text\/plain/);
  assert.equal(name.text, 'test_srv_test_guest_context');
  assert.equal((await context(s.uuid, '/meta/ssh_public_key')).text, SSH_KEY);
  assert.equal((await context(s.uuid, '/global_context/new_global_key')).text, 'new_global_val');
  await cs(cloud, 'PUT', `/servers/${s.uuid}/`, { body: { name: 'test_srv_test_guest_context_renamed', cpu: 1000, mem: 536870912, vnc_password: 'x', meta: { ssh_public_key: SSH_KEY, another_key: 'a value or something' } } });
  assert.equal((await context(s.uuid, 'name')).text, 'test_srv_test_guest_context_renamed');
  assert.equal((await context(s.uuid, '/meta/another_key')).text, 'a value or something');
});

test('a leaf answers with control characters escaped and null as nothing; a list index reads one element', async () => {
  const s = await createServer(cloud, { name: 'esc', meta: { lines: 'a\nb\tc' }, nics: [{ ip_v4_conf: { conf: 'dhcp' }, model: 'virtio' }] });
  assert.equal((await context(s.uuid, '/meta/lines')).text, 'a\\nb\\tc');
  assert.equal((await context(s.uuid, 'cpu_model')).text, '');
  const nic = await context(s.uuid, '/nics/0');
  assert.equal(nic.status, 200, nic.text);
  assert.equal(nic.body.model, 'virtio');
  assert.equal((await context(s.uuid, '/nics/0/model')).text, 'virtio');
});

test('a running server’s DHCP NIC shows its address as an IP object with netmask and gateway', async () => {
  const s = await runningServer(cloud, { name: 'dhcp', nics: [{ ip_v4_conf: { conf: 'dhcp' }, model: 'virtio' }] });
  const ip = (await context(s.uuid, '/nics/0/ip_v4_conf/ip')).body;
  assert.equal(ip.uuid, s.runtime.nics[0].ip_v4.uuid);
  assert.equal(typeof ip.netmask, 'number');
  assert.ok(ip.gateway);
});

test('a path the context does not have is 404 notexist', async () => {
  const s = await createServer(cloud, { name: 'nokey' });
  assertError(await context(s.uuid, '/meta/absent'), 404, 'notexist');
  assertError(await context(s.uuid, '/nics/7'), 404, 'notexist');
});

test('a server whose context is false gives none: 403 naming context', async () => {
  const s = await createServer(cloud, { name: 'private', context: false });
  assertError(await context(s.uuid), 403, 'permission', 'context');
});
