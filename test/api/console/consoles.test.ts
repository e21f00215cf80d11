import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startCloud, type TestCloud } from '../../support.js';
import { openWebSocket } from './ws-client.js';

let cloud: TestCloud;
let imageId: string;
before(async () => {
  cloud = await startCloud();
  imageId = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
});
after(async () => cloud.close());

async function activeServer(name: string): Promise<string> {
  const res = await cloud.req('POST', '/compute/v2.1/servers', { token: cloud.adminToken, body: { server: { name, imageRef: imageId, flavorRef: '1' } } });
  assert.equal(res.status, 202, res.text);
  await cloud.services.runner.idle();
  return res.body.server.id;
}

async function consoleUrl(id: string, protocol: string, type: string): Promise<string> {
  const res = await cloud.req('POST', `/compute/v2.1/servers/${id}/remote-consoles`, { token: cloud.adminToken, version: '2.6', body: { remote_console: { protocol, type } } });
  assert.equal(res.status, 200, res.text);
  return res.body.remote_console.url;
}

/** The websocket path a console URL leads to: noVNC's `path` parameter, or the URL itself. */
function websocketPath(url: string): string {
  const u = new URL(url);
  const path = u.searchParams.get('path');
  return path !== null ? `/${path}` : u.pathname + u.search;
}

/** Connects as a VNC client and goes through the RFB 3.8 handshake up to ServerInit. */
async function rfbHandshake(path: string) {
  const ws = await openWebSocket(cloud.url, path);
  assert.equal(ws.status, 101, ws.headers);
  const version = await ws.next();
  assert.equal(version?.toString(), 'RFB 003.008\n');
  ws.send(version!);
  assert.deepEqual([...(await ws.next())!], [1, 1], 'one security type: None');
  ws.send([1]);
  assert.deepEqual([...(await ws.next())!], [0, 0, 0, 0], 'SecurityResult OK');
  ws.send([1]);
  const init = (await ws.next())!;
  return { ws, init };
}

test('a noVNC console URL opens a noVNC page', async () => {
  const id = await activeServer('vnc-page');
  const res = await fetch(await consoleUrl(id, 'vnc', 'novnc'));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  const html = await res.text();
  assert.match(html, /<html[^>]*>/);
  assert.ok(html.includes('</html>') && html.includes('noVNC') && html.includes('<script'));
});

test("a noVNC console's websocket speaks RFB 3.8 with security None and names the guest in ServerInit", async () => {
  const id = await activeServer('vnc-guest');
  const { ws, init } = await rfbHandshake(websocketPath(await consoleUrl(id, 'vnc', 'novnc')));
  const nameLength = init.readUInt32BE(20);
  assert.equal(init.length, 24 + nameLength);
  assert.equal(init.subarray(24).toString(), 'vnc-guest');
  assert.deepEqual([init.readUInt16BE(0), init.readUInt16BE(2)], [720, 400]);
  assert.equal(init[4], 32, 'bits per pixel');
  ws.close();
});

test('the guest screen comes as a raw FramebufferUpdate of the area asked for', async () => {
  const id = await activeServer('vnc-screen');
  const { ws } = await rfbHandshake(websocketPath(await consoleUrl(id, 'vnc', 'novnc')));
  ws.send([2, 0, 0, 1, 0, 0, 0, 0]); // SetEncodings: raw
  ws.send([3, 0, 0, 0, 0, 0, 0, 16, 0, 16]); // FramebufferUpdateRequest 16×16 at 0,0
  const update = (await ws.next())!;
  assert.equal(update[0], 0, 'FramebufferUpdate');
  assert.equal(update.readUInt16BE(2), 1, 'one rectangle');
  assert.deepEqual([update.readUInt16BE(8), update.readUInt16BE(10), update.readInt32BE(12)], [16, 16, 0]);
  assert.equal(update.length, 16 + 16 * 16 * 4);
  ws.close();
});

test('an RFB 3.3 client is told the security type as one word, as RFB 3.3 does', async () => {
  const id = await activeServer('vnc-33');
  const ws = await openWebSocket(cloud.url, websocketPath(await consoleUrl(id, 'vnc', 'novnc')));
  await ws.next();
  ws.send('RFB 003.003\n');
  assert.deepEqual([...(await ws.next())!], [0, 0, 0, 1]);
  ws.close();
});

