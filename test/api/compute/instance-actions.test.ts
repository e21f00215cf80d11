import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startCloud, type TestCloud } from '../../support.js';
import { colleague, ownServer, tenant } from './server-fixtures.js';

let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
  await cloud.services.directory.createRole('observer');
});
after(async () => cloud.close());

const actions = (id: string, suffix = '') => `/compute/v2.1/servers/${id}/os-instance-actions${suffix}`;
const NAIVE_MICROS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/;
const ACTION_KEYS = ['action', 'instance_uuid', 'request_id', 'user_id', 'project_id', 'start_time', 'message'];

/** Records an action with one event directly, as an action's task would. */
async function record(serverId: string, projectId: string, action: string, at: Date, event: { result?: string; traceback?: string; details?: string; host?: string | null } = {}) {
  const { db } = cloud.services;
  const id = randomUUID();
  const requestId = `req-${randomUUID()}`;
  const t = at.toISOString();
  await db
    .insertInto('instance_actions')
    .values({ id, server_id: serverId, action, request_id: requestId, project_id: projectId, user_id: 'u', message: event.result === 'Error' ? 'Error' : null, start_time: t, finish_time: t, updated_at: t })
    .execute();
  await db
    .insertInto('instance_action_events')
    .values({ id: randomUUID(), action_id: id, event: `compute_${action}_instance`, host: event.host === undefined ? 'fake-host-1' : event.host, result: event.result ?? 'Success', traceback: event.traceback ?? null, details: event.details ?? null, start_time: t, finish_time: t })
    .execute();
  return requestId;
}

/** A server with a failed `reboot` recorded after its create. */
async function serverWithFailure() {
  const s = await ownServer(cloud);
  const requestId = await record(s.id, s.projectId, 'reboot', new Date(cloud.clock.nowMs() + 1000), {
    result: 'Error',
    traceback: 'Traceback (most recent call last): boom',
    details: 'The guest did not answer',
  });
  return { ...s, requestId };
}

test('the list at 2.1 shows the create action with Nova’s keys (golden 62)', async () => {
  const { id, projectId, userId, token } = await ownServer(cloud);
  const res = await cloud.req('GET', actions(id), { token });
  assert.equal(res.status, 200);
  assert.deepEqual(Object.keys(res.body), ['instanceActions']);
  const [create] = res.body.instanceActions;
  assert.deepEqual(Object.keys(create), ACTION_KEYS);
  assert.equal(create.action, 'create');
  assert.equal(create.instance_uuid, id);
  assert.match(create.request_id, /^req-[0-9a-f-]{36}$/);
  assert.equal(create.user_id, userId);
  assert.equal(create.project_id, projectId);
  assert.match(create.start_time, NAIVE_MICROS);
  assert.equal(create.message, null);
});

test('the create action’s request id is the create request’s x-compute-request-id', async () => {
  const t = await tenant(cloud, 'ia-reqid');
  const image = await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow();
  const created = await cloud.req('POST', '/compute/v2.1/servers', { token: t.token, body: { server: { name: 'r', imageRef: image.id, flavorRef: '1' } } });
  const res = await cloud.req('GET', actions(created.body.server.id), { token: t.token });
  assert.equal(res.body.instanceActions[0].request_id, created.headers.get('x-compute-request-id'));
});

test('from 2.58 each action has updated_at too (golden 63)', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('GET', actions(id), { token, version: '2.58' });
  const [create] = res.body.instanceActions;
  assert.deepEqual(Object.keys(create), [...ACTION_KEYS, 'updated_at']);
  assert.match(create.updated_at, NAIVE_MICROS);
  assert.equal(res.body.links, undefined, 'no next link for a short list');
});

test('actions are listed newest first', async () => {
  const { id, projectId, token } = await ownServer(cloud);
  const now = cloud.clock.nowMs();
  await record(id, projectId, 'stop', new Date(now + 1000));
  await record(id, projectId, 'start', new Date(now + 2000));
  const res = await cloud.req('GET', actions(id), { token });
  assert.deepEqual(res.body.instanceActions.map((a: { action: string }) => a.action), ['start', 'stop', 'create']);
});

