/**
 * The instance metadata tree (src/virt/metadata.ts) that both the config drive and the
 * metadata service are made from: what each carries, without QEMU or a database.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InstanceMetadata } from '../../src/virt/metadata.js';
import type { GuestSpec } from '../../src/virt/driver.js';

const spec: GuestSpec = {
  id: '0a1b2c3d-0000-4000-8000-000000000001',
  name: 'tree',
  hostname: 'tree',
  vcpus: 1,
  memoryMb: 128,
  diskGb: 1,
  ephemeralGb: 1,
  swapMb: 64,
  imageId: 'img',
  userData: Buffer.from('#!/bin/sh\necho hi\n').toString('base64'),
  keyData: 'ssh-ed25519 AAAA tree@test',
  keyName: 'treekey',
  adminPassword: 'Given-At-Create-1',
  files: [{ path: '/etc/motd', contents: Buffer.from('hello').toString('base64') }],
  ports: [{ mac: 'fa:16:3e:00:00:01', ips: ['10.0.0.5'], id: 'port-1', networkId: 'net-1', subnets: [{ ip: '10.0.0.5', cidr: '10.0.0.0/26', gateway: '10.0.0.1' }] }],
  projectId: 'proj',
  availabilityZone: 'nova',
  launchIndex: 0,
  reservationId: 'r-abc',
  metadata: { role: 'tree' },
  flavorName: 'm1.nano',
  securityGroups: ['default'],
};

const files = () => new Map(new InstanceMetadata(spec, { password: 'posted' }).configDriveFiles().map(([p, d]) => [p, Buffer.from(d).toString()]));

test('the config drive carries every OpenStack version and latest, with the files each version has', () => {
  const f = files();
  assert.ok(f.has('openstack/2012-08-10/meta_data.json'));
  assert.ok(!f.has('openstack/2012-08-10/vendor_data.json'));
  assert.ok(f.has('openstack/2013-10-17/vendor_data.json'));
  assert.ok(!f.has('openstack/2013-10-17/network_data.json'));
  for (const name of ['meta_data.json', 'user_data', 'vendor_data.json', 'network_data.json', 'vendor_data2.json']) assert.ok(f.has(`openstack/latest/${name}`), name);
  assert.equal(f.get('openstack/latest/user_data'), '#!/bin/sh\necho hi\n');
  assert.equal(f.get('openstack/content/0000'), 'hello');
});

test('the config drive never carries the guest’s posted password; only it carries admin_pass', () => {
  const f = files();
  assert.ok(![...f.keys()].some((p) => p.endsWith('/password')));
  assert.ok(![...f.values()].some((d) => d.includes('posted')));
  assert.equal(JSON.parse(f.get('openstack/latest/meta_data.json')!).admin_pass, 'Given-At-Create-1');
  const served = new InstanceMetadata({ ...spec, adminPassword: null }).lookup('/openstack/latest/meta_data.json');
  assert.equal(served?.kind, 'data');
  assert.equal(JSON.parse(String(served?.kind === 'data' && served.body)).admin_pass, undefined);
});

test('the config drive’s EC2 meta-data.json is the meta-data tree without listing names', () => {
  const md = JSON.parse(files().get('ec2/latest/meta-data.json')!);
  assert.deepEqual(md['public-keys'], { '0': { 'openssh-key': 'ssh-ed25519 AAAA tree@test' } });
  assert.equal(md['local-ipv4'], '10.0.0.5');
  assert.deepEqual(md['block-device-mapping'], { ami: 'vda', root: '/dev/vda', ephemeral0: 'vdb', swap: 'vdc' });
  assert.equal(md['instance-type'], 'm1.nano');
  assert.equal(files().get('ec2/latest/user-data'), '#!/bin/sh\necho hi\n');
  assert.ok(files().has('ec2/1.0/meta-data.json'));
});

test('meta_data.json grows with its version as Nova’s does (project_id from 2015-10-15, devices from 2016-06-30)', () => {
  const m = new InstanceMetadata(spec);
  assert.equal(m.metaData('2012-08-10').project_id, undefined);
  assert.equal(m.metaData('2012-08-10').random_seed, undefined);
  assert.equal(m.metaData('2015-10-15').project_id, 'proj');
  assert.equal(m.metaData('2015-10-15').devices, undefined);
  assert.deepEqual(m.metaData('latest').devices, []);
  assert.equal(Buffer.from(String(m.metaData('latest').random_seed), 'base64').length, 512);
});

test('an EC2 version before 2007-01-19 has no local-hostname, one before 2008-02-01 no placement', () => {
  const m = new InstanceMetadata(spec);
  assert.equal(m.ec2MetaData('1.0')['local-hostname'], undefined);
  assert.equal(m.ec2MetaData('2007-12-15').placement, undefined);
  assert.deepEqual(m.ec2MetaData('2008-02-01').placement, { 'availability-zone': 'nova' });
});

test('network_data.json: a port on a subnet with DHCP is an ipv4_dhcp network, with no address, as Nova gives it', () => {
  const net = new InstanceMetadata(spec).networkData() as { links: { id: string }[]; networks: Record<string, unknown>[]; services: unknown[] };
  assert.deepEqual(net.networks, [{ id: 'network0', type: 'ipv4_dhcp', link: net.links[0].id, network_id: 'net-1' }]);
  assert.deepEqual(net.services, []);
});

test("network_data.json: a port on a subnet without DHCP is a static ipv4 network with the default route, the subnet's host routes and its DNS servers", () => {
  const port = spec.ports[0];
  const subnet = { ...port.subnets![0], dhcp: false, dns: ['10.0.0.2', '192.0.2.53'], routes: [{ destination: '172.16.0.0/12', nexthop: '10.0.0.9' }] };
  const net = new InstanceMetadata({ ...spec, ports: [{ ...port, subnets: [subnet] }] }).networkData() as { links: { id: string }[]; networks: Record<string, unknown>[]; services: unknown[] };
  const dns = [
    { type: 'dns', address: '10.0.0.2' },
    { type: 'dns', address: '192.0.2.53' },
  ];
  assert.deepEqual(net.networks, [
    {
      id: 'network0',
      type: 'ipv4',
      link: net.links[0].id,
      ip_address: '10.0.0.5',
      netmask: '255.255.255.192',
      routes: [
        { network: '0.0.0.0', netmask: '0.0.0.0', gateway: '10.0.0.1' },
        { network: '172.16.0.0', netmask: '255.240.0.0', gateway: '10.0.0.9' },
      ],
      network_id: 'net-1',
      services: dns,
    },
  ]);
  assert.deepEqual(net.services, dns);
});
