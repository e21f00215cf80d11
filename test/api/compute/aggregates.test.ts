import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { selectHost, type PlacementRequest } from '../../../src/scheduler/scheduler.js';
import { configuredZone, effectiveZone, syncHostZones } from '../../../src/compute/aggregates.js';
import { assertFault, clearServers, NOVA_TIME, placeServer } from './host-admin-fixtures.js';

let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
  await cloud.services.hosts.register();
});
after(async () => cloud.close());
beforeEach(async () => {
  await clearServers(cloud);
  // Each test starts with no aggregates, every host back in the default zone.
  await cloud.services.db.deleteFrom('aggregate_hosts').execute();
  await cloud.services.db.deleteFrom('aggregate_metadata').execute();
  await cloud.services.db.deleteFrom('aggregates').execute();
  await syncHostZones(cloud.services.db, () => 'nova');
});

const req = (method: string, path: string, body?: unknown, version?: string, token = cloud.adminToken) =>
  cloud.req(method, `/compute/v2.1${path}`, { token, version, body });
const create = (aggregate: Record<string, unknown>, version?: string) => req('POST', '/os-aggregates', { aggregate }, version);
const action = (id: number, body: unknown, version?: string) => req('POST', `/os-aggregates/${id}/action`, body, version);
const addHost = (id: number, host: string) => action(id, { add_host: { host } });
const zoneOf = async (host: string) => (await cloud.services.db.selectFrom('hosts').select('availability_zone').where('name', '=', host).executeTakeFirstOrThrow()).availability_zone;

async function newAggregate(name: string, zone?: string): Promise<number> {
  const res = await create(zone ? { name, availability_zone: zone } : { name });
  assert.equal(res.status, 200, res.text);
  return res.body.aggregate.id;
}

const placement = (zone: string | null): PlacementRequest => ({
  projectId: 'p', vcpus: 1, memoryMb: 1, diskGb: 0, availabilityZone: zone, differentHosts: [], sameHosts: [],
  preferHosts: [], avoidHosts: [], forcedHost: null, excludeHosts: [],
});

test('create answers 200 with the aggregate, without hosts and metadata', async () => {
  const res = await create({ name: 'rack-1' });
  assert.equal(res.status, 200);
  const a = res.body.aggregate;
  assert.deepEqual(Object.keys(a).sort(), ['availability_zone', 'created_at', 'deleted', 'deleted_at', 'id', 'name', 'updated_at']);
  assert.equal(typeof a.id, 'number');
  assert.equal(a.name, 'rack-1');
  assert.equal(a.availability_zone, null);
  assert.equal(a.deleted, false);
  assert.equal(a.deleted_at, null);
  assert.equal(a.updated_at, null);
  assert.match(a.created_at, NOVA_TIME);
});