test('show at 2.1 gives a member the action without events (golden 64)', async () => {
  const { id, token } = await ownServer(cloud);
  const requestId = (await cloud.req('GET', actions(id), { token })).body.instanceActions[0].request_id;
  const res = await cloud.req('GET', actions(id, `/${requestId}`), { token });
  assert.equal(res.status, 200);
  assert.deepEqual(Object.keys(res.body.instanceAction), ACTION_KEYS);
  assert.equal(res.body.instanceAction.request_id, requestId);
});

test('show at the latest version gives a member events with hostId but no host or traceback (golden 65)', async () => {
  const { id, token, requestId } = await serverWithFailure();
  const res = await cloud.req('GET', actions(id, `/${requestId}`), { token, version: 'latest' });
  const a = res.body.instanceAction;
  assert.deepEqual(Object.keys(a), [...ACTION_KEYS, 'updated_at', 'events']);
  assert.equal(a.message, 'Error');
  assert.equal(a.events.length, 1);
  assert.deepEqual(Object.keys(a.events[0]), ['event', 'start_time', 'finish_time', 'result', 'hostId']);
  assert.equal(a.events[0].result, 'Error');
  assert.match(a.events[0].hostId, /^[0-9a-f]{56}$/);
});

test('the create action’s events come from the build, with finish times and results', async () => {
  const { id, token } = await ownServer(cloud);
  const requestId = (await cloud.req('GET', actions(id), { token })).body.instanceActions[0].request_id;
  const res = await cloud.req('GET', actions(id, `/${requestId}`), { token, version: '2.62' });
  const events = res.body.instanceAction.events;
  assert.ok(events.length >= 1);
  assert.ok(events.some((e: { event: string }) => e.event === 'compute__do_build_and_run_instance'));
  for (const e of events) {
    assert.match(e.start_time, NAIVE_MICROS);
    assert.match(e.finish_time, NAIVE_MICROS);
    assert.equal(e.result, 'Success');
  }
});

test('from 2.51 a member sees events without the traceback, and without hostId before 2.62', async () => {
  const { id, token, requestId } = await serverWithFailure();
  const res = await cloud.req('GET', actions(id, `/${requestId}`), { token, version: '2.51' });
  assert.deepEqual(Object.keys(res.body.instanceAction.events[0]), ['event', 'start_time', 'finish_time', 'result']);
  const before = await cloud.req('GET', actions(id, `/${requestId}`), { token, version: '2.50' });
  assert.equal(before.body.instanceAction.events, undefined);
});

test('an admin sees events with the traceback at 2.1, and the host and hostId from 2.62', async () => {
  const { id, projectId, requestId } = await serverWithFailure();
  const v21 = await cloud.req('GET', actions(id, `/${requestId}`), { token: cloud.adminToken });
  assert.deepEqual(v21.body.instanceAction.events[0], {
    event: 'compute_reboot_instance',
    start_time: v21.body.instanceAction.start_time,
    finish_time: v21.body.instanceAction.start_time,
    result: 'Error',
    traceback: 'Traceback (most recent call last): boom',
  });
  const v262 = await cloud.req('GET', actions(id, `/${requestId}`), { token: cloud.adminToken, version: '2.62' });
  const e = v262.body.instanceAction.events[0];
  assert.equal(e.host, 'fake-host-1');
  const { createHash } = await import('node:crypto');
  assert.equal(e.hostId, createHash('sha224').update(projectId + 'fake-host-1').digest('hex'));
  assert.equal(e.details, undefined, 'details come at 2.84');
});

test('from 2.84 an admin sees the events’ details; a member does not', async () => {
  const { id, token, requestId } = await serverWithFailure();
  const admin = await cloud.req('GET', actions(id, `/${requestId}`), { token: cloud.adminToken, version: '2.84' });
  assert.equal(admin.body.instanceAction.events[0].details, 'The guest did not answer');
  const member = await cloud.req('GET', actions(id, `/${requestId}`), { token, version: '2.84' });
  assert.equal(member.body.instanceAction.events[0].details, undefined);
});

