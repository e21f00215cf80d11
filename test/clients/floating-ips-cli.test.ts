/**
 * Floating IPs through the real `openstack` CLI, as a DevStack user makes one: allocate from
 * the seeded `public` network, put it on a server (router1 links the demo project's `private`
 * network to `public`), see it in the server's addresses, take it off, release it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ADMIN_PASSWORD, DEMO_PASSWORD } from '../support.js';
import { cliFor, cliSkip as skip, nimbusForTests } from './cli.js';

const nimbus = nimbusForTests(skip, { NIMBUS_ADMIN_PASSWORD: ADMIN_PASSWORD, NIMBUS_DEMO_PASSWORD: DEMO_PASSWORD });
const { run, openstack, json } = cliFor(nimbus);
const vm = `fip-${randomBytes(3).toString('hex')}`;

test('openstack floating ip create public, server add floating ip, and the server shows it beside its fixed address', { skip }, async () => {
  const server = await json(['server', 'create', '--flavor', 'm1.tiny', '--image', 'nimbus-demo', '--wait', vm]);
  assert.equal(server.status, 'ACTIVE');
  const fip = await json(['floating', 'ip', 'create', 'public']);
  assert.match(fip.floating_ip_address, /^172\.24\.4\.\d+$/);
  assert.equal(fip.status, 'DOWN');
  assert.equal(fip.port_id, null);

  await openstack(['server', 'add', 'floating', 'ip', vm, fip.floating_ip_address]);
  const shown = await json(['floating', 'ip', 'show', fip.id]);
  assert.equal(shown.status, 'ACTIVE');
  assert.match(shown.fixed_ip_address, /^10\.0\.0\.\d+$/);
  const addresses = (await json(['server', 'show', vm])).addresses;
  assert.deepEqual(addresses, { private: [shown.fixed_ip_address, fip.floating_ip_address] });

  await openstack(['server', 'remove', 'floating', 'ip', vm, fip.floating_ip_address]);
  assert.equal((await json(['floating', 'ip', 'show', fip.id])).port_id, null);
  assert.deepEqual((await json(['server', 'show', vm])).addresses, { private: [shown.fixed_ip_address] });
  await openstack(['floating', 'ip', 'delete', fip.id]);
  assert.notEqual((await run(['floating', 'ip', 'show', fip.id])).code, 0);
  await openstack(['server', 'delete', '--wait', vm]);
});
