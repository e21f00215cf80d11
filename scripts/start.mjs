#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=8
/**
 * `npm start`: runs the bundle (dist/nimbus.mjs) in this process, bundling again first
 * only if it is missing or older than a source file or package-lock.json (an edit, a
 * `git pull`, an `npm install`). Checking ~200 file times costs a few milliseconds;
 * bundling, when needed, under a second.
 *
 * V8's young generation is held to 8 MiB semi-spaces (the default grows to 16 MiB): the
 * resident memory is ~20 MB smaller, for ~10 % more CPU per detailed list of 100 in the
 * more frequent scavenges (measured at 100,000 servers; the request-rate goals keep their margin).
 * glibc's malloc is told to map every block over 128 KiB on its own (MALLOC_MMAP_THRESHOLD_):
 * by default it raises that bound after the first free, so each password hash (scrypt's
 * 16 MiB, on libuv's threads) stayed in a thread's arena — ~40 MB after two logins.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUNDLE = join(ROOT, 'dist/nimbus.mjs'); // as scripts/bundle.mjs writes it (imported only when needed)

function newestIn(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestIn(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const sources = Math.max(newestIn(join(ROOT, 'src')), ...['package-lock.json', 'scripts/bundle.mjs'].map((f) => statSync(join(ROOT, f)).mtimeMs));
if (!existsSync(BUNDLE) || statSync(BUNDLE).mtimeMs < sources) {
  process.stderr.write('nimbus: bundling (no bundle yet, or sources newer than it)\n');
  await (await import('./bundle.mjs')).bundle();
}
await import(pathToFileURL(BUNDLE).href);
