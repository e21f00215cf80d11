/**
 * The driver of a process that runs no host (an API node, a conductor): each call goes to
 * the compute process of the host it names, over that process's host endpoint
 * (./endpoint.ts). Where a host answers is the caller's to say (an injected resolver), so
 * nothing here knows of the database. A host that is down, unreachable or silent is a
 * HostUnavailable, at once or within a bound, never a hang.
 */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DriverError,
  HostUnavailable,
  type ConsoleClient,
  type ConsoleKind,
  type Driver,
  type DriveOperations,
  type DriveSource,
  type DriveSpec,
  type GuestConsole,
  type GuestSpec,
  type LiveMigrationTarget,
  type HostInfo,
  type PowerState,
  type StorageType,
} from '../driver.js';
import { FakeDriver } from '../fake/driver.js';
import { CALL_PATH, CONSOLE_PATH, FAKE_PATH, type FakeSwitch, MAX_ANSWER_BYTES, SECRET_HEADER, SNAPSHOT_PATH, DISKS_PATH, FINISH_PATH, UPGRADE, decodeError, type Call, type WireError } from './protocol.js';

/** Where a host's compute process answers, and the secret it takes. */
export interface HostAddress {
  url: string;
  secret: string;
}

export interface RemoteDriverOptions {
  /** The driver the hosts run, as the API shows it (fake, qemu); a function when the caller reads it afresh. */
  name?: string | (() => string);
  /** Where `host` answers, or null when it is down or has no endpoint (the call then fails at once). */
  resolve(host: string): Promise<HostAddress | null> | HostAddress | null;
  /** The registered hosts, as the caller last read them (the caller keeps them fresh). */
  hosts(): HostInfo[];
  /**
   * Where the drive work that names no host is done, when this process has storage of its
   * own (a conductor's); without it, that work goes to the storage host's process.
   */
  storage?: DriveOperations;
  /** The storage types drives can be made on, as the caller last read them (without storage). */
  storageTypes?(): StorageType[];
  /** The host whose process does the drive work that names no host (default: the first of hosts()). */
  storageHost?(): string | null;
  /** How long connecting may take before the host counts as unreachable (default 2 s). */
  connectTimeoutMs?: number;
  /** How long a call may take (default 60 s, Nova's rpc_response_timeout). */
  callTimeoutMs?: number;
  /** How long a call that moves disks may take (default 30 min, Nova's long_rpc_timeout). */
  longCallTimeoutMs?: number;
}

/** Calls that move or copy a disk's worth of bytes. */
const LONG: ReadonlySet<Call> = new Set(['migrateDiskAndPowerOff', 'finishMigration', 'finishRevertMigration', 'preLiveMigration', 'liveMigrate', 'createDrive', 'cloneDrive', 'resizeDrive', 'snapshotDrive']);

export class RemoteDriver implements Driver {
  private readonly connectMs: number;
  private readonly callMs: number;
  private readonly longMs: number;

  constructor(private readonly options: RemoteDriverOptions) {
    this.connectMs = options.connectTimeoutMs ?? 2000;
    this.callMs = options.callTimeoutMs ?? 60_000;
    this.longMs = options.longCallTimeoutMs ?? 30 * 60_000;
  }

  get name(): string {
    const name = this.options.name ?? 'remote';
    return typeof name === 'function' ? name() : name;
  }

  hosts(): HostInfo[] {
    return this.options.hosts();
  }

  private async address(host: string): Promise<HostAddress> {
    const address = await this.options.resolve(host);
    if (!address) throw new HostUnavailable(host);
    return address;
  }

