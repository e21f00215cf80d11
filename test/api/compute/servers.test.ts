import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';

let cloud: TestCloud;
let imageId: string;
before(async () => {
  cloud = await startCloud();
  imageId = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
});
after(async () => cloud.close());

const create = (server: Record<string, unknown>, opts: { token?: string; version?: string } = {}) =>
  cloud.req('POST', '/compute/v2.1/servers', { token: opts.token ?? cloud.demoToken, version: opts.version, body: { server: { imageRef: imageId, flavorRef: '1', ...server } } });

/** A member of a fresh project: its own quota, its own servers. */
async function newMember(name: string): Promise<string> {
  const dir = cloud.services.directory;
  const p = await dir.createProject({ name });
  const u = await dir.createUser({ name: `${name}-user`, password: `${name}-pw` });
  await dir.assignRole(p.id, u.id, (await dir.listRoles({ name: 'member' }))[0].id);
  return cloud.token(`${name}-user`, `${name}-pw`, name);
}

async function active(id: string, token = cloud.demoToken) {
  await cloud.services.runner.idle();
  const res = await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token });
  return res.body.server;
}

test('create answers 202 with id, links, adminPass and Location, then the server goes ACTIVE', async () => {
  const res = await create({ name: 'web-1' });
  assert.equal(res.status, 202);
  const s = res.body.server;
  assert.match(s.id, /^[0-9a-f-]{36}$/);
  assert.equal(res.headers.get('location'), `${cloud.url}/compute/v2.1/servers/${s.id}`);
  assert.equal(s.links[0].href, `${cloud.url}/compute/v2.1/servers/${s.id}`);
  assert.equal(s.links[1].href, `${cloud.url}/compute/servers/${s.id}`);
  assert.equal(s['OS-DCF:diskConfig'], 'MANUAL');
  assert.deepEqual(s.security_groups, [{ name: 'default' }]);
  assert.match(s.adminPass, /^\S{12}$/);
  const shown = await active(s.id);
  assert.equal(shown.status, 'ACTIVE');
  assert.equal(shown['OS-EXT-STS:vm_state'], 'active');
  assert.equal(shown['OS-EXT-STS:task_state'], null);
  assert.equal(shown['OS-EXT-STS:power_state'], 1);
  assert.equal(shown.progress, 100);
  assert.equal(shown['OS-EXT-AZ:availability_zone'], 'nova');
  assert.match(shown['OS-SRV-USG:launched_at'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
  assert.equal(shown.adminPass, undefined);
});

test('the adminPass is never stored', async () => {
  const res = await create({ name: 'secret', adminPass: 'S3cret-pass-xyz' });
  assert.equal(res.body.server.adminPass, 'S3cret-pass-xyz');
  await cloud.services.runner.idle();
  const row = await cloud.services.db.selectFrom('servers').selectAll().where('id', '=', res.body.server.id).executeTakeFirstOrThrow();
  assert.ok(!JSON.stringify(row).includes('S3cret-pass-xyz'));
  const tasks = await cloud.services.db.selectFrom('tasks').selectAll().execute();
  assert.ok(!JSON.stringify(tasks).includes('S3cret-pass-xyz'));
});

test('show at 2.1 has the flavor as id and links; at 2.47 the flavor is embedded', async () => {
  const id = (await create({ name: 'flavors' })).body.server.id;
  await active(id);
  const v21 = (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: cloud.demoToken })).body.server;
  assert.deepEqual(v21.flavor, { id: '1', links: [{ rel: 'bookmark', href: `${cloud.url}/compute/flavors/1` }] });
  assert.equal(v21.locked, undefined);
  const v247 = (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: cloud.demoToken, version: '2.47' })).body.server;
  assert.deepEqual(v247.flavor, { vcpus: 1, ram: 512, disk: 1, ephemeral: 0, swap: 0, original_name: 'm1.tiny', extra_specs: {} });
  assert.equal(v247.locked, false);
  assert.equal(v247.description, 'flavors', 'made at 2.1: Nova copied the name into the description');
  assert.deepEqual(v247.tags, []);
});

