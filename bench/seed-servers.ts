/**
 * The benchmark's seeding step: puts many servers into a stopped Nimbus's database directly,
 * because building 100,000 servers through the API would take most of the time budget.
 *
 * Each seeded server is a copy of a template: a server the benchmark created through the
 * API and waited for until ACTIVE, so the rows carry the same columns, with the same kinds
 * of values, as the create path and the build task write them (an ACTIVE server on one of
 * the fake hosts, its flavor copy, request spec, no addresses since the bench cloud has no
 * networks). Per copy, what has to differ differs: id, name, hostname, reservation id,
 * host (round-robin over the fake hosts) and the timestamps, spread one second apart
 * before the template's so that the newest-first order and keyset paging see distinct
 * values. Each copy also gets its finished `create` instance action, as the create path
 * writes one; the action's events and the (deleted on completion) task rows are left out.
 *
 * It goes through Nimbus's own openDatabase, so it writes SQLite or PostgreSQL alike.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { openDatabase } from '../src/db/database.js';
import type { ServerTable } from '../src/db/schema.js';

/** Rows per INSERT: 41 columns × 500 stays well under SQLite's 32,766 bound variables. */
const BATCH = 500;

export interface SeedResult {
  inserted: number;
  total: number;
  ms: number;
}

/** Adds copies of `templateId` until the project has `target` live servers. */
export async function seedServers(databaseUrl: string, templateId: string, target: number, hosts: string[]): Promise<SeedResult> {
  const t0 = performance.now();
  const db = await openDatabase(databaseUrl);
  try {
    const template = await db.selectFrom('servers').selectAll().where('id', '=', templateId).executeTakeFirstOrThrow();
    const action = await db.selectFrom('instance_actions').selectAll().where('server_id', '=', templateId).where('action', '=', 'create').executeTakeFirstOrThrow();
    const count = async () =>
      Number((await db.selectFrom('servers').select((eb) => eb.fn.countAll<number>().as('n')).where('project_id', '=', template.project_id).where('deleted', '=', 0).executeTakeFirstOrThrow()).n);
    const before = await count();
    const wanted = Math.max(0, target - before);
    // Older than anything there: below the oldest server's creation time.
    const oldest = await db.selectFrom('servers').select((eb) => eb.fn.min<string>('created_at').as('t')).executeTakeFirstOrThrow();
    const start = Date.parse(oldest.t ?? template.created_at) - 1000;
    for (let done = 0; done < wanted; done += BATCH) {
      const n = Math.min(BATCH, wanted - done);
      const servers: ServerTable[] = [];
      const actions: (typeof action)[] = [];
      for (let i = 0; i < n; i++) {
        const k = done + i;
        const id = randomUUID();
        const created = new Date(start - k * 1000).toISOString();
        const launched = new Date(start - k * 1000 + 5).toISOString();
        const name = `seed-${before + k}`;
        servers.push({
          ...template,
          id,
          name,
          hostname: name,
          host: hosts[k % hosts.length],
          reservation_id: 'r-' + randomBytes(4).toString('hex'),
          created_at: created,
          updated_at: launched,
          launched_at: launched,
        });
        actions.push({ ...action, id: randomUUID(), server_id: id, request_id: `req-${randomUUID()}`, start_time: created, finish_time: launched, updated_at: launched });
      }
      await db.transaction().execute(async (tx) => {
        await tx.insertInto('servers').values(servers).execute();
        await tx.insertInto('instance_actions').values(actions).execute();
      });
    }
    return { inserted: wanted, total: await count(), ms: performance.now() - t0 };
  } finally {
    await db.destroy();
  }
}
