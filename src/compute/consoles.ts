import { createHash, randomUUID } from 'node:crypto';
import type { Db } from '../db/database.js';
import type { Clock } from '../clock.js';

/** Nova's [consoleauth] token_ttl: a console URL works for ten minutes. */
export const CONSOLE_TOKEN_TTL_SECONDS = 600;

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

/** What a valid console token opens: a guest's console of one type, on the host it is on. */
export interface ConsoleTarget {
  serverId: string;
  host: string;
  consoleType: string;
}

/**
 * Console connection tokens, as Nova's console_auth_tokens: the remote-consoles API makes
 * one per URL, the console proxy trades it for the guest to connect to. Stored hashed; a
 * token is refused once expired, once its server is deleted, or once the server has moved
 * to another host (its URL then points at a console that is no longer there).
 */
export class ConsoleTokens {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async issue(target: ConsoleTarget): Promise<string> {
    const token = randomUUID();
    const now = this.clock.now();
    await this.db.transaction().execute(async (tx) => {
      // Expired tokens are of no use to anyone: cleared as new ones are made.
      await tx.deleteFrom('console_tokens').where('expires_at', '<', now.toISOString()).execute();
      await tx
        .insertInto('console_tokens')
        .values({
          token_hash: hash(token),
          server_id: target.serverId,
          console_type: target.consoleType,
          host: target.host,
          created_at: now.toISOString(),
          expires_at: new Date(now.getTime() + CONSOLE_TOKEN_TTL_SECONDS * 1000).toISOString(),
        })
        .execute();
    });
    return token;
  }

  /** The console a token opens, or null when it opens none (unknown, expired, stale). */
  async resolve(token: string): Promise<ConsoleTarget | null> {
    if (!token) return null;
    const row = await this.db
      .selectFrom('console_tokens')
      .innerJoin('servers', 'servers.id', 'console_tokens.server_id')
      .select(['console_tokens.server_id', 'console_tokens.console_type', 'console_tokens.host', 'console_tokens.expires_at', 'servers.host as server_host', 'servers.deleted'])
      .where('console_tokens.token_hash', '=', hash(token))
      .executeTakeFirst();
    if (!row || row.deleted || row.server_host !== row.host || row.expires_at <= this.clock.now().toISOString()) return null;
    return { serverId: row.server_id, host: row.host, consoleType: row.console_type };
  }
}

/** Where the console proxy takes websocket connections, under the public URL. */
export const CONSOLE_WEBSOCKET_PATH = '/console/websockify';

/**
 * The URL a client opens for a console, in the shape Nova's proxies give: noVNC's page with
 * the websocket's path (relative to the host, as noVNC reads it) in `path`; a plain
 * websocket URL for the serial console; a page per type for the others.
 */
export function consoleUrl(publicUrl: string, type: string, token: string): string {
  const base = new URL(publicUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  const ws = `${prefix}${CONSOLE_WEBSOCKET_PATH}?token=${token}`;
  if (type === 'serial') return `${base.protocol === 'https:' ? 'wss:' : 'ws:'}//${base.host}${ws}`;
  const pages: Record<string, string> = { novnc: 'vnc_auto.html', xvpvnc: 'console', 'spice-html5': 'spice_auto.html', 'rdp-html5': 'rdp', webmks: 'mks' };
  return `${publicUrl}/console/${pages[type] ?? type}?path=${encodeURIComponent(ws.slice(1))}`;
}
