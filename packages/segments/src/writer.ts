// The segment writer pool: file writes are appended to a few open log segments
// (streaming uploads), each closed at maxFlushSize, after maxFlushTimeMs, on
// flush, under pool or memory pressure. A closed segment's writes are handed to
// onDurable only after its PUT completed (invariant 1), and in an order that
// keeps each file's writes in write order: a file only ever moves on to newer
// segments, and a segment's hook waits for the hooks of the older segments that
// hold earlier bytes of the same files (those are always closing already, so
// the wait is never for a timer).

import { EventEmitter } from 'node:events';
import { cairnError, isCairnError, type CairnError } from '@cairn/errors';
import { pino, type Logger } from 'pino';
import { ByteBudget } from './budget.js';
import { WRITER_EVENTS } from './diagnostics.js';
import { MIN_SUMMARY_LIMIT_BYTES } from './format.js';
import { LatencyRecorder } from './latency.js';
import { checkNonce, segmentLocator } from './names.js';
import { PendingSegment, type SegmentSettings } from './segment.js';
import { checkFileKey } from './summary.js';
import type {
  CloseReason, DurableSegment, Extent, FileKey, SegmentLocator, SegmentRef, SegmentWriter, SegmentWriterEvent,
  SegmentWriterOptions, SegmentWriterStats, WriteLocation, WriteOptions, WritePiece,
} from './types.js';

const MiB = 1024 * 1024;

interface Config {
  readonly settings: Omit<SegmentSettings, 'onRetry'>;
  readonly locate: SegmentLocator;
  readonly nonces: () => Promise<bigint>;
  readonly onDurable: SegmentWriterOptions['onDurable'];
  readonly onFailed: SegmentWriterOptions['onFailed'];
  readonly maxOpenSegments: number;
  readonly maxFlushSize: number;
  readonly maxFlushTimeMs: number;
  readonly maxBufferedBytes: number;
  readonly maxConcurrentFlushes: number;
  readonly logger: Logger;
}

/** What the pool knows of one file with bytes in segments not yet committed. */
interface FileState {
  /** The newest segment the file wrote to. */
  current: PendingSegment | undefined;
  /** Segments holding its bytes that are not yet committed or failed. */
  readonly segs: Set<PendingSegment>;
  /** A failure not yet reported by flush(). */
  error: Error | undefined;
}

function positiveInt(v: unknown, what: string, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `segment writer ${what} ${String(v)} (an integer >= ${min})`);
  }
  return v;
}

function checkOptions(o: SegmentWriterOptions): Config {
  if (o === null || typeof o !== 'object') throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'segment writer options');
  if (!o.store || typeof o.store.container !== 'function') throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'segment writer store');
  if (typeof o.nonces !== 'function') throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'segment writer nonces must be a function');
  if (typeof o.onDurable !== 'function') throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'segment writer onDurable must be a function');
  if (o.onFailed !== undefined && typeof o.onFailed !== 'function') throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'segment writer onFailed');
  const locate = segmentLocator(o.containers);
  const maxOpenSegments = positiveInt(o.maxOpenSegments, 'maxOpenSegments', 8);
  const maxFlushSize = positiveInt(o.maxFlushSize, 'maxFlushSize', 10 * MiB);
  const maxFlushTimeMs = o.maxFlushTimeMs ?? 10_000;
  if (typeof maxFlushTimeMs !== 'number' || !Number.isFinite(maxFlushTimeMs) || maxFlushTimeMs <= 0 || maxFlushTimeMs > 2 ** 31 - 1) {
    throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `segment writer maxFlushTimeMs ${String(maxFlushTimeMs)}`);
  }
  const maxBufferedBytes = positiveInt(o.maxBufferedBytes, 'maxBufferedBytes', 4 * maxFlushSize);
  const maxConcurrentFlushes = positiveInt(o.maxConcurrentFlushes, 'maxConcurrentFlushes', 2);
  const chunkSize = Math.min(positiveInt(o.appendChunkSize, 'appendChunkSize', MiB), maxFlushSize);
  const putRetries = positiveInt(o.putRetries, 'putRetries', 2, 0);
  const retryDelayMs = positiveInt(o.retryDelayMs, 'retryDelayMs', 200, 0);
  if (o.writeSummary !== undefined && typeof o.writeSummary !== 'boolean') throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'segment writer writeSummary');
  const logger = o.logger ?? pino({ level: 'silent' });
  const settings: Omit<SegmentSettings, 'onRetry'> = {
    store: o.store,
    maxFlushSize,
    chunkSize,
    summaryLimit: Math.max(MIN_SUMMARY_LIMIT_BYTES, Math.floor(maxFlushSize / 16)),
    writeSummary: o.writeSummary ?? true,
    putRetries,
    retryDelayMs,
    logger,
  };
  return {
    settings, locate, nonces: o.nonces, onDurable: o.onDurable, onFailed: o.onFailed,
    maxOpenSegments, maxFlushSize, maxFlushTimeMs, maxBufferedBytes, maxConcurrentFlushes, logger,
  };
}

