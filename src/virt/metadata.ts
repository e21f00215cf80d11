import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { GuestSpec } from './driver.js';

/**
 * What a guest is told about itself: Nova's instance metadata (nova/api/metadata/base.py),
 * built once from a GuestSpec for both ways a guest reads it: the config drive's files and
 * the metadata service's paths. Nothing here knows of ISO images or HTTP.
 */

/** Nova's EC2 versions (base.VERSIONS), oldest first. */
export const EC2_VERSIONS = ['1.0', '2007-01-19', '2007-03-01', '2007-08-29', '2007-10-10', '2007-12-15', '2008-02-01', '2008-09-01', '2009-04-04'];
/** Nova's OpenStack metadata versions (base.OPENSTACK_VERSIONS), oldest first. */
export const OPENSTACK_VERSIONS = ['2012-08-10', '2013-04-04', '2013-10-17', '2015-10-15', '2016-06-30', '2016-10-06', '2017-02-22', '2018-08-27', '2020-10-14'];
/** What `/` lists: the EC2 versions, to anyone. */
export const EC2_ROOT_LISTING = [...EC2_VERSIONS, 'latest'].join('\n');
const GRIZZLY = '2013-04-04';
const HAVANA = '2013-10-17';
const LIBERTY = '2015-10-15';
const NEWTON_ONE = '2016-06-30';
const NEWTON_TWO = '2016-10-06';
const VICTORIA = '2020-10-14';

/** The most a guest may post as its password: Nova keeps four system-metadata chunks of 255 characters. */
export const MAX_PASSWORD_BYTES = 4 * 255;

/** A node of the EC2 tree: a listing (object), a list, or a value. `_name` is how a listing shows a child (public-keys' `0=name`). */
type Ec2Node = { [key: string]: Ec2Node } | Ec2Node[] | string | number | Buffer | null;

/** What the metadata service answers for a path. */
export type MetadataAnswer = { kind: 'data'; body: Buffer; contentType: string } | { kind: 'password' } | null;

const TEXT = 'text/plain';
const JSON_TYPE = 'application/json';

function netmaskOf(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 255).join('.');
}

/** EC2's short ids as Nova derives them from its integer ids: here from the uuid's first 32 bits. */
const ec2Id = (prefix: string, uuid: string) => `${prefix}-${uuid.replace(/-/g, '').slice(0, 8)}`;

const atLeast = (versions: string[], required: string, requested: string) => versions.indexOf(requested) >= versions.indexOf(required);
const osVersion = (v: string) => (v === 'latest' ? OPENSTACK_VERSIONS[OPENSTACK_VERSIONS.length - 1] : v);

/** The first IPv4 address of the first port that has one. */
function fixedIpv4(spec: GuestSpec): string | null {
  for (const p of spec.ports) for (const s of p.subnets ?? []) if (s.ip.includes('.')) return s.ip;
  return null;
}

export class InstanceMetadata {
  private readonly userData: Buffer | null;

  /**
   * `spec` as the driver got it; `options.password` is what the guest posted (the service
   * answers it, the config drive never carries it).
   */
  constructor(
    private readonly spec: GuestSpec,
    private readonly options: { password?: string | null } = {},
  ) {
    this.userData = spec.userData === null ? null : Buffer.from(spec.userData, 'base64');
  }

  /** meta_data.json of an OpenStack version, as InstanceMetadata._metadata_as_json builds it. */
  metaData(version = 'latest'): Record<string, unknown> {
    const v = osVersion(version);
    const spec = this.spec;
    const out: Record<string, unknown> = { uuid: spec.id };
    if (spec.metadata && Object.keys(spec.metadata).length) out.meta = spec.metadata;
    if (spec.files.length) out.files = spec.files.map((f, i) => ({ path: f.path, content_path: `/content/${String(i).padStart(4, '0')}` }));
    if (spec.keyData) {
      const name = spec.keyName ?? 'key';
      out.public_keys = { [name]: spec.keyData };
      out.keys = [{ name, type: 'ssh', data: spec.keyData }];
    }
    out.hostname = spec.hostname;
    out.name = spec.name;
    out.launch_index = spec.launchIndex ?? 0;
    out.availability_zone = spec.availabilityZone ?? null;
    // Only the config drive has it: Nova's metadata service never knows the admin password.
    if (spec.adminPassword) out.admin_pass = spec.adminPassword;
    if (atLeast(OPENSTACK_VERSIONS, GRIZZLY, v)) out.random_seed = randomBytes(512).toString('base64');
    if (atLeast(OPENSTACK_VERSIONS, LIBERTY, v)) out.project_id = spec.projectId ?? null;
    if (atLeast(OPENSTACK_VERSIONS, NEWTON_ONE, v)) out.devices = [];
    if (atLeast(OPENSTACK_VERSIONS, VICTORIA, v)) out.dedicated_cpus = [];
    return out;
  }

