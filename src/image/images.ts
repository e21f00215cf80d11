import { randomUUID } from 'node:crypto';
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { Db } from '../db/database.js';
import type { ImageTable, Schema } from '../db/schema.js';
import type { Clock } from '../clock.js';
import { conflict, forbidden, invalid, NimbusError, notFound } from '../errors.js';
import { ImageFiles, virtualSize } from './files.js';

/** Glance's defaults for `[image_format]` and its quotas. */
export const DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'] as const;
export const CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'] as const;
export const VISIBILITIES = ['public', 'private', 'shared', 'community'] as const;
export const STATUSES = ['queued', 'saving', 'active', 'killed', 'deleted', 'uploading', 'importing', 'pending_delete', 'deactivated'] as const;
export const SORT_KEYS = ['name', 'status', 'container_format', 'disk_format', 'size', 'id', 'created_at', 'updated_at'] as const;
/** image_size_cap: 1 TiB. */
export const DEFAULT_SIZE_CAP = 1099511627776;
const PROPERTY_QUOTA = 128;
const TAG_QUOTA = 128;

export type Visibility = (typeof VISIBILITIES)[number];
export type ImageStatus = (typeof STATUSES)[number];
export type SortKey = (typeof SORT_KEYS)[number];

export interface Image {
  id: string;
  name: string | null;
  /** The project that owns it. */
  owner: string;
  status: ImageStatus;
  visibility: Visibility;
  containerFormat: string | null;
  diskFormat: string | null;
  size: number | null;
  virtualSize: number | null;
  checksum: string | null;
  osHashAlgo: string | null;
  osHashValue: string | null;
  minDisk: number;
  minRam: number;
  protected: boolean;
  osHidden: boolean;
  /** Custom properties: always strings, as Glance's schema has them. */
  properties: Record<string, string>;
  tags: string[];
  createdAt: Date;
  updatedAt: Date;
}

/** Who looks: enough to decide which images they may see. */
export interface ImageViewer {
  projectId: string | null;
  isAdmin: boolean;
}

export interface NewImage {
  id?: string;
  name?: string | null;
  owner: string;
  /** Glance's default is `shared`: private until members are added. */
  visibility?: Visibility;
  containerFormat?: string | null;
  diskFormat?: string | null;
  minDisk?: number;
  minRam?: number;
  protected?: boolean;
  osHidden?: boolean;
  properties?: Record<string, string>;
  tags?: string[];
}

/**
 * One change to an image, named by its Glance attribute (`min_ram`) or custom property.
 * `add` replaces a present value, as JSON Patch does, unless `strict` (Glance's v2.0 patch
 * media type), which refuses it.
 */
export interface ImageChange {
  op: 'add' | 'replace' | 'remove';
  attribute: string;
  value?: unknown;
  strict?: boolean;
}

/** Core attributes a caller may change, by Glance name. */
const WRITABLE = {
  name: 'name',
  visibility: 'visibility',
  protected: 'protected',
  os_hidden: 'osHidden',
  min_disk: 'minDisk',
  min_ram: 'minRam',
  owner: 'owner',
  container_format: 'containerFormat',
  disk_format: 'diskFormat',
  tags: 'tags',
} as const satisfies Record<string, keyof Image>;

const READ_ONLY = ['created_at', 'updated_at', 'status', 'checksum', 'size', 'virtual_size', 'direct_url', 'self', 'file', 'schema', 'id', 'os_hash_algo', 'os_hash_value', 'stores'];
const RESERVED = ['location', 'deleted', 'deleted_at'];

/** 403 for a read-only or reserved attribute, as Glance refuses them on create and patch. */
export function checkWritable(attribute: string): void {
  if (READ_ONLY.includes(attribute)) throw forbidden(`Attribute '${attribute}' is read-only.`);
  if (RESERVED.includes(attribute) || attribute.startsWith('os_glance')) throw forbidden(`Attribute '${attribute}' is reserved.`);
}

export const isCoreAttribute = (attribute: string): boolean => attribute in WRITABLE;

