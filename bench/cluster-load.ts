/**
 * The cluster benchmark's create load, run as a process of its own (node
 * dist/bench/cluster-load.js '<json>') so that the load generator shares no event loop with
 * the bench or with Nimbus: `count` servers created by `concurrency` clients spread over the
 * API nodes round-robin, each polling its server until it leaves BUILD. Prints one JSON line:
 * the wall time from the first POST to the last server ACTIVE, and what did not go well.
 */
interface Job {
  urls: string[];
  token: string;
  flavor: string;
  image: string;
  count: number;
  concurrency: number;
  prefix: string;
}

const job = JSON.parse(process.argv[2]) as Job;

async function call(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url + path, {
    method,
    headers: { 'x-auth-token': job.token, 'content-type': 'application/json', 'openstack-api-version': 'compute 2.37' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

const t0 = performance.now();
let next = 0;
let active = 0;
const failures: string[] = [];
await Promise.all(
  Array.from({ length: job.concurrency }, async () => {
    for (let i = next++; i < job.count; i = next++) {
      const url = job.urls[i % job.urls.length];
      const created = await call(url, 'POST', '/compute/v2.1/servers', { server: { name: `${job.prefix}-${i}`, flavorRef: job.flavor, imageRef: job.image, networks: 'none' } });
      if (created.status !== 202) {
        failures.push(`create ${created.status}`);
        continue;
      }
      for (;;) {
        const shown = await call(url, 'GET', `/compute/v2.1/servers/${created.json.server.id}`);
        const status = shown.json?.server?.status;
        if (status === 'ACTIVE') {
          active++;
          break;
        }
        if (status !== 'BUILD') {
          failures.push(`${status ?? shown.status}`);
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }),
);
const seconds = (performance.now() - t0) / 1000;
process.stdout.write(JSON.stringify({ active, seconds, perSecond: active / seconds, failures }) + '\n');
