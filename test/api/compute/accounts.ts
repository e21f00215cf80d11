import type { TestCloud } from '../../support.js';

/**
 * A project with one user holding `role` in it, made through the directory (the identity
 * API is not needed to test compute); returns a token scoped to it.
 */
export async function memberOfProject(cloud: TestCloud, name: string, role = 'member'): Promise<{ token: string; projectId: string }> {
  const { directory } = cloud.services;
  const project = await directory.createProject({ name });
  const user = await directory.createUser({ name: `${name}-user`, password: `${name}-pw`, defaultProjectId: project.id });
  const [found] = await directory.listRoles({ name: role });
  await directory.assignRole(project.id, user.id, found.id);
  return { token: await cloud.token(`${name}-user`, `${name}-pw`, name), projectId: project.id };
}

/** The one fault in a Nova error body: {"itemNotFound": {"code": 404, "message": "…"}}. */
export function fault(body: Record<string, { code: number; message: string }>): { name: string; code: number; message: string } {
  const names = Object.keys(body ?? {});
  if (names.length !== 1) throw new Error(`not a Nova fault: ${JSON.stringify(body)}`);
  return { name: names[0], ...body[names[0]] };
}
