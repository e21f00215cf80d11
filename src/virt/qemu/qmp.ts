import { createConnection, type Socket } from 'node:net';
import { EventEmitter } from 'node:events';

export class QmpError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    message: string,
  ) {
    super(`QMP ${command}: ${message}`);
  }
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/**
 * A QEMU Machine Protocol client over the machine's unix socket: JSON objects, one a line.
 * QEMU greets first ({"QMP": …}); `qmp_capabilities` leaves negotiation mode; then each
 * command gets one {"return": …} or {"error": …} in order, with {"event": …} lines in between
 * (emitted as 'event'). Small enough to own rather than depend on.
 */
export class QmpClient extends EventEmitter {
  private buffer = '';
  private readonly pending: Pending[] = [];
  private greeted!: Promise<void>;
  private closedError: Error | null = null;

  private constructor(private readonly socket: Socket) {
    super();
  }

  /** Connects, waits for the greeting and negotiates capabilities. */
  static async connect(path: string, timeoutMs = 5000): Promise<QmpClient> {
    const socket = createConnection(path);
    const client = new QmpClient(socket);
    client.greeted = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`QMP at ${path}: no greeting within ${timeoutMs} ms`));
      }, timeoutMs);
      client.once('greeting', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => client.receive(chunk));
    socket.on('error', (err) => client.fail(err));
    socket.on('close', () => client.fail(new Error('QMP connection closed')));
    await client.greeted;
    await client.execute('qmp_capabilities');
    return client;
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line);
      } catch {
        continue;
      }
      if ('QMP' in msg) this.emit('greeting', msg.QMP);
      else if ('event' in msg) this.emit('event', msg.event as string, msg.data ?? {});
      else if ('return' in msg || 'error' in msg) {
        const p = this.pending.shift();
        if (!p) continue;
        if ('error' in msg) {
          const e = msg.error as { class: string; desc: string };
          p.reject(new QmpError(p.command, e.class, e.desc));
        } else p.resolve(msg.return);
      }
    }
  }

  private fail(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    for (const p of this.pending.splice(0)) p.reject(err);
    this.emit('close');
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ command, resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
    });
  }

  close(): void {
    this.socket.destroy();
    this.fail(new Error('QMP connection closed'));
  }
}
