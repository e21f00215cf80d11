import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db/database.js';
import type { Clock } from '../clock.js';
import type { UserTable } from '../db/schema.js';
import { digestHa1, verifyPassword } from './passwords.js';
import { projectScope, type AuthContext } from './tokens.js';

/** How long a checked password is taken without running scrypt again (per process). */
const VERIFIED_MS = 60_000;
/**
 * How long a credential's user and context are reused, as the token cache's validations are:
 * a revocation (password change, user disabled or deleted, role removed, project disabled)
 * clears them at once in every process (Tokens.onForget, over src/db/invalidations.ts);
 * what grants (a new user, role, name or email) shows within it.
 */
const CONTEXT_MS = 2000;
const CACHE_MAX = 10_000;
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Credentials sent with every request instead of a token (the CloudSigma face's HTTP Basic
 * and Digest): who is this, and as what do they act? A user acts in their home project —
 * their default project if they hold a role there, else the first (by name) they hold one
 * on — with their roles there, exactly as a token scoped to it would.
 */
export class Credentials {
  /** sha256(password hash, password) → until: scrypt is slow on purpose, and Basic sends the password every time. */
  private readonly verified = new Map<string, number>();
  private readonly contexts = new Map<string, { ctx: AuthContext; until: number }>();
  /** Users found by a login (Basic and Digest send it with every request); no entry for a login that found none. */
  private readonly users = new Map<string, { user: UserTable; until: number }>();
  /** Bumped by every forget: a lookup that read the database before one must not keep what it read. */
  private generation = 0;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly ttlSeconds: number,
  ) {}

  /** Forgets every kept user and context (a revocation took authority away from someone). */
  forget(): void {
    this.generation++;
    this.users.clear();
    this.contexts.clear();
  }

  /** A user by name, or by email when no user has that name and exactly one has that email. */
  private async user(login: string): Promise<UserTable | undefined> {
    const now = this.clock.nowMs();
    const hit = this.users.get(login);
    if (hit && hit.until > now) return hit.user;
    const generation = this.generation;
    const user = await this.findUser(login);
    if (user && generation === this.generation) {
      if (this.users.size >= CACHE_MAX) this.users.clear();
      this.users.set(login, { user, until: now + CONTEXT_MS });
    }
    return user;
  }

  private async findUser(login: string): Promise<UserTable | undefined> {
    const byName = await this.db.selectFrom('users').selectAll().where('name', '=', login).executeTakeFirst();
    if (byName || !login.includes('@')) return byName;
    const byEmail = await this.db.selectFrom('users').selectAll().where('email', '=', login).limit(2).execute();
    return byEmail.length === 1 ? byEmail[0] : undefined;
  }

  /** HTTP Basic: name or email, and password. */
  async password(login: string, password: string): Promise<AuthContext | null> {
    const user = await this.user(login);
    const key = sha256(`${user?.password_hash ?? DUMMY_HASH}\0${password}`);
    const now = this.clock.nowMs();
    if (!((this.verified.get(key) ?? 0) > now)) {
      if (!(await verifyPassword(password, user?.password_hash ?? DUMMY_HASH)) || !user) return null;
      if (this.verified.size >= CACHE_MAX) this.verified.clear();
      this.verified.set(key, now + VERIFIED_MS);
      // A user made before Digest was known gets its secret from the first Basic login.
      const secrets: Partial<UserTable> = {};
      if (user.digest_ha1 === null) secrets.digest_ha1 = digestHa1(user.name, password);
      if (user.digest_email_ha1 === null && user.email) secrets.digest_email_ha1 = digestHa1(user.email, password);
      if (Object.keys(secrets).length) {
        await this.db.updateTable('users').set(secrets).where('id', '=', user.id).where('password_hash', '=', user.password_hash).where('email', user.email === null ? 'is' : '=', user.email).execute();
        // The kept row has no secrets yet: read it again (a Digest request next needs them).
        this.forget();
      }
    }
    return user ? this.contextOf(user, 'password', key) : null;
  }

  /**
   * HTTP Digest: the user with this name, else (as Basic) the one user with this email,
   * whose secret for that login `answers` checks against the client's response.
   */
  async digest(login: string, answers: (ha1: string) => boolean): Promise<AuthContext | null> {
    const user = await this.user(login);
    const ha1 = user?.name === login ? user.digest_ha1 : user?.digest_email_ha1;
    if (!user || !ha1 || !answers(ha1)) return null;
    return this.contextOf(user, 'digest', sha256(`digest\0${user.id}\0${ha1}`));
  }

  /** The project a user acts in when no token names one. */
  async homeProject(user: Pick<UserTable, 'id' | 'default_project_id'>): Promise<string | null> {
    if (user.default_project_id && (await projectScope(this.db, user.id, user.default_project_id))) return user.default_project_id;
    const rows = await this.db
      .selectFrom('role_assignments')
      .innerJoin('projects', 'projects.id', 'role_assignments.project_id')
      .select('projects.id')
      .where('role_assignments.user_id', '=', user.id)
      .where('projects.enabled', '=', 1)
      .orderBy('projects.name')
      .execute();
    return rows[0]?.id ?? null;
  }

  private async contextOf(user: UserTable, method: string, key: string): Promise<AuthContext | null> {
    const now = this.clock.nowMs();
    const hit = this.contexts.get(key);
    if (hit && hit.until > now) return hit.ctx;
    const generation = this.generation;
    if (!user.enabled) return null;
    const projectId = await this.homeProject(user);
    if (!projectId) return null;
    const scope = await projectScope(this.db, user.id, projectId);
    if (!scope) return null;
    const ctx: AuthContext = {
      userId: user.id,
      userName: user.name,
      projectId,
      projectName: scope.projectName,
      roles: scope.roles,
      isAdmin: scope.roles.some((r) => r.name === 'admin'),
      methods: [method],
      auditId: randomBytes(16).toString('base64url').slice(0, 22),
      issuedAt: new Date(now),
      expiresAt: new Date(now + this.ttlSeconds * 1000),
    };
    if (generation !== this.generation) return ctx; // a revocation ran meanwhile: answer, but do not remember
    if (this.contexts.size >= CACHE_MAX) this.contexts.clear();
    this.contexts.set(key, { ctx, until: now + CONTEXT_MS });
    return ctx;
  }
}
