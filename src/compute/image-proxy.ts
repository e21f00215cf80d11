/**
 * The compute API's view of Glance images (Nova's image proxy, up to 2.35, and its image
 * metadata, up to 2.38): the same records as the image API, read and changed through the
 * one image store, so a change made here shows there and the other way round.
 */
import { forbidden, invalid } from '../errors.js';
import { checkWritable, isCoreAttribute, type Image, type ImageChange, type ImageQuery, type ImageViewer, type Images } from '../image/images.js';

/** What Nova's images list passes on to Glance. */
export interface ProxyImageFilters {
  name?: string;
  /** Glance's status, lower case. */
  status?: string;
  changesSince?: Date;
  /** The server a snapshot was taken of (Glance property instance_uuid). */
  server?: string;
  /** snapshot or backup (Glance property image_type). */
  type?: string;
  /** Glance compares these for equality, whatever the API reference suggests. */
  minRam?: number;
  minDisk?: number;
  /** property-<name>=<value> filters. */
  properties?: Record<string, string>;
  /** None: every image, as glanceclient pages through them all. */
  limit?: number;
  marker?: string;
}

/** Glance's api_limit_max: the largest page the image store hands out. */
const PAGE = 1000;

/** The images the viewer may see that match, newest first (Glance's default order). */
export async function listImages(images: Images, viewer: ImageViewer, f: ProxyImageFilters): Promise<Image[]> {
  const properties: Record<string, string> = { ...f.properties };
  if (f.server !== undefined) properties.instance_uuid = f.server;
  if (f.type !== undefined) properties.image_type = f.type;
  const query: ImageQuery = {
    limit: PAGE,
    sort: [{ key: 'created_at', dir: 'desc' }],
    match: {
      ...(f.name !== undefined ? { name: [f.name] } : {}),
      ...(f.status !== undefined ? { status: [f.status] } : {}),
    },
    ...(f.changesSince ? { updatedAt: { op: 'gte' as const, at: f.changesSince } } : {}),
    ...(Object.keys(properties).length ? { properties } : {}),
  };
  const wanted = f.limit ?? Infinity;
  const out: Image[] = [];
  let marker = f.marker;
  for (;;) {
    const page = await images.list(viewer, { ...query, marker });
    for (const image of page.images) {
      if (f.minRam !== undefined && image.minRam !== f.minRam) continue;
      if (f.minDisk !== undefined && image.minDisk !== f.minDisk) continue;
      out.push(image);
      if (out.length >= wanted) return out;
    }
    if (!page.more || page.images.length === 0) return out;
    marker = page.images[page.images.length - 1].id;
  }
}

/** Nova's check_img_metadata_properties_quota: the metadata_items quota, -1 unlimited. */
export function checkMetadataQuota(metadata: Record<string, string>, limit: number): void {
  if (limit >= 0 && Object.keys(metadata).length > limit) throw forbidden('Image metadata limit exceeded');
}

/** A metadata key must name a custom property: Glance's own attributes are not metadata. */
function checkKey(key: string): void {
  checkWritable(key);
  if (isCoreAttribute(key)) throw invalid(`Invalid metadata key ${key}: it is an image attribute, not a property.`);
}

/**
 * Makes the image's custom properties equal `properties`, as Nova's proxy does by sending
 * Glance the whole set with the missing ones to remove.
 */
export async function setProperties(images: Images, image: Image, properties: Record<string, string>): Promise<Image> {
  const changes: ImageChange[] = [];
  for (const key of Object.keys(image.properties)) if (!Object.hasOwn(properties, key)) changes.push({ op: 'remove', attribute: key });
  for (const [key, value] of Object.entries(properties)) {
    if (image.properties[key] === value) continue;
    checkKey(key);
    changes.push({ op: 'add', attribute: key, value });
  }
  return changes.length ? images.update(image.id, changes) : image;
}
