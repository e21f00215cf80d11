import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DriverError } from '../driver.js';

const run = promisify(execFile);

/** An image's cached copy on this host: what copy-on-write disks are made over. */
export interface Base {
  path: string;
  format: 'qcow2' | 'raw';
  /** Its virtual size in bytes. */
  size: number;
}

/**
 * A host's copies of the images its disks are made from (Nova's `_base`): one copy per
 * image, made once and never changed, so that every root disk and every drive cloned from
 * the image is a thin qcow2 overlay on it, as the libvirt driver makes image-backed disks.
 * An image's bytes never change, so its size is read once.
 */
export class ImageCache {
  private readonly sizes = new Map<string, Promise<number>>();

  constructor(private readonly dir: string) {}

  async base(imageId: string, image: { path: string; diskFormat: string }): Promise<Base> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, imageId);
    if (!existsSync(path)) {
      if (!existsSync(image.path)) throw new DriverError(`Image ${imageId} has no data on this host.`);
      copyFileSync(image.path, path + '.part');
      renameSync(path + '.part', path);
    }
    const format = image.diskFormat === 'qcow2' ? 'qcow2' : 'raw';
    let size = this.sizes.get(path);
    if (!size) {
      size = virtualSize(path, format);
      this.sizes.set(path, size);
      size.catch(() => this.sizes.delete(path));
    }
    return { path, format, size: await size };
  }

  /** A qcow2 overlay at `path` on the image's copy, as large as the image or `size` if that is more. */
  static async overlay(path: string, base: Base, size: number): Promise<void> {
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', base.format, '-b', base.path, path, ...(size > base.size ? [String(size)] : [])]);
  }
}

export async function virtualSize(path: string, format?: string): Promise<number> {
  const { stdout } = await run('qemu-img', ['info', '-U', '--output=json', ...(format ? ['-f', format] : []), path]);
  return (JSON.parse(stdout) as { 'virtual-size': number })['virtual-size'];
}
