import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import type { SecurityGroupRuleTable } from '../../db/schema.js';
import type { AuthContext } from '../../identity/tokens.js';
import { NimbusError, forbidden, invalid, type ErrorKind } from '../../errors.js';
import { viewerOf } from '../network/access.js';
import { NetworkingError } from '../../network/errors.js';
import { Servers } from '../../compute/servers.js';
import {
  createSecurityGroup,
  createSecurityGroupRule,
  deleteSecurityGroup,
  deleteSecurityGroupRule,
  ensureDefaultSecurityGroup,
  findSecurityGroup,
  findSecurityGroupRule,
  listSecurityGroups,
  updateSecurityGroup,
  type SecurityGroupRecord,
} from '../../network/securityGroups.js';
import { resource } from '../http.js';
import { isUuidLike, lastValue, multiParams, noSuchRoute, onlyVersions, queryLists, validateQuery } from './wire.js';

/**
 * Nova's security group proxy (nova/api/openstack/compute/security_groups.py): the
 * os-security-groups and os-security-group-rules resources up to 2.35, and a server's
 * groups, in Nova's shapes and words over the Networking core, as Nova proxies Neutron with
 * the caller's own token (so Neutron's rules about whose group it is still hold).
 */
const LAST_PROXY_VERSION = '2.35';

const NON_NEGATIVE_INTEGER = { type: 'string', pattern: '^[0-9]+$' };
const INDEX_QUERY = {
  type: 'object',
  properties: { limit: multiParams(NON_NEGATIVE_INTEGER), offset: multiParams(NON_NEGATIVE_INTEGER), all_tenants: multiParams({ type: 'string' }) },
};

type Owner = { name: string; tenant_id: string };

/** Nova's rule: ports as Nova reads Neutron's (a whole-range TCP/UDP rule is 1-65535, other protocols -1). */
function novaRule(r: SecurityGroupRuleTable, owners: Map<string, Owner>) {
  let from: number | null = r.port_range_min;
  let to: number | null = r.port_range_max;
  if (r.protocol && from === null && to === null) [from, to] = ['tcp', 'udp'].includes(r.protocol.toLowerCase()) ? [1, 65535] : [-1, -1];
  return {
    id: r.id,
    parent_group_id: r.security_group_id,
    ip_protocol: r.protocol,
    from_port: from,
    to_port: to,
    group: r.remote_group_id ? owners.get(r.remote_group_id) : {},
    ip_range: r.remote_group_id ? {} : { cidr: r.remote_ip_prefix ?? '0.0.0.0/0' },
  };
}

function novaGroup(g: SecurityGroupRecord, owners: Map<string, Owner>) {
  return {
    id: g.id,
    description: g.description,
    name: g.name,
    tenant_id: g.project_id,
    // Nova shows ingress rules only, and drops one whose remote group it cannot read.
    rules: g.rules.filter((r) => r.direction === 'ingress' && (!r.remote_group_id || owners.has(r.remote_group_id))).map((r) => novaRule(r, owners)),
  };
}

const byTenantAndName = (a: { tenant_id: string; name: string }, b: { tenant_id: string; name: string }) =>
  a.tenant_id < b.tenant_id ? -1 : a.tenant_id > b.tenant_id ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/** A Neutron answer as Nova passes it on: Neutron's message, with the status Nova gives it in that call. */
function asNova(err: unknown, statuses: Partial<Record<ErrorKind, ErrorKind>>): unknown {
  if (!(err instanceof NetworkingError)) return err;
  return new NimbusError(statuses[err.kind] ?? err.kind, err.message);
}

/** Nova's _from_body. */
function fromBody(body: unknown, key: string): Record<string, unknown> {
  if (body === null || body === undefined || (typeof body === 'object' && !Object.keys(body).length)) throw invalid("The request body can't be empty");
  if (typeof body !== 'object' || Array.isArray(body)) throw invalid('Malformed request body');
  const value = Object.hasOwn(body, key) ? (body as Record<string, unknown>)[key] : undefined;
  if (value === undefined || value === null) throw invalid(`Missing parameter ${key}`);
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`Invalid input received: ${key} must be an object`);
  return value as Record<string, unknown>;
}

