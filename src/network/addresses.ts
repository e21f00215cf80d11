import { randomBytes } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { pyStr } from '../repr.js';

/**
 * IP addresses as bigints, so IPv4 and IPv6 share one arithmetic, and MAC addresses as
 * Neutron makes them. Text forms are canonical (IPv6 as RFC 5952), because an address's
 * text is what makes it taken in the database.
 */
export type IpVersion = 4 | 6;

export interface Ip {
  version: IpVersion;
  value: bigint;
}

export interface Cidr {
  version: IpVersion;
  /** The network address (host bits cleared). */
  first: bigint;
  last: bigint;
  prefix: number;
}

const BITS = { 4: 32, 6: 128 } as const;

export function parseIp(text: unknown): Ip | null {
  if (typeof text !== 'string') return null;
  if (isIPv4(text)) return { version: 4, value: v4ToBig(text) };
  if (isIPv6(text) && !text.includes('%')) return { version: 6, value: v6ToBig(text) };
  return null;
}

function v4ToBig(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function v6ToBig(text: string): bigint {
  let groups: string[];
  const toGroups = (s: string) => {
    if (s === '') return [];
    const parts = s.split(':');
    const last = parts[parts.length - 1];
    if (last.includes('.')) {
      const v4 = v4ToBig(last);
      parts.splice(parts.length - 1, 1, (v4 >> 16n).toString(16), (v4 & 0xffffn).toString(16));
    }
    return parts;
  };
  const gap = text.indexOf('::');
  if (gap >= 0) {
    const head = toGroups(text.slice(0, gap));
    const tail = toGroups(text.slice(gap + 2));
    groups = [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail];
  } else {
    groups = toGroups(text);
  }
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

export function formatIp(ip: Ip): string {
  if (ip.version === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join('.');
  }
  const groups = Array.from({ length: 8 }, (_, i) => Number((ip.value >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952: the longest run of two or more zero groups (the first on a tie) becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Canonical text of an address, or null when it is not one. */
export function canonicalIp(text: unknown): string | null {
  const ip = parseIp(text);
  return ip ? formatIp(ip) : null;
}

export type CidrParse = { ok: true; cidr: Cidr } | { ok: false; reason: string };

/** A subnet CIDR worded as neutron-lib's validate_subnet does when it is wrong. */
export function parseCidr(text: unknown): CidrParse {
  const bad = { ok: false as const, reason: `'${pyStr(text)}' is not a valid IP subnet` };
  if (typeof text !== 'string') return bad;
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return bad;
  if (slash < 0) {
    return { ok: false, reason: `'${text}' isn't a recognized IP subnet cidr, '${formatIp(ip)}/${BITS[ip.version]}' is recommended` };
  }
  const lenText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > BITS[ip.version]) return bad;
  return { ok: true, cidr: cidrOf(ip, Number(lenText)) };
}

export function cidrOf(ip: Ip, prefix: number): Cidr {
  const bits = BigInt(BITS[ip.version]);
  const hostBits = bits - BigInt(prefix);
  const hostMask = (1n << hostBits) - 1n;
  const first = ip.value & ~hostMask & ((1n << bits) - 1n);
  return { version: ip.version, first, last: first | hostMask, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp({ version: c.version, value: c.first })}/${c.prefix}`;
}

export function contains(c: Cidr, ip: Ip): boolean {
  return ip.version === c.version && ip.value >= c.first && ip.value <= c.last;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.version === b.version && a.first <= b.last && b.first <= a.last;
}

/** Neutron's base_mac: fa:16:3e plus three random octets. */
export function randomMac(): string {
  return ['fa', '16', '3e', ...[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** A MAC address in Neutron's sanitized form (lower case, colons), or null when invalid. */
export function canonicalMac(text: unknown): string | null {
  if (typeof text !== 'string') return null;
  const m = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(text);
  if (!m) return null;
  const mac = m.slice(1).join(':').toLowerCase();
  return mac === '00:00:00:00:00:00' ? null : mac;
}

/** The modified EUI-64 address SLAAC gives a MAC on a /64. */
export function eui64(prefix: Cidr, mac: string): Ip {
  const o = mac.split(':').map((h) => BigInt(parseInt(h, 16)));
  const iid = [o[0] ^ 0x02n, o[1], o[2], 0xffn, 0xfen, o[3], o[4], o[5]].reduce((acc, b) => (acc << 8n) | b, 0n);
  return { version: 6, value: prefix.first | iid };
}
