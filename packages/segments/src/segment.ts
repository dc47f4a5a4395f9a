// One log segment being written: the bytes it was given (kept in memory until
// the pool releases it, for read-your-writes and re-sends), the runs of file
// bytes it holds, and its streaming upload. Internal to the writer pool.

import { setTimeout as sleep } from 'node:timers/promises';
import { cairnError, isCairnError, isRetryable } from '@cairn/errors';
import { BufferPool, type ObjectInfo, type ObjectStore, type OpenSegment } from '@cairn/objstore';
import type { Logger } from 'pino';
import { encodeSummary } from './summary.js';
import type { CloseReason, FileKey, SegmentRef, SegmentWrite } from './types.js';

/** Settings every segment of one pool shares. */
export interface SegmentSettings {
  readonly store: ObjectStore;
  readonly maxFlushSize: number;
  readonly chunkSize: number;
  readonly summaryLimit: number;
  readonly writeSummary: boolean;
  readonly putRetries: number;
  readonly retryDelayMs: number;
  readonly logger: Logger;
  /** Counts a whole-segment re-send. */
  readonly onRetry: () => void;
}

/** A SegmentWrite the segment may still extend. */
interface Run {
  fileKey: FileKey;
  fileOffset: number | undefined;
  segmentOffset: number;
  length: number;
}

/** Re-send delays double from retryDelayMs up to 64 times it. */
const MAX_BACKOFF_DOUBLINGS = 6;

/** First chunk allocation; it doubles up to chunkSize as the segment fills. */
const FIRST_CHUNK_BYTES = 16 * 1024;

/**
 * Largest piece handed to one OpenSegment append. A backend copies what it is
 * given (the caller may reuse its buffer once append resolves); the Swift and
 * S3 backends copy pieces smaller than their 1 MiB slabs into recycled slabs,
 * but a piece of a whole slab or more into a fresh buffer of its own.
 */
export const MAX_APPEND_PIECE = 512 * 1024;

// Full-size chunks are recycled (a BufferPool of at most 256 MiB, emptied after
// 5 to 10 s without use): a segment that settled hands them back and the next
// segment fills them again.
const chunkPool = new BufferPool(256 * 1024 * 1024, 5_000);

/** For tests: the chunk pool's size in bytes, whether it holds a buffer, and emptying it. */
export const chunkPoolForTests = {
  bytes: (): number => chunkPool.size,
  holds: (b: Buffer): boolean => chunkPool.holds(b),
  clear: (): void => chunkPool.clear(),
  checkIdle: (): void => chunkPool.checkIdle(),
};

export class PendingSegment {
  state: 'open' | 'closing' | 'done' | 'failed' = 'open';
  reason: CloseReason | undefined;
  /** Data bytes appended. */
  length = 0;
  readonly openedAt = performance.now();
  /** When bytes were last appended. */
  lastUsed = performance.now();
  closedAt = 0;
  timer: NodeJS.Timeout | undefined;
  /** Every run in append order. */
  readonly runs: Run[] = [];
  /** Runs per file, in append order. */
  readonly fileRuns = new Map<FileKey, Run[]>();
  /** Data bytes per file. */
  readonly fileBytes = new Map<FileKey, number>();
  /** Older segments holding earlier writes of the same files: committed first. */
  readonly deps = new Set<PendingSegment>();
  /** Resolves when committed, rejects when failed. */
  readonly done: Promise<void>;
  /** Resolves when committed or failed (never rejects). */
  readonly settled: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (err: Error) => void;

  /** chunks[i] holds segment bytes [i*chunkSize, ...); the last one may be shorter than chunkSize. */
  private chunks: Buffer[] = [];
  private queued = 0;
  private upload: OpenSegment;
  private appendChain: Promise<void> = Promise.resolve();
  private appendError: unknown;
  private trailer: Buffer | undefined;

