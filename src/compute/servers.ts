import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Services } from '../services.js';
import { INSERT_BATCH, QUERY_TIMEOUT_MS, isPostgres, prepared, type Tx } from '../db/database.js';
import { sql, type Compilable, type Expression, type ExpressionBuilder, type Selectable, type SelectQueryBuilder, type SqlBool } from 'kysely';
import type { Schema, ServerTable } from '../db/schema.js';
import type { AuthContext } from '../identity/tokens.js';
import { NimbusError, conflict, invalid, notFound } from '../errors.js';
import { generatePassword } from '../identity/passwords.js';
import { enqueue, enqueueAll } from '../tasks/runner.js';
import { PowerState, TaskState, VmState, statesForStatus } from './states.js';
import { startAction, startActions } from './actions.js';
import { createWithinQuota, enforce, fitInstances, lockQuotas } from './quotas.js';
import type { Flavor } from './flavors.js';
import { findKeypair } from './keypairs.js';
import { prefixPattern, searchPattern, type SearchPattern } from './search-patterns.js';
import { postgresSuperset } from './postgres-patterns.js';
import type { DriveAttachment, Recurse } from '../storage/drives.js';

export type Server = ServerTable;
/** A row as read, with the version the database keeps (migration 016). */
export type ServerRow = Selectable<Schema['servers']>;

/** The flavor as the server keeps it (Nova embeds this copy from 2.47). */
export interface ServerFlavor {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
  ephemeral: number;
  swap: number;
  extra_specs: Record<string, string>;
}

export interface Fault {
  code: number;
  message: string;
  details: string;
  created: string;
}

/** A server defined without being started (CloudSigma's create), in the core's terms. */
export interface DefineServer {
  name: string;
  flavor: ServerFlavor;
  metadata: Record<string, string>;
  tags: string[];
  /** What the face keeps that the core has no column for (servers.cloudsigma), or null. */
  extension: Record<string, unknown> | null;
  /** Drives to attach (src/storage's rules: the caller's, free unless multimount, one a channel). */
  drives?: DriveAttachment[];
  /** A server clone: this server's disks are cloned (and its cdroms attached) to the new one, under a job. */
  cloneDrivesFrom?: string;
}

/** A create request in the core's terms; each API dialect maps its own body onto it. */
export interface CreateServer {
  name: string;
  hostname?: string;
  description?: string | null;
  flavorId: string;
  imageId: string;
  metadata: Record<string, string>;
  accessIPv4?: string;
  accessIPv6?: string;
  adminPass?: string;
  userData?: string | null;
  availabilityZone?: string | null;
  keyName?: string | null;
  configDrive: boolean;
  diskConfig: 'MANUAL' | 'AUTO';
  securityGroups: string[];
  /** 'auto' and 'none' (2.37+), or the networks and ports asked for; empty: none named (before 2.37). */
  networks: 'auto' | 'none' | { uuid?: string; port?: string; fixedIp?: string }[];
  files: { path: string; contents: string }[];
  hints: { group?: string; sameHost?: string[]; differentHost?: string[] };
  tags: string[];
  minCount: number;
  maxCount: number;
  /** 2.74: an admin's requested host (hypervisor_hostname is the same on our drivers). */
  host?: string;
  /** Boot from a volume made from imageId: the server shows no image and one attached volume. */
  bootVolume?: { deleteOnTermination: boolean };
}

export interface ListQuery {
  allTenants: boolean;
  projectId?: string;
  userId?: string;
  name?: string;
  status?: string;
  image?: string;
  flavor?: string;
  host?: string;
  changesSince?: string;
  changesBefore?: string;
  reservationId?: string;
  deleted?: boolean;
  ip?: string;
  ip6?: string;
  tags?: string[];
  tagsAny?: string[];
  notTags?: string[];
  notTagsAny?: string[];
  locked?: boolean;
  availabilityZone?: string;
  sort: { key: string; dir: 'asc' | 'desc' }[];
  limit?: number;
  marker?: string;
}

/**
 * The most servers one create request makes. Nova has no such bound, but its default
 * instances quota (10) keeps a multi-create small; a project with a large or unlimited
 * quota could otherwise ask for millions of rows in one transaction. 1,000 is far above
 * what tools ask for in one request (Tempest, Heat and Terraform create a few at a time),
 * the same bound Nova puts on a page of a list (osapi_max_limit), and is written in a few
 * multi-row statements: 0.2 s of SQLite's (synchronous) time, 0.6-0.8 s of PostgreSQL
 * transaction, on a 2-core machine at load 14.
 * A larger max_count is reduced to it, as Nova reduces max_count to what the networks allow;
 * a larger min_count is refused.
 */
export const MAX_SERVERS_PER_REQUEST = 1000;

const hostIds = new Map<string, string>();

/** hostId: the host hidden per project, as Nova computes it (remembered: a list hashes it per server). */
export function hostIdOf(projectId: string, host: string | null): string {
  if (!host) return '';
  const key = projectId + host;
  let id = hostIds.get(key);
  if (id === undefined) {
    if (hostIds.size >= 10_000) hostIds.clear();
    hostIds.set(key, (id = createHash('sha224').update(key).digest('hex')));
  }
  return id;
}

