// The replay log handle: LSN assignment, group commit, rotation, discard, replay.
//
// Group commit. append() assigns the LSN and encodes the record at once and
// queues it. One writer loop drains the queue: it takes every queued record as
// one batch, writes the batch at the end of the current file (positioned write),
// fdatasyncs, and only then resolves the batch's promises. Records queued while a
// batch is in flight form the next batch, so an append waits at most for the
// fdatasync in flight plus its own. A failed write or fdatasync rejects the batch
// and everything queued with CAIRN_ERR_LOG_IO, and the log refuses later appends:
// what reached the disk is unknown until recovery runs again.
//
// discardThrough() goes through the same queue as a barrier, so files change only
// between batches and records of one file stay consecutive.
//
// Zeros ahead. After a batch, when fewer than half of `preallocateBytes` zero
// bytes lie beyond the records of the newest file, the writer writes that many
// more past the file's end and fdatasyncs them, in the background, through a
// file handle of their own (so an error the kernel reports for the file reaches
// the batches' own fdatasync too: each open file is told of it once). A batch
// later written over those zeros leaves the file's size and block map as they
// were, so its fdatasync commits no file-system metadata. A batch that would
// reach into a zero write still in flight waits for it first (the two never
// overlap). A failed zero write costs only the speed-up. Recovery takes an
// all-zero rest of a file as the clean end of its records.

import { cairnError, isCairnError, type CairnError } from '@cairn/errors';
import { pino, type Logger } from 'pino';
import { encodeRecord } from './codec.js';
import { DEFAULT_MAX_RECORD_BYTES, DEFAULT_PREALLOCATE_BYTES, DEFAULT_ROTATE_BYTES, FILE_HEADER_SIZE, MAX_LSN, MAX_PAYLOAD_BYTES } from './format.js';
import { createLogFile, type LogFileState } from './files.js';
import type { ReplayLog, ReplayLogOptions, ReplayLogStats, ReplayRecord } from './index.js';
import { nodeIo, unsyncedIo, writeFully, type LogFile, type LogIo } from './io.js';
import { recoverLog } from './recovery.js';
import { scanRecords } from './reader.js';
import { LatencyRing } from './stats.js';

interface Waiter {
  readonly lsn: bigint;
  readonly buf: Buffer;
  readonly resolve: (lsn: bigint) => void;
  readonly reject: (err: Error) => void;
}

interface Barrier {
  readonly discardThrough: bigint;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

type Item = Waiter | Barrier;

const isBarrier = (i: Item): i is Barrier => 'discardThrough' in i;

/**
 * Opens the log in `options.dir` over `io` (tests pass an instrumented layer).
 * Recovery runs first (recovery.ts).
 */
export async function openLog(options: ReplayLogOptions, io: LogIo = nodeIo): Promise<ReplayLog> {
  if (!options || typeof options.dir !== 'string' || options.dir.length === 0) {
    throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'replay log options.dir is required');
  }
  const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const rotateBytes = options.rotateBytes ?? DEFAULT_ROTATE_BYTES;
  if (!Number.isSafeInteger(maxRecordBytes) || maxRecordBytes < 0 || maxRecordBytes > MAX_PAYLOAD_BYTES) {
    throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `maxRecordBytes ${maxRecordBytes}`);
  }
  if (!Number.isSafeInteger(rotateBytes) || rotateBytes <= 0) {
    throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `rotateBytes ${rotateBytes}`);
  }
  const fsync = options.fsync !== false;
  // Zeros ahead only make fdatasync cheaper: without fsync they would be pure cost.
  const preallocateBytes = options.preallocateBytes ?? (fsync ? DEFAULT_PREALLOCATE_BYTES : 0);
  if (!Number.isSafeInteger(preallocateBytes) || preallocateBytes < 0 || preallocateBytes > 1024 * 1024 * 1024) {
    throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `preallocateBytes ${preallocateBytes}`);
  }
  const logger = options.logger ?? pino({ level: 'silent' });
  const fileIo = fsync ? io : unsyncedIo(io);
  const rec = await recoverLog({ dir: options.dir, io: fileIo, logger, ...(options.onTorn ? { onTorn: options.onTorn } : {}) });
  let fileBytes: number;
  try {
    fileBytes = await rec.active.size();
  } catch (err) {
    await rec.active.close().catch(() => undefined);
    throw cairnError('CAIRN_ERR_LOG_IO', `replay log ${options.dir}: ${(err as Error).message}`, { cause: err });
  }
  const log = new ReplayLogImpl(options.dir, fileIo, logger, fsync, maxRecordBytes, rotateBytes, preallocateBytes, rec.files, rec.active, fileBytes, rec.coveredThrough);
  logger.info({ dir: options.dir, nextLsn: String(log.nextLsn), files: rec.files.length }, 'replay log open');
  return log;
}

