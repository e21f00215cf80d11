import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, startCloud, type TestCloud } from '../../support.js';
import { bootServer, tenant, type Tenant } from './server-fixtures.js';
import { fault } from './accounts.js';

const HOUR = 3600_000;
let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
});
after(async () => cloud.close());

const PATH = '/compute/v2.1/os-simple-tenant-usage';
/** Nova's own format for start and end: no zone, microseconds optional. */
const at = (ms: number) => new Date(ms).toISOString().replace('Z', '');
/** Nova's rendering of a time: six fraction digits, no zone. */
const nova = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000');

async function launchedAt(id: string): Promise<number> {
  const row = await cloud.services.db.selectFrom('servers').select('launched_at').where('id', '=', id).executeTakeFirstOrThrow();
  return Date.parse(row.launched_at!);
}

let projects = 0;
/** A fresh project with one ACTIVE m1.tiny server (1 vCPU, 512 MB, 1 GB). */
async function projectWithServer(name = 'srv'): Promise<Tenant & { id: string; launched: number }> {
  const t = await tenant(cloud, `usage-${++projects}`);
  const id = await bootServer(cloud, t.token, { name });
  return { ...t, id, launched: await launchedAt(id) };
}

/**
 * Runs `fn` with the clock moved forward, with fresh tokens (the old ones expire after an
 * hour of clock time), and moves it back afterwards.
 */
async function later<T>(ms: number, fn: (admin: string) => Promise<T>): Promise<T> {
  cloud.clock.advance(ms);
  try {
    return await fn(await cloud.token('admin', ADMIN_PASSWORD, 'admin'));
  } finally {
    cloud.clock.advance(-ms);
  }
}

test('the admin list gives each project its hours and vCPU, memory and disk usage over the window', async () => {
  const p = await projectWithServer();
  const res = await later(3 * HOUR, (admin) =>
    cloud.req('GET', `${PATH}?start=${at(p.launched - HOUR)}&end=${at(p.launched + 2 * HOUR)}`, { token: admin }),
  );
  assert.equal(res.status, 200);
  const usage = res.body.tenant_usages.find((u: { tenant_id: string }) => u.tenant_id === p.projectId);
  assert.deepEqual(usage, {
    tenant_id: p.projectId,
    total_local_gb_usage: 2,
    total_vcpus_usage: 2,
    total_memory_mb_usage: 1024,
    total_hours: 2,
    start: nova(p.launched - HOUR),
    stop: nova(p.launched + 2 * HOUR),
  });
});

test('detailed=1 adds each server usage with flavor, state, uptime and start time', async () => {
  const p = await projectWithServer('detailed');
  const res = await later(3 * HOUR, (admin) =>
    cloud.req('GET', `${PATH}?detailed=1&start=${at(p.launched)}&end=${at(p.launched + HOUR)}`, { token: admin }),
  );
  const usage = res.body.tenant_usages.find((u: { tenant_id: string }) => u.tenant_id === p.projectId);
  assert.equal(usage.server_usages.length, 1);
  const s = usage.server_usages[0];
  assert.deepEqual({ ...s, uptime: undefined }, {
    hours: 1,
    flavor: 'm1.tiny',
    instance_id: p.id,
    name: 'detailed',
    tenant_id: p.projectId,
    memory_mb: 512,
    local_gb: 1,
    vcpus: 1,
    started_at: nova(p.launched),
    ended_at: null,
    state: 'active',
    uptime: undefined,
  });
  // Uptime runs to now, not to the window's end.
  assert.ok(s.uptime >= 3 * 3600 && s.uptime < 3 * 3600 + 60, `uptime ${s.uptime}`);
});

test('without detailed=1 the list has no server usages', async () => {
  const p = await projectWithServer();
  const res = await cloud.req('GET', `${PATH}?start=${at(p.launched - HOUR)}`, { token: cloud.adminToken });
  const usage = res.body.tenant_usages.find((u: { tenant_id: string }) => u.tenant_id === p.projectId);
  assert.ok(usage);
  assert.equal(usage.server_usages, undefined);
});