test('from 2.41 aggregates carry a uuid', async () => {
  const a = (await create({ name: 'rack-uuid' }, '2.41')).body.aggregate;
  assert.match(a.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal((await req('GET', `/os-aggregates/${a.id}`, undefined, '2.41')).body.aggregate.uuid, a.uuid);
  assert.equal('uuid' in (await req('GET', `/os-aggregates/${a.id}`, undefined, '2.40')).body.aggregate, false);
});

test('an aggregate created with an availability zone has it in its metadata', async () => {
  const id = await newAggregate('zone-a', 'az-a');
  const a = (await req('GET', `/os-aggregates/${id}`)).body.aggregate;
  assert.equal(a.availability_zone, 'az-a');
  assert.deepEqual(a.metadata, { availability_zone: 'az-a' });
  assert.deepEqual(a.hosts, []);
});

test('a duplicate name is 409', async () => {
  await newAggregate('twin');
  assertFault(await create({ name: 'twin' }), 409, 'Aggregate twin already exists.');
});

test('ids are not reused after a delete', async () => {
  const first = await newAggregate('short-lived');
  await req('DELETE', `/os-aggregates/${first}`);
  assert.ok((await newAggregate('next')) > first);
});

test('bad create bodies are 400 naming the field', async () => {
  assertFault(await create({}), 400, "Invalid input for field/attribute aggregate. Value: {}. 'name' is a required property");
  assertFault(await req('POST', '/os-aggregates', { name: 'x' }), 400, /Additional properties are not allowed \('name' was unexpected\)|'aggregate' is a required property/);
  assertFault(await create({ name: '' }), 400, /^Invalid input for field\/attribute name\. Value: \. '' is too short$/);
  assertFault(await create({ name: 'x'.repeat(256) }), 400, /^Invalid input for field\/attribute name\./);
  assertFault(await create({ name: 5 }), 400, "Invalid input for field/attribute name. Value: 5. 5 is not of type 'string'");
  assertFault(await create({ name: ' padded' }), 400, "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.");
  assertFault(await create({ name: 'ok', availability_zone: 'a:b' }), 400, "An invalid 'name' value was provided. The name must be: printable characters except :.Can not start or end with whitespace.");
  assertFault(await create({ name: 'ok', colour: 'red' }), 400, /Additional properties are not allowed \('colour' was unexpected\)/);
});

test('the list shows every aggregate with hosts and metadata', async () => {
  const a = await newAggregate('list-a', 'az-list');
  await newAggregate('list-b');
  await addHost(a, 'fake-host-1');
  const res = await req('GET', '/os-aggregates');
  assert.equal(res.status, 200);
  assert.deepEqual(
    res.body.aggregates.map((x: { name: string; hosts: string[]; metadata: object }) => [x.name, x.hosts, x.metadata]),
    [['list-a', ['fake-host-1'], { availability_zone: 'az-list' }], ['list-b', [], {}]],
  );
});

test('show of a non-integer id is 400 and of an unknown one 404', async () => {
  assertFault(await req('GET', '/os-aggregates/abc'), 400, 'Invalid input received: id must be an integer');
  assertFault(await req('GET', '/os-aggregates/9999'), 404, 'Aggregate 9999 could not be found.');
});

test('an aggregate id beyond an integer column (2147483648) names no aggregate: 404 on every route', async () => {
  const missing = 'Aggregate 2147483648 could not be found.';
  assertFault(await req('GET', '/os-aggregates/2147483648'), 404, missing);
  assertFault(await req('PUT', '/os-aggregates/2147483648', { aggregate: { name: 'far' } }), 404, missing);
  assertFault(await req('POST', '/os-aggregates/2147483648/action', { set_metadata: { metadata: { k: 'v' } } }), 404, missing);
  assertFault(await req('DELETE', '/os-aggregates/2147483648'), 404, missing);
});

test('update renames the aggregate, stripping spaces, and sets updated_at', async () => {
  const id = await newAggregate('old-name');
  const res = await req('PUT', `/os-aggregates/${id}`, { aggregate: { name: '  new-name ' } });
  assert.equal(res.status, 200);
  assert.equal(res.body.aggregate.name, 'new-name');
  assert.match(res.body.aggregate.updated_at, NOVA_TIME);
  assert.deepEqual(res.body.aggregate.hosts, []);
});

test('update to a taken name is 409; an empty update is 400; an unknown aggregate 404', async () => {
  const id = await newAggregate('keeper');
  await newAggregate('taken');
  assertFault(await req('PUT', `/os-aggregates/${id}`, { aggregate: { name: 'taken' } }), 409, 'Aggregate taken already exists.');
  assertFault(await req('PUT', `/os-aggregates/${id}`, { aggregate: {} }), 400, 'Invalid input for field/attribute aggregate. Value: {}. {} is not valid under any of the given schemas');
  assertFault(await req('PUT', '/os-aggregates/9999', { aggregate: { name: 'z' } }), 404, 'Aggregate 9999 could not be found.');
});

test('an availability zone cannot be emptied', async () => {
  const id = await newAggregate('zoned', 'az-z');
  assertFault(await req('PUT', `/os-aggregates/${id}`, { aggregate: { availability_zone: null } }), 400, `Cannot update aggregate ${id}. Reason: Aggregate zoned does not support empty named availability zone.`);
  assertFault(
    await action(id, { set_metadata: { metadata: { availability_zone: null } } }),
    400,
    `Cannot update metadata of aggregate ${id}. Reason: Aggregate zoned does not support empty named availability zone.`,
  );
});

test('delete answers 200 with no body; a deleted aggregate is 404', async () => {
  const id = await newAggregate('doomed');
  const res = await req('DELETE', `/os-aggregates/${id}`);
  assert.equal(res.status, 200);
  assert.equal(res.text, '');
  assertFault(await req('GET', `/os-aggregates/${id}`), 404);
  assertFault(await req('DELETE', `/os-aggregates/${id}`), 404, `Aggregate ${id} could not be found.`);
  assertFault(await req('DELETE', '/os-aggregates/x'), 400, 'Invalid input received: id must be an integer');
});

test('an aggregate with hosts cannot be deleted', async () => {
  const id = await newAggregate('busy');
  await addHost(id, 'fake-host-1');
  assertFault(await req('DELETE', `/os-aggregates/${id}`), 400, `Cannot remove host from aggregate ${id}. Reason: Host aggregate is not empty.`);
});

test('add_host puts the host in the aggregate and in its availability zone', async () => {
  const id = await newAggregate('az1-agg', 'az1');
  const res = await addHost(id, 'fake-host-2');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.aggregate.hosts, ['fake-host-2']);
  assert.equal(await zoneOf('fake-host-2'), 'az1');
  assert.equal(await effectiveZone(cloud.services.db, 'fake-host-2'), 'az1');
  assert.equal(await effectiveZone(cloud.services.db, 'fake-host-1'), 'nova');
  const services = (await req('GET', '/os-services?host=fake-host-2')).body.services;
  assert.equal(services[0].zone, 'az1');
});