/** nova.utils.sanitize_hostname */
export function sanitizeHostname(name: string, fallback: string): string {
  let h = name.toLowerCase().replace(/[ _]/g, '-').replace(/[^\w.-]+/g, '');
  h = h.slice(0, 63).replace(/^[.-]+|[.-]+$/g, '');
  return h || fallback;
}

/** The flavor as a server keeps it. */
export function serverFlavor(f: Flavor): ServerFlavor {
  return { id: f.id, name: f.name, vcpus: f.vcpus, ram: f.ram, disk: f.disk, ephemeral: f.ephemeral, swap: f.swap, extra_specs: f.extraSpecs };
}

export const parseJson = <T>(text: string | null, fallback: T): T => (text ? (JSON.parse(text) as T) : fallback);

/**
 * The live server row, locked until the transaction ends on PostgreSQL (SQLite's
 * transactions run alone): a read-modify-write of its JSON columns (metadata) or of rows
 * that hang from it (tags) then sees every change committed before it, and the next one
 * sees this one's.
 */
export function lockedServer(tx: Tx, id: string): Promise<Server | undefined> {
  return tx
    .selectFrom('servers')
    .selectAll()
    .where('id', '=', id)
    .where('deleted', '=', 0)
    .$if(isPostgres(tx), (q) => q.forUpdate())
    .executeTakeFirst();
}

/**
 * The servers of the core: every API dialect creates, reads, changes and deletes servers
 * through here. Each mutation checks state, writes the server and its task in one
 * transaction and returns at once; the task runner does the work.
 */
export class Servers {
  private readonly findOwn;
  private readonly findAny;
  private readonly tagsOf;

  constructor(private readonly s: Services) {
    const db = s.db;
    const find = (id: string) => db.selectFrom('servers').select(['id', 'version', 'host', 'project_id']).where('id', '=', id).where('deleted', '=', 0);
    this.findOwn = prepared(db, (id: string, projectId: string) => find(id).where('project_id', '=', projectId));
    this.findAny = prepared(db, (id: string) => find(id));
    this.tagsOf = prepared(db, (id: string) => db.selectFrom('server_tags').select('tag').where('server_id', '=', id).orderBy('tag'));
  }

  /** As `get`, with only what a show needs to find its rendering (views/servers.ts). */
  async find(ctx: AuthContext, id: string): Promise<Pick<ServerRow, 'id' | 'version' | 'host' | 'project_id'>> {
    const [server] = ctx.isAdmin ? await this.findAny(id) : await this.findOwn(id, ctx.projectId ?? '');
    if (!server) throw notFound(`Instance ${id} could not be found.`);
    return server;
  }

  /** One server's tags, in order. */
  async tagsOfServer(id: string): Promise<string[]> {
    return (await this.tagsOf(id)).map((r) => r.tag);
  }

  /** The servers a caller may see: an admin every project's, anyone else their project's. */
  private visible(ctx: AuthContext) {
    const q = this.s.db.selectFrom('servers');
    return ctx.isAdmin ? q : q.where('project_id', '=', ctx.projectId ?? '');
  }

  /** The caller's server, or 404 — another project's server does not exist for it. */
  async get(ctx: AuthContext, id: string, opts: { includeDeleted?: boolean } = {}): Promise<Server> {
    let q = this.visible(ctx).selectAll().where('id', '=', id);
    if (!opts.includeDeleted) q = q.where('deleted', '=', 0);
    const server = await q.executeTakeFirst();
    if (!server) throw notFound(`Instance ${id} could not be found.`);
    return server;
  }

  /** Of these server ids, the ones the caller may see (live servers only). */
  private async visibleIds(ctx: AuthContext, ids: string[] | undefined): Promise<string[] | undefined> {
    if (!ids?.length) return ids;
    const rows = await this.visible(ctx).select('id').where('id', 'in', ids).where('deleted', '=', 0).execute();
    const seen = new Set(rows.map((r) => r.id));
    return ids.filter((id) => seen.has(id));
  }

  /** Rows by id (no access check: for ids a list or get already allowed), in no order. */
  async rows<K extends keyof ServerRow>(ids: string[], columns: readonly K[]): Promise<Pick<ServerRow, K>[]> {
    const out: Pick<ServerRow, K>[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      out.push(...((await this.s.db.selectFrom('servers').select(columns as readonly 'id'[]).where('id', 'in', ids.slice(i, i + 500)).execute()) as unknown as Pick<ServerRow, K>[]));
    }
    return out;
  }

  async tags(serverIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (serverIds.length === 0) return out;
    for (let i = 0; i < serverIds.length; i += 500) {
      const rows = await this.s.db.selectFrom('server_tags').select(['server_id', 'tag']).where('server_id', 'in', serverIds.slice(i, i + 500)).orderBy('tag').execute();
      for (const r of rows) out.set(r.server_id, [...(out.get(r.server_id) ?? []), r.tag]);
    }
    return out;
  }

