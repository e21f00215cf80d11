/**
 * The fuzz classes of issue 11 as data, the cases they make for a route, and what every
 * answer must look like: never a 5xx, and an error body in the dialect of the path's API.
 */
import type { FastifyInstance } from 'fastify';
import type { Route, Sample, World } from './fuzz-world.js';

export type Api = 'compute' | 'identity' | 'image' | 'network' | 'nimbus' | 'cloudsigma' | 'root';

export function apiOf(path: string): Api {
  const first = path.split('?')[0].split('/')[1];
  if (first === 'compute' || first === 'identity' || first === 'image' || first === 'network') return first;
  if (first === 'api' && path.startsWith('/api/2.0')) return 'cloudsigma';
  return first === 'nimbus' ? 'nimbus' : 'root';
}

export const BUILTIN_NAMES = ['toString', 'constructor', 'hasOwnProperty', 'valueOf', '__defineGetter__', '__proto__'];
const long = (n: number) => 'x'.repeat(n);

/** A path parameter or query value, percent-encoded as it goes on the wire. */
export const PATH_VALUES = {
  nul: ['%00', 'a%00b'],
  /** 2^31 (past an integer column), 2^63 (past a bigint), a float's syntax, past a double, negative, not whole. */
  integers: ['2147483648', '9223372036854775808', '1e308', '1e400', '-1', '1.5'],
  long: [long(65), long(256), long(65536)],
  builtins: BUILTIN_NAMES,
};

/**
 * The query parameters of each API's list routes that read the filters they are given by
 * walking them (Neutron's attribute filters, Glance's properties), which the discovery in
 * `readQueryNames` cannot see by name: issue 11's list, not every filter.
 */
export const QUERY_PARAMS: Record<Api, string[]> = {
  compute: ['host', 'status', 'name', 'limit', 'marker', 'project_id', 'instance_uuid', 'migration_type', 'sort_key', 'changes-since', 'all_tenants', 'user_id', 'minRam'],
  network: ['name', 'id', 'network_id', 'limit', 'marker', 'sort_key', 'project_id', 'fields', 'device_id', 'mtu', 'admin_state_up'],
  identity: ['name', 'enabled', 'domain_id', 'user.id', 'scope.project.id'],
  image: ['name', 'status', 'limit', 'marker', 'sort_key', 'owner', 'visibility', 'size_min', 'min_disk', 'tag', 'sort'],
  nimbus: ['name', 'limit'],
  // listOf's filters (any field, with __contains and friends), paging and order; the actions' own.
  cloudsigma: ['name', 'uuid', 'status', 'tag', 'name__contains', 'name__istartswith', 'name__gt', 'limit', 'offset', 'order_by', 'drive', 'do', 'avoid', 'recurse'],
  root: ['name'],
};

/** Two ordinary values of a parameter, for `?x=a&x=b`. */
const REPEATS: Record<string, [string, string]> = {
  host: ['fake-host-1', 'fake-host-2'], status: ['ACTIVE', 'ERROR'], limit: ['1', '2'], sort_dir: ['asc', 'desc'], sort_key: ['name', 'id'],
  all_tenants: ['1', '0'], enabled: ['true', 'false'], visibility: ['public', 'private'], migration_type: ['migration', 'live-migration'],
  'changes-since': ['2020-01-01T00:00:00Z', '2021-01-01T00:00:00Z'], start: ['2020-01-01T00:00:00', '2021-01-01T00:00:00'], minRam: ['1', '2'],
  offset: ['0', '1'], order_by: ['name', '-uuid'], minDisk: ['1', '2'], size_min: ['1', '2'], mtu: ['1400', '1500'], sort: ['name:asc', 'id:desc'], os_hidden: ['true', 'false'],
};

/** A JSON value that JSON.stringify cannot write: stands in for the raw token until the body is serialized. */
const RAW_1E400 = '\u0001raw-1e400\u0001';

export const BODY_VALUES = {
  nul: ['a\u0000b'],
  /** A number in the sample gets every out-of-range form; a string one that looks like an integer. */
  integers: (current: unknown) => (typeof current === 'number' ? [2147483648, '2147483648', 2 ** 63, 1e308, RAW_1E400, -1, 1.5] : ['2147483648', '9223372036854775808']),
  long: [long(65), long(256), long(65536)],
  types: [true, {}, [], null],
};

