import type { AuthContext } from '../identity/tokens.js';
import type { ServerTable } from '../db/schema.js';
import { conflict } from '../errors.js';

/**
 * Nova's check_instance_lock and check_instance_state decorators, with the 409 messages
 * its API gives for them (raise_http_conflict_for_instance_invalid_state). `action` is
 * the name the message quotes ('update metadata', 'delete tag' …).
 */

/** A locked server refuses changes from anyone but an admin, whoever locked it. */
export function checkLock(ctx: AuthContext, server: ServerTable): void {
  if (server.locked && !ctx.isAdmin) throw conflict(`Instance ${server.id} is locked`);
}

export interface AllowedStates {
  vmStates?: readonly string[];
  /** The task states allowed; Nova's default is idle (null) only. Undefined: any. */
  taskStates?: readonly (string | null)[];
  /** Whether the server must have been launched once (Nova's must_have_launched). */
  mustHaveLaunched?: boolean;
}

export function checkState(server: ServerTable, allowed: AllowedStates, action: string): void {
  const refuse = (attr: string, state: string) => conflict(`Cannot '${action}' instance ${server.id} while it is in ${attr} ${state}`);
  if (allowed.vmStates && !allowed.vmStates.includes(server.vm_state)) throw refuse('vm_state', server.vm_state);
  if (allowed.taskStates && !allowed.taskStates.includes(server.task_state)) throw refuse('task_state', String(server.task_state));
  // Nova has no state to name here (launched_at is None), so its message is the generic one.
  if (allowed.mustHaveLaunched && !server.launched_at) throw conflict(`Instance ${server.id} is in an invalid state for '${action}'`);
}
