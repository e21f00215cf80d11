import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startCloud, type TestCloud } from '../../support.js';
import { act, assertError, createDrive, createServer, cs, driveUuids, dump, runningServer, show, unlimited } from './cs.js';

/** Server actions: the answers of the dumps, the state rules of the diagram, the ACPI minute on the clock. */
let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
  await unlimited(cloud);
});
after(async () => cloud.close());

const settle = () => cloud.services.runner.idle();
const control = (method: string, path: string, body?: unknown) => cloud.req(method, `/nimbus/v1${path}`, { token: cloud.adminToken, body });
const hostOf = async (id: string) => (await cloud.services.db.selectFrom('servers').select('host').where('id', '=', id).executeTakeFirstOrThrow()).host;

test('start answers 202 as response_server_start and the server is then running', async () => {
  const s = await createServer(cloud);
  const res = await act(cloud, s.uuid, 'start');
  assert.equal(res.status, 202, res.text);
  assert.deepEqual(Object.keys(res.body).sort(), Object.keys(dump('response_server_start')).sort());
  assert.deepEqual(res.body, { action: 'start', result: 'success', uuid: s.uuid });
  await settle();
  const now = await show(cloud, s.uuid);
  assert.equal(now.status, 'running');
  assert.match(now.runtime.active_since, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
});

test('a running server\'s NIC with DHCP has an address in its runtime and in the NIC\'s', async () => {
  const s = await runningServer(cloud, { nics: [{ ip_v4_conf: { conf: 'dhcp' }, model: 'virtio' }] });
  assert.equal(s.runtime.nics.length, 1);
  assert.match(s.runtime.nics[0].ip_v4.uuid, /^10\.0\.0\.\d+$/);
  assert.deepEqual(s.nics[0].runtime.ip_v4, s.runtime.nics[0].ip_v4);
  assert.equal(s.runtime.nics[0].mac, s.nics[0].mac);
});

test('a stopped server has a null runtime', async () => {
  const s = await createServer(cloud);
  assert.equal(s.runtime, null);
});

test('start of a running server is refused with a 409 concurrency error', async () => {
  const s = await runningServer(cloud);
  assertError(await act(cloud, s.uuid, 'start'), 409, 'concurrency');
});

test('stop of a stopped server is refused with a 409 concurrency error', async () => {
  const s = await createServer(cloud);
  assertError(await act(cloud, s.uuid, 'stop'), 409, 'concurrency');
});

test('two starts at once: one wins, the other is refused', async () => {
  const s = await createServer(cloud);
  const both = await Promise.all([act(cloud, s.uuid, 'start'), act(cloud, s.uuid, 'start')]);
  assert.deepEqual(both.map((r) => r.status).sort(), [202, 409]);
  await settle();
  assert.equal((await show(cloud, s.uuid)).status, 'running');
});

test('stop (the power cord) answers as response_server_stop and the server is stopped', async () => {
  const s = await runningServer(cloud);
  const res = await act(cloud, s.uuid, 'stop');
  assert.equal(res.status, 202);
  assert.deepEqual(res.body, { ...dump('response_server_stop'), uuid: s.uuid });
  await settle();
  assert.equal((await show(cloud, s.uuid)).status, 'stopped');
});

test('shutdown of a guest that handles ACPI: stopping, then stopped', async () => {
  const s = await runningServer(cloud);
  const res = await act(cloud, s.uuid, 'shutdown');
  assert.equal(res.status, 202, res.text);
  assert.deepEqual(res.body, { ...dump('response_server_acpi_shutdown'), uuid: s.uuid });
  await settle();
  assert.equal((await show(cloud, s.uuid)).status, 'stopped');
});

test('shutdown of a guest that ignores ACPI: stopping for the minute, refusing other actions, then running again', async () => {
  const s = await runningServer(cloud);
  assert.equal((await control('PUT', `/guests/${s.uuid}`, { guest: { acpi: 'ignore' } })).status, 200);
  assert.equal((await act(cloud, s.uuid, 'shutdown')).status, 202);
  await settle();
  assert.equal((await show(cloud, s.uuid)).status, 'stopping');
  assertError(await act(cloud, s.uuid, 'stop'), 409, 'concurrency');
  await control('POST', '/clock/advance', { seconds: 30 });
  await settle();
  assert.equal((await show(cloud, s.uuid)).status, 'stopping');
  await control('POST', '/clock/advance', { seconds: 31 });
  await settle();
  assert.equal((await show(cloud, s.uuid)).status, 'running');
  // Now the user may pull the cord.
  assert.equal((await act(cloud, s.uuid, 'stop')).status, 202);
  await settle();
  assert.equal((await show(cloud, s.uuid)).status, 'stopped');
});

test('a server paused through the compute API is paused here, and only stop revives it', async () => {
  const s = await runningServer(cloud);
  assert.equal((await cloud.req('POST', `/compute/v2.1/servers/${s.uuid}/action`, { token: cloud.demoToken, body: { pause: null } })).status, 202);
  await settle();
  assert.equal((await show(cloud, s.uuid)).status, 'paused');
  assertError(await act(cloud, s.uuid, 'start'), 409, 'concurrency');
  assert.equal((await act(cloud, s.uuid, 'stop')).status, 202);
  await settle();
  assert.equal((await show(cloud, s.uuid)).status, 'stopped');
});

test('shutdown of a stopped server is refused', async () => {
  const s = await createServer(cloud);
  assertError(await act(cloud, s.uuid, 'shutdown'), 409, 'concurrency');
});

test('restart of a running server keeps it running', async () => {
  const s = await runningServer(cloud);
  const res = await act(cloud, s.uuid, 'restart');
  assert.equal(res.status, 202, res.text);
  await settle();
  assert.equal((await show(cloud, s.uuid)).status, 'running');
});

test('start with avoid keeps the server off the hosts of the servers named', async () => {
  const a = await runningServer(cloud, { name: 'avoid-a' });
  const b = await runningServer(cloud, { name: 'avoid-b' });
  const hostA = await hostOf(a.uuid);
  const hostB = await hostOf(b.uuid);
  const c = await createServer(cloud, { name: 'avoid-c' });
  assert.equal((await cs(cloud, 'POST', `/servers/${c.uuid}/action/?do=start&avoid=${a.uuid},${b.uuid}`, { body: {} })).status, 202);
  await settle();
  const hostC = await hostOf(c.uuid);
  assert.ok(hostC && hostC !== hostA && hostC !== hostB, `${hostC} vs ${hostA}, ${hostB}`);
});

test('availability groups list the caller\'s running servers by shared host', async () => {
  const a = await runningServer(cloud, { name: 'ag-a' });
  const b = await createServer(cloud, { name: 'ag-b' });
  await cloud.services.db.updateTable('servers').set({ host: await hostOf(a.uuid) }).where('id', '=', b.uuid).execute();
  assert.equal((await act(cloud, b.uuid, 'start')).status, 202);
  await settle();
  const groups = (await cs(cloud, 'GET', '/servers/availability_groups/')).body as string[][];
  const mine = groups.find((g) => g.includes(a.uuid))!;
  assert.ok(mine.includes(b.uuid), JSON.stringify(groups));
  const peers = await cs(cloud, 'GET', `/servers/availability_groups/${a.uuid}/`);
  assert.ok(peers.body.includes(b.uuid));
  assert.ok(!peers.body.includes(a.uuid));
});

test('start with an avoid that is not a uuid is 400', async () => {
  const s = await createServer(cloud);
  assertError(await cs(cloud, 'POST', `/servers/${s.uuid}/action/?do=start&avoid=nope`, { body: {} }), 400, 'validation', 'avoid[0]');
});

/** Waits (settling the tasks) until the server shows `status`: the recovery job runs beside the requests. */
async function until(uuid: string, status: string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    await settle();
    const now = (await show(cloud, uuid)).status;
    if (now === status) return;
    if (Date.now() > deadline) assert.fail(`${uuid} is ${now}, not ${status}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('host crash: a running server whose host goes down is started again on another host', async () => {
  const s = await runningServer(cloud, { name: 'survivor' });
  const host = (await hostOf(s.uuid))!;
  await control('PUT', `/hosts/${host}`, { host: { state: 'down' } });
  try {
    await control('POST', '/clock/advance', { seconds: 6 });
    await until(s.uuid, 'running');
    const moved = await hostOf(s.uuid);
    assert.ok(moved && moved !== host, `${moved} vs ${host}`);
  } finally {
    await control('PUT', `/hosts/${host}`, { host: { state: 'up' } });
  }
});

test('host crash with no host to go to: unavailable until one comes back, then running', async () => {
  const s = await runningServer(cloud, { name: 'stranded' });
  const hosts = ['fake-host-1', 'fake-host-2', 'fake-host-3'];
  for (const h of hosts) await control('PUT', `/hosts/${h}`, { host: { state: 'down' } });
  try {
    await control('POST', '/clock/advance', { seconds: 6 });
    await until(s.uuid, 'unavailable');
    await control('PUT', `/hosts/${hosts[0]}`, { host: { state: 'up' } });
    await control('POST', '/clock/advance', { seconds: 6 });
    await until(s.uuid, 'running');
    assert.equal(await hostOf(s.uuid), hosts[0]);
  } finally {
    for (const h of hosts) await control('PUT', `/hosts/${h}`, { host: { state: 'up' } });
  }
});

test('a compute-API server keeps Nova\'s behaviour when its host goes down: it is not moved', async () => {
  const image = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
  const made = await cloud.req('POST', '/compute/v2.1/servers', { token: cloud.demoToken, body: { server: { name: 'nova-stays', imageRef: image, flavorRef: '1' } } });
  await settle();
  const id = made.body.server.id;
  const host = (await hostOf(id))!;
  await control('PUT', `/hosts/${host}`, { host: { state: 'down' } });
  try {
    await control('POST', '/clock/advance', { seconds: 6 });
    await settle();
    assert.equal(await hostOf(id), host);
    assert.equal((await show(cloud, id)).status, 'unavailable');
  } finally {
    await control('PUT', `/hosts/${host}`, { host: { state: 'up' } });
  }
});

/** Connects to host:port, sends `input` after the first bytes, and collects what comes back. */
function talk(url: string, input: string, waitFor: RegExp): Promise<string> {
  const { hostname, port } = new URL(url.replace(/^\w+:/, 'http:'));
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let got = '';
    let sent = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no ${waitFor} in ${JSON.stringify(got)}`));
    }, 5000);
    socket.on('data', (d) => {
      got += d.toString('latin1');
      if (!sent && /Password: $/.test(got)) {
        sent = true;
        socket.write(input);
      }
      if (waitFor.test(got)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(got);
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    socket.on('error', reject);
  });
}