export interface Case {
  /** `METHOD url` of the route, to group a route's cases. */
  route: string;
  method: string;
  url: string;
  body?: string;
  contentType?: string;
  version?: string;
  /** What is fuzzed, for the failure report. */
  what: string;
}

const segments = (url: string) => url.split('/');

/** The route's parameters in order, each with the key it has in `World.params`. */
export function paramsOf(route: Route, world: World): { name: string; key: string }[] {
  const segs = segments(route.url);
  const api = apiOf(route.url);
  const out: { name: string; key: string }[] = [];
  segs.forEach((s, i) => {
    if (!s.startsWith(':') && s !== '*') return;
    const key = `${segs[i - 1]}/${s}`;
    out.push({ name: s === '*' ? '*' : s.slice(1), key: Object.hasOwn(world.params, `${api}:${key}`) ? `${api}:${key}` : key });
  });
  return out;
}

/** Fills a route's path with real ids, except the parameters given (already encoded). */
export function fill(route: Route, world: World, given: Record<string, string> = {}): { url: string; decoded: Record<string, string> } {
  const decoded: Record<string, string> = {};
  const segs = segments(route.url);
  const params = paramsOf(route, world);
  let n = 0;
  const url = segs
    .map((s) => {
      if (!s.startsWith(':') && s !== '*') return s;
      const p = params[n++];
      const encoded = given[p.name] ?? encodeURIComponent((Object.hasOwn(world.params, p.key) ? world.params[p.key] : 'x'));
      try {
        decoded[p.name] = decodeURIComponent(encoded);
      } catch {
        decoded[p.name] = encoded;
      }
      return encoded;
    })
    .join('/');
  return { url, decoded };
}

export const routeKey = (r: Route) => `${r.method} ${r.url}`;

/** A route's sample bodies; a collection's trailing-slash twin (Neutron's) takes the collection's. */
const samplesOf = (route: Route, world: World) => world.samples[routeKey(route)] ?? world.samples[routeKey({ ...route, url: route.url.replace(/(.)\/$/, '$1') })];

function serialize(body: unknown): string {
  return JSON.stringify(body).replaceAll(JSON.stringify(RAW_1E400), '1e400');
}

function sampleBody(sample: Sample, params: Record<string, string>): unknown {
  return typeof sample.body === 'function' ? (sample.body as (p: Record<string, string>) => unknown)(params) : sample.body;
}

/** The URL with the sample's query string, if it has one. */
const withQuery = (url: string, sample: Sample) => (sample.query ? `${url}?${sample.query}` : url);

function withSample(route: Route, world: World, url: string, decoded: Record<string, string>, what: string): Case {
  const sample = samplesOf(route, world)?.[0];
  const base: Case = { route: routeKey(route), method: route.method, url, what };
  if (!sample) return base;
  base.url = withQuery(url, sample);
  const body = sampleBody(sample, decoded);
  return { ...base, body: typeof body === 'string' ? body : serialize(body), contentType: sample.contentType, version: sample.version };
}

/** Each path parameter of the route replaced by each value. */
export function pathCases(route: Route, world: World, values: string[]): Case[] {
  return paramsOf(route, world).flatMap((p) =>
    values.map((v) => {
      const { url, decoded } = fill(route, world, { [p.name]: v });
      return withSample(route, world, url, decoded, `path ${p.name}=${v.slice(0, 20)}`);
    }),
  );
}

/**
 * A route's query reads, recorded while it answers a plain request: the names it looks up
 * (`query.x`, `x in query`, a schema's properties), and whether it walks the parameters it
 * is given (then its API's QUERY_PARAMS are fuzzed too).
 */
export interface QueryReads {
  names: Set<string>;
  walks: boolean;
}

/**
 * `request.query` (and the lists behind it, src/api/query.ts) wrapped to record `reads`. The
 * wrapped objects are copies whose properties are configurable, as a proxy may only answer
 * for those with values of its own.
 */
export function readQueryNames<T extends object>(query: T, reads: QueryReads): T {
  const copy = Object.create(Object.getPrototypeOf(query));
  for (const k of Reflect.ownKeys(query)) Object.defineProperty(copy, k, { ...Object.getOwnPropertyDescriptor(query, k), configurable: true, writable: true });
  const note = (k: string | symbol) => typeof k === 'string' && reads.names.add(k);
  return new Proxy(copy, {
    get(target, k) {
      note(k);
      const v = Reflect.get(target, k);
      return typeof k === 'symbol' && v !== null && typeof v === 'object' ? readQueryNames(v, reads) : v;
    },
    has: (target, k) => (note(k), Reflect.has(target, k)),
    getOwnPropertyDescriptor: (target, k) => (note(k), Reflect.getOwnPropertyDescriptor(target, k)),
    ownKeys: (target) => ((reads.walks = true), Reflect.ownKeys(target)),
  });
}