  /**
   * One POST to the host's endpoint; resolves with the response once its headers are in.
   * Anything that keeps the call from being answered (refused, reset, no connection within
   * connectMs, no answer within timeoutMs) is the host's unavailability.
   */
  private async post(host: string, path: string, args: unknown[], timeoutMs: number, upload?: AsyncIterable<Buffer>): Promise<{ res: IncomingMessage; req: ClientRequest; done: () => void }> {
    const { url, secret } = await this.address(host);
    const body = Buffer.from(JSON.stringify(args));
    return new Promise((resolve, reject) => {
      const req = request(new URL(path, url), {
        method: 'POST',
        agent: false, // a fresh connection per call: a pooled one may be to a process that has since died
        // Bytes that follow the arguments go chunked, after their line.
        headers: upload ? { 'content-type': 'application/octet-stream', [SECRET_HEADER]: secret } : { 'content-type': 'application/json', 'content-length': body.length, [SECRET_HEADER]: secret },
      });
      const timer = setTimeout(() => req.destroy(new HostUnavailable(host)), timeoutMs);
      const done = () => clearTimeout(timer);
      req.on('socket', (socket: Socket) => {
        if (!socket.connecting) return;
        const connecting = setTimeout(() => req.destroy(new HostUnavailable(host)), this.connectMs);
        socket.once('connect', () => clearTimeout(connecting));
        socket.once('close', () => clearTimeout(connecting));
      });
      req.on('error', (err) => {
        done();
        reject(err instanceof HostUnavailable ? err : new HostUnavailable(host));
      });
      req.on('response', (res) => {
        res.on('error', () => {}); // read errors surface where the body is read
        resolve({ res, req, done });
      });
      if (!upload) return void req.end(body);
      req.write(Buffer.concat([body, Buffer.from('\n')]));
      pipeline(Readable.from(upload), req).catch((err) => req.destroy(err instanceof HostUnavailable ? err : new DriverError(`Sending the disks to ${host} failed: ${(err as Error).message}`)));
    });
  }

  /**
   * Flips a switch of the fake driver on `host` (null: the storage host), as the control API
   * does on a fake of its own; a DriverError when the host does not run the fake.
   */
  async fake<T = void>(host: string | null, name: FakeSwitch, args: unknown[]): Promise<T> {
    const storage = this.options.storage;
    if (host === null && storage instanceof FakeDriver) return (storage[name] as (...a: unknown[]) => T).apply(storage, args);
    if (host === null && storage) throw new DriverError('This storage is not the fake.');
    return this.call(host ?? this.storageHost(), name, args, undefined, FAKE_PATH);
  }

  /** A driver call: its progress lines go to `progress`, its last line is the result or the error. */
  private async call<T>(host: string, name: Call | FakeSwitch, args: unknown[], progress?: (percent: number) => void, path = CALL_PATH): Promise<T> {
    const { res, done } = await this.post(host, path + name, args, LONG.has(name as Call) ? this.longMs : this.callMs);
    try {
      return await resultOf<T>(res, host, progress);
    } finally {
      done();
    }
  }

  /** The storage host for the drive work that names no host. */
  private storageHost(): string {
    const host = this.options.storageHost?.() ?? this.options.hosts()[0]?.name;
    if (!host) throw new DriverError('No compute host is registered to do drive work.');
    return host;
  }

  spawn(host: string, spec: GuestSpec): Promise<void> {
    return this.call(host, 'spawn', [host, spec]);
  }
  destroy(host: string, id: string): Promise<void> {
    return this.call(host, 'destroy', [host, id]);
  }
  powerOff(host: string, id: string, timeoutSeconds?: number): Promise<void> {
    return this.call(host, 'powerOff', [host, id, timeoutSeconds ?? null]);
  }
  powerOn(host: string, id: string): Promise<void> {
    return this.call(host, 'powerOn', [host, id]);
  }
  acpiShutdown(host: string, id: string): Promise<void> {
    return this.call(host, 'acpiShutdown', [host, id]);
  }
  reboot(host: string, id: string, hard: boolean): Promise<void> {
    return this.call(host, 'reboot', [host, id, hard]);
  }
  pause(host: string, id: string): Promise<void> {
    return this.call(host, 'pause', [host, id]);
  }
  unpause(host: string, id: string): Promise<void> {
    return this.call(host, 'unpause', [host, id]);
  }
  suspend(host: string, id: string): Promise<void> {
    return this.call(host, 'suspend', [host, id]);
  }
  resume(host: string, id: string): Promise<void> {
    return this.call(host, 'resume', [host, id]);
  }
  rescue(host: string, id: string): Promise<void> {
    return this.call(host, 'rescue', [host, id]);
  }
  unrescue(host: string, id: string): Promise<void> {
    return this.call(host, 'unrescue', [host, id]);
  }
  migrateDiskAndPowerOff(host: string, id: string, target: GuestSpec): Promise<void> {
    return this.call(host, 'migrateDiskAndPowerOff', [host, id, target]);
  }
  async migratedDisks(host: string, id: string): Promise<AsyncIterable<Buffer>> {
    const bytes = await this.stream(host, DISKS_PATH, [host, id]);
    if (!bytes) throw new DriverError(`${host} sent no disks of instance ${id}.`);
    return bytes;
  }
  /** Disks from elsewhere go up in the call's request, after its arguments. */
  async finishMigration(host: string, spec: GuestSpec, disks: (() => Promise<AsyncIterable<Buffer>>) | null, powerOn: boolean): Promise<void> {
    if (!disks) return this.call(host, 'finishMigration', [host, spec, null, powerOn]);
    const { res, done } = await this.post(host, FINISH_PATH, [host, spec, powerOn], this.longMs, await disks());
    try {
      await resultOf<void>(res, host);
    } finally {
      done();
    }
  }
  confirmMigration(host: string, id: string): Promise<void> {
    return this.call(host, 'confirmMigration', [host, id]);
  }
  finishRevertMigration(host: string, spec: GuestSpec, powerOn: boolean): Promise<void> {
    return this.call(host, 'finishRevertMigration', [host, spec, powerOn]);
  }
  /** Each step of a live migration is asked of the host that does it: the destination, the source, the destination. */
  preLiveMigration(dest: string, spec: GuestSpec): Promise<LiveMigrationTarget> {
    return this.call(dest, 'preLiveMigration', [dest, spec]);
  }
  liveMigrate(source: string, dest: string, spec: GuestSpec, target: LiveMigrationTarget, progress?: (percent: number) => void): Promise<void> {
    return this.call(source, 'liveMigrate', [source, dest, spec, target], progress);
  }
  postLiveMigrationAtDestination(dest: string, id: string): Promise<void> {
    return this.call(dest, 'postLiveMigrationAtDestination', [dest, id]);
  }
  rollbackLiveMigrationAtDestination(dest: string, id: string): Promise<void> {
    return this.call(dest, 'rollbackLiveMigrationAtDestination', [dest, id]);
  }
  async powerState(host: string, id: string): Promise<PowerState | null> {
    return (await this.call<PowerState | null>(host, 'powerState', [host, id])) ?? null;
  }
  consoleOutput(host: string, id: string): Promise<string> {
    return this.call(host, 'consoleOutput', [host, id]);
  }
  setPassword(host: string, id: string, password: string): Promise<void> {
    return this.call(host, 'setPassword', [host, id, password]);
  }

