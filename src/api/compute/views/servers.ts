import type { Server, ServerFlavor, Fault, ServerRow } from '../../../compute/servers.js';
import { hostIdOf, parseJson } from '../../../compute/servers.js';
import { statusOf } from '../../../compute/states.js';
import type { AuthContext } from '../../../identity/tokens.js';
import type { Microversion } from '../microversion.js';

const PROGRESS_STATUSES = new Set(['ACTIVE', 'BUILD', 'REBUILD', 'RESIZE', 'VERIFY_RESIZE', 'MIGRATING']);
const FAULT_STATUSES = new Set(['ERROR', 'DELETED']);

/** Nova renders timestamps without fractions ("created") or as naive datetimes (launched_at). */
const isoZ = (t: string) => t.replace(/\.\d{3}Z$/, 'Z');
const naive = (t: string | null) => (t ? t.replace(/\.(\d{3})Z$/, '.$1000') : null);

export interface ViewContext {
  base: string;
  version: Microversion;
  auth: AuthContext;
  /** Host status by host name (2.16), when the caller may see it. */
  hostStatus?: (host: string | null) => string;
  /** PUT and rebuild before 2.75 answer without the extension attributes (AZ, config drive, states …) and with plain addresses. */
  reduced?: boolean;
}

type Addresses = Record<string, { version: number; addr: string }[]>;

/** Nova's address view without extend_address: version and addr only, no OS-EXT-IPS attributes. */
function plainAddresses(addresses: Addresses): Addresses {
  return Object.fromEntries(Object.entries(addresses).map(([net, list]) => [net, list.map(({ version, addr }) => ({ version, addr }))]));
}

export function serverLinks(base: string, id: string) {
  return [
    { rel: 'self', href: `${base}/v2.1/servers/${id}` },
    { rel: 'bookmark', href: `${base}/servers/${id}` },
  ];
}

/** GET /servers: id, name and links only. */
export function serverSummary(base: string, s: Pick<Server, 'id' | 'name'>) {
  return { id: s.id, name: s.name, links: serverLinks(base, s.id) };
}

/** The full server as GET /servers/{id} shows it at the request's microversion. */
/** `serverGroups` is given by show, update and rebuild (2.71), never by lists. */
export function serverDetail(v: ViewContext, s: Omit<ServerViewRow, 'version'>, tags: string[], serverGroups?: string[]): Record<string, unknown> {
  const { base, version, auth } = v;
  const status = statusOf(s.vm_state, s.task_state);
  const flavor = parseJson<ServerFlavor>(s.flavor, {} as ServerFlavor);
  const out: Record<string, unknown> = {
    id: s.id,
    name: s.name,
    status,
    tenant_id: s.project_id,
    user_id: s.user_id,
    metadata: parseJson(s.metadata, {}),
    hostId: hostIdOf(s.project_id, s.host),
    image: s.image_id ? { id: s.image_id, links: [{ rel: 'bookmark', href: `${base}/images/${s.image_id}` }] } : '',
    flavor: version.atLeast('2.47')
      ? {
          vcpus: flavor.vcpus,
          ram: flavor.ram,
          disk: flavor.disk,
          ephemeral: flavor.ephemeral,
          swap: flavor.swap,
          original_name: flavor.name,
          ...(seesExtraSpecs(auth) ? { extra_specs: flavor.extra_specs } : {}),
        }
      : { id: flavor.id, links: [{ rel: 'bookmark', href: `${base}/flavors/${flavor.id}` }] },
    created: isoZ(s.created_at),
    updated: isoZ(s.updated_at),
    addresses: v.reduced ? plainAddresses(parseJson(s.addresses, {})) : parseJson(s.addresses, {}),
    accessIPv4: s.access_ipv4,
    accessIPv6: canonicalIPv6(s.access_ipv6),
    links: serverLinks(base, s.id),
    'OS-DCF:diskConfig': s.disk_config,
  };
  if (FAULT_STATUSES.has(status) && s.fault) {
    const f = parseJson<Fault>(s.fault, null as never);
    out.fault = { code: f.code, created: isoZ(f.created), message: f.message, ...(f.details && (auth.isAdmin || f.code !== 500) ? { details: f.details } : {}) };
  }
  if (PROGRESS_STATUSES.has(status)) out.progress = s.progress;
  if (!v.reduced) extensions(out, v, s);
  if (version.atLeast('2.9')) out.locked = !!s.locked;
  if (version.atLeast('2.73')) out.locked_reason = s.locked_reason;
  if (version.atLeast('2.19')) out.description = s.description;
  if (version.atLeast('2.26')) out.tags = tags;
  if (version.atLeast('2.63')) out.trusted_image_certificates = null;
  if (version.atLeast('2.90') && !(auth.isAdmin && !v.reduced)) out['OS-EXT-SRV-ATTR:hostname'] = s.hostname;
  if (version.atLeast('2.71') && serverGroups) out.server_groups = serverGroups;
  // 2.96: the zone the server was asked to stay in, if any.
  if (version.atLeast('2.96') && !v.reduced) out.pinned_availability_zone = parseJson<{ zone?: string | null }>(s.request_spec, {}).zone ?? null;
  return out;
}

