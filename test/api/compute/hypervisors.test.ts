import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { assertFault, clearServers, placeServer } from './host-admin-fixtures.js';

let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
  await cloud.services.hosts.register();
});
after(async () => cloud.close());
beforeEach(async () => {
  await clearServers(cloud);
  await cloud.services.db.updateTable('hosts').set({ enabled: 1, disabled_reason: null, forced_down: 0 }).execute();
  for (const h of ['fake-host-1', 'fake-host-2', 'fake-host-3']) await cloud.services.hosts.setDown(h, false);
});

const get = (path: string, version?: string, token = cloud.adminToken) => cloud.req('GET', `/compute/v2.1${path}`, { token, version });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// Tempest's v2.1 hypervisor_detail keys (lib/api_schema/response/compute/v2_1/hypervisors.py).
const DETAIL_KEYS_21 = [
  'cpu_info', 'current_workload', 'disk_available_least', 'free_disk_gb', 'free_ram_mb', 'host_ip', 'hypervisor_hostname',
  'hypervisor_type', 'hypervisor_version', 'id', 'local_gb', 'local_gb_used', 'memory_mb', 'memory_mb_used', 'running_vms',
  'service', 'state', 'status', 'vcpus', 'vcpus_used',
].sort();

test('the list shows every host with an integer id, its name, state and status', async () => {
  const res = await get('/os-hypervisors');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, {
    hypervisors: [1, 2, 3].map((n) => ({ id: n, hypervisor_hostname: `fake-host-${n}`, state: 'up', status: 'enabled' })),
  });
});

test('the detail has exactly the 2.1 fields, with cpu_info as a JSON string and the service by integer id', async () => {
  const res = await get('/os-hypervisors/detail');
  assert.equal(res.status, 200);
  const [h] = res.body.hypervisors;
  assert.deepEqual(Object.keys(h).sort(), DETAIL_KEYS_21);
  assert.equal(typeof h.cpu_info, 'string');
  assert.equal(JSON.parse(h.cpu_info).arch, 'x86_64');
  assert.equal(h.hypervisor_type, 'fake');
  assert.equal(h.hypervisor_version, 1000);
  assert.equal(h.host_ip, '127.0.0.2');
  assert.deepEqual(Object.keys(h.service).sort(), ['disabled_reason', 'host', 'id']);
  assert.equal(typeof h.service.id, 'number');
  assert.equal(h.service.host, 'fake-host-1');
  assert.equal(h.vcpus, 64);
  assert.equal(h.memory_mb, 262144);
  assert.equal(h.local_gb, 4096);
});

test('from 2.28 cpu_info is an object', async () => {
  const res = await get('/os-hypervisors/detail', '2.28');
  assert.equal(res.body.hypervisors[0].cpu_info.arch, 'x86_64');
  assert.equal(res.body.hypervisors[0].cpu_info.topology.sockets, 64);
});

test('used resources are summed from the live servers on the host; deleted and shelved-offloaded ones hold nothing', async () => {
  await placeServer(cloud, 'fake-host-1', { vcpus: 2, memoryMb: 1024, diskGb: 10 });
  await placeServer(cloud, 'fake-host-1', { vcpus: 4, memoryMb: 2048, diskGb: 20, taskState: 'rebooting' });
  await placeServer(cloud, 'fake-host-1', { vcpus: 8, memoryMb: 4096, diskGb: 40, deleted: true });
  await placeServer(cloud, 'fake-host-1', { vcpus: 8, memoryMb: 4096, diskGb: 40, vmState: 'shelved_offloaded' });
  const h = (await get('/os-hypervisors/1')).body.hypervisor;
  assert.equal(h.vcpus_used, 6);
  assert.equal(h.memory_mb_used, 3072);
  assert.equal(h.local_gb_used, 30);
  assert.equal(h.free_ram_mb, 262144 - 3072);
  assert.equal(h.free_disk_gb, 4096 - 30);
  assert.equal(h.running_vms, 2);
  assert.equal(h.current_workload, 1, 'one server has a task in progress');
  const other = (await get('/os-hypervisors/2')).body.hypervisor;
  assert.equal(other.vcpus_used, 0);
  assert.equal(other.running_vms, 0);
});

