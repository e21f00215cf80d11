/**
 * The metadata service's answers, over real HTTP and a real database, on the fake driver:
 * the service listens on a loopback port here and is told which server "the guest" is (the
 * qemu test, test/virt/qemu-metadata.test.ts, covers telling real machines apart).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startCloud, type TestCloud } from '../../support.js';
import { startMetadataService, type MetadataService } from '../../../src/compute/metadata-service.js';
import { bootServer, ownServer } from './server-fixtures.js';

let cloud: TestCloud;
let service: MetadataService;
/** The server the next connection is from; null: from no guest. */
let guest: string | null = null;

before(async () => {
  cloud = await startCloud();
  service = (await startMetadataService(cloud.services, async () => guest, { address: '127.0.0.1', port: 0 }))!;
});
after(async () => {
  await service?.close();
  await cloud.close();
});

/** One request to the metadata service as `from` (a server id, or null for no guest). */
function ask(from: string | null, path: string, body?: string | Buffer): Promise<{ status: number; text: string; type: string }> {
  guest = from;
  return new Promise((resolve, reject) => {
    const req = request(`${service.url}${path}`, { method: body === undefined ? 'GET' : 'POST', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString(), type: String(res.headers['content-type'] ?? '') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const serverPassword = (id: string, token: string) => cloud.req('GET', `/compute/v2.1/servers/${id}/os-server-password`, { token });

test('a guest reads its own meta_data.json: uuid, name, hostname, zone and its current metadata', async () => {
  const { id, token, projectId } = await ownServer(cloud, { name: 'md-one', metadata: { role: 'web' } });
  await cloud.req('PUT', `/compute/v2.1/servers/${id}/metadata/later`, { token, body: { meta: { later: 'set after boot' } } });
  const r = await ask(id, '/openstack/latest/meta_data.json');
  assert.equal(r.status, 200);
  assert.equal(r.type, 'application/json');
  const md = JSON.parse(r.text);
  assert.equal(md.uuid, id);
  assert.equal(md.name, 'md-one');
  assert.equal(md.hostname, 'md-one');
  assert.equal(md.project_id, projectId);
  assert.equal(md.availability_zone, 'nova');
  assert.deepEqual(md.meta, { role: 'web', later: 'set after boot' });
  assert.equal(md.admin_pass, undefined);
});

test('/openstack lists the versions and latest; a version lists its files', async () => {
  const { id } = await ownServer(cloud);
  const versions = await ask(id, '/openstack');
  assert.equal(versions.status, 200);
  assert.deepEqual(versions.text.split('\n').slice(-2), ['2020-10-14', 'latest']);
  assert.equal((await ask(id, '/openstack/latest/')).text, 'meta_data.json\npassword\nvendor_data.json\nnetwork_data.json\nvendor_data2.json');
  assert.equal((await ask(id, '/openstack/2012-08-10')).text, 'meta_data.json');
  assert.equal((await ask(id, '/openstack/2099-01-01/meta_data.json')).status, 404);
  assert.equal((await ask(id, '/openstack/latest/nothing.json')).status, 404);
});

test('user_data is the server’s user data, and 404 (on both trees) when it has none', async () => {
  const { id: withData } = await ownServer(cloud, { user_data: Buffer.from('#cloud-config\nhostname: x\n').toString('base64') });
  assert.equal((await ask(withData, '/openstack/latest/user_data')).text, '#cloud-config\nhostname: x\n');
  assert.equal((await ask(withData, '/latest/user-data')).text, '#cloud-config\nhostname: x\n');
  const { id: without } = await ownServer(cloud);
  assert.equal((await ask(without, '/openstack/latest/user_data')).status, 404);
  assert.equal((await ask(without, '/latest/user-data')).status, 404);
});

test('network_data.json, vendor_data.json and vendor_data2.json answer as JSON', async () => {
  const id = await bootServer(cloud, cloud.demoToken, { name: 'md-net' });
  const net = JSON.parse((await ask(id, '/openstack/latest/network_data.json')).text);
  // The seeded subnet has DHCP: Nova then says ipv4_dhcp, with no address (test/virt/metadata.test.ts has the static form).
  assert.equal(net.networks[0].type, 'ipv4_dhcp');
  assert.match(net.links[0].ethernet_mac_address, /^fa:16:3e:/);
  assert.equal(net.links[0].id, net.networks[0].link);
  assert.deepEqual(JSON.parse((await ask(id, '/openstack/latest/vendor_data.json')).text), {});
  assert.deepEqual(JSON.parse((await ask(id, '/openstack/latest/vendor_data2.json')).text), {});
});

test('EC2 paths: the meta-data listing and its keys, as Nova prints them', async () => {
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq6dkX0cVZkHAqkdl6S9JqVt6i7zPZ0Xy1Y3aU1gN2K md@test';
  await cloud.req('POST', '/compute/v2.1/os-keypairs', { token: cloud.demoToken, body: { keypair: { name: 'mdkey', public_key: key } } });
  const id = await bootServer(cloud, cloud.demoToken, { name: 'md-ec2', key_name: 'mdkey' });
  const server = (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: cloud.demoToken })).body.server;
  const ip = (Object.values(server.addresses)[0] as { addr: string }[])[0].addr;
  const listing = (await ask(id, '/latest/meta-data/')).text.split('\n');
  for (const k of ['ami-id', 'hostname', 'instance-id', 'local-hostname', 'local-ipv4', 'placement/', 'public-keys/', 'reservation-id', 'block-device-mapping/']) assert.ok(listing.includes(k), `${k} in ${listing}`);
  assert.equal((await ask(id, '/latest/meta-data/instance-id')).text, `i-${id.replace(/-/g, '').slice(0, 8)}`);
  assert.equal((await ask(id, '/latest/meta-data/hostname')).text, 'md-ec2');
  assert.equal((await ask(id, '/latest/meta-data/local-hostname')).text, 'md-ec2');
  assert.equal((await ask(id, '/latest/meta-data/local-ipv4')).text, ip);
  assert.equal((await ask(id, '/latest/meta-data/placement/availability-zone')).text, 'nova');
  const row = await cloud.services.db.selectFrom('servers').select('reservation_id').where('id', '=', id).executeTakeFirstOrThrow();
  assert.equal((await ask(id, '/latest/meta-data/reservation-id')).text, row.reservation_id);
  assert.match((await ask(id, '/latest/meta-data/ami-id')).text, /^ami-[0-9a-f]{8}$/);
  assert.equal((await ask(id, '/latest/meta-data/public-keys/')).text, '0=mdkey');
  assert.equal((await ask(id, '/latest/meta-data/public-keys/0/')).text, 'openssh-key');
  assert.equal((await ask(id, '/latest/meta-data/public-keys/0/openssh-key')).text, key);
  assert.equal((await ask(id, '/latest')).text, 'meta-data/');
  assert.equal((await ask(id, '/latest/meta-data/nothing')).status, 404);
  assert.equal((await ask(id, '/2001-01-01/meta-data/')).status, 404);
});

test('/ lists the EC2 versions to anyone; every other path is 404 for a connection no guest owns', async () => {
  await ownServer(cloud, { name: 'md-hidden' });
  const root = await ask(null, '/');
  assert.equal(root.status, 200);
  assert.deepEqual(root.text.split('\n').slice(-2), ['2009-04-04', 'latest']);
  for (const path of ['/openstack', '/openstack/latest/meta_data.json', '/latest/meta-data/', '/latest/meta-data/instance-id', '/openstack/latest/password']) {
    const r = await ask(null, path);
    assert.equal(r.status, 404, path);
    assert.ok(!r.text.includes('md-hidden'), path);
  }
  assert.equal((await ask(null, '/openstack/latest/password', 'stolen')).status, 404);
});

test('a deleted server’s guest is answered 404', async () => {
  const { id, token } = await ownServer(cloud);
  assert.equal((await cloud.req('DELETE', `/compute/v2.1/servers/${id}`, { token })).status, 204);
  await cloud.services.runner.idle();
  assert.equal((await ask(id, '/openstack/latest/meta_data.json')).status, 404);
});

test('a guest posts its password once: os-server-password shows it, a second post is 409, DELETE clears it and the guest may post again', async () => {
  const { id, token } = await ownServer(cloud);
  assert.equal((await ask(id, '/openstack/latest/password')).text, '');
  assert.equal((await ask(id, '/openstack/latest/password', 'encrypted-by-guest==')).status, 200);
  assert.deepEqual((await serverPassword(id, token)).body, { password: 'encrypted-by-guest==' });
  assert.equal((await ask(id, '/openstack/latest/password')).text, 'encrypted-by-guest==');
  assert.equal((await ask(id, '/openstack/2013-04-04/password', 'another')).status, 409);
  assert.deepEqual((await serverPassword(id, token)).body, { password: 'encrypted-by-guest==' });
  assert.equal((await cloud.req('DELETE', `/compute/v2.1/servers/${id}/os-server-password`, { token })).status, 204);
  assert.deepEqual((await serverPassword(id, token)).body, { password: '' });
  assert.equal((await ask(id, '/openstack/latest/password', 'second')).status, 200);
  assert.deepEqual((await serverPassword(id, token)).body, { password: 'second' });
});

test('posts racing for the password: exactly one is kept, the others are 409', async () => {
  const { id, token } = await ownServer(cloud);
  const answers = await Promise.all(['a', 'b', 'c', 'd'].map((p) => ask(id, '/openstack/latest/password', p)));
  assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409, 409, 409]);
  const kept = (await serverPassword(id, token)).body.password;
  assert.ok(['a', 'b', 'c', 'd'].includes(kept));
});

test('a password over 1020 bytes (Nova’s four chunks of 255) is 400 and nothing is kept; 1020 bytes are kept', async () => {
  const { id, token } = await ownServer(cloud);
  assert.equal((await ask(id, '/openstack/latest/password', 'x'.repeat(1021))).status, 400);
  assert.deepEqual((await serverPassword(id, token)).body, { password: '' });
  assert.equal((await ask(id, '/openstack/latest/password', 'x'.repeat(1020))).status, 200);
  assert.equal((await serverPassword(id, token)).body.password.length, 1020);
});

test('a password with a NUL character is 400 on both databases and nothing is kept', async () => {
  const { id, token } = await ownServer(cloud);
  assert.equal((await ask(id, '/openstack/latest/password', 'a\0b')).status, 400);
  assert.deepEqual((await serverPassword(id, token)).body, { password: '' });
});

test('the password path does not exist before 2013-04-04 (Grizzly)', async () => {
  const { id } = await ownServer(cloud);
  assert.equal((await ask(id, '/openstack/2012-08-10/password', 'early')).status, 404);
});

test('EC2 public-ipv4 is the floating IP pointed at the guest, empty when it has none', async () => {
  const id = await bootServer(cloud, cloud.demoToken, { name: 'md-public' });
  assert.equal((await ask(id, '/latest/meta-data/public-ipv4')).text, '');
  const token = cloud.demoToken;
  const port = (await cloud.req('GET', `/network/v2.0/ports?device_id=${id}`, { token })).body.ports[0];
  const external = (await cloud.req('GET', '/network/v2.0/networks?router:external=true', { token })).body.networks[0];
  const fip = await cloud.req('POST', '/network/v2.0/floatingips', { token, body: { floatingip: { floating_network_id: external.id, port_id: port.id } } });
  assert.equal(fip.status, 201, JSON.stringify(fip.body));
  assert.equal((await ask(id, '/latest/meta-data/public-ipv4')).text, fip.body.floatingip.floating_ip_address);
});
