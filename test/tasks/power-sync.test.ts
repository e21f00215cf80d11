import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../support.js';
import { syncPowerStates } from '../../src/tasks/power-sync.js';
import { PowerState } from '../../src/virt/driver.js';
import type { FakeDriver } from '../../src/virt/fake/driver.js';

let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
});
after(async () => cloud.close());

test('the power state sync goes through every server a page at a time: guests that powered off on their own are all SHUTOFF', async () => {
  const image = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await cloud.req('POST', '/compute/v2.1/servers', { token: cloud.demoToken, body: { server: { name: `sync-${i}`, imageRef: image, flavorRef: '1' } } });
    assert.equal(r.status, 202, r.text);
    ids.push(r.body.server.id);
  }
  await cloud.services.runner.idle();
  const fake = cloud.services.driver as FakeDriver;
  const rows = await cloud.services.db.selectFrom('servers').select(['id', 'host', 'hostname']).where('id', 'in', ids).execute();
  for (const r of rows) fake.adopt(r.host!, r.id, r.hostname, PowerState.SHUTDOWN); // each guest powered itself off
  await syncPowerStates(cloud.services, 2);
  for (const id of ids) {
    const s = (await cloud.req('GET', `/compute/v2.1/servers/${id}`, { token: cloud.demoToken })).body.server;
    assert.equal(s.status, 'SHUTOFF', id);
    assert.equal(s['OS-EXT-STS:power_state'], PowerState.SHUTDOWN);
  }
});
