/**
 * The wire between a RemoteDriver and the host endpoint of a compute process: one POST per
 * driver call, its arguments as a JSON array; the answer is NDJSON, progress lines
 * ({"progress": n}) then one last line, {"result": …} or {"error": …}. A snapshot's bytes and
 * a migration's disks come as an octet stream; disks sent to finishMigration follow its
 * arguments' line in the request; a console is an upgraded connection carrying raw bytes.
 */
import { DriverError, HostUnavailable, PasswordRefused, ResizeRefused } from '../driver.js';

export const CALL_PATH = '/v1/call/';
export const SNAPSHOT_PATH = '/v1/snapshot';
/** migratedDisks: its answer is the disks' bytes. */
export const DISKS_PATH = '/v1/migrated-disks';
/** finishMigration with disks from elsewhere: its arguments' JSON line, then the disks' bytes. */
export const FINISH_PATH = '/v1/finish-migration';
export const CONSOLE_PATH = '/v1/console';
/** The fake driver's switches (failure injection for tests), served only by a host that runs the fake. */
export const FAKE_PATH = '/v1/fake/';
/** (writeDisk, inside, keeps: what a fake guest wrote to its disk, for the tests of a migration across processes.) */
export const FAKE_SWITCHES = ['setAcpiIgnored', 'setStorageDown', 'pools', 'writeDisk', 'inside', 'keeps'] as const;
export type FakeSwitch = (typeof FAKE_SWITCHES)[number];
export const UPGRADE = 'nimbus-console';

/** The largest request the endpoint reads: a guest spec with its files and user data is far less. */
export const MAX_REQUEST_BYTES = 1024 * 1024;
/** The largest answer a RemoteDriver reads (a long console log is the biggest there is). */
export const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** The driver calls that go over the wire as JSON, and those that report progress. */
export const CALLS = [
  'spawn', 'destroy', 'powerOff', 'powerOn', 'acpiShutdown', 'reboot', 'pause', 'unpause', 'suspend', 'resume',
  'rescue', 'unrescue', 'migrateDiskAndPowerOff', 'finishMigration', 'confirmMigration', 'finishRevertMigration',
  'preLiveMigration', 'liveMigrate', 'postLiveMigrationAtDestination', 'rollbackLiveMigrationAtDestination', 'powerState', 'consoleOutput', 'setPassword',
  'createDrive', 'cloneDrive', 'resizeDrive', 'deleteDrive', 'snapshotDrive', 'deleteSnapshot', 'attachDrive', 'detachDrive',
] as const;
export type Call = (typeof CALLS)[number];
export const WITH_PROGRESS: ReadonlySet<Call> = new Set(['liveMigrate', 'createDrive', 'cloneDrive', 'resizeDrive']);

export interface WireError {
  type: string;
  message: string;
  details?: string;
  host?: string;
}

export function encodeError(err: unknown): WireError {
  if (err instanceof HostUnavailable) return { type: 'HostUnavailable', message: err.message, host: err.host };
  if (err instanceof DriverError) return { type: err.constructor.name, message: err.message, details: err.details };
  return { type: 'Error', message: err instanceof Error ? err.message : String(err) };
}

/** The error as the caller's driver would have thrown it: the driver's classes keep their meaning. */
export function decodeError(e: WireError): Error {
  switch (e.type) {
    case 'HostUnavailable':
      return new HostUnavailable(e.host ?? '');
    case 'ResizeRefused':
      return new ResizeRefused(e.message, e.details);
    case 'PasswordRefused':
      return new PasswordRefused(e.message, e.details);
    case 'DriverError':
      return new DriverError(e.message, e.details);
    default:
      return new Error(e.message);
  }
}

/** The header that carries the host's secret. */
export const SECRET_HEADER = 'x-nimbus-host-secret';
