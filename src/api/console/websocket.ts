import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * The server side of RFC 6455, as much of it as a console needs: the opening handshake,
 * masked client frames in (binary or text, fragmented or not, ping, close) and unmasked
 * binary frames out. A console speaks bytes, so every message is a Buffer.
 */

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** A console's client sends keystrokes and small protocol messages: anything bigger is abuse. */
const MAX_MESSAGE = 1 << 20;

export interface WebSocketConnection {
  send(data: Buffer): void;
  close(): void;
}

/** Answers a handshake that cannot go on: a plain HTTP status with no body, then the socket closes. */
export function refuse(socket: Duplex, status: number, reason: string): void {
  if (socket.writable) socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  else socket.destroy();
}

/**
 * Completes the handshake of `req` (already known to ask for a websocket) and calls
 * `onMessage` with each message; returns the connection, or null when the handshake was
 * malformed (then answered 400).
 */
export function accept(req: IncomingMessage, socket: Duplex, head: Buffer, onMessage: (data: Buffer) => void, onClose: () => void): WebSocketConnection | null {
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || req.headers['sec-websocket-version'] !== '13' || Buffer.from(key, 'base64').length !== 16) {
    refuse(socket, 400, 'Bad Request');
    return null;
  }
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  // noVNC asks for the `binary` subprotocol; a server that names none would be refused by it.
  const protocols = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const protocol = protocols.includes('binary') ? '\r\nSec-WebSocket-Protocol: binary' : '';
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}${protocol}\r\n\r\n`);

  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    if (socket.writable) socket.end(frame(0x8, Buffer.alloc(0)));
    else socket.destroy();
    onClose();
  };
  let buffered: Buffer = Buffer.alloc(0);
  let fragments: Buffer[] = [];
  const receive = (chunk: Buffer) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    for (;;) {
      const f = parseFrame(buffered);
      if (f === null) break;
      if (f === 'invalid') return close();
      buffered = buffered.subarray(f.length);
      if (f.opcode === 0x8) return close();
      if (f.opcode === 0x9) socket.write(frame(0xa, f.payload));
      else if (f.opcode === 0x0 || f.opcode === 0x1 || f.opcode === 0x2) {
        fragments.push(f.payload);
        if (fragments.reduce((n, b) => n + b.length, 0) > MAX_MESSAGE) return close();
        if (f.fin) {
          const message = Buffer.concat(fragments);
          fragments = [];
          onMessage(message);
        }
      }
    }
  };
  socket.on('data', receive);
  // An HTTP server's sockets are half-open: a client's end must be answered, or the socket
  // (and the server's close) would wait for ever.
  socket.on('end', close);
  socket.on('close', close);
  socket.on('error', close);
  if (head.length) receive(head);
  return {
    send: (data) => {
      if (!closed && socket.writable) socket.write(frame(0x2, data));
    },
    close,
  };
}

interface Frame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
  /** Bytes the frame took in the stream. */
  length: number;
}

/** One frame from the start of `b`: null when it is not all there yet, 'invalid' when it breaks the protocol. */
function parseFrame(b: Buffer): Frame | null | 'invalid' {
  if (b.length < 2) return null;
  const fin = (b[0] & 0x80) !== 0;
  const opcode = b[0] & 0x0f;
  if (!(b[1] & 0x80)) return 'invalid'; // RFC 6455 5.1: a client masks every frame
  let len = b[1] & 0x7f;
  let offset = 2;
  if (len === 126) {
    if (b.length < 4) return null;
    len = b.readUInt16BE(2);
    offset = 4;
  } else if (len === 127) {
    if (b.length < 10) return null;
    const big = b.readBigUInt64BE(2);
    if (big > BigInt(MAX_MESSAGE)) return 'invalid';
    len = Number(big);
    offset = 10;
  }
  if (len > MAX_MESSAGE) return 'invalid';
  if (b.length < offset + 4 + len) return null;
  const mask = b.subarray(offset, offset + 4);
  const payload = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) payload[i] = b[offset + 4 + i] ^ mask[i & 3];
  return { fin, opcode, payload, length: offset + 4 + len };
}

/** An unmasked frame, as a server sends them. */
function frame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const header = n < 126 ? Buffer.from([0x80 | opcode, n]) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (n >= 126 && n < 65536) {
    header[0] = 0x80 | opcode;
    header[1] = 126;
    header.writeUInt16BE(n, 2);
  } else if (n >= 65536) {
    header[0] = 0x80 | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([header, payload]);
}
