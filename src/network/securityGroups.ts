import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Schema, SecurityGroupRuleTable, SecurityGroupTable } from '../db/schema.js';
import { cidrOf, formatCidr, formatIp, parseIp } from './addresses.js';
import { NetworkingError, securityGroupNotFound, securityGroupRuleNotFound } from './errors.js';
import type { Viewer } from './networks.js';
import { enforceNetworkQuota } from './quotas.js';

type Q = Kysely<Schema>;

export interface SecurityGroupRecord extends SecurityGroupTable {
  rules: SecurityGroupRuleTable[];
}

export const DEFAULT_SG_NAME = 'default';
export const DEFAULT_SG_DESCRIPTION = 'Default security group';
export const ETHERTYPES = ['IPv4', 'IPv6'] as const;

/** neutron_lib's IP_PROTOCOL_MAP, in its order (the order shows in Neutron's error message). */
export const PROTOCOLS: Record<string, number> = {
  ah: 51,
  dccp: 33,
  egp: 8,
  esp: 50,
  gre: 47,
  hopopt: 0,
  icmp: 1,
  igmp: 2,
  ip: 0,
  ipip: 4,
  'ipv6-encap': 41,
  'ipv6-frag': 44,
  'ipv6-icmp': 58,
  icmpv6: 58,
  'ipv6-nonxt': 59,
  'ipv6-opts': 60,
  'ipv6-route': 43,
  ospf: 89,
  pgm: 113,
  rsvp: 46,
  sctp: 132,
  tcp: 6,
  udp: 17,
  udplite: 136,
  vrrp: 112,
};
const PORT_PROTOCOLS = [33, 132, 6, 17, 136];
const IPV6_ONLY = ['ipv6-encap', 'ipv6-frag', 'ipv6-icmp', 'icmpv6', 'ipv6-nonxt', 'ipv6-opts', 'ipv6-route', '41', '44', '58', '59', '60', '43'];

const now0 = (now: string) => ({ revision_number: 0, created_at: now, updated_at: now });

function ruleRow(projectId: string, groupId: string, now: string, r: Partial<SecurityGroupRuleTable> & Pick<SecurityGroupRuleTable, 'direction' | 'ethertype'>): SecurityGroupRuleTable {
  return {
    id: randomUUID(),
    project_id: projectId,
    security_group_id: groupId,
    protocol: null,
    port_range_min: null,
    port_range_max: null,
    remote_ip_prefix: null,
    remote_group_id: null,
    description: '',
    ...now0(now),
    ...r,
  };
}

async function insertGroup(tx: Q, now: string, projectId: string, name: string, description: string, stateful: boolean, isDefault: boolean): Promise<SecurityGroupTable> {
  const group: SecurityGroupTable = { id: randomUUID(), project_id: projectId, name, description, stateful: stateful ? 1 : 0, ...now0(now), revision_number: 1 };
  await tx.insertInto('security_groups').values(group).execute();
  // Neutron's rules: a new group lets everything out; the default group also lets its members in.
  const rules: SecurityGroupRuleTable[] = [];
  for (const ethertype of ETHERTYPES) {
    if (isDefault) rules.push(ruleRow(projectId, group.id, now, { direction: 'ingress', ethertype, remote_group_id: group.id }));
    rules.push(ruleRow(projectId, group.id, now, { direction: 'egress', ethertype }));
  }
  await tx.insertInto('security_group_rules').values(rules).execute();
  return group;
}

/**
 * The project's `default` group, created with Neutron's default rules on first use. The
 * default_security_groups key decides a race: the loser drops the group it made.
 */
