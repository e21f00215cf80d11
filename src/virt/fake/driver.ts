import { setTimeout as sleep } from 'node:timers/promises';
import { PowerState } from '../../compute/states.js';
import { DriverError, type ConsoleClient, type ConsoleKind, type Driver, type GuestConsole, type GuestSpec, type HostInfo } from '../driver.js';
import { RfbServer } from './rfb.js';
import { SerialConsole } from './serial.js';

export interface FakeOptions {
  /** Number of simulated hosts (default 3), named fake-host-1 … */
  hosts: number;
  vcpus: number;
  memoryMb: number;
  localGb: number;
  /** Availability zones, assigned to hosts round-robin (default ["nova"]). */
  zones: string[];
  /** How long every operation takes, in milliseconds (default 0). */
  operationMs: number;
  /**
   * How long the operations a client can watch on a real cloud stay in progress: a
   * snapshot's upload, a resize or migration, a live migration (default 2000 ms; 0: at once).
   * A client that acts while one runs (a second snapshot, a delete of the image being saved)
   * then meets the busy server or saving image it would meet on Nova.
   */
  busyWindowMs: number;
}

export const FAKE_DEFAULTS: FakeOptions = { hosts: 3, vcpus: 64, memoryMb: 262144, localGb: 4096, zones: ['nova'], operationMs: 0, busyWindowMs: 2000 };

interface FakeGuest {
  spec: Pick<GuestSpec, 'id' | 'name' | 'hostname'>;
  power: PowerState;
  bootedAt: number;
  /** What the guest wrote to its serial console, as a real one: no newline after the last line. */
  console: string;
}

/**
 * Simulated hypervisor hosts: instant (or as slow as configured), faithful in the power
 * state transitions, and able to fail on demand. Its guests live in memory; on start the
 * task layer adopts the guests the database says exist, as a real host would still have them.
 */
export class FakeDriver implements Driver {
  readonly name = 'fake';
  private readonly guests = new Map<string, Map<string, FakeGuest>>();
  private readonly failSpawns = new Map<string, string>();
  /** Guests (by id) that play an OS ignoring ACPI power-button events. */
  private readonly ignoresAcpi = new Set<string>();
  private readonly hostList: HostInfo[];

  constructor(private readonly options: FakeOptions = FAKE_DEFAULTS) {
    this.hostList = Array.from({ length: options.hosts }, (_, i) => ({
      name: `fake-host-${i + 1}`,
      availabilityZone: options.zones[i % options.zones.length],
      vcpus: options.vcpus,
      memoryMb: options.memoryMb,
      localGb: options.localGb,
      hostIp: `127.0.0.${i + 2}`,
    }));
    for (const h of this.hostList) this.guests.set(h.name, new Map());
  }

  hosts(): HostInfo[] {
    return this.hostList;
  }

  /** Failure injection: every spawn on `host` fails with `message` until cleared (null). */
  setSpawnFailure(host: string, message: string | null): void {
    if (message === null) this.failSpawns.delete(host);
    else this.failSpawns.set(host, message);
  }

  /** Makes the guest with this id ignore (or honour again) ACPI shutdown, whether or not it runs yet. */
  setAcpiIgnored(id: string, ignored: boolean): void {
    if (ignored) this.ignoresAcpi.add(id);
    else this.ignoresAcpi.delete(id);
  }

  /** Restores a guest the database knows about, after a restart. */
  adopt(host: string, spec: FakeGuest['spec'], power: PowerState): void {
    this.on(host).set(spec.id, { spec, power, bootedAt: Date.now(), console: bootLog(spec.hostname) });
  }

  private on(host: string): Map<string, FakeGuest> {
    const guests = this.guests.get(host);
    if (!guests) throw new DriverError(`Compute host ${host} could not be found.`);
    return guests;
  }

  private guest(host: string, id: string): FakeGuest {
    const g = this.on(host).get(id);
    if (!g) throw new DriverError(`Instance ${id} could not be found on ${host}.`);
    return g;
  }

  private async work(): Promise<void> {
    if (this.options.operationMs > 0) await sleep(this.options.operationMs);
  }

  /** An operation a client can watch: it lasts the busy window. */
  private async longWork(): Promise<void> {
    await this.work();
    if (this.options.busyWindowMs > 0) await sleep(this.options.busyWindowMs);
  }