test('from 2.53 hypervisor and service ids are UUIDs', async () => {
  const res = await get('/os-hypervisors/detail', '2.53');
  const h = res.body.hypervisors[0];
  assert.match(h.id, UUID);
  assert.match(h.service.id, UUID);
  const services = (await get('/os-services?binary=nova-compute&host=fake-host-1', '2.53')).body.services;
  assert.equal(services[0].id, h.service.id, 'the hypervisor names the service /os-services shows');
});

test('before 2.53 the hypervisor service id is the id /os-services shows', async () => {
  const h = (await get('/os-hypervisors/1')).body.hypervisor;
  const services = (await get('/os-services?binary=nova-compute&host=fake-host-1')).body.services;
  assert.equal(services[0].id, h.service.id);
});

test('2.88 drops the resource fields and cpu_info and adds uptime', async () => {
  const res = await get('/os-hypervisors/detail', '2.88');
  const h = res.body.hypervisors[0];
  assert.deepEqual(
    Object.keys(h).sort(),
    ['host_ip', 'hypervisor_hostname', 'hypervisor_type', 'hypervisor_version', 'id', 'service', 'state', 'status', 'uptime'],
  );
  assert.match(h.uptime, / up .*load average/);
});

test('from 2.88 a down host shows a null uptime', async () => {
  await cloud.services.hosts.setDown('fake-host-3', true);
  const hs = (await get('/os-hypervisors/detail', '2.88')).body.hypervisors;
  assert.equal(hs[2].state, 'down');
  assert.equal(hs[2].uptime, null);
});

test('a down host and a disabled host show in state and status', async () => {
  await cloud.services.hosts.setDown('fake-host-2', true);
  await cloud.services.db.updateTable('hosts').set({ enabled: 0, disabled_reason: 'maintenance' }).where('name', '=', 'fake-host-3').execute();
  const hs = (await get('/os-hypervisors/detail')).body.hypervisors;
  assert.equal(hs[1].state, 'down');
  assert.equal(hs[2].status, 'disabled');
  assert.equal(hs[2].service.disabled_reason, 'maintenance');
});

test('show before 2.53 takes an integer id; anything else or an unknown id is 404', async () => {
  assert.equal((await get('/os-hypervisors/2')).body.hypervisor.hypervisor_hostname, 'fake-host-2');
  assertFault(await get('/os-hypervisors/abc'), 404, "Hypervisor with ID 'abc' could not be found.");
  assertFault(await get('/os-hypervisors/99'), 404, "Hypervisor with ID '99' could not be found.");
});

test('show from 2.53 takes a UUID; anything else is 400 and an unknown UUID 404', async () => {
  const id = (await get('/os-hypervisors', '2.53')).body.hypervisors[0].id;
  assert.equal((await get(`/os-hypervisors/${id}`, '2.53')).body.hypervisor.hypervisor_hostname, 'fake-host-1');
  assertFault(await get('/os-hypervisors/1', '2.53'), 400, 'Invalid uuid 1');
  const unknown = '00000000-0000-4000-8000-000000000000';
  assertFault(await get(`/os-hypervisors/${unknown}`, '2.53'), 404, `Hypervisor with ID '${unknown}' could not be found.`);
});

test('show with_servers (2.53) lists the servers on the host by instance name and uuid', async () => {
  const sid = await placeServer(cloud, 'fake-host-1');
  await placeServer(cloud, 'fake-host-2');
  const id = (await get('/os-hypervisors', '2.53')).body.hypervisors[0].id;
  const h = (await get(`/os-hypervisors/${id}?with_servers=true`, '2.53')).body.hypervisor;
  assert.deepEqual(h.servers, [{ name: `instance-${sid.slice(0, 8)}`, uuid: sid }]);
  assert.equal((await get(`/os-hypervisors/${id}`, '2.53')).body.hypervisor.servers, undefined);
});

test('with_servers on a host without servers omits the key before 2.75 and gives [] from 2.75', async () => {
  const at253 = (await get('/os-hypervisors?with_servers=1', '2.53')).body.hypervisors[0];
  assert.equal('servers' in at253, false);
  const at275 = (await get('/os-hypervisors?with_servers=1', '2.75')).body.hypervisors[0];
  assert.deepEqual(at275.servers, []);
});