export async function ensureDefaultSecurityGroup(tx: Q, now: string, projectId: string): Promise<string> {
  const existing = await tx.selectFrom('default_security_groups').select('security_group_id').where('project_id', '=', projectId).executeTakeFirst();
  if (existing) return existing.security_group_id;
  const group = await insertGroup(tx, now, projectId, DEFAULT_SG_NAME, DEFAULT_SG_DESCRIPTION, true, true);
  const won = await tx
    .insertInto('default_security_groups')
    .values({ project_id: projectId, security_group_id: group.id })
    .onConflict((oc) => oc.column('project_id').doNothing())
    .executeTakeFirst();
  if (Number(won.numInsertedOrUpdatedRows ?? 0n) === 1) return group.id;
  await tx.deleteFrom('security_groups').where('id', '=', group.id).execute();
  const winner = await tx.selectFrom('default_security_groups').select('security_group_id').where('project_id', '=', projectId).executeTakeFirstOrThrow();
  return winner.security_group_id;
}

export async function isDefaultGroup(db: Q, groupId: string): Promise<boolean> {
  return !!(await db.selectFrom('default_security_groups').select('project_id').where('security_group_id', '=', groupId).executeTakeFirst());
}

/** Rules made together (a new group's) keep Neutron's order: IPv4 before IPv6, ingress before egress. */
const RULE_ORDER = ['created_at', 'ethertype', 'direction desc'] as const;

async function withRules(db: Q, groups: SecurityGroupTable[]): Promise<SecurityGroupRecord[]> {
  const byGroup = new Map<string, SecurityGroupRuleTable[]>(groups.map((g) => [g.id, []]));
  for (let i = 0; i < groups.length; i += 500) {
    const ids = groups.slice(i, i + 500).map((g) => g.id);
    const rules = await db.selectFrom('security_group_rules').selectAll().where('security_group_id', 'in', ids).orderBy(RULE_ORDER).orderBy('id').execute();
    for (const r of rules) byGroup.get(r.security_group_id)!.push(r);
  }
  return groups.map((g) => ({ ...g, rules: byGroup.get(g.id)! }));
}

export async function listSecurityGroups(db: Q, v: Viewer): Promise<SecurityGroupRecord[]> {
  let q = db.selectFrom('security_groups').selectAll();
  if (!v.isAdmin) q = q.where('project_id', '=', v.projectId ?? '');
  return withRules(db, await q.orderBy('created_at').orderBy('id').execute());
}

export async function findSecurityGroup(db: Q, v: Viewer, id: string): Promise<SecurityGroupRecord> {
  const row = await db.selectFrom('security_groups').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || (!v.isAdmin && row.project_id !== v.projectId)) throw securityGroupNotFound(id);
  return (await withRules(db, [row]))[0];
}

export async function createSecurityGroup(tx: Q, now: string, projectId: string, input: { name: string; description: string; stateful: boolean }): Promise<SecurityGroupRecord> {
  await ensureDefaultSecurityGroup(tx, now, projectId);
  // After the default group: Neutron makes it before the request is counted, and counts it.
  await enforceNetworkQuota(tx, projectId, 'security_group');
  const group = await insertGroup(tx, now, projectId, input.name, input.description, input.stateful, false);
  return (await withRules(tx, [group]))[0];
}

export async function updateSecurityGroup(tx: Q, now: string, group: SecurityGroupTable, patch: { name?: string; description?: string; stateful?: boolean }): Promise<SecurityGroupRecord> {
  if (patch.name !== undefined && (await isDefaultGroup(tx, group.id))) {
    throw new NetworkingError('conflict', 'Updating default security group not allowed.', 'SecurityGroupCannotUpdateDefault');
  }
  if (patch.name === 'default') throw new NetworkingError('conflict', 'Default security group already exists.', 'SecurityGroupDefaultAlreadyExists');
  if (patch.stateful !== undefined && (patch.stateful ? 1 : 0) !== group.stateful && (await inUse(tx, group.id))) {
    throw new NetworkingError('conflict', `Security Group ${group.id} in use.`, 'SecurityGroupInUse');
  }
  const values: Partial<SecurityGroupTable> = { updated_at: now };
  if (patch.name !== undefined) values.name = patch.name;
  if (patch.description !== undefined) values.description = patch.description;
  if (patch.stateful !== undefined) values.stateful = patch.stateful ? 1 : 0;
  await tx
    .updateTable('security_groups')
    .set((eb) => ({ ...values, revision_number: eb('revision_number', '+', 1) }))
    .where('id', '=', group.id)
    .execute();
  const row = (await tx.selectFrom('security_groups').selectAll().where('id', '=', group.id).executeTakeFirst())!;
  return (await withRules(tx, [row]))[0];
}

