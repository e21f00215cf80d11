import type { ColumnType, Generated } from 'kysely';

/**
 * The range of an `integer` column on both databases (PostgreSQL's int4; Nova's db.MAX_INT).
 * SQLite would store more, PostgreSQL refuses it: values are checked against it at the edge.
 */
export const MAX_INT = 2147483647;
export const MIN_INT = -2147483648;

/**
 * Table shapes as Kysely sees them. Portable across SQLite and PostgreSQL:
 * booleans are 0/1 integers, timestamps ISO 8601 UTC text (they sort as text),
 * structured values JSON text.
 */
export interface ProjectTable {
  id: string;
  name: string;
  domain_id: string;
  description: string;
  enabled: number;
  created_at: string;
  /** Keystone's unknown attributes: a JSON object (migration 018). */
  extra: string;
}

export interface UserTable {
  id: string;
  name: string;
  domain_id: string;
  password_hash: string;
  /** HTTP Digest's HA1 for the CloudSigma face (migration 020); null until a password is set. */
  digest_ha1: string | null;
  /** MD5(email:realm:password), for HTTP Digest by email; null until known */
  digest_email_ha1: string | null;
  email: string | null;
  enabled: number;
  default_project_id: string | null;
  created_at: string;
  /** Keystone's unknown attributes: a JSON object (migration 018). */
  extra: string;
}

export interface RoleTable {
  id: string;
  name: string;
}

export interface RoleAssignmentTable {
  user_id: string;
  project_id: string;
  role_id: string;
}

export interface TokenTable {
  /** SHA-256 of the token; the token itself is never stored. */
  id: string;
  user_id: string;
  project_id: string | null;
  methods: string;
  audit_id: string;
  issued_at: string;
  expires_at: string;
  revoked: number;
}

export interface FlavorTable {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
  ephemeral: number;
  swap: number;
  rxtx_factor: number;
  is_public: number;
  disabled: number;
  description: string | null;
  created_at: string;
}

export interface FlavorExtraSpecTable {
  flavor_id: string;
  key: string;
  value: string;
}

export interface FlavorAccessTable {
  flavor_id: string;
  project_id: string;
}

export interface ImageTable {
  id: string;
  name: string | null;
  owner: string;
  status: string;
  visibility: string;
  container_format: string | null;
  disk_format: string | null;
  size: number | null;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  min_disk: number;
  min_ram: number;
  protected: number;
  /** JSON object of additional properties. */
  properties: string;
  /** JSON array. */
  tags: string;
  created_at: string;
  updated_at: string;
}

export interface HostTable {
  id: string;
  /** The integer id Nova shows for hypervisors and services before 2.53. */
  num_id: number;
  service_id: string;
  name: string;
  driver: string;
  availability_zone: string;
  vcpus: number;
  memory_mb: number;
  local_gb: number;
  /** Nova's allocation ratios: the scheduler places up to ratio × vcpus, memory_mb, local_gb. */
  cpu_allocation_ratio: number;
  ram_allocation_ratio: number;
  disk_allocation_ratio: number;
  host_ip: string;
  enabled: number;
  disabled_reason: string | null;
  forced_down: number;
  /** Heartbeat: a host not seen for a while is down. */
  last_seen_at: string;
  created_at: string;
  updated_at: string;
}

/** Where a compute host's process answers other processes' calls; the secret is never shown. */
export interface HostEndpointTable {
  host: string;
  url: string;
  secret: string;
  driver: string;
  /** JSON: the host's hypervisor version and storage types, as its driver reports them. */
  info: string;
  updated_at: string;
}

