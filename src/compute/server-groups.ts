import { randomUUID } from 'node:crypto';
import type { Db, Tx } from '../db/database.js';
import type { ServerGroupTable } from '../db/schema.js';
import type { Clock } from '../clock.js';
import type { AuthContext } from '../identity/tokens.js';
import { invalid, notFound } from '../errors.js';
import { enforce, lockQuotas } from './quotas.js';

export type ServerGroup = ServerGroupTable & { members: string[] };

/** What a group asks of the scheduler for one more member. */
export interface GroupPlacement {
  sameHosts: string[];
  differentHosts: string[];
  preferHosts: string[];
  avoidHosts: string[];
}

/** A group a server belongs to, with what a placement needs of it. */
export interface GroupMembership {
  id: string;
  policy: string;
  rules: string;
}

export class ServerGroups {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async create(ctx: AuthContext, input: { name: string; policy: string; rules: Record<string, number> }): Promise<ServerGroup> {
    const projectId = ctx.projectId!;
    const row: ServerGroupTable = {
      id: randomUUID(),
      name: input.name,
      project_id: projectId,
      user_id: ctx.userId,
      policy: input.policy,
      rules: JSON.stringify(input.rules),
      created_at: this.clock.now().toISOString(),
    };
    await this.db.transaction().execute(async (tx) => {
      await enforce(tx, projectId, ctx.userId, { server_groups: 1 });
      await tx.insertInto('server_groups').values(row).execute();
    });
    return { ...row, members: [] };
  }

  /** Groups with their live members, for one project or (admin, all_projects) every one. */
  async list(ctx: AuthContext, allProjects: boolean): Promise<ServerGroup[]> {
    let q = this.db.selectFrom('server_groups').selectAll().orderBy('created_at').orderBy('id');
    if (!(allProjects && ctx.isAdmin)) q = q.where('project_id', '=', ctx.projectId ?? '');
    return this.withMembers(await q.execute());
  }

  async get(ctx: AuthContext, id: string): Promise<ServerGroup> {
    const row = await this.db.selectFrom('server_groups').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || (!ctx.isAdmin && row.project_id !== ctx.projectId)) throw notFound(`Instance group ${id} could not be found.`);
    return (await this.withMembers([row]))[0];
  }

  async delete(ctx: AuthContext, id: string): Promise<void> {
    const group = await this.get(ctx, id);
    // Under the project's quota lock: a create joining the group either finishes first or
    // finds it gone (400), never writes a member of a deleted group.
    await this.db.transaction().execute(async (tx) => {
      await lockQuotas(tx, group.project_id);
      await tx.deleteFrom('server_groups').where('id', '=', id).execute();
    });
  }

  /** The group ids a server belongs to (shown from 2.71). */
  async groupsOf(serverId: string): Promise<string[]> {
    return (await this.db.selectFrom('server_group_members').select('group_id').where('server_id', '=', serverId).execute()).map((r) => r.group_id);
  }

  /** Adds new servers to a group inside the create transaction; the group must be the caller's. */
  async join(tx: Tx, ctx: AuthContext, groupId: string, serverIds: string[]): Promise<void> {
    const projectId = ctx.projectId!;
    // Group and members are read under the quota lock, so the count and the group hold till commit.
    await lockQuotas(tx, projectId);
    const group = await tx.selectFrom('server_groups').select(['id', 'project_id']).where('id', '=', groupId).executeTakeFirst();
    if (!group || group.project_id !== projectId) throw invalid(`Invalid input for field/attribute group. Value: ${groupId}. Instance group ${groupId} could not be found.`);
    const { n } = await tx
      .selectFrom('server_group_members')
      .innerJoin('servers', 'servers.id', 'server_group_members.server_id')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('group_id', '=', groupId)
      .where('servers.deleted', '=', 0)
      .executeTakeFirstOrThrow();
    await enforce(tx, projectId, ctx.userId, { server_group_members: serverIds.length }, { server_group_members: Number(n) });
    await tx.insertInto('server_group_members').values(serverIds.map((server_id) => ({ group_id: groupId, server_id }))).execute();
  }

  /**
   * The groups a server is a member of: fixed when it is created, so a placement reads them
   * before it takes the placement lock, and under it reads only where the members are.
   */
  async memberships(tx: Tx, serverId: string): Promise<GroupMembership[]> {
    return tx
      .selectFrom('server_group_members')
      .innerJoin('server_groups', 'server_groups.id', 'server_group_members.group_id')
      .select(['server_groups.id', 'server_groups.policy', 'server_groups.rules'])
      .where('server_group_members.server_id', '=', serverId)
      .execute();
  }

  /** How the groups of `serverId` constrain where it may go, from where the other members are. */
  async placement(tx: Tx, serverId: string, groups?: GroupMembership[]): Promise<GroupPlacement> {
    const out: GroupPlacement = { sameHosts: [], differentHosts: [], preferHosts: [], avoidHosts: [] };
    for (const g of groups ?? (await this.memberships(tx, serverId))) {
      const hosts = (
        await tx
          .selectFrom('server_group_members')
          .innerJoin('servers', 'servers.id', 'server_group_members.server_id')
          .select('servers.host')
          .where('server_group_members.group_id', '=', g.id)
          .where('servers.id', '!=', serverId)
          .where('servers.deleted', '=', 0)
          .where('servers.host', 'is not', null)
          .execute()
      ).map((r) => r.host!);
      if (g.policy === 'affinity') out.sameHosts.push(...hosts);
      else if (g.policy === 'soft-affinity') out.preferHosts.push(...hosts);
      else if (g.policy === 'soft-anti-affinity') out.avoidHosts.push(...hosts);
      else {
        // anti-affinity: a host is full for the group once it holds max_server_per_host members.
        const max = (JSON.parse(g.rules) as { max_server_per_host?: number }).max_server_per_host ?? 1;
        const counts = new Map<string, number>();
        for (const h of hosts) counts.set(h, (counts.get(h) ?? 0) + 1);
        for (const [h, c] of counts) if (c >= max) out.differentHosts.push(h);
      }
    }
    return out;
  }

  private async withMembers(rows: ServerGroupTable[]): Promise<ServerGroup[]> {
    if (rows.length === 0) return [];
    const members = await this.db
      .selectFrom('server_group_members')
      .innerJoin('servers', 'servers.id', 'server_group_members.server_id')
      .select(['server_group_members.group_id', 'servers.id'])
      .where(
        'server_group_members.group_id',
        'in',
        rows.map((r) => r.id),
      )
      .where('servers.deleted', '=', 0)
      .orderBy('servers.created_at')
      .execute();
    return rows.map((r) => ({ ...r, members: members.filter((m) => m.group_id === r.id).map((m) => m.id) }));
  }
}