test('hostId is the SHA-224 of project and host, and admin-only attributes stay admin-only', async () => {
  const id = (await create({ name: 'hostid' })).body.server.id;
  await active(id);
  const member = (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: cloud.demoToken })).body.server;
  assert.match(member.hostId, /^[0-9a-f]{56}$/);
  assert.equal(member['OS-EXT-SRV-ATTR:host'], undefined);
  const admin = (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: cloud.adminToken, version: '2.3' })).body.server;
  const { createHash } = await import('node:crypto');
  assert.equal(member.hostId, createHash('sha224').update(cloud.demoProjectId + admin['OS-EXT-SRV-ATTR:host']).digest('hex'));
  assert.match(admin['OS-EXT-SRV-ATTR:host'], /^fake-host-\d$/);
  assert.equal(admin['OS-EXT-SRV-ATTR:hostname'], 'hostid');
});

test('a project sees only its own servers; another project’s server is 404', async () => {
  const id = (await create({ name: 'private' })).body.server.id;
  const other = await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: cloud.adminToken });
  assert.equal(other.status, 200, 'an admin may see it');
  const token = await newMember('isolated');
  assert.equal((await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token })).status, 404);
  assert.equal((await cloud.req('DELETE', `/compute/v2.1/servers/${id}`, { token })).status, 404);
  const list = await cloud.req('GET', '/compute/v2.1/servers', { token });
  assert.deepEqual(list.body.servers, []);
});

test('list and detail page with limit and marker, with a servers_links next link', async () => {
  for (let i = 0; i < 3; i++) await create({ name: `page-${i}` });
  const first = await cloud.req('GET', '/compute/v2.1/servers?limit=2', { token: cloud.demoToken });
  assert.equal(first.body.servers.length, 2);
  const next = new URL(first.body.servers_links[0].href);
  assert.equal(next.searchParams.get('marker'), first.body.servers[1].id);
  const second = await cloud.req('GET', `/compute/v2.1/servers?limit=2&marker=${first.body.servers[1].id}`, { token: cloud.demoToken });
  assert.ok(second.body.servers.length >= 1);
  assert.ok(!second.body.servers.some((s: { id: string }) => first.body.servers.some((f: { id: string }) => f.id === s.id)));
  const detail = await cloud.req('GET', '/compute/v2.1/servers/detail?limit=1', { token: cloud.demoToken });
  assert.equal(detail.body.servers.length, 1);
  assert.ok(detail.body.servers[0].status);
});

test('list filters by name regular expression, status and flavor', async () => {
  const id = (await create({ name: 'filter-target-xyz' })).body.server.id;
  await active(id);
  const byName = await cloud.req('GET', '/compute/v2.1/servers?name=target-x.z$', { token: cloud.demoToken });
  assert.deepEqual(byName.body.servers.map((s: { id: string }) => s.id), [id]);
  const shutoff = await cloud.req('GET', '/compute/v2.1/servers?status=SHUTOFF', { token: cloud.demoToken });
  assert.deepEqual(shutoff.body.servers, []);
  const byFlavor = await cloud.req('GET', '/compute/v2.1/servers?flavor=2', { token: cloud.demoToken });
  assert.deepEqual(byFlavor.body.servers, []);
});

test('accessIPv6 comes back in its RFC 5952 form, as Nova stores it', async () => {
  const token = await newMember('v6');
  const res = await create({ name: 'v6', accessIPv6: '0000:0000:0000:0000:0000:babe:220.12.22.2' }, { token });
  assert.equal(res.status, 202, res.text);
  assert.equal((await active(res.body.server.id, token)).accessIPv6, '::babe:dc0c:1602');
});

test('invalid list parameters are 400', async () => {
  for (const q of ['limit=abc', 'limit=-1', 'sort_dir=up', 'sort_key=bogus', 'changes-since=yesterday', 'changes-since=2011/01/01']) {
    const res = await cloud.req('GET', `/compute/v2.1/servers?${q}`, { token: cloud.demoToken });
    assert.equal(res.status, 400, q);
    assert.equal(res.body.badRequest.code, 400);
  }
});

test('each invalid create field is a 400 that names it', async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ name: '' }, 'name'],
    [{ name: 'x', flavorRef: '' }, 'flavorRef'],
    [{ name: 'x', imageRef: 'not-a-uuid' }, 'imageRef'],
    [{ name: 'x', accessIPv4: '1.2.3' }, 'accessIPv4'],
    [{ name: 'x', 'OS-DCF:diskConfig': 'SOMETIMES' }, 'OS-DCF:diskConfig'],
    [{ name: 'x', metadata: { k: 5 } }, 'k'],
    [{ name: 'x', bogus: 1 }, 'bogus'],
    [{ name: 'x', user_data: '***' }, 'user_data'],
  ];
  for (const [server, field] of cases) {
    const res = await create(server);
    assert.equal(res.status, 400, JSON.stringify(server));
    assert.ok(res.body.badRequest.message.includes(field), `${res.body.badRequest.message} names ${field}`);
  }
  const unknownFlavor = await create({ name: 'x', flavorRef: '999' });
  assert.equal(unknownFlavor.status, 400);
  assert.match(unknownFlavor.body.badRequest.message, /Flavor 999 could not be found/);
});

