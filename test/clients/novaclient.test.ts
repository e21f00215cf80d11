/**
 * python3-novaclient's Python API (through Debian's /usr/bin/python3, with a keystoneauth1
 * Password session built from the values clouds.yaml holds) driving servers against a
 * `nimbus serve` process: create and poll to ACTIVE, list with search_opts, get, metadata,
 * tags (2.26) and delete until NotFound. Each simulated hypervisor operation takes a little
 * time here, so the polling sees BUILD and the delete in progress as a real cloud shows them.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { DEMO_PASSWORD, freshDatabase, startProcess } from '../support.js';

/** Debian's python3 with Debian's novaclient, never a python3 earlier on PATH. */
const PYTHON = '/usr/bin/python3';
const pythonEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OS_|PYTHON)/.test(k)));
const skip = !existsSync(PYTHON)
  ? `${PYTHON} is absent: install python3 and python3-novaclient (.ci/run does)`
  : spawnSync(PYTHON, ['-c', 'import novaclient, keystoneauth1'], { env: pythonEnv }).status !== 0
    ? `${PYTHON} cannot import novaclient and keystoneauth1: install python3-novaclient (.ci/run does)`
    : false;

let proc: Awaited<ReturnType<typeof startProcess>> | undefined;
let dropDatabase: () => Promise<void> = async () => {};

before(async () => {
  if (skip) return;
  const database = await freshDatabase();
  dropDatabase = database.drop;
  proc = await startProcess({
    NIMBUS_DEMO_PASSWORD: DEMO_PASSWORD,
    NIMBUS_FAKE_OPERATION_MS: '150',
    ...(database.url ? { NIMBUS_DATABASE_URL: database.url } : {}),
  });
});

after(async () => {
  await proc?.stop();
  await dropDatabase();
  if (proc) rmSync(proc.dataDir, { recursive: true, force: true });
});

/** What every script starts with: a session as the demo user, a client, and helpers. */
const PRELUDE = `
import json, os, sys, time
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from novaclient import client, exceptions

auth = v3.Password(
    auth_url=os.environ['OS_AUTH_URL'], username=os.environ['OS_USERNAME'], password=os.environ['OS_PASSWORD'],
    project_name=os.environ['OS_PROJECT_NAME'], user_domain_name=os.environ['OS_USER_DOMAIN_NAME'],
    project_domain_name=os.environ['OS_PROJECT_DOMAIN_NAME'])
sess = ks_session.Session(auth=auth)
nova = client.Client(os.environ['NOVA_API_VERSION'], session=sess, region_name=os.environ['OS_REGION_NAME'])
args = json.loads(os.environ['SCRIPT_ARGS'])

def result(value):
    print('@@RESULT ' + json.dumps(value, default=str))

def poll(server_id, until, timeout=120):
    """Gets the server until its status is not in 'until'; returns the statuses seen and the last server."""
    seen, deadline = [], time.time() + timeout
    while True:
        s = nova.servers.get(server_id)
        if not seen or seen[-1] != s.status:
            seen.append(s.status)
        if s.status not in until or time.time() > deadline:
            return seen, s
        time.sleep(0.1)
`;

