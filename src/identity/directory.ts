import { randomBytes, randomUUID } from 'node:crypto';
import { isPostgres, type Db, type Tx } from '../db/database.js';
import type { ProjectTable, UserTable, RoleTable } from '../db/schema.js';
import { conflict, notFound } from '../errors.js';
import type { Clock } from '../clock.js';
import { digestHa1, hashPassword } from './passwords.js';
import { revokeTokens, type RevocationEvent } from './revocation.js';

/** Keystone has one domain we serve: `default`. */
export const DEFAULT_DOMAIN = { id: 'default', name: 'Default' } as const;

/** Keystone's ids (projects, users, roles) are at most 64 characters: a longer one names nothing. */
export const MAX_ID_LENGTH = 64;

/** Keystone's default implied roles: admin ⇒ member ⇒ reader. */
const IMPLIES = new Map<string, string[]>([
  ['admin', ['member']],
  ['member', ['reader']],
]);

/** The roles a role directly implies, by name. */
export const impliedRoles = (name: string): string[] => IMPLIES.get(name) ?? [];

/** Roles the policy engine names; without them nobody could be admin, member or reader. */
export const POLICY_ROLES = ['admin', 'member', 'reader'] as const;

export function effectiveRoles(names: string[]): string[] {
  const out = new Set<string>();
  const visit = (n: string) => {
    if (out.has(n)) return;
    out.add(n);
    for (const m of impliedRoles(n)) visit(m);
  };
  names.forEach(visit);
  return [...out];
}

const projectNameTaken = (name: string) =>
  `Conflict occurred attempting to store project - it is not permitted to have two projects with the same name in the same domain : ${name}.`;

/** Keystone's unknown attributes of a user or project, kept as given and shown back. */
export type Extra = Record<string, unknown>;

const hasExtra = (extra: Extra | undefined): extra is Extra => extra !== undefined && Object.keys(extra).length > 0;

/** The row's extra attributes with `patch` laid over them, read with the row locked (Keystone merges an update into them). */
async function mergedExtra(tx: Tx, table: 'users' | 'projects', id: string, patch: Extra): Promise<string> {
  const row = await tx
    .selectFrom(table)
    .select('extra')
    .where('id', '=', id)
    .$if(isPostgres(tx), (q) => q.forUpdate())
    .executeTakeFirst();
  return JSON.stringify({ ...JSON.parse(row?.extra ?? '{}'), ...patch });
}

const uuidHex = () => randomUUID().replace(/-/g, '');

/**
 * A user created or updated without a password gets the hash of a random one nobody
 * knows: password authentication fails for it, and takes as long as for any other user.
 */
const unusablePassword = () => randomBytes(32).toString('base64');

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e.code === '23505' || /UNIQUE constraint failed/.test(e.message ?? '');
}

/**
 * Projects, users, roles and role assignments: the identity data the rest of Nimbus scopes by.
 * Every change that takes authority away (a password change, a disabled or deleted user, a
 * removed role, a disabled or deleted project) revokes the tokens it affects in the same
 * transaction, as Keystone's revocation events do, then tells `revoked` (the token cache).
 */
