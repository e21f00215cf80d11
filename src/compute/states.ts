/**
 * Nova's three state fields and how they read as the one `status` clients poll.
 * vm_state is where the server is, task_state what it is doing (null when idle, and
 * a server with a task_state is busy), power_state what the hypervisor last said.
 */
export const VmState = {
  ACTIVE: 'active',
  BUILDING: 'building',
  PAUSED: 'paused',
  SUSPENDED: 'suspended',
  STOPPED: 'stopped',
  RESCUED: 'rescued',
  RESIZED: 'resized',
  SOFT_DELETED: 'soft-delete',
  DELETED: 'deleted',
  ERROR: 'error',
  SHELVED: 'shelved',
  SHELVED_OFFLOADED: 'shelved_offloaded',
} as const;
export type VmState = (typeof VmState)[keyof typeof VmState];

export const TaskState = {
  SCHEDULING: 'scheduling',
  BLOCK_DEVICE_MAPPING: 'block_device_mapping',
  NETWORKING: 'networking',
  SPAWNING: 'spawning',
  IMAGE_SNAPSHOT: 'image_snapshot',
  IMAGE_SNAPSHOT_PENDING: 'image_snapshot_pending',
  IMAGE_PENDING_UPLOAD: 'image_pending_upload',
  IMAGE_UPLOADING: 'image_uploading',
  IMAGE_BACKUP: 'image_backup',
  UPDATING_PASSWORD: 'updating_password',
  RESIZE_PREP: 'resize_prep',
  RESIZE_MIGRATING: 'resize_migrating',
  RESIZE_MIGRATED: 'resize_migrated',
  RESIZE_FINISH: 'resize_finish',
  RESIZE_REVERTING: 'resize_reverting',
  RESIZE_CONFIRMING: 'resize_confirming',
  REBOOTING: 'rebooting',
  REBOOT_PENDING: 'reboot_pending',
  REBOOT_STARTED: 'reboot_started',
  REBOOTING_HARD: 'rebooting_hard',
  REBOOT_PENDING_HARD: 'reboot_pending_hard',
  REBOOT_STARTED_HARD: 'reboot_started_hard',
  PAUSING: 'pausing',
  UNPAUSING: 'unpausing',
  SUSPENDING: 'suspending',
  RESUMING: 'resuming',
  POWERING_OFF: 'powering-off',
  POWERING_ON: 'powering-on',
  RESCUING: 'rescuing',
  UNRESCUING: 'unrescuing',
  REBUILDING: 'rebuilding',
  REBUILD_BLOCK_DEVICE_MAPPING: 'rebuild_block_device_mapping',
  REBUILD_SPAWNING: 'rebuild_spawning',
  MIGRATING: 'migrating',
  DELETING: 'deleting',
  SOFT_DELETING: 'soft-deleting',
  RESTORING: 'restoring',
  SHELVING: 'shelving',
  SHELVING_IMAGE_PENDING_UPLOAD: 'shelving_image_pending_upload',
  SHELVING_IMAGE_UPLOADING: 'shelving_image_uploading',
  SHELVING_OFFLOADING: 'shelving_offloading',
  UNSHELVING: 'unshelving',
} as const;
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

/** A guest's power state is the driver's word; the core shows it as is (OS-EXT-STS:power_state). */
export { PowerState } from '../virt/driver.js';

const T = TaskState;
const REBOOT = { [T.REBOOTING]: 'REBOOT', [T.REBOOT_PENDING]: 'REBOOT', [T.REBOOT_STARTED]: 'REBOOT' };
const HARD_REBOOT = { [T.REBOOTING_HARD]: 'HARD_REBOOT', [T.REBOOT_PENDING_HARD]: 'HARD_REBOOT', [T.REBOOT_STARTED_HARD]: 'HARD_REBOOT' };
const REBUILD = { [T.REBUILDING]: 'REBUILD', [T.REBUILD_BLOCK_DEVICE_MAPPING]: 'REBUILD', [T.REBUILD_SPAWNING]: 'REBUILD' };
const RESIZE = { [T.RESIZE_PREP]: 'RESIZE', [T.RESIZE_MIGRATING]: 'RESIZE', [T.RESIZE_MIGRATED]: 'RESIZE', [T.RESIZE_FINISH]: 'RESIZE' };

/** nova.api.openstack.common._STATE_MAP */
const STATUS_MAP: Record<string, Record<string, string>> = {
  [VmState.ACTIVE]: { default: 'ACTIVE', ...REBOOT, ...HARD_REBOOT, [T.UPDATING_PASSWORD]: 'PASSWORD', ...REBUILD, [T.MIGRATING]: 'MIGRATING', ...RESIZE },
  [VmState.BUILDING]: { default: 'BUILD' },
  [VmState.STOPPED]: { default: 'SHUTOFF', ...RESIZE, ...REBUILD },
  [VmState.RESIZED]: { default: 'VERIFY_RESIZE', [T.RESIZE_REVERTING]: 'REVERT_RESIZE' },
  [VmState.PAUSED]: { default: 'PAUSED', [T.MIGRATING]: 'MIGRATING' },
  [VmState.SUSPENDED]: { default: 'SUSPENDED' },
  [VmState.RESCUED]: { default: 'RESCUE' },
  [VmState.ERROR]: { default: 'ERROR', ...REBUILD },
  [VmState.DELETED]: { default: 'DELETED' },
  [VmState.SOFT_DELETED]: { default: 'SOFT_DELETED' },
  [VmState.SHELVED]: { default: 'SHELVED' },
  [VmState.SHELVED_OFFLOADED]: { default: 'SHELVED_OFFLOADED' },
};

export function statusOf(vmState: string, taskState: string | null): string {
  const map = STATUS_MAP[vmState];
  if (!map) return 'UNKNOWN';
  return (taskState !== null && map[taskState]) || map.default;
}

/** The (vm_state, task_state) pairs a status filter matches: Nova's task_and_vm_state_from_status. */
export function statesForStatus(status: string): { vmStates: string[]; taskStates: (string | null)[] } {
  const vmStates = new Set<string>();
  const taskStates = new Set<string | null>();
  const wanted = status.toUpperCase();
  for (const [vm, map] of Object.entries(STATUS_MAP)) {
    for (const [task, s] of Object.entries(map)) {
      if (s !== wanted) continue;
      vmStates.add(vm);
      taskStates.add(task === 'default' ? null : task);
    }
  }
  return { vmStates: [...vmStates], taskStates: [...taskStates] };
}
