import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../support.js';
import { moveTag } from '../../src/storage/tags.js';
import { cs, createServer, createDrive } from '../api/cloudsigma/cs.js';
import { tagUuid } from '../../src/api/cloudsigma/tags.js';

/** A tag rename (or delete) rewrites its servers and drives a bounded batch per transaction. */
let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
});
after(() => cloud.close());

test('a tag rename rewrites at most a batch of servers or drives per transaction, and all of them in the end', async () => {
  const servers = await Promise.all(Array.from({ length: 5 }, (_, i) => createServer(cloud, { name: `rn-${i}`, tags: ['old'] })));
  const drives = await Promise.all(Array.from({ length: 5 }, (_, i) => createDrive(cloud, { name: `rn-${i}`, tags: ['old', 'other'] })));
  const batches = await moveTag(cloud.services.db, cloud.services.clock, cloud.demoProjectId, 'old', 'new', { batch: 2 });
  assert.ok(batches.every((n) => n <= 2), batches.join(' '));
  assert.equal(batches.reduce((a, b) => a + b, 0), 10);
  for (const s of servers) assert.deepEqual((await cs(cloud, 'GET', `/servers/${s.uuid}/`)).body.tags.map((t: { uuid: string }) => t.uuid), [tagUuid(cloud.demoProjectId, 'new')]);
  for (const d of drives) assert.deepEqual((await cs(cloud, 'GET', `/drives/${d.uuid}/`)).body.tags.map((t: { uuid: string }) => t.uuid).sort(), [tagUuid(cloud.demoProjectId, 'new'), tagUuid(cloud.demoProjectId, 'other')].sort());
});

test('renaming a tag onto a tag that exists merges them, and a resource carrying both keeps one', async () => {
  const s = await createServer(cloud, { name: 'merge', tags: ['m1', 'm2'] });
  const tag = (await cs(cloud, 'GET', `/tags/${tagUuid(cloud.demoProjectId, 'm1')}/`)).body;
  const put = await cs(cloud, 'PUT', `/tags/${tag.uuid}/`, { body: { name: 'm2' } });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual((await cs(cloud, 'GET', `/servers/${s.uuid}/`)).body.tags.map((t: { name?: string; uuid: string }) => t.uuid), [tagUuid(cloud.demoProjectId, 'm2')]);
});