  async create(ctx: AuthContext, req: CreateServer, requestId: string): Promise<{ servers: Server[]; adminPass: string; reservationId: string }> {
    const { db, clock } = this.s;
    const projectId = ctx.projectId!;
    if (req.minCount > MAX_SERVERS_PER_REQUEST) {
      throw invalid(`Invalid input for field/attribute min_count. Value: ${req.minCount}. ${req.minCount} is greater than the maximum of ${MAX_SERVERS_PER_REQUEST}`);
    }
    // Every id the caller names is looked up as the caller sees it: what they may not see
    // does not exist for them (Nova's 400s for an unknown flavor, image or key).
    const visibleFlavor = await this.s.flavors.find(ctx, req.flavorId);
    if (!visibleFlavor) throw invalid(`Flavor ${req.flavorId} could not be found.`);
    if (visibleFlavor.disabled) throw invalid(`Flavor is disabled.`);
    const flavor = serverFlavor(visibleFlavor);

    const image = await this.s.images.visible(req.imageId, ctx);
    if (!image) throw invalid('Can not find requested image');
    if (image.status !== 'active') throw invalid(`Image ${req.imageId} is not active.`);
    if (image.minRam > flavor.ram) throw invalid(`Flavor's memory is too small for requested image.`);
    if (image.minDisk > flavor.disk && flavor.disk > 0) throw invalid(`Flavor's disk is too small for requested image.`);
    if ((image.size ?? 0) > flavor.disk * 1024 ** 3 && flavor.disk > 0) throw invalid(`Flavor's disk is too small for requested image.`);

    let keypair: { name: string; public_key: string } | null = null;
    if (req.keyName) {
      keypair = (await findKeypair(db, ctx.userId, req.keyName)) ?? null;
      if (!keypair) throw invalid('Invalid key_name provided.');
    }
    // Scheduler hints count only the servers the caller may see, as if the others did not exist.
    const hints = { ...req.hints, sameHost: await this.visibleIds(ctx, req.hints.sameHost), differentHost: await this.visibleIds(ctx, req.hints.differentHost) };
    if (Array.isArray(req.networks) && req.maxCount > 1 && req.networks.some((n) => n.port)) {
      throw invalid('Unable to launch multiple instances with a single configured port ID. Please launch your instance one by one with different ports.');
    }
    await this.s.network.validateForServer(db, { projectId, requested: req.networks, securityGroups: req.securityGroups, isAdmin: ctx.isAdmin });
    const zone = req.availabilityZone ?? null;
    let forcedHost: string | null = null;
    let zoneName = zone;
    if (zone) {
      // "zone:host" lets an admin pin a host, as in Nova.
      const [z, h] = zone.split(':');
      zoneName = z || null;
      if (h) {
        if (!ctx.isAdmin) throw new NimbusError('forbidden', `Policy doesn't allow os_compute_api:servers:create:forced_host to be performed.`);
        forcedHost = h;
      }
      if (zoneName && !(await db.selectFrom('hosts').select('id').where('availability_zone', '=', zoneName).executeTakeFirst())) {
        throw invalid(`The requested availability zone is not available`);
      }
    }

    if (req.host !== undefined) {
      if (!ctx.isAdmin) throw new NimbusError('forbidden', `Policy doesn't allow compute:servers:create:requested_destination to be performed.`);
      if (!(await db.selectFrom('hosts').select('id').where('name', '=', req.host).executeTakeFirst())) throw invalid(`Compute host ${req.host} could not be found.`);
      forcedHost = req.host;
    }
    const adminPass = req.adminPass ?? generatePassword(12);
    const reservationId = 'r-' + randomBytes(4).toString('hex');
    const now = clock.now().toISOString();
    const write = async (tx: Tx): Promise<Server[]> => {
      const servers: Server[] = [];
      const count = await this.enforceQuota(tx, ctx, req, flavor);
      const volumeIds = Array.from({ length: count }, () => randomUUID());
      for (let i = 0; i < count; i++) {
        const id = randomUUID();
        const name = count > 1 ? `${req.name}-${i + 1}` : req.name;
        const server: Server = {
          id,
          project_id: projectId,
          user_id: ctx.userId,
          name,
          hostname: req.hostname ? (count > 1 ? `${req.hostname}-${i + 1}` : req.hostname) : sanitizeHostname(name, `server-${id}`),
          description: req.description ?? null,
          vm_state: VmState.BUILDING,
          task_state: TaskState.SCHEDULING,
          power_state: PowerState.NOSTATE,
          progress: 0,
          flavor_id: flavor.id,
          flavor: JSON.stringify(flavor),
          vcpus: flavor.vcpus,
          memory_mb: flavor.ram,
          disk_gb: flavor.disk + flavor.ephemeral,
          image_id: req.bootVolume ? '' : req.imageId,
          host: null,
          availability_zone: null,
          key_name: keypair?.name ?? null,
          key_data: keypair?.public_key ?? null,
          user_data: req.userData ?? null,
          config_drive: req.configDrive ? 'True' : '',
          access_ipv4: req.accessIPv4 ?? '',
          access_ipv6: req.accessIPv6 ?? '',
          disk_config: req.diskConfig,
          locked: 0,
          locked_by: null,
          locked_reason: null,
          metadata: JSON.stringify(req.metadata),
          security_groups: JSON.stringify(req.securityGroups.length ? req.securityGroups : ['default']),
          addresses: '{}',
          fault: null,
          reservation_id: reservationId,
          launch_index: i,
          request_spec: JSON.stringify({
            zone: zoneName,
            forcedHost,
            hints,
            networks: req.networks,
            securityGroups: req.securityGroups,
            isAdmin: ctx.isAdmin,
            files: req.files.map((f) => f.path),
            ...(req.bootVolume ? { bootImage: req.imageId, volumes: [{ id: volumeIds[i], delete_on_termination: req.bootVolume.deleteOnTermination }] } : {}),
          }),
          created_at: now,
          updated_at: now,
          launched_at: null,
          terminated_at: null,
          deleted_at: null,
          deleted: 0,
          cloudsigma: null,
        };
        servers.push(server);
      }
      // A few multi-row statements however many servers: the transaction (and, on SQLite,
      // the event loop) is held for milliseconds, not one round trip per row.
      for (let i = 0; i < servers.length; i += INSERT_BATCH) await tx.insertInto('servers').values(servers.slice(i, i + INSERT_BATCH)).execute();
      const tags = servers.flatMap((x) => [...new Set(req.tags)].map((tag) => ({ server_id: x.id, tag })));
      for (let i = 0; i < tags.length; i += INSERT_BATCH) await tx.insertInto('server_tags').values(tags.slice(i, i + INSERT_BATCH)).execute();
      // Each server's disk is a drive: the image-booted root disk, or the boot volume.
      const diskBytes = flavor.disk > 0 ? flavor.disk * 1024 ** 3 : Math.max(image.virtualSize ?? 0, image.size ?? 0);
      await this.s.drives.createForServers(
        tx,
        servers.map((x, i) => ({
          id: x.id,
          projectId,
          userId: ctx.userId,
          name: x.name,
          imageId: req.imageId,
          sizeBytes: diskBytes,
          ...(req.bootVolume ? { volume: { id: volumeIds[i], deleteOnTermination: req.bootVolume.deleteOnTermination } } : {}),
        })),
      );
      const actionIds = await startActions(tx, servers.map((x) => ({ serverId: x.id, action: 'create', requestId, projectId, userId: ctx.userId, now })));
      await enqueueAll(
        tx,
        clock,
        servers.map((x, i) => ({ serverId: x.id, kind: 'build', step: TaskState.SCHEDULING, actionId: actionIds[i], params: { files: req.files, adminPass: null } })),
      );
      return servers;
    };
    const joinGroup = async (tx: Tx, servers: Server[]) => {
      if (req.hints.group) await this.s.serverGroups.join(tx, ctx, req.hints.group, servers.map((x) => x.id));
    };
    const servers = await createWithinQuota(db, projectId, ctx.userId, write, joinGroup);
    this.s.runner.kick();
    return { servers, adminPass, reservationId };
  }

