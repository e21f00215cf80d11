/**
 * The server actions issue's benchmark: latency from an action request to the settled
 * status, and the rate of actions a second across 100 servers with 10 concurrent clients.
 * A server has settled when GET shows the expected status with no task_state; the client
 * polls as fast as it can, so the figure includes one GET's latency at most.
 */
const COMPUTE = '/compute/v2.1';

type Call = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Each measured action: its body and the status it settles in. */
const SEQUENCE: { name: string; body: unknown; settles: string }[] = [
  { name: 'os-stop', body: { 'os-stop': null }, settles: 'SHUTOFF' },
  { name: 'os-start', body: { 'os-start': null }, settles: 'ACTIVE' },
  { name: 'reboot SOFT', body: { reboot: { type: 'SOFT' } }, settles: 'ACTIVE' },
  { name: 'reboot HARD', body: { reboot: { type: 'HARD' } }, settles: 'ACTIVE' },
  { name: 'pause', body: { pause: null }, settles: 'PAUSED' },
  { name: 'unpause', body: { unpause: null }, settles: 'ACTIVE' },
  { name: 'suspend', body: { suspend: null }, settles: 'SUSPENDED' },
  { name: 'resume', body: { resume: null }, settles: 'ACTIVE' },
  { name: 'rescue', body: { rescue: {} }, settles: 'RESCUE' },
  { name: 'unrescue', body: { unrescue: null }, settles: 'ACTIVE' },
  { name: 'resize', body: { resize: { flavorRef: '2' } }, settles: 'VERIFY_RESIZE' },
  { name: 'confirmResize', body: { confirmResize: null }, settles: 'ACTIVE' },
  { name: 'shelve', body: { shelve: null }, settles: 'SHELVED_OFFLOADED' },
  { name: 'unshelve', body: { unshelve: null }, settles: 'ACTIVE' },
  { name: 'rebuild', body: null, settles: 'ACTIVE' },
];

export interface ActionFigures {
  latency: { name: string; p50: number; p95: number; samples: number }[];
  actionsPerSecond: number;
  actionsDone: number;
  seconds: number;
}

async function settle(call: Call, id: string, status: string, limitMs = 30_000): Promise<void> {
  const until = Date.now() + limitMs;
  for (;;) {
    const s = (await call('GET', `${COMPUTE}/servers/${id}`)).body.server;
    if (s.status === status && s['OS-EXT-STS:task_state'] === null) return;
    if (Date.now() > until) throw new Error(`server ${id} did not settle in ${status} (is ${s.status}/${s['OS-EXT-STS:task_state']})`);
  }
}

async function act(call: Call, id: string, body: unknown): Promise<void> {
  const res = await call('POST', `${COMPUTE}/servers/${id}/action`, body);
  if (res.status >= 300) throw new Error(`action on ${id}: ${res.status} ${JSON.stringify(res.body)}`);
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/**
 * `servers` ACTIVE servers are booted first (in the caller's project, whose quota must
 * allow them); latency is measured on the first `latencyServers`, the rate on all.
 */
export async function actionsBenchmark(call: Call, imageId: string, o = { servers: 100, latencyServers: 10, clients: 10, seconds: 5 }): Promise<ActionFigures> {
  const ids: string[] = [];
  for (let i = 0; i < o.servers; i++) {
    const res = await call('POST', `${COMPUTE}/servers`, { server: { name: `bench-action-${i}`, imageRef: imageId, flavorRef: '1' } });
    if (res.status !== 202) throw new Error(`create: ${res.status} ${JSON.stringify(res.body)}`);
    ids.push(res.body.server.id);
  }
  for (const id of ids) await settle(call, id, 'ACTIVE');

  const samples = new Map<string, number[]>(SEQUENCE.map((a) => [a.name, []]));
  await Promise.all(
    ids.slice(0, o.latencyServers).map(async (id) => {
      for (const a of SEQUENCE) {
        const body = a.body ?? { rebuild: { imageRef: imageId } };
        const t0 = performance.now();
        await act(call, id, body);
        await settle(call, id, a.settles);
        samples.get(a.name)!.push(performance.now() - t0);
      }
    }),
  );
  const latency = SEQUENCE.map((a) => {
    const sorted = samples.get(a.name)!.sort((x, y) => x - y);
    return { name: a.name, p50: percentile(sorted, 50), p95: percentile(sorted, 95), samples: sorted.length };
  });

  // The rate: each client stops and starts its share of the servers, each action settled before the next.
  let done = 0;
  const until = Date.now() + o.seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: o.clients }, async (_, c) => {
      const mine = ids.filter((_, i) => i % o.clients === c);
      let running = true;
      for (let k = 0; Date.now() < until; k++) {
        const id = mine[k % mine.length];
        await act(call, id, running ? { 'os-stop': null } : { 'os-start': null });
        await settle(call, id, running ? 'SHUTOFF' : 'ACTIVE');
        done++;
        if (k % mine.length === mine.length - 1) running = !running;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { latency, actionsPerSecond: done / seconds, actionsDone: done, seconds };
}

export function actionsReport(f: ActionFigures, fmt: (n: number, digits?: number) => string): string[] {
  return [
    'Ten servers go through the sequence below at once, so each figure includes waiting behind the other nine.',
    '',
    '| action (request → settled status) | p50 | p95 | samples |',
    '| --- | ---: | ---: | ---: |',
    ...f.latency.map((l) => `| ${l.name} | ${fmt(l.p50, 1)} ms | ${fmt(l.p95, 1)} ms | ${l.samples} |`),
    '',
    `Actions across 100 servers with 10 concurrent clients (os-stop / os-start, each settled before the next): **${fmt(f.actionsPerSecond, 0)} actions/s** (${f.actionsDone} in ${fmt(f.seconds, 1)} s).`,
  ];
}
