/**
 * The real `openstack` CLI (Debian's python3-openstackclient) driving server actions on the
 * fake driver, against a `nimbus serve` process as the README starts it: reboot, stop/start,
 * pause, suspend, lock, rescue, shelve, resize with confirm and revert, rebuild, image create,
 * console log and the event list. Each test works on a server of its own, deleted at its end.
 * Where the CLI has no --wait for an action, the test polls `server show`, bounded in time.
 * Under NIMBUS_TEST_DATABASE_URL the process runs on a fresh PostgreSQL database.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ADMIN_PASSWORD, DEMO_PASSWORD } from '../support.js';
import { cliFor, cliSkip as skip, nimbusForTests, parseJson } from './cli.js';

const nimbus = nimbusForTests(skip, { NIMBUS_ADMIN_PASSWORD: ADMIN_PASSWORD, NIMBUS_DEMO_PASSWORD: DEMO_PASSWORD });
const { run, openstack, json } = cliFor(nimbus);

const suffix = randomBytes(3).toString('hex');
let n = 0;

/** A fresh ACTIVE server (m1.tiny unless told) made with `server create --wait`; deleted with --wait after the test body. */
async function withServer(body: (id: string, name: string) => Promise<void>, flavor = 'm1.tiny'): Promise<void> {
  const name = `act-${suffix}-${++n}`;
  const s = await json(['server', 'create', '--flavor', flavor, '--image', 'nimbus-demo', '--wait', name]);
  assert.equal(s.status, 'ACTIVE');
  try {
    await body(s.id, name);
  } catch (err) {
    // Clean up as best we can without hiding the failure.
    await run(['server', 'unlock', s.id]);
    await run(['server', 'delete', '--wait', s.id]);
    throw err;
  }
  await openstack(['server', 'delete', '--wait', s.id]);
}

const show = (id: string) => json(['server', 'show', id]);