/** Runs a novaclient script as the demo user at a compute microversion; returns what it passed to result(). */
function novaclient(script: string, args: unknown = {}, version = '2.1'): Promise<any> {
  const env = {
    ...pythonEnv,
    LC_ALL: 'C.UTF-8',
    OS_AUTH_URL: `${proc!.url}/identity/v3`,
    OS_USERNAME: 'demo',
    OS_PASSWORD: DEMO_PASSWORD,
    OS_PROJECT_NAME: 'demo',
    OS_USER_DOMAIN_NAME: 'Default',
    OS_PROJECT_DOMAIN_NAME: 'Default',
    OS_REGION_NAME: 'RegionOne',
    NOVA_API_VERSION: version,
    SCRIPT_ARGS: JSON.stringify(args),
  };
  return new Promise((resolve, reject) => {
    execFile(PYTHON, ['-c', PRELUDE + script], { env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith('@@RESULT '));
      if (err || !line) reject(new Error(`novaclient script failed (${err?.code ?? err?.signal ?? 'no result'}):\n${stderr}${stdout}\n--- nimbus said:\n${proc?.output().slice(-4000)}`));
      else resolve(JSON.parse(line.slice('@@RESULT '.length)));
    });
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const suffix = randomBytes(3).toString('hex');
const web = `nc-web-${suffix}`;
const db = `nc-db-${suffix}`;
const ids: Record<string, string> = {};
let imageId = '';

test('servers.create returns at once with an id and adminPass; polling servers.get sees BUILD, then ACTIVE', { skip }, async () => {
  const r = await novaclient(`
image = nova.glance.find_image('nimbus-demo')
out = {'image_id': image.id, 'servers': {}}
for name, flavor, meta in args['servers']:
    s = nova.servers.create(name, image, nova.flavors.find(name=flavor), meta=meta)
    seen, final = poll(s.id, until=('BUILD',))
    out['servers'][name] = {'id': s.id, 'adminPass': s.adminPass, 'seen': seen, 'final': final.to_dict()}
result(out)
`, { servers: [[web, 'm1.tiny', { role: 'web' }], [db, 'm1.small', { role: 'db' }]] });
  imageId = r.image_id;
  assert.match(imageId, UUID);
  for (const [name, flavorId] of [[web, '1'], [db, '2']]) {
    const s = r.servers[name];
    assert.match(s.id, UUID);
    assert.equal(typeof s.adminPass, 'string');
    assert.ok(s.adminPass.length >= 8);
    assert.deepEqual(s.seen, ['BUILD', 'ACTIVE'], `${name} went from BUILD to ACTIVE`);
    assert.equal(s.final.name, name);
    assert.equal(s.final.status, 'ACTIVE');
    assert.equal(s.final.progress, 100);
    assert.equal(s.final['OS-EXT-STS:vm_state'], 'active');
    assert.equal(s.final.flavor.id, flavorId);
    assert.equal(s.final.image.id, imageId);
    ids[name] = s.id;
  }
});

test('servers.list with search_opts: name, status, flavor and image filter; detailed=False gives ids and names', { skip }, async () => {
  const r = await novaclient(`
def names(**opts):
    return sorted(s.name for s in nova.servers.list(search_opts=opts))
result({
    'all': names(),
    'name': names(name='^nc-web-'),
    'active': names(status='ACTIVE'),
    'error': names(status='ERROR'),
    'small': names(flavor='2'),
    'image': names(image=args['image']),
    'together': names(image=args['image'], flavor='1', status='ACTIVE', name='nc-'),
    'brief': [s.to_dict() for s in nova.servers.list(detailed=False, search_opts={'name': '^nc-db-'})],
})
`, { image: imageId });
  assert.deepEqual(r.all, [db, web].sort());
  assert.deepEqual(r.name, [web]);
  assert.deepEqual(r.active, [db, web].sort());
  assert.deepEqual(r.error, []);
  assert.deepEqual(r.small, [db]);
  assert.deepEqual(r.image, [db, web].sort());
  assert.deepEqual(r.together, [web]);
  assert.equal(r.brief.length, 1);
  assert.equal(r.brief[0].id, ids[db]);
  assert.equal(r.brief[0].name, db);
  assert.deepEqual(Object.keys(r.brief[0]).sort(), ['id', 'links', 'name']);
});

test('servers.get shows the server with the attributes of the reference; an unknown id is NotFound', { skip }, async () => {
  const r = await novaclient(`
s = nova.servers.get(args['id'])
try:
    nova.servers.get('00000000-0000-4000-8000-000000000000')
    missing = None
except exceptions.NotFound as e:
    missing = {'code': e.code, 'message': e.message}
result({'server': s.to_dict(), 'missing': missing})
`, { id: ids[web] });
  const s = r.server;
  assert.equal(s.id, ids[web]);
  assert.equal(s.name, web);
  assert.equal(s.status, 'ACTIVE');
  assert.deepEqual(s.metadata, { role: 'web' });
  assert.equal(s.flavor.id, '1');
  assert.equal(s.image.id, imageId);
  assert.deepEqual(Object.keys(s.addresses), ['private'], 'created with no networks: the demo project’s only one');
  assert.equal(s.key_name, null);
  assert.equal(s['OS-EXT-STS:task_state'], null);
  assert.equal(s['OS-EXT-STS:power_state'], 1);
  assert.equal(s['OS-EXT-AZ:availability_zone'], 'nova');
  assert.match(s.hostId, /^[0-9a-f]{56}$/);
  assert.match(s.tenant_id, /^[0-9a-f]{32}$/);
  assert.match(s.user_id, /^[0-9a-f]{32}$/);
  assert.match(s.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(s.links.some((l: any) => l.rel === 'self' && l.href.endsWith(`/servers/${ids[web]}`)));
  assert.equal(s.adminPass, undefined);
  assert.equal(s['OS-EXT-SRV-ATTR:host'], undefined, 'host attributes are for admins');
  assert.deepEqual(r.missing, { code: 404, message: 'Instance 00000000-0000-4000-8000-000000000000 could not be found.' });
});

test('servers.set_meta adds and replaces keys, servers.delete_meta removes them', { skip }, async () => {
  const r = await novaclient(`
s = nova.servers.get(args['id'])
returned = nova.servers.set_meta(s, {'color': 'blue', 'role': 'frontend'})
after_set = nova.servers.get(s.id).metadata
nova.servers.delete_meta(s, ['color'])
after_delete = nova.servers.get(s.id).metadata
other = nova.servers.get(args['other']).metadata
result({'returned': returned.to_dict(), 'after_set': after_set, 'after_delete': after_delete, 'other': other})
`, { id: ids[web], other: ids[db] });
  assert.deepEqual(r.returned, { color: 'blue', role: 'frontend' });
  assert.deepEqual(r.after_set, { color: 'blue', role: 'frontend' });
  assert.deepEqual(r.after_delete, { role: 'frontend' });
  assert.deepEqual(r.other, { role: 'db' }, 'the other server is untouched');
});

test('servers.add_tag / tag_list / delete_tag at 2.26, and listing by tags', { skip }, async () => {
  const r = await novaclient(`
s = nova.servers.get(args['id'])
nova.servers.add_tag(s, 'prod')
nova.servers.add_tag(s, 'eu')
tags = sorted(nova.servers.tag_list(s))
shown = sorted(nova.servers.get(s.id).tags)
tagged = [x.name for x in nova.servers.list(search_opts={'tags': 'prod'})]
nova.servers.delete_tag(s, 'prod')
result({
    'tags': tags, 'shown': shown, 'tagged': tagged,
    'after_delete': nova.servers.tag_list(s),
    'tagged_after': [x.name for x in nova.servers.list(search_opts={'tags': 'prod'})],
    'not_tagged': sorted(x.name for x in nova.servers.list(search_opts={'not-tags': 'eu'})),
})
`, { id: ids[web] }, '2.26');
  assert.deepEqual(r.tags, ['eu', 'prod']);
  assert.deepEqual(r.shown, ['eu', 'prod']);
  assert.deepEqual(r.tagged, [web]);
  assert.deepEqual(r.after_delete, ['eu']);
  assert.deepEqual(r.tagged_after, []);
  assert.deepEqual(r.not_tagged, [db]);
});

test('servers.list as a member: all_tenants and sort_keys=[host] are Forbidden with Nova’s messages', { skip }, async () => {
  const r = await novaclient(`
out = {}
for label, kwargs in [('all_tenants', {'search_opts': {'all_tenants': True}}), ('sort_host', {'sort_keys': ['host'], 'sort_dirs': ['asc']})]:
    try:
        nova.servers.list(**kwargs)
        out[label] = None
    except exceptions.Forbidden as e:
        out[label] = {'code': e.code, 'message': e.message}
result(out)
`);
  assert.deepEqual(r.all_tenants, { code: 403, message: "Policy doesn't allow os_compute_api:servers:detail:get_all_tenants to be performed." });
  assert.deepEqual(r.sort_host, { code: 403, message: 'Only administrators can sort servers by host' });
});

test('servers.delete, then servers.get until NotFound; the server is gone from the list', { skip }, async () => {
  const r = await novaclient(`
out = {}
for name, server_id in args['ids'].items():
    nova.servers.delete(server_id)
    seen, deadline = [], time.time() + 120
    while True:
        try:
            s = nova.servers.get(server_id)
        except exceptions.NotFound as e:
            seen.append('NotFound %d' % e.code)
            break
        state = '%s/%s' % (s.status, getattr(s, 'OS-EXT-STS:task_state'))
        if not seen or seen[-1] != state:
            seen.append(state)
        if time.time() > deadline:
            break
        time.sleep(0.1)
    out[name] = seen
out['left'] = [s.name for s in nova.servers.list()]
result(out)
`, { ids });
  for (const name of [web, db]) {
    const seen: string[] = r[name];
    assert.equal(seen.at(-1), 'NotFound 404', `${name}: ${seen}`);
    assert.ok(seen.slice(0, -1).every((s) => s === 'ACTIVE/deleting'), `${name} was deleting until gone: ${seen}`);
  }
  assert.deepEqual(r.left, []);
});
