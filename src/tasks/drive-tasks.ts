import type { Services } from '../services.js';
import type { DriveSource } from '../virt/driver.js';
import { DriveStatus } from '../storage/drive-states.js';
import type { TaskRun } from './runner.js';

/**
 * The durable tasks of drives, keyed by the drive's id (a drive's tasks run one at a time).
 * Each calls the driver (whose drive operations are idempotent, so a task resumed after a
 * crash runs its step again) and then, in one transaction, records the outcome on the drive
 * and its job and ends the task. A driver's failure leaves the drive at rest or, for a drive
 * that could not be made, `unavailable`; never in a status no task will leave.
 */
export function driveTasks(s: Services): Record<string, (run: TaskRun<any>) => Promise<void>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const now = () => s.clock.now().toISOString();
  const drive = (id: string) => s.db.selectFrom('drives').selectAll().where('id', '=', id).executeTakeFirst();

  /** Progress a job as a driver reports it, one write at a time, never failing the work. */
  const progressOf = (jobId: string | undefined) => {
    let chain: Promise<void> = Promise.resolve();
    const report = (percent: number) => {
      if (!jobId || percent >= 100) return;
      chain = chain.then(() => s.jobs.progress(s.db, jobId, percent)).catch(() => {});
    };
    return { report, settled: () => chain };
  };

  return {
    drive_create: async (run: TaskRun) => {
      const id = run.task.server_id;
      const row = await drive(id);
      if (!row || row.status !== DriveStatus.CREATING) return finishOnly(run, s);
      let location: string | null = null;
      let failed: Error | null = null;
      try {
        ({ location } = await s.driver.createDrive({ id, size: Number(row.size), storageType: row.storage_type, media: row.media, avoid: [] }));
      } catch (err) {
        failed = err as Error;
        run.log.error({ err, drive_id: id }, 'drive create failed');
      }
      await s.db.transaction().execute(async (tx) => {
        await tx
          .updateTable('drives')
          .set({ status: failed ? DriveStatus.UNAVAILABLE : DriveStatus.UNMOUNTED, location, updated_at: now() })
          .where('id', '=', id)
          .where('status', '=', DriveStatus.CREATING)
          .execute();
        await run.finish(tx);
      });
    },

    drive_clone: async (run: TaskRun<{ source: DriveSource & { id: string }; jobId: string; avoid: string[] }>) => {
      const id = run.task.server_id;
      const { source, jobId, avoid } = run.params;
      const row = await drive(id);
      let location: string | null = null;
      let failed: Error | null = row && row.status === DriveStatus.CLONING_DST ? null : new Error(`drive ${id} is gone or no longer being cloned`);
      const progress = progressOf(jobId);
      if (!failed) {
        try {
          ({ location } = await s.driver.cloneDrive({ id, size: Number(row!.size), storageType: row!.storage_type, media: row!.media, avoid: avoid ?? [] }, source, progress.report));
        } catch (err) {
          failed = err as Error;
          run.log.error({ err, drive_id: id, source }, 'drive clone failed');
        }
      }
      await progress.settled();
      await s.db.transaction().execute(async (tx) => {
        await tx
          .updateTable('drives')
          .set({ status: failed ? DriveStatus.UNAVAILABLE : DriveStatus.UNMOUNTED, location, updated_at: now() })
          .where('id', '=', id)
          .where('status', '=', DriveStatus.CLONING_DST)
          .execute();
        if (source.kind === 'drive') {
          await tx.updateTable('drives').set({ status: DriveStatus.UNMOUNTED, updated_at: now() }).where('id', '=', source.id).where('status', '=', DriveStatus.CLONING_SRC).execute();
        }
        await s.jobs.finish(tx, jobId, failed ? 'error' : 'success');
        await run.finish(tx, failed ? { message: failed.message } : undefined);
      });
    },

    drive_resize: async (run: TaskRun<{ size: number }>) => {
      const id = run.task.server_id;
      const row = await drive(id);
      if (!row || row.status !== DriveStatus.RESIZING) return finishOnly(run, s);
      let failed: Error | null = null;
      try {
        await s.driver.resizeDrive(id, run.params.size);
      } catch (err) {
        failed = err as Error;
        run.log.error({ err, drive_id: id }, 'drive resize failed');
      }
      await s.db.transaction().execute(async (tx) => {
        await tx
          .updateTable('drives')
          .set({ status: DriveStatus.UNMOUNTED, ...(failed ? {} : { size: run.params.size }), updated_at: now() })
          .where('id', '=', id)
          .where('status', '=', DriveStatus.RESIZING)
          .execute();
        await run.finish(tx);
      });
    },

    drive_delete: async (run: TaskRun<{ snapshots: string[] }>) => {
      for (const snap of run.params.snapshots ?? []) await s.driver.deleteSnapshot(snap);
      await s.driver.deleteDrive(run.task.server_id);
      await finishOnly(run, s);
    },

    drive_snapshot: async (run: TaskRun<{ snapshotId: string }>) => {
      const { snapshotId } = run.params;
      const snap = await s.db.selectFrom('drive_snapshots').select(['status']).where('id', '=', snapshotId).executeTakeFirst();
      if (!snap || snap.status !== 'creating') return finishOnly(run, s);
      let failed: Error | null = null;
      try {
        await s.driver.snapshotDrive(run.task.server_id, snapshotId);
      } catch (err) {
        failed = err as Error;
        run.log.error({ err, snapshot_id: snapshotId }, 'drive snapshot failed');
      }
      await s.db.transaction().execute(async (tx) => {
        if (failed) await tx.deleteFrom('drive_snapshots').where('id', '=', snapshotId).execute();
        else await tx.updateTable('drive_snapshots').set({ status: 'available', updated_at: now() }).where('id', '=', snapshotId).where('status', '=', 'creating').execute();
        await run.finish(tx);
      });
    },

    drive_snapshot_delete: async (run: TaskRun<{ snapshotId: string }>) => {
      await s.driver.deleteSnapshot(run.params.snapshotId);
      await finishOnly(run, s);
    },
  };
}

async function finishOnly(run: TaskRun, s: Services): Promise<void> {
  await s.db.transaction().execute((tx) => run.finish(tx));
}
