/**
 * Apache libcloud's CloudSigma 2.0 driver (Debian's python3-libcloud, unmodified, through
 * /usr/bin/python3) against a `nimbus serve` process over plain HTTP: what a user of the
 * driver does with servers, drives, library drives and key pairs. The driver insists on
 * HTTPS at construction, so the script points its connection at http://host:port after it,
 * and polls drives every 0.1 s instead of 5 s; nothing of the driver is changed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO_PASSWORD } from '../support.js';
import { nimbusForTests, python, pythonSkip } from './cli.js';

const skip = pythonSkip(['libcloud'], 'python3-libcloud');
const nimbus = nimbusForTests(skip, { NIMBUS_DEMO_PASSWORD: DEMO_PASSWORD });

const PRELUDE = `
import time
from urllib.parse import urlparse
from libcloud.compute.providers import get_driver
from libcloud.compute.types import NodeState, Provider
u = urlparse(args['url'])
driver = get_driver(Provider.CLOUDSIGMA)('demo', args['password'], region='zrh', api_version='2.0', host=u.hostname, port=u.port)
driver.connection.secure = False
driver.connection.port = u.port
driver.connection.connect()
driver.DRIVE_TRANSITION_SLEEP_INTERVAL = 0.1

def wait(node_id, state, timeout=30):
    deadline = time.time() + timeout
    while True:
        node = driver.ex_get_node(node_id)
        if node.state == state or time.time() > deadline:
            return node
        time.sleep(0.1)

def new_node(name):
    image = driver.list_images()[0]
    size = [s for s in driver.list_sizes() if s.ram <= 1024][0]
    node = driver.create_node(name=name, size=size, image=image)
    return wait(node.id, NodeState.RUNNING)
`;

const libcloud = (script: string) => python(nimbus, PRELUDE + script, { url: nimbus.current().url, password: DEMO_PASSWORD });

test('libcloud CloudSigma: list_images lists the preinstalled library drives', { skip }, async () => {
  const r = await libcloud(`result([i.name for i in driver.list_images()])`);
  assert.ok(r.length >= 1);
});

test('libcloud CloudSigma: create_node clones a library drive, resizes it, creates and starts a server that list_nodes shows running', { skip }, async () => {
  const r = await libcloud(`
node = new_node('lc-create')
nodes = [n for n in driver.list_nodes() if n.id == node.id]
drives = [d for d in driver.ex_list_user_drives() if d.name.startswith('lc-create')]
result({'state': node.state, 'listed': [n.state for n in nodes], 'ips': node.public_ips + node.private_ips, 'drives': [d.status for d in drives]})
`);
  assert.equal(r.state, 'running');
  assert.deepEqual(r.listed, ['running']);
  assert.equal(r.ips.length, 1);
  assert.deepEqual(r.drives, ['mounted']);
});

test('libcloud CloudSigma: reboot_node (its stop then start) brings the server back running', { skip }, async () => {
  const r = await libcloud(`
node = new_node('lc-reboot')
ok = driver.reboot_node(node)
result({'ok': ok, 'state': wait(node.id, NodeState.RUNNING).state})
`);
  assert.deepEqual(r, { ok: true, state: 'running' });
});

test('libcloud CloudSigma: VNC tunnel open and close', { skip }, async () => {
  const r = await libcloud(`
node = new_node('lc-vnc')
url = driver.ex_open_vnc_tunnel(node)
closed = driver.ex_close_vnc_tunnel(node)
result({'url': url, 'closed': closed})
`);
  assert.match(r.url, /^vnc:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(r.closed, true);
});

test('libcloud CloudSigma: ex_clone_node makes a stopped copy with its own disk', { skip }, async () => {
  const r = await libcloud(`
node = new_node('lc-source')
driver.ex_stop_node(node)
wait(node.id, NodeState.STOPPED)
copy = driver.ex_clone_node(node, name='lc-copy')
copy = driver.ex_get_node(copy.id)
result({'name': copy.name, 'state': copy.state, 'drives': [d['drive']['uuid'] for d in copy.extra['drives']], 'source': [d['drive']['uuid'] for d in driver.ex_get_node(node.id).extra['drives']]})
`);
  assert.equal(r.name, 'lc-copy');
  assert.equal(r.state, 'stopped');
  assert.equal(r.drives.length, 1);
  assert.notDeepEqual(r.drives, r.source);
});

test('libcloud CloudSigma: destroy_node of a running server is refused; stopped, it goes with its drives', { skip }, async () => {
  const r = await libcloud(`
from libcloud.compute.drivers.cloudsigma import CloudSigmaError
node = new_node('lc-destroy')
try:
    driver.destroy_node(node)
    refused = False
except CloudSigmaError as e:
    refused = e.http_code
driver.ex_stop_node(node)
wait(node.id, NodeState.STOPPED)
gone = driver.destroy_node(node, ex_delete_drives=True)
time.sleep(0.5)
result({'refused': refused, 'gone': gone, 'left': [n.id for n in driver.list_nodes() if n.id == node.id], 'drives': [d.name for d in driver.ex_list_user_drives() if d.name.startswith('lc-destroy')]})
`);
  assert.equal(r.refused, 409);
  assert.equal(r.gone, true);
  assert.deepEqual(r.left, []);
  assert.deepEqual(r.drives, []);
});

test('libcloud CloudSigma: drives are created, resized and destroyed', { skip }, async () => {
  const r = await libcloud(`
drive = driver.ex_create_drive(name='lc-drive', size=1)  # GB
drive = driver._wait_for_drive_state_transition(drive, 'unmounted')
bigger = driver.ex_resize_drive(drive, 2)  # GB, as the driver takes it
bigger = driver._wait_for_drive_state_transition(bigger, 'unmounted')
size = driver.ex_get_drive(drive.id).size
gone = driver.ex_destroy_drive(drive)
result({'size': size, 'gone': gone})
`);
  assert.deepEqual(r, { size: 2, gone: true }); // the driver reports GB
});

test('libcloud CloudSigma: key pairs are created, imported, listed and deleted', { skip }, async () => {
  const r = await libcloud(`
made = driver.create_key_pair('lc-key')
imported = driver.import_key_pair_from_string('lc-imported', made.public_key)
names = sorted(k.name for k in driver.list_key_pairs())
driver.delete_key_pair(made)
after = sorted(k.name for k in driver.list_key_pairs())
result({'private': made.private_key is not None and 'PRIVATE KEY' in made.private_key, 'names': names, 'after': after})
`);
  assert.equal(r.private, true);
  assert.deepEqual(r.names, ['lc-imported', 'lc-key']);
  assert.deepEqual(r.after, ['lc-imported']);
});

// ex_tag_resource(s) is not exercised: in libcloud 3.4.1 it iterates over the tag's own
// resource ids in place of the resources given, so it raises or sends an empty list.
test('libcloud CloudSigma: a tag created on nodes lists them with list_nodes(ex_tag=...), and is deleted', { skip }, async () => {
  const r = await libcloud(`
a = new_node('lc-tag-a')
b = new_node('lc-tag-b')
tag = driver.ex_create_tag('lc-tag', resource_uuids=[a.id, b.id])
tagged = sorted(n.name for n in driver.list_nodes(ex_tag=tag))
listed = [t.name for t in driver.ex_list_tags()]
deleted = driver.ex_delete_tag(tag)
after = [t.name for t in driver.ex_list_tags()]
result({'tagged': tagged, 'listed': 'lc-tag' in listed, 'deleted': deleted, 'after': 'lc-tag' in after})
`);
  assert.deepEqual(r, { tagged: ['lc-tag-a', 'lc-tag-b'], listed: true, deleted: true, after: false });
});
