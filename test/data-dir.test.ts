/**
 * What Nimbus keeps on disk is readable by its own user only: 0700 directories, 0600 files,
 * created that way whatever the umask, and tightened on start when an older data directory
 * is looser.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PG_URL, startCloud } from './support.js';

const scratch = mkdtempSync(join(tmpdir(), 'nimbus-datadir-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const modeOf = (path: string) => statSync(path).mode & 0o777;
const octal = (mode: number) => mode.toString(8).padStart(4, '0');

/** Every path given with its mode, so a failure names each one that is wrong. */
function assertModes(expected: [string, number][]): void {
  const actual = expected.map(([path]) => [path, octal(modeOf(path))]);
  assert.deepEqual(actual, expected.map(([path, mode]) => [path, octal(mode)]));
}

test('a new data directory, its database files, clouds.yaml and image data are readable by the Nimbus user only', async () => {
  // Nimbus must not rely on the caller's umask: make it a permissive one for this test.
  const umask = process.umask(0o002);
  const parent = join(scratch, 'new');
  const dataDir = join(parent, 'data');
  try {
    const cloud = await startCloud({ dataDir });
    try {
      // An uploaded image, written after start.
      const image = await cloud.req('POST', '/image/v2/images', {
        token: cloud.demoToken,
        body: { name: 'private-bytes', disk_format: 'raw', container_format: 'bare' },
      });
      assert.equal(image.status, 201);
      const upload = await cloud.req('PUT', `/image/v2/images/${image.body.id}/file`, {
        token: cloud.demoToken,
        raw: Buffer.alloc(4096, 1),
        headers: { 'content-type': 'application/octet-stream' },
      });
      assert.equal(upload.status, 204, upload.text);

      const images = join(dataDir, 'images');
      const files: [string, number][] = [
        [parent, 0o700],
        [dataDir, 0o700],
        [join(dataDir, 'clouds.yaml'), 0o600],
        [images, 0o700],
        ...readdirSync(images).map((f): [string, number] => [join(images, f), 0o600]),
      ];
      assert.equal(readdirSync(images).length, 2, 'the seeded image and the uploaded one');
      if (!PG_URL) {
        for (const suffix of ['', '-wal', '-shm']) {
          const file = join(dataDir, `nimbus.sqlite${suffix}`);
          assert.ok(existsSync(file), `${file} exists while the database is open`);
          files.push([file, 0o600]);
        }
      }
      assertModes(files);
    } finally {
      await cloud.close();
    }
  } finally {
    process.umask(umask);
  }
});

test('a start tightens an older data directory that other users could read', async () => {
  const dataDir = join(scratch, 'older');
  const images = join(dataDir, 'images');
  mkdirSync(images, { recursive: true });
  chmodSync(dataDir, 0o755);
  chmodSync(images, 0o755);
  const leftovers = [join(dataDir, 'clouds.yaml'), join(images, 'an-image'), join(images, 'an-upload.part')];
  for (const f of leftovers) writeFileSync(f, 'old data', { mode: 0o644 });
  // An empty database file, as an older Nimbus would have left it world-readable.
  const sqlite = PG_URL ? [] : [join(dataDir, 'nimbus.sqlite')];
  for (const f of sqlite) writeFileSync(f, '', { mode: 0o644 });
  const unrelated = join(dataDir, 'notes.txt'); // not Nimbus's: left as it is
  writeFileSync(unrelated, 'mine', { mode: 0o644 });
  for (const f of [...leftovers, ...sqlite, unrelated]) chmodSync(f, 0o644);

  const cloud = await startCloud({ dataDir });
  try {
    assertModes([
      [dataDir, 0o700],
      [images, 0o700],
      ...leftovers.map((f): [string, number] => [f, 0o600]),
      ...sqlite.map((f): [string, number] => [f, 0o600]),
      [unrelated, 0o644],
    ]);
  } finally {
    await cloud.close();
  }
});
