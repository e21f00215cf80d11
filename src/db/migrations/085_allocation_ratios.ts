import { Kysely } from 'kysely';

/**
 * Each compute host's allocation ratios (Nova's cpu_, ram_, disk_allocation_ratio): the
 * scheduler places up to ratio × the host's resources. Set by the host's process when it
 * registers, since they are its configuration; 1.0 until then.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const column of ['cpu_allocation_ratio', 'ram_allocation_ratio', 'disk_allocation_ratio']) {
    await db.schema.alterTable('hosts').addColumn(column, 'double precision', (c) => c.notNull().defaultTo(1)).execute();
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const column of ['cpu_allocation_ratio', 'ram_allocation_ratio', 'disk_allocation_ratio']) {
    await db.schema.alterTable('hosts').dropColumn(column).execute();
  }
}
