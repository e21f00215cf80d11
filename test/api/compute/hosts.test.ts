import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { assertFault, clearServers, placeServer } from './host-admin-fixtures.js';

let cloud: TestCloud;
let control: string;
before(async () => {
  cloud = await startCloud();
  await cloud.services.hosts.register();
  control = (await get('/os-services?binary=nova-scheduler')).body.services[0].host;
});
after(async () => cloud.close());
beforeEach(async () => {
  await clearServers(cloud);
  await cloud.services.db.updateTable('hosts').set({ enabled: 1, disabled_reason: null, forced_down: 0 }).execute();
});

const get = (path: string, version?: string, token = cloud.adminToken) => cloud.req('GET', `/compute/v2.1${path}`, { token, version });
const put = (path: string, body: unknown, version?: string, token = cloud.adminToken) => cloud.req('PUT', `/compute/v2.1${path}`, { token, version, body });

test('the list shows each enabled service host with its topic and zone', async () => {
  const res = await get('/os-hosts');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.hosts, [
    { host_name: control, service: 'scheduler', zone: 'internal' },
    { host_name: control, service: 'conductor', zone: 'internal' },
    { host_name: 'fake-host-1', service: 'compute', zone: 'nova' },
    { host_name: 'fake-host-2', service: 'compute', zone: 'nova' },
    { host_name: 'fake-host-3', service: 'compute', zone: 'nova' },
  ]);
});

test('the list leaves out disabled services', async () => {
  await put('/os-services/disable', { host: 'fake-host-2', binary: 'nova-compute' });
  const names = (await get('/os-hosts')).body.hosts.map((h: { host_name: string }) => h.host_name);
  assert.equal(names.includes('fake-host-2'), false);
});

test('the list filters by zone', async () => {
  assert.deepEqual((await get('/os-hosts?zone=internal')).body.hosts.map((h: { service: string }) => h.service), ['scheduler', 'conductor']);
  assert.equal((await get('/os-hosts?zone=nova')).body.hosts.length, 3);
  assert.deepEqual((await get('/os-hosts?zone=elsewhere')).body.hosts, []);
});

test('show gives the total, the usage and the usage per project', async () => {
  await placeServer(cloud, 'fake-host-1', { vcpus: 2, memoryMb: 1024, diskGb: 10 });
  await placeServer(cloud, 'fake-host-1', { vcpus: 1, memoryMb: 512, diskGb: 5, projectId: 'other-project' });
  await placeServer(cloud, 'fake-host-1', { vcpus: 1, memoryMb: 512, diskGb: 5 });
  const res = await get('/os-hosts/fake-host-1');
  assert.equal(res.status, 200);
  const r = (project: string, cpu: number, memory_mb: number, disk_gb: number) => ({ resource: { host: 'fake-host-1', project, cpu, memory_mb, disk_gb } });
  assert.deepEqual(res.body.host, [
    r('(total)', 64, 262144, 4096),
    r('(used_now)', 4, 2048, 20),
    r('(used_max)', 4, 2048, 20),
    r(cloud.demoProjectId, 3, 1536, 15),
    r('other-project', 1, 512, 5),
  ]);
});

test('show of an unknown host or a control-plane host is 404', async () => {
  assertFault(await get('/os-hosts/nonexistent_hostname'), 404, "Host 'nonexistent_hostname' is not mapped to any cell");
  assertFault(await get(`/os-hosts/${control}`), 404, `Host '${control}' is not mapped to any cell`);
});

test('update answers what the fake driver answers for status and maintenance mode', async () => {
  const res = await put('/os-hosts/fake-host-1', { status: 'disable', maintenance_mode: 'Enable' });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { host: 'fake-host-1', status: 'disabled', maintenance_mode: 'on_maintenance' });
  assert.deepEqual((await put('/os-hosts/fake-host-1', { status: 'ENABLE' })).body, { host: 'fake-host-1', status: 'enabled' });
  assert.deepEqual((await put('/os-hosts/fake-host-1', { maintenance_mode: 'disable' })).body, { host: 'fake-host-1', maintenance_mode: 'off_maintenance' });
  // As with Nova's fake driver, the host itself is untouched.
  assert.equal((await get('/os-services?host=fake-host-1')).body.services[0].status, 'enabled');
});

test('update with an invalid status or maintenance mode, or with null ones, is 400', async () => {
  assertFault(await put('/os-hosts/fake-host-1', { status: 'invalid', maintenance_mode: 'enable' }), 400, /^Invalid input for field\/attribute status\. Value: invalid\./);
  assertFault(await put('/os-hosts/fake-host-1', { status: 'enable', maintenance_mode: 'invalid' }), 400, /^Invalid input for field\/attribute maintenance_mode\./);
  // What Tempest sends for "no parameters".
  assertFault(await put('/os-hosts/fake-host-1', { status: null, maintenance_mode: null }), 400, /^Invalid input for field\/attribute status\. Value: None\. None is not of type 'string'/);
  assertFault(await put('/os-hosts/fake-host-1', { colour: 'red' }), 400, /Additional properties are not allowed/);
});

test('update with an empty body answers just the host name, as Nova does', async () => {
  assert.deepEqual((await put('/os-hosts/fake-host-1', {})).body, { host: 'fake-host-1' });
});

test('update of an unknown host is 404', async () => {
  assertFault(await put('/os-hosts/nonexistent_hostname', { status: 'enable', maintenance_mode: 'enable' }), 404, "Host 'nonexistent_hostname' is not mapped to any cell");
});

test('reboot, shutdown and startup answer the power action', async () => {
  for (const action of ['reboot', 'shutdown', 'startup']) {
    const res = await get(`/os-hosts/fake-host-2/${action}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { host: 'fake-host-2', power_action: action });
    assertFault(await get(`/os-hosts/nonexistent_hostname/${action}`), 404, "Host 'nonexistent_hostname' is not mapped to any cell");
  }
});

test('os-hosts is gone from 2.43', async () => {
  for (const path of ['/os-hosts', '/os-hosts/fake-host-1', '/os-hosts/fake-host-1/reboot']) {
    assertFault(await get(path, '2.43'), 404, 'The resource could not be found.');
    assert.equal((await get(path, '2.42')).status, 200);
  }
  assertFault(await put('/os-hosts/fake-host-1', { status: 'enable' }, '2.43'), 404);
});

test('a member gets 403 on every os-hosts route', async () => {
  const t = cloud.demoToken;
  const denied = (action: string) => `Policy doesn't allow os_compute_api:os-hosts:${action} to be performed.`;
  assertFault(await get('/os-hosts', undefined, t), 403, denied('list'));
  assertFault(await get('/os-hosts/fake-host-1', undefined, t), 403, denied('show'));
  assertFault(await put('/os-hosts/fake-host-1', { status: 'enable' }, undefined, t), 403, denied('update'));
  assertFault(await get('/os-hosts/fake-host-1/reboot', undefined, t), 403, denied('reboot'));
  assertFault(await get('/os-hosts/fake-host-1/shutdown', undefined, t), 403, denied('shutdown'));
  assertFault(await get('/os-hosts/fake-host-1/startup', undefined, t), 403, denied('start'));
});
