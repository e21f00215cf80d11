import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Services } from './services.js';
import { generatePassword } from './identity/passwords.js';
import { makePrivateDir, PRIVATE_FILE } from './data-dir.js';
import { DEFAULT_MTU, createNetwork, createSubnet } from './network/networks.js';
import { addInterface, createRouter } from './network/routers.js';
import { buildTinyGuest } from './virt/qemu/tiny-guest.js';

/** The classic flavors every OpenStack tutorial assumes. */
export const SEED_FLAVORS = [
  { id: '1', name: 'm1.tiny', vcpus: 1, ram: 512, disk: 1 },
  { id: '2', name: 'm1.small', vcpus: 1, ram: 2048, disk: 20 },
  { id: '3', name: 'm1.medium', vcpus: 2, ram: 4096, disk: 40 },
  { id: '4', name: 'm1.large', vcpus: 4, ram: 8192, disk: 80 },
  { id: '5', name: 'm1.xlarge', vcpus: 8, ram: 16384, disk: 160 },
];

export interface FirstStart {
  adminPassword: string;
  demoPassword: string;
  /** True when the passwords were generated here (and so must be printed once). */
  generated: boolean;
}

/**
 * Seeds an empty database: roles, the admin and demo projects and users, flavors and one
 * image. Does nothing (and returns null) when the database was seeded before.
 */
export async function seed(services: Services): Promise<FirstStart | null> {
  const { db, directory, clock, config } = services;
  if (await directory.findUser({ name: 'admin' })) {
    await seedTinyGuest(services);
    return null;
  }

  const adminPassword = config.adminPassword ?? generatePassword();
  const demoPassword = config.demoPassword ?? generatePassword();
  const roles = Object.fromEntries(
    await Promise.all(['admin', 'member', 'reader'].map(async (n) => [n, (await directory.createRole(n)).id])),
  );
  const adminProject = await directory.createProject({ name: 'admin', description: 'Bootstrap project for the cloud administrator' });
  const demoProject = await directory.createProject({ name: 'demo', description: 'Demo project' });
  // Each password hash is ~50 ms of scrypt in libuv's pool: side by side, not one after the other.
  const [admin, demo] = await Promise.all([
    directory.createUser({ name: 'admin', password: adminPassword, defaultProjectId: adminProject.id }),
    directory.createUser({ name: 'demo', password: demoPassword, defaultProjectId: demoProject.id }),
  ]);
  await directory.assignRole(adminProject.id, admin.id, roles.admin);
  await directory.assignRole(demoProject.id, demo.id, roles.member);

  const now = clock.now().toISOString();
  await db
    .insertInto('flavors')
    .values(SEED_FLAVORS.map((f) => ({ ...f, ephemeral: 0, swap: 0, rxtx_factor: 1, is_public: 1, disabled: 0, description: null, created_at: now })))
    .execute();

  await seedImage(services, adminProject.id);
  await seedTinyGuest(services);
  await seedNetwork(services, demoProject.id);
  await seedPublicNetwork(services, adminProject.id);
  return { adminPassword, demoPassword, generated: !config.adminPassword || !config.demoPassword };
}

/**
 * One public image so that a server can be booted right away. It is a small raw disk of
 * zeros: the fake driver never reads it; the qemu driver brings its own bootable image.
 */
async function seedImage(services: Services, owner: string): Promise<void> {
  // A library drive too (CloudSigma's /libdrives/): a system ready to boot.
  const properties = { image_type: 'preinst', os_type: 'linux', architecture: 'x86_64', os_distro: 'debian', os_version: '12', description: 'A small raw disk to boot servers from, for tests and demos.' };
  await storeSeedImage(services, owner, { name: 'nimbus-demo', disk_format: 'raw', container_format: 'bare', properties }, Buffer.alloc(1024 * 1024));
}

