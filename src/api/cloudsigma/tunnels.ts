/**
 * CloudSigma's console tunnels: `open_vnc` and `open_console` put a server's graphical or
 * serial console behind a TCP port of its own (vnc://host:port, csconsole://host:port)
 * until `close_vnc`/`close_console` or the server stops. The serial tunnel asks for the
 * server's vnc_password before anything of the guest is shown. A tunnel is this process's
 * (it listens here); closing the listener hangs up every connection it carried.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Driver, GuestConsole } from '../../virt/driver.js';
import { timingSafeEqual } from 'node:crypto';

interface Tunnel {
  server: Server;
  port: number;
  sockets: Set<Socket>;
}

const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export class Tunnels {
  private readonly open = new Map<string, Tunnel>();

  constructor(
    private readonly driver: Driver,
    private readonly listenHost: string,
  ) {}

  /** The port of the server's tunnel of this kind, opened now if it is not open. */
  async openTunnel(kind: 'vnc' | 'serial', serverId: string, host: string, password: string | null): Promise<number> {
    const key = `${kind}:${serverId}`;
    const existing = this.open.get(key);
    if (existing) return existing.port;
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      if (kind === 'serial') this.askPassword(socket, password, (rest) => this.join(socket, 'serial', serverId, host, rest));
      else this.join(socket, 'vnc', serverId, host);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, this.listenHost, () => resolve());
    });
    const port = (server.address() as { port: number }).port;
    this.open.set(key, { server, port, sockets });
    return port;
  }

  closeTunnel(kind: 'vnc' | 'serial', serverId: string): boolean {
    const key = `${kind}:${serverId}`;
    const t = this.open.get(key);
    if (!t) return false;
    this.open.delete(key);
    for (const s of t.sockets) s.destroy();
    t.server.close();
    return true;
  }

  /** Closes both of a server's tunnels (it stopped, or was deleted). */
  closeAll(serverId: string): void {
    this.closeTunnel('vnc', serverId);
    this.closeTunnel('serial', serverId);
  }

  closeEverything(): void {
    for (const key of [...this.open.keys()]) {
      const [kind, id] = key.split(':');
      this.closeTunnel(kind as 'vnc' | 'serial', id);
    }
  }

  /** Reads one line and lets the connection through only if it is the password. */
  private askPassword(socket: Socket, password: string | null, then: (rest: Buffer) => void): void {
    socket.write('Password: ');
    let typed = '';
    const onData = (data: Buffer) => {
      typed += data.toString('utf8');
      const end = typed.search(/[\r\n]/);
      if (end < 0) {
        if (typed.length > 1024) socket.destroy();
        return;
      }
      socket.off('data', onData);
      const line = typed.slice(0, end);
      if (password === null || !same(line, password)) {
        socket.end('\r\nWrong password\r\n');
        return;
      }
      socket.write('\r\n');
      // What was typed after the password goes to the guest.
      then(Buffer.from(typed.slice(end).replace(/^\r?\n?/, ''), 'utf8'));
    };
    socket.on('data', onData);
  }

  private join(socket: Socket, kind: 'vnc' | 'serial', serverId: string, host: string, typed?: Buffer): void {
    let guest: GuestConsole;
    let heard = false;
    const unavailable = () => (kind === 'serial' ? socket.end('The console is not available\r\n') : socket.end());
    try {
      // A console on another host's process fails by hanging up before the guest said anything.
      guest = this.driver.openConsole(host, serverId, kind, { send: (d) => ((heard = true), socket.write(d)), hangUp: () => (heard ? socket.end() : unavailable()) });
    } catch {
      unavailable();
      return;
    }
    if (typed?.length) guest.write(typed);
    socket.on('data', (d) => guest.write(d));
    socket.on('close', () => guest.close());
  }
}