export class Directory {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly revoked: (event: RevocationEvent) => void | Promise<void> = () => {},
    /** A user's name or email changed: what a login (CloudSigma's Basic and Digest) finds is not what it was. */
    private readonly loginsChanged: () => void | Promise<void> = () => {},
  ) {}

  /** Runs `change` and the revocations it returns in one transaction, then reports them. */
  private async revoking(change: (tx: Tx) => Promise<RevocationEvent[]>): Promise<void> {
    const events = await this.db.transaction().execute(async (tx) => {
      const out = await change(tx);
      for (const e of out) await revokeTokens(tx, e);
      return out;
    });
    for (const e of events) await this.revoked(e);
  }

  // ── projects ──
  async createProject(input: { name: string; description?: string; enabled?: boolean; id?: string; extra?: Extra }): Promise<ProjectTable> {
    const row: ProjectTable = {
      id: input.id ?? uuidHex(),
      name: input.name,
      domain_id: DEFAULT_DOMAIN.id,
      description: input.description ?? '',
      enabled: input.enabled === false ? 0 : 1,
      created_at: this.clock.now().toISOString(),
      extra: JSON.stringify(input.extra ?? {}),
    };
    try {
      await this.db.insertInto('projects').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(projectNameTaken(input.name));
      throw err;
    }
    return row;
  }

  listProjects(filter: { name?: string; enabled?: boolean } = {}): Promise<ProjectTable[]> {
    let q = this.db.selectFrom('projects').selectAll().orderBy('name');
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.enabled !== undefined) q = q.where('enabled', '=', filter.enabled ? 1 : 0);
    return q.execute();
  }

  async findProject(idOrName: { id?: string; name?: string }): Promise<ProjectTable | undefined> {
    let q = this.db.selectFrom('projects').selectAll();
    q = idOrName.id !== undefined ? q.where('id', '=', idOrName.id) : q.where('name', '=', idOrName.name ?? '');
    return q.executeTakeFirst();
  }

  async getProject(id: string): Promise<ProjectTable> {
    const p = await this.findProject({ id });
    if (!p) throw notFound(`Could not find project: ${id}.`);
    return p;
  }

  async updateProject(id: string, patch: { name?: string; description?: string; enabled?: boolean; extra?: Extra }): Promise<ProjectTable> {
    await this.getProject(id);
    const values: Partial<ProjectTable> = {};
    if (patch.name !== undefined) values.name = patch.name;
    if (patch.description !== undefined) values.description = patch.description;
    if (patch.enabled !== undefined) values.enabled = patch.enabled ? 1 : 0;
    if (Object.keys(values).length || hasExtra(patch.extra)) {
      try {
        await this.revoking(async (tx) => {
          if (hasExtra(patch.extra)) values.extra = await mergedExtra(tx, 'projects', id, patch.extra);
          await tx.updateTable('projects').set(values).where('id', '=', id).execute();
          return patch.enabled === false ? [{ projectId: id }] : [];
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict(projectNameTaken(patch.name ?? ''));
        throw err;
      }
    }
    return this.getProject(id);
  }

  async deleteProject(id: string): Promise<void> {
    await this.revoking(async (tx) => {
      const r = await tx.deleteFrom('projects').where('id', '=', id).executeTakeFirst();
      if (!r.numDeletedRows) throw notFound(`Could not find project: ${id}.`);
      return [{ projectId: id }];
    });
  }

  // ── users ──
  async createUser(input: {
    name: string;
    password?: string | null;
    email?: string | null;
    enabled?: boolean;
    defaultProjectId?: string | null;
    id?: string;
    extra?: Extra;
  }): Promise<UserTable> {
    const row: UserTable = {
      id: input.id ?? uuidHex(),
      name: input.name,
      domain_id: DEFAULT_DOMAIN.id,
      password_hash: await hashPassword(input.password ?? unusablePassword()),
      digest_ha1: input.password ? digestHa1(input.name, input.password) : null,
      digest_email_ha1: input.password && input.email ? digestHa1(input.email, input.password) : null,
      email: input.email ?? null,
      enabled: input.enabled === false ? 0 : 1,
      default_project_id: input.defaultProjectId ?? null,
      created_at: this.clock.now().toISOString(),
      extra: JSON.stringify(input.extra ?? {}),
    };
    try {
      await this.db.insertInto('users').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`Conflict occurred attempting to store user - Duplicate entry found with name ${input.name} at domain ID ${DEFAULT_DOMAIN.id}.`);
      throw err;
    }
    return row;
  }

  listUsers(filter: { name?: string; enabled?: boolean } = {}): Promise<UserTable[]> {
    let q = this.db.selectFrom('users').selectAll().orderBy('name');
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.enabled !== undefined) q = q.where('enabled', '=', filter.enabled ? 1 : 0);
    return q.execute();
  }

  async findUser(idOrName: { id?: string; name?: string }): Promise<UserTable | undefined> {
    let q = this.db.selectFrom('users').selectAll();
    q = idOrName.id !== undefined ? q.where('id', '=', idOrName.id) : q.where('name', '=', idOrName.name ?? '');
    return q.executeTakeFirst();
  }

  async getUser(id: string): Promise<UserTable> {
    const u = await this.findUser({ id });
    if (!u) throw notFound(`Could not find user: ${id}.`);
    return u;
  }

  async updateUser(
    id: string,
    patch: { name?: string; password?: string | null; email?: string | null; enabled?: boolean; defaultProjectId?: string | null; extra?: Extra },
  ): Promise<UserTable> {
    const current = await this.getUser(id);
    const values: Partial<UserTable> = {};
    if (patch.name !== undefined) values.name = patch.name;
    if (patch.password !== undefined) values.password_hash = await hashPassword(patch.password ?? unusablePassword());
    // The Digest secret binds the name and the password: either change renews or drops it.
    if (patch.password !== undefined) values.digest_ha1 = patch.password ? digestHa1(patch.name ?? current.name, patch.password) : null;
    else if (patch.name !== undefined && patch.name !== current.name) values.digest_ha1 = null;
    // The same for the email's secret.
    const email = patch.email !== undefined ? patch.email : current.email;
    if (patch.password !== undefined) values.digest_email_ha1 = patch.password && email ? digestHa1(email, patch.password) : null;
    else if (patch.email !== undefined && patch.email !== current.email) values.digest_email_ha1 = null;
    if (patch.email !== undefined) values.email = patch.email;
    if (patch.enabled !== undefined) values.enabled = patch.enabled ? 1 : 0;
    if (patch.defaultProjectId !== undefined) values.default_project_id = patch.defaultProjectId;
    if (Object.keys(values).length || hasExtra(patch.extra)) {
      try {
        await this.revoking(async (tx) => {
          if (hasExtra(patch.extra)) values.extra = await mergedExtra(tx, 'users', id, patch.extra);
          await tx.updateTable('users').set(values).where('id', '=', id).execute();
          // A new password or a disabled user ends every session the user had, even if enabled again.
          return patch.password !== undefined || patch.enabled === false ? [{ userId: id }] : [];
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict(`Conflict occurred attempting to store user - Duplicate entry found with name ${patch.name} at domain ID ${DEFAULT_DOMAIN.id}.`);
        throw err;
      }
      if ((patch.name !== undefined && patch.name !== current.name) || (patch.email !== undefined && patch.email !== current.email)) await this.loginsChanged();
    }
    return this.getUser(id);
  }

  async deleteUser(id: string): Promise<void> {
    await this.revoking(async (tx) => {
      const r = await tx.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      if (!r.numDeletedRows) throw notFound(`Could not find user: ${id}.`);
      return [{ userId: id }];
    });
  }

  // ── roles ──
  async createRole(name: string, id?: string): Promise<RoleTable> {
    const row = { id: id ?? uuidHex(), name };
    try {
      await this.db.insertInto('roles').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`Conflict occurred attempting to store role - Duplicate entry found with name ${name}.`);
      throw err;
    }
    return row;
  }

  listRoles(filter: { name?: string } = {}): Promise<RoleTable[]> {
    let q = this.db.selectFrom('roles').selectAll().orderBy('name');
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    return q.execute();
  }

  async getRole(id: string): Promise<RoleTable> {
    const r = await this.db.selectFrom('roles').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw notFound(`Could not find role: ${id}.`);
    return r;
  }

  /** Deleting a role removes its assignments, so it revokes the tokens each one stood behind. */
  async deleteRole(id: string): Promise<void> {
    await this.revoking(async (tx) => {
      const holders = await tx.selectFrom('role_assignments').select(['user_id', 'project_id']).where('role_id', '=', id).execute();
      const r = await tx.deleteFrom('roles').where('id', '=', id).executeTakeFirst();
      if (!r.numDeletedRows) throw notFound(`Could not find role: ${id}.`);
      return holders.map((h) => ({ userId: h.user_id, projectId: h.project_id }));
    });
  }

  // ── role assignments ──
  /** Grants a role; granting it again changes nothing. Checks role, user, project in Keystone's order. */
  async assignRole(projectId: string, userId: string, roleId: string): Promise<void> {
    await this.getRole(roleId);
    await this.getUser(userId);
    await this.getProject(projectId);
    if (await this.hasAssignment(projectId, userId, roleId)) return;
    try {
      await this.db.insertInto('role_assignments').values({ project_id: projectId, user_id: userId, role_id: roleId }).execute();
    } catch (err) {
      if (!isUniqueViolation(err)) throw err; // a concurrent grant of the same role won the race
    }
  }

  /** Keystone revokes the user's tokens on the project: each carried the role. */
  async unassignRole(projectId: string, userId: string, roleId: string): Promise<void> {
    await this.revoking(async (tx) => {
      const r = await tx
        .deleteFrom('role_assignments')
        .where('project_id', '=', projectId)
        .where('user_id', '=', userId)
        .where('role_id', '=', roleId)
        .executeTakeFirst();
      if (!r.numDeletedRows) throw notFound(`Could not find role assignment with role: ${roleId}, user or group: ${userId}, project, domain, or system: ${projectId}.`);
      return [{ userId, projectId }];
    });
  }

  async hasAssignment(projectId: string, userId: string, roleId: string): Promise<boolean> {
    const r = await this.db
      .selectFrom('role_assignments')
      .select('role_id')
      .where('project_id', '=', projectId)
      .where('user_id', '=', userId)
      .where('role_id', '=', roleId)
      .executeTakeFirst();
    return r !== undefined;
  }

  listAssignments(filter: { userId?: string; projectId?: string; roleId?: string } = {}) {
    let q = this.db
      .selectFrom('role_assignments')
      .innerJoin('roles', 'roles.id', 'role_assignments.role_id')
      .innerJoin('users', 'users.id', 'role_assignments.user_id')
      .innerJoin('projects', 'projects.id', 'role_assignments.project_id')
      .select([
        'role_assignments.user_id',
        'role_assignments.project_id',
        'role_assignments.role_id',
        'roles.name as role_name',
        'users.name as user_name',
        'projects.name as project_name',
      ])
      .orderBy('role_assignments.project_id')
      .orderBy('role_assignments.user_id')
      .orderBy('roles.name');
    if (filter.userId) q = q.where('role_assignments.user_id', '=', filter.userId);
    if (filter.projectId) q = q.where('role_assignments.project_id', '=', filter.projectId);
    if (filter.roleId) q = q.where('role_assignments.role_id', '=', filter.roleId);
    return q.execute();
  }

  /** Names of the roles a user holds directly on a project (not yet expanded by implication). */
  async roleNames(userId: string, projectId: string): Promise<string[]> {
    const rows = await this.listAssignments({ userId, projectId });
    return rows.map((r) => r.role_name);
  }

  /** Projects, enabled or not, where the user holds at least one role. */
  async projectsAssignedTo(userId: string): Promise<ProjectTable[]> {
    return this.db
      .selectFrom('projects')
      .selectAll()
      .where('id', 'in', (eb) => eb.selectFrom('role_assignments').select('project_id').where('user_id', '=', userId))
      .orderBy('name')
      .execute();
  }

  /** Enabled projects where the user holds at least one role. */
  async projectsOfUser(userId: string): Promise<ProjectTable[]> {
    return this.db
      .selectFrom('projects')
      .selectAll()
      .where('enabled', '=', 1)
      .where('id', 'in', (eb) => eb.selectFrom('role_assignments').select('project_id').where('user_id', '=', userId))
      .orderBy('name')
      .execute();
  }
}