test('the scheduler places a server asking for a zone only on that zone’s hosts', async () => {
  const id = await newAggregate('az-sched', 'az-sched');
  await addHost(id, 'fake-host-3');
  const pick = (zone: string | null) => cloud.services.db.transaction().execute((tx) => selectHost(tx, placement(zone), cloud.clock.nowMs()));
  assert.equal((await pick('az-sched'))?.name, 'fake-host-3');
  assert.notEqual((await pick('nova'))?.name, 'fake-host-3');
});

test('add_host of an unknown host is 404 and of a member 409', async () => {
  const id = await newAggregate('adds');
  assertFault(await addHost(id, 'nowhere'), 404, 'Compute host nowhere could not be found.');
  await addHost(id, 'fake-host-1');
  assertFault(await addHost(id, 'fake-host-1'), 409, `Aggregate ${id} already has host fake-host-1.`);
  assertFault(await addHost(9999, 'fake-host-1'), 404, 'Aggregate 9999 could not be found.');
});

test('a host already in another availability zone cannot join a zone aggregate (409)', async () => {
  const one = await newAggregate('zone-one', 'az1');
  const two = await newAggregate('zone-two', 'az2');
  const same = await newAggregate('zone-one-too', 'az1');
  const plain = await newAggregate('no-zone');
  await addHost(one, 'fake-host-1');
  assertFault(await addHost(two, 'fake-host-1'), 409, `Cannot add host to aggregate ${two}. Reason: One or more hosts already in availability zone(s) ['az1'].`);
  assert.equal((await addHost(same, 'fake-host-1')).status, 200, 'the same zone twice is fine');
  assert.equal((await addHost(plain, 'fake-host-1')).status, 200, 'an aggregate without a zone is fine');
  assert.equal(await zoneOf('fake-host-1'), 'az1');
});

