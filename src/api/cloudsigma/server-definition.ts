/**
 * A CloudSigma server definition (POST and PUT bodies) read into the core's terms: the
 * size becomes the embedded flavor (vcpus = smp, ram = mem in MiB, the cpu MHz kept as an
 * extra spec), name/meta/tags go to the core's columns, the rest to the face's definition.
 * Every refusal is a 400 whose error_point names the field.
 */
import { randomBytes } from 'node:crypto';
import { invalid } from '../../errors.js';
import type { ServerFlavor } from '../../compute/servers.js';
import { HYPERVISORS, type ServerLimits } from './capabilities.js';
import { CPU_SPEC, MHZ_PER_CORE, MIB, type Definition, type DriveAttachment, type Nic } from './server-view.js';
import { tagName } from './tags.js';

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const DEVICES = ['ide', 'virtio', 'scsi', 'sata'];
const NIC_MODELS = ['rtl8139', 'e1000', 'virtio'];
const IP_CONFS = ['dhcp', 'static', 'manual'];

type Body = Record<string, unknown>;

function bool(body: Body, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw invalid(`${key} must be a boolean`, key);
  return v;
}

function integer(body: Body, key: string, range?: { min: number; max: number }): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw invalid(`${key} must be an integer`, key);
  if (range && (n < range.min || n > range.max)) throw invalid(`${key} must be between ${range.min} and ${range.max}`, key);
  return n;
}

function list(body: Body, key: string): unknown[] | undefined {
  const v = body[key];
  if (v === undefined || v === null) return v === null ? [] : undefined;
  if (!Array.isArray(v)) throw invalid(`${key} must be a list`, key);
  return v;
}

/** A reference to another resource: its uuid, or `{"uuid": …}` / `{"resource_uri": …}`. */
export function uuidOf(value: unknown, point: string): string {
  const raw = typeof value === 'string' ? value : value && typeof value === 'object' ? ((value as Body).uuid ?? String((value as Body).resource_uri ?? '').split('/').filter(Boolean).pop()) : undefined;
  if (typeof raw !== 'string' || !UUID.test(raw)) throw invalid(`${point} must be a uuid`, point);
  return raw.toLowerCase();
}

/** A tag: its name, or a reference to it (resolved by the caller). */
function tagOf(value: unknown, point: string): string {
  if (typeof value === 'string') return tagName(value, point);
  if (value && typeof value === 'object' && typeof (value as Body).uuid === 'string') return tagName((value as Body).uuid, point);
  if (value && typeof value === 'object' && typeof (value as Body).name === 'string') return tagName((value as Body).name, point);
  throw invalid(`${point} must be a tag uuid or name`, point);
}

export const randomMac = () => '22:' + [...randomBytes(5)].map((b) => b.toString(16).padStart(2, '0')).join(':');

function ipConf(value: unknown, point: string): Nic['ip_v4_conf'] {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`${point} must be an object`, point);
  const conf = (value as Body).conf;
  if (typeof conf !== 'string' || !IP_CONFS.includes(conf)) throw invalid(`${point}.conf must be one of ${IP_CONFS.join(', ')}`, `${point}.conf`);
  const ip = (value as Body).ip ?? null;
  if (conf === 'static') {
    const addr = typeof ip === 'string' ? ip : ip && typeof ip === 'object' ? (ip as Body).uuid : undefined;
    if (typeof addr !== 'string' || !/^\d{1,3}(\.\d{1,3}){3}$|:/.test(addr)) throw invalid(`${point}.ip must be an address for a static configuration`, `${point}.ip`);
    return { conf, ip: { resource_uri: `/api/2.0/ips/${addr}/`, uuid: addr } };
  }
  return { conf, ip: null };
}