test('a console websocket with a bad token is refused before the upgrade, with no body', async () => {
  const id = await activeServer('vnc-bad');
  const path = websocketPath(await consoleUrl(id, 'vnc', 'novnc')).replace('token=', 'token=bad');
  const ws = await openWebSocket(cloud.url, path);
  assert.equal(ws.status, 401);
  assert.match(ws.headers, /content-length: 0/i);
  assert.equal(await ws.next(), null);
});

test('a console token expires after ten minutes, as Nova’s token_ttl', async () => {
  const id = await activeServer('vnc-ttl');
  const path = websocketPath(await consoleUrl(id, 'vnc', 'novnc'));
  cloud.clock.advance(601_000);
  assert.equal((await openWebSocket(cloud.url, path)).status, 401);
});

test('a console token stops working when its server is deleted', async () => {
  const id = await activeServer('vnc-deleted');
  const path = websocketPath(await consoleUrl(id, 'vnc', 'novnc'));
  assert.equal((await cloud.req('DELETE', `/compute/v2.1/servers/${id}`, { token: cloud.adminToken })).status, 204);
  await cloud.services.runner.idle();
  assert.equal((await openWebSocket(cloud.url, path)).status, 401);
});

test('a console token stops working when its server moves to another host; a new URL reaches it there', async () => {
  const id = await activeServer('vnc-moved');
  const path = websocketPath(await consoleUrl(id, 'vnc', 'novnc'));
  const live = await cloud.req('POST', `/compute/v2.1/servers/${id}/action`, { token: cloud.adminToken, version: '2.25', body: { 'os-migrateLive': { host: null, block_migration: 'auto' } } });
  assert.equal(live.status, 202, live.text);
  await cloud.services.runner.idle();
  assert.equal((await openWebSocket(cloud.url, path)).status, 401);
  const { ws, init } = await rfbHandshake(websocketPath(await consoleUrl(id, 'vnc', 'novnc')));
  assert.equal(init.subarray(24).toString(), 'vnc-moved');
  ws.close();
});

test('a serial console URL is a websocket URL whose guest echoes what is typed and answers Enter with its login prompt', async () => {
  const id = await activeServer('serial-guest');
  const url = await consoleUrl(id, 'serial', 'serial');
  assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+\/console\/websockify\?token=/);
  const ws = await openWebSocket(cloud.url, websocketPath(url));
  assert.equal(ws.status, 101);
  ws.send('root');
  assert.equal((await ws.next())?.toString(), 'root');
  ws.send('\r');
  assert.match((await ws.next())!.toString(), /serial-guest login: $/);
  ws.close();
});

test("the token may come as a cookie at websockify's default path, as older noVNC clients send it", async () => {
  const id = await activeServer('serial-cookie');
  const token = new URL(await consoleUrl(id, 'serial', 'serial')).searchParams.get('token')!;
  const ws = await openWebSocket(cloud.url, '/websockify', { Cookie: `token=${token}` });
  assert.equal(ws.status, 101);
  ws.send('x');
  assert.equal((await ws.next())?.toString(), 'x');
  ws.close();
});

test('a console handshake without a websocket key is 400', async () => {
  const id = await activeServer('vnc-nokey');
  const ws = await openWebSocket(cloud.url, websocketPath(await consoleUrl(id, 'vnc', 'novnc')), {}, false);
  assert.equal(ws.status, 400);
});

test('another upgrade (h2c) on an API path is answered as the plain HTTP/1.1 request it also is', async () => {
  const answer = await new Promise<string>((resolve, reject) => {
    const { port } = new URL(cloud.url);
    const s = connect(Number(port), '127.0.0.1');
    let text = '';
    s.on('data', (d) => (text += d));
    s.on('end', () => resolve(text));
    s.on('error', reject);
    s.write('GET /compute/ HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n');
  });
  assert.match(answer, /^HTTP\/1\.1 200 /);
  assert.ok(answer.includes('"versions"'));
});

test('stopping Nimbus closes the open consoles instead of waiting for them', async () => {
  const other = await startCloud();
  const image = (await other.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
  const res = await other.req('POST', '/compute/v2.1/servers', { token: other.adminToken, body: { server: { name: 'to-close', imageRef: image, flavorRef: '1' } } });
  await other.services.runner.idle();
  const url = await other.req('POST', `/compute/v2.1/servers/${res.body.server.id}/remote-consoles`, { token: other.adminToken, version: '2.6', body: { remote_console: { protocol: 'serial', type: 'serial' } } });
  const ws = await openWebSocket(other.url, websocketPath(url.body.remote_console.url));
  assert.equal(ws.status, 101);
  await other.close();
  assert.equal(await ws.next(), null);
});
