import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { NimbusError } from '../errors.js';
import { PRIVATE_DIR, PRIVATE_FILE } from '../data-dir.js';

/** What writing an image's data learned about it. */
export interface StoredData {
  size: number;
  /** MD5 hex, Glance's legacy `checksum`. */
  checksum: string;
  osHashAlgo: 'sha512';
  osHashValue: string;
  /** The first bytes, kept to read a disk format's header (qcow2 stores its virtual size there). */
  head: Buffer;
}

const HEAD_BYTES = 512;

/**
 * Image data as plain files, <imageDir>/<id> (default <dataDir>/images/<id>), the layout
 * bootstrap seeds; several API nodes share the directory. A file is
 * written beside its final name and renamed into place, so a reader never sees half an
 * image and a crash leaves only a stray `.part` file.
 */
export class ImageFiles {
  constructor(readonly dir: string) {}

  path(id: string): string {
    return join(this.dir, id);
  }

  /** Streams `source` to a temporary file, hashing as it goes; refuses more than `sizeCap` bytes. */
  async write(id: string, source: AsyncIterable<Buffer | string>, sizeCap: number): Promise<{ data: StoredData; commit: () => Promise<void> }> {
    await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR });
    const part = `${this.path(id)}.part`;
    const md5 = createHash('md5');
    const sha512 = createHash('sha512');
    const headChunks: Buffer[] = [];
    let headLength = 0;
    let size = 0;
    try {
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Buffer | string>) {
          for await (const c of chunks) {
            const chunk = typeof c === 'string' ? Buffer.from(c) : c;
            size += chunk.length;
            if (size > sizeCap) throw new NimbusError('too_large', `The incoming image is too large: The provided image is too large.`);
            md5.update(chunk);
            sha512.update(chunk);
            if (headLength < HEAD_BYTES) {
              headChunks.push(chunk.subarray(0, HEAD_BYTES - headLength));
              headLength += Math.min(chunk.length, HEAD_BYTES - headLength);
            }
            yield chunk;
          }
        },
        createWriteStream(part, { mode: PRIVATE_FILE }),
      );
    } catch (err) {
      await rm(part, { force: true });
      throw err;
    }
    return {
      data: { size, checksum: md5.digest('hex'), osHashAlgo: 'sha512', osHashValue: sha512.digest('hex'), head: Buffer.concat(headChunks) },
      commit: () => rename(part, this.path(id)),
    };
  }

  /** The data as a stream, or null when the image has none. */
  async open(id: string): Promise<{ stream: ReadStream; size: number } | null> {
    const file = this.path(id);
    try {
      const s = await stat(file);
      return { stream: createReadStream(file), size: s.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async remove(id: string): Promise<void> {
    await rm(this.path(id), { force: true });
    await rm(`${this.path(id)}.part`, { force: true });
  }
}

/**
 * The size a disk presents to the guest, as Glance's format inspector reads it: the file
 * size for raw, the header field for qcow2; unknown (null) otherwise.
 */
export function virtualSize(diskFormat: string | null, containerFormat: string | null, data: StoredData): number | null {
  if (containerFormat !== 'bare') return null;
  if (diskFormat === 'raw') return data.size;
  if (diskFormat === 'qcow2' && data.head.length >= 32 && data.head.readUInt32BE(0) === 0x514649fb) {
    return Number(data.head.readBigUInt64BE(24));
  }
  return null;
}
