/**
 * The world the fuzz tests run in: one of every resource a route can name in its path, and
 * a valid body for each route that takes one, so that every fuzzed value reaches as far into
 * the route as a well-formed request would.
 */
import { randomBytes, scryptSync } from 'node:crypto';
import { ADMIN_PASSWORD, type TestCloud } from '../support.js';
import { tenant, bootServer } from './compute/server-fixtures.js';

/** A route as Fastify registered it. */
export interface Route {
  method: string;
  url: string;
}

/** A valid request body for a route; a function of the route's path parameters where the body repeats one. */
export interface Sample {
  body: unknown | ((params: Record<string, string>) => unknown);
  /** A query string the request needs to reach its handler's work (CloudSigma's `?do=action`). */
  query?: string;
  contentType?: string;
  /** The compute microversion to send it at (else the route's). */
  version?: string;
}

export interface World {
  admin: string;
  member: string;
  /** HTTP Basic credentials for the CloudSigma face, which reads no tokens: a member, and an admin of its project. */
  basic: { admin: string; member: string };
  /** Fresh tokens for both (after the clock has moved past their expiry). */
  renewTokens(): Promise<void>;
  /** The path parameter values that name a real resource, by `segment/:param` (or `api:segment/:param`). */
  params: Record<string, string>;
  samples: Record<string, Sample[]>;
  /** What each GET route reads of its query (fuzz-cases.ts `readQueryNames`), by `METHOD url`; set by the test. */
  queryReads?: Record<string, { names: Set<string>; walks: boolean }>;
}

const COMPUTE = '/compute/v2.1';
const CS = '/api/2.0';
const basicAuth = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
const ED25519_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9126EtuKT4e273qrRKRxuC1PFZK8MqpWGhTTEvLJZq fuzz@nimbus';

async function ok(res: { status: number; text: string }, what: string): Promise<void> {
  if (res.status >= 300) throw new Error(`fuzz world: ${what}: ${res.status} ${res.text}`);
}

