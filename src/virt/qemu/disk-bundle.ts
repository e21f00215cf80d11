import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { DriverError } from '../driver.js';

/**
 * The disks of a machine on their way to another host, as one stream: for each file a JSON
 * header line ({"name","size"}) and then its bytes, and a last line {"end":true}. Only files
 * named in `names` are written, into a folder of the receiver's choosing; a stream cut short
 * (no end line) is an error, so a half copy never passes for a whole one.
 */
export async function* packFiles(dir: string, names: string[]): AsyncIterable<Buffer> {
  for (const name of names) {
    const size = statSync(join(dir, name)).size;
    yield Buffer.from(JSON.stringify({ name, size }) + '\n');
    for await (const chunk of createReadStream(join(dir, name))) yield chunk as Buffer;
  }
  yield Buffer.from(JSON.stringify({ end: true }) + '\n');
}

/** Writes the files of a packed stream into `dir`; answers their names. */
export async function unpackFiles(stream: AsyncIterable<Buffer>, dir: string, names: readonly string[]): Promise<string[]> {
  const written: string[] = [];
  let pending = Buffer.alloc(0);
  let file: { out: ReturnType<typeof createWriteStream>; left: number } | null = null;
  let ended = false;
  const closeFile = async () => {
    if (!file) return;
    file.out.end();
    await finished(file.out);
    file = null;
  };
  for await (const chunk of stream) {
    pending = pending.length ? Buffer.concat([pending, chunk]) : Buffer.from(chunk);
    while (pending.length && !ended) {
      if (file) {
        const take = Math.min(file.left, pending.length);
        if (!file.out.write(pending.subarray(0, take))) await new Promise<void>((r) => file!.out.once('drain', () => r()));
        file.left -= take;
        pending = pending.subarray(take);
        if (file.left === 0) await closeFile();
        continue;
      }
      const nl = pending.indexOf(10);
      if (nl < 0) {
        if (pending.length > 4096) throw new DriverError('The moved disks are not a disk bundle.');
        break;
      }
      const header = JSON.parse(pending.subarray(0, nl).toString('utf8')) as { name?: string; size?: number; end?: boolean };
      pending = pending.subarray(nl + 1);
      if (header.end) {
        ended = true;
        break;
      }
      if (!header.name || !names.includes(header.name) || !Number.isSafeInteger(header.size) || header.size! < 0) throw new DriverError(`The moved disks name an unexpected file: ${header.name}.`);
      file = { out: createWriteStream(join(dir, header.name), { mode: 0o600 }), left: header.size! };
      written.push(header.name);
      if (file.left === 0) await closeFile();
    }
  }
  await closeFile();
  if (!ended) throw new DriverError('The moved disks were cut off before their end.');
  return written;
}