  /**
   * network_data.json as Nova's netutils.get_network_metadata builds it: one link per port
   * (its MAC), and for each port's first IPv4 address one network: `ipv4_dhcp` where the
   * subnet has DHCP (Nova then gives no address, the guest asks DHCP, which on slirp hands it
   * the port's fixed IP), else a static `ipv4` with the default route, the subnet's host
   * routes and its DNS servers; the DNS servers of every subnet again as top-level services.
   */
  networkData(): Record<string, unknown> {
    const spec = this.spec;
    const links = spec.ports.map((p, i) => ({ id: `tap${(p.id ?? String(i)).slice(0, 11)}`, vif_id: p.id, type: 'ethernet', mtu: p.mtu ?? 1500, ethernet_mac_address: p.mac }));
    const networks: Record<string, unknown>[] = [];
    const services: { type: 'dns'; address: string }[] = [];
    spec.ports.forEach((p, i) => {
      const s = (p.subnets ?? []).find((x) => x.ip.includes('.'));
      if (!s) return;
      const id = `network${networks.length}`;
      const dns = (s.dns ?? []).map((address) => ({ type: 'dns' as const, address }));
      for (const d of dns) if (!services.some((x) => x.address === d.address)) services.push(d);
      if (s.dhcp ?? true) {
        networks.push({ id, type: 'ipv4_dhcp', link: links[i].id, network_id: p.networkId });
        return;
      }
      const routes = s.gateway ? [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: s.gateway }] : [];
      for (const r of s.routes ?? []) {
        const [network, prefix] = r.destination.split('/');
        if (network.includes('.')) routes.push({ network, netmask: netmaskOf(Number(prefix)), gateway: r.nexthop });
      }
      networks.push({ id, type: 'ipv4', link: links[i].id, ip_address: s.ip, netmask: netmaskOf(Number(s.cidr.split('/')[1])), routes, network_id: p.networkId, services: dns });
    });
    return { links, networks, services };
  }

  /** EC2's meta-data of a version (get_ec2_metadata), with the version's keys only. */
  ec2MetaData(version: string): Record<string, Ec2Node> {
    const v = version === 'latest' ? EC2_VERSIONS[EC2_VERSIONS.length - 1] : version;
    const spec = this.spec;
    const since = (required: string) => atLeast(EC2_VERSIONS, required, v);
    const md: Record<string, Ec2Node> = {
      'ami-id': spec.image ? ec2Id('ami', spec.image.id) : '',
      'ami-launch-index': spec.launchIndex ?? 0,
      'ami-manifest-path': 'FIXME',
      'instance-id': ec2Id('i', spec.id),
      hostname: spec.hostname,
      'local-ipv4': fixedIpv4(spec) ?? '',
      'reservation-id': spec.reservationId ?? '',
      'security-groups': spec.securityGroups ?? [],
    };
    if (spec.keyData) md['public-keys'] = { '0': { _name: `0=${spec.keyName ?? 'key'}`, 'openssh-key': spec.keyData } };
    if (since('2007-01-19')) {
      md['local-hostname'] = spec.hostname;
      md['public-hostname'] = spec.hostname;
      // Nova's get_ec2_ip_info: the first floating IP of the guest's addresses.
      md['public-ipv4'] = spec.ports.flatMap((p) => p.floatingIps ?? [])[0] ?? '';
    }
    if (since('2007-08-29') && spec.flavorName) md['instance-type'] = spec.flavorName;
    if (since('2007-12-15')) {
      const mapping: Record<string, Ec2Node> = { ami: 'vda', root: '/dev/vda' };
      // The flavor's disks follow the root disk, as the qemu driver attaches them.
      const extra = [(spec.ephemeralGb ?? 0) > 0 && 'ephemeral0', (spec.swapMb ?? 0) > 0 && 'swap'].filter((k): k is string => !!k);
      extra.forEach((k, i) => (mapping[k] = `vd${'bc'[i]}`));
      md['block-device-mapping'] = mapping;
    }
    if (since('2008-02-01')) md.placement = { 'availability-zone': spec.availabilityZone ?? null };
    if (since('2008-09-01')) md['instance-action'] = 'none';
    return md;
  }

  /**
   * The config drive's files (metadata_for_config_drive), path → contents: the ec2/ tree,
   * openstack/<version>/ for every version and latest, and openstack/content/ (injected files).
   */
  configDriveFiles(): [string, string | Buffer][] {
    const files: [string, string | Buffer][] = [];
    for (const v of [...EC2_VERSIONS, 'latest']) {
      if (this.userData) files.push([`ec2/${v}/user-data`, this.userData]);
      const md = this.ec2MetaData(v);
      // The file form has no listing names.
      if (md['public-keys']) md['public-keys'] = { '0': { 'openssh-key': this.spec.keyData } };
      files.push([`ec2/${v}/meta-data.json`, JSON.stringify(md)]);
    }
    for (const v of [...OPENSTACK_VERSIONS, 'latest']) {
      for (const name of this.versionListing(v)) {
        if (name === 'password') continue;
        const answer = this.openstackFile(v, name);
        if (answer) files.push([`openstack/${v}/${name}`, answer]);
      }
    }
    this.spec.files.forEach((f, i) => files.push([`openstack/content/${String(i).padStart(4, '0')}`, Buffer.from(f.contents, 'base64')]));
    return files;
  }

  /** The names under openstack/<version>/ (_handle_version). */
  private versionListing(version: string): string[] {
    const v = osVersion(version);
    const since = (required: string) => atLeast(OPENSTACK_VERSIONS, required, v);
    const names = ['meta_data.json'];
    if (this.userData) names.push('user_data');
    if (since(GRIZZLY)) names.push('password');
    if (since(HAVANA)) names.push('vendor_data.json');
    if (since(LIBERTY)) names.push('network_data.json');
    if (since(NEWTON_TWO)) names.push('vendor_data2.json');
    return names;
  }

  private openstackFile(version: string, name: string): string | Buffer | null {
    if (!this.versionListing(version).includes(name)) return null;
    switch (name) {
      case 'meta_data.json':
        return JSON.stringify(this.metaData(version));
      case 'user_data':
        return this.userData;
      case 'network_data.json':
        return JSON.stringify(this.networkData());
      // No vendor data providers are configured: Nova's StaticJSON without a file is {}.
      case 'vendor_data.json':
      case 'vendor_data2.json':
        return '{}';
      case 'password':
        return this.options.password ?? '';
      default:
        return null;
    }
  }

  /**
   * What the metadata service answers for `path` (InstanceMetadata.lookup and the handler's
   * printing): a listing, a value, the password endpoint, or null for Nova's 404.
   */
  lookup(path: string): MetadataAnswer {
    const normal = posix.normalize('/' + path);
    if (normal === '/') return text(EC2_ROOT_LISTING);
    let tokens = normal.split('/').slice(1).filter((t) => t !== '');
    if (tokens[0] !== 'ec2' && tokens[0] !== 'openstack') tokens = ['ec2', ...tokens];
    if (tokens.length === 1) return text(print(tokens[0] === 'openstack' ? [...OPENSTACK_VERSIONS, 'latest'] : [...EC2_VERSIONS, 'latest']));
    if (tokens[0] === 'openstack') {
      const [version, ...rest] = tokens.slice(1);
      // openstack/content/<key>: only injected files of a config drive; the service has none.
      if (version !== 'latest' && !OPENSTACK_VERSIONS.includes(version)) return null;
      if (rest.length === 0) return text(print(this.versionListing(version)));
      const name = rest.join('/');
      if (name === 'password' && this.versionListing(version).includes('password')) return { kind: 'password' };
      const file = this.openstackFile(version, name);
      if (file === null) return null;
      return { kind: 'data', body: Buffer.from(file), contentType: name.endsWith('.json') ? JSON_TYPE : TEXT };
    }
    const [version, ...rest] = tokens.slice(1);
    if (version !== 'latest' && !EC2_VERSIONS.includes(version)) return null;
    let node: Ec2Node = { 'meta-data': this.ec2MetaData(version), ...(this.userData ? { 'user-data': this.userData } : {}) };
    for (const key of rest) {
      if (node === null || typeof node !== 'object' || Buffer.isBuffer(node) || Array.isArray(node) || !Object.hasOwn(node, key) || key === '_name') return null;
      node = (node as Record<string, Ec2Node>)[key];
    }
    return text(print(node));
  }
}

function text(body: string | Buffer): MetadataAnswer {
  return { kind: 'data', body: Buffer.from(body), contentType: TEXT };
}

/** ec2_md_print: a listing's keys sorted, a child listing as `key/` (or its `_name`), a list one item a line. */
function print(node: Ec2Node): string | Buffer {
  if (Buffer.isBuffer(node)) return node;
  if (Array.isArray(node)) return node.map((n) => String(n)).join('\n');
  if (node !== null && typeof node === 'object') {
    return Object.keys(node)
      .filter((k) => k !== '_name')
      .sort()
      .map((k) => {
        const child = node[k];
        if (child !== null && typeof child === 'object' && !Buffer.isBuffer(child) && !Array.isArray(child)) return '_name' in child ? String(child._name) : `${k}/`;
        return k;
      })
      .join('\n');
  }
  return node === null ? 'None' : String(node);
}
