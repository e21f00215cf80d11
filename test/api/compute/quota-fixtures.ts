/**
 * Servers written straight into the database, for tests that need usage figures without
 * the servers API.
 */
import { randomUUID } from 'node:crypto';
import type { TestCloud } from '../../support.js';

export interface ServerRow {
  projectId: string;
  userId?: string;
  vcpus?: number;
  memoryMb?: number;
  vmState?: string;
  deleted?: boolean;
}

export async function insertServer(cloud: TestCloud, row: ServerRow): Promise<string> {
  const id = randomUUID();
  const now = new Date().toISOString();
  await cloud.services.db
    .insertInto('servers')
    .values({
      id,
      project_id: row.projectId,
      user_id: row.userId ?? 'someone',
      name: `server-${id.slice(0, 8)}`,
      hostname: `server-${id.slice(0, 8)}`,
      description: null,
      vm_state: row.vmState ?? 'active',
      task_state: null,
      power_state: 1,
      progress: 0,
      flavor_id: '1',
      flavor: '{}',
      vcpus: row.vcpus ?? 1,
      memory_mb: row.memoryMb ?? 512,
      disk_gb: 1,
      image_id: randomUUID(),
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
      metadata: '{}',
      security_groups: '[]',
      addresses: '{}',
      fault: null,
      reservation_id: 'r-test',
      launch_index: 0,
      request_spec: '{}',
      created_at: now,
      updated_at: now,
      launched_at: null,
      terminated_at: null,
      deleted_at: row.deleted ? now : null,
      deleted: row.deleted ? 1 : 0,
    })
    .execute();
  return id;
}

export async function insertServerGroup(cloud: TestCloud, projectId: string, userId = 'someone'): Promise<string> {
  const id = randomUUID();
  await cloud.services.db
    .insertInto('server_groups')
    .values({ id, name: `group-${id.slice(0, 8)}`, project_id: projectId, user_id: userId, policy: 'affinity', rules: '{}', created_at: new Date().toISOString() })
    .execute();
  return id;
}
