import { DriverError, type ConsoleClient, type ConsoleKind, type DriveOperations, type DriveSource, type DriveSpec, type Driver, type GuestConsole, type GuestSpec, type HostInfo, type PowerState, type StorageType } from '../driver.js';

export interface RemoteDriverOptions {
  /** The registered compute hosts (the caller reads them from the database). */
  hosts: () => HostInfo[];
  /** Where a host's compute process answers host calls, and the secret it wants; null: unknown host. */
  resolve: (host: string) => Promise<{ url: string; secret: string } | null>;
  /** Drive work runs where the conductor runs (drive tasks are addressed to no host): its storage. */
  storage?: DriveOperations;
}

const NOT_HERE = 'host calls are not available from this process';

/**
 * The driver of a process that runs no guests (`nimbus api`, `nimbus conductor`). Work on a
 * guest is a task handed to its host's compute process (TaskRun.on), so none of these is
 * called by tasks. A placeholder: the synchronous host calls of an API node (console output,
 * password, diagnostics, consoles) are forwarded to the host's process by the remote driver
 * that replaces it.
 */
export class RemoteDriver implements Driver {
  readonly name = 'remote';

  constructor(private readonly options: RemoteDriverOptions) {}

  hosts(): HostInfo[] {
    return this.options.hosts();
  }

  private refuse(): never {
    throw new DriverError(NOT_HERE);
  }

  async spawn(_host: string, _spec: GuestSpec): Promise<void> { this.refuse(); }
  async destroy(_host: string, _id: string): Promise<void> { this.refuse(); }
  async powerOff(_host: string, _id: string): Promise<void> { this.refuse(); }
  async powerOn(_host: string, _id: string): Promise<void> { this.refuse(); }
  async acpiShutdown(_host: string, _id: string): Promise<void> { this.refuse(); }
  async reboot(_host: string, _id: string, _hard: boolean): Promise<void> { this.refuse(); }
  async pause(_host: string, _id: string): Promise<void> { this.refuse(); }
  async unpause(_host: string, _id: string): Promise<void> { this.refuse(); }
  async suspend(_host: string, _id: string): Promise<void> { this.refuse(); }
  async resume(_host: string, _id: string): Promise<void> { this.refuse(); }
  async rescue(_host: string, _id: string): Promise<void> { this.refuse(); }
  async unrescue(_host: string, _id: string): Promise<void> { this.refuse(); }
  async snapshot(_host: string, _id: string): Promise<AsyncIterable<Buffer> | null> { this.refuse(); }
  async prepareResize(_host: string, _id: string, _target: GuestSpec): Promise<void> { this.refuse(); }
  async liveMigrate(_source: string, _dest: string, _spec: GuestSpec): Promise<void> { this.refuse(); }
  async powerState(_host: string, _id: string): Promise<PowerState | null> { this.refuse(); }
  async consoleOutput(_host: string, _id: string): Promise<string> { this.refuse(); }
  openConsole(_host: string, _id: string, _kind: ConsoleKind, _client: ConsoleClient): GuestConsole { this.refuse(); }

  // Drives: the conductor's storage, when it has one.
  private get storage(): DriveOperations {
    return this.options.storage ?? this.refuse();
  }
  storageTypes(): StorageType[] { return this.options.storage?.storageTypes() ?? []; }
  storageUp(location: string): boolean { return this.options.storage?.storageUp(location) ?? false; }
  createDrive(spec: DriveSpec, progress?: (percent: number) => void) { return this.storage.createDrive(spec, progress); }
  cloneDrive(spec: DriveSpec, source: DriveSource, progress?: (percent: number) => void) { return this.storage.cloneDrive(spec, source, progress); }
  resizeDrive(id: string, size: number, progress?: (percent: number) => void) { return this.storage.resizeDrive(id, size, progress); }
  deleteDrive(id: string) { return this.storage.deleteDrive(id); }
  snapshotDrive(driveId: string, snapshotId: string) { return this.storage.snapshotDrive(driveId, snapshotId); }
  deleteSnapshot(snapshotId: string) { return this.storage.deleteSnapshot(snapshotId); }
  async attachDrive(_host: string, _serverId: string, _driveId: string, _device: { device: string; devChannel: string }): Promise<void> { this.refuse(); }
  async detachDrive(_host: string, _serverId: string, _driveId: string): Promise<void> { this.refuse(); }
}