/** Creates a segment writer pool. Options are checked here; bad ones throw CAIRN_ERR_INVALID_ARGUMENT. */
export function createSegmentWriter(options: SegmentWriterOptions): SegmentWriter {
  return new Writer(checkOptions(options));
}

class Writer extends EventEmitter implements SegmentWriter {
  /** Open segments, least recently used first. */
  private readonly open = new Map<bigint, PendingSegment>();
  /** Every segment whose memory is held (open, closing, committing). */
  private readonly live = new Map<bigint, PendingSegment>();
  private readonly files = new Map<FileKey, FileState>();
  /** Open segments a flush asked to close while maxConcurrentFlushes PUTs were in flight. */
  private readonly deferred = new Set<PendingSegment>();
  /** PUTs in flight of segments closed by flush. */
  private flushing = 0;
  private readonly budget: ByteBudget;
  private readonly settings: SegmentSettings;
  /** A file writing at least this much at once or per segment gets a segment of its own. */
  private readonly streamThreshold: number;
  /** A full pool closes its least recently used segment only if it was idle this long. */
  private readonly idleCloseMs: number;
  /** Serializes placement (budget, segment choice, nonce allocation). */
  private lock: Promise<void> = Promise.resolve();
  private seq = 0;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Failures since the last flushAll. */
  private unreported: Error[] = [];
  private queuedWrites = 0;
  private bytesWritten = 0;
  private bytesDurable = 0;
  private segmentsOpened = 0;
  private segmentsDurable = 0;
  private segmentsFailed = 0;
  private segmentRetries = 0;
  private readonly closedBy: Record<CloseReason, number> = { size: 0, time: 0, flush: 0, lru: 0, budget: 0, shutdown: 0 };
  private readonly putLatency = new LatencyRecorder();
  private readonly lifetime = new LatencyRecorder();

  constructor(private readonly c: Config) {
    super();
    this.budget = new ByteBudget(c.maxBufferedBytes);
    this.streamThreshold = Math.max(1, Math.min(MiB, Math.floor(c.maxFlushSize / 4)));
    this.idleCloseMs = Math.min(1000, c.maxFlushTimeMs / 4);
    this.settings = {
      ...c.settings,
      onRetry: () => {
        this.segmentRetries++;
      },
    };
  }

  // ---- public API -----------------------------------------------------------------

