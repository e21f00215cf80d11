/**
 * What `nimbus serve` logs: JSON lines for machines (not a terminal, or logFormat json),
 * readable lines when asked (or on a terminal); a request and each task of a server's build
 * or action with the server's id and the request's id.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { passwordToken, request, startProcess } from './support.js';
import { prettyLine } from '../src/logging.js';

const started: Awaited<ReturnType<typeof startProcess>>[] = [];
after(async () => {
  for (const p of started) {
    await p.stop();
    rmSync(p.dataDir, { recursive: true, force: true });
  }
});

async function nimbus(format?: string) {
  const env: Record<string, string> = { NIMBUS_LOG_LEVEL: 'info', NIMBUS_DEMO_PASSWORD: 'demo-pw' };
  if (format) env.NIMBUS_LOG_FORMAT = format;
  const p = await startProcess(env);
  started.push(p);
  return p;
}

/** Boots a server and waits for ACTIVE; returns its id and the create's request id. */
async function boot(url: string) {
  const { token } = await passwordToken(url, 'demo', 'demo-pw', 'demo');
  const images = await request(url, 'GET', '/image/v2/images', { token });
  const res = await request(url, 'POST', '/compute/v2.1/servers', { token, body: { server: { name: 'logged', imageRef: images.body.images[0].id, flavorRef: '1' } } });
  assert.equal(res.status, 202, res.text);
  const id = res.body.server.id as string;
  for (let i = 0; i < 200; i++) {
    const shown = await request(url, 'GET', `/compute/v2.1/servers/${id}`, { token });
    if (shown.body.server.status === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 25));
  }
  return { id, requestId: res.headers.get('x-openstack-request-id')! };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
};

test('not on a terminal, the log is JSON lines, one per request', async () => {
  const p = await nimbus();
  const res = await request(p.url, 'GET', '/compute/v2.1');
  const requestId = res.headers.get('x-openstack-request-id');
  await until(() => p.output().includes(requestId!));
  const lines = p.output().split('\n').filter((l) => l.startsWith('{'));
  const line = lines.map((l) => JSON.parse(l)).find((l) => l.request_id === requestId);
  assert.deepEqual({ msg: line.msg, method: line.method, url: line.url, status: line.status }, { msg: 'request', method: 'GET', url: '/compute/v2.1', status: 200 });
});

test("a server's build is logged step by step with the server's id and the create's request id", async () => {
  const p = await nimbus('json');
  const { id, requestId } = await boot(p.url);
  await until(() => p.output().includes('build: ACTIVE'));
  const lines = p.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((l) => l.server_id === id);
  assert.deepEqual(lines.map((l) => l.msg), ['build: scheduling', 'build: networking', 'build: block_device_mapping', 'build: spawning', 'build: ACTIVE']);
  for (const l of lines) assert.equal(l.request_id, requestId);
});

test("an action is logged with the server's id and the action's request id", async () => {
  const p = await nimbus('json');
  const { id } = await boot(p.url);
  const { token } = await passwordToken(p.url, 'demo', 'demo-pw', 'demo');
  const stop = await request(p.url, 'POST', `/compute/v2.1/servers/${id}/action`, { token, body: { 'os-stop': null } });
  assert.equal(stop.status, 202, stop.text);
  const requestId = stop.headers.get('x-openstack-request-id');
  await until(() => p.output().includes('SHUTOFF'));
  const lines = p.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((l) => l.request_id === requestId && l.server_id === id);
  assert.ok(lines.length >= 2, p.output());
  assert.equal(lines.at(-1).msg.endsWith(': SHUTOFF'), true, lines.at(-1).msg);
});

test('logFormat pretty gives one readable line per request', async () => {
  const p = await nimbus('pretty');
  await request(p.url, 'GET', '/compute/v2.1');
  await until(() => /GET \/compute\/v2\.1 200/.test(p.output()));
  assert.match(p.output(), /^\d\d:\d\d:\d\d\.\d{3} INFO  GET \/compute\/v2\.1 200 \d+ ms  request_id=req-[0-9a-f-]{36}$/m);
});

test('a readable line shows an error with its stack under it', () => {
  const line = prettyLine(JSON.stringify({ level: 50, time: 0, msg: 'build failed', server_id: 's1', err: { message: 'boom', stack: 'Error: boom\n    at x' } }));
  assert.equal(line, '00:00:00.000 ERROR build failed  server_id=s1\nError: boom\n    at x\n');
});
