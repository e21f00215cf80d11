/**
 * Only what the caller can see counts: each test names another project's image, flavor,
 * server, network or project from the attacking project's side and gets what Nova answers
 * when the thing does not exist.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, memberOfNewProject, type TestCloud } from '../../support.js';

let cloud: TestCloud;
let publicImage: string;
type Member = { token: string; projectId: string };
let victim: Member;
let attacker: Member;
/** An active image private to the victim's project. */
let privateImage: string;
/** The attacker's ACTIVE server. */
let attackerServer: string;
const MISSING = '00000000-0000-4000-8000-000000000000';

before(async () => {
  cloud = await startCloud();
  publicImage = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
  victim = await memberOfNewProject(cloud, 'victim');
  attacker = await memberOfNewProject(cloud, 'attacker');
  const made = await cloud.req('POST', '/image/v2/images', {
    token: victim.token,
    body: { name: 'victim-private', disk_format: 'raw', container_format: 'bare', visibility: 'private' },
  });
  assert.equal(made.status, 201, made.text);
  privateImage = made.body.id;
  const upload = await cloud.req('PUT', `/image/v2/images/${privateImage}/file`, { token: victim.token, raw: Buffer.alloc(1024), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(upload.status, 204, upload.text);
  attackerServer = await boot(attacker.token, { name: 'attacker-vm' });
});
after(async () => cloud.close());

async function boot(token: string, server: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await cloud.req('POST', '/compute/v2.1/servers', { token, body: { server: { imageRef: publicImage, flavorRef: '1', ...server }, ...extra } });
  assert.equal(res.status, 202, res.text);
  await cloud.services.runner.idle();
  return res.body.server.id;
}

const act = (id: string, body: unknown, token = attacker.token) => cloud.req('POST', `/compute/v2.1/servers/${id}/action`, { token, body });
const show = async (id: string, token = attacker.token) => (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token })).body.server;

test("rescue with another project's private image is 400, as for an image that does not exist", async () => {
  const id = await boot(attacker.token, { name: 'rescue-me' });
  const res = await act(id, { rescue: { rescue_image_ref: privateImage } });
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.badRequest.message, `Requested rescue image '${privateImage}' is not supported`);
  const missing = await act(id, { rescue: { rescue_image_ref: MISSING } });
  assert.equal(missing.body.badRequest.message, `Requested rescue image '${MISSING}' is not supported`);
  await cloud.services.runner.idle();
  assert.equal((await show(id)).status, 'ACTIVE');
});

test("rescue with an image the caller's project owns is accepted", async () => {
  const own = await memberOfNewProject(cloud, 'rescuer');
  const id = await boot(own.token, { name: 'rescuee' });
  const image = (await cloud.req('POST', '/image/v2/images', { token: own.token, body: { name: 'own-rescue', disk_format: 'raw', container_format: 'bare', visibility: 'private' } })).body.id;
  const res = await act(id, { rescue: { rescue_image_ref: image } }, own.token);
  assert.equal(res.status, 200, res.text);
  await cloud.services.runner.idle();
  assert.equal((await show(id, own.token)).status, 'RESCUE');
});

test("create with another project's private image is 400 Can not find requested image, as for one that does not exist", async () => {
  for (const imageRef of [privateImage, MISSING]) {
    const res = await cloud.req('POST', '/compute/v2.1/servers', { token: attacker.token, body: { server: { name: 'steal', imageRef, flavorRef: '1' } } });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.badRequest.message, 'Can not find requested image');
  }
});

test("boot from a volume of another project's private image is 400 too", async () => {
  const res = await cloud.req('POST', '/compute/v2.1/servers', {
    token: attacker.token,
    body: { server: { name: 'bfv', imageRef: '', flavorRef: '1', block_device_mapping_v2: [{ boot_index: 0, source_type: 'image', destination_type: 'volume', uuid: privateImage, volume_size: 1 }] } },
  });
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.badRequest.message, 'Can not find requested image');
});

test("rebuild with another project's private image is 400 Cannot find image for rebuild", async () => {
  const res = await act(attackerServer, { rebuild: { imageRef: privateImage } });
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.badRequest.message, 'Cannot find image for rebuild');
  assert.equal((await show(attackerServer)).image.id, publicImage);
});

