import type { Services } from '../services.js';
import type { ServerTable } from '../db/schema.js';
import type { GuestDrive, GuestImage, GuestPort, GuestSpec } from '../virt/driver.js';
import type { Db } from '../db/database.js';
import { parseJson, type ServerFlavor } from '../compute/servers.js';
import { ImageFiles } from '../image/files.js';

/**
 * What a driver is told about a server, in the driver's own terms: built in one place for
 * every task that starts a guest (build, rebuild, unshelve, resize, evacuate …).
 */
export async function guestSpec(
  s: Services,
  server: ServerTable,
  flavor: ServerFlavor = parseJson<ServerFlavor>(server.flavor, {} as ServerFlavor),
  extra: {
    files?: { path: string; contents: string }[];
    adminPassword?: string | null;
    /** The image the root disk is made from when not the server's own (an unshelve boots its shelved snapshot). */
    diskImageId?: string | null;
  } = {},
): Promise<GuestSpec> {
  const imageId = server.image_id || parseJson<{ bootImage?: string }>(server.request_spec, {}).bootImage || '';
  return {
    id: server.id,
    name: server.name,
    hostname: server.hostname,
    vcpus: flavor.vcpus,
    memoryMb: flavor.ram,
    diskGb: flavor.disk,
    ephemeralGb: flavor.ephemeral ?? 0,
    swapMb: flavor.swap ?? 0,
    imageId,
    userData: server.user_data,
    keyData: server.key_data,
    adminPassword: extra.adminPassword ?? null,
    files: extra.files ?? [],
    ports: await portsOf(s, server.id),
    projectId: server.project_id,
    availabilityZone: server.availability_zone,
    launchIndex: server.launch_index,
    reservationId: server.reservation_id,
    keyName: server.key_name,
    metadata: parseJson<Record<string, string>>(server.metadata, {}),
    flavorName: flavor.name,
    securityGroups: parseJson<string[]>(server.security_groups, []),
    configDrive: server.config_drive !== '',
    image: extra.diskImageId || imageId ? await imageOf(s.db, s.config.imageDir, extra.diskImageId || imageId) : null,
  };
}

/** The server's ports in the order they were made (the order of its NICs), with their addresses' subnets. */
async function portsOf(s: Services, serverId: string): Promise<GuestPort[]> {
  const ports = await s.db
    .selectFrom('ports')
    .innerJoin('networks', 'networks.id', 'ports.network_id')
    .select(['ports.id', 'ports.mac_address', 'ports.network_id', 'networks.mtu'])
    .where('ports.device_id', '=', serverId)
    .orderBy('ports.created_at')
    .orderBy('ports.id')
    .execute();
  if (!ports.length) return [];
  const ips = await s.db
    .selectFrom('ip_allocations')
    .innerJoin('subnets', 'subnets.id', 'ip_allocations.subnet_id')
    .select(['ip_allocations.port_id', 'ip_allocations.ip_address', 'subnets.cidr', 'subnets.gateway_ip', 'subnets.enable_dhcp', 'subnets.dns_nameservers', 'subnets.host_routes'])
    .where('ip_allocations.port_id', 'in', ports.map((p) => p.id))
    .orderBy('ip_allocations.position')
    .execute();
  const floating = await s.db
    .selectFrom('floating_ips')
    .select(['fixed_port_id', 'fixed_ip_address', 'floating_ip_address'])
    .where('fixed_port_id', 'in', ports.map((p) => p.id))
    .execute();
  return ports.map((p) => {
    const mine = ips.filter((i) => i.port_id === p.id);
    const floatingOf = (ip: string) => floating.filter((f) => f.fixed_port_id === p.id && f.fixed_ip_address === ip).map((f) => f.floating_ip_address);
    return {
      id: p.id,
      mac: p.mac_address,
      networkId: p.network_id,
      mtu: p.mtu,
      ips: mine.map((i) => i.ip_address),
      subnets: mine.map((i) => ({
        ip: i.ip_address,
        cidr: i.cidr,
        gateway: i.gateway_ip,
        dhcp: Boolean(i.enable_dhcp),
        dns: parseJson<string[]>(i.dns_nameservers, []),
        routes: parseJson<{ destination: string; nexthop: string }[]>(i.host_routes, []),
      })),
      floatingIps: mine.flatMap((i) => floatingOf(i.ip_address)),
    };
  });
}

/** The image with the kernel and ramdisk it names (Glance's kernel_id, ramdisk_id, os_command_line). */
async function imageOf(db: Db, imageDir: string, id: string): Promise<GuestImage | null> {
  const image = await db.selectFrom('images').select(['id', 'disk_format', 'properties']).where('id', '=', id).executeTakeFirst();
  if (!image) return null;
  const files = new ImageFiles(imageDir);
  const props = parseJson<Record<string, unknown>>(image.properties, {});
  const str = (v: unknown) => (typeof v === 'string' && v ? v : null);
  const kernel = str(props.kernel_id);
  const ramdisk = str(props.ramdisk_id);
  return {
    id: image.id,
    diskFormat: image.disk_format ?? 'raw',
    path: files.path(image.id),
    kernelPath: kernel ? files.path(kernel) : null,
    ramdiskPath: ramdisk ? files.path(ramdisk) : null,
    commandLine: str(props.os_command_line),
    guestAgent: ['yes', 'true', '1'].includes(String(props.hw_qemu_guest_agent ?? '').toLowerCase()),
    adminUser: str(props.os_admin_user),
  };
}

/**
 * The drives attached to a server, booted ones first by boot order, then the others as
 * attached: what a machine of a CloudSigma server boots from, read each time it starts, so
 * the drives a stopped server was given meanwhile are the ones it runs.
 */
export async function attachedDrives(db: Db, imageDir: string, serverId: string): Promise<GuestDrive[]> {
  const rows = await db
    .selectFrom('drive_attachments')
    .innerJoin('drives', 'drives.id', 'drive_attachments.drive_id')
    .innerJoin('servers', 'servers.id', 'drive_attachments.server_id')
    .select(['drives.id', 'drives.media', 'drives.image_id', 'drive_attachments.boot_order', 'drive_attachments.created_at', 'drive_attachments.device', 'drive_attachments.dev_channel'])
    .where('drive_attachments.server_id', '=', serverId)
    // A compute-API server's root disk shows as a drive too, but its machine boots its own copy.
    .where('servers.cloudsigma', 'is not', null)
    .execute();
  const order = (b: number | null) => b ?? Number.MAX_SAFE_INTEGER;
  rows.sort((a, b) => order(a.boot_order) - order(b.boot_order) || a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
  return Promise.all(
    rows.map(async (r) => ({
      id: r.id,
      media: r.media === 'cdrom' ? ('cdrom' as const) : ('disk' as const),
      bootOrder: r.boot_order,
      image: r.image_id ? await imageOf(db, imageDir, r.image_id) : null,
      device: r.device,
      devChannel: r.dev_channel,
    })),
  );
}