/** Builds the world on a fresh cloud: a member project with one of everything, and a victim project for identity writes. */
export async function buildWorld(cloud: TestCloud): Promise<World> {
  const a = cloud.adminToken;
  const member = await tenant(cloud, 'fuzz');
  const victim = await tenant(cloud, 'fuzz-victim');
  // The victim's password is checked hundreds of times: hashed with the cheapest scrypt
  // (the parameters travel with the hash), so the fuzz measures the API, not key derivation.
  const salt = randomBytes(16);
  const cheap = ['scrypt', 16, 1, 1, salt.toString('base64'), scryptSync('fuzz-victim-pw', salt, 32, { N: 16, r: 1, p: 1 }).toString('base64')].join('$');
  await cloud.services.db.updateTable('users').set({ password_hash: cheap }).where('id', '=', victim.userId).execute();
  const m = member.token;
  const req = cloud.req;
  // The CloudSigma face's member has a project of its own, whose instance quota the compute
  // fuzz does not use up first. HTTP Basic acts in the user's home project, so its admin is an
  // admin of that project (the cloud's admin would find none of its resources there).
  const csMember = await tenant(cloud, 'fuzz-cs');
  const dir = cloud.services.directory;
  const csAdmin = await dir.createUser({ name: 'fuzz-cs-admin', password: 'fuzz-cs-admin-pw', defaultProjectId: csMember.projectId });
  await dir.assignRole(csMember.projectId, csAdmin.id, (await dir.listRoles({ name: 'admin' }))[0].id);
  const basic = { admin: basicAuth('fuzz-cs-admin', 'fuzz-cs-admin-pw'), member: basicAuth('fuzz-cs-user', 'fuzz-cs-pw') };

  const image = (await cloud.services.db.selectFrom('images').select('id').executeTakeFirstOrThrow()).id;
  const net = await req('POST', '/network/v2.0/networks', { token: m, body: { network: { name: 'fuzz-net' } } });
  await ok(net, 'network');
  const subnet = await req('POST', '/network/v2.0/subnets', { token: m, body: { subnet: { network_id: net.body.network.id, cidr: '10.0.0.0/24', ip_version: 4 } } });
  await ok(subnet, 'subnet');
  const port = await req('POST', '/network/v2.0/ports', { token: m, body: { port: { network_id: net.body.network.id } } });
  await ok(port, 'port');
  const sg = await req('POST', '/network/v2.0/security-groups', { token: m, body: { security_group: { name: 'fuzz-sg' } } });
  await ok(sg, 'security group');
  const rule = await req('POST', '/network/v2.0/security-group-rules', { token: m, body: { security_group_rule: { security_group_id: sg.body.security_group.id, direction: 'ingress' } } });
  await ok(rule, 'security group rule');

  // L3: a router from fuzz-net to the seeded external network, and a floating IP there.
  const publicNet = (await req('GET', '/network/v2.0/networks?name=public', { token: m })).body.networks[0].id as string;
  const router = await req('POST', '/network/v2.0/routers', { token: m, body: { router: { name: 'fuzz-router', external_gateway_info: { network_id: publicNet } } } });
  await ok(router, 'router');
  await ok(await req('PUT', `/network/v2.0/routers/${router.body.router.id}/add_router_interface`, { token: m, body: { subnet_id: subnet.body.subnet.id } }), 'router interface');
  const fip = await req('POST', '/network/v2.0/floatingips', { token: m, body: { floatingip: { floating_network_id: publicNet } } });
  await ok(fip, 'floating IP');

  const server = await bootServer(cloud, m, { networks: [{ uuid: net.body.network.id }], metadata: { k: 'v' } });
  await ok(await req('PUT', `${COMPUTE}/servers/${server}/tags/tag1`, { token: m, version: '2.26' }), 'tag');
  // A cold migration (confirmed) leaves a migration record and an instance action behind.
  await ok(await req('POST', `${COMPUTE}/servers/${server}/action`, { token: a, body: { migrate: null } }), 'migrate');
  await cloud.services.runner.idle();
  await ok(await req('POST', `${COMPUTE}/servers/${server}/action`, { token: a, body: { confirmResize: null } }), 'confirm');
  await cloud.services.runner.idle();
  const migrations = await req('GET', `${COMPUTE}/os-migrations`, { token: a });
  const interfaces = await req('GET', `${COMPUTE}/servers/${server}/os-interface`, { token: m });
  await ok(interfaces, 'interfaces');
  const actions = await req('GET', `${COMPUTE}/servers/${server}/os-instance-actions`, { token: m });

  const keypair = await req('POST', `${COMPUTE}/os-keypairs`, { token: m, body: { keypair: { name: 'fuzz-key' } } });
  await ok(keypair, 'keypair');
  const group = await req('POST', `${COMPUTE}/os-server-groups`, { token: m, body: { server_group: { name: 'fuzz-group', policies: ['affinity'] } } });
  await ok(group, 'server group');
  const flavor = await req('POST', `${COMPUTE}/flavors`, { token: a, body: { flavor: { name: 'fuzz-flavor', id: 'fuzz-flavor', ram: 512, vcpus: 1, disk: 1, 'os-flavor-access:is_public': false } } });
  await ok(flavor, 'flavor');
  await ok(await req('POST', `${COMPUTE}/flavors/fuzz-flavor/os-extra_specs`, { token: a, body: { extra_specs: { 'hw:cpu_policy': 'shared' } } }), 'extra spec');
  const aggregate = await req('POST', `${COMPUTE}/os-aggregates`, { token: a, body: { aggregate: { name: 'fuzz-agg' } } });
  await ok(aggregate, 'aggregate');
  const hypervisors = await req('GET', `${COMPUTE}/os-hypervisors`, { token: a, version: 'latest' });
  const services = await req('GET', `${COMPUTE}/os-services`, { token: a, version: 'latest' });
  const ownImage = await req('POST', '/image/v2/images', { token: m, body: { name: 'fuzz-image', disk_format: 'raw', container_format: 'bare', tags: ['t'], k: 'v' } });
  await ok(ownImage, 'image');
  const role = await req('POST', '/identity/v3/roles', { token: a, body: { role: { name: 'fuzz-role' } } });
  await ok(role, 'role');
  const behaviour = await req('POST', '/nimbus/v1/behaviours', { token: a, body: { behaviour: { match: { name: '^never$' }, count: 1 } } });
  await ok(behaviour, 'behaviour');

  // The CloudSigma face's resources, made by the member through it.
  const cs = (method: string, path: string, body?: unknown) => req(method, `${CS}${path}`, { body, headers: { authorization: basic.member } });
  const csTag = await cs('POST', '/tags/', { objects: [{ name: 'fuzz-tag', meta: { k: 'v' } }] });
  await ok(csTag, 'CloudSigma tag');
  const csDrive = await cs('POST', '/drives/', { objects: [{ name: 'fuzz-drive', size: 1073741824, media: 'disk' }] });
  await ok(csDrive, 'CloudSigma drive');
  // The drive the server sample attaches: every server made from it may mount it.
  const csShared = await cs('POST', '/drives/', { objects: [{ name: 'fuzz-shared', size: 1073741824, media: 'disk', allow_multimount: true }] });
  await ok(csShared, 'CloudSigma shared drive');
  await cloud.services.runner.idle();
  const csServer = await cs('POST', '/servers/', { objects: [{ name: 'fuzz-cs', cpu: 1000, mem: 536870912, vnc_password: 'fuzzpass' }] });
  await ok(csServer, 'CloudSigma server');
  const csSnapshot = await cs('POST', '/snapshots/', { objects: [{ drive: csDrive.body.objects[0].uuid, name: 'fuzz-snap' }] });
  await ok(csSnapshot, 'CloudSigma snapshot');
  await cloud.services.runner.idle();
  const csKeypair = await cs('POST', '/keypairs/', { objects: [{ name: 'fuzz-cs-key', public_key: ED25519_KEY }] });
  await ok(csKeypair, 'CloudSigma keypair');
  // A clone leaves a job behind.
  await ok(await cs('POST', `/drives/${csDrive.body.objects[0].uuid}/action/?do=clone`, { name: 'fuzz-clone' }), 'CloudSigma clone');
  await cloud.services.runner.idle();
  const csJobs = await cs('GET', '/jobs/?limit=1');
  await ok(csJobs, 'CloudSigma jobs');
  const cs1 = {
    server: csServer.body.objects[0].uuid as string,
    drive: csDrive.body.objects[0].uuid as string,
    snapshot: csSnapshot.body.objects[0].uuid as string,
    tag: csTag.body.objects[0].uuid as string,
  };

  const ids = {
    server,
    network: net.body.network.id as string,
    subnet: subnet.body.subnet.id as string,
    port: port.body.port.id as string,
    sg: sg.body.security_group.id as string,
    image: ownImage.body.id as string,
  };
  const params: Record<string, string> = {
    'servers/:id': server,
    'flavors/:id': 'fuzz-flavor',
    'os-extra_specs/:key': 'hw:cpu_policy',
    'os-server-groups/:id': group.body.server_group.id,
    'migrations/:mid': String(migrations.body.migrations[0].id),
    'os-keypairs/:name': 'fuzz-key',
    'os-quota-sets/:project_id': victim.projectId,
    'os-quota-class-sets/:class_name': 'default',
    'os-hypervisors/:id': String(hypervisors.body.hypervisors[0].id),
    'os-services/:id': String(services.body.services.find((s: { binary: string }) => s.binary === 'nova-compute').id),
    'os-hosts/:host': 'fake-host-1',
    'os-aggregates/:id': String(aggregate.body.aggregate.id),
    'metadata/:key': 'k',
    'tags/:tag': 'tag1',
    'ips/:network': 'fuzz-net',
    'os-instance-actions/:requestId': actions.body.instanceActions[0].request_id,
    'os-simple-tenant-usage/:projectId': member.projectId,
    'os-instance_usage_audit_log/:before': '2020-01-01 00:00:00',
    'images/:id': ids.image,
    'compute:extensions/:alias': 'os-keypairs',
    'network:extensions/:alias': 'security-group',
    'tags/*': 't',
    'networks/:id': ids.network,
    'subnets/:id': ids.subnet,
    'ports/:id': ids.port,
    'security-groups/:id': ids.sg,
    'security-group-rules/:id': rule.body.security_group_rule.id,
    'os-security-groups/:id': ids.sg,
    'os-interface/:port_id': interfaces.body.interfaceAttachments[0].port_id,
    'os-networks/:id': ids.network,
    'os-tenant-networks/:id': ids.network,
    'os-security-group-rules/:id': rule.body.security_group_rule.id,
    'quotas/:id': victim.projectId,
    'routers/:id': router.body.router.id,
    'floatingips/:id': fip.body.floatingip.id,
    'os-floating-ips/:id': fip.body.floatingip.id,
    'auto-allocated-topology/:project_id': victim.projectId,
    'behaviours/:id': behaviour.body.behaviour.id,
    'hosts/:name': 'fake-host-1',
    'projects/:project_id': victim.projectId,
    'users/:user_id': victim.userId,
    'roles/:role_id': role.body.role.id,
    'domains/:domain_id': 'default',
    'cloudsigma:servers/:uuid': cs1.server,
    'cloudsigma:availability_groups/:uuid': cs1.server,
    'cloudsigma:drives/:uuid': cs1.drive,
    'cloudsigma:snapshots/:uuid': cs1.snapshot,
    'cloudsigma:tags/:uuid': cs1.tag,
    'cloudsigma:keypairs/:uuid': csKeypair.body.objects[0].uuid,
    'cloudsigma:pubkeys/:uuid': csKeypair.body.objects[0].uuid,
    'cloudsigma:jobs/:uuid': csJobs.body.objects[0].uuid,
    'cloudsigma:libdrives/:uuid': image,
    'drive-quotas/:project': victim.projectId,
  };

  const action = (body: unknown, version?: string): Sample => ({ body, version });
  const patchType = 'application/openstack-images-v2.1-json-patch';
  const samples: Record<string, Sample[]> = {
    // identity
    'POST /identity/v3/auth/tokens': [
      { body: { auth: { identity: { methods: ['token'], token: { id: a } }, scope: { project: { name: 'admin', domain: { id: 'default' } } } } } },
      {
        body: {
          auth: {
            identity: { methods: ['password'], password: { user: { name: 'fuzz-victim-user', domain: { id: 'default' }, password: 'fuzz-victim-pw' } } },
            scope: { project: { name: 'fuzz-victim', domain: { id: 'default' } } },
          },
        },
      },
    ],
    'POST /identity/v3/projects': [{ body: { project: { name: 'fz-project', description: 'd', domain_id: 'default', enabled: true } } }],
    'PATCH /identity/v3/projects/:project_id': [{ body: { project: { description: 'd' } } }],
    // Without a password: hashing one costs a key derivation per request.
    'POST /identity/v3/users': [{ body: { user: { name: 'fz-user', domain_id: 'default', default_project_id: victim.projectId, enabled: true, email: 'a@example.org' } } }],
    'PATCH /identity/v3/users/:user_id': [{ body: { user: { email: 'b@example.org', enabled: true } } }],
    'POST /identity/v3/roles': [{ body: { role: { name: 'fz-role' } } }],
    'POST /identity/v3/domains': [{ body: { domain: { name: 'fz-domain', description: 'd' } } }],
    'PATCH /identity/v3/domains/:domain_id': [{ body: { domain: { description: 'd' } } }],
    // compute
    'POST /compute/v2.1/flavors': [
      { body: { flavor: { name: 'fz', id: 'fz-id', ram: 512, vcpus: 1, disk: 1, 'OS-FLV-EXT-DATA:ephemeral': 0, swap: 0, rxtx_factor: 1.0, 'os-flavor-access:is_public': true, description: 'd' } } },
    ],
    'PUT /compute/v2.1/flavors/:id': [{ body: { flavor: { description: 'd' } } }],
    'POST /compute/v2.1/flavors/:id/action': [{ body: { addTenantAccess: { tenant: victim.projectId } } }, { body: { removeTenantAccess: { tenant: victim.projectId } } }],
    'POST /compute/v2.1/flavors/:id/os-extra_specs': [{ body: { extra_specs: { 'hw:cpu_policy': 'shared', 'quota:cpu_shares': '10' } } }],
    'PUT /compute/v2.1/flavors/:id/os-extra_specs/:key': [{ body: (p: Record<string, string>) => ({ [p.key]: 'shared' }) }],
    'POST /compute/v2.1/servers': [
      {
        body: {
          server: {
            name: 'fz',
            imageRef: image,
            flavorRef: '1',
            networks: [{ uuid: ids.network }],
            metadata: { k: 'v' },
            description: 'd',
            key_name: 'fuzz-key',
            security_groups: [{ name: 'default' }],
            availability_zone: 'nova',
            tags: ['t'],
            min_count: 1,
            max_count: 1,
          },
          'os:scheduler_hints': { group: group.body.server_group.id },
        },
      },
    ],
    'PUT /compute/v2.1/servers/:id': [{ body: { server: { name: 'fz', description: 'd' } } }],
    'POST /compute/v2.1/os-server-groups': [{ body: { server_group: { name: 'g', policy: 'anti-affinity', rules: { max_server_per_host: 1 } } } }],
    'POST /compute/v2.1/servers/:id/action': [
      action({ reboot: { type: 'SOFT' } }),
      action({ lock: { locked_reason: 'r' } }),
      action({ lock: { locked_reason: 'r' } }, '2.72'),
      action({ unlock: null }),
      action({ createImage: { name: 'snap', metadata: { k: 'v' } } }),
      action({ createBackup: { name: 'b', backup_type: 'daily', rotation: 1, metadata: { k: 'v' } } }),
      action({ 'os-getConsoleOutput': { length: 10 } }),
      action({ 'os-getVNCConsole': { type: 'novnc' } }, '2.1'),
      action({ resize: { flavorRef: '2' } }),
      action({ rebuild: { imageRef: image, name: 'r', metadata: { k: 'v' }, description: 'd' } }),
      action({ rescue: { adminPass: 'p', rescue_image_ref: image } }),
      action({ 'os-resetState': { state: 'active' } }),
      action({ migrate: { host: 'fake-host-2' } }),
      action({ 'os-migrateLive': { host: 'fake-host-3', block_migration: 'auto' } }),
      action({ evacuate: { host: 'fake-host-1' } }),
      action({ changePassword: { adminPass: 'p' } }),
      action({ unshelve: { availability_zone: 'nova' } }),
      action({ addSecurityGroup: { name: 'fuzz-sg' } }),
      action({ addFloatingIp: { address: fip.body.floatingip.floating_ip_address } }, '2.43'),
      action({ removeFloatingIp: { address: fip.body.floatingip.floating_ip_address } }, '2.43'),
      action({ removeSecurityGroup: { name: 'fuzz-sg' } }),
    ],
    // Nova's proxy to Neutron's security groups, gone from 2.36.
    'POST /compute/v2.1/os-security-groups': [{ body: { security_group: { name: 'fz-sg', description: 'd' } }, version: '2.35' }],
    'PUT /compute/v2.1/os-security-groups/:id': [{ body: { security_group: { name: 'fuzz-sg', description: 'd' } }, version: '2.35' }],
    'POST /compute/v2.1/os-security-group-rules': [
      { body: { security_group_rule: { parent_group_id: ids.sg, ip_protocol: 'tcp', from_port: 2222, to_port: 2222, cidr: '192.0.2.0/24' } }, version: '2.35' },
    ],
    'POST /compute/v2.1/servers/:id/os-interface': [{ body: { interfaceAttachment: { net_id: ids.network, fixed_ips: [{ ip_address: '10.0.0.77' }], tag: 't' } } }],
    'POST /compute/v2.1/servers/:id/remote-consoles': [{ body: { remote_console: { protocol: 'vnc', type: 'novnc' } } }],
    'POST /compute/v2.1/servers/:id/migrations/:mid/action': [{ body: { force_complete: null } }],
    'POST /compute/v2.1/os-keypairs': [{ body: { keypair: { name: 'fz', type: 'ssh', user_id: member.userId, public_key: ED25519_KEY } } }],
    'PUT /compute/v2.1/os-quota-sets/:project_id': [{ body: { quota_set: { instances: 10, cores: 20, key_pairs: 5, force: false } } }],
    'PUT /compute/v2.1/os-quota-class-sets/:class_name': [{ body: { quota_class_set: { instances: 10, ram: 51200 } } }],
    'PUT /compute/v2.1/os-services/:id': [{ body: { status: 'enabled', forced_down: false } }],
    'PUT /compute/v2.1/os-hosts/:host': [{ body: { status: 'enable', maintenance_mode: 'disable' } }],
    'POST /compute/v2.1/os-aggregates': [{ body: { aggregate: { name: 'fz-agg', availability_zone: 'nova' } } }],
    'PUT /compute/v2.1/os-aggregates/:id': [{ body: { aggregate: { name: 'fuzz-agg', availability_zone: 'nova' } } }],
    'POST /compute/v2.1/os-aggregates/:id/action': [
      { body: { set_metadata: { metadata: { k: 'v' } } } },
      { body: { add_host: { host: 'fake-host-1' } } },
      { body: { remove_host: { host: 'fake-host-1' } } },
    ],
    'POST /compute/v2.1/os-aggregates/:id/images': [{ body: { cache: [{ id: image }] } }],
    'POST /compute/v2.1/servers/:id/metadata': [{ body: { metadata: { k: 'v' } } }],
    'PUT /compute/v2.1/servers/:id/metadata': [{ body: { metadata: { k: 'v' } } }],
    'PUT /compute/v2.1/servers/:id/metadata/:key': [{ body: (p: Record<string, string>) => ({ meta: { [p.key]: 'v' } }) }],
    'PUT /compute/v2.1/servers/:id/tags': [{ body: { tags: ['tag1', 'tag2'] } }],
    'POST /compute/v2.1/images/:id/metadata': [{ body: { metadata: { k: 'v' } } }],
    'PUT /compute/v2.1/images/:id/metadata': [{ body: { metadata: { k: 'v' } } }],
    'PUT /compute/v2.1/images/:id/metadata/:key': [{ body: (p: Record<string, string>) => ({ meta: { [p.key]: 'v' } }) }],
    'POST /compute/v2.1/os-server-external-events': [{ body: { events: [{ name: 'network-changed', server_uuid: server, tag: 't', status: 'completed' }] } }],
    // image
    'POST /image/v2/images': [
      { body: { name: 'fz', disk_format: 'raw', container_format: 'bare', visibility: 'private', min_disk: 1, min_ram: 1, tags: ['t'], protected: false, custom: 'p' } },
    ],
    'PATCH /image/v2/images/:id': [
      {
        contentType: patchType,
        body: [
          { op: 'replace', path: '/name', value: 'n' },
          { op: 'add', path: '/custom', value: 'v' },
          { op: 'replace', path: '/min_disk', value: 1 },
        ],
      },
    ],
    'PUT /image/v2/images/:id/file': [{ body: 'raw image data', contentType: 'application/octet-stream' }],
    // network
    'POST /network/v2.0/networks': [{ body: { network: { name: 'n', description: 'd', admin_state_up: true, mtu: 1400, shared: false, port_security_enabled: true } } }],
    'PUT /network/v2.0/networks/:id': [{ body: { network: { name: 'fuzz-net', description: 'd', mtu: 1450 } } }],
    'POST /network/v2.0/subnets': [
      {
        body: {
          subnet: {
            network_id: ids.network,
            cidr: '10.9.0.0/24',
            ip_version: 4,
            name: 's',
            gateway_ip: '10.9.0.1',
            allocation_pools: [{ start: '10.9.0.10', end: '10.9.0.20' }],
            dns_nameservers: ['192.0.2.53'],
            enable_dhcp: true,
          },
        },
      },
    ],
    'PUT /network/v2.0/subnets/:id': [{ body: { subnet: { name: 's2', description: 'd' } } }],
    'POST /network/v2.0/ports': [
      {
        body: {
          port: {
            network_id: ids.network,
            name: 'p',
            description: 'd',
            fixed_ips: [{ subnet_id: ids.subnet, ip_address: '10.0.0.50' }],
            security_groups: [ids.sg],
            admin_state_up: true,
            device_owner: 'compute:nova',
          },
        },
      },
    ],
    'PUT /network/v2.0/ports/:id': [{ body: { port: { name: 'p2', description: 'd', security_groups: [ids.sg] } } }],
    'POST /network/v2.0/security-groups': [{ body: { security_group: { name: 'sg', description: 'd', stateful: true } } }],
    'PUT /network/v2.0/security-groups/:id': [{ body: { security_group: { name: 'sg2', description: 'd' } } }],
    'POST /network/v2.0/security-group-rules': [
      {
        body: {
          security_group_rule: {
            security_group_id: ids.sg,
            direction: 'ingress',
            ethertype: 'IPv4',
            protocol: 'tcp',
            port_range_min: 22,
            port_range_max: 22,
            remote_ip_prefix: '192.0.2.0/24',
            description: 'd',
          },
        },
      },
    ],
    'POST /network/v2.0/routers': [{ body: { router: { name: 'r', description: 'd', admin_state_up: true, external_gateway_info: { network_id: publicNet } } } }],
    'PUT /network/v2.0/routers/:id': [{ body: { router: { name: 'r2', description: 'd', admin_state_up: true, external_gateway_info: { network_id: publicNet } } } }],
    'PUT /network/v2.0/routers/:id/add_router_interface': [{ body: { subnet_id: subnet.body.subnet.id } }],
    'PUT /network/v2.0/routers/:id/remove_router_interface': [{ body: { subnet_id: subnet.body.subnet.id } }],
    'POST /network/v2.0/floatingips': [{ body: { floatingip: { floating_network_id: publicNet, description: 'd', port_id: ids.port, fixed_ip_address: '10.0.0.2' } } }],
    'PUT /network/v2.0/floatingips/:id': [{ body: { floatingip: { port_id: ids.port, fixed_ip_address: '10.0.0.2', description: 'd' } } }],
    'POST /compute/v2.1/os-floating-ips': [{ body: { pool: 'public' }, version: '2.35' }],
    'PUT /network/v2.0/quotas/:id': [{ body: { quota: { network: 10, port: 50, security_group_rule: 100 } } }],
    // control
    'POST /nimbus/v1/behaviours': [{ body: { behaviour: { match: { name: '^never$', metadata: { k: 'v' } }, count: 1, fault: { message: 'm', code: 500 }, build_ms: 0, error_after_ms: 0 } } }],
    'PUT /nimbus/v1/hosts/:name': [{ body: { host: { state: 'up' } } }],
    'POST /nimbus/v1/clock/advance': [{ body: { seconds: 1 } }],
    'PUT /nimbus/v1/drive-quotas/:project': [{ body: { quota_set: { volumes: 10, gigabytes: 1000 } } }],
    // CloudSigma (keyed without the trailing slash, which its twin shares); actions by `?do=`.
    'POST /api/2.0/servers': [
      {
        body: {
          objects: [
            {
              name: 'fz',
              cpu: 1000,
              smp: 1,
              mem: 536870912,
              vnc_password: 'fuzzpass',
              meta: { k: 'v' },
              tags: [cs1.tag],
              drives: [{ boot_order: 1, dev_channel: '0:0', device: 'virtio', drive: csShared.body.objects[0].uuid }],
              nics: [{ ip_v4_conf: { conf: 'dhcp', ip: null }, model: 'virtio' }],
            },
          ],
        },
      },
    ],
    'PUT /api/2.0/servers/:uuid': [{ body: { name: 'fuzz-cs', cpu: 1000, mem: 536870912, vnc_password: 'fuzzpass', meta: { k: 'v' }, tags: [cs1.tag] } }],
    'POST /api/2.0/servers/:uuid/action': [{ query: 'do=clone', body: { name: 'fz-clone', random_vnc_password: true } }],
    'POST /api/2.0/drives': [{ body: { objects: [{ name: 'fz', size: 1073741824, media: 'disk', allow_multimount: false, meta: { k: 'v' }, tags: [cs1.tag], affinities: ['ssd'] }] } }],
    'PUT /api/2.0/drives/:uuid': [{ body: { name: 'fuzz-drive', size: 1073741824, media: 'disk', allow_multimount: false, meta: { k: 'v' }, tags: [cs1.tag] } }],
    'POST /api/2.0/drives/:uuid/action': [
      { query: 'do=clone', body: { name: 'fz-clone', media: 'disk', meta: { k: 'v' }, affinities: [] } },
      { query: 'do=resize', body: { size: 2147483648 } },
    ],
    'DELETE /api/2.0/drives': [{ body: { objects: [{ uuid: '00000000-0000-4000-8000-000000000000' }] } }],
    'POST /api/2.0/snapshots': [{ body: { objects: [{ drive: cs1.drive, name: 'fz', meta: { k: 'v' }, tags: [cs1.tag] }] } }],
    'PUT /api/2.0/snapshots/:uuid': [{ body: { name: 'fuzz-snap', meta: { k: 'v' }, tags: [cs1.tag] } }],
    'POST /api/2.0/snapshots/:uuid/action': [{ query: 'do=clone', body: { name: 'fz-clone', media: 'disk' } }],
    'POST /api/2.0/libdrives/:uuid/action': [{ query: 'do=clone', body: { name: 'fz-clone', media: 'disk' } }],
    'POST /api/2.0/tags': [{ body: { objects: [{ name: 'fz', meta: { k: 'v' }, resources: [cs1.server] }] } }],
    // Without a name: a fuzzed name that is valid renames the tag, and its uuid (derived from the name) with it.
    'PUT /api/2.0/tags/:uuid': [{ body: { meta: { k: 'v' }, resources: [cs1.server] } }],
    'POST /api/2.0/keypairs': [{ body: { objects: [{ name: 'fz', public_key: ED25519_KEY }] } }],
    'PUT /api/2.0/keypairs/:uuid': [{ body: { name: 'fuzz-cs-key' } }],
    'POST /api/2.0/global_context': [{ body: { k: 'v' } }],
    'PUT /api/2.0/profile': [{ body: { first_name: 'F', clone_naming: 'DATE' } }],
    'POST /api/2.0/accounts/action': [{ query: 'do=login', body: { username: 'fuzz-cs-user', password: 'fuzz-cs-pw' } }],
  };

  const world: World = {
    admin: a,
    member: m,
    basic,
    renewTokens: async () => {
      world.admin = await cloud.token('admin', ADMIN_PASSWORD, 'admin');
      world.member = await cloud.token('fuzz-user', 'fuzz-pw', 'fuzz');
    },
    params,
    samples,
  };
  return world;
}