/** The columns serverDetail reads (a detailed list reads no others), and the row's version. */
export const SERVER_VIEW_COLUMNS = [
  'id', 'version', 'name', 'vm_state', 'task_state', 'power_state', 'progress', 'project_id', 'user_id', 'host', 'image_id',
  'flavor', 'created_at', 'updated_at', 'metadata', 'addresses', 'access_ipv4', 'access_ipv6', 'disk_config', 'fault',
  'request_spec', 'availability_zone', 'config_drive', 'key_name', 'launched_at', 'terminated_at', 'security_groups',
  'reservation_id', 'launch_index', 'hostname', 'user_data', 'locked', 'locked_reason', 'description',
] as const satisfies readonly (keyof ServerRow)[];
export type ServerViewRow = Pick<ServerRow, (typeof SERVER_VIEW_COLUMNS)[number]>;

/**
 * Servers rendered for lists, as UTF-8 JSON, by row version. Reading a server's 41 columns,
 * parsing its JSON columns and serializing ~1.5 KB was nearly all of a detailed list's cost;
 * a list now reads each server's id and version, and renders only the rows it has not seen
 * at that version. The database bumps the version on every update of a row (migration 016),
 * so a kept rendering is current when its version is; what the view reads besides the row
 * (tags, the host's status) is kept with it and compared. Kept as bytes: encoding ~135 KB
 * of text to UTF-8 for the socket cost more than the rest of a cached list, and copying
 * bytes costs next to nothing. Bounded: the least recently used go first.
 */
export class RenderedServers {
  /** By server id and view (the view's number in `views`): the version rendered, what else it read, and the JSON. */
  private readonly kept = new Map<string, { version: number; extra: string; json: Buffer }>();
  private readonly views = new Map<string, string>();
  constructor(private readonly limit = 4000) {}

  /**
   * The JSON of each listed server, in order. `rows` are the list's ids and versions;
   * `fetch` reads the rows not rendered at that version yet (ones gone meanwhile are left out).
   */
  async render(
    v: ViewContext,
    rows: Pick<ServerRow, 'id' | 'version' | 'host'>[],
    tags: Map<string, string[]>,
    fetch: (ids: string[]) => Promise<ServerViewRow[]>,
    /** A show's server groups (2.71), which lists never show. */
    groups?: Map<string, string[]>,
  ): Promise<Buffer[]> {
    const variant = `${v.base} ${v.version} ${v.auth.isAdmin} ${seesExtraSpecs(v.auth)} ${!!v.reduced} ${!!groups}`;
    let view = this.views.get(variant);
    if (view === undefined) this.views.set(variant, (view = ` ${this.views.size}`));
    const extraOf = (id: string, host: string | null) => {
      const t = tags.get(id);
      const status = v.hostStatus ? v.hostStatus(host) : '';
      const g = groups?.get(id);
      return t === undefined && status === '' && g === undefined ? '' : `${t?.join('\n') ?? ''}\n${status}\n${g?.join('\n') ?? ''}`;
    };
    const json = new Map<string, Buffer>();
    const missing: string[] = [];
    for (const row of rows) {
      const key = row.id + view;
      const hit = this.kept.get(key);
      if (hit !== undefined && hit.version === row.version && hit.extra === extraOf(row.id, row.host)) {
        this.kept.delete(key); // most recently used again
        this.kept.set(key, hit);
        json.set(row.id, hit.json);
      } else {
        missing.push(row.id);
      }
    }
    if (missing.length) {
      for (const row of await fetch(missing)) {
        const text = Buffer.from(JSON.stringify(serverDetail(v, row, tags.get(row.id) ?? [], groups?.get(row.id))));
        json.set(row.id, text);
        const key = row.id + view;
        this.kept.delete(key);
        this.kept.set(key, { version: row.version, extra: extraOf(row.id, row.host), json: text });
      }
      for (const key of this.kept.keys()) {
        if (this.kept.size <= this.limit) break;
        this.kept.delete(key);
      }
    }
    return rows.map((r) => json.get(r.id)).filter((x): x is Buffer => x !== undefined);
  }
}