test('a member sees its own project usage, always with server usages', async () => {
  const p = await projectWithServer();
  const res = await later(2 * HOUR, async () => {
    const token = await cloud.token(`${p.name}-user`, `${p.name}-pw`, p.name);
    return cloud.req('GET', `${PATH}/${p.projectId}?start=${at(p.launched)}&end=${at(p.launched + HOUR)}`, { token });
  });
  assert.equal(res.status, 200);
  assert.equal(res.body.tenant_usage.tenant_id, p.projectId);
  assert.equal(res.body.tenant_usage.total_hours, 1);
  assert.deepEqual(res.body.tenant_usage.server_usages.map((s: { instance_id: string }) => s.instance_id), [p.id]);
});

test('a deleted server is terminated: hours stop at its end and uptime is its lifetime', async () => {
  const p = await projectWithServer();
  cloud.clock.advance(HOUR);
  let ended: number;
  try {
    const admin = await cloud.token('admin', ADMIN_PASSWORD, 'admin');
    assert.equal((await cloud.req('DELETE', `/compute/v2.1/servers/${p.id}`, { token: admin })).status, 204);
    await cloud.services.runner.idle();
    const row = await cloud.services.db.selectFrom('servers').select('terminated_at').where('id', '=', p.id).executeTakeFirstOrThrow();
    ended = Date.parse(row.terminated_at!);
  } finally {
    cloud.clock.advance(-HOUR);
  }
  const res = await later(3 * HOUR, (admin) => cloud.req('GET', `${PATH}/${p.projectId}?start=${at(p.launched - HOUR)}&end=${at(p.launched + 2 * HOUR)}`, { token: admin }));
  const s = res.body.tenant_usage.server_usages[0];
  assert.equal(s.state, 'terminated');
  assert.equal(s.ended_at, nova(ended));
  assert.equal(s.hours, (ended - p.launched) / HOUR);
  assert.equal(s.uptime, Math.trunc((ended - p.launched) / 1000));
});

test('a window that ends before the server launched shows no usage', async () => {
  const p = await projectWithServer();
  const res = await cloud.req('GET', `${PATH}/${p.projectId}?start=${at(p.launched - 2 * HOUR)}&end=${at(p.launched - HOUR)}`, { token: p.token });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { tenant_usage: {} });
});

test('an end in the future is cut to now', async () => {
  const p = await projectWithServer();
  const before = cloud.clock.nowMs();
  const res = await cloud.req('GET', `${PATH}/${p.projectId}?start=${at(p.launched)}&end=${at(before + 24 * HOUR)}`, { token: p.token });
  const stop = Date.parse(res.body.tenant_usage.stop + 'Z');
  assert.ok(stop >= before - 1 && stop <= cloud.clock.nowMs(), res.body.tenant_usage.stop);
});

test('start and end accept Nova\'s three formats and default to now', async () => {
  const p = await projectWithServer();
  const t = new Date(p.launched - HOUR).toISOString();
  for (const start of [t.slice(0, 19), t.replace('Z', '123'), t.replace('T', ' ').replace('Z', '')]) {
    const res = await cloud.req('GET', `${PATH}/${p.projectId}?start=${encodeURIComponent(start)}`, { token: p.token });
    assert.equal(res.status, 200, start);
    assert.equal(res.body.tenant_usage.server_usages.length, 1, start);
  }
});

test('a start or end that is not a date is 400 naming it', async () => {
  for (const query of ['start=yesterday', 'end=2024-13-01T00:00:00', 'start=2024-01-01T00:00:00Z']) {
    const res = await cloud.req('GET', `${PATH}?${query}`, { token: cloud.adminToken });
    assert.equal(res.status, 400, query);
    const f = fault(res.body);
    assert.equal(f.name, 'badRequest');
    assert.match(f.message, /^Invalid datetime string: /);
    assert.ok(f.message.includes(query.split('=')[0]), f.message);
  }
});

test('a start after the end is 400, and so is no window at all (both default to now)', async () => {
  const res = await cloud.req('GET', `${PATH}?start=2024-02-01T00:00:00&end=2024-01-01T00:00:00`, { token: cloud.adminToken });
  assert.equal(res.status, 400);
  assert.equal(fault(res.body).message, 'Invalid start time. The start time cannot occur after the end time.');
  assert.equal((await cloud.req('GET', PATH, { token: cloud.adminToken })).status, 400);
});

