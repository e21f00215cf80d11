/**
 * The real `openstack` CLI (Debian's python3-openstackclient, through openstacksdk) driving
 * the Networking API: version discovery through the catalog, find-by-name, create, list,
 * show and delete of networks, subnets, ports, security groups and their rules.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { cliSkip as skip, openstackCli } from '../../clients/cli.js';

let cloud: TestCloud;
before(async () => {
  if (!skip) cloud = await startCloud();
});
after(async () => cloud?.close());

const { openstack, json } = openstackCli(() => cloud.dataDir);

test('openstack network create / list / show', { skip }, async () => {
  const created = await json(['network', 'create', 'cli-net']);
  assert.equal(created.name, 'cli-net');
  assert.equal(created.status, 'ACTIVE');
  const list = await json(['network', 'list']);
  assert.ok(list.some((n: { Name: string }) => n.Name === 'cli-net'));
  const shown = await json(['network', 'show', 'cli-net']);
  assert.equal(shown.id, created.id);
});

test('openstack subnet create --network N --subnet-range 10.0.0.0/24', { skip }, async () => {
  const subnet = await json(['subnet', 'create', '--network', 'cli-net', '--subnet-range', '10.0.0.0/24', 'cli-subnet']);
  assert.equal(subnet.cidr, '10.0.0.0/24');
  assert.equal(subnet.gateway_ip, '10.0.0.1');
  const list = await json(['subnet', 'list', '--network', 'cli-net']);
  assert.deepEqual(list.map((s: { Name: string }) => s.Name), ['cli-subnet']);
});

test('openstack port create --network N, with and without --fixed-ip', { skip }, async () => {
  const first = await json(['port', 'create', '--network', 'cli-net', 'cli-port-1']);
  assert.equal(first.fixed_ips[0].ip_address, '10.0.0.2');
  assert.match(first.mac_address, /^fa:16:3e:/);
  const fixed = await json(['port', 'create', '--network', 'cli-net', '--fixed-ip', 'subnet=cli-subnet,ip-address=10.0.0.50', 'cli-port-2']);
  assert.equal(fixed.fixed_ips[0].ip_address, '10.0.0.50');
});

test('openstack port list --network N / port show / port delete', { skip }, async () => {
  const list = await json(['port', 'list', '--network', 'cli-net']);
  assert.deepEqual(list.map((p: { Name: string }) => p.Name).sort(), ['cli-port-1', 'cli-port-2']);
  const shown = await json(['port', 'show', 'cli-port-1']);
  assert.equal(shown.name, 'cli-port-1');
  await openstack(['port', 'delete', 'cli-port-1', 'cli-port-2']);
  assert.deepEqual(await json(['port', 'list', '--network', 'cli-net']), []);
});

test('openstack security group create / list / show', { skip }, async () => {
  const g = await json(['security', 'group', 'create', '--description', 'web servers', 'cli-web']);
  assert.equal(g.name, 'cli-web');
  const list = await json(['security', 'group', 'list']);
  assert.deepEqual(list.map((x: { Name: string }) => x.Name).sort(), ['cli-web', 'default']);
  const shown = await json(['security', 'group', 'show', 'cli-web']);
  assert.equal(shown.description, 'web servers');
});

test('openstack security group rule create / list / delete', { skip }, async () => {
  const rule = await json(['security', 'group', 'rule', 'create', '--protocol', 'tcp', '--dst-port', '22', 'cli-web']);
  assert.equal(rule.port_range_min, 22);
  assert.equal(rule.remote_ip_prefix, '0.0.0.0/0');
  const list = await json(['security', 'group', 'rule', 'list', 'cli-web']);
  assert.ok(list.some((r: { ID: string }) => r.ID === rule.id));
  await openstack(['security', 'group', 'rule', 'delete', rule.id]);
  const after = await json(['security', 'group', 'rule', 'list', 'cli-web']);
  assert.ok(!after.some((r: { ID: string }) => r.ID === rule.id));
});

test('openstack security group delete / subnet delete / network delete', { skip }, async () => {
  await openstack(['security', 'group', 'delete', 'cli-web']);
  await openstack(['subnet', 'delete', 'cli-subnet']);
  await openstack(['network', 'delete', 'cli-net']);
  const nets = await json(['network', 'list']);
  assert.ok(!nets.some((n: { Name: string }) => n.Name === 'cli-net'));
});

test('openstack network create --share is refused for a member and allowed for an admin', { skip }, async () => {
  await assert.rejects(openstack(['network', 'create', '--share', 'cli-shared']), /403/);
  const shared = await json(['network', 'create', '--share', 'cli-shared'], 'nimbus-admin');
  assert.equal(shared.shared, true);
  const seen = await json(['network', 'list', '--share']);
  assert.ok(seen.some((n: { Name: string }) => n.Name === 'cli-shared'));
});
