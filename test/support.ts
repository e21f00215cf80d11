/**
 * Test harness: a real Nimbus on a real database, listening on a loopback port.
 * Set NIMBUS_TEST_DATABASE_URL=postgres://… to run every test on PostgreSQL: each cloud
 * then gets a database of its own, dropped when it closes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type ConfigFile } from '../src/config.js';
import { createServices, closeServices, type Services } from '../src/services.js';
import { buildApp, type AppOptions } from '../src/app.js';
import { seed, writeCloudsYaml } from '../src/bootstrap.js';
import { Clock } from '../src/clock.js';
import { startWorkers } from '../src/tasks/workers.js';

export const ADMIN_PASSWORD = 'admin-secret-pw';
export const DEMO_PASSWORD = 'demo-secret-pw';
export const PG_URL = process.env.NIMBUS_TEST_DATABASE_URL;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** A fresh database URL: a temporary PostgreSQL database, or undefined for SQLite in the data dir. */
export async function freshDatabase(): Promise<{ url?: string; drop: () => Promise<void> }> {
  if (!PG_URL) return { drop: async () => {} };
  const name = `nimbus_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      try {
        // An autovacuum worker may be in the database for a moment: FORCE cannot terminate it
        // without pg_signal_backend (42501), and it is gone shortly after, so try again.
        for (let attempt = 1; ; attempt++) {
          try {
            await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
            return;
          } catch (err) {
            const code = (err as { code?: string }).code;
            if (attempt >= 20 || (code !== '42501' && code !== '55006')) throw err;
            await new Promise((r) => setTimeout(r, 250));
          }
        }
      } finally {
        await c.end();
      }
    },
  };
}

export interface Response {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  /** Sent as is, for malformed-input tests. */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  /** Shorthand for the compute microversion header. */
  version?: string;
}

export async function request(baseUrl: string, method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (opts.token) headers['x-auth-token'] = opts.token;
  if (opts.version) headers['openstack-api-version'] = `compute ${opts.version}`;
  let body: string | Buffer | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(baseUrl + path, { method, headers, body: body as BodyInit | undefined });
  const text = await res.text();
  let parsed: unknown = undefined;
  if (text && (res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed, text };
}

export interface TestCloud {
  url: string;
  /** The Fastify app itself, for requests that need no socket (`app.inject`). */
  app: FastifyInstance;
  services: Services;
  clock: Clock;
  dataDir: string;
  adminToken: string;
  demoToken: string;
  adminProjectId: string;
  demoProjectId: string;
  /** Request against the cloud's root URL (paths start with /identity, /compute, /image …). */
  req(method: string, path: string, opts?: RequestOptions): Promise<Response>;
  /** A project-scoped token for a user and project, by name. */
  token(user: string, password: string, project: string): Promise<string>;
  close(): Promise<void>;
}

export async function passwordToken(url: string, user: string, password: string, project: string): Promise<{ token: string; body: any }> {
  const res = await request(url, 'POST', '/identity/v3/auth/tokens', {
    body: {
      auth: {
        identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } },
        scope: { project: { name: project, domain: { id: 'default' } } },
      },
    },
  });
  if (res.status !== 201) throw new Error(`token for ${user}: ${res.status} ${res.text}`);
  return { token: res.headers.get('x-subject-token')!, body: res.body };
}

/** Starts an in-process cloud on a loopback port with a fresh data directory and database. */
export async function startCloud(overrides: ConfigFile = {}, appOptions: AppOptions = {}): Promise<TestCloud> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'nimbus-test-'));
  const database = await freshDatabase();
  const config = loadConfig({
    env: {},
    overrides: {
      listen: `127.0.0.1:${port}`,
      dataDir,
      logLevel: 'silent',
      adminPassword: ADMIN_PASSWORD,
      demoPassword: DEMO_PASSWORD,
      // Instant snapshots and migrations keep the suite fast; the tests of the busy window set it.
      fakeBusyWindowMs: 0,
      ...(database.url ? { databaseUrl: database.url } : {}),
      ...overrides,
      // One process at a time can hold 169.254.169.254:80: only the tests of the metadata service ask for it.
      qemu: { metadataService: false, ...overrides.qemu },
    },
  });
  const clock = new Clock();
  const services = await createServices(config, { clock });
  const first = await seed(services);
  writeCloudsYaml(services, first);
  await startWorkers(services, true);
  const app = await buildApp(services, appOptions);
  await app.listen({ host: '127.0.0.1', port });
  const url = `http://127.0.0.1:${port}`;
  const admin = await passwordToken(url, 'admin', ADMIN_PASSWORD, 'admin');
  const demo = await passwordToken(url, 'demo', DEMO_PASSWORD, 'demo');
  return {
    url,
    app,
    services,
    clock,
    dataDir,
    adminToken: admin.token,
    demoToken: demo.token,
    adminProjectId: admin.body.token.project.id,
    demoProjectId: demo.body.token.project.id,
    req: (method, path, opts) => request(url, method, path, opts),
    token: async (user, password, project) => (await passwordToken(url, user, password, project)).token,
    close: async () => {
      await app.close();
      await closeServices(services);
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Creates a project with a member user in it, through the identity API; returns a token for it. */
export async function memberOfNewProject(cloud: TestCloud, name: string, role = 'member'): Promise<{ token: string; projectId: string; userId: string }> {
  const t = cloud.adminToken;
  const project = await cloud.req('POST', '/identity/v3/projects', { token: t, body: { project: { name, domain_id: 'default' } } });
  const user = await cloud.req('POST', '/identity/v3/users', { token: t, body: { user: { name: `${name}-user`, password: `${name}-pw`, domain_id: 'default' } } });
  const roles = await cloud.req('GET', `/identity/v3/roles?name=${role}`, { token: t });
  const roleId = roles.body.roles[0].id;
  const grant = await cloud.req('PUT', `/identity/v3/projects/${project.body.project.id}/users/${user.body.user.id}/roles/${roleId}`, { token: t });
  if (grant.status !== 204) throw new Error(`grant failed: ${grant.status} ${grant.text}`);
  return { token: await cloud.token(`${name}-user`, `${name}-pw`, name), projectId: project.body.project.id, userId: user.body.user.id };
}

/** Starts Nimbus as the README does (`node dist/src/cli.js serve`), waiting for its banner. */
export async function startProcess(env: Record<string, string> = {}): Promise<{ url: string; dataDir: string; child: ChildProcess; output: () => string; stop: () => Promise<void> }> {
  const port = await freePort();
  const dataDir = env.NIMBUS_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'nimbus-proc-'));
  const root = new URL('../..', import.meta.url).pathname; // dist/test → project root
  const child = spawn(process.execPath, [join(root, 'dist/src/cli.js'), 'serve'], {
    cwd: root,
    env: { ...process.env, NIMBUS_LISTEN: `127.0.0.1:${port}`, NIMBUS_DATA_DIR: dataDir, NIMBUS_LOG_LEVEL: 'warn', NIMBUS_FAKE_BUSY_WINDOW_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nimbus did not start:\n${out}`)), 20000);
    const check = () => {
      if (out.includes('Nimbus is listening')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nimbus exited with ${code}:\n${out}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    dataDir,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