/** The query parameters fuzzed on a route: the ones it was seen to read, and its API's list where it walks them. */
export function queryNamesOf(route: Route, world: World): string[] {
  const reads = world.queryReads?.[routeKey(route)];
  if (!reads) return [];
  return [...new Set([...reads.names, ...(reads.walks ? QUERY_PARAMS[apiOf(route.url)] : [])])];
}

/** Each query parameter the route reads set to each value (GET routes only). */
export function queryCases(route: Route, world: World, values: string[]): Case[] {
  if (route.method !== 'GET') return [];
  const { url } = fill(route, world);
  return queryNamesOf(route, world).flatMap((name) =>
    values.map((v) => ({ route: routeKey(route), method: 'GET', url: `${url}?${encodeURIComponent(name)}=${v}`, what: `query ${name}=${v.slice(0, 20)}` })),
  );
}

/**
 * The query refusals that do not depend on which parameters a route reads (the edge's, and
 * the parser's), once per GET route: `value` under a name the route reads (else `name`), and
 * as a parameter's name where `asName`.
 */
export function edgeQueryCases(route: Route, world: World, value: string, asName = false): Case[] {
  if (route.method !== 'GET') return [];
  const { url } = fill(route, world);
  const name = encodeURIComponent(queryNamesOf(route, world)[0] ?? 'name');
  const cases = [{ route: routeKey(route), method: 'GET', url: `${url}?${name}=${value}`, what: `query ${name}=${value.slice(0, 20)}` }];
  if (asName) cases.push({ route: routeKey(route), method: 'GET', url: `${url}?${value}=1`, what: `query name ${value.slice(0, 20)}` });
  return cases;
}

/** Query parameters named like Object's built-ins, all in one request (GET routes only). */
export function builtinQueryNameCases(route: Route, world: World): Case[] {
  if (route.method !== 'GET') return [];
  const { url } = fill(route, world);
  return [{ route: routeKey(route), method: 'GET', url: `${url}?${BUILTIN_NAMES.map((n) => `${n}=1`).join('&')}`, what: 'query names of built-ins' }];
}

/** Each query parameter the route reads given twice (GET routes only). */
export function repeatedQueryCases(route: Route, world: World): Case[] {
  if (route.method !== 'GET') return [];
  const { url } = fill(route, world);
  return queryNamesOf(route, world).map((name) => {
    const [a, b] = REPEATS[name] ?? ['a', 'b'];
    const q = encodeURIComponent(name);
    return { route: routeKey(route), method: 'GET', url: `${url}?${q}=${encodeURIComponent(a)}&${q}=${encodeURIComponent(b)}`, what: `query ${name} repeated` };
  });
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every place in a JSON value: its path and the value there. */
function places(value: Json, path: (string | number)[] = []): { path: (string | number)[]; value: Json }[] {
  const here = { path, value };
  if (Array.isArray(value)) return [here, ...value.flatMap((v, i) => places(v, [...path, i]))];
  if (value !== null && typeof value === 'object') return [here, ...Object.entries(value).flatMap(([k, v]) => places(v, [...path, k]))];
  return [here];
}

function replaceAt(root: Json, path: (string | number)[], make: (old: Json) => Json): Json {
  if (path.length === 0) return make(root);
  const [head, ...rest] = path;
  if (Array.isArray(root)) return root.map((v, i) => (i === head ? replaceAt(v, rest, make) : v));
  const obj = root as Record<string, Json>;
  // Built with defineProperty so that a key named __proto__ stays an own key.
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(obj)) Object.defineProperty(out, k, { value: k === head ? replaceAt(v, rest, make) : v, enumerable: true, writable: true, configurable: true });
  return out;
}

