/**
 * Issue 11's fuzz classes over every route the app registers (collected from the real
 * buildApp, so a route added later is fuzzed without editing this file), as an admin and as
 * a member: NUL bytes, out-of-range integers, over-long strings, built-in key names, JSON
 * values of the wrong type and repeated query parameters. Every answer must be below 500,
 * and an error must be in the dialect of the path's API and name something.
 *
 * The query parameters fuzzed on a route are the ones it reads: each GET route first answers
 * a plain request with its query wrapped to record the names looked up, so a parameter added
 * later is fuzzed too (plus the API's common filters where a route walks what it is given).
 *
 * The cases go through `app.inject` (Fastify's router, hooks, parsers and handlers, without a
 * socket) to keep some 30,000 requests to seconds; what is refused before Fastify sees a
 * request (percent-encoding, header sizes) is tested over HTTP at the end.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, request, type TestCloud } from '../support.js';
import { DATA_EXCEPTION_MESSAGE } from '../../src/api/http.js';
import { buildWorld, type Route, type World } from './fuzz-world.js';
import {
  BODY_VALUES,
  BUILTIN_NAMES,
  PATH_VALUES,
  apiOf,
  bodyCases,
  credentialsOf,
  builtinQueryNameCases,
  edgeQueryCases,
  fill,
  pathCases,
  problemWith,
  queryCases,
  readQueryNames,
  repeatedQueryCases,
  report,
  routeKey,
  runCases,
  type Case,
  type QueryReads,
} from './fuzz-cases.js';

describe('fuzz: every route, as admin and as member', () => {
  let cloud: TestCloud;
  let world: World;
  const routes: Route[] = [];
  /** The compute microversion each URL is fuzzed at: the latest, or 2.1 for routes later microversions removed. */
  const versions = new Map<string, string>();
  /** Where a route's query reads are being recorded, while discovery runs. */
  let recording: QueryReads | null = null;

  before(async () => {
    cloud = await startCloud({}, {
      onRoute: (r) => {
        // A resource is one Fastify route for every method, naming the ones it serves
        // (src/api/http.ts); each is fuzzed, but HEAD, which repeats GET.
        const served = (r.config as { allowedMethods?: string[] } | undefined)?.allowedMethods ?? [r.method].flat();
        // A CloudSigma path is registered with and without its trailing slash (src/api/cloudsigma/http.ts
        // `route`), one handler for both: fuzzed once, with the slash.
        const twin = apiOf(r.url) === 'cloudsigma' && !r.url.endsWith('/');
        if (!twin) for (const method of served) if (method !== 'HEAD') routes.push({ method, url: r.url });
        const handler = r.handler;
        r.handler = function (request, reply) {
          if (recording && request.query) request.query = readQueryNames(request.query, recording);
          return handler.call(this, request, reply);
        };
      },
    });
    world = await buildWorld(cloud);
    for (const r of routes.filter((r) => r.method === 'GET' && apiOf(r.url) === 'compute')) {
      const { url } = fill(r, world);
      const at = async (v: string) => (await cloud.app.inject({ method: 'GET', url, headers: { 'x-auth-token': world.admin, 'openstack-api-version': `compute ${v}` } })).statusCode;
      if ((await at('latest')) === 404 && (await at('2.1')) !== 404) versions.set(r.url, '2.1');
    }
    world.queryReads = {};
    for (const r of routes.filter((r) => r.method === 'GET')) {
      recording = { names: new Set(), walks: false };
      const res = await cloud.app.inject({ method: 'GET', url: fill(r, world).url, headers: { ...credentialsOf(world, 'admin', r.url), 'openstack-api-version': `compute ${versions.get(r.url) ?? 'latest'}` } });
      assert.ok(res.statusCode < 500, `discovering the query of ${routeKey(r)}: ${res.statusCode} ${res.body}`);
      world.queryReads[routeKey(r)] = recording;
      recording = null;
    }
    // The discovery sees what it must (else the query fuzz would silently shrink).
    assert.ok(['name', 'limit', 'changes-since', 'all_tenants'].every((n) => world.queryReads!['GET /compute/v2.1/servers/detail'].names.has(n)));
  });
  after(async () => cloud?.close());

  /** Runs the cases, alternately as the member and as the admin, and fails with a summary of every problem. */
  async function fuzz(t: { diagnostic: (m: string) => void }, make: (r: Route) => Case[]): Promise<void> {
    const cases = routes.flatMap(make);
    const started = Date.now();
    const cpu = process.cpuUsage();
    await world.renewTokens();
    const { failures, count } = await runCases(cloud.app, cases, (who, url) => credentialsOf(world, who, url), versions, DATA_EXCEPTION_MESSAGE);
    const used = process.cpuUsage(cpu);
    t.diagnostic(`${count} requests over ${routes.length} routes in ${Date.now() - started} ms (${Math.round((used.user + used.system) / 1000)} ms of CPU)`);
    assert.equal(failures.length, 0, report(failures));
  }

  test('NUL bytes in path parameters, query values, JSON strings and keys are a 4xx in the API\'s dialect', async (t) => {
    await fuzz(t, (r) => [
      ...pathCases(r, world, PATH_VALUES.nul),
      ...edgeQueryCases(r, world, '%00', true),
      ...edgeQueryCases(r, world, 'a%00b'),
      ...bodyCases(r, world, { leaves: { values: BODY_VALUES.nul, stringsOnly: true }, keys: ['k\u0000'] }),
    ]);
  });

  test('integers out of range (2^31, 2^63, 1e308, 1e400, -1, 1.5) in path ids, query and body are never a 5xx', async (t) => {
    await fuzz(t, (r) => [
      ...pathCases(r, world, PATH_VALUES.integers),
      // A query value is text: 1e308 and 1e400 read as numbers are 2^31's case, not the parser's.
      ...queryCases(r, world, PATH_VALUES.integers.filter((v) => !v.startsWith('1e'))),
      ...bodyCases(r, world, { leaves: { values: BODY_VALUES.integers } }),
    ]);
  });

  test('over-long strings (65, 256, 64 KiB) in path, query and body are never a 5xx', async (t) => {
    await fuzz(t, (r) => [
      ...pathCases(r, world, PATH_VALUES.long),
      ...queryCases(r, world, PATH_VALUES.long.slice(0, 2)),
      ...edgeQueryCases(r, world, PATH_VALUES.long[2]),
      ...bodyCases(r, world, { leaves: { values: BODY_VALUES.long, stringsOnly: true } }),
    ]);
  });

  test('built-in key names as path segments, query values, body keys and values (names, ids), action names and metadata keys are never a 5xx', async (t) => {
    await fuzz(t, (r) => [
      ...pathCases(r, world, BUILTIN_NAMES),
      ...queryCases(r, world, ['constructor']),
      ...builtinQueryNameCases(r, world),
      ...bodyCases(r, world, { keys: BUILTIN_NAMES, leaves: { values: ['__proto__', 'constructor', 'toString'], stringsOnly: true } }),
    ]);
  });

  test('JSON values of the wrong type (true, {}, [], null) in every body field are a 4xx that names them', async (t) => {
    await fuzz(t, (r) => bodyCases(r, world, { leaves: { values: BODY_VALUES.types } }));
  });

  test('repeated query parameters (?x=a&x=b) are never a 5xx', async (t) => {
    await fuzz(t, (r) => repeatedQueryCases(r, world));
  });

  test('path parameters of 101 to 255 characters reach their route (no 414)', async () => {
    const failures: string[] = [];
    for (const r of routes) {
      for (const c of pathCases(r, world, ['y'.repeat(101), 'y'.repeat(255), encodeURIComponent('é'.repeat(255))])) {
        const res = await cloud.app.inject({ method: c.method as 'GET', url: c.url, headers: { ...credentialsOf(world, 'admin', c.url), 'openstack-api-version': 'compute latest' } });
        if (res.statusCode === 414 || res.statusCode >= 500) failures.push(`${res.statusCode} ${routeKey(r)} ${c.what}: ${res.body.slice(0, 200)}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  test('requests refused before routing answer in the dialect of their path', async () => {
    const prefixes = ['/compute/v2.1/servers', '/identity/v3/users', '/image/v2/images', '/network/v2.0/networks', '/nimbus/v1/behaviours', '/api/2.0/servers', '/nowhere'];
    const failures: string[] = [];
    for (const prefix of prefixes) {
      const attempts: [string, string, Record<string, string>][] = [
        ['malformed percent-encoding', `${prefix}/%FF%FE`, {}],
        ['truncated percent-encoding', `${prefix}/%E0%A4`, {}],
        ['a path segment too long for the router', `${prefix}/${'z'.repeat(5000)}`, {}],
        ['a URL past the header limit', `${prefix}/${'z'.repeat(70000)}`, {}],
        ['headers too large', prefix, { 'x-padding': 'p'.repeat(70000) }],
      ];
      for (const [what, path, headers] of attempts) {
        let res;
        try {
          res = await request(cloud.url, 'GET', path, { headers: { ...credentialsOf(world, 'admin', path), ...headers } });
        } catch (err) {
          failures.push(`${what} ${prefix}: no answer (${(err as Error).message})`);
          continue;
        }
        const problem = res.status < 400 ? `status ${res.status}` : problemWith(path, res.status, res.headers.get('content-type') ?? '', res.text, DATA_EXCEPTION_MESSAGE);
        if (problem) failures.push(`${what} ${prefix}: ${problem}: ${res.status} ${res.text.slice(0, 200)}`);
      }
    }
    assert.deepEqual(failures, []);
  });
});