test('open_console gives a csconsole:// URL; with the vnc_password the serial line answers', async () => {
  const s = await runningServer(cloud, { vnc_password: 'serial-secret' });
  const res = await act(cloud, s.uuid, 'open_console');
  assert.equal(res.status, 202, res.text);
  assert.deepEqual(Object.keys(res.body).sort(), Object.keys(dump('response_server_open_console')).sort());
  assert.match(res.body.console_url, /^csconsole:\/\/127\.0\.0\.1:\d+$/);
  const out = await talk(res.body.console_url, 'serial-secret\r\nroot\r', /login: /);
  assert.match(out, /login: /);
  await act(cloud, s.uuid, 'close_console');
});

test('open_console with a wrong password hangs up before showing anything of the guest', async () => {
  const s = await runningServer(cloud, { vnc_password: 'serial-secret' });
  const res = await act(cloud, s.uuid, 'open_console');
  const out = await talk(res.body.console_url, 'guess\r\n', /$^/);
  assert.match(out, /Wrong password/);
  assert.doesNotMatch(out, /login/);
  await act(cloud, s.uuid, 'close_console');
});

test('close_console closes the port', async () => {
  const s = await runningServer(cloud);
  const url = (await act(cloud, s.uuid, 'open_console')).body.console_url;
  const closed = await act(cloud, s.uuid, 'close_console');
  assert.equal(closed.status, 202);
  assert.deepEqual(closed.body, { ...dump('response_server_close_console'), uuid: s.uuid });
  await assert.rejects(talk(url, '', /x/));
});