test('list with_servers (2.53) includes the servers of each host', async () => {
  const sid = await placeServer(cloud, 'fake-host-2');
  const hs = (await get('/os-hypervisors/detail?with_servers=true', '2.53')).body.hypervisors;
  assert.equal(hs[0].servers, undefined);
  assert.deepEqual(hs[1].servers, [{ name: `instance-${sid.slice(0, 8)}`, uuid: sid }]);
});

test('a bad with_servers value is 400 naming the query parameter', async () => {
  assertFault(await get('/os-hypervisors?with_servers=maybe', '2.53'), 400, /^Invalid input for query parameters with_servers\. Value: maybe\. 'maybe' is not one of /);
  assertFault(await get('/os-hypervisors/detail?with_servers=a&with_servers=b', '2.53'), 400, /^Invalid input for query parameters with_servers\./);
});

test('from 2.53 an unknown query parameter is 400', async () => {
  assertFault(await get('/os-hypervisors?foo=1', '2.53'), 400, "Additional properties are not allowed ('foo' was unexpected)");
});

test('hypervisor_hostname_pattern (2.53) filters by a substring of the name; no match is 404', async () => {
  const hs = (await get('/os-hypervisors?hypervisor_hostname_pattern=host-2', '2.53')).body.hypervisors;
  assert.deepEqual(hs.map((h: { hypervisor_hostname: string }) => h.hypervisor_hostname), ['fake-host-2']);
  assert.equal((await get('/os-hypervisors/detail?hypervisor_hostname_pattern=fake', '2.53')).body.hypervisors.length, 3);
  assertFault(await get('/os-hypervisors?hypervisor_hostname_pattern=nothere', '2.53'), 404, "No hypervisor matching 'nothere' could be found.");
  assertFault(await get('/os-hypervisors?hypervisor_hostname_pattern=a%20b', '2.53'), 400, /^Invalid input for query parameters hypervisor_hostname_pattern\./);
});

test('hypervisor_hostname_pattern cannot be combined with paging', async () => {
  assertFault(
    await get('/os-hypervisors?hypervisor_hostname_pattern=fake&limit=1', '2.53'),
    400,
    'Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not supported.',
  );
});

test('from 2.33 the list pages with limit and marker and links the next page', async () => {
  const first = await get('/os-hypervisors?limit=2', '2.33');
  assert.deepEqual(first.body.hypervisors.map((h: { id: number }) => h.id), [1, 2]);
  assert.deepEqual(first.body.hypervisors_links, [{ rel: 'next', href: `${cloud.url}/compute/v2.1/os-hypervisors?limit=2&marker=2` }]);
  const next = await get('/os-hypervisors?limit=2&marker=2', '2.33');
  assert.deepEqual(next.body.hypervisors.map((h: { id: number }) => h.id), [3]);
  assert.equal(next.body.hypervisors_links, undefined);
  const detail = await get('/os-hypervisors/detail?limit=1', '2.33');
  assert.equal(detail.body.hypervisors_links[0].href, `${cloud.url}/compute/v2.1/os-hypervisors/detail?limit=1&marker=1`);
});

test('from 2.53 the marker is a hypervisor UUID', async () => {
  const ids = (await get('/os-hypervisors', '2.53')).body.hypervisors.map((h: { id: string }) => h.id);
  const page = await get(`/os-hypervisors?limit=1&marker=${ids[0]}`, '2.53');
  assert.deepEqual(page.body.hypervisors.map((h: { id: string }) => h.id), [ids[1]]);
  assert.equal(page.body.hypervisors_links[0].href, `${cloud.url}/compute/v2.1/os-hypervisors?limit=1&marker=${ids[1]}`);
});

test('an unknown marker and a negative limit are 400', async () => {
  assertFault(await get('/os-hypervisors?marker=42', '2.33'), 400, 'marker [42] not found');
  assertFault(await get('/os-hypervisors?limit=-1', '2.33'), 400, /^Invalid input for query parameters limit\. Value: -1\./);
});

test('before 2.33 limit and marker are ignored', async () => {
  const res = await get('/os-hypervisors?limit=1&marker=nothing');
  assert.equal(res.status, 200);
  assert.equal(res.body.hypervisors.length, 3);
  assert.equal(res.body.hypervisors_links, undefined);
});

