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
}

export interface UserTable {
  id: string;
  name: string;
  domain_id: string;
  password_hash: string;
  email: string | null;
  enabled: number;
  default_project_id: string | null;
  created_at: string;
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

export interface Schema {
  projects: ProjectTable;
  users: UserTable;
  roles: RoleTable;
  role_assignments: RoleAssignmentTable;
  tokens: TokenTable;
  flavors: FlavorTable;
  flavor_extra_specs: FlavorExtraSpecTable;
  flavor_access: FlavorAccessTable;
  images: ImageTable;
}