const seesExtraSpecs = (auth: AuthContext) => auth.isAdmin || auth.roles.some((r) => r.name === 'reader');

/** The attributes of Nova's old extensions: zone, config drive, key, usage, states, volumes, host. */
function extensions(out: Record<string, unknown>, v: ViewContext, s: Omit<ServerViewRow, 'version'>): void {
  const { version, auth } = v;
  out['OS-EXT-AZ:availability_zone'] = s.availability_zone ?? '';
  out.config_drive = s.config_drive;
  out.key_name = s.key_name;
  out['OS-SRV-USG:launched_at'] = naive(s.launched_at);
  out['OS-SRV-USG:terminated_at'] = naive(s.terminated_at);
  const groups = parseJson<string[]>(s.security_groups, []);
  const addresses = parseJson<Record<string, unknown[]>>(s.addresses, {});
  // Without ports Neutron knows no security groups for the server; and Nova leaves the key
  // out when its ports have none.
  if (groups.length && Object.keys(addresses).length) out.security_groups = groups.map((name) => ({ name }));
  if (auth.isAdmin) {
    out['OS-EXT-SRV-ATTR:host'] = s.host;
    out['OS-EXT-SRV-ATTR:instance_name'] = instanceName(s.id);
    out['OS-EXT-SRV-ATTR:hypervisor_hostname'] = s.host;
    if (version.atLeast('2.3')) {
      out['OS-EXT-SRV-ATTR:reservation_id'] = s.reservation_id;
      out['OS-EXT-SRV-ATTR:launch_index'] = s.launch_index;
      out['OS-EXT-SRV-ATTR:hostname'] = s.hostname;
      out['OS-EXT-SRV-ATTR:kernel_id'] = '';
      out['OS-EXT-SRV-ATTR:ramdisk_id'] = '';
      out['OS-EXT-SRV-ATTR:root_device_name'] = '/dev/vda';
      out['OS-EXT-SRV-ATTR:user_data'] = s.user_data;
    }
  }
  out['OS-EXT-STS:task_state'] = s.task_state;
  out['OS-EXT-STS:vm_state'] = s.vm_state;
  out['OS-EXT-STS:power_state'] = s.power_state;
  const volumes = parseJson<{ volumes?: { id: string; delete_on_termination: boolean }[] }>(s.request_spec, {}).volumes ?? [];
  out['os-extended-volumes:volumes_attached'] = volumes.map((vol) => (version.atLeast('2.3') ? vol : { id: vol.id }));
  if (version.atLeast('2.16') && auth.isAdmin && v.hostStatus) out.host_status = v.hostStatus(s.host);
}

/** Nova keeps accessIPv6 as an IPAddress, so it comes back in RFC 5952 form (::babe:dc0c:1602). */
function canonicalIPv6(ip: string): string {
  if (!ip) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip;
  }
}

/** libvirt's domain name, derived from the id since we have no integer ids. */
function instanceName(id: string): string {
  return `instance-${id.slice(0, 8)}`;
}
