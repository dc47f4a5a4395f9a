// stats(): what a mounted filesystem reports for metrics scrapes, read from
// memory only (no I/O, no await): headhunter's, the replay log's, the segment
// writer's and the read cache's own stats, the running cleaning pass, and the
// filesystem's in-memory state (dirty files, handles, snapshot handles) and
// call counters.

import { cleanerProgress } from './cleaner.js';
import type { Vol } from './context.js';
import type { FilesystemStats } from './types.js';

/** Call counters kept by FilesystemImpl. */
export interface OpCounters {
  readonly started: number;
  readonly failed: number;
  readonly running: number;
  readonly jobs: number;
}

export function filesystemStats(v: Vol, ops: OpCounters): FilesystemStats {
  const hh = v.hh.stats();
  return {
    volumeId: v.volumeId,
    headhunter: hh,
    replayLog: v.log.stats(),
    segments: v.writer.stats(),
    intentLog: { held: v.intents.held, heldBytes: v.intents.bytes, ...v.intents.counts },
    readCache: v.cache.stats(),
    cleaner: cleanerProgress(v),
    dirtyFiles: v.dirty.size,
    openHandles: v.handles.size,
    openFiles: v.opens.size,
    snapshots: snapshotCount(v),
    openSnapshots: v.openSnapshots,
    operations: { started: ops.started, failed: ops.failed, running: ops.running, jobs: ops.jobs },
  };
}

/** Snapshots of the volume (0 once it stopped serving). */
function snapshotCount(v: Vol): number {
  try {
    return v.hh.listSnapshots().length;
  } catch {
    return 0;
  }
}
