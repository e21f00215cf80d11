/**
 * The CloudSigma face beside the compute API, on the same servers in the same run:
 * GET /api/2.0/servers/detail/?limit=0 and GET /compute/v2.1/servers/detail at 100 and
 * 1,000 servers, GET one server through each, and create+start → running beside
 * POST → ACTIVE, one at a time. The two faces read the same rows, so the figures should
 * be close; a gap is the cost of a face's rendering or authentication.
 */
import { request as httpRequest, Agent } from 'node:http';

export interface FaceLoad {
  name: string;
  servers: number;
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerRequest: number;
  failures: string;
}

export interface FaceLatency {
  name: string;
  runs: number;
  p50: number;
  p95: number;
  failures: string;
}

export interface CloudSigmaFigures {
  loads: FaceLoad[];
  latencies: FaceLatency[];
}

/** The kept-alive connections every request of the bench goes over (destroy them before Nimbus stops). */
export const agent = new Agent({ keepAlive: true, maxSockets: 4 });

/** One request with any headers, on a kept-alive connection. */
export function send(url: string, method: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, agent, headers: { accept: 'application/json', ...headers, ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          /* keep the text */
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN);

/** Runs `once` `runs` times one after another (at most 60 s); each returns its latency in ms or throws. */
export async function timed(name: string, runs: number, once: (i: number) => Promise<number>): Promise<FaceLatency> {
  const ms: number[] = [];
  const failures: string[] = [];
  const started = performance.now();
  for (let i = 0; i < runs && performance.now() - started < 60_000; i++) {
    try {
      ms.push(await once(i));
    } catch (err) {
      failures.push((err as Error).message);
    }
  }
  ms.sort((a, b) => a - b);
  return { name, runs: ms.length, p50: percentile(ms, 50), p95: percentile(ms, 95), failures: failures.length ? `${failures.length} failed (${[...new Set(failures)].slice(0, 3).join(', ')})` : '' };
}

/** POST /api/2.0/servers/ then ?do=start, polling GET /servers/{uuid}/ until running. */
export async function csCreateStart(url: string, auth: string, i: number): Promise<number> {
  const h = { authorization: auth };
  const t0 = performance.now();
  const made = await send(`${url}/api/2.0/servers/`, 'POST', h, { name: `cs-build-${i}`, cpu: 1000, mem: 536870912, vnc_password: 'bench' });
  if (made.status !== 201) throw new Error(`POST ${made.status}`);
  const uuid = made.body.objects[0].uuid as string;
  const started = await send(`${url}/api/2.0/servers/${uuid}/action/?do=start`, 'POST', h, {});
  if (started.status !== 202) throw new Error(`start ${started.status}`);
  for (;;) {
    const r = await send(`${url}/api/2.0/servers/${uuid}/`, 'GET', h);
    if (r.body?.status === 'running') return performance.now() - t0;
    if (r.status !== 200 || performance.now() - t0 > 10_000) throw new Error(`${r.status} ${r.body?.status}`);
  }
}

export function renderCloudSigma(f: CloudSigmaFigures, fmt: (n: number, digits?: number) => string): string[] {
  return [
    '### CloudSigma face beside the compute API (same servers, same run, 10 connections)',
    '',
    '| case | servers | requests/s | p50 | p99 | Nimbus CPU per request | not 2xx / errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...f.loads.map((r) => `| ${r.name} | ${fmt(r.servers)} | ${fmt(r.rps)} | ${fmt(r.p50, 2)} ms | ${fmt(r.p99, 2)} ms | ${fmt(r.cpuUsPerRequest)} µs | ${r.failures || 'none'} |`),
    '',
    '| one at a time | runs | p50 | p95 | failures |',
    '| --- | ---: | ---: | ---: | --- |',
    ...f.latencies.map((r) => `| ${r.name} | ${fmt(r.runs)} | ${fmt(r.p50, 2)} ms | ${fmt(r.p95, 2)} ms | ${r.failures || 'none'} |`),
    '',
  ];
}