/** Nova's validate_property: a string of at most 255 characters. */
function checkProperty(value: unknown, property: string): string {
  if (typeof value !== 'string') throw invalid(`${property} is not a string or unicode`);
  if (value.length > 255) throw invalid(`${property} has ${value.length} characters, more than 255.`);
  return value;
}

function checkId(id: unknown): string {
  if (typeof id !== 'string' || !isUuidLike(id)) throw invalid('Security group id should be uuid');
  return id;
}

/** oslo's is_valid_cidr: an address with a prefix length. */
function parseCidr(cidr: unknown): string {
  if (cidr === undefined || cidr === null || cidr === '') return '0.0.0.0/0';
  const text = typeof cidr === 'string' ? decodeURIComponentSafe(cidr) : String(cidr);
  const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(text);
  const v4 = m && /^\d{1,3}(\.\d{1,3}){3}$/.test(m[1]) && m[1].split('.').every((o) => Number(o) <= 255) && Number(m[2]) <= 32;
  const v6 = m && m[1].includes(':') && /^[0-9a-fA-F:]+$/.test(m[1]) && Number(m[2]) <= 128;
  if (!v4 && !v6) throw invalid(`${text} is not a valid IP network.`);
  return text;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Python's int() of a port: whole numbers (or their strings); anything else is Nova's InvalidInput. */
function portNumber(value: unknown, icmp: boolean): number {
  const n = typeof value === 'number' ? Math.trunc(value) : typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : typeof value === 'boolean' ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw invalid(`Invalid input received: ${icmp ? 'Type and Code must be integers for ICMP protocol type' : 'To and From ports must be integers'}`);
  }
  return n;
}

interface NovaRule {
  protocol?: string;
  from_port?: number;
  to_port?: number;
  cidr?: string;
  group_id?: string;
}

/** Nova's _new_ingress_rule: null when a CIDR rule has no protocol and ports to go with it. */
function newIngressRule(raw: Record<string, unknown>, groupId: string | undefined): NovaRule | null {
  const values: NovaRule = {};
  let protocol = raw.ip_protocol;
  let from = raw.from_port ?? null;
  let to = raw.to_port ?? null;
  if (groupId) {
    values.group_id = groupId;
    const upper = typeof protocol === 'string' ? protocol.toUpperCase() : '';
    if (upper === 'ICMP' && from === null && to === null) [from, to] = [-1, -1];
    else if ((upper === 'TCP' || upper === 'UDP') && from === null && to === null) [from, to] = [1, 65535];
  } else {
    values.cidr = parseCidr(raw.cidr);
  }
  if (protocol && from !== null && to !== null) {
    protocol = String(protocol);
    const upper = (protocol as string).toUpperCase();
    const f = portNumber(from, upper === 'ICMP');
    const t = portNumber(to, upper === 'ICMP');
    if (!['TCP', 'UDP', 'ICMP'].includes(upper)) throw invalid(`Invalid IP protocol ${protocol}.`);
    const range = (msg: string) => invalid(`Invalid port range ${f}:${t}. ${msg}`);
    if ((upper === 'TCP' || upper === 'UDP') && f > t) throw range('Former value cannot be greater than the later');
    if ((upper === 'TCP' || upper === 'UDP') && (f < 1 || t > 65535)) throw range(`Valid ${upper} ports should be between 1-65535`);
    if (upper === 'ICMP' && (f < -1 || f > 255 || t < -1 || t > 255)) throw range('For ICMP, the type:code must be valid');
    Object.assign(values, { protocol: protocol as string, from_port: f, to_port: t });
  } else if (!groupId) {
    return null;
  }
  return values;
}

/** Nova's _rule_exists: the new rule is one of the group's as Nova reads them (its CIDR is 0.0.0.0/0 when none). */
function ruleExists(parent: SecurityGroupRecord, wanted: NovaRule): boolean {
  return parent.rules.some((r) => {
    if (r.direction !== 'ingress') return false;
    const nova = novaRule(r, new Map());
    const same = <T>(a: T | null | undefined, b: T | null | undefined) => (a ?? null) === (b ?? null);
    return (
      same(r.remote_group_id, wanted.group_id) &&
      same(r.remote_ip_prefix ?? '0.0.0.0/0', wanted.cidr) &&
      same(nova.from_port, wanted.from_port) &&
      same(nova.to_port, wanted.to_port) &&
      same(r.protocol, wanted.protocol)
    );
  });
}

