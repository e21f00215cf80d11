/**
 * An API node that knows no host with storage yet (before any compute host of a split
 * deployment has registered): a server create is still accepted, as Nova accepts it, and
 * what needs a storage type now is a 503 to try again, never a 500.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, DEMO_PASSWORD, type TestCloud } from '../support.js';

let cloud: TestCloud;
let basic: string;
before(async () => {
  cloud = await startCloud();
  cloud.services.driver.storageTypes = () => [];
  basic = `Basic ${Buffer.from(`demo:${DEMO_PASSWORD}`).toString('base64')}`;
});
after(async () => cloud.close());

test('a server create is accepted while no storage host is known', async () => {
  const image = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
  const res = await cloud.req('POST', '/compute/v2.1/servers', { token: cloud.demoToken, body: { server: { name: 'early', imageRef: image, flavorRef: '1' } } });
  assert.equal(res.status, 202, res.text);
});

test('a CloudSigma drive create is 503 while no storage host is known, in CloudSigma\'s error list', async () => {
  const res = await cloud.req('POST', '/api/2.0/drives/', { headers: { authorization: basic }, body: { objects: [{ name: 'early', size: 2 ** 30, media: 'disk' }] } });
  assert.equal(res.status, 503, res.text);
  assert.match(res.body[0].error_message, /No storage host has registered yet/);
});