  /**
   * Defines servers without starting them (CloudSigma's create): each is stopped, on no
   * host, with no image (it boots from its drives), until a start places it. All or
   * nothing: every server is checked and written in one transaction, within the quotas.
   */
  async define(ctx: AuthContext, defs: DefineServer[], requestId: string): Promise<Server[]> {
    const { db, clock } = this.s;
    const projectId = ctx.projectId!;
    if (defs.length > MAX_SERVERS_PER_REQUEST) throw invalid(`At most ${MAX_SERVERS_PER_REQUEST} servers per request`, 'objects');
    const now = clock.now().toISOString();
    const servers: Server[] = defs.map((d) => {
      const id = randomUUID();
      return {
        id,
        project_id: projectId,
        user_id: ctx.userId,
        name: d.name,
        hostname: sanitizeHostname(d.name, `server-${id}`),
        description: null,
        vm_state: VmState.STOPPED,
        task_state: null,
        power_state: PowerState.SHUTDOWN,
        progress: 0,
        flavor_id: d.flavor.id,
        flavor: JSON.stringify(d.flavor),
        vcpus: d.flavor.vcpus,
        memory_mb: d.flavor.ram,
        disk_gb: d.flavor.disk + d.flavor.ephemeral,
        image_id: '',
        host: null,
        availability_zone: null,
        key_name: null,
        key_data: null,
        user_data: null,
        config_drive: '',
        access_ipv4: '',
        access_ipv6: '',
        disk_config: 'MANUAL',
        locked: 0,
        locked_by: null,
        locked_reason: null,
        metadata: JSON.stringify(d.metadata),
        security_groups: JSON.stringify(['default']),
        addresses: '{}',
        fault: null,
        reservation_id: 'r-' + randomBytes(4).toString('hex'),
        launch_index: 0,
        request_spec: JSON.stringify({ zone: null, forcedHost: null, hints: {}, networks: 'none', securityGroups: [], isAdmin: ctx.isAdmin, files: [] }),
        created_at: now,
        updated_at: now,
        launched_at: null,
        terminated_at: null,
        deleted_at: null,
        deleted: 0,
        cloudsigma: d.extension === null ? null : JSON.stringify(d.extension),
      };
    });
    await db.transaction().execute(async (tx) => {
      const sum = (f: (d: DefineServer) => number) => defs.reduce((n, d) => n + f(d), 0);
      // The whole request against the quotas at once: a bulk create that does not fit is refused whole.
      await enforce(tx, projectId, ctx.userId, {
        metadata_items: Math.max(0, ...defs.map((d) => Object.keys(d.metadata).length)),
        instances: defs.length,
        cores: sum((d) => d.flavor.vcpus),
        ram: sum((d) => d.flavor.ram),
      });
      for (let i = 0; i < servers.length; i += INSERT_BATCH) await tx.insertInto('servers').values(servers.slice(i, i + INSERT_BATCH)).execute();
      const tags = servers.flatMap((x, i) => [...new Set(defs[i].tags)].map((tag) => ({ server_id: x.id, tag })));
      for (let i = 0; i < tags.length; i += INSERT_BATCH) await tx.insertInto('server_tags').values(tags.slice(i, i + INSERT_BATCH)).execute();
      for (const [i, d] of defs.entries()) {
        if (d.drives?.length) await this.s.drives.setServerDrives(tx, ctx, servers[i].id, d.drives);
        if (d.cloneDrivesFrom) await this.s.drives.cloneServerDrives(tx, ctx, d.cloneDrivesFrom, servers[i].id);
      }
      await startActions(tx, servers.map((x) => ({ serverId: x.id, action: 'create', requestId, projectId, userId: ctx.userId, now })));
    });
    this.s.runner.kick();
    return servers;
  }

