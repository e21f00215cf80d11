import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { MAX_VERSION } from '../../../src/api/compute/microversion.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

// Key sets of Nova's documents (nova-golden 01 and 02).
const VERSION_KEYS = ['id', 'status', 'version', 'min_version', 'updated', 'links'];
const DETAIL_KEYS = [...VERSION_KEYS, 'media-types'];

test('the root lists v2.0 first, then v2.1, without a token', async () => {
  const res = await cloud.req('GET', '/compute/');
  assert.equal(res.status, 200);
  const [v20, v21] = res.body.versions;
  assert.equal(res.body.versions.length, 2);
  assert.deepEqual(Object.keys(v20), VERSION_KEYS);
  assert.deepEqual(Object.keys(v21), VERSION_KEYS);
  assert.deepEqual(v20, {
    id: 'v2.0',
    status: 'SUPPORTED',
    version: '',
    min_version: '',
    updated: '2011-01-21T11:33:21Z',
    links: [{ rel: 'self', href: `${cloud.url}/compute/v2/` }],
  });
  assert.deepEqual(v21, {
    id: 'v2.1',
    status: 'CURRENT',
    version: `${MAX_VERSION}`,
    min_version: '2.1',
    updated: '2013-07-23T11:33:21Z',
    links: [{ rel: 'self', href: `${cloud.url}/compute/v2.1/` }],
  });
});

test('the v2.1 document has its self and describedby links and media type', async () => {
  const res = await cloud.req('GET', '/compute/v2.1/');
  assert.equal(res.status, 200);
  const v = res.body.version;
  assert.deepEqual(Object.keys(v), DETAIL_KEYS);
  assert.equal(v.id, 'v2.1');
  assert.equal(v.version, `${MAX_VERSION}`);
  assert.equal(v.min_version, '2.1');
  assert.deepEqual(v.links, [
    { rel: 'self', href: `${cloud.url}/compute/v2.1/` },
    { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' },
  ]);
  assert.deepEqual(v['media-types'], [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }]);
  assert.equal(res.headers.get('openstack-api-version'), 'compute 2.1');
});

test('the v2 document describes v2.0', async () => {
  const res = await cloud.req('GET', '/compute/v2/');
  assert.equal(res.status, 200);
  assert.deepEqual(Object.keys(res.body.version), DETAIL_KEYS);
  assert.equal(res.body.version.id, 'v2.0');
  assert.equal(res.body.version.links[0].href, `${cloud.url}/compute/v2/`);
  assert.equal(res.body.version.status, 'SUPPORTED');
});

test('every version self link answers, with a token too, and names itself', async () => {
  const root = await cloud.req('GET', '/compute/');
  for (const v of root.body.versions) {
    const href: string = v.links[0].href;
    for (const token of [undefined, cloud.adminToken]) {
      const res = await cloud.req('GET', href.slice(cloud.url.length), { token });
      assert.equal(res.status, 200, href);
      assert.equal(res.body.version.id, v.id);
      assert.equal(res.body.version.links[0].href, href);
    }
  }
});

test('the version documents answer without the trailing slash too', async () => {
  for (const [path, id] of [['/compute/v2', 'v2.0'], ['/compute/v2.1', 'v2.1']]) {
    const res = await cloud.req('GET', path);
    assert.equal(res.status, 200, path);
    assert.equal(res.body.version.id, id);
  }
});
