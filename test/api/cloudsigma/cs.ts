/** Requests to the CloudSigma face of a test cloud, and fixtures from the captured dumps. */
import { readFileSync, existsSync } from 'node:fs';
import assert from 'node:assert/strict';
import { DEMO_PASSWORD, request, type RequestOptions, type Response, type TestCloud } from '../../support.js';

export const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
export const DEMO = basic('demo', DEMO_PASSWORD);

/** A request under /api/2.0 as `auth` (default: demo with HTTP Basic; null: no credentials). */
export function cs(cloud: TestCloud, method: string, path: string, opts: RequestOptions & { auth?: string | null } = {}): Promise<Response> {
  const auth = opts.auth === undefined ? DEMO : opts.auth;
  return request(cloud.url, method, '/api/2.0' + path, { ...opts, headers: { ...(auth ? { authorization: auth } : {}), ...opts.headers } });
}

const DUMPS = new URL('../../../../../shared/reference/cloudsigma-dumps/', import.meta.url).pathname;

/** The JSON body of a captured request or response (the reference's dumps), or undefined where they are not on this machine. */
export function dump(name: string): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  const file = existsSync(DUMPS + name) ? DUMPS + name : `/work/shared/reference/cloudsigma-dumps/${name}`;
  const text = readFileSync(file, 'utf8');
  const start = text.search(/^[{[]/m);
  return JSON.parse(text.slice(start));
}

export async function createServer(cloud: TestCloud, fields: Record<string, unknown> = {}, auth?: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await cs(cloud, 'POST', '/servers/', { auth, body: { objects: [{ cpu: 1000, mem: 536870912, name: 'test', vnc_password: 'testserver', ...fields }] } });
  assert.equal(res.status, 201, res.text);
  return res.body.objects[0];
}

export async function show(cloud: TestCloud, uuid: string, auth?: string) {
  const res = await cs(cloud, 'GET', `/servers/${uuid}/`, { auth });
  assert.equal(res.status, 200, res.text);
  return res.body;
}

export async function act(cloud: TestCloud, uuid: string, action: string, body: unknown = {}, auth?: string) {
  return cs(cloud, 'POST', `/servers/${uuid}/action/?do=${action}`, { body, auth });
}

/** A server that is running: created, started, and the start's task done. */
export async function runningServer(cloud: TestCloud, fields: Record<string, unknown> = {}, auth?: string) {
  const s = await createServer(cloud, fields, auth);
  const r = await act(cloud, s.uuid, 'start', {}, auth);
  assert.equal(r.status, 202, r.text);
  await cloud.services.runner.idle();
  const now = await show(cloud, s.uuid, auth);
  assert.equal(now.status, 'running');
  return now;
}

/** Asserts CloudSigma's error list: one error of this type, with this status and error_point. */
export function assertError(res: Response, status: number, type: string, point?: string | null) {
  assert.equal(res.status, status, res.text);
  assert.ok(Array.isArray(res.body), res.text);
  assert.equal(res.body[0].error_type, type, res.text);
  assert.equal(typeof res.body[0].error_message, 'string');
  if (point !== undefined) assert.equal(res.body[0].error_point, point, res.text);
}

/** Lifts the demo project's instance quotas (Nova's defaults allow 10 servers, 20 cores). */
export async function unlimited(cloud: TestCloud, projectId = cloud.demoProjectId) {
  const res = await cloud.req('PUT', `/compute/v2.1/os-quota-sets/${projectId}`, { token: cloud.adminToken, body: { quota_set: { instances: -1, cores: -1, ram: -1 } } });
  assert.equal(res.status, 200, res.text);
}

/** A drive made through /drives/ and ready (unmounted). */
export async function createDrive(cloud: TestCloud, fields: Record<string, unknown> = {}, auth?: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await cs(cloud, 'POST', '/drives/', { auth, body: { objects: [{ name: 'disk', size: 1073741824, media: 'disk', ...fields }] } });
  assert.equal(res.status, 201, res.text);
  await cloud.services.runner.idle();
  return res.body.objects[0];
}

/** The uuids of the caller's drives. */
export async function driveUuids(cloud: TestCloud, auth?: string): Promise<string[]> {
  const res = await cs(cloud, 'GET', '/drives/?limit=0', { auth });
  assert.equal(res.status, 200, res.text);
  return res.body.objects.map((d: { uuid: string }) => d.uuid);
}

/** Lifts a project's drive limits (Cinder's defaults allow 10 drives, 1000 GiB) through the control API. */
export async function unlimitedDrives(cloud: TestCloud, projectId = cloud.demoProjectId) {
  const res = await cloud.req('PUT', `/nimbus/v1/drive-quotas/${projectId}`, { token: cloud.adminToken, body: { quota_set: { volumes: -1, gigabytes: -1 } } });
  assert.equal(res.status, 200, res.text);
}
