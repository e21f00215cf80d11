import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { MAX_VERSION } from '../../../src/api/compute/microversion.js';
import { fault } from './accounts.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

const get = (headers: Record<string, string> = {}) => cloud.req('GET', '/compute/v2.1/flavors/1', { token: cloud.adminToken, headers });

function assertVersion(res: { headers: Headers }, version: string) {
  assert.equal(res.headers.get('openstack-api-version'), `compute ${version}`);
  assert.equal(res.headers.get('x-openstack-nova-api-version'), version);
  const vary = (res.headers.get('vary') ?? '').split(',').map((s) => s.trim().toLowerCase());
  assert.ok(vary.includes('openstack-api-version'), `vary: ${vary}`);
  assert.ok(vary.includes('x-openstack-nova-api-version'), `vary: ${vary}`);
}

test('without a version header a request gets 2.1', async () => {
  const res = await get();
  assert.equal(res.status, 200);
  assertVersion(res, '2.1');
  assert.equal(res.body.flavor.swap, ''); // the 2.1 view
});

test('OpenStack-API-Version: compute 2.55 is honoured and echoed', async () => {
  const res = await get({ 'openstack-api-version': 'compute 2.55' });
  assert.equal(res.status, 200);
  assertVersion(res, '2.55');
  assert.ok('description' in res.body.flavor);
});

test('the compute entry is found among other services in OpenStack-API-Version', async () => {
  const res = await get({ 'openstack-api-version': 'volume 3.0, compute 2.60' });
  assertVersion(res, '2.60');
});

test('an OpenStack-API-Version for another service only leaves the default', async () => {
  const res = await get({ 'openstack-api-version': 'volume 3.44' });
  assertVersion(res, '2.1');
});

test('the legacy X-OpenStack-Nova-API-Version header is honoured and echoed in both headers', async () => {
  const res = await get({ 'x-openstack-nova-api-version': '2.61' });
  assert.equal(res.status, 200);
  assertVersion(res, '2.61');
  assert.ok('extra_specs' in res.body.flavor);
});

test('OpenStack-API-Version wins over the legacy header', async () => {
  const res = await get({ 'openstack-api-version': 'compute 2.55', 'x-openstack-nova-api-version': '2.61' });
  assertVersion(res, '2.55');
});

test('latest means the newest microversion', async () => {
  const res = await get({ 'openstack-api-version': 'compute latest' });
  assert.equal(res.status, 200);
  assertVersion(res, `${MAX_VERSION}`);
  assert.equal(res.body.flavor.swap, 0);
});

test('an unsupported version is 406 computeFault, still echoing the version asked for', async () => {
  const res = await get({ 'openstack-api-version': 'compute 9.99' });
  assert.equal(res.status, 406);
  assertVersion(res, '9.99');
  assert.deepEqual(fault(res.body), {
    name: 'computeFault',
    code: 406,
    message: `Version 9.99 is not supported by the API. Minimum is 2.1 and maximum is ${MAX_VERSION}.`,
  });
});

test('a version below 2.1 is 406 too', async () => {
  const res = await get({ 'x-openstack-nova-api-version': '2.0' });
  assert.equal(res.status, 406);
  assert.equal(fault(res.body).name, 'computeFault');
});

test('a malformed version is 400 badRequest without version headers', async () => {
  for (const bad of ['2.x', '2', 'two', '2.01', 'Latest']) {
    const res = await get({ 'openstack-api-version': `compute ${bad}` });
    assert.equal(res.status, 400, bad);
    assert.deepEqual(fault(res.body), {
      name: 'badRequest',
      code: 400,
      message: `API Version String ${bad} is of invalid format. Must be of format MajorNum.MinorNum.`,
    });
    assert.equal(res.headers.get('openstack-api-version'), null);
  }
});

test('the version documents negotiate too', async () => {
  const res = await cloud.req('GET', '/compute/v2.1/', { version: '2.55' });
  assert.equal(res.status, 200);
  assertVersion(res, '2.55');
});
