import { createHash } from 'node:crypto';
import type { Services } from '../services.js';
import { lockName, tryLockName, type Tx } from '../db/database.js';
import type { HostTable, ServerTable } from '../db/schema.js';
import { fits, hostUsage, rankHosts, softWeight, weigh, type HostUsage, type PlacementRequest } from '../scheduler/scheduler.js';

/**
 * Placement: choose a host for a server and claim it, with placements to different hosts
 * running at once (Nova's scheduler chooses from a read of every host, then claims in
 * placement, which refuses a claim that no longer fits; here the claim is the server's
 * host written under that host's lock, after what the choice read is read again).
 *
 * One transaction per attempt takes, in this order and no other:
 *   1. the lock of each server group the server is in (`placement-group:<id>`, by name),
 *      so members of one group are placed one after the other and each sees where the
 *      others went: (anti-)affinity, and their soft variants, stay exact;
 *   2. the lock of ONE host (`placement-host:<name>`): a placement onto a host sees every
 *      claim on it committed before (READ COMMITTED, a new statement after the lock);
 *   3. row locks, only then: the server's row (and server_usage's rows through its
 *      trigger), the task's, a migration's, a build behaviour's.
 * Advisory locks are all taken before any row is written, and no transaction holds a host
 * lock while it waits for another advisory lock, so none of these can wait in a circle.
 * When the host chosen no longer fits under its lock (a concurrent placement took the room,
 * or a different_host server went there meanwhile), the attempt is rolled back — that lets
 * its host lock go — and the next one chooses again without that host.
 *
 * SQLite runs one transaction at a time: the locks are nothing there, and the first choice
 * always holds.
 */

/** What the server needs if not its own size, and where it may go. */
export interface PlacementWant {
  vcpus?: number;
  memoryMb?: number;
  diskGb?: number;
  zone: string | null;
  forcedHost: string | null;
  /** Hosts it must not go to (the source of a move, hosts a build already died on). */
  exclude: string[];
  /** Hosts it should rather not go to (soft). */
  avoid?: string[];
  /** same_host / different_host hints: the servers whose hosts it must share or avoid. */
  sameAs?: string[];
  differentFrom?: string[];
}

type Placed = Pick<ServerTable, 'id' | 'project_id' | 'vcpus' | 'memory_mb' | 'disk_gb'>;

/** An attempt's host no longer fits (`exclude`) or was chosen on a ranking now stale. */
class LostRace extends Error {
  constructor(
    readonly host: string,
    readonly exclude: boolean,
  ) {
    super(`placement: host ${host} was taken meanwhile`);
  }
}

const hostLock = (name: string) => `placement-host:${name}`;

/**
 * Chooses a host for `server` and calls `claim` with it (or with null: no valid host) in
 * the transaction that holds it, so what `claim` writes (the server's host, a migration's
 * destination) commits with the choice. `claim` must not take advisory locks.
 */
export async function placeServer<R>(s: Services, server: Placed, want: PlacementWant, claim: (tx: Tx, host: HostTable | null) => Promise<R>): Promise<R> {
  const lost: string[] = [];
  // A ranking read before another placement's claim on the chosen host is made again once.
  let reranks = 1;
  for (;;) {
    try {
      return await s.db.transaction().execute(async (tx) => {
        const groups = await s.serverGroups.memberships(tx, server.id);
        for (const name of [...new Set(groups.map((g) => `placement-group:${g.id}`))].sort()) await lockName(tx, name);
        const hostsOf = async (ids?: string[]) =>
          ids?.length ? (await tx.selectFrom('servers').select('host').where('id', 'in', ids).where('host', 'is not', null).execute()).map((r) => r.host!) : [];
        const request = async (): Promise<PlacementRequest> => {
          const group = await s.serverGroups.placement(tx, server.id, groups);
          return {
            projectId: server.project_id,
            vcpus: want.vcpus ?? server.vcpus,
            memoryMb: want.memoryMb ?? server.memory_mb,
            diskGb: want.diskGb ?? server.disk_gb,
            availabilityZone: want.zone,
            forcedHost: want.forcedHost,
            sameHosts: [...(await hostsOf(want.sameAs)), ...group.sameHosts],
            differentHosts: [...(await hostsOf(want.differentFrom)), ...group.differentHosts],
            preferHosts: group.preferHosts,
            avoidHosts: [...group.avoidHosts, ...(want.avoid ?? [])],
            excludeHosts: [...want.exclude, ...lost],
          };
        };
        const nowMs = s.clock.nowMs();
        let r = await request();
        const ranked = rankHosts(await hostUsage(tx, server.project_id), r, nowMs);
        if (ranked.length === 0) return claim(tx, null);
        const chosen = await lockOne(tx, ranked, r, server.id);
        // Under the host's lock, read again what a placement committed since the choice:
        // the host's usage, and where the servers of the hints are now.
        if (want.sameAs?.length || want.differentFrom?.length) r = await request();
        const [now] = await hostUsage(tx, server.project_id, chosen.host.name);
        if (!now || !fits(now, r, nowMs)) throw new LostRace(chosen.host.name, true);
        if (reranks > 0 && ranked.some((h) => h !== chosen && weigh(h, now, r) < 0 && weigh(h, chosen, r) > 0)) throw new LostRace(chosen.host.name, false);
        return claim(tx, now.host);
      });
    } catch (err) {
      if (!(err instanceof LostRace)) throw err;
      if (err.exclude) lost.push(err.host);
      else reranks--;
    }
  }
}

/**
 * The lock of one host: the best one no other placement is claiming right now, among those
 * the soft group policies rank alike (a busy host of the group's preference is waited for,
 * not traded for a worse one). If all of those are busy, one of them is waited for, picked
 * by the server's id, so that a crowd of placements queues on all of them, not on the first.
 */
async function lockOne(tx: Tx, ranked: HostUsage[], r: PlacementRequest, serverId: string): Promise<HostUsage> {
  const best = softWeight(ranked[0], r);
  const alike = ranked.filter((h) => softWeight(h, r) === best);
  for (const h of alike) if (await tryLockName(tx, hostLock(h.host.name))) return h;
  const h = alike[createHash('sha256').update(serverId).digest().readUInt32BE(0) % alike.length];
  await lockName(tx, hostLock(h.host.name));
  return h;
}