/** Stores an image of the admin project, public and active, with `data` as its bytes. */
async function storeSeedImage(services: Services, owner: string, image: { name: string; disk_format: string; container_format: string; properties: Record<string, string> }, data: Buffer): Promise<string> {
  const { createHash, randomUUID } = await import('node:crypto');
  const id = randomUUID();
  const now = services.clock.now().toISOString();
  const dir = services.config.imageDir;
  makePrivateDir(dir);
  writeFileSync(join(dir, id), data, { mode: PRIVATE_FILE });
  await services.db
    .insertInto('images')
    .values({
      id,
      ...image,
      owner,
      status: 'active',
      visibility: 'public',
      size: data.length,
      checksum: createHash('md5').update(data).digest('hex'),
      os_hash_algo: 'sha512',
      os_hash_value: createHash('sha512').update(data).digest('hex'),
      min_disk: 0,
      min_ram: 0,
      protected: 0,
      properties: JSON.stringify(image.properties),
      tags: '[]',
      created_at: now,
      updated_at: now,
    })
    .execute();
  return id;
}

/** The image the tiny guest boots from, seeded on the qemu driver. */
export const TINY_GUEST_IMAGE = 'nimbus-tiny';

/**
 * On the qemu driver, a bootable image from the first start without any download: the tiny
 * guest (built here from Debian's kernel and busybox) as Glance keeps a kernel-booted image,
 * a kernel (aki), a ramdisk (ari) and a machine image naming both (kernel_id, ramdisk_id).
 * Seeded once; a start on a database seeded with the fake driver seeds it then.
 */
async function seedTinyGuest(services: Services): Promise<void> {
  if (services.config.driver !== 'qemu') return;
  const { db, config } = services;
  if (await db.selectFrom('images').select('id').where('name', '=', TINY_GUEST_IMAGE).where('owner', 'is not', null).executeTakeFirst()) return;
  const admin = await db.selectFrom('projects').select('id').where('name', '=', 'admin').executeTakeFirstOrThrow();
  const tiny = buildTinyGuest(join(config.dataDir, 'guest'));
  const kernelId = await storeSeedImage(services, admin.id, { name: `${TINY_GUEST_IMAGE}-kernel`, disk_format: 'aki', container_format: 'aki', properties: { kernel_version: tiny.kernelVersion } }, readFileSync(tiny.kernel));
  const ramdiskId = await storeSeedImage(services, admin.id, { name: `${TINY_GUEST_IMAGE}-ramdisk`, disk_format: 'ari', container_format: 'ari', properties: {} }, readFileSync(tiny.ramdisk));
  await storeSeedImage(services, admin.id, { name: TINY_GUEST_IMAGE, disk_format: 'raw', container_format: 'bare', properties: { kernel_id: kernelId, ramdisk_id: ramdiskId, os_command_line: 'console=ttyS0' } }, readFileSync(tiny.disk));
  services.log.info({ kernel: tiny.kernelVersion }, `seeded the tiny guest image ${TINY_GUEST_IMAGE}`);
}

/**
 * The network a new DevStack gives its demo project (DevStack's create_neutron_initial_network
 * without a router service): `private`, owned by demo and not shared, with the IPv4 subnet
 * `private-subnet`. A server of the demo project created without --nic gets an address
 * there, as Nova gives it the project's only network.
 */
export const SEED_NETWORK = { project: 'demo', name: 'private', subnet: 'private-subnet', cidr: '10.0.0.0/26', gateway: '10.0.0.1' };

async function seedNetwork(services: Services, projectId: string): Promise<void> {
  await services.network.transaction(async (tx, now) => {
    const network = await createNetwork(tx, now, projectId, {
      name: SEED_NETWORK.name,
      description: '',
      admin_state_up: true,
      shared: false,
      external: false,
      mtu: DEFAULT_MTU,
      port_security_enabled: true,
    });
    await createSubnet(tx, now, projectId, network, {
      name: SEED_NETWORK.subnet,
      description: '',
      ip_version: 4,
      cidr: SEED_NETWORK.cidr,
      gateway_ip: SEED_NETWORK.gateway,
      enable_dhcp: true,
      dns_nameservers: [],
      host_routes: [],
      ipv6_ra_mode: null,
      ipv6_address_mode: null,
    });
  });
}