export interface ServerTable {
  id: string;
  project_id: string;
  user_id: string;
  name: string;
  hostname: string;
  description: string | null;
  vm_state: string;
  task_state: string | null;
  power_state: number;
  progress: number;
  flavor_id: string;
  /** JSON: the flavor as it was when the server got it (flavors may change or go). */
  flavor: string;
  /** What the server claims on its host (from the flavor), summed by the scheduler. */
  vcpus: number;
  memory_mb: number;
  disk_gb: number;
  image_id: string;
  host: string | null;
  availability_zone: string | null;
  key_name: string | null;
  key_data: string | null;
  user_data: string | null;
  config_drive: string;
  access_ipv4: string;
  access_ipv6: string;
  disk_config: string;
  locked: number;
  locked_by: string | null;
  locked_reason: string | null;
  /** JSON object */
  metadata: string;
  /** JSON array of names */
  security_groups: string;
  /** JSON: { network name: [{ version, addr, type, mac }] } */
  addresses: string;
  /** JSON: { code, message, details, created } */
  fault: string | null;
  reservation_id: string;
  launch_index: number;
  /** JSON: what the create request asked for (zone, hints, group, networks, files …). */
  request_spec: string;
  /** Migration 020: the CloudSigma face's part of the definition (JSON), null for servers made through the compute API. */
  cloudsigma: string | null;
  created_at: string;
  updated_at: string;
  launched_at: string | null;
  terminated_at: string | null;
  deleted_at: string | null;
  deleted: number;
}

export interface ServerTagTable {
  server_id: string;
  tag: string;
}

export interface TaskTable {
  id: string;
  server_id: string;
  kind: string;
  /** The step to run next; a resumed task starts here. */
  step: string;
  /** JSON */
  params: string;
  status: 'pending' | 'running' | 'done' | 'failed';
  lease_owner: string | null;
  lease_until: string | null;
  attempts: number;
  not_before: string;
  action_id: string | null;
  /** The instance-action event this task started (one per task), reused when it resumes. */
  event_id: string | null;
  /** The compute host that must run it; null: any conductor. */
  host: string | null;
  created_at: string;
  updated_at: string;
}

/** When a periodic job may next run, across every conductor. */
export interface PeriodicJobTable {
  name: string;
  next_run_at: string;
  owner: string | null;
}

/** An api or conductor process's heartbeat (compute hosts beat in `hosts`). */
export interface ControlServiceTable {
  id: string;
  kind: string;
  host: string;
  last_seen_at: string;
  created_at: string;
}

export interface InstanceActionTable {
  id: string;
  server_id: string;
  action: string;
  request_id: string;
  project_id: string;
  user_id: string;
  message: string | null;
  start_time: string;
  finish_time: string | null;
  updated_at: string;
}

export interface InstanceActionEventTable {
  id: string;
  action_id: string;
  event: string;
  host: string | null;
  result: string | null;
  traceback: string | null;
  details: string | null;
  start_time: string;
  finish_time: string | null;
}

export interface AggregateTable {
  id: Generated<number>;
  uuid: string;
  name: string;
  created_at: string;
  updated_at: string | null;
}

export interface AggregateHostTable {
  aggregate_id: number;
  host: string;
  created_at: string;
}

export interface AggregateMetadataTable {
  aggregate_id: number;
  key: string;
  value: string;
}

export interface KeypairTable {
  id: Generated<number>;
  user_id: string;
  name: string;
  /** 'ssh' or 'x509' */
  type: string;
  fingerprint: string;
  public_key: string;
  created_at: string;
  updated_at: string | null;
  /** Migration 021: the keypair's CloudSigma uuid, given on first sight there. */
  uuid: ColumnType<string | null, string | null | undefined, string | null>;
  /** Migration 021: 1 when a private key was made or given with it (never kept). */
  has_private_key: ColumnType<number, number | undefined, number>;
}

/** A quota limit for a project; -1 is unlimited. */
export interface QuotaTable {
  project_id: string;
  resource: string;
  hard_limit: number;
}

/** A quota limit for one user within a project. */
/** Neutron's per-project limits; a resource without a row has Neutron's default. */
export interface NetworkQuotaTable {
  project_id: string;
  resource: string;
  hard_limit: number;
}

export interface ProjectUserQuotaTable {
  project_id: string;
  user_id: string;
  resource: string;
  hard_limit: number;
}

/** A quota class's limit; the 'default' class overrides the built-in defaults. */
export interface QuotaClassTable {
  class_name: string;
  resource: string;
  hard_limit: number;
}

export interface BuildBehaviourTable {
  id: string;
  /** A regular expression the server name must match, or null for any name. */
  name_pattern: string | null;
  /** JSON object: metadata items the server must have. */
  metadata: string;
  remaining: number;
  fault_message: string | null;
  fault_code: number;
  build_ms: number;
  error_after_ms: number | null;
  created_at: string;
}

