// @cairn/replaylog — the local replay log of a volume (zero RPO).
//
// Every acknowledged metadata change is appended here and made durable
// (fdatasync, group-committed) before the operation is acknowledged. On restart
// the metadata database loads its newest checkpoint and replays the records
// after it; once a checkpoint is published, discardThrough() drops what it covers.
// On-disk format: docs/formats.md, "Replay log" (constants in format.ts).

import type { Logger } from 'pino';
import { openLog } from './log.js';

export interface ReplayLogOptions {
  /** Directory of this volume's log files (created if missing). */
  dir: string;
  /** Default true; false only for tests/benchmarks (skips every fsync/fdatasync). */
  fsync?: boolean;
  /** Default 16 MiB; a larger append fails with CAIRN_ERR_LOG_TOO_LARGE. */
  maxRecordBytes?: number;
  /** Start a new file once the current one holds this many bytes (default 64 MiB). */
  rotateBytes?: number;
  /**
   * Zeros written ahead of the records, this many bytes at a time, in the
   * background (default 4 MiB, and 0 — none — when fsync is false). An fdatasync of a record written over
   * zeros the file already holds changes no file size or block map, so the
   * file system commits no metadata for it (on ext4 about a fifth faster).
   * Recovery reads an all-zero tail as the clean end of the records.
   */
  preallocateBytes?: number;
  /** pino logger (default: silent). */
  logger?: Logger;
  /**
   * Called once during open when recovery dropped bytes: the first torn or
   * corrupt record (`offset` in `file`), why, and how many bytes were dropped in
   * that file and the later files deleted with it.
   */
  onTorn?: (info: { file: string; offset: number; reason: string; droppedBytes: number }) => void;
}

export interface ReplayRecord {
  lsn: bigint;
  payload: Buffer;
}

export interface ReplayLogStats {
  /** Records made durable since open. */
  records: number;
  /** Record bytes (headers included) made durable since open. */
  bytes: number;
  /** fdatasync calls that made batches durable (file creation syncs not counted). */
  fsyncs: number;
  /** Batches written (one write + one fdatasync each). */
  batches: number;
  /** Most records in one batch. */
  maxBatch: number;
  /** Median and 99th percentile of recent batch fdatasync latency, microseconds. */
  fsyncMicrosP50: number;
  fsyncMicrosP99: number;
  /** Batches that were written over zeros written ahead (preallocateBytes), and zero bytes written so. */
  batchesOverZeros: number;
  zeroBytesWritten: number;
}

export interface ReplayLog {
  /** LSN the next append will get (LSNs start at 1 and increase by 1 per record, across restarts). */
  readonly nextLsn: bigint;
  /**
   * Lowest LSN still present in the log (its oldest file's first LSN): what
   * discards and recovery left. replay(firstLsn - 1n) yields every record the
   * log holds; any earlier start fails with CAIRN_ERR_LOG_CORRUPT.
   */
  readonly firstLsn: bigint;
  /**
   * Appends one record; resolves with its LSN once it is durable on disk (group
   * commit). The LSN is assigned synchronously, in call order. The payload is
   * copied before append returns. Fails with CAIRN_ERR_LOG_TOO_LARGE (the LSN is
   * not consumed), CAIRN_ERR_CLOSED after close(), and CAIRN_ERR_LOG_IO when a
   * write or fdatasync failed: this one's batch or any earlier one. After an
   * I/O failure the log refuses every append; the volume must be remounted.
   */
  append(payload: Uint8Array): Promise<bigint>;
  /**
   * Records with lsn > afterLsn in order (what survived recovery and was appended
   * since). Fails with CAIRN_ERR_LOG_CORRUPT when records after `afterLsn` were
   * already discarded (the caller's checkpoint is older than the log).
   */
  replay(afterLsn: bigint): AsyncIterable<ReplayRecord>;
  /**
   * Records with lsn <= lsn are no longer needed (a checkpoint covers them):
   * deletes the files they fill entirely (the newest file, once fully covered,
   * is replaced by a new empty one) and syncs the directory. When lsn >= nextLsn
   * (a checkpoint newer than the log, e.g. after a torn tail), nextLsn jumps to
   * lsn + 1, durably, so that no later record reuses an LSN the checkpoint covers.
   */
  discardThrough(lsn: bigint): Promise<void>;
  /** Bytes of records not yet discarded (the checkpoint trigger reads this). */
  liveBytes(): number;
  stats(): ReplayLogStats;
  /** Waits for pending appends, closes files. Appends after close fail with CAIRN_ERR_CLOSED. */
  close(): Promise<void>;
}

/** Opens (recovering: scans files, truncates at the first torn/corrupt record, reports it to onTorn) or creates the log. */
export function openReplayLog(options: ReplayLogOptions): Promise<ReplayLog> {
  return openLog(options);
}

export * from './format.js';
export { logFileName, parseLogFileName } from './names.js';