test('open_vnc gives a vnc:// URL speaking RFB; close_vnc answers as response_server_close_vnc', async () => {
  const s = await runningServer(cloud);
  const res = await act(cloud, s.uuid, 'open_vnc');
  assert.equal(res.status, 202, res.text);
  assert.match(res.body.vnc_url, /^vnc:\/\/127\.0\.0\.1:\d+$/);
  assert.match(await talk(res.body.vnc_url, '', /RFB \d{3}\.\d{3}\n/), /^RFB/);
  const closed = await act(cloud, s.uuid, 'close_vnc');
  assert.deepEqual(closed.body, { ...dump('response_server_close_vnc'), uuid: s.uuid });
});

test('open_vnc of a stopped server is refused', async () => {
  const s = await createServer(cloud);
  assertError(await act(cloud, s.uuid, 'open_vnc'), 409, 'concurrency');
});

test('clone (request_server_clone) makes a stopped copy with the name asked, a new vnc password and DHCP NICs', async () => {
  const s = await createServer(cloud, { name: 'original', nics: [{ ip_v4_conf: { conf: 'static', ip: '10.0.0.50' } }], meta: { a: 'b' } });
  const res = await act(cloud, s.uuid, 'clone', dump('request_server_clone'));
  assert.equal(res.status, 202, res.text);
  assert.equal(res.body.name, 'test_cloned_server_name');
  assert.equal(res.body.status, 'stopped');
  assert.notEqual(res.body.uuid, s.uuid);
  assert.notEqual(res.body.vnc_password, s.vnc_password);
  assert.deepEqual(res.body.nics[0].ip_v4_conf, { conf: 'dhcp', ip: null });
  assert.notEqual(res.body.nics[0].mac, s.nics[0].mac);
  assert.deepEqual(res.body.meta, { a: 'b' });
  assert.equal(res.body.cpu, s.cpu);
});

