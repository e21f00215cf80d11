import { randomUUID } from 'node:crypto';
import { INSERT_BATCH, type Db, type Tx } from '../db/database.js';

/**
 * Instance actions: the history of what was asked of a server (`create`, `delete`,
 * `reboot` …), by whom, with the events the work went through.
 */
export interface NewAction {
  serverId: string;
  action: string;
  requestId: string;
  projectId: string;
  userId: string;
  now: string;
}

export async function startAction(tx: Tx, a: NewAction): Promise<string> {
  return (await startActions(tx, [a]))[0];
}

/** Records many actions in a few statements (a multi-create's servers); returns their ids in order. */
export async function startActions(tx: Tx, actions: NewAction[]): Promise<string[]> {
  const rows = actions.map((a) => ({ id: randomUUID(), server_id: a.serverId, action: a.action, request_id: a.requestId, project_id: a.projectId, user_id: a.userId, message: null, start_time: a.now, finish_time: null, updated_at: a.now }));
  for (let i = 0; i < rows.length; i += INSERT_BATCH) await tx.insertInto('instance_actions').values(rows.slice(i, i + INSERT_BATCH)).execute();
  return rows.map((r) => r.id);
}

export async function startEvent(db: Db | Tx, actionId: string, event: string, host: string | null, now: string): Promise<string> {
  const id = randomUUID();
  await db.insertInto('instance_action_events').values({ id, action_id: actionId, event, host, result: null, traceback: null, details: null, start_time: now, finish_time: null }).execute();
  return id;
}

/** Ends an event and its action; an error marks both, as Nova's "Error" message does. */
export async function finishEvent(db: Db | Tx, actionId: string, eventId: string, now: string, error?: { message: string; traceback?: string }): Promise<void> {
  await db
    .updateTable('instance_action_events')
    .set({ finish_time: now, result: error ? 'Error' : 'Success', traceback: error?.traceback ?? null, details: error?.message ?? null })
    .where('id', '=', eventId)
    .execute();
  await db
    .updateTable('instance_actions')
    .set({ finish_time: now, updated_at: now, ...(error ? { message: 'Error' } : {}) })
    .where('id', '=', actionId)
    .execute();
}