test('security_groups entries without a name are ignored, as Nova ignores them; a bad name is 400 naming it', async () => {
  const token = await newMember('sg-entries');
  const res = await create({ name: 'sg-none', security_groups: [{}] }, { token });
  assert.equal(res.status, 202, res.text);
  assert.deepEqual(res.body.server.security_groups, [{ name: 'default' }]);
  const bad = await create({ name: 'sg-bad', security_groups: [{ name: {} }] }, { token });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.badRequest.message, "Invalid input for field/attribute name. Value: {}. {} is not of type 'string'");
});

test('from 2.37 networks is required, and "none" boots without addresses', async () => {
  const missing = await create({ name: 'nets' }, { version: '2.37' });
  assert.equal(missing.status, 400);
  assert.match(missing.body.badRequest.message, /networks/);
  const none = await create({ name: 'nets', networks: 'none' }, { version: '2.37' });
  assert.equal(none.status, 202);
  assert.deepEqual((await active(none.body.server.id)).addresses, {});
});

test('over the instances quota the create is 403 with Nova’s message', async () => {
  const res = await create({ name: 'many', min_count: 50, max_count: 50 });
  assert.equal(res.status, 403);
  // Nova names every resource over its limit in one message.
  assert.match(res.body.forbidden.message, /^Quota exceeded for cores, instances: Requested 50, 50, but already used \d+, \d+ of 20, 10 cores, instances$/);
});

test('with every host down the server goes to ERROR with "No valid host was found"', async () => {
  for (const h of cloud.services.driver.hosts()) await cloud.services.hosts.setDown(h.name, true);
  try {
    const token = await newMember('nowhere');
    const id = (await create({ name: 'nowhere' }, { token })).body.server.id;
    const s = await active(id, token);
    assert.equal(s.status, 'ERROR');
    assert.equal(s.fault.code, 500);
    assert.match(s.fault.message, /^No valid host was found/);
    assert.equal(s.fault.details, undefined, 'details are for admins');
    const admin = (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: cloud.adminToken })).body.server;
    assert.equal(typeof admin.fault.details, 'string');
  } finally {
    for (const h of cloud.services.driver.hosts()) await cloud.services.hosts.setDown(h.name, false);
  }
});

test('a project’s servers spread across hosts', async () => {
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await create({ name: `spread-${i}` }, { token: cloud.adminToken })).body.server.id);
  await cloud.services.runner.idle();
  const hosts = new Set();
  for (const id of ids) hosts.add((await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: cloud.adminToken })).body.server['OS-EXT-SRV-ATTR:host']);
  assert.equal(hosts.size, 3);
});

test('PUT renames the server and sets a description at 2.19', async () => {
  const token = await newMember('rename');
  const id = (await create({ name: 'old' }, { token })).body.server.id;
  const res = await cloud.req('PUT', `/compute/v2.1/servers/${id}`, { token, version: '2.19', body: { server: { name: 'new', description: 'hello' } } });
  assert.equal(res.status, 200);
  assert.equal(res.body.server.name, 'new');
  assert.equal(res.body.server.description, 'hello');
  const bad = await cloud.req('PUT', `/compute/v2.1/servers/${id}`, { token, body: { server: { description: 'too early' } } });
  assert.equal(bad.status, 400);
});

test('a server created below 2.19 has its name as description, as Nova copies the display name', async () => {
  const token = await newMember('described');
  const id = (await create({ name: 'plain' }, { token, version: '2.18' })).body.server.id;
  assert.equal((await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token, version: '2.19' })).body.server.description, 'plain');
  // From 2.19 the description is what the create says, null when it says none.
  const at219 = (await create({ name: 'modern' }, { token, version: '2.19' })).body.server.id;
  assert.equal((await cloud.req('GET', `/compute/v2.1/servers/${at219}`, { token, version: '2.19' })).body.server.description, null);
});

