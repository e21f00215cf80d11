import type { Db, Tx } from '../db/database.js';

/**
 * What a Keystone revocation event names: every token of a user (a password change, a
 * disabled or deleted user), of a project (a disabled or deleted project), or of a user on
 * a project (a removed role). Tokens are stored, so an event marks them revoked for good:
 * enabling the user or project again brings none of them back.
 */
export interface RevocationEvent {
  userId?: string;
  projectId?: string;
}

/** Marks the tokens an event names revoked, in the caller's transaction (the change that caused it). */
export async function revokeTokens(tx: Tx | Db, event: RevocationEvent): Promise<void> {
  if (event.userId === undefined && event.projectId === undefined) throw new Error('a revocation event names a user, a project or both');
  let q = tx.updateTable('tokens').set({ revoked: 1 }).where('revoked', '=', 0);
  if (event.userId !== undefined) q = q.where('user_id', '=', event.userId);
  if (event.projectId !== undefined) q = q.where('project_id', '=', event.projectId);
  await q.execute();
}

/** Does the event revoke a token of this user and project? */
export const revokes = (event: RevocationEvent, token: { userId: string; projectId: string | null }) =>
  (event.userId === undefined || token.userId === event.userId) && (event.projectId === undefined || token.projectId === event.projectId);
