/**
 * The host endpoint: what a compute process serves so that other processes (API nodes,
 * conductors) can call its driver synchronously — the RemoteDriver's other end. Every
 * request must carry the host's secret; bodies and the time to send one are bounded.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import { timingSafeEqual } from 'node:crypto';
import type { ConsoleKind, Driver, GuestConsole, GuestSpec } from '../driver.js';
import { FakeDriver } from '../fake/driver.js';
import { CALLS, CALL_PATH, CONSOLE_PATH, FAKE_PATH, FAKE_SWITCHES, MAX_REQUEST_BYTES, SECRET_HEADER, SNAPSHOT_PATH, DISKS_PATH, FINISH_PATH, UPGRADE, WITH_PROGRESS, encodeError, type Call } from './protocol.js';

export interface EndpointOptions {
  listen: { host: string; port: number };
  secret: string;
  /** Where errors of the endpoint itself go (never a secret). */
  onError?: (err: unknown, what: string) => void;
}

export interface HostEndpoint {
  /** The endpoint's URL, with the port it really got (port 0 picks a free one). */
  url: string;
  close(): Promise<void>;
}

const KINDS: ReadonlySet<string> = new Set<ConsoleKind>(['vnc', 'serial']);

function authorized(req: IncomingMessage, secret: string): boolean {
  const given = Buffer.from(String(req.headers[SECRET_HEADER] ?? ''));
  const want = Buffer.from(secret);
  return given.length === want.length && timingSafeEqual(given, want);
}

function answer(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { type: 'Error', message } }));
}

/** The request's JSON array of arguments, or null when it is not one (or too big: the socket is then closed). */
async function readArgs(req: IncomingMessage, res: ServerResponse): Promise<unknown[] | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) {
      res.setHeader('connection', 'close');
      answer(res, 413, `A host call's body is at most ${MAX_REQUEST_BYTES} bytes.`);
      return null;
    }
    chunks.push(chunk as Buffer);
  }
  try {
    const args = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    // JSON has no undefined: an absent optional argument came as null.
    if (Array.isArray(args)) return args.map((a) => (a === null ? undefined : a));
  } catch {
    /* answered below */
  }
  answer(res, 400, 'A host call takes a JSON array of arguments.');
  return null;
}

/**
 * A request of arguments then bytes (finishMigration's disks): the first line's JSON array, and
 * the rest of the body as the bytes; null when the line is not one (answered).
 */