async function inUse(db: Q, groupId: string): Promise<boolean> {
  return !!(await db.selectFrom('port_security_groups').select('port_id').where('security_group_id', '=', groupId).executeTakeFirst());
}

/** Deletes a group: never while a port carries it, and the default group only by an admin. */
export async function deleteSecurityGroup(tx: Q, group: SecurityGroupTable, isAdmin: boolean): Promise<void> {
  if (await inUse(tx, group.id)) throw new NetworkingError('conflict', `Security Group ${group.id} in use.`, 'SecurityGroupInUse');
  if (!isAdmin && (await isDefaultGroup(tx, group.id))) {
    throw new NetworkingError('conflict', 'Insufficient rights for removing default security group.', 'SecurityGroupCannotRemoveDefault');
  }
  await tx.deleteFrom('security_groups').where('id', '=', group.id).execute();
}

// ---- rules ----

/** Rules are visible to the owner of their group and to the project that made them. */
export async function listSecurityGroupRules(db: Q, v: Viewer): Promise<SecurityGroupRuleTable[]> {
  let q = db.selectFrom('security_group_rules').selectAll('security_group_rules');
  if (!v.isAdmin) {
    q = q
      .innerJoin('security_groups', 'security_groups.id', 'security_group_rules.security_group_id')
      .where((eb) => eb.or([eb('security_groups.project_id', '=', v.projectId ?? ''), eb('security_group_rules.project_id', '=', v.projectId ?? '')]));
  }
  return q
    .orderBy('security_group_rules.created_at')
    .orderBy('security_group_rules.ethertype')
    .orderBy('security_group_rules.direction', 'desc')
    .orderBy('security_group_rules.id')
    .execute();
}

export async function findSecurityGroupRule(db: Q, v: Viewer, id: string): Promise<SecurityGroupRuleTable> {
  const row = await db.selectFrom('security_group_rules').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw securityGroupRuleNotFound(id);
  if (!v.isAdmin && row.project_id !== v.projectId) {
    const g = await db.selectFrom('security_groups').select('project_id').where('id', '=', row.security_group_id).executeTakeFirst();
    if (g?.project_id !== v.projectId) throw securityGroupRuleNotFound(id);
  }
  return row;
}

export interface RuleInput {
  security_group_id: string;
  direction: string;
  ethertype?: unknown;
  protocol?: unknown;
  port_range_min?: unknown;
  port_range_max?: unknown;
  remote_ip_prefix?: unknown;
  remote_group_id?: string | null;
  description?: string;
}

const invalidRule = (type: string, message: string) => new NetworkingError('invalid', message, type);

/** neutron's convert_protocol: a known name (any case) or a number 0-255, kept as text. */
function convertProtocol(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const text = String(value);
  if (/^-?\d+$/.test(text) && typeof value !== 'boolean') {
    const n = Number(text);
    if (n >= 0 && n <= 255) return text;
  } else if (typeof value === 'string' && value.toLowerCase() in PROTOCOLS) {
    return value.toLowerCase();
  }
  const names = ['None', ...Object.keys(PROTOCOLS).map((p) => `'${p}'`)].join(', ');
  throw invalidRule(
    'SecurityGroupRuleInvalidProtocol',
    `Security group rule protocol ${text} not supported. Only protocol values [${names}] and integer representations [0 to 255] are supported.`,
  );
}