/** Networking v2.0: booleans 0/1; allocation_pools, dns_nameservers, host_routes, binding_profile JSON. */
export interface NetworkTable {
  id: string;
  project_id: string;
  name: string;
  description: string;
  admin_state_up: number;
  shared: number;
  external: number;
  mtu: number;
  port_security_enabled: number;
  status: string;
  /** The external network auto-allocated topologies use (Neutron's auto-allocated-topology). */
  is_default: number;
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export interface RouterTable {
  id: string;
  project_id: string;
  name: string;
  description: string;
  admin_state_up: number;
  status: string;
  gw_network_id: string | null;
  enable_snat: number;
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export interface FloatingIpTable {
  id: string;
  project_id: string;
  floating_network_id: string;
  floating_ip_address: string;
  floating_port_id: string;
  fixed_port_id: string | null;
  fixed_ip_address: string | null;
  router_id: string | null;
  description: string;
  revision_number: number;
  created_at: string;
  updated_at: string;
}

/** Migration 060: the password a guest posted to the metadata service, once. */
export interface ServerPasswordTable {
  server_id: string;
  password: string;
  created_at: string;
}

export interface AutoAllocatedTopologyTable {
  project_id: string;
  network_id: string;
  router_id: string | null;
}

export interface SubnetTable {
  id: string;
  project_id: string;
  network_id: string;
  name: string;
  description: string;
  ip_version: number;
  cidr: string;
  gateway_ip: string | null;
  allocation_pools: string;
  enable_dhcp: number;
  dns_nameservers: string;
  host_routes: string;
  ipv6_ra_mode: string | null;
  ipv6_address_mode: string | null;
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export interface PortTable {
  id: string;
  project_id: string;
  network_id: string;
  name: string;
  description: string;
  mac_address: string;
  admin_state_up: number;
  status: string;
  device_id: string;
  device_owner: string;
  port_security_enabled: number;
  binding_host_id: string;
  binding_vnic_type: string;
  binding_profile: string;
  delete_with_device: number;
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export interface IpAllocationTable {
  subnet_id: string;
  ip_address: string;
  port_id: string;
  network_id: string;
  position: number;
}

export interface SecurityGroupTable {
  id: string;
  project_id: string;
  name: string;
  description: string;
  stateful: number;
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export interface DefaultSecurityGroupTable {
  project_id: string;
  security_group_id: string;
}

export interface SecurityGroupRuleTable {
  id: string;
  project_id: string;
  security_group_id: string;
  direction: string;
  ethertype: string;
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  remote_group_id: string | null;
  description: string;
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export interface PortSecurityGroupTable {
  port_id: string;
  security_group_id: string;
  position: number;
}

export interface ServerGroupTable {
  id: string;
  name: string;
  project_id: string;
  user_id: string;
  policy: string;
  /** JSON object, e.g. { max_server_per_host: 2 } */
  rules: string;
  created_at: string;
}

export interface ServerGroupMemberTable {
  group_id: string;
  server_id: string;
}

export interface MigrationTable {
  /** Nova's integer id (shown before 2.59), numbered by the database (013); uuid from 2.59. */
  id: Generated<number>;
  uuid: string;
  server_id: string;
  project_id: string;
  user_id: string;
  /** resize | migration | live-migration | evacuation */
  migration_type: string;
  status: string;
  source_host: string | null;
  dest_host: string | null;
  /** JSON ServerFlavor before and after */
  old_flavor: string;
  new_flavor: string;
  created_at: string;
  updated_at: string;
}

/** What live servers hold per project, user, host ('' for none) and vm_state; kept by triggers (008). */
export interface ServerUsageTable {
  project_id: string;
  user_id: string;
  host: string;
  vm_state: string;
  instances: number;
  vcpus: number;
  memory_mb: number;
  disk_gb: number;
}

/** A remote console's connection token (Nova's console_auth_tokens). */
export interface ConsoleTokenTable {
  /** SHA-256 of the token; the token itself is only in the URL given to the client. */
  token_hash: string;
  server_id: string;
  /** novnc, serial, spice-html5 … */
  console_type: string;
  /** The host the guest was on when the URL was made: a move makes the URL stale. */
  host: string;
  created_at: string;
  expires_at: string;
}

/** A drive: block storage, attached to servers (migration 025). */
export interface DriveTable {
  id: string;
  project_id: string;
  /** The user who made it: CloudSigma's owner. */
  user_id: string;
  name: string;
  /** Bytes. */
  size: number;
  media: 'disk' | 'cdrom';
  storage_type: string;
  /** The stored status (storage/drive-states.ts); `mounted` is derived from the attachments. */
  status: string;
  allow_multimount: number;
  /** JSON object of strings */
  meta: string;
  /** JSON list of tag ids */
  tags: string;
  /** JSON list */
  affinities: string;
  /** JSON list */
  licenses: string;
  /** The library drive (image) it was cloned from. */
  image_id: string | null;
  /** Where the driver keeps it (a storage pool), for avoid and availability groups. */
  location: string | null;
  /** 1: the root disk an image-booted Nova server was made with, not a volume in Nova's view. */
  server_root: number;
  created_at: string;
  updated_at: string;
}

export interface DriveAttachmentTable {
  drive_id: string;
  server_id: string;
  boot_order: number | null;
  dev_channel: string;
  device: string;
  delete_on_termination: number;
  created_at: string;
}

export interface DriveSnapshotTable {
  id: string;
  drive_id: string;
  project_id: string;
  user_id: string;
  name: string;
  meta: string;
  tags: string;
  status: string;
  allocated_size: number;
  size: number;
  created_at: string;
  updated_at: string;
}

export interface JobTable {
  id: string;
  project_id: string;
  operation: string;
  state: string;
  progress: number;
  parent_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface JobResourceTable {
  job_id: string;
  position: number;
  kind: string;
  resource_id: string;
}

export interface GlobalContextTable {
  project_id: string;
  /** JSON object: key to string value */
  context: string;
  updated_at: string;
}

export interface ProfileTable {
  user_id: string;
  clone_naming: string;
  /** JSON: the account fields the user set */
  fields: string;
  created_at: string;
  updated_at: string;
}

export interface Schema {
  drives: DriveTable;
  drive_attachments: DriveAttachmentTable;
  drive_snapshots: DriveSnapshotTable;
  jobs: JobTable;
  job_resources: JobResourceTable;
  profiles: ProfileTable;
  global_contexts: GlobalContextTable;
  networks: NetworkTable;
  routers: RouterTable;
  floating_ips: FloatingIpTable;
  auto_allocated_topologies: AutoAllocatedTopologyTable;
  server_passwords: ServerPasswordTable;
  subnets: SubnetTable;
  ports: PortTable;
  ip_allocations: IpAllocationTable;
  security_groups: SecurityGroupTable;
  default_security_groups: DefaultSecurityGroupTable;
  security_group_rules: SecurityGroupRuleTable;
  port_security_groups: PortSecurityGroupTable;
  projects: ProjectTable;
  users: UserTable;
  roles: RoleTable;
  role_assignments: RoleAssignmentTable;
  tokens: TokenTable;
  flavors: FlavorTable;
  flavor_extra_specs: FlavorExtraSpecTable;
  flavor_access: FlavorAccessTable;
  images: ImageTable;
  hosts: HostTable;
  host_endpoints: HostEndpointTable;
  /** `version` is the database's to keep (migration 016); the domain's Server leaves it out. */
  servers: ServerTable & { version: Generated<number> };
  build_behaviours: BuildBehaviourTable;
  server_groups: ServerGroupTable;
  migrations: MigrationTable;
  server_group_members: ServerGroupMemberTable;
  server_usage: ServerUsageTable;
  server_tags: ServerTagTable;
  tasks: TaskTable;
  periodic_jobs: PeriodicJobTable;
  control_services: ControlServiceTable;
  instance_actions: InstanceActionTable;
  instance_action_events: InstanceActionEventTable;
  keypairs: KeypairTable;
  /** Migration 022: CloudSigma tags (their meta, and their existence when they tag nothing). */
  tags: { project_id: string; name: string; meta: string; created_at: string };
  quotas: QuotaTable;
  network_quotas: NetworkQuotaTable;
  project_user_quotas: ProjectUserQuotaTable;
  quota_classes: QuotaClassTable;
  aggregates: AggregateTable;
  aggregate_hosts: AggregateHostTable;
  aggregate_metadata: AggregateMetadataTable;
  console_tokens: ConsoleTokenTable;
}
