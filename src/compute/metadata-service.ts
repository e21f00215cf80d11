import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import type { Services } from '../services.js';
import { guestSpec } from '../tasks/guest-spec.js';
import { posix } from 'node:path';
import { EC2_ROOT_LISTING, InstanceMetadata, MAX_PASSWORD_BYTES } from '../virt/metadata.js';
import { serverPasswords } from './server-passwords.js';

const run = promisify(execFile);

/** Where every cloud's guests look for their metadata (Nova's and EC2's link-local address). */
export const METADATA_ADDRESS = '169.254.169.254';
const METADATA_PORT = 80;
/** ip lives in /sbin, which a user's PATH may lack. */
const SBIN_PATH = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` };

/**
 * Which of this host's guests made a connection, from its two ends, or null. The qemu
 * driver's user-mode networking asks the kernel who owns the connection's other end; a
 * bridged network would ask which port has the source address (as Neutron's metadata
 * proxy does), behind the same question.
 */
export type GuestIdentifier = (peer: { address: string; port: number }, local: { address: string; port: number }) => Promise<string | null>;

export interface MetadataService {
  url: string;
  close(): Promise<void>;
}

/**
 * Makes 169.254.169.254 an address of this host (on lo, in this network namespace) when
 * it is not one yet. Null when done; else why not (no root or CAP_NET_ADMIN, no `ip`; or,
 * `onlyIfFree`, another metadata service already answering there, as on a host that is
 * itself a cloud's guest: taking the address would cut the host off from it).
 */
async function ensureAddress(onlyIfFree: boolean): Promise<string | null> {
  try {
    const { stdout } = await run('ip', ['-4', '-o', 'addr', 'show', 'dev', 'lo'], { env: SBIN_PATH });
    if (stdout.includes(` ${METADATA_ADDRESS}/`)) return null;
    if (onlyIfFree && (await answers(METADATA_ADDRESS, METADATA_PORT))) return `another metadata service answers at ${METADATA_ADDRESS} (set qemu.metadataService true to take the address anyway)`;
    await run('ip', ['addr', 'add', `${METADATA_ADDRESS}/32`, 'dev', 'lo'], { env: SBIN_PATH });
    return null;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return (e.stderr || e.message).trim().split('\n').pop() ?? 'unknown error';
  }
}

/** Whether something accepts a TCP connection at address:port within a second. */
function answers(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port, timeout: 1000 });
    const done = (yes: boolean) => {
      socket.destroy();
      resolve(yes);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

/**
 * The metadata service of a compute host (Nova's nova-api-metadata, answering as its
 * handler does): each guest of this host, identified by `identify`, is answered about itself
 * only, from the same instance metadata its config drive carries, read fresh from the
 * database; anything else gets Nova's 404 for an unknown instance. A guest may post its
 * password once. Null (and the reason in the log) when the address or port cannot be had:
 * guests then have the config drive only.
 */
export async function startMetadataService(
  s: Services,
  identify: GuestIdentifier,
  /** Elsewhere than 169.254.169.254:80 only for tests of the answers themselves. */
  listen: { address: string; port: number } = { address: METADATA_ADDRESS, port: METADATA_PORT },
): Promise<MetadataService | null> {
  const why = listen.address === METADATA_ADDRESS ? await ensureAddress(s.config.qemu.metadataService === 'auto') : null;
  if (why) {
    s.log.warn({ reason: why }, `metadata service: not serving ${METADATA_ADDRESS} (${why}); guests have the config drive only`);
    return null;
  }
  // Small and short: a guest asks for a few small documents; none may hold the host's loop.
  const server = createServer({ maxHeaderSize: 8192, requestTimeout: 10000, headersTimeout: 5000, keepAliveTimeout: 5000 }, (req, res) => {
    answer(s, identify, req, res).catch((err) => {
      s.log.warn({ err }, 'metadata service: a request failed');
      if (!res.headersSent) send(res, 500, 'Internal Server Error');
      else res.destroy();
    });
  });
  server.maxConnections = 256;
  const listening = await new Promise<string | null>((resolve) => {
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen(listen.port, listen.address, () => resolve(null));
  });
  if (listening) {
    s.log.warn({ reason: listening }, `metadata service: cannot listen on ${listen.address}:${listen.port} (${listening === 'EADDRINUSE' ? 'another process holds it' : 'needs root or CAP_NET_BIND_SERVICE'}); guests have the config drive only`);
    return null;
  }
  server.on('error', (err) => s.log.warn({ err }, 'metadata service: listener error'));
  const { port } = server.address() as { port: number };
  s.log.info(`metadata service listening on http://${listen.address}:${port}`);
  return { url: `http://${listen.address}:${port}`, close: () => closeServer(server) };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function send(res: ServerResponse, status: number, body: string | Buffer, contentType = 'text/plain; charset=UTF-8'): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const NOT_FOUND = 'The resource could not be found.';

async function answer(s: Services, identify: GuestIdentifier, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'POST') return send(res, 405, 'Method Not Allowed');
  let path: string;
  try {
    path = posix.normalize('/' + decodeURIComponent((req.url ?? '/').split(/[?#]/)[0]));
  } catch {
    return send(res, 404, NOT_FOUND);
  }
  // The versions' list is about no one: Nova answers it before it asks who is asking.
  if (path === '/') return send(res, 200, EC2_ROOT_LISTING);
  const sock = req.socket;
  const id = sock.remoteAddress && sock.remotePort && sock.localAddress && sock.localPort ? await identify({ address: sock.remoteAddress, port: sock.remotePort }, { address: sock.localAddress, port: sock.localPort }) : null;
  const hosts = s.driver.hosts().map((h) => h.name);
  const server = id ? await s.db.selectFrom('servers').selectAll().where('id', '=', id).where('deleted', '=', 0).where('host', 'in', hosts).executeTakeFirst() : undefined;
  if (!server) return send(res, 404, NOT_FOUND);
  const metadata = new InstanceMetadata(await guestSpec(s, server), { password: await serverPasswords.get(s.db, server.id) });
  const found = metadata.lookup(path);
  if (!found) return send(res, 404, NOT_FOUND);
  if (found.kind === 'data') return send(res, 200, found.body, found.contentType);
  // The password (nova/api/metadata/password.py): GET shows it, POST sets it once.
  if (req.method !== 'POST') return send(res, 200, (await serverPasswords.get(s.db, server.id)) ?? '');
  const body = await readBody(req, MAX_PASSWORD_BYTES);
  if (body === null) return send(res, 400, 'Request is too large.');
  let password: string;
  try {
    password = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return send(res, 400, 'The password must be UTF-8 text.');
  }
  // PostgreSQL's text holds no NUL, and no password has one: refused alike on both databases.
  if (password.includes('\0')) return send(res, 400, 'The password must not contain NUL characters.');
  if (!(await serverPasswords.setOnce(s.db, s.clock, server.id, password))) return send(res, 409, 'The password is already set.');
  s.log.info({ server: server.id }, 'metadata service: the guest posted its password');
  return send(res, 200, '');
}

/** The request's body, or null when it is over `max` bytes (said by Content-Length, or found while reading). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  if (Number(req.headers['content-length'] ?? 0) > max) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        resolve(null);
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
