import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { colleague, ownServer, tenant } from './server-fixtures.js';

let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
});
after(async () => cloud.close());

const password = (id: string) => `/compute/v2.1/servers/${id}/os-server-password`;

test('GET /os-server-password is an empty password while no guest has posted one', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('GET', password(id), { token });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { password: '' });
});

test('the adminPass given at create is never shown as the server password', async () => {
  const { id, token } = await ownServer(cloud, { adminPass: 'Visible-if-leaked-42' });
  const res = await cloud.req('GET', password(id), { token });
  assert.ok(!res.text.includes('Visible-if-leaked-42'));
});

test('DELETE /os-server-password answers 204 with no body, and the password stays empty', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('DELETE', password(id), { token });
  assert.equal(res.status, 204);
  assert.equal(res.text, '');
  assert.deepEqual((await cloud.req('GET', password(id), { token })).body, { password: '' });
});

test('a reader may read the password but clearing it is 403 by policy', async () => {
  const { id, projectId, name } = await ownServer(cloud);
  const reader = await colleague(cloud, projectId, name, 'pw-reader', 'reader');
  assert.equal((await cloud.req('GET', password(id), { token: reader })).status, 200);
  const res = await cloud.req('DELETE', password(id), { token: reader });
  assert.equal(res.status, 403);
  assert.equal(res.body.forbidden.message, "Policy doesn't allow os_compute_api:os-server-password:clear to be performed.");
});

test('another project’s server is 404 for GET and DELETE', async () => {
  const { id } = await ownServer(cloud);
  const stranger = await tenant(cloud, 'pw-stranger');
  for (const method of ['GET', 'DELETE']) {
    const res = await cloud.req(method, password(id), { token: stranger.token });
    assert.equal(res.status, 404, method);
    assert.equal(res.body.itemNotFound.message, `Instance ${id} could not be found.`);
  }
});

test('an admin may read and clear any project’s server password', async () => {
  const { id } = await ownServer(cloud);
  assert.deepEqual((await cloud.req('GET', password(id), { token: cloud.adminToken })).body, { password: '' });
  assert.equal((await cloud.req('DELETE', password(id), { token: cloud.adminToken })).status, 204);
});