  async write(fileKey: FileKey, data: Uint8Array, options: WriteOptions = {}): Promise<WriteLocation> {
    if (this.closed) throw cairnError('CAIRN_ERR_CLOSED', 'segment writer');
    checkFileKey(fileKey);
    if (!(data instanceof Uint8Array)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'write data must be a Uint8Array');
    const fo = options.fileOffset;
    if (fo !== undefined && (!Number.isSafeInteger(fo) || fo < 0 || !Number.isSafeInteger(fo + data.length))) {
      throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `write fileOffset ${fo}`);
    }
    if (data.length === 0) return { pieces: [] };
    this.queuedWrites++;
    const run = this.lock.then(() => this.place(fileKey, data, fo));
    this.lock = run.then(
      () => {},
      () => {},
    );
    let placed: { location: WriteLocation; sent: Promise<unknown> };
    try {
      placed = await run;
    } finally {
      this.queuedWrites--;
    }
    await placed.sent;
    return placed.location;
  }

  async flush(fileKey: FileKey): Promise<void> {
    checkFileKey(fileKey);
    const fs = this.files.get(fileKey);
    if (!fs) return;
    const segs = [...fs.segs];
    for (const s of segs) this.requestFlush(s);
    const results = await Promise.allSettled(segs.map((s) => s.done));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const err = fs.error ?? (failed?.reason as Error | undefined);
    if (err !== undefined) {
      fs.error = undefined;
      this.forgetIfIdle(fileKey, fs);
      throw err;
    }
  }

  async flushAll(): Promise<void> {
    await this.closeAll('flush');
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.closing = (async () => {
        await this.lock;
        await this.closeAll('shutdown');
      })();
    }
    return this.closing;
  }

  readPending(segment: SegmentRef | bigint, offset: number, length: number): Buffer | undefined {
    const nonce = typeof segment === 'bigint' ? segment : segment.nonce;
    const seg = this.live.get(nonce);
    if (!seg) return undefined;
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 || offset + length > seg.length) {
      throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `readPending ${seg.ref.name} [${offset}, +${length}) of ${seg.length} bytes`);
    }
    return seg.read(offset, length);
  }

  pendingExtents(fileKey: FileKey): Extent[] {
    const fs = this.files.get(fileKey);
    if (!fs) return [];
    const out: Extent[] = [];
    // fs.segs is in the order the file first wrote to each segment, which is its
    // write order: a file never goes back to a segment it left.
    for (const seg of fs.segs) {
      for (const r of seg.fileRuns.get(fileKey) ?? []) {
        if (r.fileOffset !== undefined) out.push({ fileOffset: r.fileOffset, nonce: seg.ref.nonce, segmentOffset: r.segmentOffset, length: r.length });
      }
    }
    return out;
  }

  locate(nonce: bigint): SegmentRef {
    return this.c.locate(nonce);
  }

  stats(): SegmentWriterStats {
    return {
      openSegments: this.open.size,
      closingSegments: this.live.size - this.open.size,
      bytesBuffered: this.budget.used,
      maxBufferedBytes: this.c.maxBufferedBytes,
      waitingWrites: this.queuedWrites,
      bytesWritten: this.bytesWritten,
      bytesDurable: this.bytesDurable,
      segmentsOpened: this.segmentsOpened,
      segmentsClosed: { ...this.closedBy },
      segmentsDurable: this.segmentsDurable,
      segmentsFailed: this.segmentsFailed,
      segmentRetries: this.segmentRetries,
      putLatency: this.putLatency.stats(),
      segmentLifetime: this.lifetime.stats(),
    };
  }

  override on(event: SegmentWriterEvent, listener: (info: Record<string, unknown>) => void): this {
    return super.on(event, listener);
  }

  override off(event: SegmentWriterEvent, listener: (info: Record<string, unknown>) => void): this {
    return super.off(event, listener);
  }

  // ---- placement ----------------------------------------------------------------------

  /** Runs under the lock: places data piece by piece, spilling into newer segments. */
  private async place(fileKey: FileKey, data: Uint8Array, fileOffset: number | undefined): Promise<{ location: WriteLocation; sent: Promise<unknown> }> {
    const pieces: WritePiece[] = [];
    const sent: Promise<void>[] = [];
    let done = 0;
    while (done < data.length) {
      const want = Math.min(data.length - done, this.c.maxFlushSize, this.c.maxBufferedBytes);
      await this.reserve(want);
      let seg: PendingSegment;
      try {
        seg = await this.segmentFor(fileKey, data.length - done);
      } catch (err) {
        this.budget.release(want);
        throw err;
      }
      if (seg.state !== 'open') {
        // Closed (flushAll, shutdown) between its creation and now: pick again.
        this.budget.release(want);
        continue;
      }
      const n = Math.min(want, seg.spaceLeft);
      if (n < want) this.budget.release(want - n);
      const segmentOffset = seg.length;
      const p = seg.append(data, done, n);
      if (sent[sent.length - 1] !== p) sent.push(p);
      seg.record(fileKey, fileOffset === undefined ? undefined : fileOffset + done, segmentOffset, n);
      this.track(fileKey, seg);
      this.open.delete(seg.ref.nonce);
      this.open.set(seg.ref.nonce, seg);
      const last = pieces[pieces.length - 1];
      if (last && last.segment === seg.ref && last.segmentOffset + last.length === segmentOffset) {
        pieces[pieces.length - 1] = { segment: seg.ref, segmentOffset: last.segmentOffset, length: last.length + n };
      } else {
        pieces.push({ segment: seg.ref, segmentOffset, length: n });
      }
      done += n;
      this.bytesWritten += n;
      if (seg.spaceLeft === 0) this.closeSegment(seg, 'size');
    }
    return { location: { pieces }, sent: Promise.all(sent) };
  }

  /**
   * Takes n bytes of the memory budget; under pressure closes open segments so
   * that enough will be freed, the largest first: it frees the most per PUT,
   * and the smaller ones keep growing. Many streams sharing a budget then
   * close segments of staggered sizes (about twice budget / streams on
   * average) instead of all of them a sliver each, so that their bytes travel
   * in fewer, larger PUTs.
   */
  private async reserve(n: number): Promise<void> {
    if (this.budget.tryAcquire(n)) return;
    let freeing = this.budget.available;
    for (const s of this.live.values()) if (s.state !== 'open') freeing += s.length;
    for (const s of [...this.open.values()].sort((a, b) => b.length - a.length)) {
      if (freeing >= n) break;
      freeing += s.length;
      this.closeSegment(s, 'budget');
    }
    this.emit(WRITER_EVENTS.backpressure, { bytesBuffered: this.budget.used, maxBufferedBytes: this.c.maxBufferedBytes, want: n });
    await this.budget.acquire(n);
  }

  /**
   * The open segment the file's next bytes go to: its current one while open.
   * Otherwise other files pack into the most recently used shared segment,
   * while a streaming file (this write, or its bytes in its last segment, at
   * least streamThreshold) gets a segment of its own, so that big streams use
   * separate connections. When the pool is full, the least recently used open
   * segment is closed if it has been idle for idleCloseMs (or nothing else
   * fits); else the file joins the most recently used one, so that more
   * streams than the pool holds share segments instead of closing each other's.
   * The segment is always newer than every segment holding the file's
   * uncommitted bytes (which keeps the file's commits in write order).
   */
  private async segmentFor(fileKey: FileKey, wantBytes: number): Promise<PendingSegment> {
    const fs = this.files.get(fileKey);
    const cur = fs?.current;
    if (cur && cur.state === 'open') return cur;
    const minSeq = fs ? newest(fs.segs)?.seq ?? -1 : -1;
    const streaming = wantBytes >= this.streamThreshold || (cur !== undefined && (cur.fileBytes.get(fileKey) ?? 0) >= this.streamThreshold);
    let mru: PendingSegment | undefined;
    let mruShared: PendingSegment | undefined;
    for (const s of this.open.values()) {
      if (s.seq <= minSeq) continue;
      mru = s;
      if (s.shared) mruShared = s;
    }
    if (!streaming && mruShared) return mruShared;
    if (this.open.size >= this.c.maxOpenSegments) {
      const lru = this.open.values().next().value!;
      if (mru && performance.now() - lru.lastUsed < this.idleCloseMs) return mru;
      this.closeSegment(lru, 'lru');
    }
    const nonce = await this.c.nonces();
    checkNonce(nonce);
    if (this.live.has(nonce)) throw cairnError('CAIRN_ERR_SEG_NONCE_REUSED', String(nonce));
    const seg = new PendingSegment(this.c.locate(nonce), this.seq++, this.settings, !streaming);
    this.open.set(nonce, seg);
    this.live.set(nonce, seg);
    this.segmentsOpened++;
    seg.timer = setTimeout(() => this.closeSegment(seg, 'time'), this.c.maxFlushTimeMs);
    this.emit(WRITER_EVENTS.open, { nonce, container: seg.ref.container, name: seg.ref.name });
    return seg;
  }

  /** Notes that the file has bytes in seg; seg then depends on the file's previous segment. */
  private track(fileKey: FileKey, seg: PendingSegment): void {
    let fs = this.files.get(fileKey);
    if (!fs) {
      fs = { current: undefined, segs: new Set(), error: undefined };
      this.files.set(fileKey, fs);
    }
    if (!fs.segs.has(seg)) {
      const prev = newest(fs.segs);
      if (prev) seg.deps.add(prev);
      fs.segs.add(seg);
    }
    fs.current = seg;
  }

  // ---- closing and committing ------------------------------------------------------------

  private async closeAll(reason: CloseReason): Promise<void> {
    for (const s of [...this.open.values()]) this.closeSegment(s, reason);
    await Promise.all([...this.live.values()].map((s) => s.settled));
    if (this.unreported.length > 0) {
      const errs = this.unreported;
      this.unreported = [];
      const first = errs[0]!;
      if (errs.length > 1 && isCairnError(first)) {
        (first as CairnError & { details?: Record<string, unknown> }).details ??= {};
        first.details!.failedSegments = errs.length;
      }
      throw first;
    }
  }

  /**
   * Group commit: a flush closes an open segment at once while fewer than
   * maxConcurrentFlushes flush-closed PUTs are in flight; otherwise the segment
   * stays open, gathering more files' writes, until one of those PUTs completes.
   */
  private requestFlush(seg: PendingSegment): void {
    if (seg.state !== 'open') return;
    if (this.flushing < this.c.maxConcurrentFlushes) this.closeSegment(seg, 'flush');
    else this.deferred.add(seg);
  }

  /** Closes deferred flush requests, oldest segment first, as PUT slots free up. */
  private closeDeferred(): void {
    while (this.flushing < this.c.maxConcurrentFlushes && this.deferred.size > 0) {
      let oldest: PendingSegment | undefined;
      for (const s of this.deferred) if (!oldest || s.seq < oldest.seq) oldest = s;
      this.closeSegment(oldest!, 'flush');
    }
  }

  private closeSegment(seg: PendingSegment, reason: CloseReason): void {
    if (seg.state !== 'open') return;
    this.deferred.delete(seg);
    seg.state = 'closing';
    seg.reason = reason;
    seg.closedAt = performance.now();
    clearTimeout(seg.timer);
    this.open.delete(seg.ref.nonce);
    if (seg.length === 0) {
      // Opened but never written (closed before its first append): nothing to store.
      void seg.abandon();
      this.release(seg);
      seg.markDone();
      return;
    }
    this.closedBy[reason]++;
    this.emit(WRITER_EVENTS.close, { nonce: seg.ref.nonce, container: seg.ref.container, name: seg.ref.name, reason, size: seg.length });
    void this.finish(seg);
  }

  /** Stores a closed segment, waits for the segments it depends on, then commits it through onDurable. */
  private async finish(seg: PendingSegment): Promise<void> {
    const { ref } = seg;
    let etag: string;
    const gated = seg.reason === 'flush';
    if (gated) this.flushing++;
    try {
      etag = (await seg.store()).etag;
    } catch (err) {
      this.fail(seg, cairnError('CAIRN_ERR_SEG_PUT_FAILED', `${ref.container}/${ref.name}`, errMessage(err), { cause: err }));
      return;
    } finally {
      if (gated) {
        this.flushing--;
        this.closeDeferred();
      }
    }
    const now = performance.now();
    const putMs = now - seg.closedAt;
    this.putLatency.add(putMs);
    this.lifetime.add(now - seg.openedAt);
    for (const d of seg.deps) await d.settled;
    const durable: DurableSegment = {
      segment: ref,
      size: seg.length,
      objectSize: seg.objectSize,
      etag,
      reason: seg.reason!,
      writes: seg.runs.map((r) => ({ fileKey: r.fileKey, fileOffset: r.fileOffset, segmentOffset: r.segmentOffset, length: r.length })),
    };
    try {
      await this.c.onDurable(durable);
    } catch (err) {
      this.fail(seg, cairnError('CAIRN_ERR_SEG_COMMIT_FAILED', `${ref.container}/${ref.name}`, errMessage(err), { cause: err }));
      return;
    }
    this.segmentsDurable++;
    this.bytesDurable += seg.length;
    this.release(seg);
    seg.markDone();
    this.emit(WRITER_EVENTS.durable, { nonce: ref.nonce, container: ref.container, name: ref.name, size: seg.length, putMs });
    this.drainIfIdle();
  }

  private fail(seg: PendingSegment, err: CairnError): void {
    const { ref } = seg;
    this.c.logger.error({ segment: ref.name, container: ref.container, err }, 'log segment failed; its writes are lost');
    this.segmentsFailed++;
    this.unreported.push(err);
    const fileKeys = [...seg.fileRuns.keys()];
    for (const k of fileKeys) {
      const fs = this.files.get(k);
      if (fs) fs.error ??= err;
    }
    this.release(seg);
    seg.markFailed(err);
    this.emit(WRITER_EVENTS.failed, { nonce: ref.nonce, container: ref.container, name: ref.name, size: seg.length, error: err });
    try {
      this.c.onFailed?.({ segment: ref, size: seg.length, fileKeys, error: err });
    } catch (hookErr) {
      this.c.logger.error({ err: hookErr }, 'onFailed hook threw');
    }
    this.drainIfIdle();
  }

  /** Frees a settled segment's memory and budget and forgets it in the file states. */
  private release(seg: PendingSegment): void {
    if (!this.live.delete(seg.ref.nonce)) return;
    this.budget.release(seg.length);
    seg.dropMemory();
    for (const k of seg.fileRuns.keys()) {
      const fs = this.files.get(k);
      if (!fs) continue;
      fs.segs.delete(seg);
      this.forgetIfIdle(k, fs);
    }
  }

  private forgetIfIdle(k: FileKey, fs: FileState): void {
    if (fs.segs.size === 0 && fs.error === undefined) this.files.delete(k);
  }

  private drainIfIdle(): void {
    if (this.live.size === 0) this.emit(WRITER_EVENTS.drain, {});
  }
}

/** The newest (highest seq) of a file's unsettled segments. */
function newest(segs: ReadonlySet<PendingSegment>): PendingSegment | undefined {
  let best: PendingSegment | undefined;
  for (const s of segs) if (!best || s.seq > best.seq) best = s;
  return best;
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
