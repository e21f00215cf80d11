/**
 * Where a cluster's time goes while work runs (bench/cluster.ts, per measurement): the CPU
 * seconds of each Nimbus process, of the cluster's PostgreSQL (postmaster and every child)
 * and of the whole machine (everything: the load process, other users), from /proc; and
 * what PostgreSQL's backends were doing, sampled every 50 ms from pg_stat_activity (waiting
 * for an advisory lock, a row, or idle in a transaction for their client's next statement).
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { Cluster } from '../test/cluster/harness.js';

export interface Profile {
  seconds: number;
  /** CPU seconds per process name (nodes by their name, `postgres`, `machine` for all). */
  cpu: Record<string, number>;
  /** Mean number of the cluster's backends in each state over the samples. */
  backends: Record<string, number>;
}

const TICK = 100; // USER_HZ on Linux

/** A process's CPU seconds; with `reaped`, also those of its children that ended (cutime, cstime). */
function cpuOf(pid: number, reaped = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime (fields 14 and 15), cutime, cstime (16 and 17)
    return (Number(f[11]) + Number(f[12]) + (reaped ? Number(f[13]) + Number(f[14]) : 0)) / TICK;
  } catch {
    return 0;
  }
}

function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function machineBusy(): number {
  const [, ...t] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  return (t[0] + t[1] + t[2] + t[5] + t[6] + t[7]) / TICK; // user nice system irq softirq steal
}

/** lockName's key for `name` (src/db/database.ts), as pg_locks shows it: classid:objid. */
function lockKey(name: string): string {
  const key = BigInt.asUintN(64, createHash('sha256').update(name).digest().readBigInt64BE(0));
  return `${key >> 32n}:${key & 0xffffffffn}`;
}

/**
 * Runs `work` and answers its result with the profile of the cluster while it ran; an
 * advisory lock waited for is named when it is one of `lockNames` (lockName's names).
 */
export async function profiled<T>(cluster: Cluster, work: () => Promise<T>, lockNames: string[] = []): Promise<{ result: T; profile: Profile }> {
  // 0:7001: the one placement lock of the cluster before placements took a lock per host.
  const named = new Map([['0:7001', 'placement 7001'], ...lockNames.map((n) => [lockKey(n), n] as [string, string])]);
  const client = new pg.Client({ connectionString: cluster.pg.url() });
  await client.connect();
  const dataDir = (await client.query('show data_directory')).rows[0].data_directory as string;
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const snapshot = () => {
    const cpu: Record<string, number> = { machine: machineBusy() };
    for (const [name, node] of cluster.nodes) cpu[name] = node.child.pid ? cpuOf(node.child.pid) : 0;
    // The backends alive now, and through the postmaster those that ended.
    cpu.postgres = cpuOf(postmaster, true) + childrenOf(postmaster).reduce((t, p) => t + cpuOf(p), 0);
    return cpu;
  };
  const counts: Record<string, number> = {};
  let samples = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const rows = (
        await client.query(
          `select a.state, a.wait_event_type, a.wait_event, l.classid || ':' || l.objid as advisory from pg_stat_activity a
           left join pg_locks l on l.pid = a.pid and not l.granted and l.locktype = 'advisory'
           where a.datname = current_database() and a.pid <> pg_backend_pid() and a.backend_type = 'client backend'`,
        )
      ).rows as { state: string; wait_event_type: string | null; wait_event: string | null; advisory: string | null }[];
      samples++;
      for (const r of rows) {
        const lock = r.advisory ? (named.get(r.advisory) ?? r.advisory) : r.wait_event;
        const key = r.wait_event_type === 'Lock' ? `waiting for a lock (${lock})` : r.state === 'active' ? 'running a statement' : r.state === 'idle in transaction' ? 'idle in a transaction' : null;
        if (key) counts[key] = (counts[key] ?? 0) + 1;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const before = snapshot();
  const t0 = performance.now();
  try {
    const result = await work();
    const after = snapshot();
    const cpu: Record<string, number> = {};
    for (const k of Object.keys(after)) cpu[k] = after[k] - (before[k] ?? 0);
    const backends: Record<string, number> = {};
    for (const [k, n] of Object.entries(counts)) backends[k] = n / Math.max(1, samples);
    return { result, profile: { seconds: (performance.now() - t0) / 1000, cpu, backends } };
  } finally {
    sampling = false;
    await sampler.catch(() => {});
    await client.end();
  }
}

/** One line per part, for the bench's log. */
export function describe(p: Profile): string {
  const cpu = Object.entries(p.cpu)
    .sort((a, b) => b[1] - a[1])
    .map(([k, s]) => `${k} ${(s / p.seconds).toFixed(2)}`)
    .join(', ');
  const waits = Object.entries(p.backends)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n.toFixed(2)}`)
    .join(', ');
  return `    CPU (cores busy over ${p.seconds.toFixed(1)} s): ${cpu}\n    PostgreSQL backends (mean per sample): ${waits || 'none busy'}`;
}