function convertEthertype(value: unknown): 'IPv4' | 'IPv6' {
  if (value === undefined || value === null) return 'IPv4';
  const hit = typeof value === 'string' ? ETHERTYPES.find((e) => e.toLowerCase() === value.toLowerCase()) : undefined;
  if (!hit) {
    throw invalidRule('SecurityGroupRuleInvalidEtherType', `Security group rule for ethertype '${String(value)}' not supported. Allowed values are ['IPv4', 'IPv6'].`);
  }
  return hit;
}

function convertPort(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const text = String(value);
  if (/^\d+$/.test(text) && typeof value !== 'boolean' && Number(text) <= 65535) return Number(text);
  throw invalidRule('SecurityGroupInvalidPortValue', `Invalid value for port ${text}`);
}

/** remote_ip_prefix as Neutron keeps it (the mask added) and its normalized network. */
export function convertPrefix(value: unknown): { prefix: string; version: 4 | 6 } | null {
  if (value === null || value === undefined || value === '') return null;
  const text = String(value);
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  const bits = ip?.version === 4 ? 32 : 128;
  const len = slash < 0 ? bits : /^\d{1,3}$/.test(text.slice(slash + 1)) ? Number(text.slice(slash + 1)) : NaN;
  if (!ip || !(len >= 0 && len <= bits)) throw invalidRule('InvalidCIDR', `Invalid CIDR ${text} given as IP prefix.`);
  return { prefix: `${formatIp(ip)}/${len}`, version: ip.version };
}

export function normalizedCidr(prefix: string | null): string | null {
  if (!prefix) return null;
  const [addr, len] = prefix.split('/');
  return formatCidr(cidrOf(parseIp(addr)!, Number(len)));
}

function protocolNumber(protocol: string): number {
  return protocol in PROTOCOLS ? PROTOCOLS[protocol] : Number(protocol);
}

/** The key two rules share when they mean the same thing (neutron's _rule_to_key). */
function ruleKey(r: Pick<SecurityGroupRuleTable, 'direction' | 'ethertype' | 'protocol' | 'port_range_min' | 'port_range_max' | 'remote_group_id' | 'remote_ip_prefix'>): string {
  const prefix = r.remote_ip_prefix && !['0.0.0.0/0', '::/0'].includes(r.remote_ip_prefix) ? r.remote_ip_prefix : '+';
  const proto = r.protocol === null ? '+' : String(protocolNumber(r.protocol === 'icmpv6' ? 'ipv6-icmp' : r.protocol));
  return [r.direction, r.ethertype, r.port_range_max ?? '+', r.port_range_min ?? '+', proto, r.remote_group_id ?? '+', prefix].join('_');
}

