import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { GuestSpec } from '../driver.js';
import { InstanceMetadata } from '../metadata.js';

const run = promisify(execFile);

/**
 * Writes the config drive Nova writes (ISO 9660, volume label config-2) for `spec` into
 * `iso`: the files of the instance metadata (the same tree the metadata service answers
 * from), through a staging folder beside it; xorriso makes the image as genisoimage would.
 */
export async function writeConfigDrive(spec: GuestSpec, iso: string): Promise<void> {
  const stage = `${iso}.d`;
  rmSync(stage, { recursive: true, force: true });
  for (const [path, data] of new InstanceMetadata(spec).configDriveFiles()) {
    const full = join(stage, path);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, data);
  }
  try {
    await run('xorriso', ['-as', 'mkisofs', '-o', iso, '-V', 'config-2', '-J', '-r', '-l', '-allow-lowercase', '-allow-multidot', '-quiet', stage]);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
