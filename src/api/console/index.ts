import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';
import { CONSOLE_WEBSOCKET_PATH } from '../../compute/consoles.js';
import type { ConsoleKind, GuestConsole } from '../../virt/driver.js';
import { accept, refuse } from './websocket.js';
import { VNC_PAGE } from './page.js';

/** The console types whose stream Nimbus carries, and the driver console each one is. */
const KINDS: Record<string, ConsoleKind> = { novnc: 'vnc', xvpvnc: 'vnc', serial: 'serial' };

/** The token, from the query (noVNC ≥ 1.1, serial clients) or a cookie (older noVNC sends it so). */
function tokenOf(req: IncomingMessage, url: URL): string {
  const query = url.searchParams.get('token');
  if (query) return query;
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const [k, v] = part.trim().split('=');
    if (k === 'token' && v) return decodeURIComponent(v);
  }
  return '';
}

/**
 * The console proxy, Nova's novncproxy and serialproxy on Nimbus's own port: the pages
 * under /console, and websocket connections at /console/websockify (and websockify's
 * default /websockify, where clients that drop the URL's path connect) that a console
 * token admits to the guest's console the driver opens.
 */
export function consoleProxy(app: FastifyInstance, services: Services): void {
  const prefix = new URL(services.config.publicUrl).pathname.replace(/\/+$/, '');
  const paths = new Set([CONSOLE_WEBSOCKET_PATH, '/websockify']);

  for (const page of ['/console/vnc_auto.html', '/console/vnc_lite.html']) {
    app.get(page, async (_request, reply) => reply.type('text/html; charset=utf-8').send(VNC_PAGE));
  }

  // Open consoles end with the app: the HTTP server's close does not know upgraded sockets.
  const open = new Set<{ close(): void }>();
  app.addHook('preClose', async () => {
    for (const conn of open) conn.close();
  });

  const connect = async (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => {
    const target = await services.consoleTokens.resolve(tokenOf(req, url));
    const kind = target && KINDS[target.consoleType];
    // No body: a websocket client reads whatever follows the headers as frames.
    if (!target || !kind) return refuse(socket, 401, 'Unauthorized');
    let guest: GuestConsole | null = null;
    const early: Buffer[] = [];
    const conn = accept(req, socket, head, (data) => (guest ? guest.write(data) : early.push(data)), () => {
      guest?.close();
      open.delete(conn!);
    });
    if (!conn) return;
    open.add(conn);
    try {
      guest = services.driver.openConsole(target.host, target.serverId, kind, { send: conn.send, hangUp: conn.close });
    } catch (err) {
      services.log.warn({ err, server: target.serverId }, 'console: the guest has no console to connect to');
      return conn.close();
    }
    for (const data of early.splice(0)) guest.write(data);
  };

  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://console');
    const path = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : url.pathname;
    if (paths.has(path) && String(req.headers.upgrade).toLowerCase() === 'websocket') {
      connect(req, socket, head, url).catch((err) => {
        services.log.error({ err }, 'console: connection failed');
        refuse(socket, 500, 'Internal Server Error');
      });
      return;
    }
    // Any other upgrade (h2c …) is declined: the request is answered as the HTTP/1.1 one it
    // also is. Node has stopped parsing the connection, so a body could not be read: one
    // that has a body is refused.
    if (req.headers['transfer-encoding'] || Number(req.headers['content-length'] ?? 0) > 0) return refuse(socket, 400, 'Bad Request');
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as never);
    res.on('finish', () => {
      res.detachSocket(socket as never);
      socket.end();
    });
    app.server.emit('request', req, res);
  });
}
