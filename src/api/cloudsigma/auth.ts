/**
 * Who is calling the CloudSigma face: HTTP Basic (a Nimbus user's name or email and
 * password), HTTP Digest (RFC 7616, MD5, qop=auth), or the session cookie that
 * `POST /accounts/action/?do=login` sets. A session is a Nimbus token scoped to the user's
 * home project (so logout, password changes and role changes end it as they end tokens);
 * with it every non-GET request needs `X-CSRFToken`, equal to the `csrftoken` cookie, which
 * is derived from the session (a page on another site can send the cookie, not read it).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { forbidden, invalid, unauthorized } from '../../errors.js';
import { DIGEST_REALM } from '../../identity/passwords.js';
import { Credentials } from '../../identity/credentials.js';
import type { Services } from '../../services.js';
import { actionResult, objectAt, param, route } from './http.js';

const SESSION_COOKIE = 'sessionid';
const CSRF_COOKIE = 'csrftoken';
const NONCE_MS = 300_000;
/** Digest nonces are signed, not stored: any nonce this process made in the last 5 minutes is good. */
const NONCE_KEY = randomBytes(32);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const sign = (s: string) => createHmac('sha256', NONCE_KEY).update(s).digest('hex').slice(0, 32);

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The CSRF token of a session: a keyed hash of it, so it needs no storage. */
export const csrfOf = (session: string) => createHash('sha256').update(`csrf\0${session}`).digest('hex');

function nonce(nowMs: number): string {
  const t = nowMs.toString(36);
  return `${t}.${sign(t)}`;
}

function nonceFresh(value: string, nowMs: number): boolean {
  const [t, mac] = value.split('.');
  if (!t || !mac || !same(mac, sign(t))) return false;
  const age = nowMs - parseInt(t, 36);
  return age >= 0 && age < NONCE_MS;
}

let clockOf: () => number = () => Date.now();

/** The WWW-Authenticate challenges of a 401: Digest (with a fresh nonce) and Basic. */
export function challenges(request: FastifyRequest): string[] {
  const stale = (request as { digestStale?: boolean }).digestStale ? ', stale=true' : '';
  return [`Digest realm="${DIGEST_REALM}", qop="auth", algorithm=MD5, nonce="${nonce(clockOf())}"${stale}`, `Basic realm="${DIGEST_REALM}"`];
}

/** `k=v, k="v, w"` pairs of a Digest header. */
function digestParams(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  for (let m; (m = re.exec(header)); ) out[m[1].toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
  return out;
}

export function cookies(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of String(request.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

/** Resolves the caller into `request.auth`, or throws 401 (403 for a session without its CSRF token). */
export function authenticate(services: Services, credentials: Credentials) {
  clockOf = () => services.clock.nowMs();
  return async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.authorization;
    if (typeof header === 'string' && header !== '') {
      const [scheme, ...rest] = header.split(' ');
      const value = rest.join(' ').trim();
      if (scheme.toLowerCase() === 'basic') {
        const decoded = Buffer.from(value, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon < 0) throw unauthorized('Invalid username/password.');
        const ctx = await credentials.password(decoded.slice(0, colon), decoded.slice(colon + 1));
        if (!ctx) throw unauthorized('Invalid username/password.');
        request.auth = ctx;
        return;
      }
      if (scheme.toLowerCase() === 'digest') {
        const p = digestParams(value);
        if (!p.username || !p.nonce || !p.uri || !p.response || (p.algorithm && p.algorithm.toUpperCase() !== 'MD5')) throw unauthorized('Invalid digest credentials.');
        if (p.uri !== request.url) throw unauthorized('Digest uri does not match the request.');
        if (!nonceFresh(p.nonce, services.clock.nowMs())) {
          (request as { digestStale?: boolean }).digestStale = true;
          throw unauthorized('Stale digest nonce.');
        }
        const ha2 = md5(`${request.method}:${p.uri}`);
        const ctx = await credentials.digest(p.username, (ha1) =>
          same(p.response.toLowerCase(), p.qop ? md5(`${ha1}:${p.nonce}:${p.nc ?? ''}:${p.cnonce ?? ''}:${p.qop}:${ha2}`) : md5(`${ha1}:${p.nonce}:${ha2}`)),
        );
        if (!ctx) throw unauthorized('Invalid username/password.');
        request.auth = ctx;
        return;
      }
      throw unauthorized('Unsupported authentication scheme.');
    }
    const jar = cookies(request);
    const session = jar[SESSION_COOKIE];
    if (session) {
      const ctx = await services.tokens.validate(session);
      if (!ctx) throw unauthorized('Session expired or logged out.');
      if (!SAFE_METHODS.has(request.method)) {
        const token = request.headers['x-csrftoken'];
        if (typeof token !== 'string' || !same(token, csrfOf(session))) throw forbidden('CSRF token missing or incorrect.');
      }
      request.auth = ctx;
      return;
    }
    throw unauthorized('Authentication credentials were not provided.');
  };
}

function cookie(name: string, value: string, opts: { httpOnly: boolean; maxAge: number }): string {
  return `${name}=${encodeURIComponent(value)}; Path=/; Max-Age=${opts.maxAge}; SameSite=Lax${opts.httpOnly ? '; HttpOnly' : ''}`;
}

/** `POST /accounts/action/?do=login` (username or email, password) and `?do=logout`. */
export function accountRoutes(app: FastifyInstance, services: Services, credentials: Credentials): void {
  route(app, '/accounts/action/', {
    POST: async (request: FastifyRequest, reply: FastifyReply) => {
      const action = param(request, 'do');
      if (action === 'login') {
        const body = objectAt(request.body ?? {}, 'body');
        const login = body.username ?? body.email;
        if (typeof login !== 'string' || login === '') throw invalid('username is required', 'username');
        if (typeof body.password !== 'string') throw invalid('password is required', 'password');
        const ctx = await credentials.password(login, body.password);
        if (!ctx) throw unauthorized('Invalid username/password.');
        const { token } = await services.tokens.issue({ userId: ctx.userId, projectId: ctx.projectId, methods: ['password'] });
        const maxAge = services.config.tokenTtlSeconds;
        reply.header('set-cookie', [cookie(SESSION_COOKIE, token, { httpOnly: true, maxAge }), cookie(CSRF_COOKIE, csrfOf(token), { httpOnly: false, maxAge })]);
        return actionResult(reply, 'login', ctx.userId, {}, 200);
      }
      if (action === 'logout') {
        const session = cookies(request)[SESSION_COOKIE];
        if (session) await services.tokens.revoke(session);
        reply.header('set-cookie', [cookie(SESSION_COOKIE, '', { httpOnly: true, maxAge: 0 }), cookie(CSRF_COOKIE, '', { httpOnly: false, maxAge: 0 })]);
        reply.code(204);
        return reply.send();
      }
      throw invalid(`Unknown action ${action ?? ''}; accounts take login or logout`, 'do');
    },
  });
}