test('a multi-create below 2.19 gives every server the requested name as description', async () => {
  const token = await newMember('described-many');
  const res = await create({ name: 'many', min_count: 2, return_reservation_id: true }, { token });
  const list = await cloud.req('GET', `/compute/v2.1/servers/detail?reservation_id=${res.body.reservation_id}`, { token, version: '2.19' });
  assert.deepEqual(list.body.servers.map((s: { name: string; description: string }) => [s.name, s.description]).sort(), [['many-1', 'many'], ['many-2', 'many']]);
});

test('renaming or rebuilding below 2.19 leaves the description as it was', async () => {
  const token = await newMember('described-later');
  const id = (await create({ name: 'first' }, { token })).body.server.id;
  await active(id, token);
  assert.equal((await cloud.req('PUT', `/compute/v2.1/servers/${id}`, { token, body: { server: { name: 'second' } } })).status, 200);
  assert.equal((await cloud.req('POST', `/compute/v2.1/servers/${id}/action`, { token, body: { rebuild: { imageRef: imageId, name: 'third' } } })).status, 202);
  const shown = await active(id, token);
  assert.equal(shown.name, 'third');
  assert.equal((await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token, version: '2.19' })).body.server.description, 'first');
});

test('PUT before 2.75 answers the reduced view, from 2.75 the full one', async () => {
  const token = await newMember('put-views');
  const id = (await create({ name: 'v' }, { token })).body.server.id;
  await active(id, token);
  const old = (await cloud.req('PUT', `/compute/v2.1/servers/${id}`, { token, body: { server: { name: 'v2' } } })).body.server;
  assert.equal(old.name, 'v2');
  assert.equal(old['OS-EXT-STS:vm_state'], undefined);
  assert.equal(old['OS-EXT-AZ:availability_zone'], undefined);
  assert.equal(old.status, 'ACTIVE');
  const full = (await cloud.req('PUT', `/compute/v2.1/servers/${id}`, { token, version: '2.75', body: { server: { name: 'v3' } } })).body.server;
  assert.equal(full['OS-EXT-STS:vm_state'], 'active');
  assert.equal(full['OS-EXT-AZ:availability_zone'], 'nova');
});

test('from 2.74 an admin may ask for a host at create; members may not', async () => {
  const res = await create({ name: 'pinned', host: 'fake-host-2', networks: 'none' }, { token: cloud.adminToken, version: '2.74' });
  assert.equal(res.status, 202, res.text);
  const s = await active(res.body.server.id, cloud.adminToken);
  assert.equal(s['OS-EXT-SRV-ATTR:host'], 'fake-host-2');
  const member = await create({ name: 'pinned', host: 'fake-host-2', networks: 'none' }, { version: '2.74' });
  assert.equal(member.status, 403);
  const unknown = await create({ name: 'pinned', host: 'nowhere', networks: 'none' }, { token: cloud.adminToken, version: '2.74' });
  assert.equal(unknown.status, 400);
  await cloud.req('DELETE', `/compute/v2.1/servers/${res.body.server.id}`, { token: cloud.adminToken });
});

test('2.94 takes a fully qualified hostname and 2.96 shows the pinned availability zone', async () => {
  const token = await newMember('fqdn');
  assert.equal((await create({ name: 'f', hostname: 'web.example.com', networks: 'none' }, { token, version: '2.90' })).status, 400);
  const res = await create({ name: 'f', hostname: 'web.example.com', availability_zone: 'nova', networks: 'none' }, { token, version: '2.94' });
  assert.equal(res.status, 202, res.text);
  await cloud.services.runner.idle();
  const s = (await cloud.req('GET', `/compute/v2.1/servers/${res.body.server.id}`, { token, version: '2.96' })).body.server;
  assert.equal(s['OS-EXT-SRV-ATTR:hostname'], 'web.example.com');
  assert.equal(s.pinned_availability_zone, 'nova');
  const unpinned = (await create({ name: 'g', networks: 'none' }, { token, version: '2.96' })).body.server.id;
  assert.equal((await cloud.req('GET', `/compute/v2.1/servers/${unpinned}`, { token, version: '2.96' })).body.server.pinned_availability_zone, null);
  assert.equal((await cloud.req('GET', `/compute/v2.1/servers/${unpinned}`, { token, version: '2.95' })).body.server.pinned_availability_zone, undefined);
});

