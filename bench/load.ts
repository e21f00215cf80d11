/**
 * The load generator: wrk (Debian's `wrk`), a separate process in C, so that generating
 * the load neither shares Nimbus's CPU accounting nor takes as much of a 2-core machine as
 * a JavaScript generator parsing every response did. One wrk thread; `connections`
 * keep-alive connections. A small Lua script sets the request and prints the summary as
 * JSON; latency percentiles are wrk's (microsecond resolution).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LoadRequest {
  url: string;
  method?: string;
  headers: Record<string, string>;
  body?: string;
  connections: number;
  seconds: number;
}

export interface LoadSummary {
  /** Responses received (any status). */
  requests: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses with a status outside 2xx and 3xx. */
  non2xx: number;
  /** Socket errors: connect, read, write; and timeouts. */
  errors: number;
  timeouts: number;
}

const lua = (s: string) => JSON.stringify(s); // a JSON string is a valid Lua string literal for our ASCII values

function script(r: LoadRequest): string {
  return [
    `wrk.method = ${lua(r.method ?? 'GET')}`,
    ...Object.entries(r.headers).map(([k, v]) => `wrk.headers[${lua(k)}] = ${lua(v)}`),
    r.body === undefined ? '' : `wrk.body = ${lua(r.body)}`,
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format(\'BENCH {"requests":%d,"us":%d,"p50":%d,"p99":%d,"non2xx":%d,"errors":%d,"timeouts":%d}\\n\',',
    '    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write, e.timeout))',
    'end',
  ].join('\n');
}

export async function wrk(r: LoadRequest): Promise<LoadSummary> {
  const dir = mkdtempSync(join(tmpdir(), 'nimbus-wrk-'));
  try {
    const file = join(dir, 'request.lua');
    writeFileSync(file, script(r));
    const out = await new Promise<string>((resolve, reject) =>
      execFile('wrk', ['-t1', `-c${r.connections}`, `-d${r.seconds}s`, '--timeout', '10s', '-s', file, r.url], { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
        if (err) {
          const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
          reject(new Error(missing ? 'wrk is not installed: the benchmark runs its load with it (apt-get install wrk)' : `wrk failed: ${stderr || err.message}`));
        } else resolve(stdout);
      }),
    );
    const line = /^BENCH (.*)$/m.exec(out);
    if (!line) throw new Error(`no summary from wrk:\n${out}`);
    const s = JSON.parse(line[1]) as { requests: number; us: number; p50: number; p99: number; non2xx: number; errors: number; timeouts: number };
    return { requests: s.requests, seconds: s.us / 1e6, p50Ms: s.p50 / 1000, p99Ms: s.p99 / 1000, non2xx: s.non2xx, errors: s.errors, timeouts: s.timeouts };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** "12 non-2xx, 3 socket errors": what went wrong in a run, or '' when nothing did. */
export function failuresOf(s: LoadSummary): string {
  const out: string[] = [];
  if (s.non2xx) out.push(`${s.non2xx} not 2xx/3xx`);
  if (s.errors) out.push(`${s.errors} socket errors`);
  if (s.timeouts) out.push(`${s.timeouts} timeouts`);
  return out.join(', ');
}
