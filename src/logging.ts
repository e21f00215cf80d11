import pino, { type DestinationStream, type Logger } from 'pino';

export type LogFormat = 'auto' | 'pretty' | 'json';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLOURS: Record<number, string> = { 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[31m' };
/** Fields every line has, or that a line's text already says. */
const SHOWN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'method', 'url', 'status', 'ms', 'err']);

/**
 * One readable line from one of pino's JSON lines:
 * `12:04:05.123 INFO  GET /compute/v2.1/servers 200 4 ms  request_id=req-…`, or for a task
 * `12:04:05.130 INFO  build: networking  server_id=… request_id=req-…`; an error's stack follows.
 */
export function prettyLine(json: string, colour = false): string {
  const o = JSON.parse(json) as Record<string, unknown>;
  const time = new Date(o.time as number).toISOString().slice(11, 23);
  const level = (LEVELS[o.level as number] ?? String(o.level)).padEnd(5);
  const text = o.msg === 'request' ? `${o.method} ${o.url} ${o.status} ${o.ms} ms` : String(o.msg ?? '');
  const fields = Object.entries(o)
    .filter(([k, v]) => !SHOWN.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  const paint = colour && COLOURS[o.level as number] ? (s: string) => `${COLOURS[o.level as number]}${s}\x1b[0m` : (s: string) => s;
  const err = o.err as { stack?: string; message?: string } | undefined;
  return `${time} ${paint(level)} ${text}${fields.length ? '  ' + fields.join(' ') : ''}${err ? '\n' + (err.stack ?? err.message) : ''}\n`;
}

/** pino's lines, rewritten readable on their way to `out`. */
function prettyStream(out: NodeJS.WriteStream): DestinationStream {
  const colour = out.isTTY === true;
  return { write: (line: string) => void out.write(prettyLine(line, colour)) };
}

/**
 * The process's logger: JSON lines (one per request, per task step and per state change)
 * for machines; readable lines on a terminal, or when asked (`logFormat`).
 */
export function createLogger(level: string, format: LogFormat, out: NodeJS.WriteStream = process.stdout): Logger {
  const pretty = format === 'pretty' || (format === 'auto' && out.isTTY === true);
  return pretty ? pino({ level, base: undefined }, prettyStream(out)) : pino({ level, base: undefined });
}
