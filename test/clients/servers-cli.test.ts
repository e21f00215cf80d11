/**
 * The real `openstack` CLI (Debian's python3-openstackclient) driving servers on the fake
 * driver, against a `nimbus serve` process as the README starts it: create with --wait,
 * list with filters, show, properties, tags, networks, keypairs and delete with --wait.
 * Under NIMBUS_TEST_DATABASE_URL the process runs on a fresh PostgreSQL database.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ADMIN_PASSWORD, DEMO_PASSWORD, passwordToken, request } from '../support.js';
import { cliFor, cliSkip as skip, nimbusForTests } from './cli.js';

const nimbus = nimbusForTests(skip, { NIMBUS_ADMIN_PASSWORD: ADMIN_PASSWORD, NIMBUS_DEMO_PASSWORD: DEMO_PASSWORD });
const { run, openstack, json } = cliFor(nimbus);

/** Tags need microversion 2.26; the CLI's default is 2.1. */
const TAGS = ['--os-compute-api-version', '2.26'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const names = (rows: { Name: string }[]) => rows.map((r) => r.Name).sort();

const suffix = randomBytes(3).toString('hex');
const web = `web-${suffix}`;
const db = `db-${suffix}`;
const broken = `broken-${suffix}`;
const ids: Record<string, string> = {};
let imageId = '';

/** Asks the control API to apply a build behaviour to the next matching build. */
async function behaviour(b: Record<string, unknown>) {
  const admin = (await passwordToken(nimbus.current().url, 'admin', ADMIN_PASSWORD, 'admin')).token;
  const res = await request(nimbus.current().url, 'POST', '/nimbus/v1/behaviours', { token: admin, body: { behaviour: { count: 1, ...b } } });
  assert.equal(res.status, 201, res.text);
}

test('openstack server create --flavor m1.tiny --image nimbus-demo --wait waits through BUILD and prints the server ACTIVE', { skip }, async () => {
  // A build that takes 2 s, so that --wait really has to poll.
  await behaviour({ match: { name: `^${web}$` }, build_ms: 2000 });
  const started = Date.now();
  const s = await json(['server', 'create', '--flavor', 'm1.tiny', '--image', 'nimbus-demo', '--wait', web]);
  assert.ok(Date.now() - started >= 2000, 'the CLI waited for the build');
  assert.equal(s.name, web);
  assert.match(s.id, UUID);
  assert.equal(s.status, 'ACTIVE');
  assert.equal(s['OS-EXT-STS:vm_state'], 'active');
  assert.equal(s['OS-EXT-STS:task_state'], null);
  assert.equal(s['OS-EXT-STS:power_state'], 1);
  assert.equal(s.progress, 100);
  assert.equal(s.flavor, 'm1.tiny (1)');
  imageId = (await json(['image', 'show', 'nimbus-demo'])).id;
  assert.equal(s.image, `nimbus-demo (${imageId})`);
  assert.equal(typeof s.adminPass, 'string');
  assert.ok(s.adminPass.length >= 8);
  assert.match(s.hostId, /^[0-9a-f]{56}$/);
  ids[web] = s.id;
});

test('openstack server create with no --nic, as a newcomer types it, gets an address on the demo project’s private network', { skip }, async () => {
  // The web server above was made that way; and at 2.37+, where the CLI sends networks "auto", too.
  const s = await json(['server', 'show', web]);
  assert.deepEqual(Object.keys(s.addresses), ['private']);
  assert.match(s.addresses.private[0], /^10\.0\.0\.\d+$/);
  const name = `newcomer-${suffix}`;
  const auto = await json(['--os-compute-api-version', '2.37', 'server', 'create', '--flavor', 'm1.tiny', '--image', 'nimbus-demo', '--wait', name]);
  try {
    assert.equal(auto.status, 'ACTIVE');
    assert.deepEqual(Object.keys(auto.addresses), ['private']);
    assert.notEqual(auto.addresses.private[0], s.addresses.private[0]);
  } finally {
    await openstack(['server', 'delete', '--wait', auto.id]);
  }
});

test('the private network and its subnet are DevStack’s: private-subnet, 10.0.0.0/26, gateway 10.0.0.1', { skip }, async () => {
  const net = await json(['network', 'show', 'private']);
  assert.equal(net.shared, false);
  const sub = await json(['subnet', 'show', 'private-subnet']);
  assert.equal(sub.network_id, net.id);
  assert.equal(sub.cidr, '10.0.0.0/26');
  assert.equal(sub.gateway_ip, '10.0.0.1');
  assert.equal(sub.project_id, net.project_id);
});

test('a second server with another flavor, and one whose build fails through the control API', { skip }, async () => {
  const s = await json(['server', 'create', '--flavor', 'm1.small', '--image', 'nimbus-demo', '--wait', db]);
  assert.equal(s.status, 'ACTIVE');
  assert.equal(s.flavor, 'm1.small (2)');
  ids[db] = s.id;

  await behaviour({ match: { name: `^${broken}$` }, fault: { message: 'Injected spawn failure', code: 500 } });
  const b = await json(['server', 'create', '--flavor', 'm1.tiny', '--image', 'nimbus-demo', broken]);
  ids[broken] = b.id;
  let shown: any;
  for (let i = 0; i < 120; i++) {
    shown = await json(['server', 'show', b.id]);
    if (shown.status !== 'BUILD') break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(shown.status, 'ERROR');
  assert.equal(shown.fault.message, 'Injected spawn failure');
  assert.equal(shown.fault.code, 500);
});

test('openstack server list shows every server of the project with its status, image and flavor', { skip }, async () => {
  const rows = await json(['server', 'list']);
  assert.deepEqual(names(rows), [broken, db, web].sort());
  const w = rows.find((r: any) => r.Name === web);
  const address = (await json(['server', 'show', web])).addresses.private[0];
  assert.deepEqual(w, { ID: ids[web], Name: web, Status: 'ACTIVE', Networks: { private: [address] }, Image: 'nimbus-demo', Flavor: 'm1.tiny' });
  assert.equal(rows.find((r: any) => r.Name === broken).Status, 'ERROR');
  assert.equal(rows.find((r: any) => r.Name === db).Flavor, 'm1.small');
});

test('openstack server list --name takes a regular expression', { skip }, async () => {
  assert.deepEqual(names(await json(['server', 'list', '--name', `^web-${suffix}$`])), [web]);
  assert.deepEqual(names(await json(['server', 'list', '--name', `(web|db)-${suffix}`])), [db, web].sort());
  assert.deepEqual(await json(['server', 'list', '--name', '^no-such-server$']), []);
});

test('openstack server list --status, --flavor and --image filter, alone and together', { skip }, async () => {
  assert.deepEqual(names(await json(['server', 'list', '--status', 'ACTIVE'])), [db, web].sort());
  assert.deepEqual(names(await json(['server', 'list', '--status', 'ERROR'])), [broken]);
  assert.deepEqual(names(await json(['server', 'list', '--flavor', 'm1.small'])), [db]);
  assert.deepEqual(names(await json(['server', 'list', '--flavor', 'm1.tiny'])), [broken, web].sort());
  assert.deepEqual(names(await json(['server', 'list', '--image', 'nimbus-demo'])), [broken, db, web].sort());
  assert.deepEqual(names(await json(['server', 'list', '--image', 'nimbus-demo', '--flavor', 'm1.tiny', '--status', 'ACTIVE'])), [web]);
  assert.deepEqual(await json(['server', 'list', '--flavor', 'm1.large']), []);
});

test('openstack server list --all-projects as a member fails with Nova’s 403, not the member’s own servers', { skip }, async () => {
  const r = await run(['server', 'list', '--all-projects']);
  assert.notEqual(r.code, 0, r.stdout);
  assert.match(r.stderr, /Policy doesn't allow os_compute_api:servers:detail:get_all_tenants to be performed\. \(HTTP 403\)/);
  assert.ok((await json(['server', 'list', '--all-projects'], 'nimbus-admin')).some((row: { ID: string }) => row.ID === ids[web]), 'an admin sees every project');
});

test('openstack server list --long shows ids, task and power state, zone and properties', { skip }, async () => {
  const rows = await json(['server', 'list', '--long', '--name', `^${web}$`]);
  assert.equal(rows.length, 1);
  const r = rows[0];
  assert.equal(r.ID, ids[web]);
  assert.equal(r.Status, 'ACTIVE');
  assert.equal(r['Task State'], null);
  assert.equal(r['Power State'], 1);
  assert.equal(r['Image Name'], 'nimbus-demo');
  assert.equal(r['Image ID'], imageId);
  assert.equal(r['Flavor Name'], 'm1.tiny');
  assert.equal(r['Flavor ID'], '1');
  assert.equal(r['Availability Zone'], 'nova');
  assert.deepEqual(r.Properties, {});
});

test('openstack server show, by name and by id', { skip }, async () => {
  const s = await json(['server', 'show', web]);
  assert.equal(s.id, ids[web]);
  assert.equal(s.name, web);
  assert.equal(s.status, 'ACTIVE');
  assert.equal(s.flavor, 'm1.tiny (1)');
  assert.equal(s.image, `nimbus-demo (${imageId})`);
  assert.deepEqual(Object.keys(s.addresses), ['private']);
  assert.deepEqual(s.properties, {});
  // Its port on private is in the project's default group, so Nova shows that group.
  assert.deepEqual(s.security_groups, [{ name: 'default' }]);
  assert.equal(s.key_name, null);
  assert.equal(s['OS-EXT-AZ:availability_zone'], 'nova');
  assert.match(s.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(s.adminPass, undefined, 'adminPass is shown once, at create');
  const demo = await passwordToken(nimbus.current().url, 'demo', DEMO_PASSWORD, 'demo');
  assert.equal(s.project_id, demo.body.token.project.id);
  assert.equal(s.user_id, demo.body.token.user.id);
  assert.deepEqual(await json(['server', 'show', ids[web]]), s);
});

test('a server the CLI created (compute API 2.1) shows its name as description at 2.19', { skip }, async () => {
  const s = await json(['--os-compute-api-version', '2.19', 'server', 'show', web]);
  assert.equal(s.description, web);
});

test('openstack server set --property / unset --property change the metadata', { skip }, async () => {
  assert.equal((await openstack(['server', 'set', '--property', 'color=blue', '--property', 'tier=front', web])).trim(), '');
  assert.deepEqual((await json(['server', 'show', web])).properties, { color: 'blue', tier: 'front' });
  assert.deepEqual((await json(['server', 'list', '--long', '--name', `^${web}$`]))[0].Properties, { color: 'blue', tier: 'front' });
  await openstack(['server', 'unset', '--property', 'tier', web]);
  assert.deepEqual((await json(['server', 'show', web])).properties, { color: 'blue' });
  assert.deepEqual((await json(['server', 'show', db])).properties, {}, 'the other server is untouched');
});

test('openstack server set --tag / unset --tag (compute API 2.26), and server list --tags', { skip }, async () => {
  await openstack([...TAGS, 'server', 'set', '--tag', 'prod', '--tag', 'eu', web]);
  assert.deepEqual((await json([...TAGS, 'server', 'show', web])).tags.sort(), ['eu', 'prod']);
  assert.deepEqual(names(await json([...TAGS, 'server', 'list', '--tags', 'prod'])), [web]);
  await openstack([...TAGS, 'server', 'unset', '--tag', 'prod', web]);
  assert.deepEqual((await json([...TAGS, 'server', 'show', web])).tags, ['eu']);
  assert.deepEqual(await json([...TAGS, 'server', 'list', '--tags', 'prod']), []);
  assert.deepEqual(names(await json([...TAGS, 'server', 'list', '--tags', 'eu'])), [web]);
});

test('openstack server create --network NAME after network and subnet create: the server gets an address there', { skip }, async () => {
  const net = `net-${suffix}`;
  const network = await json(['network', 'create', net]);
  assert.equal(network.name, net);
  const subnet = await json(['subnet', 'create', '--network', net, '--subnet-range', '10.20.30.0/24', `sub-${suffix}`]);
  assert.equal(subnet.cidr, '10.20.30.0/24');
  const name = `app-${suffix}`;
  const s = await json(['server', 'create', '--flavor', 'm1.tiny', '--image', 'nimbus-demo', '--network', net, '--wait', name]);
  ids[name] = s.id;
  assert.equal(s.status, 'ACTIVE');
  assert.deepEqual(Object.keys(s.addresses), [net]);
  const [addr] = s.addresses[net];
  assert.match(addr, /^10\.20\.30\.\d+$/);
  assert.notEqual(addr, '10.20.30.1', 'the gateway is not handed out');
  const shown = await json(['server', 'show', name]);
  assert.deepEqual(shown.addresses, { [net]: [addr] });
  assert.deepEqual(shown.security_groups, [{ name: 'default' }], 'its port is in the default group');
  assert.deepEqual((await json(['server', 'list', '--name', `^${name}$`]))[0].Networks, { [net]: [addr] });
  // The address is a port on the network, owned by the server.
  const ports = await json(['port', 'list', '--server', s.id]);
  assert.equal(ports.length, 1);
  assert.deepEqual(ports[0]['Fixed IP Addresses'], [{ subnet_id: subnet.id, ip_address: addr }]);
  assert.match(ports[0]['MAC Address'], /^fa:16:3e(:[0-9a-f]{2}){3}$/);
});

test('openstack server create --nic net-id=…,v4-fixed-ip=… gets that address', { skip }, async () => {
  const net = await json(['network', 'show', `net-${suffix}`]);
  const name = `pinned-${suffix}`;
  const s = await json(['server', 'create', '--flavor', 'm1.tiny', '--image', 'nimbus-demo', '--nic', `net-id=${net.id},v4-fixed-ip=10.20.30.50`, '--wait', name]);
  ids[name] = s.id;
  assert.equal(s.status, 'ACTIVE');
  assert.deepEqual(s.addresses, { [`net-${suffix}`]: ['10.20.30.50'] });
  assert.deepEqual(names(await json(['server', 'list', '--ip', '10\\.20\\.30\\.50$'])), [name]);
});

test('openstack keypair create, then server create --key-name', { skip }, async () => {
  const key = `key-${suffix}`;
  const privateKey = await openstack(['keypair', 'create', key]);
  assert.match(privateKey, /^-----BEGIN (RSA |OPENSSH )?PRIVATE KEY-----\n/);
  const listed = (await json(['keypair', 'list'])).find((k: any) => k.Name === key);
  assert.match(listed?.Fingerprint ?? '', /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
  const name = `keyed-${suffix}`;
  // The project has two networks now (private and net-…): Nova wants one named.
  const s = await json(['server', 'create', '--flavor', 'm1.tiny', '--image', 'nimbus-demo', '--network', 'private', '--key-name', key, '--wait', name]);
  ids[name] = s.id;
  assert.equal(s.status, 'ACTIVE');
  assert.equal(s.key_name, key);
  assert.equal((await json(['server', 'show', s.id])).key_name, key);
});

test('openstack server delete --wait: the servers are gone from the list and from show', { skip }, async () => {
  assert.equal(Object.keys(ids).length, 6, 'every create above worked');
  const before = await json(['server', 'list']);
  assert.deepEqual(names(before), Object.keys(ids).sort());
  await openstack(['server', 'delete', '--wait', web, ids[broken]]);
  const after = await json(['server', 'list']);
  assert.deepEqual(names(after), Object.keys(ids).filter((n) => n !== web && n !== broken).sort());
  await assert.rejects(openstack(['server', 'show', web]), /No server with a name or ID of/);
  await openstack(['server', 'delete', '--wait', ...Object.keys(ids).filter((n) => n !== web && n !== broken)]);
  assert.deepEqual(await json(['server', 'list']), []);
  // The server's port on the network went with it.
  assert.deepEqual(await json(['port', 'list', '--network', `net-${suffix}`]), []);
});