test('remove_host takes the host out and back to the default zone', async () => {
  const id = await newAggregate('leaving', 'az-leave');
  await addHost(id, 'fake-host-1');
  const res = await action(id, { remove_host: { host: 'fake-host-1' } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.aggregate.hosts, []);
  assert.equal(await zoneOf('fake-host-1'), 'nova');
});

test('remove_host of a host that is not a member, or unknown, is 404', async () => {
  const id = await newAggregate('stay');
  assertFault(await action(id, { remove_host: { host: 'fake-host-1' } }), 404, `Cannot remove host fake-host-1 in aggregate ${id}`);
  assertFault(await action(id, { remove_host: { host: 'nowhere' } }), 404, `Cannot remove host nowhere in aggregate ${id}`);
  assertFault(await action(9999, { remove_host: { host: 'fake-host-1' } }), 404, 'Cannot remove host fake-host-1 in aggregate 9999');
});

test('set_metadata merges keys and removes those set to null', async () => {
  const id = await newAggregate('meta');
  await action(id, { set_metadata: { metadata: { ssd: 'true', gpu: 'none' } } });
  const res = await action(id, { set_metadata: { metadata: { gpu: null, rack: 'r1' } } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.aggregate.metadata, { rack: 'r1', ssd: 'true' });
  assert.match(res.body.aggregate.updated_at, NOVA_TIME);
});

test('set_metadata with an availability zone moves the hosts and the servers on them', async () => {
  const id = await newAggregate('move');
  await addHost(id, 'fake-host-2');
  const res = await action(id, { set_metadata: { metadata: { availability_zone: 'az-moved' } } });
  assert.equal(res.body.aggregate.availability_zone, 'az-moved');
  assert.equal(await zoneOf('fake-host-2'), 'az-moved');
});

test('renaming a zone under running servers is 400; moving servers’ shown zone needs an empty host', async () => {
  const id = await newAggregate('occupied', 'az-old');
  await addHost(id, 'fake-host-3');
  await placeServer(cloud, 'fake-host-3');
  assertFault(await req('PUT', `/os-aggregates/${id}`, { aggregate: { availability_zone: 'az-new' } }), 400, `Cannot update aggregate ${id}. Reason: One or more hosts contain instances in this zone.`);
  assertFault(await action(id, { set_metadata: { metadata: { availability_zone: 'az-new' } } }), 400, `Cannot update metadata of aggregate ${id}. Reason: One or more hosts contain instances in this zone.`);
  assert.equal((await req('PUT', `/os-aggregates/${id}`, { aggregate: { availability_zone: 'az-old' } })).status, 200, 'the same zone is no change');
});

test('adding a host with servers to a zone aggregate moves the zone its servers show', async () => {
  const sid = await placeServer(cloud, 'fake-host-1');
  const id = await newAggregate('adopt', 'az-adopt');
  await addHost(id, 'fake-host-1');
  const row = await cloud.services.db.selectFrom('servers').select('availability_zone').where('id', '=', sid).executeTakeFirstOrThrow();
  assert.equal(row.availability_zone, 'az-adopt');
});

test('update with a conflicting zone for one of its hosts is 400', async () => {
  const one = await newAggregate('c-one', 'az1');
  const two = await newAggregate('c-two');
  await addHost(one, 'fake-host-1');
  await addHost(two, 'fake-host-1');
  assertFault(await req('PUT', `/os-aggregates/${two}`, { aggregate: { availability_zone: 'az2' } }), 400, `Cannot update aggregate ${two}. Reason: One or more hosts already in availability zone(s) ['az1'].`);
});

test('bad action bodies are 400', async () => {
  const id = await newAggregate('actions');
  assertFault(await action(id, { reboot: {} }), 400, 'There is no such action: reboot');
  assertFault(await action(id, { add_host: { host: 'fake-host-1' }, remove_host: { host: 'fake-host-1' } }), 400, 'Malformed request body');
  assertFault(await action(id, { add_host: {} }), 400, "Invalid input for field/attribute add_host. Value: {}. 'host' is a required property");
  assertFault(await action(id, { add_host: { host: 'bad host' } }), 400, /^Invalid input for field\/attribute host\. Value: bad host\./);
  assertFault(await action(id, { set_metadata: { metadata: { 'bad/key': 'v' } } }), 400, /^Invalid input for field\/attribute metadata\..*Additional properties are not allowed/);
  assertFault(await action(id, { set_metadata: { metadata: { k: 'v'.repeat(256) } } }), 400, /^Invalid input for field\/attribute k\./);
  assertFault(await action(id, { set_metadata: {} }), 400, "Invalid input for field/attribute set_metadata. Value: {}. 'metadata' is a required property");
  assertFault(await req('POST', '/os-aggregates/x/action', { add_host: { host: 'fake-host-1' } }), 400, 'Invalid input received: id must be an integer');
});

test('image caching (2.81) is accepted with 202; duplicates are 400, unknown aggregates 404', async () => {
  const id = await newAggregate('cache');
  const image = '5a1b2c3d-0000-4000-8000-000000000001';
  const ok = await req('POST', `/os-aggregates/${id}/images`, { cache: [{ id: image }] }, '2.81');
  assert.equal(ok.status, 202);
  assert.equal(ok.text, '');
  assertFault(await req('POST', `/os-aggregates/${id}/images`, { cache: [{ id: image }, { id: image }] }, '2.81'), 400, 'Duplicate images in request');
  assertFault(await req('POST', `/os-aggregates/${id}/images`, { cache: [] }, '2.81'), 400, /^Invalid input for field\/attribute cache\./);
  assertFault(await req('POST', '/os-aggregates/9999/images', { cache: [{ id: image }] }, '2.81'), 404, 'Aggregate 9999 could not be found.');
  assertFault(await req('POST', `/os-aggregates/${id}/images`, { cache: [{ id: image }] }, '2.80'), 404);
});

test('a member gets 403 on every aggregate route', async () => {
  const id = await newAggregate('private');
  const t = cloud.demoToken;
  const denied = (a: string) => `Policy doesn't allow os_compute_api:os-aggregates:${a} to be performed.`;
  assertFault(await req('GET', '/os-aggregates', undefined, undefined, t), 403, denied('index'));
  assertFault(await req('POST', '/os-aggregates', { aggregate: { name: 'm' } }, undefined, t), 403, denied('create'));
  assertFault(await req('GET', `/os-aggregates/${id}`, undefined, undefined, t), 403, denied('show'));
  assertFault(await req('PUT', `/os-aggregates/${id}`, { aggregate: { name: 'm' } }, undefined, t), 403, denied('update'));
  assertFault(await req('DELETE', `/os-aggregates/${id}`, undefined, undefined, t), 403, denied('delete'));
  assertFault(await req('POST', `/os-aggregates/${id}/action`, { add_host: { host: 'fake-host-1' } }, undefined, t), 403, denied('add_host'));
  assertFault(await req('POST', `/os-aggregates/${id}/action`, { remove_host: { host: 'fake-host-1' } }, undefined, t), 403, denied('remove_host'));
  assertFault(await req('POST', `/os-aggregates/${id}/action`, { set_metadata: { metadata: {} } }, undefined, t), 403, denied('set_metadata'));
  assertFault(
    await req('POST', `/os-aggregates/${id}/images`, { cache: [{ id: '5a1b2c3d-0000-4000-8000-000000000001' }] }, '2.81', t),
    403,
    "Policy doesn't allow compute:aggregates:images to be performed.",
  );
});

test('re-registering hosts and syncing zones keeps a host in its aggregate’s zone', async () => {
  const id = await newAggregate('survivor', 'az-keep');
  await addHost(id, 'fake-host-1');
  await cloud.services.hosts.register(); // writes the configured zone back, as on a restart
  assert.equal(await zoneOf('fake-host-1'), 'nova');
  await syncHostZones(cloud.services.db, configuredZone(cloud.services.driver));
  assert.equal(await zoneOf('fake-host-1'), 'az-keep');
});

test('a host the driver configured in a zone goes back to it when it leaves a zone aggregate', async () => {
  const zoned = await startCloud({ fake: { zones: ['az-a', 'az-b'] } });
  try {
    await zoned.services.hosts.register();
    const call = (method: string, path: string, body?: unknown) => zoned.req(method, `/compute/v2.1${path}`, { token: zoned.adminToken, body });
    const agg = (await call('POST', '/os-aggregates', { aggregate: { name: 'rack', availability_zone: 'az-rack' } })).body.aggregate;
    await call('POST', `/os-aggregates/${agg.id}/action`, { add_host: { host: 'fake-host-2' } });
    assert.equal(await effectiveZone(zoned.services.db, 'fake-host-2'), 'az-rack');
    await call('POST', `/os-aggregates/${agg.id}/action`, { remove_host: { host: 'fake-host-2' } });
    const zones = (await call('GET', '/os-services?binary=nova-compute')).body.services.map((s: { zone: string }) => s.zone);
    assert.deepEqual(zones, ['az-a', 'az-b', 'az-a']);
  } finally {
    await zoned.close();
  }
});