  /**
   * Changes a server's definition. Name, metadata and tags change in any state; the size
   * (flavor) and the face's extension only while the server is stopped and idle — on a
   * running server they are ignored, as CloudSigma's edit rule has it (Nova resizes instead).
   */
  async redefine(ctx: AuthContext, id: string, patch: { name?: string; metadata?: Record<string, string>; tags?: string[]; flavor?: ServerFlavor; extension?: Record<string, unknown>; drives?: DriveAttachment[] }): Promise<void> {
    const now = this.s.clock.now().toISOString();
    await this.s.db.transaction().execute(async (tx) => {
      if (patch.flavor) {
        // The quota lock before the server's row, the order of every transaction that takes
        // both (a clone holds the lock, then its job row touches the source server's row).
        const owner = await tx.selectFrom('servers').select('project_id').where('id', '=', id).executeTakeFirst();
        if (owner) await lockQuotas(tx, owner.project_id);
      }
      const server = await lockedServer(tx, id);
      if (!server || (!ctx.isAdmin && server.project_id !== ctx.projectId)) throw notFound(`Instance ${id} could not be found.`);
      if (server.locked && !ctx.isAdmin) throw conflict(`Instance ${id} is locked`);
      const values: Partial<Server> = { updated_at: now };
      if (patch.name !== undefined) values.name = patch.name;
      if (patch.metadata !== undefined) {
        await enforce(tx, server.project_id, ctx.userId, { metadata_items: Object.keys(patch.metadata).length });
        values.metadata = JSON.stringify(patch.metadata);
      }
      const definable = server.vm_state === VmState.STOPPED && server.task_state === null;
      if (definable && patch.flavor) {
        const old = parseJson<ServerFlavor>(server.flavor, {} as ServerFlavor);
        const grow = { vcpus: Math.max(0, patch.flavor.vcpus - old.vcpus), ram: Math.max(0, patch.flavor.ram - old.ram) };
        if (grow.vcpus || grow.ram) await enforce(tx, server.project_id, ctx.userId, { cores: grow.vcpus, ram: grow.ram });
        Object.assign(values, { flavor: JSON.stringify(patch.flavor), flavor_id: patch.flavor.id, vcpus: patch.flavor.vcpus, memory_mb: patch.flavor.ram, disk_gb: patch.flavor.disk + patch.flavor.ephemeral });
      }
      if (definable && patch.extension) values.cloudsigma = JSON.stringify(patch.extension);
      await tx.updateTable('servers').set(values).where('id', '=', id).execute();
      if (definable && patch.drives) await this.s.drives.setServerDrives(tx, ctx, id, patch.drives);
      if (patch.tags !== undefined) {
        await tx.deleteFrom('server_tags').where('server_id', '=', id).execute();
        const rows = [...new Set(patch.tags)].map((tag) => ({ server_id: id, tag }));
        if (rows.length) await tx.insertInto('server_tags').values(rows).execute();
      }
    });
  }

  /**
   * Checks the per-request limits and the instance quotas; like Nova, a multi-create gets
   * as many servers as fit between min_count and max_count (and never more than
   * MAX_SERVERS_PER_REQUEST). Returns how many to build.
   */
  private async enforceQuota(tx: Tx, ctx: AuthContext, req: CreateServer, flavor: ServerFlavor): Promise<number> {
    const projectId = ctx.projectId!;
    const fileBytes = (f: { contents: string }) => Buffer.from(f.contents, 'base64').length;
    await enforce(tx, projectId, ctx.userId, {
      metadata_items: Object.keys(req.metadata).length,
      ...(req.files.length
        ? {
            injected_files: req.files.length,
            injected_file_path_bytes: Math.max(...req.files.map((f) => Buffer.byteLength(f.path))),
            injected_file_content_bytes: Math.max(...req.files.map(fileBytes)),
          }
        : {}),
    });
    return fitInstances(tx, projectId, ctx.userId, { vcpus: flavor.vcpus, ram: flavor.ram }, req.minCount, req.maxCount, MAX_SERVERS_PER_REQUEST);
  }