/** Glance's visibility rule: admins see all; others public, community and their own project's. */
export function isVisible(image: Pick<Image, 'owner' | 'visibility'>, viewer: ImageViewer): boolean {
  return viewer.isAdmin || image.visibility === 'public' || image.visibility === 'community' || (viewer.projectId !== null && image.owner === viewer.projectId);
}

export type FilterOp = 'eq' | 'neq' | 'gt' | 'gte' | 'lt' | 'lte';

export interface ImageQuery {
  limit: number;
  marker?: string;
  sort: { key: SortKey; dir: 'asc' | 'desc' }[];
  /** Absent: what Glance lists by default (no other project's community images). */
  visibility?: Visibility | 'all';
  /** Equality (one value) or `in` (several) on these columns. */
  match?: Partial<Record<'name' | 'id' | 'status' | 'container_format' | 'disk_format' | 'owner' | 'checksum' | 'os_hash_value', string[]>>;
  sizeMin?: number;
  sizeMax?: number;
  protected?: boolean;
  osHidden?: boolean;
  createdAt?: { op: FilterOp; at: Date };
  updatedAt?: { op: FilterOp; at: Date };
  /** All must be present. */
  tags?: string[];
  /** Custom properties that must equal these values. */
  properties?: Record<string, string>;
}

/**
 * The structured values with no column of their own (os_hidden, virtual_size) live in the
 * properties JSON under their Glance names, which custom properties can never take.
 */
interface StoredProperties {
  properties: Record<string, string>;
  osHidden: boolean;
  virtualSize: number | null;
}

function readProperties(json: string): StoredProperties {
  const { os_hidden, virtual_size, ...properties } = JSON.parse(json) as Record<string, unknown>;
  return {
    properties: properties as Record<string, string>,
    osHidden: os_hidden === true,
    virtualSize: typeof virtual_size === 'number' ? virtual_size : null,
  };
}

function writeProperties(image: Pick<Image, 'properties' | 'osHidden' | 'virtualSize'>): string {
  const stored: Record<string, unknown> = { ...image.properties };
  if (image.osHidden) stored.os_hidden = true;
  if (image.virtualSize !== null) stored.virtual_size = image.virtualSize;
  return JSON.stringify(stored);
}