function withKey(obj: Record<string, Json>, key: string, value: Json, alone: boolean): Record<string, Json> {
  const out: Record<string, Json> = {};
  const entries: [string, Json][] = alone ? [[key, value]] : [...Object.entries(obj), [key, value]];
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

export interface BodyFuzz {
  /** Values put in place of each leaf (`strings`: only where the sample has a string). */
  leaves?: { values: unknown[] | ((current: unknown) => unknown[]); stringsOnly?: boolean };
  /** Keys added to each object (with its first value), and each object replaced by one of them alone. */
  keys?: string[];
}

/** The route's sample bodies, each mutated at every place as `fuzz` says; a route without a sample gets `{}` mutated. */
export function bodyCases(route: Route, world: World, fuzz: BodyFuzz): Case[] {
  const samples = samplesOf(route, world) ?? [{ body: {} }];
  // A DELETE with a body (CloudSigma's many at once) is fuzzed where it has a sample.
  if (!['POST', 'PUT', 'PATCH'].includes(route.method) && !(route.method === 'DELETE' && samplesOf(route, world))) return [];
  const { url, decoded } = fill(route, world);
  const cases: Case[] = [];
  for (const sample of samples) {
    if (sample.contentType === 'application/octet-stream') continue;
    const body = sampleBody(sample, decoded) as Json;
    const add = (mutated: Json, what: string) =>
      cases.push({ route: routeKey(route), method: route.method, url: withQuery(url, sample), body: serialize(mutated), contentType: sample.contentType, version: sample.version, what: `body ${what}` });
    for (const place of places(body)) {
      const at = place.path.join('.') || '(root)';
      const v = place.value;
      if (fuzz.leaves && (v === null || typeof v !== 'object')) {
        if (fuzz.leaves.stringsOnly && typeof v !== 'string') continue;
        const values = typeof fuzz.leaves.values === 'function' ? fuzz.leaves.values(v) : fuzz.leaves.values;
        for (const value of values) add(replaceAt(body, place.path, () => value as Json), `${at}=${JSON.stringify(value)?.slice(0, 20)}`);
      }
      if (fuzz.keys && v !== null && typeof v === 'object' && !Array.isArray(v)) {
        const first = Object.values(v)[0] ?? {};
        // Every key added at once (each must be refused or ignored), then each alone (where a
        // name is looked up: an action, a metadata key).
        add(replaceAt(body, place.path, (o) => fuzz.keys!.reduce((acc, key) => withKey(acc, key, first, false), o as Record<string, Json>)), `${at} + keys ${JSON.stringify(fuzz.keys)}`);
        for (const key of fuzz.keys) add(replaceAt(body, place.path, (o) => withKey(o as Record<string, Json>, key, first, true)), `${at} = only key ${JSON.stringify(key)}`);
      }
    }
  }
  return cases;
}

/** What is wrong with an answer, or null: never a 5xx; an error in the dialect of the path's API that names something. */
export function problemWith(path: string, status: number, contentType: string, text: string, backstop: string): string | null {
  // 501 is a deliberate answer (what Nimbus does not implement), not a failure.
  if (status >= 500 && status !== 501) return `status ${status}`;
  if (status < 400) return null;
  if (!contentType.includes('json')) return `error not JSON (${contentType})`;
  let body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    body = JSON.parse(text);
  } catch {
    return 'error body does not parse';
  }
  const api = apiOf(path);
  let message: unknown;
  const keystoneShaped = () => {
    const e = body?.error;
    if (!e || e.code !== status || typeof e.title !== 'string' || Object.keys(body).length !== 1) return false;
    message = e.message;
    return true;
  };
  if (api === 'cloudsigma') {
    // A list of {error_type, error_message, error_point} (src/api/cloudsigma/errors.ts), 401s too.
    const wellFormed = (e: any) => e !== null && typeof e === 'object' && typeof e.error_type === 'string' && typeof e.error_message === 'string' && (e.error_point === null || typeof e.error_point === 'string'); // eslint-disable-line @typescript-eslint/no-explicit-any
    if (!Array.isArray(body) || body.length === 0 || !body.every(wellFormed)) return 'not a CloudSigma error list';
    message = body[0].error_message;
  } else if (status === 401 || api === 'identity' || api === 'nimbus' || api === 'image' || api === 'root') {
    if (!keystoneShaped()) return 'not a Keystone/Glance error body';
  } else if (api === 'compute') {
    const names = Object.keys(body ?? {});
    const fault = body?.[names[0]];
    if (names.length !== 1 || fault?.code !== status) return 'not a Nova fault';
    message = fault.message;
  } else if (api === 'network') {
    const e = body?.NeutronError;
    if (!e || typeof e.type !== 'string' || e.detail !== '' || Object.keys(body).length !== 1) return 'not a Neutron error';
    message = e.message;
  }
  if (typeof message !== 'string' || message === '') return 'error without a message';
  if (/undefined|\[object Object\]|NaN|function /.test(message)) return 'message names nothing';
  if (message === backstop) return 'reached the database backstop (SQLite would answer otherwise)';
  return null;
}

