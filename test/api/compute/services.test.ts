import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { selectHost, type PlacementRequest } from '../../../src/scheduler/scheduler.js';
import { assertFault, clearServers, NOVA_TIME, placeServer } from './host-admin-fixtures.js';

let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
  await cloud.services.hosts.register();
});
after(async () => cloud.close());
beforeEach(async () => {
  await clearServers(cloud);
  await cloud.services.db.updateTable('hosts').set({ enabled: 1, disabled_reason: null, forced_down: 0 }).execute();
});

const get = (path: string, version?: string, token = cloud.adminToken) => cloud.req('GET', `/compute/v2.1${path}`, { token, version });
const put = (path: string, body: unknown, version?: string, token = cloud.adminToken) => cloud.req('PUT', `/compute/v2.1${path}`, { token, version, body });
const del = (path: string, version?: string, token = cloud.adminToken) => cloud.req('DELETE', `/compute/v2.1${path}`, { token, version });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function compute(host: string, version = '2.53') {
  return (await get(`/os-services?binary=nova-compute&host=${host}`, version)).body.services[0];
}

const placement = (): PlacementRequest => ({
  projectId: 'p', vcpus: 1, memoryMb: 1, diskGb: 0, availabilityZone: null, differentHosts: [], sameHosts: [],
  preferHosts: [], avoidHosts: [], forcedHost: null, excludeHosts: [],
});

test('the list shows the scheduler and conductor in the internal zone, then one nova-compute per host', async () => {
  const res = await get('/os-services');
  assert.equal(res.status, 200);
  const list = res.body.services;
  assert.deepEqual(list.map((s: { binary: string }) => s.binary), ['nova-scheduler', 'nova-conductor', 'nova-compute', 'nova-compute', 'nova-compute']);
  assert.deepEqual(list.slice(2).map((s: { host: string }) => s.host), ['fake-host-1', 'fake-host-2', 'fake-host-3']);
  for (const s of list) {
    assert.deepEqual(Object.keys(s).sort(), ['binary', 'disabled_reason', 'host', 'id', 'state', 'status', 'updated_at', 'zone']);
    assert.equal(typeof s.id, 'number');
    assert.equal(s.state, 'up');
    assert.equal(s.status, 'enabled');
    assert.match(s.updated_at, NOVA_TIME);
  }
  assert.equal(list[0].zone, 'internal');
  assert.equal(list[2].zone, 'nova');
  assert.equal(new Set(list.map((s: { id: number }) => s.id)).size, 5, 'ids are unique');
});

test('from 2.11 each service shows forced_down', async () => {
  const list = (await get('/os-services', '2.11')).body.services;
  assert.equal(list.every((s: { forced_down: boolean }) => s.forced_down === false), true);
});

test('from 2.53 service ids are UUIDs', async () => {
  const list = (await get('/os-services', '2.53')).body.services;
  for (const s of list) assert.match(s.id, UUID);
});

test('the list filters by host and binary; an unknown host gives an empty list', async () => {
  const byHost = (await get('/os-services?host=fake-host-2')).body.services;
  assert.deepEqual(byHost.map((s: { host: string; binary: string }) => [s.host, s.binary]), [['fake-host-2', 'nova-compute']]);
  const byBinary = (await get('/os-services?binary=nova-scheduler')).body.services;
  assert.deepEqual(byBinary.map((s: { binary: string }) => s.binary), ['nova-scheduler']);
  assert.deepEqual((await get('/os-services?host=nowhere')).body.services, []);
});

test('an unknown query parameter is ignored before 2.75 and 400 from 2.75', async () => {
  assert.equal((await get('/os-services?xxx=1')).status, 200);
  assertFault(await get('/os-services?xxx=1', '2.75'), 400, "Additional properties are not allowed ('xxx' was unexpected)");
});

