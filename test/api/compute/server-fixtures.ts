import type { TestCloud } from '../../support.js';

/**
 * What the tests of the resources around a server (metadata, tags, ips, password,
 * diagnostics, instance actions) share: fresh projects, so the demo project's instance
 * quota is never in the way, and servers booted to ACTIVE.
 */
export interface Tenant {
  name: string;
  token: string;
  projectId: string;
  userId: string;
}

/** A new project with one user holding `role` (member by default) in it. */
export async function tenant(cloud: TestCloud, name: string, role = 'member'): Promise<Tenant> {
  const dir = cloud.services.directory;
  const project = await dir.createProject({ name });
  const user = await dir.createUser({ name: `${name}-user`, password: `${name}-pw` });
  await dir.assignRole(project.id, user.id, (await dir.listRoles({ name: role }))[0].id);
  return { name, token: await cloud.token(`${name}-user`, `${name}-pw`, name), projectId: project.id, userId: user.id };
}

/** Another user with `role` in an existing project. */
export async function colleague(cloud: TestCloud, projectId: string, projectName: string, name: string, role: string): Promise<string> {
  const dir = cloud.services.directory;
  const user = await dir.createUser({ name, password: `${name}-pw` });
  await dir.assignRole(projectId, user.id, (await dir.listRoles({ name: role }))[0].id);
  return cloud.token(name, `${name}-pw`, projectName);
}

/** Creates a server and waits until its build settles; returns its id. */
export async function bootServer(cloud: TestCloud, token: string, server: Record<string, unknown> = {}): Promise<string> {
  const image = await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow();
  const res = await cloud.req('POST', '/compute/v2.1/servers', { token, body: { server: { name: 'srv', imageRef: image.id, flavorRef: '1', ...server } } });
  if (res.status !== 202) throw new Error(`create: ${res.status} ${res.text}`);
  await cloud.services.runner.idle();
  return res.body.server.id;
}

let projects = 0;

/** A server of its own in a new project, ACTIVE: each test stays far from the instance quota. */
export async function ownServer(cloud: TestCloud, server: Record<string, unknown> & { tags?: string[] } = {}): Promise<Tenant & { id: string }> {
  const t = await tenant(cloud, `around-${++projects}`);
  // Tags at create need 2.52 (where networks are required too); set them on the row instead.
  const { tags, ...rest } = server;
  const id = await bootServer(cloud, t.token, rest);
  if (tags?.length) await cloud.services.db.insertInto('server_tags').values(tags.map((tag) => ({ server_id: id, tag }))).execute();
  return { ...t, id };
}

/** Sets columns of a server row directly: states and locks that other features reach by actions. */
export async function setServer(cloud: TestCloud, id: string, values: Record<string, unknown>): Promise<void> {
  await cloud.services.db.updateTable('servers').set(values).where('id', '=', id).execute();
}

export async function updatedAt(cloud: TestCloud, id: string): Promise<string> {
  return (await cloud.services.db.selectFrom('servers').select('updated_at').where('id', '=', id).executeTakeFirstOrThrow()).updated_at;
}