test('booting from a volume made from an image shows no image and the attached volume', async () => {
  const token = await newMember('bfv');
  const res = await cloud.req('POST', '/compute/v2.1/servers', {
    token,
    body: { server: { name: 'bfv', flavorRef: '1', block_device_mapping_v2: [{ boot_index: 0, uuid: imageId, source_type: 'image', destination_type: 'volume', volume_size: 1, delete_on_termination: true }] } },
  });
  assert.equal(res.status, 202, res.text);
  const s = await active(res.body.server.id, token);
  assert.equal(s.image, '');
  assert.equal(s['os-extended-volumes:volumes_attached'].length, 1);
  const v23 = (await cloud.req('GET', `/compute/v2.1/servers/${res.body.server.id}`, { token, version: '2.3' })).body.server;
  assert.equal(v23['os-extended-volumes:volumes_attached'][0].delete_on_termination, true);
  const existing = await cloud.req('POST', '/compute/v2.1/servers', {
    token,
    body: { server: { name: 'bfv', flavorRef: '1', block_device_mapping_v2: [{ boot_index: 0, uuid: imageId, source_type: 'volume', destination_type: 'volume' }] } },
  });
  assert.equal(existing.status, 400);
});

test('DELETE is 204, then the server is gone from show and lists but visible to changes-since', async () => {
  const before = new Date(Date.now() - 1000).toISOString();
  const token = await newMember('doomed');
  const id = (await create({ name: 'doomed' }, { token })).body.server.id;
  await active(id, token);
  const res = await cloud.req('DELETE', `/compute/v2.1/servers/${id}`, { token });
  assert.equal(res.status, 204);
  assert.equal(res.text, '');
  await cloud.services.runner.idle();
  assert.equal((await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token })).status, 404);
  const list = await cloud.req('GET', '/compute/v2.1/servers', { token });
  assert.ok(!list.body.servers.some((s: { id: string }) => s.id === id));
  const changes = await cloud.req('GET', `/compute/v2.1/servers/detail?changes-since=${before}`, { token });
  const gone = changes.body.servers.find((s: { id: string }) => s.id === id);
  assert.equal(gone.status, 'DELETED');
  const deleted = await cloud.req('GET', `/compute/v2.1/servers/detail?deleted=true&all_tenants=1`, { token: cloud.adminToken });
  assert.ok(deleted.body.servers.some((s: { id: string }) => s.id === id));
});

test('a multi-create gets as many servers as the quota allows between min_count and max_count', async () => {
  const token = await newMember('multi');
  const res = await create({ name: 'multi', min_count: 2, max_count: 50, return_reservation_id: true }, { token });
  assert.equal(res.status, 202);
  const list = await cloud.req('GET', `/compute/v2.1/servers?reservation_id=${res.body.reservation_id}`, { token });
  assert.equal(list.body.servers.length, 10);
  assert.ok(list.body.servers.some((s: { name: string }) => s.name === 'multi-10'));
});

test('key_name puts the user’s keypair on the server; an unknown one is 400', async () => {
  const token = await newMember('keys');
  const kp = await cloud.req('POST', '/compute/v2.1/os-keypairs', { token, body: { keypair: { name: 'mykey' } } });
  assert.equal(kp.status, 200);
  const id = (await create({ name: 'keyed', key_name: 'mykey' }, { token })).body.server.id;
  assert.equal((await active(id, token)).key_name, 'mykey');
  const bad = await create({ name: 'keyed', key_name: 'nokey' }, { token });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.badRequest.message, 'Invalid key_name provided.');
});

test('metadata and personality over their limits are 403', async () => {
  const metadata = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, 'v']));
  const meta = await create({ name: 'meta', metadata });
  assert.equal(meta.status, 403);
  assert.match(meta.body.forbidden.message, /Maximum number of metadata items exceeds 128/);
  const personality = Array.from({ length: 6 }, (_, i) => ({ path: `/etc/f${i}`, contents: 'aGk=' }));
  const files = await create({ name: 'files', personality });
  assert.equal(files.status, 403);
  assert.match(files.body.forbidden.message, /Personality file limit exceeded/);
});

