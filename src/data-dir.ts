import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What Nimbus keeps on disk (the SQLite database, clouds.yaml with the passwords, image data,
 * later server data) is readable by the Nimbus user only: directories 0700, files 0600.
 * Everything is created with these modes explicitly (the CLI also sets umask 077 for what a
 * library creates), and a start tightens what an older, looser data directory holds.
 */
export const PRIVATE_DIR = 0o700;
export const PRIVATE_FILE = 0o600;

/** The data directory's own entries; anything else there (the directory may be shared) is left alone. */
const OWN_FILES = ['clouds.yaml'];
const OWN_TREES = ['images'];

/** SQLite's companions of a database file, which hold its pages too. */
export const SQLITE_SUFFIXES = ['', '-wal', '-shm', '-journal'];

/** Creates a directory, and any missing parents, readable by this user only. */
export function makePrivateDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: PRIVATE_DIR });
}

/** Takes the group and other bits off one path (never through a symlink); true if it changed. */
function tighten(path: string): boolean {
  let mode: number;
  let directory: boolean;
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return false;
    mode = st.mode & 0o7777;
    directory = st.isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  if ((mode & 0o077) === 0) return false;
  chmodSync(path, directory ? PRIVATE_DIR : mode & 0o700);
  return true;
}

function tightenTree(path: string): number {
  let changed = tighten(path) ? 1 : 0;
  let entries: string[];
  try {
    if (!lstatSync(path).isDirectory()) return changed;
    entries = readdirSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return changed;
    throw err;
  }
  for (const e of entries) changed += tightenTree(join(path, e));
  return changed;
}

/**
 * Creates the data directory (0700) or tightens an existing one, with Nimbus's own files in
 * it and the SQLite database's files wherever they are; returns how many paths it tightened.
 */
export function secureDataDir(dataDir: string, sqliteFile: string | null): number {
  makePrivateDir(dataDir);
  let changed = tighten(dataDir) ? 1 : 0;
  for (const f of OWN_FILES) changed += tighten(join(dataDir, f)) ? 1 : 0;
  for (const t of OWN_TREES) changed += tightenTree(join(dataDir, t));
  if (sqliteFile) for (const s of SQLITE_SUFFIXES) changed += tighten(sqliteFile + s) ? 1 : 0;
  return changed;
}
