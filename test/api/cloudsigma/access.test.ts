/**
 * Who may reach what through the CloudSigma face, route by route: another project's
 * servers, drives, snapshots and tags do not exist for it (404 notexist, to read, edit,
 * delete or act on), and a reader of the project may read but not change them (403
 * permission), with the same roles and policy as the OpenStack face.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { memberOfNewProject, startCloud, type TestCloud } from '../../support.js';
import { assertError, basic, createDrive, createServer, cs } from './cs.js';

let cloud: TestCloud;
let outsider: string;
let reader: string;
const owned: Record<string, string> = {};

before(async () => {
  cloud = await startCloud();
  await memberOfNewProject(cloud, 'cs-outsider');
  outsider = basic('cs-outsider-user', 'cs-outsider-pw');
  const user = await cloud.req('POST', '/identity/v3/users', { token: cloud.adminToken, body: { user: { name: 'cs-reader', password: 'cs-reader-pw', default_project_id: cloud.demoProjectId } } });
  const role = (await cloud.req('GET', '/identity/v3/roles?name=reader', { token: cloud.adminToken })).body.roles[0].id;
  await cloud.req('PUT', `/identity/v3/projects/${cloud.demoProjectId}/users/${user.body.user.id}/roles/${role}`, { token: cloud.adminToken });
  reader = basic('cs-reader', 'cs-reader-pw');
  owned.servers = (await createServer(cloud)).uuid;
  owned.drives = (await createDrive(cloud)).uuid;
  const snap = await cs(cloud, 'POST', '/snapshots/', { body: { drive: owned.drives } });
  assert.equal(snap.status, 201, snap.text);
  owned.snapshots = snap.body.objects[0].uuid;
  const tag = await cs(cloud, 'POST', '/tags/', { body: { name: 'access-tag' } });
  assert.equal(tag.status, 201, tag.text);
  owned.tags = tag.body.objects[0].uuid;
  await cloud.services.runner.idle();
});
after(async () => cloud.close());

const ACTIONS: Record<string, string> = { servers: 'start', drives: 'clone', snapshots: 'clone' };

for (const kind of ['servers', 'drives', 'snapshots', 'tags']) {
  test(`another project's ${kind} are 404 to read, edit, delete and act on`, async () => {
    const path = `/${kind}/${owned[kind]}/`;
    assertError(await cs(cloud, 'GET', path, { auth: outsider }), 404, 'notexist');
    assertError(await cs(cloud, 'PUT', path, { auth: outsider, body: { name: 'taken' } }), 404, 'notexist');
    assertError(await cs(cloud, 'DELETE', path, { auth: outsider }), 404, 'notexist');
    if (ACTIONS[kind]) assertError(await cs(cloud, 'POST', `${path}action/?do=${ACTIONS[kind]}`, { auth: outsider, body: {} }), 404, 'notexist');
    const listed = await cs(cloud, 'GET', `/${kind}/?limit=0`, { auth: outsider });
    assert.equal(listed.status, 200, listed.text);
    assert.ok(!listed.body.objects.some((o: { uuid: string }) => o.uuid === owned[kind]));
    assert.equal((await cs(cloud, 'GET', path)).status, 200, 'still there for its owner');
  });

  test(`a reader of the project may read its ${kind} but not change them: 403`, async () => {
    const path = `/${kind}/${owned[kind]}/`;
    assert.equal((await cs(cloud, 'GET', path, { auth: reader })).status, 200);
    assertError(await cs(cloud, 'PUT', path, { auth: reader, body: { name: 'renamed' } }), 403, 'permission');
    assertError(await cs(cloud, 'DELETE', path, { auth: reader }), 403, 'permission');
    if (ACTIONS[kind]) assertError(await cs(cloud, 'POST', `${path}action/?do=${ACTIONS[kind]}`, { auth: reader, body: {} }), 403, 'permission');
  });
}

const CREATES: [string, unknown][] = [
  ['/drives/', { name: 'r', size: 1073741824, media: 'disk' }],
  ['/snapshots/', { drive: 'DRIVE' }],
  ['/tags/', { name: 'reader-tag' }],
];
for (const [path, body] of CREATES) {
  test(`a reader's POST ${path} is 403`, async () => {
    const b = JSON.parse(JSON.stringify(body).replace('"DRIVE"', JSON.stringify(owned.drives)));
    assertError(await cs(cloud, 'POST', path, { auth: reader, body: b }), 403, 'permission');
  });
}

// Routes under a resource of the project: another project's is 404 there too.
const SUBROUTES: [string, string][] = [
  ['tags', 'servers/detail/'],
  ['tags', 'servers/'],
  ['tags', 'drives/detail/'],
  ['tags', 'drives/'],
  ['servers', 'context/'],
];
for (const [kind, sub] of SUBROUTES) {
  test(`another project's /${kind}/{uuid}/${sub} is 404; the project's reader reads it`, async () => {
    const path = `/${kind}/${owned[kind]}/${sub}`;
    assertError(await cs(cloud, 'GET', path, { auth: outsider }), 404, 'notexist');
    assert.equal((await cs(cloud, 'GET', path, { auth: reader })).status, 200);
  });
}

test('the global context is the project\'s: a reader reads it but may not set it (403), another project has its own', async () => {
  assert.equal((await cs(cloud, 'POST', '/global_context/', { body: { owner: 'demo' } })).status, 200);
  assert.deepEqual((await cs(cloud, 'GET', '/global_context/', { auth: reader })).body, { owner: 'demo' });
  assertError(await cs(cloud, 'POST', '/global_context/', { auth: reader, body: { owner: 'reader' } }), 403, 'permission');
  assert.deepEqual((await cs(cloud, 'GET', '/global_context/', { auth: outsider })).body, {});
});