function fromRow(row: ImageTable): Image {
  const stored = readProperties(row.properties);
  return {
    id: row.id,
    name: row.name,
    owner: row.owner,
    status: row.status as ImageStatus,
    visibility: row.visibility as Visibility,
    containerFormat: row.container_format,
    diskFormat: row.disk_format,
    size: row.size === null ? null : Number(row.size),
    virtualSize: stored.virtualSize,
    checksum: row.checksum,
    osHashAlgo: row.os_hash_algo,
    osHashValue: row.os_hash_value,
    minDisk: Number(row.min_disk),
    minRam: Number(row.min_ram),
    protected: Number(row.protected) === 1,
    osHidden: stored.osHidden,
    properties: stored.properties,
    tags: JSON.parse(row.tags) as string[],
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** Nullable sort columns compare as if null were the least value, alike on SQLite and PostgreSQL. */
function sortColumn(key: SortKey): Expression<unknown> {
  switch (key) {
    case 'name':
    case 'container_format':
    case 'disk_format':
      return sql`coalesce(${sql.ref(key)}, '')`;
    case 'size':
      return sql`coalesce(${sql.ref('size')}, -1)`;
    default:
      return sql.ref(key);
  }
}

function sortValue(row: ImageTable, key: SortKey): unknown {
  const v = row[key];
  if (v === null) return key === 'size' ? -1 : '';
  return v;
}

const nonNegative = (attribute: string, value: number) => {
  if (value < 0) throw invalid(`Invalid value '${value}' for parameter '${attribute}': Cannot be a negative value.`);
};

function checkQuotas(image: Pick<Image, 'id' | 'properties' | 'tags'>): void {
  const properties = Object.keys(image.properties).length;
  if (properties > PROPERTY_QUOTA) {
    throw new NimbusError('too_large', `The limit has been exceeded on the number of allowed image properties. Attempted: ${properties}, Maximum: ${PROPERTY_QUOTA}`);
  }
  if (image.tags.length > TAG_QUOTA) {
    throw new NimbusError('too_large', `Image tag limit exceeded for image ${image.id}: The limit has been exceeded on the number of allowed image tags. Attempted: ${image.tags.length}, Maximum: ${TAG_QUOTA}`);
  }
}

function checkPropertyNames(properties: Record<string, string>): void {
  for (const key of Object.keys(properties)) {
    if (key.length > 255) throw invalid('Custom property should not be greater than 255 characters.');
    checkWritable(key);
  }
}

const unique = (tags: string[]) => [...new Set(tags)];

/**
 * Glance images: records, visibility, the queued → saving → active life of their data,
 * and the data itself on local disk. No HTTP here; the image API and the compute service
 * (imageRef checks, snapshots) both use it.
 */
export class Images {
  readonly files: ImageFiles;
  /** Largest upload accepted, in bytes (Glance's image_size_cap). */
  sizeCap: number;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    imageDir: string,
    options: { sizeCap?: number } = {},
  ) {
    this.files = new ImageFiles(imageDir);
    this.sizeCap = options.sizeCap ?? DEFAULT_SIZE_CAP;
  }

  async create(input: NewImage): Promise<Image> {
    const properties = input.properties ?? {};
    checkPropertyNames(properties);
    nonNegative('min_disk', input.minDisk ?? 0);
    nonNegative('min_ram', input.minRam ?? 0);
    const now = this.clock.now();
    const image: Image = {
      id: input.id ?? randomUUID(),
      name: input.name ?? null,
      owner: input.owner,
      status: 'queued',
      visibility: input.visibility ?? 'shared',
      containerFormat: input.containerFormat ?? null,
      diskFormat: input.diskFormat ?? null,
      size: null,
      virtualSize: null,
      checksum: null,
      osHashAlgo: null,
      osHashValue: null,
      minDisk: input.minDisk ?? 0,
      minRam: input.minRam ?? 0,
      protected: input.protected ?? false,
      osHidden: input.osHidden ?? false,
      properties,
      tags: unique(input.tags ?? []),
      createdAt: now,
      updatedAt: now,
    };
    checkQuotas(image);
    if (input.id !== undefined && (await this.find(input.id))) throw conflict(`Image ID ${input.id} already exists!`);
    try {
      await this.db
        .insertInto('images')
        .values({
          id: image.id,
          name: image.name,
          owner: image.owner,
          status: image.status,
          visibility: image.visibility,
          container_format: image.containerFormat,
          disk_format: image.diskFormat,
          size: null,
          checksum: null,
          os_hash_algo: null,
          os_hash_value: null,
          min_disk: image.minDisk,
          min_ram: image.minRam,
          protected: image.protected ? 1 : 0,
          properties: writeProperties(image),
          tags: JSON.stringify(image.tags),
          created_at: now.toISOString(),
          updated_at: now.toISOString(),
        })
        .execute();
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (e.code === '23505' || /UNIQUE constraint failed/.test(e.message ?? '')) throw conflict(`Image ID ${image.id} already exists!`);
      throw err;
    }
    return image;
  }

  async find(id: string): Promise<Image | undefined> {
    const row = await this.db.selectFrom('images').selectAll().where('id', '=', id).executeTakeFirst();
    return row && fromRow(row);
  }

  /**
   * The image if the viewer may see it (`isVisible`), else undefined: the one lookup every
   * path that takes an image id from a caller goes through (the image API, and the compute
   * service's create, rebuild and rescue), so another project's private image is, to them,
   * an image that does not exist.
   */
  async visible(id: string, viewer: ImageViewer): Promise<Image | undefined> {
    const image = await this.find(id);
    return image && isVisible(image, viewer) ? image : undefined;
  }

  /** The image, or 404 when it does not exist or, given a viewer, they may not see it. */
  async get(id: string, viewer?: ImageViewer): Promise<Image> {
    const image = viewer ? await this.visible(id, viewer) : await this.find(id);
    if (!image) throw notFound(`No image found with ID ${id}`);
    return image;
  }

  /** A page of the images the viewer may see, in the query's order; `more` when the page is full. */
  async list(viewer: ImageViewer, query: ImageQuery): Promise<{ images: Image[]; more: boolean }> {
    let after: ImageTable | undefined;
    if (query.marker !== undefined) {
      after = await this.db.selectFrom('images').selectAll().where('id', '=', query.marker).executeTakeFirst();
      if (!after || !isVisible(fromRow(after), viewer)) throw invalid(`No image found with ID ${query.marker}`);
    }
    // created_at then id make the order total, so keyset paging never skips or repeats.
    const sort = [...query.sort];
    const defaultDir = query.sort.length === 1 ? query.sort[0].dir : 'desc';
    for (const key of ['created_at', 'id'] as const) if (!sort.some((s) => s.key === key)) sort.push({ key, dir: defaultDir });

    const images: Image[] = [];
    if (query.limit <= 0) return { images, more: false };
    // Some filters (tags, custom properties, os_hidden) look inside JSON, so rows are read
    // in chunks and filtered here until the page is full.
    const chunk = Math.max(query.limit * 2, 50);
    for (;;) {
      const rows = await this.candidates(viewer, query, sort, after).limit(chunk).execute();
      for (const row of rows) {
        const image = fromRow(row);
        if (!this.matches(image, query)) continue;
        images.push(image);
        if (images.length === query.limit) return { images, more: true };
      }
      if (rows.length < chunk) return { images, more: false };
      after = rows[rows.length - 1];
    }
  }

  private candidates(viewer: ImageViewer, query: ImageQuery, sort: ImageQuery['sort'], after: ImageTable | undefined) {
    let q = this.db.selectFrom('images').selectAll().where('status', 'not in', ['killed', 'deleted']);
    if (!viewer.isAdmin) {
      q = q.where((eb) =>
        eb.or([eb('visibility', 'in', ['public', 'community']), ...(viewer.projectId !== null ? [eb('owner', '=', viewer.projectId)] : [])]),
      );
    }
    if (query.visibility === undefined) {
      // Other projects' community images show only when asked for.
      q = q.where((eb) => eb.or([eb('visibility', '!=', 'community'), ...(viewer.projectId !== null ? [eb('owner', '=', viewer.projectId)] : [])]));
    } else if (query.visibility !== 'all') {
      q = q.where('visibility', '=', query.visibility);
    }
    for (const [column, values] of Object.entries(query.match ?? {}) as [keyof NonNullable<ImageQuery['match']>, string[]][]) {
      if (values.length === 0) q = q.where(sql<SqlBool>`1 = 0`);
      else q = values.length === 1 ? q.where(column, '=', values[0]) : q.where(column, 'in', values);
    }
    if (query.sizeMin !== undefined) q = q.where('size', '>=', query.sizeMin);
    if (query.sizeMax !== undefined) q = q.where('size', '<=', query.sizeMax);
    if (query.protected !== undefined) q = q.where('protected', '=', query.protected ? 1 : 0);
    const ops = { eq: '=', neq: '!=', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
    if (query.createdAt) q = q.where('created_at', ops[query.createdAt.op], query.createdAt.at.toISOString());
    if (query.updatedAt) q = q.where('updated_at', ops[query.updatedAt.op], query.updatedAt.at.toISOString());
    if (after) {
      const row = after;
      q = q.where((eb: ExpressionBuilder<Schema, 'images'>) =>
        eb.or(
          sort.map((s, i) =>
            eb.and([
              ...sort.slice(0, i).map((p) => eb(sortColumn(p.key), '=', sortValue(row, p.key))),
              eb(sortColumn(s.key), s.dir === 'asc' ? '>' : '<', sortValue(row, s.key)),
            ]),
          ) as Expression<SqlBool>[],
        ),
      );
    }
    for (const s of sort) q = q.orderBy(sortColumn(s.key), s.dir);
    return q;
  }

  private matches(image: Image, query: ImageQuery): boolean {
    if (image.osHidden !== (query.osHidden ?? false)) return false;
    if (query.tags && !query.tags.every((t) => image.tags.includes(t))) return false;
    for (const [key, value] of Object.entries(query.properties ?? {})) if (image.properties[key] !== value) return false;
    return true;
  }

  /**
   * Applies changes in order, as Glance applies a JSON Patch: core attributes are set,
   * custom properties added, replaced or removed.
   */
  update(id: string, changes: ImageChange[]): Promise<Image> {
    return this.mutate(id, (current) => {
      const image: Image = { ...current, properties: { ...current.properties }, tags: [...current.tags] };
      for (const change of changes) applyChange(image, change);
      return image;
    });
  }

  addTag(id: string, tag: string): Promise<Image> {
    return this.mutate(id, (image) => (image.tags.includes(tag) ? image : { ...image, tags: [...image.tags, tag] }));
  }

  async removeTag(id: string, tag: string): Promise<Image> {
    return this.mutate(id, (image) => {
      if (!image.tags.includes(tag)) throw notFound(`Tag ${tag} not found.`);
      return { ...image, tags: image.tags.filter((t) => t !== tag) };
    });
  }

  /** Deletes the record and its data. Protected images refuse (403). */
  async delete(id: string): Promise<void> {
    const image = await this.get(id);
    if (image.protected) throw forbidden(`Image ${id} is protected and cannot be deleted.`);
    const r = await this.db.deleteFrom('images').where('id', '=', id).where('protected', '=', 0).executeTakeFirst();
    if (!r.numDeletedRows) {
      // Changed under us: protected since, or already gone.
      const again = await this.get(id);
      if (again.protected) throw forbidden(`Image ${id} is protected and cannot be deleted.`);
    }
    await this.files.remove(id);
  }

  /**
   * Receives an image's data: queued → saving while it streams to disk (hashing and
   * counting), then active. A failed upload returns the image to queued, so it may be retried.
   */
  async storeData(id: string, source: AsyncIterable<Buffer | string>): Promise<Image> {
    const image = await this.get(id);
    if (image.status !== 'queued') throw conflict(`Image status transition from ${image.status} to saving is not allowed`);
    const missing = (['disk_format', 'container_format'] as const).filter((k) => !(k === 'disk_format' ? image.diskFormat : image.containerFormat));
    if (missing.length) {
      throw invalid(`${missing.length === 1 ? 'Property' : 'Properties'} ${missing.join(', ')} must be set prior to saving data.`);
    }
    if (!(await this.transition(id, 'queued', 'saving'))) {
      const now = await this.get(id);
      throw conflict(`Image status transition from ${now.status} to saving is not allowed`);
    }
    const goneDuringUpload = () =>
      notFound(`Image ${id} could not be found after upload. The image may have been deleted during the upload, cleaning up the chunks uploaded.`);
    let data;
    try {
      const written = await this.files.write(id, source, this.sizeCap);
      data = written.data;
      await written.commit();
    } catch (err) {
      await this.files.remove(id);
      if (!(await this.transition(id, 'saving', 'queued')) && !(await this.find(id))) throw goneDuringUpload();
      throw err;
    }
    return this.mutate(id, (current) => {
      if (current.status !== 'saving') throw conflict(`Image status transition from ${current.status} to active is not allowed`);
      return {
        ...current,
        status: 'active',
        size: data.size,
        virtualSize: virtualSize(current.diskFormat, current.containerFormat, data),
        checksum: data.checksum,
        osHashAlgo: data.osHashAlgo,
        osHashValue: data.osHashValue,
      };
    }).catch(async (err: unknown) => {
      // Deleted while uploading: the data has no image to belong to.
      if (err instanceof NimbusError && err.kind === 'not_found') {
        await this.files.remove(id);
        throw goneDuringUpload();
      }
      throw err;
    });
  }

  /** The image's data to read, or null when it has none (not uploaded yet). */
  async openData(id: string): Promise<{ stream: NodeJS.ReadableStream; size: number } | null> {
    const image = await this.get(id);
    if (image.status !== 'active' && image.status !== 'deactivated') return null;
    return this.files.open(id);
  }

  /**
   * An upload its process did not live to finish (the image left `saving`) goes back to
   * `queued`, so the task that owned it can upload again. Only for a writer that knows the
   * upload was its own.
   */
  async restartUpload(id: string): Promise<boolean> {
    await this.files.remove(id);
    return this.transition(id, 'saving', 'queued');
  }

  private async transition(id: string, from: ImageStatus, to: ImageStatus): Promise<boolean> {
    const current = await this.find(id);
    if (!current) return false;
    const values: Partial<ImageTable> = { status: to, updated_at: this.nextUpdatedAt(current) };
    if (to === 'queued') Object.assign(values, { size: null, checksum: null, os_hash_algo: null, os_hash_value: null });
    const r = await this.db.updateTable('images').set(values).where('id', '=', id).where('status', '=', from).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** updated_at moves strictly forward on every write, so it serves as the row's version. */
  private nextUpdatedAt(current: Image): string {
    const now = this.clock.nowMs();
    return new Date(Math.max(now, current.updatedAt.getTime() + 1)).toISOString();
  }

  /**
   * Read, change, write if nobody wrote in between (compare-and-set on updated_at), else
   * retry: concurrent PATCHes on SQLite and PostgreSQL both end with every change applied.
   */
  private async mutate(id: string, change: (image: Image) => Image): Promise<Image> {
    for (;;) {
      const current = await this.get(id);
      const next = change(current);
      if (next === current) return current;
      checkQuotas(next);
      const updatedAt = this.nextUpdatedAt(current);
      const r = await this.db
        .updateTable('images')
        .set({
          name: next.name,
          owner: next.owner,
          status: next.status,
          visibility: next.visibility,
          container_format: next.containerFormat,
          disk_format: next.diskFormat,
          size: next.size,
          checksum: next.checksum,
          os_hash_algo: next.osHashAlgo,
          os_hash_value: next.osHashValue,
          min_disk: next.minDisk,
          min_ram: next.minRam,
          protected: next.protected ? 1 : 0,
          properties: writeProperties(next),
          tags: JSON.stringify(next.tags),
          updated_at: updatedAt,
        })
        .where('id', '=', id)
        .where('updated_at', '=', current.updatedAt.toISOString())
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) return { ...next, updatedAt: new Date(updatedAt) };
    }
  }
}

function applyChange(image: Image, change: ImageChange): void {
  const { op, attribute } = change;
  checkWritable(attribute);
  if (isCoreAttribute(attribute)) {
    if (op === 'remove') throw forbidden(`Property ${attribute} may not be removed.`);
    if (op === 'add' && change.strict) throw conflict(`Property ${attribute} already present.`);
    const field = WRITABLE[attribute as keyof typeof WRITABLE];
    if ((field === 'containerFormat' || field === 'diskFormat') && image.status !== 'queued' && image.status !== 'importing') {
      throw forbidden(`Attribute ${attribute} can be only replaced for a queued image.`);
    }
    if (field === 'minDisk' || field === 'minRam') nonNegative(attribute, change.value as number);
    (image as unknown as Record<string, unknown>)[field] = field === 'tags' ? unique(change.value as string[]) : change.value;
    return;
  }
  const present = Object.hasOwn(image.properties, attribute);
  if (op === 'remove') {
    if (!present) throw conflict(`Property ${attribute} does not exist.`);
    delete image.properties[attribute];
    return;
  }
  if (op === 'replace' && !present) throw conflict(`Property ${attribute} does not exist.`);
  if (op === 'add' && present && change.strict) throw conflict(`Property ${attribute} already present.`);
  checkPropertyNames({ [attribute]: '' });
  // Defined, not assigned, so that even a property named __proto__ is just a property.
  Object.defineProperty(image.properties, attribute, { value: change.value as string, enumerable: true, writable: true, configurable: true });
}
