import { NimbusError } from '../errors.js';

/**
 * A drive's status, as CloudSigma's drive diagram has it: made (`creating`), at rest
 * (`unmounted`), in use by a running guest (`mounted`), the two ends of a copy
 * (`cloning_src`, `cloning_dst`), growing (`resizing`), or lost with its storage
 * (`unavailable`). The database keeps every status but `mounted`, which is read from the
 * drive's attachments: an idle drive attached to a server whose guest exists is mounted.
 * So a server's start or stop never has to write its drives.
 */
export const DriveStatus = {
  CREATING: 'creating',
  UNMOUNTED: 'unmounted',
  MOUNTED: 'mounted',
  CLONING_DST: 'cloning_dst',
  CLONING_SRC: 'cloning_src',
  RESIZING: 'resizing',
  UNAVAILABLE: 'unavailable',
} as const;
export type DriveStatus = (typeof DriveStatus)[keyof typeof DriveStatus];

export const MEDIA = ['disk', 'cdrom'] as const;
export type Media = (typeof MEDIA)[number];

/** The device models a drive can be attached as. */
export const DEVICES = ['virtio', 'ide', 'sata', 'scsi'] as const;

/**
 * The vm_states in which a server's guest exists on a host and holds its drives (a stopped,
 * errored, offloaded or deleted server holds none), and the task that brings one up.
 */
export const GUEST_VM_STATES = ['active', 'building', 'paused', 'suspended', 'rescued', 'resized'] as const;
export const GUEST_TASK_STATES = ['powering-on'] as const;

export function guestExists(server: { vm_state: string; task_state: string | null }): boolean {
  return (GUEST_VM_STATES as readonly string[]).includes(server.vm_state) || (GUEST_TASK_STATES as readonly string[]).includes(server.task_state ?? '');
}

/**
 * The status a client sees: the stored one; for a drive at rest, `unavailable` while its
 * storage does not answer (the driver says), else `mounted` while a guest holds it.
 */
export function visibleStatus(stored: string, mounted: boolean, storageUp = true): string {
  if (stored !== DriveStatus.UNMOUNTED) return stored;
  if (!storageUp) return DriveStatus.UNAVAILABLE;
  return mounted ? DriveStatus.MOUNTED : stored;
}

/** A refusal about drives, naming the field it is about (CloudSigma's error_point) where there is one. */
export class DriveError extends NimbusError {
  constructor(kind: 'invalid' | 'conflict' | 'not_found' | 'forbidden', message: string, point: string | null = null) {
    super(kind, message, point ?? undefined);
  }
}

export const invalidField = (field: string, message: string) => new DriveError('invalid', message, field);

/** The operations the diagram constrains, and the statuses each may start from. */
export type DriveOperation = 'clone' | 'resize' | 'delete' | 'snapshot' | 'attach' | 'edit_media';

const ALLOWED: Record<DriveOperation, readonly string[]> = {
  // A copy is taken from a drive at rest or in use (a live copy), never from one still being made.
  clone: [DriveStatus.UNMOUNTED, DriveStatus.MOUNTED],
  snapshot: [DriveStatus.UNMOUNTED, DriveStatus.MOUNTED],
  // Growing, deleting or changing the media of a drive needs it at rest: no guest holds it.
  resize: [DriveStatus.UNMOUNTED],
  delete: [DriveStatus.UNMOUNTED],
  edit_media: [DriveStatus.UNMOUNTED],
  // A drive being made may be attached (a server clone attaches its copies at once); the
  // server cannot start until they are ready (assertDrivesReady).
  attach: [DriveStatus.UNMOUNTED, DriveStatus.MOUNTED, DriveStatus.CREATING, DriveStatus.CLONING_DST, DriveStatus.CLONING_SRC, DriveStatus.RESIZING],
};

/** Throws CloudSigma's state refusal (409) unless `operation` may start from `status`. */
export function checkDriveState(id: string, status: string, operation: DriveOperation): void {
  if (ALLOWED[operation].includes(status)) return;
  const what = operation === 'edit_media' ? 'change the media of' : operation;
  throw new DriveError('conflict', `Cannot ${what} drive ${id} while it is ${status}.`, 'status');
}

/** Whether `operation` may start from `status` (for callers that choose rather than refuse). */
export function driveStateAllows(status: string, operation: DriveOperation): boolean {
  return ALLOWED[operation].includes(status);
}

/** A drive a server can boot with: at rest or already held by a guest. */
export function isReady(status: string): boolean {
  return status === DriveStatus.UNMOUNTED || status === DriveStatus.MOUNTED || status === DriveStatus.CLONING_SRC;
}
