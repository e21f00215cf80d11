import { gzipSync } from 'node:zlib';

/** One entry of an initramfs: a directory, a file or a symbolic link. */
export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Buffer; mode?: number }
  | { kind: 'symlink'; path: string; target: string };

/**
 * The "newc" cpio archive the kernel unpacks into its initramfs, gzipped: a few lines of
 * ours rather than a dependency on the cpio command or an npm package.
 */
export function initramfs(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  const add = (name: string, mode: number, data: Buffer) => {
    const fields = [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, Buffer.byteLength(name) + 1, 0];
    const header = Buffer.from('070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join(''), 'latin1');
    const nameBuf = Buffer.concat([Buffer.from(name), Buffer.alloc(1)]);
    parts.push(header, nameBuf, pad(header.length + nameBuf.length), data, pad(data.length));
  };
  for (const e of entries) {
    if (e.kind === 'dir') add(e.path, 0o040000 | (e.mode ?? 0o755), Buffer.alloc(0));
    else if (e.kind === 'file') add(e.path, 0o100000 | (e.mode ?? 0o644), e.data);
    else add(e.path, 0o120000 | 0o777, Buffer.from(e.target));
  }
  add('TRAILER!!!', 0, Buffer.alloc(0));
  return gzipSync(Buffer.concat(parts));
}
