import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ImageCache, virtualSize } from './image-cache.js';
import { DriverError, type DriveSource, type DriveSpec, type StorageType } from '../driver.js';

const run = promisify(execFile);

/**
 * Drives on a qemu host: one qcow2 file each under `<dataDir>/drives/`, a snapshot a qcow2
 * copy beside them under `snapshots/`, made and changed with qemu-img. Every operation is
 * idempotent, as the contract asks: a copy is made aside and renamed into place, so a
 * crash halfway leaves nothing that looks finished.
 */
export class QemuDrives {
  constructor(
    private readonly dataDir: string,
    /** Where drives live, as the core records it (the host's name). */
    private readonly location: string,
    /** The file holding an image's data, and its disk format (the image store's to say). */
    private readonly imageFile: (id: string) => Promise<{ path: string; diskFormat: string } | null>,
    private readonly images: ImageCache,
    /** The disk a guest really uses in place of the drive's file (a compute-API server's root disk), if any. */
    private readonly liveDisk: (driveId: string) => Promise<string | null> = async () => null,
  ) {
    mkdirSync(this.dir('drives'), { recursive: true, mode: 0o700 });
    mkdirSync(this.dir('snapshots'), { recursive: true, mode: 0o700 });
  }

  private dir(kind: 'drives' | 'snapshots'): string {
    return join(this.dataDir, kind);
  }

  /** The drive's file; ids come from the core but are checked, as they name files. */
  drivePath(id: string): string {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new DriverError(`Drive ${id} could not be found.`);
    return join(this.dir('drives'), `${id}.qcow2`);
  }

  /** Where a drive's bytes are read from: the guest's own disk when the drive stands for one. */
  private async dataOf(id: string): Promise<string> {
    return (await this.liveDisk(id)) ?? this.drivePath(id);
  }

  private snapshotPath(id: string): string {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new DriverError(`Snapshot ${id} could not be found.`);
    return join(this.dir('snapshots'), `${id}.qcow2`);
  }

  /** One local pool, as big as the data directory's file system. */
  storageTypes(): StorageType[] {
    const fs = statfsSync(this.dataDir);
    return [{ name: 'dssd', minSize: 1024 ** 2, maxSize: fs.blocks * fs.bsize }];
  }

  /** The data directory is this host's own: its storage answers while the host does. */
  storageUp(location: string): boolean {
    return location === this.location;
  }

  private checkType(name: string): void {
    if (!this.storageTypes().some((t) => t.name === name)) throw new DriverError(`Storage type ${name} is not offered on ${this.location}.`);
  }

  async createDrive(spec: DriveSpec, progress?: (percent: number) => void): Promise<{ location: string }> {
    this.checkType(spec.storageType);
    const path = this.drivePath(spec.id);
    if (!existsSync(path)) {
      await run('qemu-img', ['create', '-q', '-f', 'qcow2', `${path}.part`, String(spec.size)]);
      renameSync(`${path}.part`, path);
    }
    progress?.(100);
    return { location: this.location };
  }

  async cloneDrive(spec: DriveSpec, source: DriveSource, progress?: (percent: number) => void): Promise<{ location: string }> {
    if (source.kind === 'blank') return this.createDrive(spec, progress);
    this.checkType(spec.storageType);
    const path = this.drivePath(spec.id);
    if (existsSync(path)) return { location: this.location }; // run again after a crash: the copy is there
    if (source.kind === 'image') {
      // Copy-on-write on the host's copy of the image, as a root disk is: nothing is copied.
      const image = await this.imageFile(source.id);
      if (!image) throw new DriverError(`Image ${source.id} has no data on this host.`);
      await ImageCache.overlay(`${path}.part`, await this.images.base(source.id, image), spec.size);
    } else {
      const from = source.kind === 'drive' ? await this.dataOf(source.id) : this.snapshotPath(source.id);
      if (!existsSync(from)) throw new DriverError(`${source.kind === 'drive' ? 'Drive' : 'Snapshot'} ${source.id} could not be found.`);
      // -U: the source may be a drive a running machine has open.
      await run('qemu-img', ['convert', '-q', '-U', '-f', 'qcow2', '-O', 'qcow2', from, `${path}.part`]);
      if ((await virtualSize(`${path}.part`, 'qcow2')) < spec.size) await run('qemu-img', ['resize', '-q', '-f', 'qcow2', `${path}.part`, String(spec.size)]);
    }
    renameSync(`${path}.part`, path);
    progress?.(100);
    return { location: this.location };
  }

  async resizeDrive(id: string, size: number, progress?: (percent: number) => void): Promise<void> {
    const path = this.drivePath(id);
    if (!existsSync(path)) throw new DriverError(`Drive ${id} could not be found.`);
    const current = await virtualSize(path, 'qcow2');
    if (size !== current) {
      await run('qemu-img', ['resize', '-q', '-f', 'qcow2', ...(size < current ? ['--shrink'] : []), path, String(size)]).catch((err: { stderr?: string; message: string }) => {
        // A running machine holds the file's lock while the drive is plugged into it.
        const why = (err.stderr || err.message).trim();
        throw new DriverError(/lock/i.test(why) ? `Drive ${id} is in use by a guest.` : `Drive ${id} cannot be resized: ${why}`);
      });
    }
    progress?.(100);
  }

  async deleteDrive(id: string): Promise<void> {
    rmSync(this.drivePath(id), { force: true });
    rmSync(`${this.drivePath(id)}.part`, { force: true });
  }

  async snapshotDrive(driveId: string, snapshotId: string): Promise<void> {
    const from = await this.dataOf(driveId);
    const to = this.snapshotPath(snapshotId);
    if (existsSync(to)) return;
    if (!existsSync(from)) throw new DriverError(`Drive ${driveId} could not be found.`);
    await run('qemu-img', ['convert', '-q', '-U', '-f', 'qcow2', '-O', 'qcow2', from, `${to}.part`]);
    renameSync(`${to}.part`, to);
  }

  async deleteSnapshot(snapshotId: string): Promise<void> {
    rmSync(this.snapshotPath(snapshotId), { force: true });
    rmSync(`${this.snapshotPath(snapshotId)}.part`, { force: true });
  }
}
