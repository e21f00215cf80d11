import { randomUUID } from 'node:crypto';
import { lockName, type Db } from '../db/database.js';
import type { Clock } from '../clock.js';
import type { Driver } from '../virt/driver.js';

export interface AllocationRatios {
  cpuAllocationRatio: number;
  ramAllocationRatio: number;
  diskAllocationRatio: number;
}

/**
 * Registers the driver's hosts as compute services and keeps them alive with a
 * heartbeat. A host that stops beating (its process died, or the control API marked it
 * down) is down for the scheduler, /os-services and evacuate.
 */
export class ComputeHosts {
  /** Hosts of this process that are simulated down: they skip the heartbeat. */
  private readonly down = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly driver: Driver,
    /** This process's allocation ratios (config compute.*AllocationRatio), which its hosts register with. */
    private readonly ratios: AllocationRatios = { cpuAllocationRatio: 1, ramAllocationRatio: 1, diskAllocationRatio: 1 },
  ) {}

  /**
   * Inserts or refreshes this process's hosts. num_id is the next free number, so the
   * read and the insert hold the `hosts` lock together: processes starting at once on
   * one PostgreSQL database (API nodes, compute hosts) never take the same number or
   * insert the same name twice.
   */
  async register(): Promise<void> {
    const now = this.clock.now().toISOString();
    await this.db.transaction().execute(async (tx) => {
      await lockName(tx, 'hosts');
      const ratios = { cpu_allocation_ratio: this.ratios.cpuAllocationRatio, ram_allocation_ratio: this.ratios.ramAllocationRatio, disk_allocation_ratio: this.ratios.diskAllocationRatio };
      for (const info of this.driver.hosts()) {
        const existing = await tx.selectFrom('hosts').select('id').where('name', '=', info.name).executeTakeFirst();
        if (existing) {
          await tx
            .updateTable('hosts')
            .set({ availability_zone: info.availabilityZone, vcpus: info.vcpus, memory_mb: info.memoryMb, local_gb: info.localGb, host_ip: info.hostIp, driver: this.driver.name, ...ratios, last_seen_at: now, updated_at: now })
            .where('id', '=', existing.id)
            .execute();
          continue;
        }
        const max = await tx.selectFrom('hosts').select((eb) => eb.fn.max<number>('num_id').as('n')).executeTakeFirst();
        await tx
          .insertInto('hosts')
          .values({
            id: randomUUID(),
            num_id: Number(max?.n ?? 0) + 1,
            service_id: randomUUID(),
            name: info.name,
            driver: this.driver.name,
            availability_zone: info.availabilityZone,
            vcpus: info.vcpus,
            memory_mb: info.memoryMb,
            local_gb: info.localGb,
            host_ip: info.hostIp,
            ...ratios,
            enabled: 1,
            disabled_reason: null,
            forced_down: 0,
            last_seen_at: now,
            created_at: now,
            updated_at: now,
          })
          .execute();
      }
    });
  }

  async heartbeat(): Promise<void> {
    const names = this.driver.hosts().map((h) => h.name).filter((n) => !this.down.has(n));
    if (names.length === 0) return;
    await this.db.updateTable('hosts').set({ last_seen_at: this.clock.now().toISOString() }).where('name', 'in', names).execute();
  }

  /** Simulates a host going down (no more heartbeats, seen down at once) or coming back. */
  async setDown(name: string, down: boolean): Promise<void> {
    if (down) {
      this.down.add(name);
      await this.db.updateTable('hosts').set({ last_seen_at: new Date(0).toISOString() }).where('name', '=', name).execute();
    } else {
      this.down.delete(name);
      await this.heartbeat();
    }
  }
}