function nicOf(value: unknown, i: number, old?: Nic): Nic {
  const point = `nics[${i}]`;
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalid(`${point} must be an object`, point);
  const n = value as Body;
  const model = n.model ?? 'virtio';
  if (typeof model !== 'string' || !NIC_MODELS.includes(model)) throw invalid(`${point}.model must be one of ${NIC_MODELS.join(', ')}`, `${point}.model`);
  const mac = n.mac ?? old?.mac ?? randomMac();
  if (typeof mac !== 'string' || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) throw invalid(`${point}.mac must be a MAC address`, `${point}.mac`);
  const vlan = n.vlan === undefined || n.vlan === null ? null : { resource_uri: `/api/2.0/vlans/${uuidOf(n.vlan, `${point}.vlan`)}/`, uuid: uuidOf(n.vlan, `${point}.vlan`) };
  if (!vlan && n.ip_v4_conf === undefined && n.ip_v6_conf === undefined) throw invalid(`${point} needs ip_v4_conf, ip_v6_conf or vlan`, point);
  const nic: Nic = {
    boot_order: integer(n, 'boot_order') ?? null,
    ip_v4_conf: ipConf(n.ip_v4_conf, `${point}.ip_v4_conf`),
    ip_v6_conf: ipConf(n.ip_v6_conf, `${point}.ip_v6_conf`),
    mac: mac.toLowerCase(),
    model,
    vlan,
  };
  if (n.firewall_policy !== undefined && n.firewall_policy !== null) nic.firewall_policy = { uuid: uuidOf(n.firewall_policy, `${point}.firewall_policy`), resource_uri: `/api/2.0/fwpolicies/${uuidOf(n.firewall_policy, `${point}.firewall_policy`)}/` };
  return nic;
}

function driveOf(value: unknown, i: number): DriveAttachment {
  const point = `drives[${i}]`;
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalid(`${point} must be an object`, point);
  const d = value as Body;
  const device = d.device ?? 'virtio';
  if (typeof device !== 'string' || !DEVICES.includes(device)) throw invalid(`${point}.device must be one of ${DEVICES.join(', ')}`, `${point}.device`);
  const channel = d.dev_channel ?? '0:0';
  if (typeof channel !== 'string' || !/^\d{1,2}:\d{1,2}$/.test(channel)) throw invalid(`${point}.dev_channel must look like 0:0`, `${point}.dev_channel`);
  return { boot_order: integer(d, 'boot_order') ?? null, dev_channel: channel, device, drive: uuidOf(d.drive, `${point}.drive`) };
}

export interface ParsedDefinition {
  name?: string;
  metadata?: Record<string, string>;
  tags?: string[];
  flavor?: ServerFlavor;
  /** The face's definition, merged over the old one (or the defaults). */
  definition: Definition;
  /** Fields given that only a stopped server may change. */
  changesDefinition: boolean;
}

/** The flavor a CloudSigma size stands for. */
export function flavorFor(cpu: number, smp: number, mem: number): ServerFlavor {
  const ram = mem / MIB;
  return { id: 'cloudsigma', name: `cloudsigma-${cpu}mhz-${smp}-${ram}m`, vcpus: smp, ram, disk: 0, ephemeral: 0, swap: 0, extra_specs: { [CPU_SPEC]: String(cpu) } };
}

/**
 * Reads a definition. `old` is the server's definition and size for a PUT (fields not
 * given keep their value); without it (a create) name, cpu, mem and vnc_password are required.
 */
