import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { fault } from './accounts.js';

let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
});
after(async () => cloud.close());

const PATH = '/compute/v2.1/extensions';

test("the list is Nova 2.1's static extension list, in its order and shape", async () => {
  const res = await cloud.req('GET', PATH, { token: cloud.demoToken });
  assert.equal(res.status, 200);
  const { extensions } = res.body;
  assert.equal(extensions.length, 99);
  assert.deepEqual(extensions[0], {
    alias: 'NMN',
    description: 'Multiple network support.',
    links: [],
    name: 'Multinic',
    namespace: 'http://docs.openstack.org/compute/ext/fake_xml',
    updated: '2014-12-03T00:00:00Z',
  });
  assert.equal(extensions.at(-1).alias, 'os-volumes');
  for (const e of extensions) assert.deepEqual(Object.keys(e), ['alias', 'description', 'links', 'name', 'namespace', 'updated']);
  assert.equal(new Set(extensions.map((e: { alias: string }) => e.alias)).size, 99);
});

test('one extension is shown by its alias', async () => {
  const res = await cloud.req('GET', `${PATH}/os-consoles`, { token: cloud.demoToken });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, {
    extension: {
      alias: 'os-consoles',
      description: 'Interactive Console support.',
      links: [],
      name: 'Consoles',
      namespace: 'http://docs.openstack.org/compute/ext/fake_xml',
      updated: '2014-12-03T00:00:00Z',
    },
  });
});

test('an unknown alias is 404', async () => {
  const res = await cloud.req('GET', `${PATH}/os-nothing`, { token: cloud.demoToken });
  assert.equal(res.status, 404);
  assert.deepEqual(fault(res.body), { name: 'itemNotFound', code: 404, message: 'The resource could not be found.' });
});

test('extensions answer at every microversion', async () => {
  for (const version of ['2.1', '2.36', 'latest']) {
    const res = await cloud.req('GET', `${PATH}/OS-DCF`, { token: cloud.demoToken, version });
    assert.equal(res.status, 200, version);
    assert.equal(res.body.extension.name, 'DiskConfig');
  }
});

test('extensions need a token', async () => {
  const res = await cloud.req('GET', PATH);
  assert.equal(res.status, 401);
});

test('extensions are read-only: other methods are 405', async () => {
  const res = await cloud.req('POST', PATH, { token: cloud.adminToken, body: {} });
  assert.equal(res.status, 405);
});