async function readHead(req: IncomingMessage, res: ServerResponse): Promise<{ args: unknown[]; rest: AsyncIterable<Buffer> } | null> {
  const it = (req as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  for (;;) {
    const nl = head.indexOf(10);
    if (nl >= 0) {
      let args: unknown;
      try {
        args = JSON.parse(head.subarray(0, nl).toString('utf8'));
      } catch {
        /* answered below */
      }
      if (!Array.isArray(args)) break;
      const first = head.subarray(nl + 1);
      async function* rest() {
        if (first.length) yield first;
        for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
      }
      return { args: args.map((a) => (a === null ? undefined : a)), rest: rest() };
    }
    const r = await it.next();
    if (r.done) break;
    head = Buffer.concat([head, r.value]);
    if (head.length > MAX_REQUEST_BYTES) {
      res.setHeader('connection', 'close');
      answer(res, 413, `A host call's arguments are at most ${MAX_REQUEST_BYTES} bytes.`);
      return null;
    }
  }
  answer(res, 400, 'A host call takes a JSON array of arguments.');
  return null;
}

export async function serveHost(driver: Driver, options: EndpointOptions): Promise<HostEndpoint> {
  const onError = options.onError ?? (() => {});
  const calls: ReadonlySet<string> = new Set(CALLS);
  // The fake's switches are calls like the others, on a host that runs the fake.
  const switches: ReadonlySet<string> = new Set(driver instanceof FakeDriver ? FAKE_SWITCHES : []);

  const call = async (name: Call | string, args: unknown[], res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const line = (v: unknown) => res.write(JSON.stringify(v) + '\n');
    try {
      const fn = (driver as unknown as Record<string, ((...a: unknown[]) => unknown) | undefined>)[name as string];
      // A driver without the call (setPassword) accepts it and does nothing, as the contract says.
      const progress = WITH_PROGRESS.has(name as Call) ? [(p: number) => line({ progress: p })] : [];
      const result = fn ? await fn.apply(driver, [...args, ...progress]) : undefined;
      line({ result: result ?? null });
    } catch (err) {
      line({ error: encodeError(err) });
    }
    res.end();
  };

  /** A call whose answer is bytes: an octet stream, or a result line when it has none. */
  const bytesOf = async (produce: () => Promise<AsyncIterable<Buffer> | null>, res: ServerResponse) => {
    let bytes: AsyncIterable<Buffer> | null;
    try {
      bytes = await produce();
    } catch (err) {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end(JSON.stringify({ error: encodeError(err) }) + '\n');
      return;
    }
    if (!bytes) return void res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end(JSON.stringify({ result: null }) + '\n');
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    // A disk that fails mid-read cuts the stream: the caller's read fails rather than ending short.
    Readable.from(bytes).on('error', () => res.destroy()).pipe(res);
  };
  const streams: Record<string, (args: unknown[]) => Promise<AsyncIterable<Buffer> | null>> = {
    [SNAPSHOT_PATH]: (args) => driver.snapshot(String(args[0]), String(args[1])),
    [DISKS_PATH]: (args) => driver.migratedDisks(String(args[0]), String(args[1])),
  };

  /** finishMigration with the disks in the request, after its arguments. */
  const finish = async (req: IncomingMessage, res: ServerResponse) => {
    const head = await readHead(req, res);
    if (!head) return;
    const [host, spec, powerOn] = head.args as [string, GuestSpec, boolean];
    let error: unknown = null;
    try {
      await driver.finishMigration(String(host), spec, async () => head.rest, !!powerOn);
    } catch (err) {
      error = err;
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end(JSON.stringify(error ? { error: encodeError(error) } : { result: null }) + '\n');
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (!authorized(req, options.secret)) return answer(res, 401, 'The host secret is missing or wrong.');
    if (req.method !== 'POST') return answer(res, 405, 'Host calls are POSTs.');
    const name = path.startsWith(CALL_PATH) ? path.slice(CALL_PATH.length) : path.startsWith(FAKE_PATH) ? path.slice(FAKE_PATH.length) : null;
    const known = path.startsWith(CALL_PATH) ? calls : switches;
    const stream = Object.hasOwn(streams, path) ? streams[path] : null;
    if (path === FINISH_PATH) {
      return void finish(req, res).catch((err) => {
        onError(err, 'host call');
        res.destroy();
      });
    }
    if (!stream && (name === null || !known.has(name))) return answer(res, 404, `No host call ${path}.`);
    readArgs(req, res)
      .then((args) => {
        if (!args) return;
        return stream ? bytesOf(() => stream(args), res) : call(name!, args, res);
      })
      .catch((err) => {
        onError(err, 'host call');
        res.destroy();
      });
  });
  // Bounded: a request's headers and body must arrive within these (a slow or stuck client).
  server.headersTimeout = 10_000;
  // Disks sent up to finishMigration must arrive within it too: the core never sends them (the
  // destination's process reads them from the source with migratedDisks), only a RemoteDriver user would.
  server.requestTimeout = 30_000;

  const sockets = new Set<Duplex>();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://host');
    const refuse = (status: number, reason: string, message: string) => {
      const body = JSON.stringify({ error: { type: status === 404 ? 'DriverError' : 'Error', message } });
      socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    };
    if (!authorized(req, options.secret)) return refuse(401, 'Unauthorized', 'The host secret is missing or wrong.');
    const kind = url.searchParams.get('kind') ?? '';
    if (url.pathname !== CONSOLE_PATH || String(req.headers.upgrade).toLowerCase() !== UPGRADE || !KINDS.has(kind)) return refuse(400, 'Bad Request', 'Not a console.');
    // What the guest sends before the 101 is written waits for it.
    let pending: Buffer[] | null = [];
    let guest: GuestConsole;
    try {
      guest = driver.openConsole(url.searchParams.get('host') ?? '', url.searchParams.get('id') ?? '', kind as ConsoleKind, {
        send: (d) => (pending ? pending.push(Buffer.from(d)) : socket.write(d)),
        hangUp: () => socket.end(),
      });
    } catch (err) {
      return refuse(404, 'Not Found', err instanceof Error ? err.message : 'No console.');
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${UPGRADE}\r\nconnection: Upgrade\r\n\r\n`);
    for (const d of pending) socket.write(d);
    pending = null;
    sockets.add(socket);
    if (head.length) guest.write(head);
    socket.on('data', (d: Buffer) => guest.write(d));
    socket.on('close', () => {
      sockets.delete(socket);
      guest.close();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen.port, options.listen.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const host = options.listen.host.includes(':') ? `[${options.listen.host}]` : options.listen.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
