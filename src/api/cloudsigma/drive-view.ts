/**
 * Drives, library drives, snapshots and jobs in CloudSigma's shape (the drive_*, libdrive_*,
 * snapshot and jobs dumps): the core's objects rendered, nothing decided here.
 */
import type { Drive } from '../../storage/drives.js';
import type { LibraryDrive } from '../../storage/library.js';
import type { Snapshot } from '../../storage/snapshots.js';
import type { Job } from '../../storage/jobs.js';
import { API, ref } from './http.js';
import { tagRef } from './tags.js';

/** Statuses in which the drive is not made yet: its runtime says nothing of what it can do. */
const UNMADE = new Set(['creating', 'cloning_dst']);

export function driveView(d: Drive): Record<string, unknown> {
  const made = !UNMADE.has(d.status);
  return {
    affinities: d.affinities,
    allow_multimount: d.allowMultimount,
    grantees: [],
    jobs: d.jobs.map((id) => ref('jobs', id)),
    licenses: d.licenses,
    media: d.media,
    meta: d.meta,
    mounted_on: d.mountedOn.map((id) => ref('servers', id)),
    name: d.name,
    owner: ref('user', d.userId),
    permissions: [],
    resource_uri: `${API}/drives/${d.id}/`,
    runtime: made
      ? { is_downloadable: true, is_ephemeral: false, is_snapshotable: true, snapshots_allocated_size: 0, storage_type: d.storageType }
      : { is_snapshotable: null, snapshots_allocated_size: 0, storage_type: d.storageType },
    size: d.size,
    snapshots: d.snapshots.map((id) => ref('snapshots', id)),
    status: d.status,
    storage_type: d.storageType,
    tags: d.tags.map((name) => tagRef(d.projectId, name)),
    uuid: d.id,
  };
}

/** The list view: owner, resource_uri, status, uuid (response_drive_list). */
export function driveSummary(d: Drive): Record<string, unknown> {
  return { owner: ref('user', d.userId), resource_uri: `${API}/drives/${d.id}/`, status: d.status, uuid: d.id };
}

/** A library drive as /libdrives/ shows it (response_libdrive_get). */
export function libdriveView(l: LibraryDrive): Record<string, unknown> {
  return {
    affinities: [],
    allow_multimount: false,
    arch: l.arch,
    category: l.category,
    description: l.description,
    distribution: l.distribution,
    favourite: false,
    image_type: l.imageType,
    install_notes: l.installNotes,
    jobs: [],
    licenses: l.licenses,
    media: l.media,
    meta: l.meta,
    mounted_on: [],
    name: l.name,
    os: l.os,
    owner: null,
    paid: l.paid,
    resource_uri: `${API}/libdrives/${l.id}/`,
    size: l.size,
    status: 'unmounted',
    storage_type: null,
    tags: [],
    url: l.url,
    uuid: l.id,
    version: l.version,
  };
}

/** A library drive read through /drives/{uuid}/ (response_librdrive_get_through_drives). */
export function libdriveAsDrive(l: LibraryDrive, defaultStorage: string): Record<string, unknown> {
  return {
    affinities: [],
    allow_multimount: false,
    grantees: [],
    jobs: [],
    licenses: l.licenses,
    media: l.media,
    meta: l.meta,
    mounted_on: [],
    name: l.name,
    owner: null,
    permissions: [],
    resource_uri: `${API}/drives/${l.id}/`,
    runtime: { is_snapshotable: true, snapshots_allocated_size: 0, storage_type: defaultStorage },
    size: l.size,
    snapshots: [],
    status: 'unmounted',
    storage_type: defaultStorage,
    tags: [],
    uuid: l.id,
  };
}

/** CloudSigma's timestamps: microseconds and an explicit UTC offset. */
export const csTime = (iso: string) => iso.replace(/\.(\d{3})Z$/, '.$1000+00:00').replace(/Z$/, '+00:00');

export function snapshotView(s: Snapshot): Record<string, unknown> {
  return {
    allocated_size: s.allocatedSize,
    drive: ref('drives', s.driveId),
    grantees: [],
    meta: s.meta,
    name: s.name,
    owner: ref('user', s.userId),
    permissions: [],
    resource_uri: `${API}/snapshots/${s.id}/`,
    status: s.status,
    tags: s.tags.map((name) => tagRef(s.projectId, name)),
    timestamp: csTime(s.createdAt),
    uuid: s.id,
  };
}

const RESOURCE_PATH: Record<string, string> = { drive: 'drives', server: 'servers', snapshot: 'snapshots', libdrive: 'libdrives' };

export function jobView(j: Job): Record<string, unknown> {
  return {
    children: j.children.map(jobView),
    created: csTime(j.createdAt),
    data: { progress: j.progress },
    last_modified: csTime(j.updatedAt),
    operation: j.operation,
    resource_uri: `${API}/jobs/${j.id}/`,
    resources: j.resources.map((r) => `${API}/${RESOURCE_PATH[r.kind]}/${r.id}/`),
    state: j.state,
    uuid: j.id,
  };
}