  async update(ctx: AuthContext, id: string, patch: { name?: string; description?: string | null; accessIPv4?: string; accessIPv6?: string; diskConfig?: string; hostname?: string }): Promise<Server> {
    const server = await this.get(ctx, id);
    const values: Partial<Server> = { updated_at: this.s.clock.now().toISOString() };
    if (patch.name !== undefined) values.name = patch.name;
    if (patch.description !== undefined) values.description = patch.description;
    if (patch.accessIPv4 !== undefined) values.access_ipv4 = patch.accessIPv4;
    if (patch.accessIPv6 !== undefined) values.access_ipv6 = patch.accessIPv6;
    if (patch.diskConfig !== undefined) values.disk_config = patch.diskConfig;
    if (patch.hostname !== undefined) values.hostname = patch.hostname;
    await this.s.db.updateTable('servers').set(values).where('id', '=', server.id).execute();
    return { ...server, ...values };
  }

  /** DELETE: asynchronous; a locked server is 409 unless the caller is an admin. */
  async delete(ctx: AuthContext, id: string, requestId: string, opts: { onlyStopped?: boolean; recurse?: Recurse } = {}): Promise<void> {
    const { db, clock } = this.s;
    const now = clock.now().toISOString();
    await db.transaction().execute(async (tx) => {
      // Locked: of two deletes at once the second sees the first's task_state and stops there.
      const server = await lockedServer(tx, id);
      if (!server || (!ctx.isAdmin && server.project_id !== ctx.projectId)) throw notFound(`Instance ${id} could not be found.`);
      if (server.locked && !ctx.isAdmin) throw conflict(`Instance ${id} is locked`);
      if (server.task_state === TaskState.DELETING || server.task_state === TaskState.SOFT_DELETING) return; // already on its way
      if (server.vm_state === VmState.SOFT_DELETED) throw conflict(`Cannot 'delete' instance ${id} while it is in vm_state soft-delete`);
      // CloudSigma deletes only what is not running (its clients stop first); checked here, under the lock, so a start cannot slip in.
      if (opts.onlyStopped && (server.task_state !== null || ![VmState.STOPPED, VmState.ERROR, VmState.SHELVED, VmState.SHELVED_OFFLOADED].includes(server.vm_state as never))) {
        throw conflict(`Cannot delete server ${id} while it is ${server.task_state ?? server.vm_state}; stop it first`);
      }
      // reclaim_instance_interval > 0: a launched server is only soft-deleted, and restorable until reclaimed.
      const soft = this.s.config.compute.reclaimInstanceInterval > 0 && server.launched_at !== null;
      await tx.updateTable('servers').set({ task_state: soft ? TaskState.SOFT_DELETING : TaskState.DELETING, updated_at: now }).where('id', '=', id).execute();
      const actionId = await startAction(tx, { serverId: id, action: 'delete', requestId, projectId: server.project_id, userId: ctx.userId, now });
      // `recurse` (CloudSigma): the attached drives of those media go with the server.
      await enqueue(tx, clock, soft ? { serverId: id, kind: 'soft_delete', step: 'start', actionId } : { serverId: id, kind: 'delete', step: 'terminate', actionId, params: opts.recurse ? { recurse: opts.recurse } : undefined });
    });
    this.s.runner.kick();
  }

  /**
   * A pattern-filtered list statement on PostgreSQL, under a statement timeout of the
   * server's own: a scan that would take longer is stopped there (503 naming the filters),
   * and a regular expression PostgreSQL refuses is a 400 naming its filter, not a 500.
   */
  private async boundedScan<R>(query: Compilable<R>, q: ListQuery): Promise<R[]> {
    try {
      return await this.s.db.transaction().execute(async (tx) => {
        await sql.raw(`set local statement_timeout = ${PATTERN_SCAN_TIMEOUT_MS}`).execute(tx);
        return (await tx.executeQuery(query.compile())).rows;
      });
    } catch (err) {
      const code = (err as { code?: string }).code;
      const fields = (['name', 'ip', 'ip6'] as const).filter((f) => q[f]);
      if (code === '57014') throw scanTooLong(q);
      if (code === '2201B') {
        // Which filter's expression it was: each is tried alone.
        for (const field of fields) {
          const refused = await sql`select '' ~ ${postgresSuperset(q[field]!, field === 'name' ? 'search' : 'address')}`.execute(this.s.db).then(
            () => false,
            () => true,
          );
          if (refused) throw invalid(`Invalid regular expression for ${field}: ${q[field]} (${(err as Error).message})`);
        }
      }
      throw err;
    }
  }

