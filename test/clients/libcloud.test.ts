/**
 * Apache libcloud's OpenStack driver (Debian's python3-libcloud, through /usr/bin/python3)
 * against a `nimbus serve` process: the calls that showed a difference from Nova.
 * Under NIMBUS_TEST_DATABASE_URL the process runs on a fresh PostgreSQL database.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DEMO_PASSWORD } from '../support.js';
import { nimbusForTests, python, pythonSkip } from './cli.js';

const skip = pythonSkip(['libcloud'], 'python3-libcloud');
const nimbus = nimbusForTests(skip, { NIMBUS_DEMO_PASSWORD: DEMO_PASSWORD });

/** A libcloud driver as the demo user (libcloud wants the tokens URL itself for v3), and a poller. */
const PRELUDE = `
import time
from libcloud.compute.providers import get_driver
from libcloud.compute.types import NodeState, Provider
driver = get_driver(Provider.OPENSTACK)(
    'demo', args['password'], ex_force_auth_url=args['url'] + '/identity/v3/auth/tokens',
    ex_force_auth_version='3.x_password', ex_tenant_name='demo', ex_domain_name='Default',
    ex_force_service_region='RegionOne')

def running(node, timeout=60):
    deadline = time.time() + timeout
    while True:
        node = driver.ex_get_node_details(node.id)
        if node.state == NodeState.RUNNING or time.time() > deadline:
            return node
        time.sleep(0.2)
`;

const libcloud = (script: string, args: Record<string, unknown> = {}) =>
  python(nimbus, PRELUDE + script, { url: nimbus.current().url, password: DEMO_PASSWORD, ...args });

test('libcloud ex_get_console_output(length=1) is the login prompt, not an empty string', { skip }, async () => {
  const name = `lc-${randomBytes(3).toString('hex')}`;
  const r = await libcloud(
    `
size = [s for s in driver.list_sizes() if s.name == 'm1.tiny'][0]
image = [i for i in driver.list_images() if i.name == 'nimbus-demo'][0]
node = running(driver.create_node(name=args['name'], size=size, image=image))
out = {'state': node.state, 'last': driver.ex_get_console_output(node, length=1), 'all': driver.ex_get_console_output(node)}
driver.destroy_node(node)
result(out)
`,
    { name },
  );
  assert.equal(r.state, 'running');
  assert.deepEqual(r.last, { output: `${name} login: ` });
  assert.ok(r.all.output.endsWith(`\n${name} login: `), JSON.stringify(r.all));
});
