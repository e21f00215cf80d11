/**
 * The driver contract, run against every driver: what the core may rely on, whatever
 * runs the guests. One guest goes through every operation in turn (a real machine boots in
 * seconds, not instantly), each step a test of its own.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { PowerState } from '../../src/compute/states.js';
import type { Driver, GuestSpec } from '../../src/virt/driver.js';

export interface ContractSubject {
  driver: Driver;
  host: string;
  /** A spec the driver can boot (a real image for a real driver). */
  spec(id: string): GuestSpec;
  /** Resolves once the guest has booted far enough to act on ACPI and print what it was given. */
  booted(id: string, since?: number): Promise<void>;
  /** What the guest prints once booted, seen in its console output. */
  bootText: string;
  close(): Promise<void>;
}

export function driverContract(name: string, make: () => Promise<ContractSubject>, options: { skip?: string | false } = {}): void {
  describe(`the driver contract: ${name}`, { skip: options.skip ?? false }, () => {
    let s: ContractSubject;
    const id = randomUUID();
    const power = () => s.driver.powerState(s.host, id);

    before(async () => {
      s = await make();
    });
    after(async () => {
      await s?.driver.destroy(s.host, id).catch(() => {});
      await s?.close();
    });

    it('knows no guest it was never asked for', async () => {
      assert.equal(await s.driver.powerState(s.host, randomUUID()), null);
    });

    it('spawns a running guest', async () => {
      await s.driver.spawn(s.host, s.spec(id));
      assert.equal(await power(), PowerState.RUNNING);
    });

    it('spawning the same guest again changes nothing (a resumed task runs its step again)', async () => {
      await s.driver.spawn(s.host, s.spec(id));
      assert.equal(await power(), PowerState.RUNNING);
    });

    it("shows the guest's boot in its console output", async () => {
      await s.booted(id);
      assert.match(await s.driver.consoleOutput(s.host, id), new RegExp(s.bootText));
    });

    it('pauses and unpauses the guest', async () => {
      await s.driver.pause(s.host, id);
      assert.equal(await power(), PowerState.PAUSED);
      await s.driver.unpause(s.host, id);
      assert.equal(await power(), PowerState.RUNNING);
    });

    it('suspends the guest and resumes it', async () => {
      await s.driver.suspend(s.host, id);
      assert.equal(await power(), PowerState.SUSPENDED);
      await s.driver.resume(s.host, id);
      assert.equal(await power(), PowerState.RUNNING);
    });

    it('powers the guest off cleanly (the guest itself powers down), and on again', async () => {
      const running = (await s.driver.consoleOutput(s.host, id)).length;
      await s.driver.powerOff(s.host, id);
      assert.equal(await power(), PowerState.SHUTDOWN);
      assert.match((await s.driver.consoleOutput(s.host, id)).slice(running), /reboot: Power down/);
      const before = (await s.driver.consoleOutput(s.host, id)).length;
      await s.driver.powerOn(s.host, id);
      assert.equal(await power(), PowerState.RUNNING);
      await s.booted(id, before);
    });

    it('reboots the guest hard, and it boots again', async () => {
      const before = (await s.driver.consoleOutput(s.host, id)).length;
      await s.driver.reboot(s.host, id, true);
      assert.equal(await power(), PowerState.RUNNING);
      await s.booted(id, before);
    });

    it('reboots the guest softly, and it boots again', async () => {
      const before = (await s.driver.consoleOutput(s.host, id)).length;
      await s.driver.reboot(s.host, id, false);
      assert.equal(await power(), PowerState.RUNNING);
      await s.booted(id, before);
    });

    it('rescues the guest (it boots again, from a rescue disk) and unrescues it', async () => {
      let before = (await s.driver.consoleOutput(s.host, id)).length;
      await s.driver.rescue(s.host, id);
      assert.equal(await power(), PowerState.RUNNING);
      await s.booted(id, before);
      before = (await s.driver.consoleOutput(s.host, id)).length;
      await s.driver.unrescue(s.host, id);
      assert.equal(await power(), PowerState.RUNNING);
      await s.booted(id, before);
    });

    it('pulls the power cord when asked for no clean shutdown', async () => {
      await s.driver.powerOff(s.host, id, 0);
      assert.equal(await power(), PowerState.SHUTDOWN);
    });

    it('destroys the guest, and destroying it again succeeds', async () => {
      await s.driver.destroy(s.host, id);
      assert.equal(await power(), null);
      await s.driver.destroy(s.host, id);
    });

    it('refuses an operation on a guest it does not have, as a DriverError', async () => {
      await assert.rejects(s.driver.pause(s.host, id), (err: Error) => err.constructor.name === 'DriverError');
    });
  });
}
