// fsck, leaked segment objects: `seg-` objects in the data containers that no
// record (live or dead, in the live trees or a snapshot) names — a segment
// whose PUT completed but whose commit a crash prevented, or an upload that
// failed after it landed. They hold nothing a file can reach. fsck reports
// them through a dry run of the orphan sweep (orphan-sweep.ts, which owns the
// rules: only nonces handed out, in the container the layout puts them, older
// than the grace period, held by no writer, named by no record or snapshot),
// and repair deletes them with a real sweep, which checks everything again.
// Internal to fsck.

import { cairnError } from '@cairn/errors';
import { parseSegmentName } from '@cairn/segments';
import type { Vol } from './context.js';
import type { FsckLeaks } from './fsck-types.js';
import { sweepOrphans, type SweepReport } from './orphan-sweep.js';

/** What a leak scan found (the report's `leaks` without `deleted`). */
export type LeakScan = Omit<FsckLeaks, 'deleted'>;

function cancelled(r: SweepReport): void {
  if (r.canceled) throw cairnError('CAIRN_ERR_CANCELED', 'fsck');
}

/** Lists the data containers for leaked segment objects (nothing is deleted); `tick` per object listed. */
export async function findLeaks(v: Vol, graceMs: number, tick: (listed: number) => void, signal?: AbortSignal): Promise<LeakScan> {
  const r = await sweepOrphans(v, {
    dryRun: true, graceMs, listLimit: 100, ...(signal ? { signal } : {}), onProgress: (p) => tick(p.objectsListed),
  });
  cancelled(r);
  const nonces = r.orphanNames.map((n) => parseSegmentName(n.slice(n.indexOf('/') + 1))?.toString() ?? n);
  return { segments: r.orphans, bytes: r.orphanBytes, nonces, recent: r.young + r.inFlight };
}

/** Deletes leaked segment objects (an orphan sweep with the same grace period); returns how many went. */
export async function deleteLeaks(v: Vol, graceMs: number, signal?: AbortSignal): Promise<number> {
  const r = await sweepOrphans(v, { graceMs, listLimit: 0, ...(signal ? { signal } : {}) });
  cancelled(r);
  return r.deleted;
}

/** The report's summary of a leak scan. */
export function leakSummary(s: LeakScan | undefined, deleted: number): FsckLeaks {
  return { ...(s ?? { segments: 0, bytes: 0, nonces: [], recent: 0 }), deleted };
}
