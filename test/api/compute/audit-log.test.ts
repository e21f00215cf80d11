import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { fault } from './accounts.js';
import { tenant } from './server-fixtures.js';

let cloud: TestCloud;
let hosts: string[];
before(async () => {
  cloud = await startCloud();
  hosts = (await cloud.services.db.selectFrom('hosts').select('name').orderBy('name').execute()).map((h) => h.name);
});
after(async () => cloud.close());

const PATH = '/compute/v2.1/os-instance_usage_audit_log';
const show = (before: string, token = cloud.adminToken) => cloud.req('GET', `${PATH}/${encodeURIComponent(before)}`, { token });
const period = (body: { period_beginning: string; period_ending: string }) => [body.period_beginning, body.period_ending];

test('the list reports the last completed month over every compute host, none of them audited', async () => {
  const res = await cloud.req('GET', PATH, { token: cloud.adminToken });
  assert.equal(res.status, 200);
  const now = cloud.clock.now();
  const pad = (n: number) => String(n).padStart(2, '0');
  const month = (y: number, m: number) => {
    const d = new Date(Date.UTC(y, m, 1));
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-01 00:00:00`;
  };
  assert.ok(hosts.length > 0);
  assert.deepEqual(res.body, {
    instance_usage_audit_logs: {
      period_beginning: month(now.getUTCFullYear(), now.getUTCMonth() - 1),
      period_ending: month(now.getUTCFullYear(), now.getUTCMonth()),
      num_hosts: hosts.length,
      num_hosts_done: 0,
      num_hosts_running: 0,
      num_hosts_not_run: hosts.length,
      hosts_not_run: hosts,
      total_instances: 0,
      total_errors: 0,
      overall_status: `0 of ${hosts.length} hosts done. 0 errors.`,
      log: {},
    },
  });
});

test('before a timestamp gives the month completed before it', async () => {
  const res = await show('2024-03-15 10:00:00');
  assert.equal(res.status, 200);
  assert.deepEqual(period(res.body.instance_usage_audit_log), ['2024-02-01 00:00:00', '2024-03-01 00:00:00']);
  assert.equal(res.body.instance_usage_audit_log.num_hosts, hosts.length);
});

test('a timestamp at the very start of a month has not completed that month yet', async () => {
  const res = await show('2024-03-01 00:00:00');
  assert.deepEqual(period(res.body.instance_usage_audit_log), ['2024-01-01 00:00:00', '2024-02-01 00:00:00']);
});

test('periods wrap over the new year', async () => {
  assert.deepEqual(period((await show('2024-01-01 00:00:00')).body.instance_usage_audit_log), ['2023-11-01 00:00:00', '2023-12-01 00:00:00']);
  assert.deepEqual(period((await show('2024-01-10 08:00:00')).body.instance_usage_audit_log), ['2023-12-01 00:00:00', '2024-01-01 00:00:00']);
});

test('a timestamp with microseconds is accepted', async () => {
  const res = await show('2024-03-15 10:00:00.123456');
  assert.equal(res.status, 200);
  assert.deepEqual(period(res.body.instance_usage_audit_log), ['2024-02-01 00:00:00', '2024-03-01 00:00:00']);
});

test('a bad before timestamp is 400', async () => {
  for (const bad of ['qwerty', '2024-02-30 00:00:00', '2024-03-15T10:00:00', '2024-03-15 25:00:00', '2024-03-15']) {
    const res = await show(bad);
    assert.equal(res.status, 400, bad);
    assert.deepEqual(fault(res.body), { name: 'badRequest', code: 400, message: `Invalid timestamp for date ${bad}` });
  }
});

test('disabled hosts are still counted: they may hold servers', async () => {
  await cloud.services.db.updateTable('hosts').set({ enabled: 0 }).where('name', '=', hosts[0]).execute();
  try {
    const res = await cloud.req('GET', PATH, { token: cloud.adminToken });
    assert.equal(res.body.instance_usage_audit_logs.num_hosts, hosts.length);
    assert.ok(res.body.instance_usage_audit_logs.hosts_not_run.includes(hosts[0]));
  } finally {
    await cloud.services.db.updateTable('hosts').set({ enabled: 1 }).where('name', '=', hosts[0]).execute();
  }
});

test('the audit log is for admins only', async () => {
  const t = await tenant(cloud, 'audit-member');
  const list = await cloud.req('GET', PATH, { token: t.token });
  assert.equal(list.status, 403);
  assert.equal(fault(list.body).message, "Policy doesn't allow os_compute_api:os-instance-usage-audit-log:list to be performed.");
  const one = await show('2024-03-15 10:00:00', t.token);
  assert.equal(one.status, 403);
  assert.equal(fault(one.body).message, "Policy doesn't allow os_compute_api:os-instance-usage-audit-log:show to be performed.");
});

test('the audit log answers the same at the newest microversion', async () => {
  const res = await cloud.req('GET', PATH, { token: cloud.adminToken, version: 'latest' });
  assert.equal(res.status, 200);
  assert.equal(res.body.instance_usage_audit_logs.num_hosts, hosts.length);
});