  constructor(
    readonly ref: SegmentRef,
    /** Creation order within the pool. */
    readonly seq: number,
    private readonly s: SegmentSettings,
    /** Packs many files (true) or carries one streaming file (false). */
    readonly shared: boolean,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => {});
    this.settled = this.done.then(
      () => {},
      () => {},
    );
    this.upload = this.openUpload();
  }

  get spaceLeft(): number {
    return this.s.maxFlushSize - this.length;
  }

  /**
   * Copies data[from, from+n) to the end of the segment (n <= spaceLeft). Full
   * chunks go to the upload connection in order. Returns a promise that settles
   * (never rejects) once every chunk handed over so far was accepted.
   */
  append(data: Uint8Array, from: number, n: number): Promise<void> {
    this.lastUsed = performance.now();
    let done = 0;
    const size = this.s.chunkSize;
    while (done < n) {
      const i = Math.floor(this.length / size);
      const at = this.length - i * size;
      const need = Math.min(size, this.s.maxFlushSize - i * size);
      let chunk = this.chunks[i];
      const take = Math.min(n - done, need - at);
      if (!chunk) {
        chunk = this.alloc(i === 0 ? Math.min(need, Math.max(FIRST_CHUNK_BYTES, take)) : need);
        this.chunks[i] = chunk;
      } else if (chunk.length < at + take) {
        const grown = this.alloc(Math.min(need, Math.max(chunk.length * 2, at + take)));
        chunk.copy(grown, 0, 0, at);
        chunk = grown;
        this.chunks[i] = grown;
      }
      chunk.set(data.subarray(from + done, from + done + take), at);
      done += take;
      this.length += take;
      if (at + take === need) this.queueChunk(i);
    }
    return this.appendChain;
  }

  /** Records that [segmentOffset, +length) holds file bytes; merges with the file's previous run when contiguous. */
  record(fileKey: FileKey, fileOffset: number | undefined, segmentOffset: number, length: number): void {
    this.fileBytes.set(fileKey, (this.fileBytes.get(fileKey) ?? 0) + length);
    let list = this.fileRuns.get(fileKey);
    if (!list) {
      list = [];
      this.fileRuns.set(fileKey, list);
    }
    const last = this.runs[this.runs.length - 1];
    if (
      last && last.fileKey === fileKey && last.segmentOffset + last.length === segmentOffset &&
      last.fileOffset !== undefined && fileOffset !== undefined && last.fileOffset + last.length === fileOffset
    ) {
      last.length += length;
      return;
    }
    const run: Run = { fileKey, fileOffset, segmentOffset, length };
    this.runs.push(run);
    list.push(run);
  }

  /** A copy of data bytes [offset, offset+length) (caller checks the range). */
  read(offset: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    const size = this.s.chunkSize;
    let done = 0;
    while (done < length) {
      const pos = offset + done;
      const i = Math.floor(pos / size);
      const at = pos - i * size;
      const chunk = this.chunks[i]!;
      const take = Math.min(length - done, size - at);
      chunk.copy(out, done, at, at + take);
      done += take;
    }
    return out;
  }

  /**
   * Sends what is left and the summary, then completes the upload. A failed
   * upload whose error is retryable is re-sent whole from memory up to
   * putRetries times. Resolves with the stored object's info.
   */
  async store(): Promise<ObjectInfo> {
    const last = this.chunks.length - 1;
    if (last >= this.queued) this.queueChunk(last);
    if (this.s.writeSummary) {
      this.trailer = encodeSummary(this.ref.nonce, this.length, this.runs, this.s.summaryLimit);
      this.queue(this.trailer);
    }
    await this.appendChain;
    let err: unknown = this.appendError;
    if (err === undefined) {
      try {
        return this.check(await this.upload.close());
      } catch (e) {
        err = e;
      }
    }
    for (let attempt = 1; attempt <= this.s.putRetries && shouldResend(err); attempt++) {
      this.s.onRetry();
      this.s.logger.warn({ segment: this.ref.name, attempt, err }, 'segment upload failed; re-sending from memory');
      await this.upload.abort().catch(() => {});
      await sleep(this.s.retryDelayMs * 2 ** Math.min(attempt - 1, MAX_BACKOFF_DOUBLINGS));
      try {
        this.upload = this.openUpload();
        for (const part of this.parts()) await this.upload.append(part);
        return this.check(await this.upload.close());
      } catch (e) {
        err = e;
      }
    }
    await this.upload.abort().catch(() => {});
    throw err;
  }

  /** Gives up an upload that holds nothing. */
  async abandon(): Promise<void> {
    await this.upload.abort().catch(() => {});
  }

  /**
   * Drops the bytes held in memory. Call only once nothing reads them any more
   * (store() settled: no append is in flight); full-size chunks go back to the
   * pool for other segments to overwrite.
   */
  dropMemory(): void {
    for (const c of this.chunks) if (c.length === this.s.chunkSize) chunkPool.give(c);
    this.chunks = [];
    this.trailer = undefined;
  }

  /** A chunk buffer: full-size ones from the pool. */
  private alloc(size: number): Buffer {
    return size === this.s.chunkSize ? chunkPool.take(size) : Buffer.allocUnsafeSlow(size);
  }

  markDone(): void {
    this.state = 'done';
    this.resolveDone();
  }

  markFailed(err: Error): void {
    this.state = 'failed';
    this.rejectDone(err);
  }

  get objectSize(): number {
    return this.length + (this.trailer?.length ?? 0);
  }

  private openUpload(): OpenSegment {
    const extra = this.s.writeSummary ? this.s.summaryLimit + 64 * 1024 : 0;
    return this.s.store.container(this.ref.container).openSegment(this.ref.name, { maxSize: this.s.maxFlushSize + extra });
  }

  /** The object's bytes in order: data chunks, then the summary. */
  private *parts(): Generator<Buffer> {
    for (let i = 0; i < this.chunks.length; i++) {
      const data = this.dataOf(i);
      for (let at = 0; at < data.length; at += MAX_APPEND_PIECE) yield data.subarray(at, Math.min(data.length, at + MAX_APPEND_PIECE));
    }
    if (this.trailer) yield this.trailer;
  }

  private dataOf(i: number): Buffer {
    const chunk = this.chunks[i]!;
    const used = Math.min(this.s.chunkSize, this.length - i * this.s.chunkSize);
    return used === chunk.length ? chunk : chunk.subarray(0, used);
  }

  private queueChunk(i: number): void {
    this.queued = i + 1;
    const data = this.dataOf(i);
    for (let at = 0; at < data.length; at += MAX_APPEND_PIECE) this.queue(data.subarray(at, Math.min(data.length, at + MAX_APPEND_PIECE)));
  }

  private queue(buf: Buffer): void {
    const upload = this.upload;
    this.appendChain = this.appendChain.then(async () => {
      if (this.appendError !== undefined) return;
      try {
        await upload.append(buf);
      } catch (err) {
        this.appendError = err;
      }
    });
  }

  private check(info: ObjectInfo): ObjectInfo {
    if (info.size !== this.objectSize) {
      throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${this.ref.container}/${this.ref.name}: stored ${info.size} bytes, sent ${this.objectSize}`);
    }
    return info;
  }
}

/** Errors worth a whole-segment re-send: transient ones and a stored object of the wrong size. */
function shouldResend(err: unknown): boolean {
  return isRetryable(err) || isCairnError(err, 'CAIRN_ERR_OBJ_CORRUPT');
}