export interface Failure {
  what: string;
  problem: string;
  status: number;
  text: string;
}

export type Who = 'member' | 'admin';

/** Who a request is from, as its API reads it: a token, or HTTP Basic on the CloudSigma face. */
export function credentialsOf(world: Pick<World, 'admin' | 'member' | 'basic'>, who: Who, url: string): Record<string, string> {
  return apiOf(url) === 'cloudsigma' ? { authorization: world.basic[who] } : { 'x-auth-token': world[who] };
}

/**
 * Runs the cases through the app, a route's cases one after another, `concurrency` routes at
 * a time: two writes of one route never race (parallel tag writes on one server are issue
 * 11's id-collision work, not this test's). A route's cases alternate between the member and
 * the admin, so both reach every route for half the requests; where the member's first two
 * answers are 403 (a route it may not use, whatever the input) its cases go to the admin.
 */
export async function runCases(
  app: FastifyInstance,
  cases: Case[],
  authOf: (who: Who, url: string) => Record<string, string>,
  versions: Map<string, string>,
  backstop: string,
  concurrency = 4,
): Promise<{ failures: Failure[]; count: number }> {
  const groups = new Map<string, Case[]>();
  for (const c of cases) groups.set(c.route, [...(groups.get(c.route) ?? []), c]);
  // The clock moves last, alone: an advance could expire the tokens the other routes use.
  const isClock = (g: Case[]) => g[0].route.includes('/clock');
  const others = [...groups.values()].filter((g) => !isClock(g));
  const clockCases = [...groups.values()].filter(isClock);
  const failures: Failure[] = [];
  let count = 0;
  const one = async (c: Case, who: Who): Promise<number> => {
    count++;
    const headers: Record<string, string> = { ...authOf(who, c.url), accept: 'application/json' };
    if (c.body !== undefined) headers['content-type'] = c.contentType ?? 'application/json';
    if (apiOf(c.url) === 'compute') headers['openstack-api-version'] = `compute ${c.version ?? versions.get(c.route.split(' ')[1]) ?? 'latest'}`;
    const res = await app.inject({ method: c.method as 'GET', url: c.url, headers, payload: c.body });
    const problem = problemWith(c.url, res.statusCode, String(res.headers['content-type'] ?? ''), res.body, backstop);
    if (problem) failures.push({ what: `${who}: ${c.method} ${c.url.slice(0, 160)} [${c.what}]${c.body ? ` ${c.body.slice(0, 200)}` : ''}`, problem, status: res.statusCode, text: res.body.slice(0, 300) });
    return res.statusCode;
  };
  const run = async (g: Case[]) => {
    const byMember: number[] = [];
    let memberRefused = false;
    for (const [i, c] of g.entries()) {
      if (i % 2 === 1 || memberRefused) {
        await one(c, 'admin');
        continue;
      }
      byMember.push(await one(c, 'member'));
      if (byMember.length === 2 && byMember.every((s) => s === 403)) {
        memberRefused = true;
        await one(g[0], 'admin');
        await one(c, 'admin');
      }
    }
  };
  const worker = async () => {
    for (let g = others.shift(); g; g = others.shift()) await run(g);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  for (const g of clockCases) await run(g);
  return { failures, count };
}

/** A readable summary: one line per distinct problem, with how many cases had it. */
export function report(failures: Failure[], max = 400): string {
  const seen = new Map<string, { f: Failure; n: number }>();
  for (const f of failures) {
    const key = `${f.what.split(' ').slice(0, 2).join(' ')}|${f.problem}|${f.text.slice(0, 80)}`;
    const s = seen.get(key);
    if (s) s.n++;
    else seen.set(key, { f, n: 1 });
  }
  const lines = [...seen.values()].slice(0, max).map(({ f, n }) => `${f.problem} (${n}×): ${f.what}\n    → ${f.status} ${f.text}`);
  return `${failures.length} failing cases, ${seen.size} distinct:\n${lines.join('\n')}`;
}
