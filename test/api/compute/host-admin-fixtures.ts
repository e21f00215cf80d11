/** Fixtures for the host-admin tests: servers placed straight on a host, and Nova faults. */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import type { Response, TestCloud } from '../../support.js';

export interface Placed {
  projectId?: string;
  name?: string;
  vcpus?: number;
  memoryMb?: number;
  diskGb?: number;
  vmState?: string;
  taskState?: string | null;
  deleted?: boolean;
}

/**
 * Writes a server row that sits on `host`, as the build task leaves it: these tests are
 * about what hosts report, not about building servers.
 */
export async function placeServer(cloud: TestCloud, host: string, p: Placed = {}): Promise<string> {
  const id = randomUUID();
  const now = cloud.clock.now().toISOString();
  await cloud.services.db
    .insertInto('servers')
    .values({
      id,
      project_id: p.projectId ?? cloud.demoProjectId,
      user_id: 'u',
      name: p.name ?? `vm-${id.slice(0, 6)}`,
      hostname: 'vm',
      description: null,
      vm_state: p.vmState ?? 'active',
      task_state: p.taskState ?? null,
      power_state: 1,
      progress: 100,
      flavor_id: '1',
      flavor: '{}',
      vcpus: p.vcpus ?? 1,
      memory_mb: p.memoryMb ?? 512,
      disk_gb: p.diskGb ?? 1,
      image_id: 'img',
      host,
      availability_zone: 'nova',
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
      reservation_id: 'r-1',
      launch_index: 0,
      request_spec: '{}',
      created_at: now,
      updated_at: now,
      launched_at: now,
      terminated_at: null,
      deleted_at: p.deleted ? now : null,
      deleted: p.deleted ? 1 : 0,
    })
    .execute();
  return id;
}

/** Deletes the rows placeServer wrote, so each test starts from empty hosts. */
export async function clearServers(cloud: TestCloud): Promise<void> {
  await cloud.services.db.deleteFrom('servers').where('reservation_id', '=', 'r-1').execute();
}

/** Asserts a Nova fault: {"<name>": {"code": status, "message": …}}. */
export function assertFault(res: Response, status: number, message?: string | RegExp): void {
  assert.equal(res.status, status, res.text);
  const names = Object.keys(res.body ?? {});
  assert.equal(names.length, 1, res.text);
  const f = res.body[names[0]];
  assert.equal(f.code, status);
  if (typeof message === 'string') assert.equal(f.message, message);
  else if (message) assert.match(f.message, message);
}

/** Nova's datetime format, as the services and aggregates APIs print it. */
export const NOVA_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/;
