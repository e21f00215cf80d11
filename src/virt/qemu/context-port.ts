import { createConnection, type Socket } from 'node:net';

/**
 * CloudSigma's server context on a guest's second serial port (ttyS1, COM2). The guest
 * writes a request, a path between `<` + newline and newline + `>` (`<\n\n>` for the whole
 * context, `<\n/meta/ssh_public_key\n>` for one value; CRLF newlines too, as a cooked tty
 * sends them), and reads back the answer followed by a newline and EOT (0x04). QEMU holds
 * the port's unix socket (a chardev server, like the console's); the process that owns the
 * machine connects to it and answers from the database at each request, and connects again
 * after QEMU or it restarts.
 */

/** What a guest may read about its own server, asked at each request. */
export interface GuestContexts {
  /** Whether the guest gets a context port: asked each time its machine starts. */
  has(serverId: string): Promise<boolean>;
  /** The answer for `path` ('' for the whole context) without its line end and EOT; null: the guest gets nothing. */
  answer(serverId: string, path: string): Promise<string | null>;
}

/** A request is a path of at most this many bytes; input kept while a request is incomplete is bounded too. */
export const MAX_PATH = 1024;
const MAX_PENDING = MAX_PATH + 8;
const EOT = '\x04';
const RECONNECT_MS = 1000;
/** One request: `<`, a newline, the path (no newline, no angle bracket), a newline, `>`. */
const REQUEST = /<\r?\n([^<>\r\n]*)\r?\n>/;

/**
 * Takes the complete requests out of what the guest sent: the paths, and what to keep for
 * later (an incomplete request's start, never more than MAX_PENDING bytes; anything else,
 * such as a tty's echo of an answer, is dropped).
 */
export function takeRequests(input: string): { paths: string[]; rest: string } {
  const paths: string[] = [];
  let rest = input;
  for (let m = REQUEST.exec(rest); m; m = REQUEST.exec(rest)) {
    if (m[1].length <= MAX_PATH) paths.push(m[1]);
    rest = rest.slice(m.index + m[0].length);
  }
  // Only the last `<` can start a request still to come.
  const start = rest.lastIndexOf('<');
  rest = start < 0 ? '' : rest.slice(start);
  if (rest.length > MAX_PENDING) rest = '';
  return { paths, rest };
}

/** One machine's context port: a connection to its socket, answering request after request. */
class ContextPort {
  private socket: Socket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly serverId: string,
    private readonly path: string,
    private readonly contexts: GuestContexts,
    /** Whether the machine's process still runs: while it does, a lost connection is made again. */
    private readonly alive: () => boolean,
    private readonly onEnd: () => void,
    private readonly onError: (err: unknown) => void,
  ) {
    this.connect();
  }

  private connect(): void {
    if (this.closed) return;
    const socket = createConnection(this.path);
    this.socket = socket;
    let input = '';
    let busy = false;
    // One request at a time: reading stops while one is answered, so a guest cannot queue work.
    const serve = async () => {
      if (busy) return;
      const { paths, rest } = takeRequests(input);
      input = rest;
      if (!paths.length) return;
      busy = true;
      socket.pause();
      try {
        for (const path of paths) {
          // Read as bytes; a path is UTF-8 (a meta key may be any text).
          const text = await this.contexts.answer(this.serverId, Buffer.from(path, 'latin1').toString('utf8')).catch((err) => {
            this.onError(err);
            return null;
          });
          if (text !== null && !socket.destroyed) socket.write(`${text}\n${EOT}`);
        }
      } finally {
        busy = false;
        socket.resume();
      }
      void serve();
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      input += chunk;
      if (input.length > MAX_PENDING * 4) input = input.slice(-MAX_PENDING * 4);
      void serve();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (this.socket === socket) this.socket = null;
      if (this.closed) return;
      if (!this.alive()) return this.end();
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.alive()) this.connect();
        else this.end();
      }, RECONNECT_MS);
      this.timer.unref();
    });
  }

  private end(): void {
    this.close();
    this.onEnd();
  }

  get connected(): boolean {
    return !!this.socket && !this.socket.destroyed;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.destroy();
  }
}

/** The context ports of a host's machines, one connection each. */
export class ContextPorts {
  private readonly ports = new Map<string, ContextPort>();
  constructor(
    readonly contexts: GuestContexts,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Answers on the machine's port from now on (again, after a restart); nothing when it already does. */
  attach(serverId: string, socketPath: string, alive: () => boolean): void {
    if (this.ports.has(serverId)) return;
    const port = new ContextPort(serverId, socketPath, this.contexts, alive, () => this.ports.get(serverId) === port && this.ports.delete(serverId), this.onError);
    this.ports.set(serverId, port);
  }

  /** Stops answering a machine's port (its process ended, or it is gone). */
  detach(serverId: string): void {
    this.ports.get(serverId)?.close();
    this.ports.delete(serverId);
  }

  isAttached(serverId: string): boolean {
    return this.ports.has(serverId);
  }

  close(): void {
    for (const p of this.ports.values()) p.close();
    this.ports.clear();
  }
}
