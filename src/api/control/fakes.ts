/**
 * The fake driver's switches the control API flips: on this process's own fake, or — in a
 * process that runs no host — on the fakes of the hosts' processes, through the remote driver.
 */
import { HostUnavailable, type Driver } from '../../virt/driver.js';
import { FakeDriver } from '../../virt/fake/driver.js';
import { RemoteDriver } from '../../virt/remote/driver.js';

/** Makes a guest ignore ACPI (or handle it again) wherever it runs or will run; false when no host runs the fake. */
export async function setAcpiIgnored(driver: Driver, id: string, ignored: boolean): Promise<boolean> {
  if (driver instanceof FakeDriver) return driver.setAcpiIgnored(id, ignored), true;
  if (!(driver instanceof RemoteDriver)) return false;
  // The guest may not run yet: every host's fake learns it, as the one fake of `serve` does.
  const results = await Promise.allSettled(driver.hosts().map((h) => driver.fake(h.name, 'setAcpiIgnored', [id, ignored])));
  if (results.some((r) => r.status === 'fulfilled')) return true;
  const down = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && r.reason instanceof HostUnavailable);
  if (down) throw down.reason;
  return false;
}

/** Takes a fake storage pool down or up again; false when there is no such pool. */
export async function setStorageDown(driver: Driver, pool: string, down: boolean): Promise<boolean> {
  if (driver instanceof FakeDriver) {
    if (!driver.pools().includes(pool)) return false;
    return driver.setStorageDown(pool, down), true;
  }
  if (!(driver instanceof RemoteDriver)) return false;
  const pools = await driver.fake<string[]>(null, 'pools', []).catch((err) => {
    if (err instanceof HostUnavailable) throw err;
    return [] as string[];
  });
  if (!pools.includes(pool)) return false;
  await driver.fake(null, 'setStorageDown', [pool, down]);
  return true;
}