/** Polls `server show` until the status is `status` and no task runs, for at most 30 s. */
async function waitFor(id: string, status: string): Promise<any> {
  const deadline = Date.now() + 30_000;
  let s: any;
  for (;;) {
    s = await show(id);
    if (s.status === status && s['OS-EXT-STS:task_state'] === null) return s;
    if (s.status === 'ERROR' || Date.now() > deadline) assert.fail(`server ${id} never became ${status}: ${s.status}/${s['OS-EXT-STS:task_state']}\n${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('openstack server reboot --wait, soft then --hard, comes back ACTIVE and running', { skip }, async () => {
  await withServer(async (id) => {
    assert.equal((await openstack(['server', 'reboot', '--wait', id])).includes('Complete'), true);
    let s = await show(id);
    assert.equal(s.status, 'ACTIVE');
    assert.equal(s['OS-EXT-STS:power_state'], 1);
    await openstack(['server', 'reboot', '--hard', '--wait', id]);
    s = await show(id);
    assert.equal(s.status, 'ACTIVE');
    assert.equal(s['OS-EXT-STS:task_state'], null);
    const actions = (await json(['server', 'event', 'list', id])).map((e: any) => e.Action);
    assert.deepEqual(actions.filter((a: string) => a === 'reboot').length, 2, JSON.stringify(actions));
  });
});

test('openstack server stop goes SHUTOFF with power state 4; server start goes ACTIVE again', { skip }, async () => {
  // This CLI's `server stop`/`server start` have no --wait: poll server show.
  await withServer(async (id) => {
    assert.equal((await openstack(['server', 'stop', id])).trim(), '');
    let s = await waitFor(id, 'SHUTOFF');
    assert.equal(s['OS-EXT-STS:vm_state'], 'stopped');
    assert.equal(s['OS-EXT-STS:power_state'], 4);
    await openstack(['server', 'start', id]);
    s = await waitFor(id, 'ACTIVE');
    assert.equal(s['OS-EXT-STS:vm_state'], 'active');
    assert.equal(s['OS-EXT-STS:power_state'], 1);
  });
});

test('openstack server pause goes PAUSED; unpause goes ACTIVE', { skip }, async () => {
  await withServer(async (id) => {
    await openstack(['server', 'pause', id]);
    let s = await waitFor(id, 'PAUSED');
    assert.equal(s['OS-EXT-STS:vm_state'], 'paused');
    assert.equal(s['OS-EXT-STS:power_state'], 3);
    await openstack(['server', 'unpause', id]);
    s = await waitFor(id, 'ACTIVE');
    assert.equal(s['OS-EXT-STS:power_state'], 1);
  });
});

test('openstack server suspend goes SUSPENDED; resume goes ACTIVE', { skip }, async () => {
  await withServer(async (id) => {
    await openstack(['server', 'suspend', id]);
    let s = await waitFor(id, 'SUSPENDED');
    assert.equal(s['OS-EXT-STS:vm_state'], 'suspended');
    assert.equal(s['OS-EXT-STS:power_state'], 7);
    await openstack(['server', 'resume', id]);
    s = await waitFor(id, 'ACTIVE');
    assert.equal(s['OS-EXT-STS:power_state'], 1);
  });
});

test('openstack server lock makes the owner’s server pause fail with the 409; unlock lets it pause', { skip }, async () => {
  await withServer(async (id) => {
    await openstack(['server', 'lock', id]);
    // `locked` shows from microversion 2.9.
    assert.equal((await json(['--os-compute-api-version', '2.9', 'server', 'show', id])).locked, true);
    const refused = await run(['server', 'pause', id]);
    assert.notEqual(refused.code, 0, `pause of a locked server must fail:\n${refused.stdout}`);
    // This CLI pauses through openstacksdk: "ConflictException: 409: Client Error for url: …, Instance … is locked".
    assert.match(refused.stderr, /\b409\b/, refused.stderr);
    assert.ok(refused.stderr.includes(`Instance ${id} is locked`), refused.stderr);
    assert.equal((await show(id)).status, 'ACTIVE');
    await openstack(['server', 'unlock', id]);
    assert.equal((await json(['--os-compute-api-version', '2.9', 'server', 'show', id])).locked, false);
    await openstack(['server', 'pause', id]);
    await waitFor(id, 'PAUSED');
    await openstack(['server', 'unpause', id]);
    await waitFor(id, 'ACTIVE');
  });
});

test('openstack server rescue goes RESCUE; unrescue goes ACTIVE', { skip }, async () => {
  await withServer(async (id) => {
    await openstack(['server', 'rescue', id]);
    let s = await waitFor(id, 'RESCUE');
    assert.equal(s['OS-EXT-STS:vm_state'], 'rescued');
    await openstack(['server', 'unrescue', id]);
    s = await waitFor(id, 'ACTIVE');
    assert.equal(s['OS-EXT-STS:vm_state'], 'active');
  });
});

test('openstack server shelve goes SHELVED_OFFLOADED with no power state; unshelve goes ACTIVE', { skip }, async () => {
  await withServer(async (id) => {
    await openstack(['server', 'shelve', id]);
    let s = await waitFor(id, 'SHELVED_OFFLOADED');
    assert.equal(s['OS-EXT-STS:vm_state'], 'shelved_offloaded');
    assert.equal(s['OS-EXT-STS:power_state'], 0, 'offloaded: no guest, no power state');
    await openstack(['server', 'unshelve', id]);
    s = await waitFor(id, 'ACTIVE');
    assert.equal(s['OS-EXT-STS:power_state'], 1);
    assert.equal(s.flavor, 'm1.tiny (1)');
  });
});

test('openstack server resize --flavor m1.small --wait goes VERIFY_RESIZE; resize confirm keeps m1.small', { skip }, async () => {
  await withServer(async (id) => {
    await openstack(['server', 'resize', '--flavor', 'm1.small', '--wait', id]);
    let s = await show(id);
    assert.equal(s.status, 'VERIFY_RESIZE');
    assert.equal(s['OS-EXT-STS:vm_state'], 'resized');
    assert.equal(s.flavor, 'm1.small (2)');
    await openstack(['server', 'resize', 'confirm', id]);
    s = await waitFor(id, 'ACTIVE');
    assert.equal(s.flavor, 'm1.small (2)');
    const rows = await json(['server', 'list', '--name', `^${s.name}$`]);
    assert.equal(rows[0].Flavor, 'm1.small');
  });
});

test('a second resize after a confirmed one, then openstack server resize revert, is back on the flavor before it', { skip }, async () => {
  await withServer(async (id) => {
    await openstack(['server', 'resize', '--flavor', 'm1.small', '--wait', id]);
    await openstack(['server', 'resize', '--confirm', id]);
    await waitFor(id, 'ACTIVE');
    await openstack(['server', 'resize', '--flavor', 'm1.medium', '--wait', id]);
    let s = await show(id);
    assert.equal(s.status, 'VERIFY_RESIZE');
    assert.equal(s.flavor, 'm1.medium (3)');
    await openstack(['server', 'resize', 'revert', id]);
    s = await waitFor(id, 'ACTIVE');
    assert.equal(s.flavor, 'm1.small (2)');
  });
});

test('openstack server resize --flavor m1.tiny, a smaller root disk, then resize revert: back on m1.small', { skip }, async () => {
  await withServer(async (id) => {
    await openstack(['server', 'resize', '--flavor', 'm1.tiny', '--wait', id]);
    let s = await show(id);
    assert.equal(s.status, 'VERIFY_RESIZE');
    assert.equal(s.flavor, 'm1.tiny (1)');
    await openstack(['server', 'resize', 'revert', id]);
    s = await waitFor(id, 'ACTIVE');
    assert.equal(s.flavor, 'm1.small (2)');
  }, 'm1.small');
});

test('openstack server rebuild --image nimbus-demo --wait prints the server ACTIVE on that image with a new password', { skip }, async () => {
  await withServer(async (id, name) => {
    const imageId = (await json(['image', 'show', 'nimbus-demo'])).id;
    const before = await show(id);
    // With --wait this CLI prints "Complete" first, then the server as the rebuild answered it (REBUILD).
    const out = await openstack(['server', 'rebuild', '--image', 'nimbus-demo', '--wait', id, '-f', 'json']);
    assert.match(out, /^Complete$/m);
    const r = parseJson(out);
    assert.equal(r.status, 'REBUILD');
    assert.equal(r.image, `nimbus-demo (${imageId})`);
    assert.equal(r.id, id);
    assert.equal(r.name, name);
    assert.equal(typeof r.adminPass, 'string');
    assert.ok(r.adminPass.length >= 8);
    const s = await show(id);
    assert.equal(s.status, 'ACTIVE');
    assert.equal(s.image, `nimbus-demo (${imageId})`);
    assert.equal(s.hostId, before.hostId);
    const actions = (await json(['server', 'event', 'list', id])).map((e: any) => e.Action);
    assert.ok(actions.includes('rebuild'), JSON.stringify(actions));
  });
});

test('openstack server image create --wait --name makes an image that image list shows active', { skip }, async () => {
  await withServer(async (id) => {
    const name = `snap-${suffix}`;
    const img = await json(['server', 'image', 'create', '--wait', '--name', name, id]);
    assert.equal(img.name, name);
    assert.match(img.id, /^[0-9a-f-]{36}$/);
    const listed = (await json(['image', 'list'])).find((i: any) => i.ID === img.id);
    assert.deepEqual(listed, { ID: img.id, Name: name, Status: 'active' });
    const shown = await json(['image', 'show', img.id]);
    assert.equal(shown.status, 'active');
    assert.equal(shown.properties?.instance_uuid, id);
    assert.equal(shown.properties?.image_type, 'snapshot');
  });
});

test('openstack console log show prints the boot log, and --lines its tail', { skip }, async () => {
  await withServer(async (id, name) => {
    const log = await openstack(['console', 'log', 'show', id]);
    assert.match(log, /Booting from Hard Disk/);
    assert.match(log, /Linux version/);
    assert.ok(log.trim().split('\n').length > 3, log);
    // The console ends at the prompt with no newline after it (the CLI adds one when printing).
    assert.ok(log.endsWith(`\n${name} login: \n`), JSON.stringify(log.slice(-80)));
    const tail = await openstack(['console', 'log', 'show', '--lines', '3', id]);
    assert.equal(tail, `Debian GNU/Linux 12 ${name} ttyS0\n\n${name} login: \n`);
  });
});

test('openstack console log show --lines 1 prints the login prompt', { skip }, async () => {
  await withServer(async (id, name) => {
    assert.equal(await openstack(['console', 'log', 'show', '--lines', '1', id]), `${name} login: \n`);
  });
});

test('openstack server event list shows create, stop and start with their request ids', { skip }, async () => {
  await withServer(async (id) => {
    await openstack(['server', 'stop', id]);
    await waitFor(id, 'SHUTOFF');
    await openstack(['server', 'start', id]);
    await waitFor(id, 'ACTIVE');
    const events = await json(['server', 'event', 'list', id]);
    assert.deepEqual(events.map((e: any) => e.Action).sort(), ['create', 'start', 'stop']);
    for (const e of events) {
      assert.equal(e['Server ID'], id);
      assert.match(e['Request ID'], /^req-[0-9a-f-]{36}$/);
      assert.match(e['Start Time'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    }
    const stop = events.find((e: any) => e.Action === 'stop');
    const detail = await json(['server', 'event', 'show', id, stop['Request ID']]);
    assert.equal(detail.action, 'stop');
    assert.equal(detail.instance_uuid ?? detail.server_id, id);
  });
});