export function parseDefinition(body: Body, limits: ServerLimits, old?: { definition: Definition; cpu: number; smp: number; mem: number }): ParsedDefinition {
  const creating = !old;
  const out: Partial<ParsedDefinition> = {};
  if (body.name !== undefined || creating) {
    if (typeof body.name !== 'string' || body.name.trim() === '' || body.name.length > 255) throw invalid('name is required: a string of 1 to 255 characters', 'name');
    out.name = body.name;
  }
  for (const key of ['cpu', 'mem', 'vnc_password']) if (creating && (body[key] === undefined || body[key] === null)) throw invalid(`${key} is required`, key);
  const cpu = integer(body, 'cpu', limits.cpu);
  const mem = integer(body, 'mem', limits.mem);
  if (mem !== undefined && mem % MIB !== 0) throw invalid('mem must be a whole number of MiB (in bytes)', 'mem');
  const smp = integer(body, 'smp', limits.smp);
  if (cpu !== undefined || mem !== undefined || smp !== undefined) {
    const c = cpu ?? old!.cpu;
    const m = mem ?? old!.mem;
    const s = smp ?? (cpu !== undefined ? Math.max(1, Math.ceil(c / MHZ_PER_CORE)) : old!.smp);
    out.flavor = flavorFor(c, Math.min(s, limits.smp.max), m);
  }
  const def: Definition = { ...(old?.definition ?? { cpu: 0, vnc_password: null, hypervisor: 'kvm', cpu_type: 'amd', cpu_model: null, cpus_instead_of_cores: false, enable_numa: false, hv_relaxed: false, hv_tsc: false, context: true, auto_start: false, requirements: [], drives: [], nics: [], pubkeys: [], gpus: [], epcs: [] }) };
  if (cpu !== undefined) def.cpu = cpu;
  if (body.vnc_password !== undefined) {
    if (typeof body.vnc_password !== 'string' || body.vnc_password === '' || body.vnc_password.length > 64) throw invalid('vnc_password must be a string of 1 to 64 characters', 'vnc_password');
    def.vnc_password = body.vnc_password;
  }
  if (body.hypervisor !== undefined) {
    if (typeof body.hypervisor !== 'string') throw invalid('hypervisor must be a string', 'hypervisor');
    def.hypervisor = body.hypervisor;
  }
  if (body.cpu_type !== undefined) {
    if (typeof body.cpu_type !== 'string') throw invalid('cpu_type must be a string', 'cpu_type');
    def.cpu_type = body.cpu_type;
  }
  if (!HYPERVISORS[def.hypervisor]?.includes(def.cpu_type)) throw invalid(`hypervisor ${def.hypervisor} with cpu_type ${def.cpu_type} is not in this cloud's capabilities`, body.cpu_type !== undefined ? 'cpu_type' : 'hypervisor');
  if (body.cpu_model !== undefined) {
    if (body.cpu_model !== null && body.cpu_model !== 'kvm64') throw invalid('cpu_model must be null or kvm64', 'cpu_model');
    def.cpu_model = body.cpu_model;
  }
  for (const key of ['cpus_instead_of_cores', 'enable_numa', 'hv_relaxed', 'hv_tsc', 'context', 'auto_start'] as const) {
    const v = bool(body, key);
    if (v !== undefined) def[key] = v;
  }
  for (const key of ['requirements', 'gpus', 'epcs'] as const) {
    const v = list(body, key);
    if (v !== undefined) def[key] = v;
  }
  const drives = list(body, 'drives');
  if (drives !== undefined) {
    def.drives = drives.map(driveOf);
    const seen = new Set<string>();
    def.drives.forEach((d, i) => {
      if (seen.has(`${d.device}:${d.dev_channel}`)) throw invalid(`drives[${i}]: ${d.device} ${d.dev_channel} is already taken`, `drives[${i}].dev_channel`);
      seen.add(`${d.device}:${d.dev_channel}`);
    });
  }
  const nics = list(body, 'nics');
  if (nics !== undefined) def.nics = nics.map((n, i) => nicOf(n, i, old?.definition.nics.find((o) => o.mac === (n as Body)?.mac)));
  const pubkeys = list(body, 'pubkeys');
  if (pubkeys !== undefined) def.pubkeys = pubkeys.map((k, i) => uuidOf(k, `pubkeys[${i}]`));
  if (body.meta !== undefined) {
    const meta = body.meta;
    if (!meta || typeof meta !== 'object' || Array.isArray(meta)) throw invalid('meta must be an object', 'meta');
    const entries = Object.entries(meta as Body);
    for (const [k, v] of entries) if (typeof v !== 'string' || k.length > 255 || v.length > 65535) throw invalid(`meta.${k} must be a string`, `meta.${k}`);
    out.metadata = Object.fromEntries(entries) as Record<string, string>;
  }
  const tags = list(body, 'tags');
  if (tags !== undefined) out.tags = tags.map((t, i) => tagOf(t, `tags[${i}]`));
  const changesDefinition = ['cpu', 'mem', 'smp', 'vnc_password', 'hypervisor', 'cpu_type', 'cpu_model', 'cpus_instead_of_cores', 'enable_numa', 'hv_relaxed', 'hv_tsc', 'context', 'auto_start', 'requirements', 'gpus', 'epcs', 'drives', 'nics', 'pubkeys'].some((k) => body[k] !== undefined);
  return { ...out, definition: def, changesDefinition };
}