test('clone clones the disks (as a job) and attaches the cdroms as they are', async () => {
  const disk = await createDrive(cloud, { name: 'clone-src-disk' });
  const cdrom = await createDrive(cloud, { name: 'clone-src-cdrom', media: 'cdrom' });
  const s = await createServer(cloud, { name: 'clone-src', drives: [{ boot_order: 1, dev_channel: '0:0', device: 'virtio', drive: disk.uuid }, { dev_channel: '0:1', device: 'ide', drive: cdrom.uuid }] });
  const res = await act(cloud, s.uuid, 'clone', { name: 'clone-dst' });
  assert.equal(res.status, 202, res.text);
  assert.equal(res.body.jobs.length, 1);
  const uuids = res.body.drives.map((d: { drive: { uuid: string } }) => d.drive.uuid);
  assert.ok(uuids.includes(cdrom.uuid));
  const copy = uuids.find((u: string) => u !== cdrom.uuid);
  assert.ok(copy && copy !== disk.uuid);
  await settle();
  const job = await cs(cloud, 'GET', `/jobs/${res.body.jobs[0].uuid}/`);
  assert.equal(job.status, 200, job.text);
  assert.equal(job.body.state, 'success');
  assert.ok((await driveUuids(cloud)).includes(copy));
  // The clone starts once its disk is there.
  assert.equal((await act(cloud, res.body.uuid, 'start')).status, 202);
  await settle();
  assert.equal((await show(cloud, res.body.uuid)).status, 'running');
});

test('an unknown action is 400 naming do', async () => {
  const s = await createServer(cloud);
  assertError(await act(cloud, s.uuid, 'explode'), 400, 'validation', 'do');
});

test('GET /capabilities/ lists kvm with its cpu types and the host ranges servers are checked against', async () => {
  const res = await cs(cloud, 'GET', '/capabilities/');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.hypervisors.kvm.sort(), dump('response_capabilities').hypervisors.kvm.sort());
  assert.deepEqual(Object.keys(res.body.servers.cpu), ['min', 'max']);
  assert.equal(res.body.servers.smp.max, 64);
});
