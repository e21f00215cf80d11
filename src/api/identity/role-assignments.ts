import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';
import { DEFAULT_DOMAIN, impliedRoles } from '../../identity/directory.js';
import { invalid } from '../../errors.js';
import { resource } from '../http.js';
import { flag, param } from './query.js';
import { authorize, collection, v3Url } from './views.js';

/** One row of the listing: a direct grant, or (effective mode) a role implied by `priorRoleId`. */
interface Assignment {
  userId: string;
  userName: string;
  projectId: string;
  projectName: string;
  roleId: string;
  roleName: string;
  priorRoleId?: string;
}

/**
 * Keystone's implied-role expansion: each implied role is listed with the role that
 * implied it, following chains (admin ⇒ member ⇒ reader) one link at a time.
 */
function expandImplied(direct: Assignment[], roleIdByName: Map<string, string>): Assignment[] {
  const key = (a: Assignment) => `${a.userId}/${a.projectId}/${a.roleId}`;
  // A role both granted and implied is listed once, as granted.
  const seen = new Set(direct.map(key));
  const out: Assignment[] = [];
  const walk = (prior: Assignment) => {
    for (const name of impliedRoles(prior.roleName)) {
      const id = roleIdByName.get(name);
      if (!id) continue;
      const implied = { ...prior, roleId: id, roleName: name, priorRoleId: prior.roleId };
      if (seen.has(key(implied))) continue;
      seen.add(key(implied));
      out.push(implied);
      walk(implied);
    }
  };
  for (const a of direct) {
    out.push(a);
    walk(a);
  }
  return out;
}

/** GET /v3/role_assignments: Nimbus has only user grants on projects, never groups, domains or the system. */
export function roleAssignmentRoutes(app: FastifyInstance, services: Services): void {
  const { directory } = services;
  const base = v3Url(services);

  function view(a: Assignment, includeNames: boolean) {
    const links: Record<string, string> = {
      assignment: `${base}/projects/${a.projectId}/users/${a.userId}/roles/${a.priorRoleId ?? a.roleId}`,
    };
    if (a.priorRoleId) links.prior_role = `${base}/prior_role/${a.roleId}/implies/${a.priorRoleId}`;
    const domain = { id: DEFAULT_DOMAIN.id, name: DEFAULT_DOMAIN.name };
    return includeNames
      ? {
          links,
          role: { id: a.roleId, name: a.roleName },
          scope: { project: { id: a.projectId, name: a.projectName, domain } },
          user: { id: a.userId, name: a.userName, domain },
        }
      : { links, role: { id: a.roleId }, scope: { project: { id: a.projectId } }, user: { id: a.userId } };
  }

  resource(app, '/v3/role_assignments', {
    GET: async (request) => {
      authorize(services, request, 'identity:list_role_assignments');
      const userId = param(request, 'user.id');
      const groupId = param(request, 'group.id');
      const projectId = param(request, 'scope.project.id');
      const domainId = param(request, 'scope.domain.id');
      const system = param(request, 'scope.system');
      const roleId = param(request, 'role.id');
      const inheritedTo = param(request, 'scope.OS-INHERIT:inherited_to');
      const effective = flag(request, 'effective');
      const includeNames = flag(request, 'include_names');
      // Keystone's own checks, in its order and words.
      if (domainId && projectId) throw invalid('Specify a domain or project, not both');
      if (domainId && system) throw invalid('Specify system or domain, not both');
      if (projectId && system) throw invalid('Specify system or project, not both');
      if (userId && groupId) throw invalid('Specify a user or group, not both');
      if (effective && groupId) throw invalid('Combining effective and group filter will always result in an empty list.');
      if (flag(request, 'include_subtree') && !projectId) throw invalid('scope.project.id must be specified if include_subtree is also specified');

      // Group, domain, system and inherited assignments do not exist here.
      const none = groupId !== undefined || domainId !== undefined || system !== undefined || inheritedTo === 'projects';
      let rows: Assignment[] = [];
      if (!none) {
        const direct = (await directory.listAssignments({ userId, projectId, roleId: effective ? undefined : roleId })).map((r) => ({
          userId: r.user_id,
          userName: r.user_name,
          projectId: r.project_id,
          projectName: r.project_name,
          roleId: r.role_id,
          roleName: r.role_name,
        }));
        rows = direct;
        if (effective) {
          const roleIdByName = new Map((await directory.listRoles()).map((r) => [r.name, r.id]));
          rows = expandImplied(direct, roleIdByName).filter((a) => roleId === undefined || a.roleId === roleId);
        }
      }
      return collection(services, request, 'role_assignments', rows.map((a) => view(a, includeNames)));
    },
  });
}
