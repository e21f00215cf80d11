import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { syncHostZones } from '../../../src/compute/aggregates.js';
import { assertFault, NOVA_TIME } from './host-admin-fixtures.js';

let cloud: TestCloud;
let control: string;
before(async () => {
  cloud = await startCloud();
  await cloud.services.hosts.register();
  control = (await req('GET', '/os-services?binary=nova-scheduler')).body.services[0].host;
});
after(async () => cloud.close());
beforeEach(async () => {
  await cloud.services.db.deleteFrom('aggregate_hosts').execute();
  await cloud.services.db.deleteFrom('aggregate_metadata').execute();
  await cloud.services.db.deleteFrom('aggregates').execute();
  await syncHostZones(cloud.services.db, () => 'nova');
  await cloud.services.db.updateTable('hosts').set({ enabled: 1, disabled_reason: null, forced_down: 0 }).execute();
  for (const h of ['fake-host-1', 'fake-host-2', 'fake-host-3']) await cloud.services.hosts.setDown(h, false);
});

const req = (method: string, path: string, body?: unknown, token = cloud.adminToken) => cloud.req(method, `/compute/v2.1${path}`, { token, body });

async function zoneWith(zone: string, ...hosts: string[]): Promise<void> {
  const agg = (await req('POST', '/os-aggregates', { aggregate: { name: `agg-${zone}`, availability_zone: zone } })).body.aggregate;
  for (const host of hosts) await req('POST', `/os-aggregates/${agg.id}/action`, { add_host: { host } });
}

test('a member lists the zones: the default zone is available, the internal zone hidden', async () => {
  const res = await req('GET', '/os-availability-zone', undefined, cloud.demoToken);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { availabilityZoneInfo: [{ zoneName: 'nova', zoneState: { available: true }, hosts: null }] });
});

test('a zone aggregate with hosts shows as its own zone', async () => {
  await zoneWith('az1', 'fake-host-1');
  const zones = (await req('GET', '/os-availability-zone')).body.availabilityZoneInfo;
  assert.deepEqual(zones.map((z: { zoneName: string }) => z.zoneName), ['az1', 'nova']);
});

test('a zone aggregate without hosts is no zone yet', async () => {
  await zoneWith('empty-zone');
  const zones = (await req('GET', '/os-availability-zone')).body.availabilityZoneInfo;
  assert.deepEqual(zones.map((z: { zoneName: string }) => z.zoneName), ['nova']);
});

test('a zone whose hosts are all disabled is listed as not available, after the available ones', async () => {
  await zoneWith('az-off', 'fake-host-3');
  await req('PUT', '/os-services/disable', { host: 'fake-host-3', binary: 'nova-compute' });
  const zones = (await req('GET', '/os-availability-zone')).body.availabilityZoneInfo;
  assert.deepEqual(zones, [
    { zoneName: 'nova', zoneState: { available: true }, hosts: null },
    { zoneName: 'az-off', zoneState: { available: false }, hosts: null },
  ]);
});

test('the detail lists each available zone’s hosts and their services, the internal zone included', async () => {
  await zoneWith('az1', 'fake-host-1');
  const res = await req('GET', '/os-availability-zone/detail');
  assert.equal(res.status, 200);
  const zones = res.body.availabilityZoneInfo;
  assert.deepEqual(zones.map((z: { zoneName: string }) => z.zoneName), ['az1', 'internal', 'nova']);
  const az1 = zones[0];
  assert.deepEqual(Object.keys(az1.hosts), ['fake-host-1']);
  const svc = az1.hosts['fake-host-1']['nova-compute'];
  assert.equal(svc.available, true);
  assert.equal(svc.active, true);
  assert.match(svc.updated_at, NOVA_TIME);
  assert.deepEqual(Object.keys(zones[1].hosts[control]).sort(), ['nova-conductor', 'nova-scheduler']);
  assert.deepEqual(Object.keys(zones[2].hosts).sort(), ['fake-host-2', 'fake-host-3']);
});

test('the detail shows a down host as not available and leaves out disabled ones', async () => {
  await cloud.services.hosts.setDown('fake-host-2', true);
  await req('PUT', '/os-services/disable', { host: 'fake-host-3', binary: 'nova-compute' });
  const nova = (await req('GET', '/os-availability-zone/detail')).body.availabilityZoneInfo.find((z: { zoneName: string }) => z.zoneName === 'nova');
  assert.deepEqual(Object.keys(nova.hosts).sort(), ['fake-host-1', 'fake-host-2']);
  assert.equal(nova.hosts['fake-host-2']['nova-compute'].available, false);
});

test('the detail shows a zone that is not available with null hosts', async () => {
  await zoneWith('az-off', 'fake-host-3');
  await req('PUT', '/os-services/disable', { host: 'fake-host-3', binary: 'nova-compute' });
  const off = (await req('GET', '/os-availability-zone/detail')).body.availabilityZoneInfo.find((z: { zoneName: string }) => z.zoneName === 'az-off');
  assert.deepEqual(off, { zoneName: 'az-off', zoneState: { available: false }, hosts: null });
});

test('a member gets 403 on the detail', async () => {
  assertFault(await req('GET', '/os-availability-zone/detail', undefined, cloud.demoToken), 403, "Policy doesn't allow os_compute_api:os-availability-zone:detail to be performed.");
});
