/**
 * POST /servers/{uuid}/action/?do=…: start (with avoid), stop, shutdown, restart,
 * open_vnc/close_vnc, open_console/close_console, clone. State rules are the core's
 * (src/compute/server-actions.ts): an action from a state it does not allow, or while
 * another runs, is refused there, in one transaction, and answered here as CloudSigma's
 * concurrency error.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { ServerActions } from '../../compute/server-actions.js';
import { Servers } from '../../compute/servers.js';
import { conflict, invalid } from '../../errors.js';
import { VmState } from '../../compute/states.js';
import { generatePassword } from '../../identity/passwords.js';
import { actionResult, objectAt, param, route } from './http.js';
import { ServerRows, sizeOf } from './servers.js';
import { definitionOf } from './server-view.js';
import { flavorFor, randomMac, uuidOf } from './server-definition.js';
import type { Tunnels } from './tunnels.js';
import { parseJson } from '../../compute/servers.js';

export function serverActionRoutes(api: FastifyInstance, services: Services, tunnels: Tunnels): void {
  const actions = new ServerActions(services);
  const servers = new Servers(services);
  const rows = new ServerRows(services);
  const publicHost = new URL(services.config.publicUrl).hostname;
  const policy = (request: FastifyRequest, rule: string) => services.policy.authorize(request.auth, rule);

  route(api, '/servers/:uuid/action/', {
    POST: async (request, reply) => {
      const projectId = request.auth.projectId!;
      const row = await rows.one(projectId, (request.params as { uuid: string }).uuid);
      const action = param(request, 'do');
      const ctx = request.auth;
      const rid = request.id;
      switch (action) {
        case 'start': {
          policy(request, 'os_compute_api:servers:start');
          const avoid = (param(request, 'avoid') ?? '').split(',').filter(Boolean).map((u, i) => uuidOf(u, `avoid[${i}]`));
          await actions.start(ctx, row.id, rid, { avoid });
          return actionResult(reply, 'start', row.id);
        }
        case 'stop':
          policy(request, 'os_compute_api:servers:stop');
          await actions.stop(ctx, row.id, rid, { powerCord: true });
          tunnels.closeAll(row.id);
          return actionResult(reply, 'stop', row.id);
        case 'shutdown':
          policy(request, 'os_compute_api:servers:stop');
          await actions.shutdown(ctx, row.id, rid);
          return actionResult(reply, 'shutdown', row.id);
        case 'restart':
          policy(request, 'os_compute_api:servers:reboot');
          await actions.reboot(ctx, row.id, rid, true);
          return actionResult(reply, 'restart', row.id);
        case 'open_vnc':
        case 'open_console': {
          policy(request, 'os_compute_api:os-remote-consoles');
          if (row.vm_state !== VmState.ACTIVE || !row.host) throw conflict(`Server ${row.id} is not running`);
          const kind = action === 'open_vnc' ? 'vnc' : 'serial';
          const port = await tunnels.openTunnel(kind, row.id, row.host, definitionOf(row).vnc_password);
          return kind === 'vnc' ? actionResult(reply, action, row.id, { vnc_url: `vnc://${publicHost}:${port}` }) : actionResult(reply, action, row.id, { console_url: `csconsole://${publicHost}:${port}` });
        }
        case 'close_vnc':
        case 'close_console':
          policy(request, 'os_compute_api:os-remote-consoles');
          tunnels.closeTunnel(action === 'close_vnc' ? 'vnc' : 'serial', row.id);
          return actionResult(reply, action, row.id);
        case 'clone': {
          policy(request, 'os_compute_api:servers:create');
          const given = request.body === undefined || request.body === null ? {} : objectAt(request.body, 'body');
          // null is "not given" (libcloud sends both keys, null when unset).
          const body = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== null));
          if (body.name !== undefined && (typeof body.name !== 'string' || body.name === '' || body.name.length > 255)) throw invalid('name must be a string of 1 to 255 characters', 'name');
          if (body.random_vnc_password !== undefined && typeof body.random_vnc_password !== 'boolean') throw invalid('random_vnc_password must be a boolean', 'random_vnc_password');
          const def = definitionOf(row);
          // A clone's NICs ask DHCP for their addresses, with MACs of their own.
          const nics = def.nics.map((n) => ({ ...n, mac: randomMac(), ip_v4_conf: n.ip_v4_conf ? { conf: 'dhcp', ip: null } : null }));
          const size = sizeOf(row);
          const [copy] = await servers.define(
            ctx,
            [
              {
                name: (body.name as string | undefined) ?? `${row.name}-clone`,
                flavor: flavorFor(size.cpu, size.smp, size.mem),
                metadata: parseJson<Record<string, string>>(row.metadata, {}),
                tags: await servers.tagsOfServer(row.id),
                extension: { ...def, drives: [], nics, vnc_password: body.random_vnc_password ? generatePassword(12) : def.vnc_password },
                // Disks cloned (clone naming applies), cdroms attached as they are, under a server_clone job.
                cloneDrivesFrom: row.id,
              },
            ],
            rid,
          );
          const [view] = await rows.details(projectId, [copy.id]);
          reply.code(202);
          return view;
        }
        default:
          throw invalid(`Unknown action ${action ?? '(none)'}`, 'do');
      }
    },
  });
}
