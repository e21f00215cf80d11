/**
 * Server context (CloudSigma's server_context doc): what a guest whose server has
 * `context: true` reads about itself over its second serial port, and the account's global
 * context. The definition a guest sees is the server's detail view less owner, status,
 * runtime and the other API-only fields (the keys of response_context_all), its drives
 * expanded to their definitions (less owner, runtime, status and the API's references),
 * its NICs' addresses expanded to IP objects, its pubkeys to their keys, and
 * `global_context`. A request names a path (`name`, `/meta/ssh_public_key`, `/nics/0`):
 * a leaf answers without quotes, control characters backslash-escaped, null as nothing;
 * anything else as one line of JSON. The qemu driver serves `answer` on the guest's second
 * serial port (guestContexts); the API serves the same answer at
 * `/servers/{uuid}/context/?key=path`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { NimbusError, invalid, notFound } from '../../errors.js';
import type { AuthContext } from '../../identity/tokens.js';
import { tagRef } from './tags.js';
import { objectAt, param, route } from './http.js';
import { ServerRows } from './servers.js';
import { definitionOf } from './server-view.js';
import { userKeypairs } from './keypairs.js';
import type { GuestContexts } from '../../virt/qemu/context-port.js';

/** The detail view's fields a guest does not see. */
const API_ONLY = ['context', 'grantees', 'jobs', 'owner', 'permissions', 'resource_uri', 'runtime', 'status'];
/** Global context limits: as a server's meta (255-character keys, 64 KiB values), at most 1,000 keys. */
const MAX_KEYS = 1000;

export class ServerContexts {
  private readonly rows: ServerRows;
  constructor(private readonly s: Services) {
    this.rows = new ServerRows(s);
  }

  async global(projectId: string): Promise<Record<string, string>> {
    const row = await this.s.db.selectFrom('global_contexts').select('context').where('project_id', '=', projectId).executeTakeFirst();
    return row ? JSON.parse(row.context) : {};
  }

  /** Replaces the project's global context (POST /global_context/ sets the whole of it). */
  async setGlobal(projectId: string, context: Record<string, string>): Promise<Record<string, string>> {
    const text = JSON.stringify(context);
    const now = this.s.clock.now().toISOString();
    await this.s.db
      .insertInto('global_contexts')
      .values({ project_id: projectId, context: text, updated_at: now })
      .onConflict((oc) => oc.column('project_id').doUpdateSet({ context: text, updated_at: now }))
      .execute();
    return context;
  }

  /** The whole context of one of the project's servers, or 404; 403 naming `context` when the server's context is off. */
  async definition(projectId: string, serverId: string): Promise<Record<string, unknown>> {
    const row = await this.rows.one(projectId, serverId);
    if (!definitionOf(row).context) throw new NimbusError('forbidden', `Server ${serverId} has its context disabled (context is false)`, 'context');
    const [view] = await this.rows.details(projectId, [row.id]);
    const out: Record<string, unknown> = Object.fromEntries(Object.entries(view).filter(([k]) => !API_ONLY.includes(k)));
    const attachments = view.drives as { boot_order: number | null; dev_channel: string; device: string; drive: { uuid: string } }[];
    const drives = new Map((await this.s.drives.many({ projectId, userId: row.user_id } as AuthContext, attachments.map((a) => a.drive.uuid))).map((d) => [d.id, d]));
    out.drives = attachments.map((a) => {
      const d = drives.get(a.drive.uuid);
      const drive = d && { affinities: d.affinities, allow_multimount: d.allowMultimount, licenses: d.licenses, media: d.media, meta: d.meta, name: d.name, size: d.size, storage_type: d.storageType, tags: d.tags.map((n) => tagRef(projectId, n)), uuid: d.id };
      return { boot_order: a.boot_order, dev_channel: a.dev_channel, device: a.device, drive: drive ?? { uuid: a.drive.uuid } };
    });
    const ips = await this.ipObjects(row.id);
    out.nics = (view.nics as Record<string, unknown>[]).map(({ runtime, ...nic }) => {
      const conf = nic.ip_v4_conf as { conf: string; ip: unknown } | null;
      const rt = runtime as { ip_v4?: { uuid: string } | null } | null;
      const staticIp = conf?.ip && typeof conf.ip === 'object' ? (conf.ip as { uuid?: string }).uuid : typeof conf?.ip === 'string' ? conf.ip : undefined;
      const address = staticIp ?? rt?.ip_v4?.uuid;
      return conf ? { ...nic, ip_v4_conf: { ...conf, ip: address ? (ips.get(address) ?? { uuid: address, tags: [], nameservers: [], netmask: null, meta: {}, gateway: null }) : null } } : nic;
    });
    const keys = new Map((await userKeypairs(this.s, row.user_id)).map((k) => [k.uuid, k]));
    out.pubkeys = definitionOf(row).pubkeys.flatMap((uuid) => {
      const k = keys.get(uuid);
      return k ? [{ fingerprint: k.fingerprint, meta: {}, name: k.name, public_key: k.public_key, tags: [], uuid }] : [];
    });
    Object.assign(out, { cpu_perf_threshold: 0.0, mem_perf_threshold: 0.0, is_grey: false, global_context: await this.global(projectId) });
    return out;
  }