test('resize to a private flavor the project has no access to is 400, as for a flavor that does not exist', async () => {
  const flavor = await cloud.req('POST', '/compute/v2.1/flavors', {
    token: cloud.adminToken,
    body: { flavor: { name: 'victim-only', id: 'victim-only', ram: 1024, vcpus: 1, disk: 2, 'os-flavor-access:is_public': false } },
  });
  assert.equal(flavor.status, 200, flavor.text);
  const grant = await cloud.req('POST', '/compute/v2.1/flavors/victim-only/action', { token: cloud.adminToken, body: { addTenantAccess: { tenant: victim.projectId } } });
  assert.equal(grant.status, 200, grant.text);
  const res = await act(attackerServer, { resize: { flavorRef: 'victim-only' } });
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.badRequest.message, 'Flavor victim-only could not be found.');
  const create = await cloud.req('POST', '/compute/v2.1/servers', { token: attacker.token, body: { server: { name: 'f', imageRef: publicImage, flavorRef: 'victim-only' } } });
  assert.equal(create.status, 400, create.text);
  assert.equal(create.body.badRequest.message, 'Flavor victim-only could not be found.');
});

test("a same_host hint naming another project's server places nothing next to it", async () => {
  const target = await boot(victim.token, { name: 'victim-vm' });
  const host = (await show(target, cloud.adminToken))['OS-EXT-SRV-ATTR:host'];
  // With the victim's host down, a hint that counted would leave no valid host at all.
  const down = await cloud.req('PUT', `/nimbus/v1/hosts/${host}`, { token: cloud.adminToken, body: { host: { state: 'down' } } });
  assert.equal(down.status, 200, down.text);
  try {
    const id = await boot(attacker.token, { name: 'neighbour' }, { 'os:scheduler_hints': { same_host: [target] } });
    const s = await show(id);
    assert.equal(s.status, 'ACTIVE', JSON.stringify(s.fault));
    assert.notEqual((await show(id, cloud.adminToken))['OS-EXT-SRV-ATTR:host'], host);
  } finally {
    await cloud.req('PUT', `/nimbus/v1/hosts/${host}`, { token: cloud.adminToken, body: { host: { state: 'up' } } });
  }
});

test("a server on another project's external network that is not shared is 403, as Nova's ExternalNetworkAttachForbidden", async () => {
  const net = await cloud.req('POST', '/network/v2.0/networks', { token: cloud.adminToken, body: { network: { name: 'public', 'router:external': true } } });
  assert.equal(net.status, 201, net.text);
  await cloud.req('POST', '/network/v2.0/subnets', { token: cloud.adminToken, body: { subnet: { network_id: net.body.network.id, cidr: '172.24.4.0/24', ip_version: 4 } } });
  const res = await cloud.req('POST', '/compute/v2.1/servers', {
    token: attacker.token,
    body: { server: { name: 'ext', imageRef: publicImage, flavorRef: '1', networks: [{ uuid: net.body.network.id }] } },
  });
  assert.equal(res.status, 403, res.text);
  assert.equal(res.body.forbidden.message, `It is not allowed to create an interface on external network ${net.body.network.id}`);
});

test('quota defaults of another project answer 200 whether or not the project exists', async () => {
  const other = await cloud.req('GET', `/compute/v2.1/os-quota-sets/${victim.projectId}/defaults`, { token: attacker.token });
  const none = await cloud.req('GET', `/compute/v2.1/os-quota-sets/no-such-project/defaults`, { token: attacker.token });
  assert.equal(other.status, 200, other.text);
  assert.equal(none.status, 200, none.text);
  const { id: _a, ...otherDefaults } = other.body.quota_set;
  const { id: _b, ...noneDefaults } = none.body.quota_set;
  assert.deepEqual(noneDefaults, otherDefaults);
  assert.equal(none.body.quota_set.id, 'no-such-project');
});

test('quota defaults of a project that does not exist are 400 for an admin, who may look it up', async () => {
  const res = await cloud.req('GET', `/compute/v2.1/os-quota-sets/no-such-project/defaults`, { token: cloud.adminToken });
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.badRequest.message, 'Project ID no-such-project is not a valid project.');
});