/** Creates a rule with Neutron's conversions and checks, refusing a duplicate with 409. */
/** projectId null: the rule belongs to its group's project. */
export async function createSecurityGroupRule(tx: Q, now: string, v: Viewer, projectId: string | null, input: RuleInput): Promise<SecurityGroupRuleTable> {
  const ethertype = convertEthertype(input.ethertype);
  let protocol = convertProtocol(input.protocol);
  let min = convertPort(input.port_range_min);
  let max = convertPort(input.port_range_max);
  const prefix = convertPrefix(input.remote_ip_prefix);

  // Legacy IPv6 ICMP names and numbers become ipv6-icmp / 58.
  if (ethertype === 'IPv6' && protocol === 'icmp') protocol = 'ipv6-icmp';
  else if (ethertype === 'IPv6' && protocol === 'icmpv6') protocol = 'ipv6-icmp';
  else if (ethertype === 'IPv6' && protocol === '1') protocol = '58';
  // The whole port range is the same as no range.
  if (min === 1 && max === 65535) min = max = null;

  if (min !== null || max !== null) {
    if (!protocol) throw invalidRule('SecurityGroupProtocolRequiredWithPorts', 'Must also specify protocol if port range is given.');
    const num = protocolNumber(protocol);
    if (PORT_PROTOCOLS.includes(num)) {
      if (min === 0 || max === 0) throw invalidRule('SecurityGroupInvalidPortValue', 'Invalid value for port 0');
      if (min === null || max === null || min > max) {
        throw invalidRule('SecurityGroupInvalidPortRange', 'For TCP/UDP protocols, port_range_min must be <= port_range_max');
      }
    } else if (num === 1 || num === 58) {
      for (const [value, attr, field] of [
        [min, 'port_range_min', 'type'],
        [max, 'port_range_max', 'code'],
      ] as const) {
        if (value !== null && value > 255) {
          throw invalidRule('SecurityGroupInvalidIcmpValue', `Invalid value for ICMP ${field} (${attr}) ${value}. It must be 0 to 255.`);
        }
      }
      if (min === null && max !== null) {
        throw invalidRule('SecurityGroupMissingIcmpType', `ICMP code (port-range-max) ${max} is provided but ICMP type (port-range-min) is missing.`);
      }
    } else {
      throw invalidRule('SecurityGroupInvalidProtocolForPort', `Ports cannot be specified for protocol ${num}. Ports are only supported for DCCP, SCTP, TCP, UDP, UDPLITE.`);
    }
  }
  if (prefix && `IPv${prefix.version}` !== ethertype) {
    throw invalidRule('SecurityGroupRuleParameterConflict', `Conflicting value ethertype ${ethertype} for CIDR ${String(input.remote_ip_prefix)}`);
  }
  if (ethertype === 'IPv4' && protocol && IPV6_ONLY.includes(protocol)) {
    throw invalidRule('SecurityGroupEthertypeConflictWithProtocol', `Invalid ethertype ${ethertype} for protocol ${protocol}.`);
  }
  if (prefix && input.remote_group_id) {
    throw invalidRule('SecurityGroupMultipleRemoteEntites', 'Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided.');
  }
  if (input.remote_group_id) await findSecurityGroup(tx, v, input.remote_group_id);
  // The group's row is locked before its rules are read (on PostgreSQL; SQLite's transaction
  // runs alone), so of two identical rules at once the second sees the first: 409, not a twin.
  await tx.updateTable('security_groups').set((eb) => ({ revision_number: eb.ref('revision_number') })).where('id', '=', input.security_group_id).execute();
  const group = await findSecurityGroup(tx, v, input.security_group_id);
  await enforceNetworkQuota(tx, projectId ?? group.project_id, 'security_group_rule');

  const row = ruleRow(projectId ?? group.project_id, group.id, now, {
    direction: input.direction,
    ethertype,
    protocol,
    port_range_min: min,
    port_range_max: max,
    remote_ip_prefix: prefix?.prefix ?? null,
    remote_group_id: input.remote_group_id ?? null,
    description: input.description ?? '',
  });
  const key = ruleKey(row);
  const same = group.rules.find((r) => ruleKey(r) === key);
  if (same) throw new NetworkingError('conflict', `Security group rule already exists. Rule id is ${same.id}.`, 'SecurityGroupRuleExists');
  await tx.insertInto('security_group_rules').values(row).execute();
  await tx
    .updateTable('security_groups')
    .set((eb) => ({ revision_number: eb('revision_number', '+', 1), updated_at: now }))
    .where('id', '=', group.id)
    .execute();
  return row;
}

export async function deleteSecurityGroupRule(tx: Q, now: string, rule: SecurityGroupRuleTable): Promise<void> {
  await tx.deleteFrom('security_group_rules').where('id', '=', rule.id).execute();
  await tx
    .updateTable('security_groups')
    .set((eb) => ({ revision_number: eb('revision_number', '+', 1), updated_at: now }))
    .where('id', '=', rule.security_group_id)
    .execute();
}