  async spawn(host: string, spec: GuestSpec): Promise<void> {
    const guests = this.on(host);
    await this.work();
    const failure = this.failSpawns.get(host);
    if (failure) throw new DriverError(failure, `fake driver: spawn on ${host} set to fail`);
    if (!guests.has(spec.id)) {
      guests.set(spec.id, { spec: { id: spec.id, name: spec.name, hostname: spec.hostname }, power: PowerState.RUNNING, bootedAt: Date.now(), console: bootLog(spec.hostname) });
    }
  }

  async destroy(host: string, id: string): Promise<void> {
    await this.work();
    this.guests.get(host)?.delete(id);
  }

  /** Sets the guest's power state; `written` is what it prints on its console meanwhile. */
  private async setPower(host: string, id: string, power: PowerState, written: string[]): Promise<void> {
    const g = this.guest(host, id);
    await this.work();
    g.power = power;
    if (written.length) g.console += '\n' + written.join('\n');
  }

  powerOff(host: string, id: string) {
    return this.setPower(host, id, PowerState.SHUTDOWN, ['reboot: Power down']);
  }
  powerOn(host: string, id: string) {
    return this.setPower(host, id, PowerState.RUNNING, [bootLog(this.guest(host, id).spec.hostname)]);
  }
  async acpiShutdown(host: string, id: string) {
    const g = this.guest(host, id);
    if (this.ignoresAcpi.has(id) || g.power !== PowerState.RUNNING) return;
    await this.setPower(host, id, PowerState.SHUTDOWN, ['ACPI: Power Button [PWRF]', 'reboot: Power down']);
  }
  async reboot(host: string, id: string, hard: boolean) {
    const boot = bootLog(this.guest(host, id).spec.hostname);
    await this.setPower(host, id, PowerState.RUNNING, hard ? [boot] : ['reboot: Restarting system', boot]);
  }
  pause(host: string, id: string) {
    return this.setPower(host, id, PowerState.PAUSED, []);
  }
  unpause(host: string, id: string) {
    return this.setPower(host, id, PowerState.RUNNING, []);
  }
  suspend(host: string, id: string) {
    return this.setPower(host, id, PowerState.SUSPENDED, ['PM: suspend entry (deep)']);
  }
  resume(host: string, id: string) {
    return this.setPower(host, id, PowerState.RUNNING, ['PM: suspend exit']);
  }

  rescue(host: string, id: string) {
    return this.setPower(host, id, PowerState.RUNNING, [bootLog('rescue')]);
  }
  unrescue(host: string, id: string) {
    return this.setPower(host, id, PowerState.RUNNING, [bootLog(this.guest(host, id).spec.hostname)]);
  }

  async snapshot(host: string, id: string): Promise<null> {
    this.guest(host, id);
    await this.longWork();
    return null; // a fake guest never writes to its disk
  }

  /** Any size will do, a smaller disk too, as Nova's fake driver takes it; the busy window is the disk's move. */
  async prepareResize(host: string, id: string): Promise<void> {
    this.guest(host, id);
    await this.longWork();
  }

  async liveMigrate(source: string, dest: string, spec: GuestSpec): Promise<void> {
    const from = this.on(source);
    const to = this.on(dest);
    // Run again after a crash, the guest may already be on `dest`.
    const g = from.get(spec.id) ?? to.get(spec.id);
    if (!g) throw new DriverError(`Instance ${spec.id} could not be found on ${source}.`);
    await this.longWork();
    from.delete(spec.id);
    to.set(spec.id, g); // the same guest: running or paused, its console as it was
  }

  async powerState(host: string, id: string): Promise<PowerState | null> {
    return this.guests.get(host)?.get(id)?.power ?? null;
  }

  openConsole(host: string, id: string, kind: ConsoleKind, client: ConsoleClient): GuestConsole {
    const g = this.guest(host, id);
    return kind === 'serial' ? new SerialConsole(g.spec.hostname, client) : new RfbServer(g.spec.hostname, client);
  }

  async consoleOutput(host: string, id: string): Promise<string> {
    return this.guest(host, id).console;
  }
}

/** A boot as a serial console shows it: firmware, kernel, init, then getty's prompt, waiting on its line. */
function bootLog(hostname: string): string {
  return [
    'SeaBIOS (version 1.16.2-debian-1.16.2-1)',
    'Booting from Hard Disk...',
    '[    0.000000] Linux version 6.1.0-nimbus (fake) #1 SMP',
    '[    0.512000] Run /init as init process',
    'Starting network: OK',
    '',
    `Debian GNU/Linux 12 ${hostname} ttyS0`,
    '',
    `${hostname} login: `,
  ].join('\n');
}
