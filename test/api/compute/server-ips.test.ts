import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { colleague, ownServer, setServer, tenant } from './server-fixtures.js';

let cloud: TestCloud;
before(async () => {
  cloud = await startCloud();
});
after(async () => cloud.close());

const ips = (id: string, suffix = '') => `/compute/v2.1/servers/${id}/ips${suffix}`;

/** Addresses as the servers view stores them, extensions included. */
const ADDRESSES = {
  private: [
    { version: 4, addr: '10.0.0.5', 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': 'fa:16:3e:00:00:01' },
    { version: 6, addr: 'fd00::5', 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': 'fa:16:3e:00:00:01' },
  ],
  'my net': [{ version: 4, addr: '192.168.1.9', 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': 'fa:16:3e:00:00:02' }],
};

async function addressedServer() {
  const s = await ownServer(cloud);
  await setServer(cloud, s.id, { addresses: JSON.stringify(ADDRESSES) });
  return s;
}

test('GET /ips lists the addresses by network with version and addr only', async () => {
  const { id, token } = await addressedServer();
  const res = await cloud.req('GET', ips(id), { token });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, {
    addresses: {
      private: [
        { version: 4, addr: '10.0.0.5' },
        { version: 6, addr: 'fd00::5' },
      ],
      'my net': [{ version: 4, addr: '192.168.1.9' }],
    },
  });
});

test('GET /ips of a server without addresses is an empty object', async () => {
  const { id, token } = await ownServer(cloud);
  const res = await cloud.req('GET', ips(id), { token });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { addresses: {} });
});

test('GET /ips/{network} shows one network’s addresses under its name', async () => {
  const { id, token } = await addressedServer();
  const res = await cloud.req('GET', ips(id, '/private'), { token });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { private: [{ version: 4, addr: '10.0.0.5' }, { version: 6, addr: 'fd00::5' }] });
  const spaced = await cloud.req('GET', ips(id, '/my%20net'), { token });
  assert.deepEqual(spaced.body, { 'my net': [{ version: 4, addr: '192.168.1.9' }] });
});

test('GET /ips/{network} of a network the server is not on is 404 with Nova’s message', async () => {
  const { id, token } = await addressedServer();
  const res = await cloud.req('GET', ips(id, '/invalid'), { token });
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, { itemNotFound: { code: 404, message: 'Instance is not a member of specified network' } });
});

test('another project’s server is 404 for /ips and /ips/{network}', async () => {
  const { id } = await addressedServer();
  const stranger = await tenant(cloud, 'ips-stranger');
  for (const path of [ips(id), ips(id, '/private')]) {
    const res = await cloud.req('GET', path, { token: stranger.token });
    assert.equal(res.status, 404, path);
    assert.equal(res.body.itemNotFound.message, `Instance ${id} could not be found.`);
  }
});

test('a reader of the project may read the addresses; other methods are 405', async () => {
  const { id, projectId, name } = await addressedServer();
  const reader = await colleague(cloud, projectId, name, 'ips-reader', 'reader');
  assert.equal((await cloud.req('GET', ips(id), { token: reader })).status, 200);
  assert.equal((await cloud.req('GET', ips(id, '/private'), { token: reader })).status, 200);
  assert.equal((await cloud.req('POST', ips(id), { token: reader, body: {} })).status, 405);
});

test('an unknown server is 404', async () => {
  const res = await cloud.req('GET', ips('00000000-0000-0000-0000-000000000000'), { token: cloud.demoToken });
  assert.equal(res.status, 404);
});