  snapshot(host: string, id: string): Promise<AsyncIterable<Buffer> | null> {
    return this.stream(host, SNAPSHOT_PATH, [host, id]);
  }

  /** A call whose answer is bytes (an octet stream), or null when it answers that it has none. */
  private async stream(host: string, path: string, args: unknown[]): Promise<AsyncIterable<Buffer> | null> {
    const { res, done } = await this.post(host, path, args, this.longMs);
    if (res.statusCode === 200 && res.headers['content-type'] === 'application/octet-stream') {
      // The bytes take as long as they take; a stream that stalls for a call's time is cut.
      done();
      res.setTimeout(this.callMs, () => res.destroy(new HostUnavailable(host)));
      return res;
    }
    try {
      const text = await readAll(res, host);
      if (res.statusCode !== 200) throw new DriverError(errorOf(text) ?? `The host endpoint of ${host} answered ${res.statusCode}.`);
      const last = JSON.parse(text.trim()) as { result?: null; error?: WireError };
      if (last.error) throw decodeError(last.error);
      return null;
    } finally {
      done();
    }
  }

  /**
   * A console on the guest's host, through an upgraded connection. The contract's console
   * opens at once: what the client types before the connection is up waits for it, and a
   * guest or console that is not there hangs the client up rather than throwing.
   */
  openConsole(host: string, id: string, kind: ConsoleKind, client: ConsoleClient): GuestConsole {
    let socket: Socket | null = null;
    let req: ClientRequest | null = null;
    let closed = false;
    const waiting: Buffer[] = [];
    const hangUp = () => {
      if (closed) return;
      closed = true;
      socket?.destroy();
      req?.destroy();
      client.hangUp();
    };
    this.address(host).then(
      ({ url, secret }) => {
        if (closed) return;
        const target = new URL(CONSOLE_PATH, url);
        target.search = new URLSearchParams({ host, id, kind }).toString();
        req = request(target, { agent: false, headers: { connection: 'Upgrade', upgrade: UPGRADE, [SECRET_HEADER]: secret } });
        const connecting = setTimeout(hangUp, this.connectMs);
        req.on('error', () => {
          clearTimeout(connecting);
          hangUp();
        });
        req.on('response', (res) => {
          clearTimeout(connecting);
          res.resume();
          hangUp();
        });
        req.on('upgrade', (_res, s: Socket, head: Buffer) => {
          clearTimeout(connecting);
          if (closed) return void s.destroy();
          socket = s;
          s.on('error', () => s.destroy());
          s.on('close', hangUp);
          if (head.length) client.send(head);
          s.on('data', (d: Buffer) => !closed && client.send(d));
          for (const d of waiting.splice(0)) s.write(d);
        });
        req.end();
      },
      hangUp,
    );
    return {
      write: (data) => {
        if (closed) return;
        if (socket) socket.write(data);
        else waiting.push(Buffer.from(data));
      },
      close: () => {
        closed = true; // the client ends it: no hangUp back to it
        socket?.destroy();
        req?.destroy();
      },
    };
  }