/** A shared buffer of `n` zero bytes (only ever read). */
let zeroBuffer = Buffer.alloc(0);
function zeros(n: number): Buffer {
  if (zeroBuffer.length < n) zeroBuffer = Buffer.alloc(n);
  return zeroBuffer.subarray(0, n);
}

class ReplayLogImpl implements ReplayLog {
  private next: bigint;
  private readonly queue: Item[] = [];
  private running = false;
  private scheduled = false;
  private failure: CairnError | undefined;
  private closing: Promise<void> | undefined;
  private idleWaiters: Array<() => void> = [];
  private readonly latency = new LatencyRing();
  private readonly counters = { records: 0, bytes: 0, fsyncs: 0, batches: 0, maxBatch: 0, batchesOverZeros: 0, zeroBytesWritten: 0 };
  /** A zero write ahead of the records in flight, and where it starts. */
  private zeroing: { from: number; done: Promise<void> } | undefined;
  /** A zero write failed in the newest file: no more until the next file. */
  private zeroFailed = false;

  constructor(
    private readonly dir: string,
    private readonly io: LogIo,
    private readonly logger: Logger,
    private readonly fsync: boolean,
    private readonly maxRecordBytes: number,
    private readonly rotateBytes: number,
    private readonly preallocateBytes: number,
    /** Files oldest first; never empty; the last one takes appends. */
    private readonly files: LogFileState[],
    private active: LogFile,
    /** Bytes of the active file on disk: its records, then zeros. */
    private activeBytes: number,
    private coveredThrough: bigint,
  ) {
    this.next = this.newest.lastLsn + 1n;
  }

  get nextLsn(): bigint {
    return this.next;
  }

  get firstLsn(): bigint {
    return this.files[0]!.firstLsn;
  }

  private get newest(): LogFileState {
    return this.files[this.files.length - 1]!;
  }