test('a reader may list servers but not create them', async () => {
  const dir = cloud.services.directory;
  const reader = await dir.createUser({ name: 'reader-user', password: 'reader-pw' });
  const role = (await dir.listRoles({ name: 'reader' }))[0];
  await dir.assignRole(cloud.demoProjectId, reader.id, role.id);
  const token = await cloud.token('reader-user', 'reader-pw', 'demo');
  assert.equal((await cloud.req('GET', '/compute/v2.1/servers', { token })).status, 200);
  const res = await create({ name: 'nope' }, { token });
  assert.equal(res.status, 403);
  assert.match(res.body.forbidden.message, /os_compute_api:servers:create/);
});

test('a server on a network gets a port and an address, shown with its security groups, freed on delete', async () => {
  const token = await newMember('netted');
  const net = (await cloud.req('POST', '/network/v2.0/networks', { token, body: { network: { name: 'private' } } })).body.network;
  const sub = await cloud.req('POST', '/network/v2.0/subnets', { token, body: { subnet: { network_id: net.id, cidr: '10.9.0.0/24', ip_version: 4 } } });
  assert.equal(sub.status, 201, sub.text);
  const id = (await create({ name: 'netted', networks: [{ uuid: net.id }] }, { token })).body.server.id;
  const s = await active(id, token);
  const [addr] = s.addresses.private;
  assert.equal(addr.version, 4);
  assert.match(addr.addr, /^10\.9\.0\.\d+$/);
  assert.equal(addr['OS-EXT-IPS:type'], 'fixed');
  assert.match(addr['OS-EXT-IPS-MAC:mac_addr'], /^fa:16:3e(:[0-9a-f]{2}){3}$/);
  assert.deepEqual(s.security_groups, [{ name: 'default' }]);
  const byIp = await cloud.req('GET', `/compute/v2.1/servers?ip=${addr.addr.replace(/\./g, '\\.')}$`, { token });
  assert.deepEqual(byIp.body.servers.map((x: { id: string }) => x.id), [id]);
  const ports = (await cloud.req('GET', `/network/v2.0/ports?device_id=${id}`, { token })).body.ports;
  assert.equal(ports.length, 1);
  await cloud.req('DELETE', `/compute/v2.1/servers/${id}`, { token });
  await cloud.services.runner.idle();
  assert.deepEqual((await cloud.req('GET', `/network/v2.0/ports?device_id=${id}`, { token })).body.ports, []);
});

test("a requested network's fixed_ip is the server's address (openstack server create --nic net-id=…,v4-fixed-ip=…)", async () => {
  const token = await newMember('fixedip');
  const net = (await cloud.req('POST', '/network/v2.0/networks', { token, body: { network: { name: 'pinned' } } })).body.network;
  await cloud.req('POST', '/network/v2.0/subnets', { token, body: { subnet: { network_id: net.id, cidr: '10.11.0.0/24', ip_version: 4 } } });
  const res = await create({ name: 'pinned', networks: [{ uuid: net.id, fixed_ip: '10.11.0.50' }] }, { token });
  assert.equal(res.status, 202, res.text);
  const s = await active(res.body.server.id, token);
  assert.deepEqual(s.addresses.pinned.map((a: { addr: string }) => a.addr), ['10.11.0.50']);
  const taken = await create({ name: 'again', networks: [{ uuid: net.id, fixed_ip: '10.11.0.50' }] }, { token });
  assert.equal(taken.status, 400, taken.text);
  assert.match(taken.body.badRequest.message, /10\.11\.0\.50 is already in use/);
});

test('an unknown network, or a port already in use, is refused at create', async () => {
  const token = await newMember('badnet');
  const unknown = await create({ name: 'x', networks: [{ uuid: '11111111-2222-3333-4444-555555555555' }] }, { token });
  assert.equal(unknown.status, 400);
  assert.match(unknown.body.badRequest.message, /could not be found/);
  const net = (await cloud.req('POST', '/network/v2.0/networks', { token, body: { network: { name: 'n' } } })).body.network;
  await cloud.req('POST', '/network/v2.0/subnets', { token, body: { subnet: { network_id: net.id, cidr: '10.8.0.0/24', ip_version: 4 } } });
  const port = (await cloud.req('POST', '/network/v2.0/ports', { token, body: { port: { network_id: net.id } } })).body.port;
  const first = await create({ name: 'p1', networks: [{ port: port.id }] }, { token });
  assert.equal(first.status, 202);
  await cloud.services.runner.idle();
  const second = await create({ name: 'p2', networks: [{ port: port.id }] }, { token });
  assert.equal(second.status, 409);
  assert.match(second.body.conflictingRequest.message, /in use/);
});
