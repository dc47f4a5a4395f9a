// What the log knows about each of its files, and how a file is created.

import { join } from 'node:path';
import { encodeFileHeader } from './codec.js';
import { FILE_HEADER_SIZE } from './format.js';
import { writeFully, type LogFile, type LogIo } from './io.js';
import { logFileName, tempFileName } from './names.js';

/**
 * Distance in bytes between remembered record boundaries. Boundaries let replay
 * start near the requested LSN and let liveBytes() subtract the discarded part
 * of a file; liveBytes() may count up to about this many discarded bytes as live.
 */
export const MARK_SPACING = 4096;

interface Mark {
  /** LSN of the record that ends at `end`. */
  readonly lsn: bigint;
  readonly end: number;
}

/** One log file: its LSN range and its durable size. */
export class LogFileState {
  /** LSN of the last durable record; firstLsn - 1 while the file has none. */
  lastLsn: bigint;
  /** Durable bytes, header included. */
  size: number;
  private marks: Mark[] = [];

  constructor(
    readonly name: string,
    readonly path: string,
    readonly firstLsn: bigint,
    readonly coveredThrough: bigint,
  ) {
    this.lastLsn = firstLsn - 1n;
    this.size = FILE_HEADER_SIZE;
  }

  get empty(): boolean {
    return this.lastLsn < this.firstLsn;
  }

  /** Records that records through `lsn` are durable and end at `end`. */
  advance(lsn: bigint, end: number): void {
    const last = this.marks[this.marks.length - 1];
    if (end - (last ? last.end : FILE_HEADER_SIZE) >= MARK_SPACING) this.marks.push({ lsn, end });
    this.lastLsn = lsn;
    this.size = end;
  }

  /** A record boundary at or before the first record with lsn > `lsn`: where to start reading, and the LSN found there. */
  seek(lsn: bigint): { offset: number; lsn: bigint } {
    let lo = 0;
    let hi = this.marks.length; // first mark with mark.lsn > lsn
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.marks[mid]!.lsn <= lsn) lo = mid + 1;
      else hi = mid;
    }
    const m = lo > 0 ? this.marks[lo - 1]! : undefined;
    return m ? { offset: m.end, lsn: m.lsn + 1n } : { offset: FILE_HEADER_SIZE, lsn: this.firstLsn };
  }

  /** Durable record bytes with lsn > `coveredThrough` (rounded up to a mark). */
  liveBytes(coveredThrough: bigint): number {
    if (this.lastLsn <= coveredThrough) return 0;
    return this.size - this.seek(coveredThrough).offset;
  }

  /** Forgets boundaries no longer useful once records through `coveredThrough` are discarded. */
  prune(coveredThrough: bigint): void {
    const keepFrom = this.marks.findIndex((m) => m.lsn > coveredThrough);
    const cut = keepFrom < 0 ? this.marks.length - 1 : keepFrom - 1;
    if (cut > 0) this.marks = this.marks.slice(cut);
  }
}

/**
 * Creates the log file whose first record will have `firstLsn`: the header is
 * written to a temporary name, made durable, renamed into place and the
 * directory synced, so a file under its final name always has a whole header.
 * Returns the open file (read-write) and its state.
 */
export async function createLogFile(
  io: LogIo,
  dir: string,
  firstLsn: bigint,
  coveredThrough: bigint,
): Promise<{ file: LogFile; state: LogFileState }> {
  const name = logFileName(firstLsn);
  const tmp = join(dir, tempFileName(firstLsn));
  const path = join(dir, name);
  const file = await io.open(tmp, 'create');
  try {
    await writeFully(file, [encodeFileHeader(firstLsn, coveredThrough)], 0);
    await file.datasync();
    await io.rename(tmp, path);
    await io.syncDir(dir);
  } catch (err) {
    await file.close().catch(() => undefined);
    throw err;
  }
  return { file, state: new LogFileState(name, path, firstLsn, coveredThrough) };
}
