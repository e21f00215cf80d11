import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { NimbusError } from '../errors.js';
import type { Dialect } from './http.js';

/** The path of the request line in the bytes the parser refused, when they hold it. */
function pathOf(raw: unknown): string {
  const line = Buffer.isBuffer(raw) ? raw.subarray(0, 8192).toString('latin1').split('\r\n', 1)[0] : '';
  const m = /^[A-Z]+ (\S+)/.exec(line);
  return m ? m[1] : '/';
}

/**
 * Answers what Node's HTTP parser refuses before Fastify sees a request (headers or a URL
 * past the header size limit, malformed HTTP) in the dialect of the path's API, then
 * closes the connection, as Node itself would.
 */
export function answerClientError(err: Error & { code?: string; rawPacket?: unknown }, socket: Socket, dialectOf: (url: string) => Dialect): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const refusal =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new NimbusError('headers_too_large', 'The request line or its headers are larger than this server accepts.')
      : new NimbusError('invalid', 'Malformed HTTP request.');
  const answer = dialectOf(pathOf(err.rawPacket))(refusal);
  const body = JSON.stringify(answer.body);
  const headers = { 'content-type': 'application/json; charset=UTF-8', ...answer.headers, 'content-length': String(Buffer.byteLength(body)), connection: 'close' };
  if (socket.writable) {
    const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.write(`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\n${head}\r\n${body}`);
  }
  socket.destroy(err);
}