test('an event without a host shows an empty host and hostId', async () => {
  const { id, projectId } = await ownServer(cloud);
  const requestId = await record(id, projectId, 'stop', new Date(cloud.clock.nowMs() + 1000), { host: null });
  const res = await cloud.req('GET', actions(id, `/${requestId}`), { token: cloud.adminToken, version: '2.62' });
  assert.equal(res.body.instanceAction.events[0].host, '');
  assert.equal(res.body.instanceAction.events[0].hostId, '');
});

test('an unknown request id is 404 "Action … not found"', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('GET', actions(id, '/req-nope'), { token });
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, { itemNotFound: { code: 404, message: 'Action req-nope not found' } });
});

test('another server’s request id is 404 on this server', async () => {
  const a = await ownServer(cloud);
  const b = await ownServer(cloud);
  const requestId = (await cloud.req('GET', actions(b.id), { token: b.token })).body.instanceActions[0].request_id;
  assert.equal((await cloud.req('GET', actions(a.id, `/${requestId}`), { token: a.token })).status, 404);
});

test('from 2.58 limit pages the list with a next link, and the marker continues after it', async () => {
  const { id, projectId, token } = await ownServer(cloud);
  const now = cloud.clock.nowMs();
  for (let i = 1; i <= 3; i++) await record(id, projectId, `act${i}`, new Date(now + i * 1000));
  const first = await cloud.req('GET', actions(id, '?limit=2'), { token, version: '2.58' });
  assert.deepEqual(first.body.instanceActions.map((a: { action: string }) => a.action), ['act3', 'act2']);
  const marker = first.body.instanceActions[1].request_id;
  assert.deepEqual(first.body.links, [{ rel: 'next', href: `${cloud.url}/compute/v2.1/servers/${id}/os-instance-actions?limit=2&marker=${marker}` }]);
  const second = await cloud.req('GET', actions(id, `?limit=2&marker=${marker}`), { token, version: '2.58' });
  assert.deepEqual(second.body.instanceActions.map((a: { action: string }) => a.action), ['act1', 'create']);
  const last = await cloud.req('GET', actions(id, `?limit=2&marker=${second.body.instanceActions[1].request_id}`), { token, version: '2.58' });
  assert.deepEqual(last.body, { instanceActions: [] });
});

test('limit=0 gives an empty list without a next link', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('GET', actions(id, '?limit=0'), { token, version: '2.58' });
  assert.deepEqual(res.body, { instanceActions: [] });
});

test('an unknown marker is 400', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('GET', actions(id, '?marker=req-unknown'), { token, version: '2.58' });
  assert.equal(res.status, 400);
  assert.equal(res.body.badRequest.message, 'Marker req-unknown could not be found.');
});

test('from 2.58 changes-since keeps the actions updated at or after it', async () => {
  const { id, projectId, token } = await ownServer(cloud);
  const later = new Date(cloud.clock.nowMs() + 60_000);
  await record(id, projectId, 'stop', later);
  const since = later.toISOString().replace(/\.\d+Z$/, 'Z');
  const res = await cloud.req('GET', actions(id, `?changes-since=${since}`), { token, version: '2.58' });
  assert.deepEqual(res.body.instanceActions.map((a: { action: string }) => a.action), ['stop']);
  const naive = since.replace(/Z$/, '');
  const asUtc = await cloud.req('GET', actions(id, `?changes-since=${naive}`), { token, version: '2.58' });
  assert.deepEqual(asUtc.body.instanceActions.map((a: { action: string }) => a.action), ['stop'], 'a time without a zone is UTC');
});

test('from 2.66 changes-before keeps the actions updated at or before it', async () => {
  const { id, projectId, token } = await ownServer(cloud);
  await record(id, projectId, 'stop', new Date(cloud.clock.nowMs() + 60_000));
  const before = new Date(cloud.clock.nowMs() + 30_000).toISOString();
  const res = await cloud.req('GET', actions(id, `?changes-before=${before}`), { token, version: '2.66' });
  assert.deepEqual(res.body.instanceActions.map((a: { action: string }) => a.action), ['create']);
});

test('changes-before before 2.66 is 400 as an unexpected parameter', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('GET', actions(id, '?changes-before=2030-01-01T00:00:00Z'), { token, version: '2.65' });
  assert.equal(res.status, 400);
  assert.equal(res.body.badRequest.message, "Additional properties are not allowed ('changes-before' was unexpected)");
});

