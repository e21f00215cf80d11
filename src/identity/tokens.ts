import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db/database.js';
import type { Clock } from '../clock.js';
import { DEFAULT_DOMAIN, effectiveRoles } from './directory.js';
import { revokes, type RevocationEvent } from './revocation.js';
import { ONE_PROCESS, type Invalidations } from '../db/invalidations.js';

/** Who is calling, as every API layer sees it after authentication. */
export interface AuthContext {
  userId: string;
  userName: string;
  projectId: string | null;
  projectName: string | null;
  roles: { id: string; name: string }[];
  isAdmin: boolean;
  methods: string[];
  auditId: string;
  issuedAt: Date;
  expiresAt: Date;
}

export const DOMAIN = DEFAULT_DOMAIN;

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * Validated tokens are cached briefly so a busy API node does not read the database
 * on every call; a revocation on this node clears the entries at once, and other nodes
 * sharing the database clear theirs when it is announced (src/db/invalidations.ts), or at
 * worst CACHE_MS later if they miss the notice (keystonemiddleware caches for minutes).
 */
const CACHE_MS = 2000;
const CACHE_MAX = 10000;

/**
 * A user's standing in a project: the project's name and the user's effective roles there,
 * or null when the project is gone or disabled or the user holds no role on it. Every way
 * of acting in a project (a token, a CloudSigma credential) reads it here.
 */
export async function projectScope(db: Db, userId: string, projectId: string): Promise<{ projectName: string; roles: { id: string; name: string }[] } | null> {
  const project = await db.selectFrom('projects').select(['name', 'enabled']).where('id', '=', projectId).executeTakeFirst();
  if (!project || !project.enabled) return null;
  const direct = await db
    .selectFrom('role_assignments')
    .innerJoin('roles', 'roles.id', 'role_assignments.role_id')
    .select('roles.name')
    .where('role_assignments.user_id', '=', userId)
    .where('role_assignments.project_id', '=', projectId)
    .execute();
  if (direct.length === 0) return null; // the user lost every role on the project
  const names = effectiveRoles(direct.map((r) => r.name));
  const roles = await db.selectFrom('roles').select(['id', 'name']).where('name', 'in', names).orderBy('name').execute();
  return { projectName: project.name, roles };
}

export class Tokens {
  private readonly cache = new Map<string, { ctx: AuthContext; until: number }>();
  /** Bumped by every revocation: a validation that read the database before one must not cache what it read. */
  private generation = 0;
  /** Other caches of who may act as whom (the CloudSigma face's credential checks): they forget with this one. */
  private readonly followers: (() => void)[] = [];

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly ttlSeconds: number,
    private readonly invalidations: Invalidations = ONE_PROCESS,
  ) {
    // Another process revoked something: which tokens it touched is not said; forget them all.
    invalidations.on('tokens', () => {
      this.generation++;
      this.cache.clear();
      for (const f of this.followers) f();
    });
  }

  async issue(input: { userId: string; projectId: string | null; methods: string[]; auditId?: string; expiresAt?: Date }) {
    const token = 'nb' + randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const expires = input.expiresAt ?? new Date(now.getTime() + this.ttlSeconds * 1000);
    await this.db
      .insertInto('tokens')
      .values({
        id: hashToken(token),
        user_id: input.userId,
        project_id: input.projectId,
        methods: input.methods.join(','),
        audit_id: input.auditId ?? randomBytes(16).toString('base64url').slice(0, 22),
        issued_at: now.toISOString(),
        expires_at: expires.toISOString(),
        revoked: 0,
      })
      .execute();
    const ctx = await this.validate(token);
    if (!ctx) throw new Error('token issued for a user or project that cannot hold it');
    return { token, ctx };
  }

  /** The caller's context, or null when the token is unknown, expired, revoked or its user/project disabled. */
  async validate(token: string): Promise<AuthContext | null> {
    const id = hashToken(token);
    const now = this.clock.nowMs();
    const hit = this.cache.get(id);
    if (hit && hit.until > now && hit.ctx.expiresAt.getTime() > now) return hit.ctx;
    const generation = this.generation;

    const row = await this.db
      .selectFrom('tokens')
      .innerJoin('users', 'users.id', 'tokens.user_id')
      .select(['tokens.user_id', 'tokens.project_id', 'tokens.methods', 'tokens.audit_id', 'tokens.issued_at', 'tokens.expires_at', 'tokens.revoked', 'users.name as user_name', 'users.enabled as user_enabled'])
      .where('tokens.id', '=', id)
      .executeTakeFirst();
    if (!row || row.revoked || !row.user_enabled || Date.parse(row.expires_at) <= now) {
      this.cache.delete(id);
      return null;
    }
    let projectName: string | null = null;
    let roles: { id: string; name: string }[] = [];
    if (row.project_id) {
      const scope = await projectScope(this.db, row.user_id, row.project_id);
      if (!scope) return null;
      ({ projectName, roles } = scope);
    }
    const ctx: AuthContext = {
      userId: row.user_id,
      userName: row.user_name,
      projectId: row.project_id,
      projectName,
      roles,
      isAdmin: roles.some((r) => r.name === 'admin'),
      methods: row.methods.split(','),
      auditId: row.audit_id,
      issuedAt: new Date(row.issued_at),
      expiresAt: new Date(row.expires_at),
    };
    if (generation !== this.generation) return ctx; // a revocation ran meanwhile: answer, but do not remember
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(id, { ctx, until: now + CACHE_MS });
    return ctx;
  }

  /**
   * Drops this node's cached validations an event revoked; call it once the event's
   * transaction has committed, so no validation can read the database before it and cache.
   */
  forget(event: RevocationEvent): Promise<void> {
    this.generation++;
    for (const f of this.followers) f();
    for (const [id, entry] of this.cache) if (revokes(event, entry.ctx)) this.cache.delete(id);
    return this.invalidations.announce('tokens');
  }

  /** A login now finds another user, or none: the followers forget here, and in the other processes with this cache. */
  forgetLogins(): Promise<void> {
    for (const f of this.followers) f();
    return this.invalidations.announce('tokens');
  }

  /** Calls `forget` whenever this cache forgets what a revocation (here or in another process) took away. */
  onForget(forget: () => void): void {
    this.followers.push(forget);
  }

  async revoke(token: string): Promise<boolean> {
    const id = hashToken(token);
    const r = await this.db.updateTable('tokens').set({ revoked: 1 }).where('id', '=', id).where('revoked', '=', 0).executeTakeFirst();
    this.generation++;
    this.cache.delete(id);
    const revoked = Number(r.numUpdatedRows) > 0;
    if (revoked) await this.invalidations.announce('tokens');
    return revoked;
  }

  /** Expired tokens are useless; drop them so the table stays small. */
  async purgeExpired(): Promise<number> {
    const r = await this.db.deleteFrom('tokens').where('expires_at', '<', this.clock.now().toISOString()).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
