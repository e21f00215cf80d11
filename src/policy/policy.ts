import type { AuthContext } from '../identity/tokens.js';
import { forbidden } from '../errors.js';
import { DEFAULT_RULES, type Rule } from './rules.js';

const RULE_NAMES: Rule[] = ['any', 'admin', 'project_reader', 'project_member'];

function hasRole(ctx: AuthContext, name: string): boolean {
  return ctx.roles.some((r) => r.name === name);
}

/** Does `rule` let `ctx` act on something owned by `targetProjectId` (default: the caller's project)? */
export function allows(rule: Rule, ctx: AuthContext, targetProjectId?: string | null): boolean {
  if (rule === 'any') return true;
  if (ctx.isAdmin) return true;
  if (rule === 'admin') return false;
  const ownProject = ctx.projectId !== null && (targetProjectId === undefined || targetProjectId === ctx.projectId);
  if (!ownProject) return false;
  return rule === 'project_reader' ? hasRole(ctx, 'reader') : hasRole(ctx, 'member');
}

export class Policy {
  private readonly rules: Record<string, Rule>;

  constructor(overrides: Record<string, string> = {}) {
    for (const [action, rule] of Object.entries(overrides)) {
      if (!RULE_NAMES.includes(rule as Rule)) throw new Error(`policy ${action}: unknown rule "${rule}" (want ${RULE_NAMES.join(', ')})`);
    }
    this.rules = { ...DEFAULT_RULES, ...(overrides as Record<string, Rule>) };
  }

  check(ctx: AuthContext, action: string, targetProjectId?: string | null): boolean {
    const rule = this.rules[action];
    if (!rule) throw new Error(`no policy rule for ${action}`); // a bug: every action has a rule
    return allows(rule, ctx, targetProjectId);
  }

  /** Throws 403 with Nova's message when the rule denies. */
  authorize(ctx: AuthContext, action: string, targetProjectId?: string | null): void {
    if (!this.check(ctx, action, targetProjectId)) {
      throw forbidden(`Policy doesn't allow ${action} to be performed.`);
    }
  }
}
