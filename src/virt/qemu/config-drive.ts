import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { GuestSpec } from '../driver.js';

const run = promisify(execFile);

/** The metadata versions Nova's config drive carries (nova/api/metadata/base.py), oldest first. */
const OPENSTACK_VERSIONS = ['2012-08-10', '2013-04-04', '2013-10-17', '2015-10-15', '2016-06-30', '2016-10-06', '2017-02-22', '2018-08-27', '2020-10-14', 'latest'];
const EC2_VERSIONS = ['2009-04-04', 'latest'];

function netmaskOf(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 255).join('.');
}

/** meta_data.json as Nova's InstanceMetadata writes it. */
export function metaData(spec: GuestSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {
    uuid: spec.id,
    meta: spec.metadata,
    hostname: spec.hostname,
    name: spec.name,
    launch_index: spec.launchIndex,
    availability_zone: spec.availabilityZone,
    project_id: spec.projectId,
    devices: [],
  };
  if (spec.keyData) {
    const name = spec.keyName ?? 'key';
    out.public_keys = { [name]: spec.keyData };
    out.keys = [{ name, type: 'ssh', data: spec.keyData }];
  }
  if (spec.adminPassword) out.admin_pass = spec.adminPassword;
  if (spec.files.length) out.files = spec.files.map((f, i) => ({ path: f.path, content_path: `/content/${String(i).padStart(4, '0')}` }));
  return out;
}

/** network_data.json: one link per port (its MAC), one static IPv4 network per address. */
export function networkData(spec: GuestSpec): Record<string, unknown> {
  const links = spec.ports.map((p, i) => ({ id: `tap${(p.id ?? String(i)).slice(0, 11)}`, vif_id: p.id, type: 'ethernet', mtu: p.mtu ?? 1500, ethernet_mac_address: p.mac }));
  const networks: Record<string, unknown>[] = [];
  spec.ports.forEach((p, i) => {
    for (const s of p.subnets ?? []) {
      if (!s.ip.includes('.')) continue;
      networks.push({
        id: `network${networks.length}`,
        type: 'ipv4',
        link: links[i].id,
        ip_address: s.ip,
        netmask: netmaskOf(Number(s.cidr.split('/')[1])),
        routes: s.gateway ? [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: s.gateway }] : [],
        network_id: p.networkId,
        services: [],
      });
    }
  });
  return { links, networks, services: [] };
}

/** EC2's flat meta-data.json (the ec2/ tree): what cloud-init's Ec2 reading of a config drive uses. */
function ec2MetaData(spec: GuestSpec): Record<string, unknown> {
  const ip = spec.ports[0]?.subnets?.find((s) => s.ip.includes('.'))?.ip ?? null;
  return {
    'ami-id': spec.image?.id ?? '',
    'instance-id': spec.id,
    hostname: spec.hostname,
    'local-hostname': spec.hostname,
    'local-ipv4': ip,
    placement: { 'availability-zone': spec.availabilityZone },
    'public-keys': spec.keyData ? { '0': { 'openssh-key': spec.keyData } } : {},
    'reservation-id': spec.reservationId ?? '',
  };
}

/**
 * Writes the config drive Nova writes (ISO 9660, volume label config-2) for `spec` into
 * `iso`, through a staging folder beside it; xorriso makes the image as genisoimage would.
 */
export async function writeConfigDrive(spec: GuestSpec, iso: string): Promise<void> {
  const stage = `${iso}.d`;
  rmSync(stage, { recursive: true, force: true });
  const put = (path: string, data: string | Buffer) => {
    const full = join(stage, path);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, data);
  };
  const userData = spec.userData === null ? null : Buffer.from(spec.userData, 'base64');
  const meta = JSON.stringify(metaData(spec));
  const net = JSON.stringify(networkData(spec));
  for (const v of OPENSTACK_VERSIONS) {
    put(`openstack/${v}/meta_data.json`, meta);
    if (userData) put(`openstack/${v}/user_data`, userData);
    if (v >= '2013-10-17') put(`openstack/${v}/vendor_data.json`, '{}');
    if (v >= '2015-10-15') put(`openstack/${v}/network_data.json`, net);
    if (v >= '2016-10-06') put(`openstack/${v}/vendor_data2.json`, '{}');
  }
  spec.files.forEach((f, i) => put(`openstack/content/${String(i).padStart(4, '0')}`, Buffer.from(f.contents, 'base64')));
  for (const v of EC2_VERSIONS) {
    put(`ec2/${v}/meta-data.json`, JSON.stringify(ec2MetaData(spec)));
    if (userData) put(`ec2/${v}/user-data`, userData);
  }
  try {
    await run('xorriso', ['-as', 'mkisofs', '-o', iso, '-V', 'config-2', '-J', '-r', '-l', '-allow-lowercase', '-allow-multidot', '-quiet', stage]);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
