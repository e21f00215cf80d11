/** A websocket client on a raw socket, as Tempest's own is: enough to test the console proxy. */
import { connect, type Socket } from 'node:net';

export interface WsClient {
  /** The status line and headers of the answer to the handshake. */
  status: number;
  headers: string;
  /** The next message from the server (null once the connection is closed). */
  next(): Promise<Buffer | null>;
  /** Sends one masked binary frame. */
  send(data: Buffer | number[] | string): void;
  close(): void;
}

export function openWebSocket(baseUrl: string, path: string, extraHeaders: Record<string, string> = {}, handshake = true): Promise<WsClient> {
  const { hostname, port } = new URL(baseUrl);
  const socket: Socket = connect(Number(port), hostname);
  const headers: Record<string, string> = {
    Host: `${hostname}:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    ...(handshake ? { 'Sec-WebSocket-Key': 'x3JJHMbDL1EzLkh9GBhXDw==', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Protocol': 'binary' } : {}),
    ...extraHeaders,
  };
  socket.write(`GET ${path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let head: { status: number; headers: string } | null = null;
    const messages: (Buffer | null)[] = [];
    const waiting: ((m: Buffer | null) => void)[] = [];
    const deliver = (m: Buffer | null) => (waiting.length ? waiting.shift()!(m) : messages.push(m));
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      if (!head) return reject(new Error(`connection closed before the handshake answer: ${buf.toString()}`));
      deliver(null);
    };
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!head) {
        const at = buf.indexOf('\r\n\r\n');
        if (at < 0) return;
        const text = buf.subarray(0, at).toString();
        head = { status: Number(text.split(' ')[1]), headers: text };
        buf = buf.subarray(at + 4);
        resolve({
          ...head,
          next: () => new Promise((r) => (messages.length ? r(messages.shift()!) : waiting.push(r))),
          send: (data) => {
            const payload = Buffer.isBuffer(data) ? data : typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
            const mask = [7, 2, 1, 9];
            const len = payload.length < 126 ? [0x80 | payload.length] : [0x80 | 126, payload.length >> 8, payload.length & 255];
            socket.write(Buffer.from([0x82, ...len, ...mask, ...payload.map((b, i) => b ^ mask[i % 4])]));
          },
          close: () => socket.destroy(),
        });
      }
      for (;;) {
        if (buf.length < 2) return;
        let len = buf[1] & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + len) return;
        const opcode = buf[0] & 0x0f;
        const payload = buf.subarray(off, off + len);
        buf = buf.subarray(off + len);
        if (opcode === 0x8) return end();
        deliver(Buffer.from(payload));
      }
    });
    socket.on('close', end);
    socket.on('error', (err) => (head ? end() : reject(err)));
  });
}
