import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { ServerActions } from '../../compute/server-actions.js';
import { Servers } from '../../compute/servers.js';
import { invalid, NimbusError } from '../../errors.js';
import { MAX_INT } from '../../db/schema.js';
import { refuseUnstorable, validate } from '../validation.js';
import { resource } from '../http.js';
import { perVersion, type Microversion } from './microversion.js';
import { addFloatingIp, removeFloatingIp } from './floating-ips.js';
import { description, hostnameFor, name } from './schemas/servers.js';
import { serverDetail } from './views/servers.js';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const metadata = { type: 'object', patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: 'string', maxLength: 255 } }, additionalProperties: false };
const object = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', properties, required, additionalProperties: false });
/** An action whose value is ignored by Nova (`{"pause": null}`). */
const anything = {};
const wrap = (action: string, schema: unknown) => ({ type: 'object', properties: { [action]: schema }, required: [action], additionalProperties: false });

const IP_ADDRESS = { type: 'string', oneOf: [{ format: 'ipv4' }, { format: 'ipv6' }] };

const SCHEMAS: Record<string, (v: Microversion) => object> = {
  reboot: perVersion(() => wrap('reboot', object({ type: { type: 'string', enum: ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft'] } }, ['type']))),
  resize: perVersion(() => wrap('resize', object({ flavorRef: { type: ['string', 'integer'], minLength: 1 }, 'OS-DCF:diskConfig': { type: 'string', enum: ['AUTO', 'MANUAL'] } }, ['flavorRef']))),
  changePassword: perVersion(() => wrap('changePassword', object({ adminPass: { type: 'string' } }, ['adminPass']))),
  rescue: perVersion(() => wrap('rescue', { type: ['object', 'null'], properties: { adminPass: { type: 'string' }, rescue_image_ref: { type: 'string', format: 'uuid' } }, additionalProperties: false })),
  createImage: perVersion(() => wrap('createImage', object({ name, metadata }, ['name']))),
  createBackup: perVersion(() =>
    wrap('createBackup', object({ name, backup_type: { type: 'string' }, rotation: { type: ['integer', 'string'], pattern: '^[0-9]+$', minimum: 0 }, metadata }, ['name', 'backup_type', 'rotation'])),
  ),
  lock: perVersion((v) => wrap('lock', v.atLeast('2.73') ? { type: ['object', 'null'], properties: { locked_reason: { type: 'string', minLength: 1, maxLength: 255 } }, additionalProperties: false } : anything)),
  unshelve: perVersion((v) =>
    wrap(
      'unshelve',
      v.atLeast('2.91')
        ? { type: ['object', 'null'], properties: { availability_zone: { type: ['string', 'null'] }, host: { type: 'string' } }, additionalProperties: false }
        : v.atLeast('2.77')
          ? { type: ['object', 'null'], properties: { availability_zone: name }, required: ['availability_zone'], additionalProperties: false }
          : anything,
    ),
  ),
  // Nova's schemas/floating_ips.py: parameter_types.ip_address.
  addFloatingIp: perVersion(() => wrap('addFloatingIp', object({ address: IP_ADDRESS, fixed_address: IP_ADDRESS }, ['address']))),
  removeFloatingIp: perVersion(() => wrap('removeFloatingIp', object({ address: IP_ADDRESS }, ['address']))),
  'os-resetState': perVersion(() => wrap('os-resetState', object({ state: { type: 'string', enum: ['active', 'error'] } }, ['state']))),
  'os-getConsoleOutput': perVersion(() => wrap('os-getConsoleOutput', object({ length: { type: ['integer', 'string', 'null'], pattern: '^-?[0-9]+$', minimum: -1 } }))),
  'os-migrateLive': perVersion((v) =>
    wrap(
      'os-migrateLive',
      object(
        {
          host: { type: ['string', 'null'] },
          block_migration: v.atLeast('2.25') ? { type: ['boolean', 'string'], enum: [true, false, 'auto', 'True', 'False', 'true', 'false'] } : { type: ['boolean', 'string'] },
          ...(v.atLeast('2.25') ? {} : { disk_over_commit: { type: ['boolean', 'string'] } }),
          ...(v.atLeast('2.30') && !v.atLeast('2.68') ? { force: { type: ['boolean', 'string'] } } : {}),
        },
        v.atLeast('2.25') ? ['block_migration', 'host'] : ['block_migration', 'disk_over_commit', 'host'],
      ),
    ),
  ),
  migrate: perVersion((v) => wrap('migrate', v.atLeast('2.56') ? { type: ['object', 'null'], properties: { host: { type: ['string', 'null'] } }, additionalProperties: false } : anything)),
  evacuate: perVersion((v) =>
    wrap(
      'evacuate',
      object(
        { host: { type: 'string' }, adminPass: { type: 'string' }, ...(v.atLeast('2.14') ? {} : { onSharedStorage: { type: ['boolean', 'string'] } }), ...(v.atLeast('2.29') && !v.atLeast('2.68') ? { force: { type: 'boolean' } } : {}) },
        v.atLeast('2.14') ? [] : ['onSharedStorage'],
      ),
    ),
  ),
  rebuild: perVersion((v) => {
    const p: Record<string, unknown> = {
      imageRef: { type: 'string', format: 'uuid' },
      name,
      adminPass: { type: 'string' },
      metadata,
      preserve_ephemeral: { type: 'boolean' },
      'OS-DCF:diskConfig': { type: 'string', enum: ['AUTO', 'MANUAL'] },
      accessIPv4: { type: 'string', format: 'ipv4' },
      accessIPv6: { type: 'string', format: 'ipv6' },
      personality: { type: 'array', items: object({ path: { type: 'string' }, contents: { type: 'string', format: 'base64' } }) },
    };
    if (v.atLeast('2.19')) p.description = description;
    if (v.atLeast('2.54')) p.key_name = { type: ['string', 'null'], minLength: 1, maxLength: 255 };
    if (v.atLeast('2.57')) {
      delete p.personality;
      p.user_data = { type: ['string', 'null'], format: 'base64', maxLength: 65535 };
    }
    if (v.atLeast('2.63')) p.trusted_image_certificates = { type: ['array', 'null'], items: { type: 'string' } };
    if (v.atLeast('2.90')) p.hostname = hostnameFor(v);
    return wrap('rebuild', object(p, ['imageRef']));
  }),
};

/** Nova's policy name for each action. */
const POLICY: Record<string, string> = {
  reboot: 'os_compute_api:servers:reboot',
  'os-start': 'os_compute_api:servers:start',
  'os-stop': 'os_compute_api:servers:stop',
  resize: 'os_compute_api:servers:resize',
  confirmResize: 'os_compute_api:servers:confirm_resize',
  revertResize: 'os_compute_api:servers:revert_resize',
  rebuild: 'os_compute_api:servers:rebuild',
  createImage: 'os_compute_api:servers:create_image',
  createBackup: 'os_compute_api:os-create-backup',
  pause: 'os_compute_api:os-pause-server:pause',
  unpause: 'os_compute_api:os-pause-server:unpause',
  suspend: 'os_compute_api:os-suspend-server:suspend',
  resume: 'os_compute_api:os-suspend-server:resume',
  lock: 'os_compute_api:os-lock-server:lock',
  unlock: 'os_compute_api:os-lock-server:unlock',
  rescue: 'os_compute_api:os-rescue',
  unrescue: 'os_compute_api:os-unrescue',
  changePassword: 'os_compute_api:os-admin-password',
  shelve: 'os_compute_api:os-shelve:shelve',
  shelveOffload: 'os_compute_api:os-shelve:shelve_offload',
  unshelve: 'os_compute_api:os-shelve:unshelve',
  restore: 'os_compute_api:os-deferred-delete:restore',
  forceDelete: 'os_compute_api:os-deferred-delete:force',
  'os-resetState': 'os_compute_api:os-admin-actions:reset_state',
  migrate: 'os_compute_api:os-migrate-server:migrate',
  'os-migrateLive': 'os_compute_api:os-migrate-server:migrate_live',
  evacuate: 'os_compute_api:os-evacuate',
  trigger_crash_dump: 'os_compute_api:servers:trigger_crash_dump',
  'os-getConsoleOutput': 'os_compute_api:os-console-output',
  'os-getVNCConsole': 'os_compute_api:os-remote-consoles',
  'os-getSPICEConsole': 'os_compute_api:os-remote-consoles',
  'os-getSerialConsole': 'os_compute_api:os-remote-consoles',
  'os-getRDPConsole': 'os_compute_api:os-remote-consoles',
  addSecurityGroup: 'os_compute_api:os-security-groups:add',
  removeSecurityGroup: 'os_compute_api:os-security-groups:remove',
  addFloatingIp: 'os_compute_api:os-floating-ips:add',
  // Checked again against the server the address is on (floating-ips.ts), as Nova checks it.
  removeFloatingIp: 'os_compute_api:os-floating-ips:remove',
};

const LEGACY_CONSOLES: Record<string, { protocol: string; types: string[] }> = {
  'os-getVNCConsole': { protocol: 'vnc', types: ['novnc', 'xvpvnc'] },
  'os-getSPICEConsole': { protocol: 'spice', types: ['spice-html5'] },
  'os-getSerialConsole': { protocol: 'serial', types: ['serial'] },
  'os-getRDPConsole': { protocol: 'rdp', types: ['rdp-html5'] },
};
// Nova's schemas for the legacy console actions (schemas/remote_consoles.py).
for (const [action, console] of Object.entries(LEGACY_CONSOLES)) {
  SCHEMAS[action] = perVersion(() => wrap(action, object({ type: { type: 'string', enum: console.types } }, ['type'])));
}

const REMOTE_CONSOLE_TYPES: Record<string, string[]> = { vnc: ['novnc', 'xvpvnc'], spice: ['spice-html5'], serial: ['serial'], rdp: ['rdp-html5'], mks: ['webmks'] };

/** The group an add/removeSecurityGroup body names, refused as Nova's _parse refuses it (Nova has no schema for these). */
function securityGroupName(b: Body, action: string): string {
  const inner = b[action];
  if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) throw invalid('Missing parameter dict');
  if (!Object.hasOwn(inner, 'name')) throw invalid('Security group not specified');
  const name = inner.name;
  if (typeof name !== 'string' || name.trim() === '') throw invalid('Security group name cannot be empty');
  return name;
}

export function serverActionRoutes(app: FastifyInstance, services: Services, base: string): void {
  const actions = new ServerActions(services);
  const servers = new Servers(services);
  const imageLocation = (id: string) => `${services.config.publicUrl}/image/images/${id}`;

  /** Each action: (request, reply, server id, its body) → the response. */
  const HANDLERS: Record<string, (req: FastifyRequest, reply: FastifyReply, id: string, b: Body) => Promise<unknown>> = {
    reboot: async (req, reply, id, b) => (await actions.reboot(req.auth, id, req.id, b.reboot.type.toUpperCase() === 'HARD'), reply.code(202).send()),
    'os-stop': async (req, reply, id) => (await actions.stop(req.auth, id, req.id), reply.code(202).send()),
    'os-start': async (req, reply, id) => (await actions.start(req.auth, id, req.id), reply.code(202).send()),
    pause: async (req, reply, id) => (await actions.pause(req.auth, id, req.id), reply.code(202).send()),
    unpause: async (req, reply, id) => (await actions.unpause(req.auth, id, req.id), reply.code(202).send()),
    suspend: async (req, reply, id) => (await actions.suspend(req.auth, id, req.id), reply.code(202).send()),
    resume: async (req, reply, id) => (await actions.resume(req.auth, id, req.id), reply.code(202).send()),
    unrescue: async (req, reply, id) => (await actions.unrescue(req.auth, id, req.id), reply.code(202).send()),
    changePassword: async (req, reply, id, b) => (await actions.changePassword(req.auth, id, req.id, b.changePassword.adminPass), reply.code(202).send()),
    rescue: async (req, reply, id, b) => {
      const adminPass = await actions.rescue(req.auth, id, req.id, { adminPass: b.rescue?.adminPass, imageRef: b.rescue?.rescue_image_ref });
      return reply.code(200).send({ adminPass });
    },
    // Before 2.73 the body of lock is not read at all: locked_reason is not a field there.
    lock: async (req, reply, id, b) => (await actions.lock(req.auth, id, req.id, req.microversion.atLeast('2.73') ? (b.lock?.locked_reason ?? null) : null), reply.code(202).send()),
    unlock: async (req, reply, id) => (await actions.unlock(req.auth, id, req.id), reply.code(202).send()),
    addSecurityGroup: async (req, reply, id, b) => (await actions.changeSecurityGroup(req.auth, id, securityGroupName(b, 'addSecurityGroup'), true), reply.code(202).send()),
    removeSecurityGroup: async (req, reply, id, b) => (await actions.changeSecurityGroup(req.auth, id, securityGroupName(b, 'removeSecurityGroup'), false), reply.code(202).send()),
    // Gone from 2.44 (Nova's proxies to Neutron's floating IPs).
    addFloatingIp: async (req, reply, id, b) => {
      if (req.microversion.atLeast('2.44')) throw invalid('There is no such action: addFloatingIp');
      await addFloatingIp(services, req.auth, id, b.addFloatingIp.address, b.addFloatingIp.fixed_address);
      return reply.code(202).send();
    },
    removeFloatingIp: async (req, reply, id, b) => {
      if (req.microversion.atLeast('2.44')) throw invalid('There is no such action: removeFloatingIp');
      await removeFloatingIp(services, req.auth, id, b.removeFloatingIp.address);
      return reply.code(202).send();
    },
    'os-resetState': async (req, reply, id, b) => (await actions.resetState(req.auth, id, req.id, b['os-resetState'].state), reply.code(202).send()),
    trigger_crash_dump: async (req, reply, id) => {
      if (!req.microversion.atLeast('2.17')) throw invalid('There is no such action: trigger_crash_dump');
      await actions.triggerCrashDump(req.auth, id, req.id);
      return reply.code(202).send();
    },
    'os-getConsoleOutput': async (req, reply, id, b) => {
      const raw = b['os-getConsoleOutput']?.length;
      const length = raw === undefined || raw === null || Number(raw) === -1 ? undefined : Number(raw);
      return reply.code(200).send({ output: await actions.consoleOutput(req.auth, id, length) });
    },
    resize: async (req, reply, id, b) => (await actions.resize(req.auth, id, req.id, String(b.resize.flavorRef), 'resize', undefined, b.resize['OS-DCF:diskConfig']), reply.code(202).send()),
    migrate: async (req, reply, id, b) => (await actions.resize(req.auth, id, req.id, null, 'migration', b.migrate?.host ?? undefined), reply.code(202).send()),
    confirmResize: async (req, reply, id) => (await actions.confirmResize(req.auth, id, req.id), reply.code(204).send()),
    revertResize: async (req, reply, id) => (await actions.revertResize(req.auth, id, req.id), reply.code(202).send()),
    createImage: async (req, reply, id, b) => {
      const imageId = await actions.createImage(req.auth, id, req.id, b.createImage.name, b.createImage.metadata ?? {});
      if (req.microversion.atLeast('2.45')) return reply.code(202).send({ image_id: imageId });
      return reply.code(202).header('location', imageLocation(imageId)).send();
    },
    createBackup: async (req, reply, id, b) => {
      const c = b.createBackup;
      const imageId = await actions.createBackup(req.auth, id, req.id, { name: c.name, backupType: c.backup_type, rotation: Number(c.rotation), metadata: c.metadata ?? {} });
      if (req.microversion.atLeast('2.45')) return reply.code(202).send(imageId ? { image_id: imageId } : {});
      if (imageId) reply.header('location', imageLocation(imageId));
      return reply.code(202).send();
    },
    shelve: async (req, reply, id) => (await actions.shelve(req.auth, id, req.id), reply.code(202).send()),
    shelveOffload: async (req, reply, id) => (await actions.shelveOffload(req.auth, id, req.id), reply.code(202).send()),
    unshelve: async (req, reply, id, b) => {
      const u = b.unshelve ?? {};
      if (u.host !== undefined && !req.auth.isAdmin) throw new NimbusError('forbidden', `Policy doesn't allow os_compute_api:os-shelve:unshelve_to_host to be performed.`);
      await actions.unshelve(req.auth, id, req.id, { availabilityZone: u.availability_zone, host: u.host });
      return reply.code(202).send();
    },
    rebuild: async (req, reply, id, b) => {
      const r = b.rebuild;
      const { server, adminPass } = await actions.rebuild(req.auth, id, req.id, {
        imageId: r.imageRef,
        name: r.name,
        adminPass: r.adminPass,
        metadata: r.metadata,
        description: r.description,
        keyName: r.key_name,
        userData: r.user_data,
        hostname: r.hostname,
        diskConfig: r['OS-DCF:diskConfig'],
        accessIPv4: r.accessIPv4,
        accessIPv6: r.accessIPv6,
      });
      const tags = (await servers.tags([id])).get(id) ?? [];
      const groups = req.microversion.atLeast('2.71') ? await services.serverGroups.groupsOf(id) : undefined;
      // Before 2.75 rebuild answers like PUT (no extension attributes), plus key_name (2.54)
      // and user_data (2.57); from 2.75 the full server, its user_data at the top level.
      const v = req.microversion;
      const view = serverDetail({ base, version: v, auth: req.auth, reduced: !v.atLeast('2.75') }, server, tags, groups);
      if (v.atLeast('2.54') && !v.atLeast('2.75')) view.key_name = server.key_name;
      if (v.atLeast('2.57')) {
        delete view['OS-EXT-SRV-ATTR:user_data'];
        view.user_data = server.user_data;
      }
      return reply.code(202).send({ server: { ...view, adminPass } });
    },
    restore: async (req, reply, id) => (await actions.restore(req.auth, id, req.id), reply.code(202).send()),
    forceDelete: async (req, reply, id) => (await actions.forceDelete(req.auth, id, req.id), reply.code(202).send()),
    'os-migrateLive': async (req, reply, id, b) => (await actions.liveMigrate(req.auth, id, req.id, b['os-migrateLive'].host ?? null), reply.code(202).send()),
    evacuate: async (req, reply, id, b) => {
      const e = b.evacuate;
      // From 2.95 an evacuated server comes back stopped, whatever it was.
      const adminPass = await actions.evacuate(req.auth, id, req.id, e.host ?? null, e.adminPass, req.microversion.atLeast('2.95'));
      return reply.code(200).send(req.microversion.atLeast('2.14') ? undefined : { adminPass });
    },
  };
  for (const [action, console] of Object.entries(LEGACY_CONSOLES)) {
    HANDLERS[action] = async (req, reply, id, b) => {
      const type = b[action].type;
      return reply.code(200).send({ console: { type, url: await actions.remoteConsole(req.auth, id, console.protocol, type) } });
    };
  }
  // The action name comes from the request: looked up in a Map, so that a body like
  // {"toString": {}} names no action rather than one of Object's built-ins.
  const handlers = new Map(Object.entries(HANDLERS));

  resource(app, '/servers/:id/action', {
    POST: async (request, reply) => {
      const { id } = request.params as { id: string };
      const body = request.body;
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid('Malformed request body');
      const keys = Object.keys(body as object);
      const action = keys.find((k) => handlers.has(k));
      if (!action) throw invalid(keys.length ? `There is no such action: ${keys[0]}` : 'Malformed request body');
      // The legacy console actions are gone from 2.6 (the remote-consoles resource replaces them).
      if (Object.hasOwn(LEGACY_CONSOLES, action) && request.microversion.atLeast('2.6')) throw invalid(`There is no such action: ${action}`);
      // Nova looks the server up (404) before it validates the body.
      const server = await servers.get(request.auth, id);
      const schema = Object.hasOwn(SCHEMAS, action) ? SCHEMAS[action] : undefined;
      // An action without a schema (its body ignored) still refuses a NUL: the edge leaves that to the schemas here.
      const b = schema ? validate<Body>(schema(request.microversion), body) : (refuseUnstorable(body), body as Body);
      services.policy.authorize(request.auth, POLICY[action], server.project_id);
      return handlers.get(action)!(request, reply, id, b);
    },
  });

  resource(app, '/servers/:id/remote-consoles', {
    POST: async (request, reply) => {
      if (!request.microversion.atLeast('2.6')) throw new NimbusError('not_found', 'The resource could not be found.');
      const { id } = request.params as { id: string };
      const protocols = Object.keys(REMOTE_CONSOLE_TYPES).filter((p) => p !== 'mks' || request.microversion.atLeast('2.8'));
      const body = validate<{ remote_console: { protocol: string; type: string } }>(
        wrap('remote_console', object({ protocol: { type: 'string', enum: protocols }, type: { type: 'string', enum: Object.values(REMOTE_CONSOLE_TYPES).flat() } }, ['protocol', 'type'])),
        request.body ?? null,
      );
      const server = await servers.get(request.auth, id);
      services.policy.authorize(request.auth, 'os_compute_api:os-remote-consoles', server.project_id);
      const { protocol, type } = body.remote_console;
      if (!REMOTE_CONSOLE_TYPES[protocol].includes(type)) throw invalid(`Unsupported console type ${type} for protocol ${protocol}.`);
      return reply.code(200).send({ remote_console: { protocol, type, url: await actions.remoteConsole(request.auth, id, protocol, type) } });
    },
  });

  // ── migrations ──
  const migrationView = (m: { id: number; uuid: string; server_id: string; project_id: string; user_id: string; migration_type: string; status: string; source_host: string | null; dest_host: string | null; old_flavor: string; new_flavor: string; created_at: string; updated_at: string }, v: Microversion) => ({
    id: m.id,
    instance_uuid: m.server_id,
    source_compute: m.source_host,
    source_node: m.source_host,
    dest_compute: m.dest_host,
    dest_node: m.dest_host,
    dest_host: m.dest_host ? '127.0.0.1' : null,
    old_instance_type_id: Number(JSON.parse(m.old_flavor).id) || 0,
    new_instance_type_id: Number(JSON.parse(m.new_flavor).id) || 0,
    status: m.status,
    created_at: m.created_at.replace('Z', ''),
    updated_at: m.updated_at.replace('Z', ''),
    ...(v.atLeast('2.23') ? { migration_type: m.migration_type, links: m.migration_type === 'live-migration' ? [{ rel: 'self', href: `${base}/v2.1/servers/${m.server_id}/migrations/${m.id}` }, { rel: 'bookmark', href: `${base}/servers/${m.server_id}/migrations/${m.id}` }] : undefined } : {}),
    ...(v.atLeast('2.59') ? { uuid: m.uuid } : {}),
    ...(v.atLeast('2.80') ? { project_id: m.project_id, user_id: m.user_id } : {}),
  });

  resource(app, '/os-migrations', {
    GET: async (request) => {
      services.policy.authorize(request.auth, 'os_compute_api:os-migrations:index');
      const q = request.query as Record<string, string | undefined>;
      let sql = services.db.selectFrom('migrations').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc');
      if (q.instance_uuid) sql = sql.where('server_id', '=', q.instance_uuid);
      if (q.migration_type) sql = sql.where('migration_type', '=', q.migration_type);
      if (q.status) sql = sql.where('status', '=', q.status);
      if (q.host) sql = sql.where((eb) => eb.or([eb('source_host', '=', q.host!), eb('dest_host', '=', q.host!)]));
      const rows = await sql.execute();
      return { migrations: rows.map((m) => migrationView(m, request.microversion)) };
    },
  });

  const IN_PROGRESS = ['queued', 'preparing', 'running', 'post-migrating'];
  resource(app, '/servers/:id/migrations', {
    GET: async (request) => {
      const { id } = request.params as { id: string };
      const server = await servers.get(request.auth, id);
      services.policy.authorize(request.auth, 'os_compute_api:servers:migrations:index', server.project_id);
      const rows = await services.db.selectFrom('migrations').selectAll().where('server_id', '=', id).where('migration_type', '=', 'live-migration').where('status', 'in', IN_PROGRESS).execute();
      return { migrations: rows.map((m) => migrationView(m, request.microversion)) };
    },
  });
  const inProgress = async (request: FastifyRequest) => {
    const { id, mid } = request.params as { id: string; mid: string };
    const server = await servers.get(request.auth, id);
    // Only a whole number an integer column holds can name a migration; anything else names none.
    const migrationId = /^\d{1,10}$/.test(mid) && Number(mid) <= MAX_INT ? Number(mid) : null;
    const m = migrationId === null ? undefined : await services.db.selectFrom('migrations').selectAll().where('server_id', '=', id).where('id', '=', migrationId).executeTakeFirst();
    if (!m || m.migration_type !== 'live-migration' || !IN_PROGRESS.includes(m.status)) throw new NimbusError('not_found', `Instance ${id} does not have an in-progress migration ${mid}.`);
    return { server, m };
  };
  resource(app, '/servers/:id/migrations/:mid', {
    GET: async (request) => {
      const { server, m } = await inProgress(request);
      services.policy.authorize(request.auth, 'os_compute_api:servers:migrations:show', server.project_id);
      return { migration: migrationView(m, request.microversion) };
    },
    DELETE: async (request, reply) => {
      const { server } = await inProgress(request);
      services.policy.authorize(request.auth, 'os_compute_api:servers:migrations:delete', server.project_id);
      // Accepted, as Nova accepts it, but not acted upon yet: the driver contract has no way to
      // stop a move under way, so the live migration runs to its end (within the busy window).
      return reply.code(202).send();
    },
  });
  resource(app, '/servers/:id/migrations/:mid/action', {
    POST: async (request, reply) => {
      const { server } = await inProgress(request);
      services.policy.authorize(request.auth, 'os_compute_api:servers:migrations:force_complete', server.project_id);
      return reply.code(202).send();
    },
  });

}
