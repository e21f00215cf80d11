/**
 * Reading CloudSigma's drive, snapshot and clone bodies into the core's requests: each field
 * is checked for its type here (400 naming it); what the values may be is the core's to say.
 */
import type { Db } from '../../db/database.js';
import { invalid } from '../../errors.js';
import type { CloneRequest, DriveChange, NewDrive } from '../../storage/drives.js';
import { projectTagNames, tagName, tagUuid } from './tags.js';

type Body = Record<string, unknown>;

export function text(o: Body, key: string, required = false): string | undefined {
  const v = o[key];
  if (v === undefined || (v === null && !required)) {
    if (required) throw invalid(`${key} is required`, key);
    return undefined;
  }
  if (typeof v !== 'string') throw invalid(`${key} must be a string`, key);
  if (required && v.trim() === '') throw invalid(`${key} must not be empty`, key);
  if (v.length > 255) throw invalid(`${key} must be at most 255 characters`, key);
  return v;
}

/** Bytes: a whole number (CloudSigma's clients send some as floats with no fraction, e.g. 1073741824.0). */
export function size(o: Body, key: string, required = false): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw invalid(`${key} is required`, key);
    return undefined;
  }
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) throw invalid(`${key} must be a positive whole number of bytes`, key);
  return n;
}

export function flag(o: Body, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalid(`${key} must be true or false`, key);
  return v;
}

export function meta(o: Body, key = 'meta'): Record<string, string> | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(`${key} must be an object of strings`, key);
  for (const [k, value] of Object.entries(v)) if (typeof value !== 'string') throw invalid(`${key}.${k} must be a string`, `${key}.${k}`);
  return v as Record<string, string>;
}

export function strings(o: Body, key: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw invalid(`${key} must be a list of strings`, key);
  return v as string[];
}

/** Tags by uuid, resource_uri, {uuid} or name, as the project's tag names. */
export async function tags(db: Db, projectId: string, o: Body): Promise<string[] | undefined> {
  const v = o.tags;
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw invalid('tags must be a list', 'tags');
  const given = v.map((t, i) => {
    if (typeof t === 'string') return tagName(t.replace(/^.*\/tags\/([^/]+)\/?$/, '$1'), `tags[${i}]`);
    if (t && typeof t === 'object' && typeof (t as Body).uuid === 'string') return tagName((t as Body).uuid, `tags[${i}]`);
    throw invalid(`tags[${i}] must be a tag's uuid`, `tags[${i}]`);
  });
  if (!given.some((g) => /^[0-9a-f-]{36}$/i.test(g))) return given;
  // A tag's uuid names a tag of the project: one on its servers, drives or snapshots.
  const known = new Set(await projectTagNames(db, projectId));
  for (const table of ['drives', 'drive_snapshots'] as const) {
    for (const r of await db.selectFrom(table).select('tags').where('project_id', '=', projectId).where('tags', '!=', '[]').execute()) for (const t of JSON.parse(r.tags) as string[]) known.add(t);
  }
  const byUuid = new Map([...known].map((n) => [tagUuid(projectId, n), n]));
  return given.map((g) => byUuid.get(g.toLowerCase()) ?? g);
}

/** A uuid from a string, a resource_uri or {uuid}. */
export function uuidOf(v: unknown, point: string): string {
  const s = typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as Body).uuid === 'string' ? ((v as Body).uuid as string) : null;
  const id = s?.replace(/^.*\/([^/]+)\/?$/, '$1');
  if (!id || !/^[0-9a-f-]{36}$/i.test(id)) throw invalid(`${point} must be a uuid`, point);
  return id.toLowerCase();
}

export function mediaOf(o: Body, required: boolean): NewDrive['media'] | undefined {
  return text(o, 'media', required) as NewDrive['media'] | undefined;
}

export async function newDrive(db: Db, projectId: string, o: Body): Promise<NewDrive> {
  return {
    name: text(o, 'name', true)!,
    size: size(o, 'size', true)!,
    media: mediaOf(o, true)!,
    storageType: text(o, 'storage_type'),
    allowMultimount: flag(o, 'allow_multimount'),
    meta: meta(o),
    tags: await tags(db, projectId, o),
    affinities: strings(o, 'affinities'),
  };
}

export async function driveChange(db: Db, projectId: string, o: Body): Promise<DriveChange> {
  return {
    name: text(o, 'name'),
    meta: meta(o),
    tags: await tags(db, projectId, o),
    allowMultimount: flag(o, 'allow_multimount'),
    media: mediaOf(o, false),
    size: size(o, 'size'),
  };
}

/** A clone's body (optional) and the `avoid` query parameter (drive uuids, comma-separated). */
export async function cloneRequest(db: Db, projectId: string, o: Body, avoid: string | undefined): Promise<CloneRequest> {
  return {
    name: text(o, 'name'),
    size: size(o, 'size'),
    media: mediaOf(o, false),
    storageType: text(o, 'storage_type'),
    allowMultimount: flag(o, 'allow_multimount'),
    meta: meta(o),
    tags: await tags(db, projectId, o),
    affinities: strings(o, 'affinities'),
    avoid: avoid ? avoid.split(',').filter(Boolean).map((id) => uuidOf(id, 'avoid')) : undefined,
  };
}
