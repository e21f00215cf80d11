import type { Services } from '../services.js';
import type { InstanceActionEventTable, InstanceActionTable } from '../db/schema.js';
import { invalid } from '../errors.js';

export type InstanceAction = InstanceActionTable;
export type InstanceActionEvent = InstanceActionEventTable;

export interface ActionQuery {
  limit?: number;
  /** The request id of the last action of the previous page. */
  marker?: string;
  /** ISO 8601 bounds on updated_at, inclusive. */
  changesSince?: string;
  changesBefore?: string;
}

/**
 * Reading a server's history of instance actions (compute/actions.ts writes it): newest
 * first, as Nova sorts them (created_at desc, id desc).
 */
export class InstanceActions {
  constructor(private readonly s: Services) {}

  async list(serverId: string, q: ActionQuery = {}): Promise<InstanceAction[]> {
    if (q.limit === 0) return [];
    let sql = this.s.db.selectFrom('instance_actions').selectAll().where('server_id', '=', serverId);
    if (q.changesSince) sql = sql.where('updated_at', '>=', q.changesSince);
    if (q.changesBefore) sql = sql.where('updated_at', '<=', q.changesBefore);
    if (q.marker !== undefined) {
      const marker = await this.find(serverId, q.marker);
      if (!marker) throw invalid(`Marker ${q.marker} could not be found.`);
      sql = sql.where((eb) =>
        eb.or([eb('start_time', '<', marker.start_time), eb.and([eb('start_time', '=', marker.start_time), eb('id', '<', marker.id)])]),
      );
    }
    sql = sql.orderBy('start_time', 'desc').orderBy('id', 'desc');
    if (q.limit !== undefined) sql = sql.limit(q.limit);
    return sql.execute();
  }

  /** The action a request started on this server (the newest, should a request id repeat). */
  async find(serverId: string, requestId: string): Promise<InstanceAction | undefined> {
    return this.s.db
      .selectFrom('instance_actions')
      .selectAll()
      .where('server_id', '=', serverId)
      .where('request_id', '=', requestId)
      .orderBy('start_time', 'desc')
      .orderBy('id', 'desc')
      .executeTakeFirst();
  }

  async events(actionId: string): Promise<InstanceActionEvent[]> {
    return this.s.db
      .selectFrom('instance_action_events')
      .selectAll()
      .where('action_id', '=', actionId)
      .orderBy('start_time', 'desc')
      .orderBy('id', 'desc')
      .execute();
  }
}