  /**
   * The servers a query selects, in its order, with the columns asked for (a detailed list
   * asks for ids and versions, and reads only the rows it has not rendered before).
   *
   * Every filter is in the statement, and so is the page: the database reads the rows in the
   * list's order from the marker on (keyset, whatever the sort keys) and stops at the limit,
   * so a page costs the same at 100 or 1,000,000 servers when the filters match many. The
   * name, ip and ip6 patterns are decided by RE2 here (patterns.ts: Python's reading, the same
   * answer on both databases); PostgreSQL first narrows the rows to candidates with a wider
   * regular expression of its own (postgres-patterns.ts), SQLite hands over a bounded batch
   * at a time. Rows come in batches until the page is full, with the event loop free between.
   */
  async list<K extends keyof ServerRow>(ctx: AuthContext, q: ListQuery, columns: readonly K[]): Promise<Pick<ServerRow, K>[]> {
    // Compiled (or refused, 400 naming the filter) before any statement runs.
    const name = q.name ? searchPattern('name', q.name) : undefined;
    const ip = q.ip ? prefixPattern('ip', q.ip) : undefined;
    const ip6 = q.ip6 ? prefixPattern('ip6', q.ip6) : undefined;
    const refine = name || ip || ip6;
    const postgres = isPostgres(this.s.db);

    const sort = [...(q.sort.length ? q.sort : [{ key: 'created_at', dir: 'desc' as const }])].map((s) => ({ key: s.key as SortColumn, dir: s.dir }));
    // The id last, in the last key's direction: a total order, so a marker is one place in it.
    if (!sort.some((s) => s.key === 'id')) sort.push({ key: 'id', dir: sort[sort.length - 1].dir });

    const wanted = [...new Set<keyof ServerRow>(['id', ...columns, ...sort.map((s) => s.key), ...(name ? (['name'] as const) : []), ...(ip || ip6 ? (['addresses'] as const) : [])])];
    let base = this.s.db.selectFrom('servers').select(wanted as 'id'[]) as unknown as SelectQueryBuilder<Schema, 'servers', ServerRow>;
    if (!q.allTenants || !ctx.isAdmin) base = base.where('project_id', '=', ctx.projectId ?? '');
    else if (q.projectId) base = base.where('project_id', '=', q.projectId);
    // Which filters a caller may use is the API's policy (allow_all_filters): the query has only those.
    if (q.userId) base = base.where('user_id', '=', q.userId);
    if (q.changesSince) base = base.where('updated_at', '>=', q.changesSince);
    if (q.changesBefore) base = base.where('updated_at', '<=', q.changesBefore);
    // changes-since shows deleted servers too; `deleted` is for admins.
    if (q.deleted !== undefined && ctx.isAdmin) base = base.where('deleted', '=', q.deleted ? 1 : 0);
    else if (!q.changesSince && !q.changesBefore) base = base.where('deleted', '=', 0);
    if (q.image) base = base.where('image_id', '=', q.image);
    if (q.flavor) base = base.where('flavor_id', '=', q.flavor);
    if (q.host && ctx.isAdmin) base = base.where('host', '=', q.host);
    if (q.reservationId) base = base.where('reservation_id', '=', q.reservationId);
    if (q.locked !== undefined) base = base.where('locked', '=', q.locked ? 1 : 0);
    if (q.availabilityZone) base = base.where('availability_zone', '=', q.availabilityZone);
    if (q.status) {
      const { vmStates, taskStates } = statesForStatus(q.status);
      if (vmStates.length === 0) return [];
      base = base.where('vm_state', 'in', vmStates);
      // A status that is some vm_state's default matches it whatever the task (as Nova).
      if (!taskStates.includes(null)) base = base.where('task_state', 'in', taskStates as string[]);
    }
    if (q.tags?.length) for (const tag of q.tags) base = base.where('id', 'in', (eb) => eb.selectFrom('server_tags').select('server_id').where('tag', '=', tag));
    if (q.tagsAny?.length) base = base.where('id', 'in', (eb) => eb.selectFrom('server_tags').select('server_id').where('tag', 'in', q.tagsAny!));
    if (q.notTags?.length) {
      const all = q.notTags;
      base = base.where('id', 'not in', (eb) =>
        eb.selectFrom('server_tags').select('server_id').where('tag', 'in', all).groupBy('server_id').having((h) => h.fn.countAll(), '=', all.length),
      );
    }
    if (q.notTagsAny?.length) base = base.where('id', 'not in', (eb) => eb.selectFrom('server_tags').select('server_id').where('tag', 'in', q.notTagsAny!));
    if (postgres) {
      // Candidates only: every row a pattern matches passes these (RE2 decides below).
      if (q.name) base = base.where('name', '~', postgresSuperset(q.name, 'search'));
      const ips = [...(q.ip ? [postgresSuperset(q.ip, 'address')] : []), ...(q.ip6 ? [postgresSuperset(q.ip6, 'address')] : [])];
      if (ips.length) base = base.where((eb) => eb.or(ips.map((p) => eb('addresses', '~', p))));
    }
    for (const s of sort) base = base.orderBy(s.key, (ob) => (NULLABLE_SORT.has(s.key) ? (s.dir === 'asc' ? ob.asc().nullsFirst() : ob.desc().nullsLast()) : s.dir === 'asc' ? ob.asc() : ob.desc()));

    let after: Record<string, unknown> | undefined;
    if (q.marker !== undefined) {
      // Nova's marker may be any server, even a deleted one: the page starts after its place in the order.
      after = await this.s.db.selectFrom('servers').select(sort.map((s) => s.key)).where('id', '=', q.marker).executeTakeFirst();
      if (!after) throw invalid(`marker [${q.marker}] not found`);
    }
    const limit = q.limit ?? Number.MAX_SAFE_INTEGER;
    const out: Pick<ServerRow, K>[] = [];
    // A pattern's scan, all batches together, is held to the same bound as one statement.
    const deadline = performance.now() + PATTERN_SCAN_TIMEOUT_MS;
    let batch = 0;
    while (out.length < limit) {
      const want = limit - out.length;
      // Where RE2 turns candidates down (SQLite's batches, a wide PostgreSQL superset), each
      // batch is twice the last, up to SCAN_BATCH: few statements, none reading without bound.
      batch = refine ? Math.max(want, Math.min(SCAN_BATCH, batch === 0 ? (postgres ? want : SCAN_BATCH) : batch * 2)) : want;
      const from = after;
      const query = (from ? base.where((eb) => keysetAfter(eb, sort, from)) : base).limit(batch);
      const rows = postgres && refine ? await this.boundedScan(query, q) : await query.execute();
      for (const row of rows) {
        if (refine && !((!name || name.test(row.name)) && (!(ip || ip6) || fixedAddressMatches(row.addresses, ip, ip6)))) continue;
        out.push(row);
        if (out.length >= limit) break;
      }
      if (rows.length < batch) break;
      after = rows[rows.length - 1];
      if (refine && performance.now() > deadline) throw scanTooLong(q);
      // A long scan lets other requests in between its batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return out;
  }
}

/**
 * How long PostgreSQL may look for a pattern's candidates before it stops the statement
 * itself: inside the client's bound (QUERY_TIMEOUT_MS), which only drops the connection and
 * leaves the server working on.
 */
export const PATTERN_SCAN_TIMEOUT_MS = QUERY_TIMEOUT_MS - 1000;

/** 503: the filters' scan took longer than its bound (the database is busy, or they select few of very many). */
function scanTooLong(q: ListQuery): NimbusError {
  const fields = (['name', 'ip', 'ip6'] as const).filter((f) => q[f]);
  return new NimbusError('unavailable', `The list with the ${fields.join(', ')} filter${fields.length > 1 ? 's' : ''} took longer than ${PATTERN_SCAN_TIMEOUT_MS / 1000} s; narrow it (a longer literal part, an anchor) or try again.`);
}

/** The most rows a list reads at once to match them here (SQLite's batches; on PostgreSQL, the most a superset's batch grows to). */
const SCAN_BATCH = 1000;

type SortColumn = 'created_at' | 'id';
/** Sort columns that may be NULL: ordered as smallest on both databases (SQLite's and MySQL's order). */
const NULLABLE_SORT = new Set(['task_state', 'host', 'availability_zone', 'key_name', 'launched_at', 'terminated_at', 'description']);

/**
 * Rows after `marker` in the order `sort` (which ends with the id): the first key past the
 * marker's, or equal and the next past, and so on; NULL is the smallest value. One row
 * comparison where every key goes one way and none is nullable, so an index serves it.
 */
function keysetAfter(eb: ExpressionBuilder<Schema, 'servers'>, sort: { key: SortColumn; dir: 'asc' | 'desc' }[], marker: Record<string, unknown>): Expression<SqlBool> {
  const value = (key: string) => marker[key] as string;
  if (sort.every((s) => s.dir === sort[0].dir && !NULLABLE_SORT.has(s.key))) {
    const keys = sort.map((s) => s.key);
    return eb(eb.refTuple(...(keys as [SortColumn, SortColumn])), sort[0].dir === 'asc' ? '>' : '<', eb.tuple(...(keys.map(value) as [string, string])));
  }
  const past = (s: { key: SortColumn; dir: 'asc' | 'desc' }): Expression<SqlBool> => {
    const m = marker[s.key];
    if (m === null) return s.dir === 'asc' ? eb(s.key, 'is not', null) : eb.lit(false);
    if (s.dir === 'asc') return eb(s.key, '>', value(s.key));
    return NULLABLE_SORT.has(s.key) ? eb.or([eb(s.key, '<', value(s.key)), eb(s.key, 'is', null)]) : eb(s.key, '<', value(s.key));
  };
  const same = (s: { key: SortColumn }): Expression<SqlBool> => (marker[s.key] === null ? eb(s.key, 'is', null) : eb(s.key, '=', value(s.key)));
  return eb.or(sort.map((s, k) => eb.and([...sort.slice(0, k).map(same), past(s)])));
}

/**
 * Nova's _ip_filter: a server matches when one of its fixed addresses (not a floating one)
 * matches the filter of its version, ip for IPv4 or ip6 for IPv6, by re.match.
 */
function fixedAddressMatches(addresses: string, ip?: SearchPattern, ip6?: SearchPattern): boolean {
  const networks = parseJson<Record<string, { version: number; addr: string; 'OS-EXT-IPS:type'?: string }[]>>(addresses, {});
  return Object.values(networks).some((list) =>
    list.some((a) => a['OS-EXT-IPS:type'] !== 'floating' && ((a.version === 4 && !!ip?.test(a.addr)) || (a.version === 6 && !!ip6?.test(a.addr)))),
  );
}
