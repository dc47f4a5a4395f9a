// The one place cairnd binds @cairn/inode: formatting and mounting a volume
// with the configured limits, and the optional capabilities the management
// API uses when the filesystem offers them (snapshots, detailed stats,
// fsck/scrub/clean/orphan-sweep, pausing deletions). A capability the
// mounted Filesystem does not have yet is reported as "not supported" by the
// management API, or served by the daemon's own fallback (jobs/).

import { cairnError } from '@cairn/errors';
import type { CheckpointPublisher, HeadhunterStats } from '@cairn/headhunter';
import * as inode from '@cairn/inode';
import { formatFilesystem, mountFilesystem, type Filesystem } from '@cairn/inode';
import type { JobContext } from '@cairn/mgmt';
import type { ObjectStore } from '@cairn/objstore';
import type { ReplayLogStats } from '@cairn/replaylog';
import type { ReadCacheStats, SegmentWriterStats } from '@cairn/segments';
import type { Logger } from 'pino';
import type { CairnConfig } from '../config/schema.js';

export interface FormatRequest {
  readonly store: ObjectStore;
  readonly volume: string;
  readonly logDir: string;
  readonly dataContainers: readonly string[];
  readonly fsync: boolean;
  readonly logger: Logger;
}

export async function formatVolumeFs(r: FormatRequest): Promise<{ volumeId: string }> {
  return formatFilesystem({
    store: r.store, volume: r.volume, logDir: r.logDir, fsync: r.fsync, logger: r.logger,
    ...(r.dataContainers.length > 0 ? { dataContainers: r.dataContainers } : {}),
  });
}

export interface MountRequest {
  readonly store: ObjectStore;
  readonly volume: string;
  readonly logDir: string;
  readonly publisher: CheckpointPublisher;
  readonly limits: CairnConfig['limits'];
  readonly logger: Logger;
}

/** Mounts with the configured limits. Dead-segment deletion runs from the daemon (it honours "deletions paused"). */
export async function mountVolumeFs(r: MountRequest): Promise<Filesystem> {
  const l = r.limits;
  return mountFilesystem({
    store: r.store, volume: r.volume, logDir: r.logDir, fsync: l.fsync, logger: r.logger,
    segmentReclaimIntervalMs: 0,
    headhunter: {
      publisher: r.publisher, checkpointIntervalMs: l.checkpointIntervalMs, checkpointLogBytes: l.checkpointLogBytes,
      retainCheckpoints: l.retainCheckpoints, cacheBytes: l.metadataCacheBytes, deletesPerSecond: l.deletesPerSecond,
      compactBelow: l.compactBelow, compactBytesPerCheckpoint: l.compactBytesPerCheckpoint,
    },
    segments: { maxFlushSize: l.maxFlushSize, maxFlushTimeMs: l.maxFlushTimeMs, maxOpenSegments: l.maxOpenSegments },
    readCache: { budgetBytes: l.readCacheBytes, maxReadAheadBytes: l.maxReadAheadBytes },
    intentLog: { maxFileBytes: l.intentLogMaxFileBytes, maxBytes: l.intentLogMaxBytes },
  });
}

/** Detailed stats a filesystem may expose (each part optional). */
export interface FilesystemStats {
  readonly headhunter?: HeadhunterStats;
  readonly replayLog?: ReplayLogStats;
  readonly segments?: SegmentWriterStats;
  readonly readCache?: ReadCacheStats;
  /** fsyncs (and small object PUTs) made durable through the replay log, until their segments are stored. */
  readonly intentLog?: { held: number; heldBytes: number; logged: number; loggedBytes: number; resolved: number; rewritten: number; recovered: number };
}

export interface SnapshotEntry {
  readonly name: string;
  /** ms since the epoch. */
  readonly createdAt: number;
}

/** What a filesystem job reports when done; problems found are listed, not thrown. */
export type JobReport = Record<string, unknown>;

export interface JobHooks {
  readonly signal: AbortSignal;
  readonly onProgress: JobContext['progress'];
}

/** Capabilities the daemon uses when the Filesystem has them. */
export interface FilesystemExtras {
  stats(): FilesystemStats;
  createSnapshot(name: string): Promise<SnapshotEntry>;
  listSnapshots(): Promise<SnapshotEntry[]> | SnapshotEntry[];
  deleteSnapshot(name: string): Promise<void>;
  fsck(hooks: JobHooks): Promise<JobReport>;
  scrub(hooks: JobHooks): Promise<JobReport>;
  clean(hooks: JobHooks): Promise<JobReport>;
  sweepOrphans(hooks: JobHooks): Promise<JobReport>;
  pauseDeletions(): void;
  resumeDeletions(): void;
}

/** The capabilities `fs` has (methods only, bound to it). */
export function extrasOf(fs: Filesystem): Partial<FilesystemExtras> {
  const out: Record<string, unknown> = {};
  const names: Array<keyof FilesystemExtras> = [
    'stats', 'createSnapshot', 'listSnapshots', 'deleteSnapshot', 'fsck', 'scrub', 'clean', 'sweepOrphans', 'pauseDeletions', 'resumeDeletions',
  ];
  for (const n of names) {
    const f = (fs as unknown as Record<string, unknown>)[n];
    if (typeof f === 'function') out[n] = f.bind(fs);
  }
  return out as Partial<FilesystemExtras>;
}

/** Calls an optional capability or fails with CAIRN_ERR_NOT_SUPPORTED naming it. */
export function need<K extends keyof FilesystemExtras>(fs: Filesystem, name: K): FilesystemExtras[K] {
  const f = extrasOf(fs)[name];
  if (f === undefined) throw cairnError('CAIRN_ERR_NOT_SUPPORTED', `${name} (the filesystem layer does not offer it yet)`);
  return f as FilesystemExtras[K];
}

/** Progress of the filesystem's own fsck (phase, done/total of the phase). */
interface InodeFsckProgress { readonly phase: string; readonly pass: number; readonly done: number; readonly total: number; readonly problems: number }
type InodeFsck = (fs: Filesystem, options: {
  repair?: boolean; signal?: AbortSignal; onProgress?: (p: InodeFsckProgress) => void;
}) => Promise<{ ok: boolean; problemCount: number; remainingCount: number; repairs: number; problems: unknown[]; counts: unknown; leaks: unknown; durationMs: number }>;

/**
 * The filesystem's fsck: its fsck() method (a job that unmount cancels), or
 * the package's `fsck(fs, options)`.
 */
export function inodeFsck(): ((fs: Filesystem, hooks: JobHooks, repair: boolean) => Promise<JobReport>) | undefined {
  const f = (inode as unknown as Record<string, unknown>)['fsck'];
  if (typeof f !== 'function') return undefined;
  return async (fs, hooks, repair) => {
    const method = (fs as unknown as { fsck?: unknown }).fsck;
    const run: InodeFsck = typeof method === 'function'
      ? (_fs, options) => (method as (o: Parameters<InodeFsck>[1]) => ReturnType<InodeFsck>).call(fs, options)
      : (f as InodeFsck);
    const r = await run(fs, {
      repair, signal: hooks.signal,
      onProgress: (p) => hooks.onProgress({ done: p.done, total: p.total, unit: `${p.phase} (pass ${p.pass}, ${p.problems} problems)` }),
    });
    return {
      ok: r.ok, checker: 'inode', problems: r.problemCount, remaining: r.remainingCount, repairs: r.repairs, counts: r.counts, leaks: r.leaks,
      durationMs: r.durationMs, details: r.problems.slice(0, 100).map((x) => (typeof x === 'string' ? x : JSON.stringify(x))),
    };
  };
}
