/** What the image API tests share: making images, moving their data, and other projects. */
import type { TestCloud, Response } from '../../support.js';

export const RAW = { disk_format: 'raw', container_format: 'bare' };

export async function createImage(cloud: TestCloud, token: string, body: Record<string, unknown> = {}): Promise<Response> {
  return cloud.req('POST', '/image/v2/images', { token, body: { name: 'img', ...RAW, ...body } });
}

/** Creates an image and returns its JSON, failing the test on anything but 201. */
export async function newImage(cloud: TestCloud, token: string, body: Record<string, unknown> = {}): Promise<any> {
  const res = await createImage(cloud, token, body);
  if (res.status !== 201) throw new Error(`create image: ${res.status} ${res.text}`);
  return res.body;
}

export function upload(cloud: TestCloud, token: string, id: string, data: Buffer | string, contentType = 'application/octet-stream'): Promise<Response> {
  return cloud.req('PUT', `/image/v2/images/${id}/file`, { token, raw: data, headers: { 'content-type': contentType } });
}

export async function download(cloud: TestCloud, token: string, id: string): Promise<{ status: number; headers: Headers; data: Buffer }> {
  const res = await fetch(`${cloud.url}/image/v2/images/${id}/file`, { headers: { 'x-auth-token': token } });
  return { status: res.status, headers: res.headers, data: Buffer.from(await res.arrayBuffer()) };
}

export function patch(cloud: TestCloud, token: string, id: string, ops: unknown, contentType = 'application/openstack-images-v2.1-json-patch'): Promise<Response> {
  return cloud.req('PATCH', `/image/v2/images/${id}`, { token, raw: JSON.stringify(ops), headers: { 'content-type': contentType } });
}

/**
 * A project with one user holding `role` in it, made through the directory (the identity
 * CRUD routes are not needed for it); returns a token scoped to that project.
 */
export async function projectUser(cloud: TestCloud, name: string, role = 'member'): Promise<{ token: string; projectId: string }> {
  const { directory, db } = cloud.services;
  const project = await directory.createProject({ name });
  const user = await directory.createUser({ name: `${name}-user`, password: `${name}-pw`, defaultProjectId: project.id });
  const { id: roleId } = await db.selectFrom('roles').select('id').where('name', '=', role).executeTakeFirstOrThrow();
  await directory.assignRole(project.id, user.id, roleId);
  return { token: await cloud.token(`${name}-user`, `${name}-pw`, name), projectId: project.id };
}