  // Drives: the work that names a host goes to it; the rest to the storage host.

  storageTypes(): StorageType[] {
    return this.options.storage?.storageTypes() ?? this.options.storageTypes?.() ?? [];
  }
  /** Whether a storage location answers is known where the storage is; seen from elsewhere, it does. */
  storageUp(location: string): boolean {
    return this.options.storage?.storageUp(location) ?? true;
  }
  createDrive(spec: DriveSpec, progress?: (percent: number) => void): Promise<{ location: string }> {
    const local = this.options.storage;
    return local ? local.createDrive(spec, progress) : this.call(this.storageHost(), 'createDrive', [spec], progress);
  }
  cloneDrive(spec: DriveSpec, source: DriveSource, progress?: (percent: number) => void): Promise<{ location: string }> {
    const local = this.options.storage;
    return local ? local.cloneDrive(spec, source, progress) : this.call(this.storageHost(), 'cloneDrive', [spec, source], progress);
  }
  resizeDrive(id: string, size: number, progress?: (percent: number) => void): Promise<void> {
    const local = this.options.storage;
    return local ? local.resizeDrive(id, size, progress) : this.call(this.storageHost(), 'resizeDrive', [id, size], progress);
  }
  deleteDrive(id: string): Promise<void> {
    const local = this.options.storage;
    return local ? local.deleteDrive(id) : this.call(this.storageHost(), 'deleteDrive', [id]);
  }
  snapshotDrive(driveId: string, snapshotId: string): Promise<void> {
    const local = this.options.storage;
    return local ? local.snapshotDrive(driveId, snapshotId) : this.call(this.storageHost(), 'snapshotDrive', [driveId, snapshotId]);
  }
  deleteSnapshot(snapshotId: string): Promise<void> {
    const local = this.options.storage;
    return local ? local.deleteSnapshot(snapshotId) : this.call(this.storageHost(), 'deleteSnapshot', [snapshotId]);
  }
  attachDrive(host: string, serverId: string, driveId: string, device: { device: string; devChannel: string }): Promise<void> {
    return this.call(host, 'attachDrive', [host, serverId, driveId, device]);
  }
  detachDrive(host: string, serverId: string, driveId: string): Promise<void> {
    return this.call(host, 'detachDrive', [host, serverId, driveId]);
  }
}

/** A call's answer: its progress lines as they come, then its result, or the error it carries. */
async function resultOf<T>(res: IncomingMessage, host: string, progress?: (percent: number) => void): Promise<T> {
  const text = await readAll(res, host, (line) => {
    const msg = JSON.parse(line) as { progress?: number };
    if (typeof msg.progress === 'number') progress?.(msg.progress);
  });
  if (res.statusCode !== 200) throw new DriverError(errorOf(text) ?? `The host endpoint of ${host} answered ${res.statusCode}.`);
  const last = JSON.parse(text.trim().split('\n').at(-1) ?? 'null') as { result?: T; error?: WireError } | null;
  if (last?.error) throw decodeError(last.error);
  if (!last || !('result' in last)) throw new HostUnavailable(host); // cut off before its answer
  return (last.result ?? undefined) as T;
}

/** The whole answer (bounded), each complete line also handed to `line` as it arrives. */
async function readAll(res: IncomingMessage, host: string, line?: (text: string) => void): Promise<string> {
  let text = '';
  let seen = 0;
  res.setEncoding('utf8'); // a character cut between two chunks stays whole
  try {
    for await (const chunk of res) {
      text += chunk as string;
      if (text.length > MAX_ANSWER_BYTES) throw new DriverError(`The answer of ${host} is over ${MAX_ANSWER_BYTES} bytes.`);
      if (!line) continue;
      let end: number;
      while ((end = text.indexOf('\n', seen)) >= 0) {
        const l = text.slice(seen, end);
        seen = end + 1;
        if (l.startsWith('{"progress"')) line(l);
      }
    }
  } catch (err) {
    if (err instanceof DriverError) throw err;
    throw new HostUnavailable(host); // the connection ended mid-answer
  }
  return text;
}

function errorOf(text: string): string | null {
  try {
    return (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? null;
  } catch {
    return null;
  }
}