test('statistics sum over the enabled hosts', async () => {
  await placeServer(cloud, 'fake-host-1', { vcpus: 2, memoryMb: 1024, diskGb: 10 });
  await cloud.services.db.updateTable('hosts').set({ enabled: 0 }).where('name', '=', 'fake-host-3').execute();
  const res = await get('/os-hypervisors/statistics');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, {
    hypervisor_statistics: {
      count: 2,
      vcpus: 128,
      memory_mb: 524288,
      local_gb: 8192,
      vcpus_used: 2,
      memory_mb_used: 1024,
      local_gb_used: 10,
      free_ram_mb: 524288 - 1024,
      free_disk_gb: 8192 - 10,
      current_workload: 0,
      running_vms: 1,
      disk_available_least: 8192 - 10,
    },
  });
});

test('statistics and uptime are gone from 2.88', async () => {
  assertFault(await get('/os-hypervisors/statistics', '2.88'), 404);
  assertFault(await get('/os-hypervisors/1/uptime', '2.88'), 404);
  assert.equal((await get('/os-hypervisors/statistics', '2.87')).status, 200);
});

test('uptime answers what `uptime` prints on the host', async () => {
  const res = await get('/os-hypervisors/1/uptime');
  assert.equal(res.status, 200);
  assert.deepEqual(Object.keys(res.body.hypervisor).sort(), ['hypervisor_hostname', 'id', 'state', 'status', 'uptime']);
  assert.match(res.body.hypervisor.uptime, /^ \d\d:\d\d:\d\d up \d+ min, {2}0 users, {2}load average: 0\.00, 0\.00, 0\.00$/);
  // The simulated host has been up since it was registered.
  const since = new Date(cloud.clock.nowMs() - (2 * 86400 + 3 * 3600 + 4 * 60) * 1000).toISOString();
  await cloud.services.db.updateTable('hosts').set({ created_at: since }).where('name', '=', 'fake-host-1').execute();
  assert.match((await get('/os-hypervisors/1/uptime')).body.hypervisor.uptime, / up 2 days, {2}3:0\d, {2}0 users/);
});

test('uptime of a down host is 400; of an unknown one 404', async () => {
  await cloud.services.hosts.setDown('fake-host-2', true);
  assertFault(await get('/os-hypervisors/2/uptime'), 400, 'Compute service of fake-host-2 is unavailable at this time.');
  assertFault(await get('/os-hypervisors/9/uptime'), 404, "Hypervisor with ID '9' could not be found.");
});

test('search (up to 2.52) finds hypervisors by a substring of the name', async () => {
  const res = await get('/os-hypervisors/host-1/search');
  assert.deepEqual(res.body, { hypervisors: [{ id: 1, hypervisor_hostname: 'fake-host-1', state: 'up', status: 'enabled' }] });
  assertFault(await get('/os-hypervisors/nothere/search'), 404, "No hypervisor matching 'nothere' could be found.");
});

test('servers (up to 2.52) lists the servers of matching hypervisors', async () => {
  const sid = await placeServer(cloud, 'fake-host-2');
  const res = await get('/os-hypervisors/fake/servers', '2.52');
  assert.equal(res.body.hypervisors.length, 3);
  assert.equal('servers' in res.body.hypervisors[0], false, 'a hypervisor without servers has no servers key');
  assert.deepEqual(res.body.hypervisors[1].servers, [{ name: `instance-${sid.slice(0, 8)}`, uuid: sid }]);
  assertFault(await get('/os-hypervisors/nothere/servers'), 404, "No hypervisor matching 'nothere' could be found.");
});

test('search and servers are gone from 2.53', async () => {
  assertFault(await get('/os-hypervisors/fake/search', '2.53'), 404);
  assertFault(await get('/os-hypervisors/fake/servers', '2.53'), 404);
});

test('a member gets 403 on every hypervisor route', async () => {
  for (const path of ['', '/detail', '/statistics', '/1', '/1/uptime', '/fake/search', '/fake/servers']) {
    assertFault(await get(`/os-hypervisors${path}`, undefined, cloud.demoToken), 403, `Policy doesn't allow os_compute_api:os-hypervisors:${
      { '': 'list', '/detail': 'list-detail', '/statistics': 'statistics', '/1': 'show', '/1/uptime': 'uptime', '/fake/search': 'search', '/fake/servers': 'servers' }[path]
    } to be performed.`);
  }
});