  /** The server's addresses as CloudSigma's IP objects, from the subnets they are on. */
  private async ipObjects(serverId: string): Promise<Map<string, Record<string, unknown>>> {
    const rows = await this.s.db
      .selectFrom('ip_allocations')
      .innerJoin('ports', 'ports.id', 'ip_allocations.port_id')
      .innerJoin('subnets', 'subnets.id', 'ip_allocations.subnet_id')
      .select(['ip_allocations.ip_address', 'subnets.cidr', 'subnets.gateway_ip', 'subnets.dns_nameservers'])
      .where('ports.device_id', '=', serverId)
      .execute();
    return new Map(
      rows.map((r) => [r.ip_address, { uuid: r.ip_address, tags: [], nameservers: JSON.parse(r.dns_nameservers || '[]'), netmask: Number(r.cidr.split('/')[1]), meta: {}, gateway: r.gateway_ip }]),
    );
  }

  /** What the serial port answers for `path` (empty: the whole context), without the trailing newline and EOT. */
  async answer(projectId: string, serverId: string, path: string): Promise<{ json: boolean; text: string }> {
    let value: unknown = await this.definition(projectId, serverId);
    for (const part of path.split('/').filter((p) => p !== '')) {
      const next = Array.isArray(value) ? (/^\d+$/.test(part) ? value[Number(part)] : undefined) : value && typeof value === 'object' && Object.hasOwn(value, part) ? (value as Record<string, unknown>)[part] : undefined;
      if (next === undefined) throw notFound(`The server context has no ${path}`);
      value = next;
    }
    return leaf(value);
  }
}

/**
 * The context a guest reads on its serial port, for the driver of the process that owns its
 * machine: the same answers as the API's, read from the database at each request. Only a
 * server defined through this face (a Nova server has no CloudSigma definition) with
 * `context: true` gets a port; a path the context does not have answers an empty value (the
 * serial line has no 404), a server whose context is off or that is gone nothing at all.
 */
export function guestContexts(s: Services): GuestContexts {
  const contexts = new ServerContexts(s);
  const row = (id: string) => s.db.selectFrom('servers').select(['project_id', 'flavor', 'cloudsigma']).where('id', '=', id).where('deleted', '=', 0).executeTakeFirst();
  return {
    has: async (id) => {
      const r = await row(id);
      return !!r?.cloudsigma && definitionOf(r).context;
    },
    answer: async (id, path) => {
      const r = await row(id);
      if (!r?.cloudsigma) return null;
      try {
        return (await contexts.answer(r.project_id, id, path)).text;
      } catch (err) {
        if (!(err instanceof NimbusError)) throw err;
        if (err.kind === 'forbidden') return null;
        if (err.kind === 'not_found') return (await row(id)) ? '' : null;
        throw err;
      }
    },
  };
}

/** A value as the serial port sends it: JSON for objects and lists; a leaf bare. */
export function leaf(value: unknown): { json: boolean; text: string } {
  if (value !== null && typeof value === 'object') return { json: true, text: JSON.stringify(value) };
  if (value === null) return { json: false, text: '' };
  // Control characters escaped as in JSON (\n, \r, \t, \u0001 …), no surrounding quotes.
  return { json: false, text: typeof value === 'string' ? JSON.stringify(value).slice(1, -1) : String(value) };
}

function globalBody(body: unknown): Record<string, string> {
  const o = objectAt(body ?? null, 'body');
  const entries = Object.entries(o);
  if (entries.length > MAX_KEYS) throw invalid(`The global context has at most ${MAX_KEYS} keys`, 'body');
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > 255) throw invalid('A global context key is 1 to 255 characters', k.slice(0, 255) || 'body');
    if (typeof v !== 'string' || v.length > 65535) throw invalid(`${k} must be a string of at most 65535 characters`, k);
  }
  return o as Record<string, string>;
}

export function contextRoutes(api: FastifyInstance, services: Services): void {
  const contexts = new ServerContexts(services);
  const project = (request: FastifyRequest) => request.auth.projectId!;
  // Read as a server's metadata is read, changed as all of a server's metadata is.
  const authorize = (request: FastifyRequest, action: 'index' | 'update_all') => services.policy.authorize(request.auth, `os_compute_api:server-metadata:${action}`, project(request));
  route(api, '/global_context/', {
    GET: async (request) => {
      authorize(request, 'index');
      return contexts.global(project(request));
    },
    POST: async (request) => {
      authorize(request, 'update_all');
      return contexts.setGlobal(project(request), globalBody(request.body));
    },
  });
  route(api, '/servers/:uuid/context/', {
    GET: async (request, reply) => {
      authorize(request, 'index');
      const { uuid } = request.params as { uuid: string };
      const got = await contexts.answer(project(request), uuid, param(request, 'key') ?? '');
      reply.type(got.json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8');
      return got.text;
    },
  });
}