test('listing every project is for admins only', async () => {
  const p = await projectWithServer();
  const res = await cloud.req('GET', PATH, { token: p.token });
  assert.equal(res.status, 403);
  assert.equal(fault(res.body).message, "Policy doesn't allow os_compute_api:os-simple-tenant-usage:list to be performed.");
});

test("another project's usage is forbidden to a member, allowed to an admin", async () => {
  const mine = await projectWithServer();
  const other = await projectWithServer();
  const res = await cloud.req('GET', `${PATH}/${other.projectId}`, { token: mine.token });
  assert.equal(res.status, 403);
  assert.equal(fault(res.body).message, "Policy doesn't allow os_compute_api:os-simple-tenant-usage:show to be performed.");
  const admin = await cloud.req('GET', `${PATH}/${other.projectId}?start=${at(other.launched - HOUR)}`, { token: cloud.adminToken });
  assert.equal(admin.status, 200);
  assert.equal(admin.body.tenant_usage.tenant_id, other.projectId);
});

test('from 2.40 limit pages servers and tenant_usages_links leads to the next page', async () => {
  const p = await projectWithServer('a');
  const second = await bootServer(cloud, p.token, { name: 'b' });
  const ids = [p.id, second].sort();
  const start = at(p.launched - HOUR);
  const first = await cloud.req('GET', `${PATH}/${p.projectId}?start=${start}&limit=1`, { token: p.token, version: '2.40' });
  assert.equal(first.status, 200);
  assert.deepEqual(first.body.tenant_usage.server_usages.map((s: { instance_id: string }) => s.instance_id), [ids[0]]);
  const next = new URL(first.body.tenant_usage_links[0].href);
  assert.equal(first.body.tenant_usage_links[0].rel, 'next');
  assert.equal(next.pathname, `/compute/v2.1/os-simple-tenant-usage/${p.projectId}`);
  assert.equal(next.searchParams.get('marker'), ids[0]);
  assert.equal(next.searchParams.get('start'), start);
  const page2 = await cloud.req('GET', next.pathname + next.search, { token: p.token, version: '2.40' });
  assert.deepEqual(page2.body.tenant_usage.server_usages.map((s: { instance_id: string }) => s.instance_id), [ids[1]]);
  const list = await cloud.req('GET', `${PATH}?start=${start}&limit=1`, { token: cloud.adminToken, version: '2.40' });
  assert.equal(list.body.tenant_usages.length, 1);
  assert.equal(list.body.tenant_usages_links[0].rel, 'next');
});

test('before 2.40 limit and marker are ignored and there are no links', async () => {
  const p = await projectWithServer();
  await bootServer(cloud, p.token);
  const res = await cloud.req('GET', `${PATH}/${p.projectId}?start=${at(p.launched - HOUR)}&limit=1&marker=nope`, { token: p.token, version: '2.39' });
  assert.equal(res.status, 200);
  assert.equal(res.body.tenant_usage.server_usages.length, 2);
  assert.equal(res.body.tenant_usage_links, undefined);
});

test('from 2.40 a bad limit or an unknown marker is 400', async () => {
  const bad = await cloud.req('GET', `${PATH}?limit=-1`, { token: cloud.adminToken, version: '2.40' });
  assert.equal(bad.status, 400);
  assert.match(fault(bad.body).message, /^Invalid input for query parameters limit\. Value: -1\./);
  const marker = await cloud.req('GET', `${PATH}?start=2024-01-01T00:00:00&marker=no-such-server`, { token: cloud.adminToken, version: '2.40' });
  assert.equal(marker.status, 400);
  assert.equal(fault(marker.body).message, 'Marker no-such-server could not be found.');
});

test('from 2.75 unknown query parameters are 400; before they are ignored', async () => {
  const strict = await cloud.req('GET', `${PATH}?start=2024-01-01T00:00:00&foo=1`, { token: cloud.adminToken, version: '2.75' });
  assert.equal(strict.status, 400);
  assert.match(fault(strict.body).message, /'foo' was unexpected/);
  const lax = await cloud.req('GET', `${PATH}?start=2024-01-01T00:00:00&foo=1`, { token: cloud.adminToken, version: '2.74' });
  assert.equal(lax.status, 200);
});

test('a trailing slash names no project: 404', async () => {
  const res = await cloud.req('GET', `${PATH}/?start=2024-01-01T00:00:00`, { token: cloud.adminToken });
  assert.equal(res.status, 404);
});
