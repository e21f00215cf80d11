import type { Services } from '../services.js';
import type { AuthContext } from '../identity/tokens.js';
import type { Image } from '../image/images.js';
import { DriveError } from './drive-states.js';
import type { Media } from './drive-states.js';

/**
 * Library drives are the image store's images, seen as drives one can clone (CloudSigma's
 * /libdrives/): the image API and the library list the same things. What a library drive
 * says of itself comes from the image: Glance's usual properties (architecture, os_type,
 * os_distro, os_version, description) and a few of the library's own (image_type,
 * install_notes, category, licenses, url, paid) an operator sets as image properties.
 */
export interface LibraryDrive {
  id: string;
  name: string;
  description: string | null;
  arch: string | null;
  imageType: string;
  os: string | null;
  distribution: string | null;
  version: string | null;
  installNotes: string | null;
  category: string[];
  licenses: unknown[];
  media: Media;
  size: number;
  paid: boolean;
  url: string;
  meta: Record<string, string>;
}

export interface LibraryQuery {
  limit: number;
  offset: number;
  name?: string[];
  id?: string[];
  os?: string[];
  arch?: string[];
  imageType?: string[];
  media?: string[];
}

/** The library a caller sees: every active image they may see, by name. */
export class Library {
  constructor(private readonly s: Services) {}

  async list(ctx: AuthContext, q: LibraryQuery): Promise<{ total: number; drives: LibraryDrive[] }> {
    const { images } = await this.s.images.list(viewerOf(ctx), { limit: 100000, sort: [{ key: 'name', dir: 'asc' }], match: { status: ['active'] } });
    const all = images.map(libraryDrive).filter((d) => {
      if (q.name?.length && !q.name.includes(d.name)) return false;
      if (q.id?.length && !q.id.includes(d.id)) return false;
      if (q.os?.length && !q.os.includes(d.os ?? '')) return false;
      if (q.arch?.length && !q.arch.includes(d.arch ?? '')) return false;
      if (q.imageType?.length && !q.imageType.includes(d.imageType)) return false;
      if (q.media?.length && !q.media.includes(d.media)) return false;
      return true;
    });
    return { total: all.length, drives: q.limit > 0 ? all.slice(q.offset, q.offset + q.limit) : all.slice(q.offset) };
  }

  /** A library drive the caller may see, or 404. */
  async get(ctx: AuthContext, id: string): Promise<LibraryDrive> {
    const image = await this.s.images.visible(id, viewerOf(ctx));
    if (!image || image.status !== 'active') throw new DriveError('not_found', `Library drive ${id} does not exist.`);
    return libraryDrive(image);
  }
}

const viewerOf = (ctx: AuthContext) => ({ projectId: ctx.projectId, isAdmin: ctx.isAdmin });

/** Glance's architecture names as the library's bits. */
const ARCH: Record<string, string> = { x86_64: '64', amd64: '64', aarch64: '64', i686: '32', i386: '32' };

function parseList(text: string | undefined): unknown[] {
  if (!text) return [];
  try {
    const v = JSON.parse(text);
    return Array.isArray(v) ? v : [];
  } catch {
    return text.split(',').map((x) => x.trim()).filter(Boolean);
  }
}

export function libraryDrive(image: Image): LibraryDrive {
  const p = image.properties;
  const iso = image.diskFormat === 'iso';
  return {
    id: image.id,
    name: image.name ?? '',
    description: p.description ?? null,
    arch: p.arch ?? (p.architecture ? (ARCH[p.architecture] ?? p.architecture) : null),
    // An installer (an ISO) or a system ready to boot.
    imageType: p.image_type ?? (iso ? 'install' : 'preinst'),
    os: p.os ?? p.os_type ?? null,
    distribution: p.os_distro ?? null,
    version: p.os_version ?? null,
    installNotes: p.install_notes ?? null,
    category: parseList(p.category) as string[],
    licenses: parseList(p.licenses),
    media: iso ? 'cdrom' : 'disk',
    size: Math.max(image.virtualSize ?? 0, image.size ?? 0, image.minDisk * 1024 ** 3),
    paid: p.paid === 'true',
    url: p.url ?? '',
    meta: {},
  };
}
