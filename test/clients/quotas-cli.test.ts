/**
 * The real `openstack` CLI's quota commands, which read and write Nova's and Neutron's
 * quotas together, against a `nimbus serve` process.
 * Under NIMBUS_TEST_DATABASE_URL the process runs on a fresh PostgreSQL database.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cliFor, cliSkip as skip, nimbusForTests } from './cli.js';

const nimbus = nimbusForTests(skip);
const { run, json } = cliFor(nimbus, 'nimbus-demo');

/** Neutron's defaults under the CLI's names. */
const NETWORK_DEFAULTS = { networks: 100, subnets: 100, ports: 500, routers: 10, 'floating-ips': 50, secgroups: 10, 'secgroup-rules': 100, rbac_policies: 10, subnet_pools: -1 };
const pick = (q: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.map((k) => [k, q[k]]));

test('openstack quota show, as a member: Nova’s and Neutron’s quotas of the project', { skip }, async () => {
  const q = await json(['quota', 'show']);
  assert.equal(q.project_name, 'demo');
  assert.deepEqual(pick(q, Object.keys(NETWORK_DEFAULTS)), NETWORK_DEFAULTS);
  assert.equal(q.instances, 10);
  assert.equal(q.cores, 20);
});

test('openstack quota show --default shows Neutron’s defaults', { skip }, async () => {
  const q = await json(['quota', 'show', '--default']);
  assert.deepEqual(pick(q, Object.keys(NETWORK_DEFAULTS)), NETWORK_DEFAULTS);
});

test('openstack quota set --networks (admin) limits the project; over it, network create fails with Neutron’s 409', { skip }, async () => {
  await json(['network', 'list']); // the project's private network: one in use
  const set = await run(['quota', 'set', '--networks', '2', '--subnets', '7', 'demo'], 'nimbus-admin');
  assert.equal(set.code, 0, set.stderr);
  const q = await json(['quota', 'show']);
  assert.equal(q.networks, 2);
  assert.equal(q.subnets, 7);
  assert.equal((await json(['quota', 'show', '--default'])).networks, 100, 'the defaults stay');
  const name = `extra-${randomBytes(3).toString('hex')}`;
  await json(['network', 'create', name]);
  const over = await run(['network', 'create', `${name}-2`]);
  assert.notEqual(over.code, 0, over.stdout);
  assert.match(over.stderr, /Quota exceeded for resources: \['network'\]/);
  const details = await json(['quota', 'list', '--detail', '--network', '--project', 'demo'], 'nimbus-admin');
  assert.deepEqual(details.find((r: { Resource: string }) => r.Resource === 'networks'), { Resource: 'networks', 'In Use': 2, Reserved: 0, Limit: 2 });
});