test('changes-since after changes-before is 400', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('GET', actions(id, '?changes-since=2030-01-02T00:00:00Z&changes-before=2030-01-01T00:00:00Z'), { token, version: '2.66' });
  assert.equal(res.status, 400);
  assert.equal(res.body.badRequest.message, 'The value of changes-since must be less than or equal to changes-before.');
});

test('from 2.58 an invalid limit or changes-since is 400 naming the parameter', async () => {
  const { id, token } = await ownServer(cloud);
  const limit = await cloud.req('GET', actions(id, '?limit=-1'), { token, version: '2.58' });
  assert.equal(limit.status, 400);
  assert.equal(limit.body.badRequest.message, "Invalid input for query parameters limit. Value: -1. '-1' does not match '^[0-9]*$'");
  const since = await cloud.req('GET', actions(id, '?changes-since=yesterday'), { token, version: '2.58' });
  assert.equal(since.status, 400);
  assert.equal(since.body.badRequest.message, "Invalid input for query parameters changes-since. Value: yesterday. 'yesterday' is not a 'date-time'");
  const twice = await cloud.req('GET', actions(id, '?limit=1&limit=2'), { token, version: '2.58' });
  assert.equal(twice.status, 400);
});

test('before 2.58 query parameters are ignored', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('GET', actions(id, '?limit=abc&bogus=1'), { token, version: '2.57' });
  assert.equal(res.status, 200);
  assert.equal(res.body.instanceActions.length, 1);
  const strict = await cloud.req('GET', actions(id, '?bogus=1'), { token, version: '2.58' });
  assert.equal(strict.status, 400);
});

test('a deleted server’s actions are 404 before 2.21 and listed, with the delete, from 2.21', async () => {
  const { id, token } = await ownServer(cloud);
  assert.equal((await cloud.req('DELETE', `/compute/v2.1/servers/${id}`, { token })).status, 204);
  await cloud.services.runner.idle();
  const old = await cloud.req('GET', actions(id), { token, version: '2.20' });
  assert.equal(old.status, 404);
  const res = await cloud.req('GET', actions(id), { token, version: '2.21' });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.instanceActions.map((a: { action: string }) => a.action).sort(), ['create', 'delete']);
  const del = res.body.instanceActions.find((a: { action: string }) => a.action === 'delete');
  assert.equal((await cloud.req('GET', actions(id, `/${del.request_id}`), { token, version: '2.21' })).status, 200);
  assert.equal((await cloud.req('GET', actions(id, `/${del.request_id}`), { token, version: '2.20' })).status, 404);
});

test('another project’s server is 404 for the list and the show', async () => {
  const { id, token } = await ownServer(cloud);
  const requestId = (await cloud.req('GET', actions(id), { token })).body.instanceActions[0].request_id;
  const stranger = await tenant(cloud, 'ia-stranger');
  for (const path of [actions(id), actions(id, `/${requestId}`)]) {
    const res = await cloud.req('GET', path, { token: stranger.token });
    assert.equal(res.status, 404, path);
    assert.equal(res.body.itemNotFound.message, `Instance ${id} could not be found.`);
  }
});

test('a reader may list and show actions; a role without reader is 403 by policy', async () => {
  const { id, projectId, name, token } = await ownServer(cloud);
  const requestId = (await cloud.req('GET', actions(id), { token })).body.instanceActions[0].request_id;
  const reader = await colleague(cloud, projectId, name, 'ia-reader', 'reader');
  assert.equal((await cloud.req('GET', actions(id), { token: reader })).status, 200);
  assert.equal((await cloud.req('GET', actions(id, `/${requestId}`), { token: reader })).status, 200);
  const observer = await colleague(cloud, projectId, name, 'ia-observer', 'observer');
  const list = await cloud.req('GET', actions(id), { token: observer });
  assert.equal(list.status, 403);
  assert.equal(list.body.forbidden.message, "Policy doesn't allow os_compute_api:os-instance-actions:list to be performed.");
  const show = await cloud.req('GET', actions(id, `/${requestId}`), { token: observer });
  assert.equal(show.body.forbidden.message, "Policy doesn't allow os_compute_api:os-instance-actions:show to be performed.");
});