export function securityGroupProxyRoutes(app: FastifyInstance, services: Services): void {
  const servers = new Servers(services);
  const authorize = (ctx: AuthContext, action: string, projectId: string | null = ctx.projectId) =>
    services.policy.authorize(ctx, `os_compute_api:os-security-groups:${action}`, projectId);
  const idOf = (request: FastifyRequest) => {
    const { id } = request.params as { id: string };
    // `/os-security-groups/` names no group: Nova's router has no such route.
    if (id === '') throw noSuchRoute();
    return id;
  };

  /** The groups' names and owners that rules refer to: those the caller can read. */
  async function ownersOf(groups: SecurityGroupRecord[], ctx: AuthContext): Promise<Map<string, Owner>> {
    const wanted = [...new Set(groups.flatMap((g) => g.rules.map((r) => r.remote_group_id).filter((id): id is string => !!id)))];
    const owners = new Map<string, Owner>(groups.map((g) => [g.id, { name: g.name, tenant_id: g.project_id }]));
    const missing = wanted.filter((id) => !owners.has(id));
    if (missing.length) {
      let q = services.db.selectFrom('security_groups').select(['id', 'name', 'project_id']).where('id', 'in', missing);
      if (!ctx.isAdmin) q = q.where('project_id', '=', ctx.projectId ?? '');
      for (const g of await q.execute()) owners.set(g.id, { name: g.name, tenant_id: g.project_id });
    }
    return owners;
  }

  const show = async (ctx: AuthContext, id: string) => {
    const group = await findSecurityGroup(services.db, viewerOf(ctx), checkId(id)).catch((err) => Promise.reject(asNova(err, {})));
    return novaGroup(group, await ownersOf([group], ctx));
  };

  resource(app, '/os-security-groups', {
    GET: async (request) => {
      onlyVersions(request, null, LAST_PROXY_VERSION);
      const ctx = request.auth;
      authorize(ctx, 'get');
      const q = validateQuery(INDEX_QUERY, queryLists(request));
      const all = ctx.isAdmin && q.all_tenants !== undefined;
      const groups = await services.network.transaction(async (tx, now) => {
        if (ctx.projectId) await ensureDefaultSecurityGroup(tx, now, ctx.projectId);
        return listSecurityGroups(tx, { isAdmin: all, projectId: ctx.projectId });
      });
      const offset = Number(lastValue(q, 'offset') ?? 0);
      const limit = Math.min(Number(lastValue(q, 'limit') ?? 1000) || 1000, 1000);
      const page = groups.slice(offset, offset + limit);
      const owners = await ownersOf(page, ctx);
      return { security_groups: page.map((g) => novaGroup(g, owners)).sort(byTenantAndName) };
    },
    POST: async (request) => {
      onlyVersions(request, null, LAST_PROXY_VERSION);
      const ctx = request.auth;
      authorize(ctx, 'create');
      const body = fromBody(request.body, 'security_group');
      const name = checkProperty(body.name, 'name');
      const description = checkProperty(body.description, 'description');
      const group = await services.network
        .transaction(async (tx, now) => {
          // Neutron's refusals here (the name `default`, the quota) are 409s, which Nova calls a limit exceeded.
          if (name.toLowerCase() === 'default') throw forbidden('Default security group already exists.');
          return createSecurityGroup(tx, now, ctx.projectId ?? '', { name, description, stateful: true });
        })
        .catch((err) => Promise.reject(asNova(err, { conflict: 'forbidden' })));
      return { security_group: novaGroup(group, new Map()) };
    },
  });

  resource(app, '/os-security-groups/:id', {
    GET: async (request) => {
      onlyVersions(request, null, LAST_PROXY_VERSION);
      authorize(request.auth, 'show');
      return { security_group: await show(request.auth, idOf(request)) };
    },
    PUT: async (request) => {
      onlyVersions(request, null, LAST_PROXY_VERSION);
      const ctx = request.auth;
      authorize(ctx, 'update');
      const id = checkId(idOf(request));
      const updated = await services.network
        .transaction(async (tx, now) => {
          const group = await findSecurityGroup(tx, viewerOf(ctx), id);
          const body = fromBody(request.body, 'security_group');
          const name = checkProperty(body.name ?? null, 'name');
          const description = checkProperty(body.description ?? null, 'description');
          return updateSecurityGroup(tx, now, group, { name, description });
        })
        .catch((err) => Promise.reject(asNova(err, {})));
      return { security_group: novaGroup(updated, await ownersOf([updated], ctx)) };
    },
    DELETE: async (request, reply) => {
      onlyVersions(request, null, LAST_PROXY_VERSION);
      const ctx = request.auth;
      authorize(ctx, 'delete');
      const id = checkId(idOf(request));
      await services.network
        .transaction(async (tx) => deleteSecurityGroup(tx, await findSecurityGroup(tx, viewerOf(ctx), id), ctx.isAdmin))
        // A group in use, or the default one: Neutron's 409 is Nova's 400.
        .catch((err) => Promise.reject(asNova(err, { conflict: 'invalid' })));
      return reply.code(202).send();
    },
  });

  resource(app, '/os-security-group-rules', {
    POST: async (request) => {
      onlyVersions(request, null, LAST_PROXY_VERSION);
      const ctx = request.auth;
      authorize(ctx, 'rule:create');
      const body = fromBody(request.body, 'security_group_rule');
      const rule = await services.network
        .transaction(async (tx, now) => {
          const parent = await findSecurityGroup(tx, viewerOf(ctx), checkId(body.parent_group_id));
          const groupId = body.group_id === undefined || body.group_id === null ? undefined : checkId(body.group_id);
          if (groupId) await findSecurityGroup(tx, viewerOf(ctx), groupId);
          const wanted = newIngressRule(body, groupId);
          if (!wanted) throw invalid('Not enough parameters to build a valid rule.');
          if (wanted.cidr) {
            const [net, len] = wanted.cidr.split('/');
            if (!['0.0.0.0', '::'].includes(net) && len === '0') throw invalid(`Bad prefix for network in cidr ${wanted.cidr}`);
          }
          if (ruleExists(parent, wanted)) throw invalid(`This rule already exists in group ${parent.id}`);
          const v6 = wanted.cidr?.includes(':');
          return createSecurityGroupRule(tx, now, viewerOf(ctx), null, {
            security_group_id: parent.id,
            direction: 'ingress',
            ethertype: v6 ? 'IPv6' : 'IPv4',
            protocol: wanted.protocol ?? null,
            port_range_min: wanted.from_port === undefined || wanted.from_port === -1 ? null : wanted.from_port,
            port_range_max: wanted.to_port === undefined || wanted.to_port === -1 ? null : wanted.to_port,
            remote_ip_prefix: wanted.cidr ?? null,
            remote_group_id: wanted.group_id ?? null,
          });
        })
        .catch((err) => Promise.reject(asNova(err, { conflict: 'forbidden' })));
      const owners = await ownersOf([{ rules: [rule] } as SecurityGroupRecord], ctx);
      return { security_group_rule: novaRule(rule, owners) };
    },
  });

  resource(app, '/os-security-group-rules/:id', {
    DELETE: async (request, reply) => {
      onlyVersions(request, null, LAST_PROXY_VERSION);
      const ctx = request.auth;
      authorize(ctx, 'rule:delete');
      const id = checkId(idOf(request));
      await services.network
        .transaction(async (tx, now) => deleteSecurityGroupRule(tx, now, await findSecurityGroupRule(tx, viewerOf(ctx), id)))
        .catch((err) => Promise.reject(asNova(err, {})));
      return reply.code(202).send();
    },
  });

  resource(app, '/servers/:id/os-security-groups', {
    GET: async (request) => {
      const ctx = request.auth;
      const server = await servers.get(ctx, idOf(request));
      authorize(ctx, 'list', server.project_id);
      const ids = await services.network.serverSecurityGroupIds(services.db, { id: server.id, projectId: server.project_id });
      const groups = await Promise.all(ids.map((id) => findSecurityGroup(services.db, viewerOf(ctx), id)));
      const owners = await ownersOf(groups, ctx);
      return { security_groups: groups.map((g) => novaGroup(g, owners)).sort(byTenantAndName) };
    },
  });
}
