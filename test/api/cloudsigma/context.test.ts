import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { assertError, createDrive, createServer, cs, dump, runningServer } from './cs.js';
import { guestContexts } from '../../../src/api/cloudsigma/context.js';

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

// What the qemu driver's context port answers (test/virt/context-port.test.ts has the wire protocol).
test('the serial port answers what the API answers, the whole context and one key, read afresh at each request', async () => {
  await cs(cloud, 'POST', '/global_context/', { body: { new_global_key: 'new_global_val' } });
  const s = await createServer(cloud, { name: 'serial', meta: { ssh_public_key: SSH_KEY } });
  const guest = guestContexts(cloud.services);
  assert.equal(await guest.has(s.uuid), true);
  const whole = await guest.answer(s.uuid, '');
  assert.equal(whole, (await context(s.uuid)).text);
  assert.equal(JSON.parse(whole!).global_context.new_global_key, 'new_global_val');
  assert.equal(await guest.answer(s.uuid, '/meta/ssh_public_key'), SSH_KEY);
  await cs(cloud, 'PUT', `/servers/${s.uuid}/`, { body: { name: 'serial', cpu: 1000, mem: 536870912, vnc_password: 'x', meta: { ssh_public_key: 'changed' } } });
  await cs(cloud, 'POST', '/global_context/', { body: { new_global_key: 'changed too' } });
  assert.equal(await guest.answer(s.uuid, '/meta/ssh_public_key'), 'changed');
  assert.equal(await guest.answer(s.uuid, '/global_context/new_global_key'), 'changed too');
  await cs(cloud, 'DELETE', `/servers/${s.uuid}/`);
  await cloud.services.runner.idle();
});

test('on the serial port a path the context does not have answers an empty value (no 404 there)', async () => {
  const s = await createServer(cloud, { name: 'serial-absent' });
  assert.equal(await guestContexts(cloud.services).answer(s.uuid, '/meta/absent'), '');
  await cs(cloud, 'DELETE', `/servers/${s.uuid}/`);
  await cloud.services.runner.idle();
});

test('a server whose context is false, a Nova server and a deleted one get no context port and no answer', async () => {
  const guest = guestContexts(cloud.services);
  const off = await createServer(cloud, { name: 'serial-off', context: false });
  assert.equal(await guest.has(off.uuid), false);
  assert.equal(await guest.answer(off.uuid, ''), null);
  const flavor = (await cloud.req('GET', '/compute/v2.1/flavors', { token: cloud.demoToken })).body.flavors[0].id;
  const image = (await cloud.req('GET', '/image/v2/images?name=nimbus-demo', { token: cloud.demoToken })).body.images[0].id;
  const nova = await cloud.req('POST', '/compute/v2.1/servers', { token: cloud.demoToken, body: { server: { name: 'nova', imageRef: image, flavorRef: flavor } } });
  assert.equal(nova.status, 202, nova.text);
  assert.equal(await guest.has(nova.body.server.id), false);
  assert.equal(await guest.answer(nova.body.server.id, ''), null);
  const gone = await createServer(cloud, { name: 'serial-gone' });
  assert.equal(await guest.has(gone.uuid), true);
  assert.equal((await cs(cloud, 'DELETE', `/servers/${gone.uuid}/`)).status, 204);
  await cloud.services.runner.idle();
  assert.equal(await guest.has(gone.uuid), false);
  assert.equal(await guest.answer(gone.uuid, ''), null);
  await cloud.req('DELETE', `/compute/v2.1/servers/${nova.body.server.id}`, { token: cloud.demoToken });
  await cs(cloud, 'DELETE', `/servers/${off.uuid}/`);
  await cloud.services.runner.idle();
});
