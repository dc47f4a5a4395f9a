// OpenSegment for the fs backend: appends stream into a temp file in order.
// Small appends are copied into a staging buffer (so the caller may reuse its
// buffer once append resolves) and written in batches of about 1 MiB, one batch
// being written while the next fills; an append that completes a batch resolves
// once the previous batch reached the file (the backpressure). Large appends are
// written through without a copy and resolve once their bytes reached the file.
// close() writes the rest and the header, fsyncs and publishes the object
// atomically; abort() removes the temp file. Nothing is visible under the
// segment's name before close() resolves.

import { cairnError } from '@cairn/errors';
import type { ObjectInfo, OpenSegment } from '../types.js';
import { ObjectWriter, publish } from './fs-write.js';
import { SLAB_BYTES, giveSlab, takeSlab } from './slab.js';

/** What a segment needs from its store. */
export interface SegmentHost {
  readonly root: string;
  readonly tempDir: string;
  readonly fsync: boolean;
  /** Resolves once the store finished opening (and fails if it could not). */
  ready(): Promise<void>;
  /** Runs one counted request (stats, closed-store check, error mapping). */
  request<T>(what: string, fn: () => Promise<T>): Promise<T>;
  countBytesOut(n: number): void;
  segmentFinished(seg: FsSegment): void;
}

type State = 'open' | 'closing' | 'closed' | 'aborted' | 'failed';

/**
 * Appends are staged (copied) into batches of this many bytes: slabs from the
 * pool (slab.ts), each handed back once its batch reached the file, so that a
 * long run of segments does not fault in and garbage-collect fresh memory for
 * every megabyte.
 */
const STAGE_BYTES = SLAB_BYTES;
/** Appends at least this large are written through without a copy. */
const WRITE_THROUGH_BYTES = 256 * 1024;

export class FsSegment implements OpenSegment {
  private state: State = 'open';
  private writer: Promise<ObjectWriter> | undefined;
  /** The chain of appends: each write starts after the previous one finished. */
  private tail: Promise<void> = Promise.resolve();
  private failure: unknown;
  private closing: Promise<ObjectInfo> | undefined;
  /** Staging buffer of small appends, and how much of it is filled. */
  private stage: Buffer | undefined;
  private staged = 0;
  /** The last queued batch write (what an append that sealed a batch waits for). */
  private last: Promise<void> = Promise.resolve();
  bytesAppended = 0;
  bytesSent = 0;

  constructor(
    private readonly host: SegmentHost,
    readonly container: string,
    readonly name: string,
    private readonly finalPath: string,
    private readonly maxSize: number,
    private readonly meta: Readonly<Record<string, string>> | undefined,
  ) {}

  private get what(): string {
    return `${this.container}/${this.name}`;
  }

  append(chunk: Uint8Array): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.closedError());
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.bytesAppended + chunk.length > this.maxSize) {
      return Promise.reject(cairnError('CAIRN_ERR_OBJ_TOO_LARGE', `${this.what}: segment limit ${this.maxSize} bytes`));
    }
    if (chunk.length === 0) return Promise.resolve();
    this.bytesAppended += chunk.length;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (buf.length >= WRITE_THROUGH_BYTES) {
      // Written from the caller's buffer, which is not ours once this resolves: wait for the file.
      this.sealStage();
      return this.enqueue(async (w) => {
        await w.write(buf);
        await w.flush();
        this.bytesSent += buf.length;
      });
    }
    // The temp file exists from the first append on (documented; a crash leaves it for cleanup).
    const first = this.writer === undefined ? this.enqueue(async () => undefined) : undefined;
    let at = 0;
    let sealed = false;
    while (at < buf.length) {
      this.stage ??= takeSlab();
      const n = buf.copy(this.stage, this.staged, at);
      this.staged += n;
      at += n;
      if (this.staged === STAGE_BYTES) {
        this.sealStage();
        sealed = true;
      }
    }
    return sealed ? this.last : (first ?? Promise.resolve());
  }

  /** Queues the staged bytes (a copy owned by the segment) for writing. */
  private sealStage(): void {
    if (this.stage === undefined || this.staged === 0) return;
    const slab = this.stage;
    const batch = slab.subarray(0, this.staged);
    this.stage = undefined;
    this.staged = 0;
    this.last = this.enqueue(async (w) => {
      await w.write(batch, () => giveSlab(slab)); // resolves once the previous batch reached the file
      this.bytesSent += batch.length;
    });
  }

  /** Runs one writer step after the previous ones; the first failure sticks. */
  private enqueue(step: (w: ObjectWriter) => Promise<void>): Promise<void> {
    const run = this.tail.then(async () => {
      if (this.failure !== undefined) throw this.failure;
      if (this.state === 'aborted') throw this.closedError();
      try {
        await step(await this.openWriter());
      } catch (err) {
        this.failure ??= err;
        throw err;
      }
    });
    this.tail = run.catch(() => undefined);
    run.catch(() => undefined); // a batch's failure is reported by later appends and close
    return run;
  }

  close(): Promise<ObjectInfo> {
    if (this.state !== 'open') return Promise.reject(this.closedError());
    this.state = 'closing';
    this.closing = this.host.request(this.what, async () => {
      try {
        this.sealStage();
        await this.tail;
        if (this.failure !== undefined) throw this.failure;
        const w = await this.openWriter();
        const h = await w.finish();
        this.bytesSent = this.bytesAppended;
        await publish(w.tempPath, this.finalPath, this.host.root, false, this.host.fsync, this.what);
        w.published();
        await w.discard(); // waits for the temp file's close; removes nothing now
        this.host.countBytesOut(h.size);
        this.state = 'closed';
        return { name: this.name, size: h.size, etag: h.md5.toString('hex'), mtime: h.mtime, meta: { ...h.meta } };
      } catch (err) {
        this.state = 'failed';
        await this.discardWriter();
        throw err;
      } finally {
        this.host.segmentFinished(this);
      }
    });
    return this.closing;
  }

  async abort(): Promise<void> {
    if (this.state === 'closing') {
      await this.closing!.catch(() => undefined);
      return;
    }
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.stage = undefined;
    this.staged = 0;
    await this.tail;
    await this.discardWriter();
    this.host.segmentFinished(this);
  }

  private openWriter(): Promise<ObjectWriter> {
    this.writer ??= this.host.ready().then(() => ObjectWriter.create(this.host.tempDir, this.name, this.meta, this.host.fsync));
    return this.writer;
  }

  private async discardWriter(): Promise<void> {
    const w = this.writer;
    if (!w) return;
    await w.then((x) => x.discard(), () => undefined);
  }

  private closedError(): Error {
    return cairnError('CAIRN_ERR_OBJ_SEGMENT_CLOSED', `${this.what} (${this.state})`);
  }
}