test('PUT /os-services/disable disables a compute service, and the scheduler skips it', async () => {
  for (const host of ['fake-host-1', 'fake-host-3']) {
    const res = await put('/os-services/disable', { host, binary: 'nova-compute' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { service: { host, binary: 'nova-compute', status: 'disabled' } });
  }
  assert.equal((await compute('fake-host-1', '2.1')).status, 'disabled');
  const chosen = await cloud.services.db.transaction().execute((tx) => selectHost(tx, placement(), cloud.clock.nowMs()));
  assert.equal(chosen?.name, 'fake-host-2');
});

test('PUT /os-services/enable enables it again and clears the reason', async () => {
  await put('/os-services/disable-log-reason', { host: 'fake-host-1', binary: 'nova-compute', disabled_reason: 'disk swap' });
  const res = await put('/os-services/enable', { host: 'fake-host-1', binary: 'nova-compute' });
  assert.deepEqual(res.body, { service: { host: 'fake-host-1', binary: 'nova-compute', status: 'enabled' } });
  const s = await compute('fake-host-1');
  assert.equal(s.status, 'enabled');
  assert.equal(s.disabled_reason, null);
});

test('PUT /os-services/disable-log-reason records the reason; without one it is 400', async () => {
  const res = await put('/os-services/disable-log-reason', { host: 'fake-host-2', binary: 'nova-compute', disabled_reason: 'disk swap' });
  assert.deepEqual(res.body, { service: { host: 'fake-host-2', binary: 'nova-compute', status: 'disabled', disabled_reason: 'disk swap' } });
  assert.equal((await compute('fake-host-2')).disabled_reason, 'disk swap');
  assertFault(await put('/os-services/disable-log-reason', { host: 'fake-host-2', binary: 'nova-compute' }), 400, 'Missing disabled reason field');
});

test('PUT /os-services/force-down (2.11) marks a service down and back', async () => {
  const res = await put('/os-services/force-down', { host: 'fake-host-3', binary: 'nova-compute', forced_down: true }, '2.11');
  assert.deepEqual(res.body, { service: { host: 'fake-host-3', binary: 'nova-compute', forced_down: true } });
  let s = await compute('fake-host-3');
  assert.equal(s.state, 'down');
  assert.equal(s.forced_down, true);
  await put('/os-services/force-down', { host: 'fake-host-3', binary: 'nova-compute', forced_down: 'false' }, '2.11');
  s = await compute('fake-host-3');
  assert.equal(s.state, 'up');
  assertFault(await put('/os-services/force-down', { host: 'fake-host-3', binary: 'nova-compute' }, '2.11'), 400, 'Missing forced_down field');
});

test('force-down is an unknown action before 2.11', async () => {
  assertFault(await put('/os-services/force-down', { host: 'fake-host-3', binary: 'nova-compute' }, '2.10'), 404, 'Unknown action');
  assertFault(
    await put('/os-services/force-down', { host: 'fake-host-3', binary: 'nova-compute', forced_down: true }, '2.10'),
    400,
    /Additional properties are not allowed \('forced_down' was unexpected\)/,
  );
});

test('an unknown action is 404', async () => {
  assertFault(await put('/os-services/reboot', { host: 'fake-host-1', binary: 'nova-compute' }), 404, 'Unknown action');
});

test('a bad legacy body is 400 naming the field', async () => {
  assertFault(await put('/os-services/disable', { binary: 'nova-compute' }), 400, "'host' is a required property");
  assertFault(await put('/os-services/disable', { host: 'a b', binary: 'nova-compute' }), 400, /^Invalid input for field\/attribute host\. Value: a b\./);
  assertFault(await put('/os-services/disable', { host: 'fake-host-1', binary: '' }), 400, /^Invalid input for field\/attribute binary\./);
  assertFault(await put('/os-services/disable-log-reason', { host: 'fake-host-1', binary: 'nova-compute', disabled_reason: '' }), 400, /field\/attribute disabled_reason/);
});

test('only nova-compute services can be updated; an unknown host is 404', async () => {
  assertFault(
    await put('/os-services/disable', { host: 'fake-host-1', binary: 'nova-scheduler' }),
    400,
    'Updating a nova-scheduler service is not supported. Only nova-compute services can be updated.',
  );
  assertFault(await put('/os-services/disable', { host: 'nowhere', binary: 'nova-compute' }), 404, "Host 'nowhere' is not mapped to any cell");
});

test('PUT /os-services/{uuid} (2.53) disables with a reason and answers the whole service', async () => {
  const { id } = await compute('fake-host-1');
  const res = await put(`/os-services/${id}`, { status: 'disabled', disabled_reason: 'maintenance' }, '2.53');
  assert.equal(res.status, 200);
  const s = res.body.service;
  assert.deepEqual(Object.keys(s).sort(), ['binary', 'disabled_reason', 'forced_down', 'host', 'id', 'state', 'status', 'updated_at', 'zone']);
  assert.equal(s.id, id);
  assert.equal(s.status, 'disabled');
  assert.equal(s.disabled_reason, 'maintenance');
  assert.equal(s.forced_down, false);
  assert.equal(s.zone, 'nova');
  const enabled = await put(`/os-services/${id}`, { status: 'enabled' }, '2.53');
  assert.equal(enabled.body.service.status, 'enabled');
  assert.equal(enabled.body.service.disabled_reason, null);
});

test('PUT /os-services/{uuid} (2.53) forces a service down', async () => {
  const { id } = await compute('fake-host-2');
  const res = await put(`/os-services/${id}`, { forced_down: true }, '2.53');
  assert.equal(res.body.service.forced_down, true);
  assert.equal(res.body.service.state, 'down');
  await put(`/os-services/${id}`, { forced_down: false }, '2.53');
});

test('PUT /os-services/{uuid} (2.53) refuses a reason with enabled, an empty update, and a bad status', async () => {
  const { id } = await compute('fake-host-1');
  assertFault(await put(`/os-services/${id}`, { status: 'enabled', disabled_reason: 'x' }, '2.53'), 400, "Specifying 'disabled_reason' with status 'enabled' is invalid.");
  assertFault(await put(`/os-services/${id}`, {}, '2.53'), 400, "No updates were requested. Fields 'status' or 'forced_down' should be specified.");
  assertFault(await put(`/os-services/${id}`, { disabled_reason: 'only a reason' }, '2.53'), 400, /^No updates were requested/);
  assertFault(await put(`/os-services/${id}`, { status: 'off' }, '2.53'), 400, /^Invalid input for field\/attribute status\. Value: off\. 'off' is not one of \['enabled', 'disabled'\]$/);
  assertFault(await put(`/os-services/${id}`, { forced_down: 'perhaps' }, '2.53'), 400, /^Invalid input for field\/attribute forced_down\./);
});

test('PUT /os-services/{id} (2.53) needs a UUID of a compute service', async () => {
  assertFault(await put('/os-services/disable', { status: 'disabled' }, '2.53'), 400, 'Invalid uuid disable');
  const unknown = '00000000-0000-4000-8000-000000000000';
  assertFault(await put(`/os-services/${unknown}`, { status: 'disabled' }, '2.53'), 404, `Service ${unknown} could not be found.`);
  const scheduler = (await get('/os-services?binary=nova-scheduler', '2.53')).body.services[0];
  assertFault(await put(`/os-services/${scheduler.id}`, { status: 'disabled' }, '2.53'), 400, 'Updating a nova-scheduler service is not supported. Only nova-compute services can be updated.');
});

test('DELETE of a compute service that hosts servers is 409', async () => {
  await placeServer(cloud, 'fake-host-3');
  const { id } = await compute('fake-host-3', '2.1');
  assertFault(await del(`/os-services/${id}`), 409, 'Unable to delete compute service that is hosting instances. Migrate or delete the instances first.');
});

test('DELETE needs an integer id before 2.53 and a UUID from 2.53; an unknown one is 404', async () => {
  assertFault(await del('/os-services/abc'), 400, 'Invalid input received: id must be an integer');
  assertFault(await del('/os-services/99'), 404, 'Service 99 not found.');
  assertFault(await del('/os-services/3', '2.53'), 400, 'Invalid uuid 3');
  const unknown = '00000000-0000-4000-8000-000000000000';
  assertFault(await del(`/os-services/${unknown}`, '2.53'), 404, `Service ${unknown} not found.`);
});

test('the control plane services cannot be deleted', async () => {
  assertFault(await del('/os-services/1'), 400, /cannot be deleted/);
});

test('a member gets 403 on every services route', async () => {
  assertFault(await get('/os-services', undefined, cloud.demoToken), 403, "Policy doesn't allow os_compute_api:os-services:list to be performed.");
  assertFault(await put('/os-services/disable', { host: 'fake-host-1', binary: 'nova-compute' }, undefined, cloud.demoToken), 403, "Policy doesn't allow os_compute_api:os-services:update to be performed.");
  const { id } = await compute('fake-host-1');
  assertFault(await put(`/os-services/${id}`, { status: 'disabled' }, '2.53', cloud.demoToken), 403, "Policy doesn't allow os_compute_api:os-services:update to be performed.");
  assertFault(await del('/os-services/3', undefined, cloud.demoToken), 403, "Policy doesn't allow os_compute_api:os-services:delete to be performed.");
});

test('DELETE of an idle compute service answers 204, takes it out of its aggregates, and it is gone', async () => {
  const agg = (await cloud.req('POST', '/compute/v2.1/os-aggregates', { token: cloud.adminToken, body: { aggregate: { name: 'gone', availability_zone: 'az-gone' } } })).body.aggregate;
  await cloud.req('POST', `/compute/v2.1/os-aggregates/${agg.id}/action`, { token: cloud.adminToken, body: { add_host: { host: 'fake-host-2' } } });
  const { id } = await compute('fake-host-2');
  const res = await del(`/os-services/${id}`, '2.53');
  assert.equal(res.status, 204);
  assert.equal(res.text, '');
  assert.deepEqual((await get('/os-services?host=fake-host-2')).body.services, []);
  assert.equal((await get('/os-hypervisors')).body.hypervisors.length, 2);
  assert.deepEqual((await get(`/os-aggregates/${agg.id}`)).body.aggregate.hosts, []);
  // Its compute process registering again brings it back, as a restarted nova-compute does.
  await cloud.services.hosts.register();
  assert.equal((await get('/os-services?host=fake-host-2')).body.services.length, 1);
});