/**
 * The external network DevStack makes with its L3 service (create_neutron_initial_network):
 * `public`, the admin project's, router:external and the default one (is_default, for
 * auto-allocated topologies), with the IPv4 subnet `public-subnet` 172.24.4.0/24, gateway
 * 172.24.4.1, DHCP off. Floating IPs come from it (`openstack floating ip create public`).
 * DevStack also routes its `private` to it through `router1`: so does Nimbus, so that a
 * demo server's port can take a floating IP at once.
 */
export const SEED_PUBLIC_NETWORK = { project: 'admin', name: 'public', subnet: 'public-subnet', cidr: '172.24.4.0/24', gateway: '172.24.4.1', router: 'router1' };

async function seedPublicNetwork(services: Services, adminProjectId: string): Promise<void> {
  await services.network.transaction(async (tx, now) => {
    const network = await createNetwork(tx, now, adminProjectId, {
      name: SEED_PUBLIC_NETWORK.name,
      description: '',
      admin_state_up: true,
      shared: false,
      external: true,
      is_default: true,
      mtu: DEFAULT_MTU,
      port_security_enabled: true,
    });
    await createSubnet(tx, now, adminProjectId, network, {
      name: SEED_PUBLIC_NETWORK.subnet,
      description: '',
      ip_version: 4,
      cidr: SEED_PUBLIC_NETWORK.cidr,
      gateway_ip: SEED_PUBLIC_NETWORK.gateway,
      enable_dhcp: false,
      dns_nameservers: [],
      host_routes: [],
      ipv6_ra_mode: null,
      ipv6_address_mode: null,
    });
    const demo = await tx.selectFrom('projects').select('id').where('name', '=', SEED_NETWORK.project).executeTakeFirst();
    const privateSubnet = demo && (await tx.selectFrom('subnets').select('id').where('project_id', '=', demo.id).where('name', '=', SEED_NETWORK.subnet).executeTakeFirst());
    if (!demo || !privateSubnet) return;
    const viewer = { projectId: demo.id, isAdmin: true };
    const router = await createRouter(tx, now, viewer, demo.id, { name: SEED_PUBLIC_NETWORK.router, description: '', admin_state_up: true, gateway: { network_id: network.id } });
    await addInterface(tx, now, viewer, router, { subnet_id: privateSubnet.id });
  });
}

/** clouds.yaml for both users, beside the database, readable by its owner only. */
export function cloudsYamlPath(services: Services): string {
  return join(services.config.dataDir, 'clouds.yaml');
}

export function writeCloudsYaml(services: Services, first: FirstStart | null): string {
  const path = cloudsYamlPath(services);
  const authUrl = `${services.config.publicUrl}/identity/v3`;
  makePrivateDir(services.config.dataDir);
  if (first) {
    const cloud = (name: string, user: string, password: string) =>
      [
        `  ${name}:`,
        `    auth:`,
        `      auth_url: ${authUrl}`,
        `      username: ${user}`,
        `      password: ${JSON.stringify(password)}`,
        `      project_name: ${user}`,
        `      user_domain_name: Default`,
        `      project_domain_name: Default`,
        `    region_name: ${services.config.region}`,
        `    interface: public`,
        `    identity_api_version: 3`,
      ].join('\n');
    const text = ['clouds:', cloud('nimbus-admin', 'admin', first.adminPassword), cloud('nimbus-demo', 'demo', first.demoPassword), ''].join('\n');
    writeFileSync(path, text, { mode: PRIVATE_FILE });
    chmodSync(path, PRIVATE_FILE); // the mode above applies only to a file that did not exist
  } else if (existsSync(path)) {
    // Later starts keep the passwords and follow a changed listen address.
    const text = readFileSync(path, 'utf8').replace(/auth_url: .*/g, `auth_url: ${authUrl}`);
    writeFileSync(path, text, { mode: PRIVATE_FILE });
    chmodSync(path, PRIVATE_FILE);
  }
  return path;
}
