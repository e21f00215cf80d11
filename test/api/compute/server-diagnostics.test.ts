import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { ownServer, setServer } from './server-fixtures.js';

let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
});
after(async () => cloud.close());

const diagnostics = (id: string) => `/compute/v2.1/servers/${id}/diagnostics`;
const admin = () => cloud.adminToken;
const NIC = { version: 4, addr: '10.0.0.5', 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': 'fa:16:3e:00:00:01' };

test('diagnostics are for admins: a member of the server’s project gets 403', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('GET', diagnostics(id), { token });
  assert.equal(res.status, 403);
  assert.equal(res.body.forbidden.message, "Policy doesn't allow os_compute_api:os-server-diagnostics to be performed.");
});

test('before 2.48 the diagnostics are the libvirt driver’s free-form counters, sized by the flavor', async () => {
  const { id } = await ownServer(cloud, { flavorRef: '2' });
  await setServer(cloud, id, { addresses: JSON.stringify({ private: [NIC] }) });
  const res = await cloud.req('GET', diagnostics(id), { token: admin() });
  assert.equal(res.status, 200);
  const flavor = (await cloud.req('GET', '/compute/v2.1/flavors/2', { token: admin() })).body.flavor;
  const d = res.body;
  assert.equal(d.memory, flavor.ram * 1024, 'memory in KiB');
  for (let i = 0; i < flavor.vcpus; i++) assert.equal(typeof d[`cpu${i}_time`], 'number');
  assert.equal(d[`cpu${flavor.vcpus}_time`], undefined);
  for (const key of ['vda_read', 'vda_read_req', 'vda_write', 'vda_write_req', 'vda_errors', 'vnet0_rx', 'vnet0_rx_packets', 'vnet0_tx', 'vnet0_tx_packets']) {
    assert.equal(typeof d[key], 'number', key);
  }
  assert.ok(Object.values(d).every((v) => Number.isInteger(v)));
});

test('from 2.48 the diagnostics have the standard format, with one entry per CPU, NIC and disk', async () => {
  const { id } = await ownServer(cloud, { flavorRef: '2' });
  await setServer(cloud, id, { addresses: JSON.stringify({ private: [NIC, { ...NIC, version: 6, addr: 'fd00::5' }] }) });
  const res = await cloud.req('GET', diagnostics(id), { token: admin(), version: '2.48' });
  assert.equal(res.status, 200);
  const flavor = (await cloud.req('GET', '/compute/v2.1/flavors/2', { token: admin() })).body.flavor;
  const d = res.body;
  assert.deepEqual(Object.keys(d), [
    'state', 'driver', 'hypervisor', 'hypervisor_os', 'uptime', 'config_drive', 'num_cpus', 'num_nics', 'num_disks',
    'disk_details', 'cpu_details', 'nic_details', 'memory_details',
  ]);
  assert.equal(d.state, 'running');
  assert.equal(d.driver, 'libvirt');
  assert.equal(d.config_drive, false);
  assert.ok(Number.isInteger(d.uptime) && d.uptime >= 0);
  assert.equal(d.num_cpus, flavor.vcpus);
  assert.deepEqual(d.cpu_details.map((c: { id: number }) => c.id), [...Array(flavor.vcpus).keys()]);
  assert.deepEqual(Object.keys(d.cpu_details[0]), ['id', 'time', 'utilisation']);
  assert.equal(d.num_nics, 1, 'one NIC per MAC, whatever its addresses');
  assert.equal(d.nic_details[0].mac_address, 'fa:16:3e:00:00:01');
  assert.deepEqual(Object.keys(d.nic_details[0]), ['mac_address', 'rx_octets', 'rx_errors', 'rx_drop', 'rx_packets', 'rx_rate', 'tx_octets', 'tx_errors', 'tx_drop', 'tx_packets', 'tx_rate']);
  assert.equal(d.num_disks, d.disk_details.length);
  assert.deepEqual(Object.keys(d.disk_details[0]), ['read_bytes', 'read_requests', 'write_bytes', 'write_requests', 'errors_count']);
  assert.deepEqual(d.memory_details.maximum, flavor.ram);
  assert.ok(d.memory_details.used > 0 && d.memory_details.used <= flavor.ram);
});

test('the counters grow as the server runs', async () => {
  const { id } = await ownServer(cloud);
  const first = (await cloud.req('GET', diagnostics(id), { token: admin(), version: '2.48' })).body;
  cloud.clock.advance(600_000); // within the tokens' lifetime
  const later = (await cloud.req('GET', diagnostics(id), { token: admin(), version: '2.48' })).body;
  assert.ok(later.uptime >= first.uptime + 600);
  assert.ok(later.cpu_details[0].time > first.cpu_details[0].time);
  assert.ok(later.disk_details[0].read_bytes > first.disk_details[0].read_bytes);
});

test('a server that is not running is 409 naming its power state', async () => {
  const { id } = await ownServer(cloud);
  await setServer(cloud, id, { vm_state: 'stopped', power_state: 4 });
  for (const version of ['2.1', '2.48']) {
    const res = await cloud.req('GET', diagnostics(id), { token: admin(), version });
    assert.equal(res.status, 409, version);
    assert.equal(res.body.conflictingRequest.message, `Cannot 'get_diagnostics' instance ${id} while it is in power state shutdown`);
  }
});

test('a server without a host is 409 "is not ready"', async () => {
  const { id } = await ownServer(cloud);
  await setServer(cloud, id, { host: null });
  const res = await cloud.req('GET', diagnostics(id), { token: admin(), version: '2.48' });
  assert.equal(res.status, 409);
  assert.equal(res.body.conflictingRequest.message, `Instance ${id} is not ready`);
});

test('an unknown server is 404, for admins too', async () => {
  const res = await cloud.req('GET', diagnostics('00000000-0000-0000-0000-000000000000'), { token: admin() });
  assert.equal(res.status, 404);
});