  append(payload: Uint8Array): Promise<bigint> {
    if (this.closing) return Promise.reject(cairnError('CAIRN_ERR_CLOSED', `replay log ${this.dir}`));
    if (this.failure) return Promise.reject(this.refusal());
    if (!(payload instanceof Uint8Array)) {
      return Promise.reject(cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'replay log payload must be a Uint8Array'));
    }
    if (payload.length > this.maxRecordBytes) {
      return Promise.reject(cairnError('CAIRN_ERR_LOG_TOO_LARGE', `${payload.length} bytes (maxRecordBytes ${this.maxRecordBytes})`));
    }
    const lsn = this.next;
    this.next = lsn + 1n;
    const buf = encodeRecord(lsn, payload);
    return new Promise<bigint>((resolve, reject) => {
      this.queue.push({ lsn, buf, resolve, reject });
      this.kick();
    });
  }

  discardThrough(lsn: bigint): Promise<void> {
    if (this.closing) return Promise.reject(cairnError('CAIRN_ERR_CLOSED', `replay log ${this.dir}`));
    if (this.failure) return Promise.reject(this.refusal());
    if (typeof lsn !== 'bigint' || lsn < 0n || lsn >= MAX_LSN) {
      return Promise.reject(cairnError('CAIRN_ERR_INVALID_ARGUMENT', `discardThrough lsn ${String(lsn)}`));
    }
    if (lsn >= this.next) {
      // A checkpoint covers LSNs this log never wrote: later records must not reuse them.
      this.logger.warn({ dir: this.dir, lsn: String(lsn), nextLsn: String(this.next) }, 'replay log: LSN jumps past a newer checkpoint');
      this.next = lsn + 1n;
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ discardThrough: lsn, resolve, reject });
      this.kick();
    });
  }

  replay(afterLsn: bigint): AsyncIterable<ReplayRecord> {
    return { [Symbol.asyncIterator]: () => this.replayRecords(afterLsn) };
  }

  liveBytes(): number {
    let n = 0;
    for (const f of this.files) n += f.liveBytes(this.coveredThrough);
    return n;
  }

  stats(): ReplayLogStats {
    return { ...this.counters, fsyncMicrosP50: this.latency.quantile(0.5), fsyncMicrosP99: this.latency.quantile(0.99) };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  // ---- writer ---------------------------------------------------------------

  /**
   * Starts the writer on the next tick when it is idle. Waiting a tick (after
   * pending promise callbacks ran) lets callers that were just acknowledged
   * queue their next records into the same batch.
   */
  private kick(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    process.nextTick(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0) {
        if (this.failure) {
          this.rejectQueued();
          break;
        }
        const head = this.queue[0]!;
        if (isBarrier(head)) {
          this.queue.shift();
          await this.discard(head);
          continue;
        }
        let n = 1;
        while (n < this.queue.length && !isBarrier(this.queue[n]!)) n++;
        await this.commit(this.queue.splice(0, n) as Waiter[]);
      }
    } finally {
      this.running = false;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Writes one batch and makes it durable, then acknowledges it. */
  private async commit(batch: Waiter[]): Promise<void> {
    const first = batch[0]!.lsn;
    const last = batch[batch.length - 1]!.lsn;
    let file = this.newest;
    try {
      if (!file.empty && file.size >= this.rotateBytes) file = await this.startFile(first);
      if (first !== file.lastLsn + 1n) {
        throw cairnError('CAIRN_ERR_INTERNAL', `replay log batch starts at lsn ${first}, ${file.name} ends at ${file.lastLsn}`);
      }
      const bufs = batch.map((w) => w.buf);
      let bytes = 0;
      for (const b of bufs) bytes += b.length;
      const end = file.size + bytes;
      if (this.zeroing && end > this.zeroing.from) await this.zeroing.done;
      if (end <= this.activeBytes) this.counters.batchesOverZeros++;
      await writeFully(this.active, bufs, file.size);
      if (this.fsync) {
        const t0 = process.hrtime.bigint();
        await this.active.datasync();
        this.latency.add(Number(process.hrtime.bigint() - t0) / 1000);
        this.counters.fsyncs++;
      }
      file.advance(last, end);
      if (end > this.activeBytes) this.activeBytes = end;
      this.zeroAhead(file);
      this.counters.records += batch.length;
      this.counters.bytes += bytes;
      this.counters.batches++;
      if (batch.length > this.counters.maxBatch) this.counters.maxBatch = batch.length;
    } catch (err) {
      this.fail(err, `writing lsn ${first}..${last} to ${file.path}`, batch);
      return;
    }
    for (const w of batch) w.resolve(w.lsn);
  }

  /**
   * Starts writing zeros past the end of the newest file (see "Zeros ahead"
   * above) when fewer than half of preallocateBytes remain beyond its records
   * and the file will still take records (it has not reached rotateBytes).
   */
  private zeroAhead(file: LogFileState): void {
    const chunk = this.preallocateBytes;
    if (chunk === 0 || this.zeroing || this.zeroFailed) return;
    if (this.activeBytes - file.size >= chunk / 2 || file.size >= this.rotateBytes) return;
    const from = this.activeBytes;
    const active = this.active;
    const done = (async () => {
      let handle: LogFile | undefined;
      try {
        handle = await this.io.open(file.path, 'write');
        await writeFully(handle, [zeros(chunk)], from);
        await handle.datasync();
        if (this.active === active) this.activeBytes = Math.max(this.activeBytes, from + chunk);
        this.counters.zeroBytesWritten += chunk;
      } catch (err) {
        // Most likely a full disk; the records will find out for themselves.
        // Not retried until the next file.
        this.zeroFailed = true;
        this.logger.warn({ dir: this.dir, file: file.name, err }, 'replay log: writing zeros ahead failed');
      } finally {
        await handle?.close().catch(() => undefined);
        this.zeroing = undefined;
      }
    })();
    this.zeroing = { from, done };
  }

  /** Starts a new newest file for records from `firstLsn` on. */
  private async startFile(firstLsn: bigint): Promise<LogFileState> {
    if (this.zeroing) await this.zeroing.done;
    const created = await createLogFile(this.io, this.dir, firstLsn, this.coveredThrough);
    const old = this.active;
    const oldRecordBytes = this.newest.size;
    const oldBytes = this.activeBytes;
    this.active = created.file;
    this.activeBytes = FILE_HEADER_SIZE;
    this.zeroFailed = false;
    this.files.push(created.state);
    // The old file's zeros are no longer needed. Left behind (a failed or lost
    // truncate), recovery reads them as the end of its records.
    if (oldBytes > oldRecordBytes) await old.truncate(oldRecordBytes).catch(() => undefined);
    await old.close();
    this.logger.debug({ dir: this.dir, file: created.state.name }, 'replay log: new file');
    return created.state;
  }

  /** Runs a discard barrier: every record queued before it is durable now. */
  private async discard(b: Barrier): Promise<void> {
    try {
      if (b.discardThrough > this.coveredThrough) this.coveredThrough = b.discardThrough;
      const covered = this.coveredThrough;
      const newest = this.newest;
      // The newest file is fully covered: replace it, so it can go too and the
      // new header keeps the next LSN.
      if (covered >= newest.lastLsn && covered >= newest.firstLsn) await this.startFile(covered + 1n);
      let deleted = 0;
      while (this.files.length > 1 && this.files[0]!.lastLsn <= covered) {
        await this.io.unlink(this.files[0]!.path);
        this.files.shift();
        deleted++;
      }
      if (deleted > 0) await this.io.syncDir(this.dir);
      this.files[0]!.prune(covered);
    } catch (err) {
      this.fail(err, `discarding through lsn ${b.discardThrough}`, []);
      b.reject(this.refusal());
      return;
    }
    b.resolve();
  }

  /** Enters the failed state: rejects `batch` and everything queued. */
  private fail(err: unknown, what: string, batch: Waiter[]): void {
    const e = isCairnError(err) && err.code === 'CAIRN_ERR_LOG_IO' ? err
      : cairnError('CAIRN_ERR_LOG_IO', `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    this.failure ??= e;
    this.logger.error({ dir: this.dir, err: e }, 'replay log failed; refusing further appends');
    for (const w of batch) w.reject(e);
    this.rejectQueued();
  }

  private rejectQueued(): void {
    for (const item of this.queue.splice(0)) item.reject(this.refusal());
  }

  private refusal(): CairnError {
    return cairnError('CAIRN_ERR_LOG_IO', `replay log ${this.dir} failed earlier (${this.failure?.message}); remount the volume`, {
      cause: this.failure,
    });
  }

  private async shutdown(): Promise<void> {
    if (this.running || this.scheduled || this.queue.length > 0) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    if (this.zeroing) await this.zeroing.done;
    try {
      await this.active.close();
    } catch (err) {
      throw cairnError('CAIRN_ERR_LOG_IO', `closing ${this.newest.path}: ${(err as Error).message}`, { cause: err });
    }
    this.logger.info({ dir: this.dir, nextLsn: String(this.next) }, 'replay log closed');
  }

  // ---- replay -----------------------------------------------------------------

  private async *replayRecords(afterLsn: bigint): AsyncGenerator<ReplayRecord, void, void> {
    if (this.closing) throw cairnError('CAIRN_ERR_CLOSED', `replay log ${this.dir}`);
    if (typeof afterLsn !== 'bigint' || afterLsn < 0n) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `replay afterLsn ${String(afterLsn)}`);
    const files = this.files.map((f) => ({ path: f.path, firstLsn: f.firstLsn, lastLsn: f.lastLsn, size: f.size, start: f.seek(afterLsn) }));
    const oldest = files[0]!.firstLsn;
    if (afterLsn + 1n < oldest) {
      throw cairnError('CAIRN_ERR_LOG_CORRUPT', `replay after lsn ${afterLsn} asked of ${this.dir}, but the log starts at lsn ${oldest}`);
    }
    for (const f of files) {
      if (f.lastLsn <= afterLsn) continue;
      let file: LogFile;
      try {
        file = await this.io.open(f.path, 'read');
      } catch (err) {
        throw cairnError('CAIRN_ERR_LOG_IO', `replay: opening ${f.path}: ${(err as Error).message}`, { cause: err });
      }
      try {
        const scan = scanRecords(file, f.start.offset, f.size, f.start.lsn);
        let r = await scan.next();
        while (!r.done) {
          if (r.value.lsn > afterLsn) yield { lsn: r.value.lsn, payload: Buffer.from(r.value.payload) };
          r = await scan.next();
        }
        if (r.value.torn || r.value.lastLsn !== f.lastLsn) {
          const why = r.value.torn?.reason ?? `ends at lsn ${r.value.lastLsn}, expected ${f.lastLsn}`;
          throw cairnError('CAIRN_ERR_LOG_CORRUPT', `${f.path} changed after recovery: ${why}`);
        }
      } catch (err) {
        if (isCairnError(err)) throw err;
        throw cairnError('CAIRN_ERR_LOG_IO', `replay: reading ${f.path}: ${(err as Error).message}`, { cause: err });
      } finally {
        await file.close().catch(() => undefined);
      }
    }
  }
}
