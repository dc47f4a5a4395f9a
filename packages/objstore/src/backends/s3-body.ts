// The body of one streamed upload (a put from a stream, an open segment), kept
// so that a failed attempt can be sent again from the first byte.
//
// Bytes come either pushed (OpenSegment.append) or pulled lazily from a source
// iterator (a streamed put). Each attempt gets a fresh async iterable that yields
// every kept byte from the start and then waits for more until end(). Bytes are
// kept up to `retainLimit`; past it the body forgets what it sent and cannot be
// replayed any more (attempt() returns null), so memory stays bounded. The MD5
// of every byte (for the check against S3's ETag) is computed as bytes come in,
// on a worker thread for large bodies (BodyHasher).

import { cairnError } from '@cairn/errors';
import { BodyHasher } from './body-hash.js';
import { SlabCopier } from './slab.js';

export class UploadBody {
  private readonly chunks: Buffer[] = [];
  /** Chunks already forgotten from the front of `chunks`. */
  private dropped = 0;
  private retained = 0;
  private replayable = true;
  private ended = false;
  private failure: Error | undefined;
  private readonly md5 = new BodyHasher();
  private readonly copier = new SlabCopier();
  private md5Hex: Promise<string> | undefined;
  /** Set when the hasher asked to wait (it is behind); a pulling attempt waits for it. */
  private hashing: Promise<void> | undefined;
  private waiters: Array<() => void> = [];
  private pulling: Promise<void> | undefined;
  private attemptId = 0;
  /** Bytes pushed or pulled so far. */
  total = 0;
  /** Bytes the current attempt has handed to the connection. */
  sent = 0;

  /**
   * @param retainLimit bytes kept for replay (Infinity: everything).
   * @param source pulled lazily when an attempt needs more bytes; omit for push mode.
   * @param onSent called after each chunk an attempt yields (for backpressure and stats).
   */
  constructor(
    private readonly retainLimit: number,
    private readonly source?: AsyncIterator<Uint8Array>,
    private readonly onSent?: (bytes: number) => void,
  ) {}

  /**
   * Adds bytes (push mode). The chunk is copied (into 1 MiB slabs): the caller may
   * reuse its buffer. Returns a promise when the caller should wait before pushing
   * more (hashing is behind), else undefined.
   */
  push(chunk: Uint8Array): Promise<void> | undefined {
    if (this.ended) throw cairnError('CAIRN_ERR_INTERNAL', 'upload body pushed after end');
    for (const copy of this.copier.copy(chunk)) this.keep(copy);
    return this.takeHashing();
  }

  /** No more bytes. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.md5Hex = this.md5.digest().then((d) => d.md5.toString('hex'));
    this.md5Hex.catch(() => undefined); // observed by md5hex()
    this.wakeAll();
  }

  /**
   * The upload succeeded and nothing will be sent again: drops the kept bytes
   * and hands the slabs of pushed copies back to the pool (see slab.ts).
   */
  finished(): void {
    this.dropped += this.chunks.length;
    this.chunks.length = 0;
    this.retained = 0;
    this.replayable = false;
    this.copier.recycle();
  }

  /** Makes every current and future attempt fail with err (source failed, upload aborted). */
  fail(err: Error): void {
    this.failure ??= err;
    this.copier.release();
    this.md5.discard();
    this.wakeAll();
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** MD5 hex of every byte; undefined before end(). */
  async md5hex(): Promise<string | undefined> {
    return this.md5Hex;
  }

  /** True while a new attempt could still start from the first byte. */
  get canReplay(): boolean {
    return this.replayable && this.dropped === 0 && this.failure === undefined;
  }

  /** Every byte, once ended and still kept (for 'buffered' uploads). */
  concat(): Buffer {
    if (!this.ended || !this.canReplay) throw cairnError('CAIRN_ERR_INTERNAL', 'upload body not complete');
    return Buffer.concat(this.chunks, this.retained);
  }

  /** Reads the whole source into memory (pull mode). */
  async drain(): Promise<void> {
    while (!this.ended && this.failure === undefined) await this.fill();
    if (this.failure) throw this.failure;
  }

  /**
   * A fresh body for one attempt, starting at the first byte; a previous attempt's
   * iterable stops yielding. Returns null when bytes already sent were forgotten.
   */
  attempt(): AsyncIterable<Buffer> | null {
    if (this.attemptId > 0 && !this.canReplay) return null;
    const id = ++this.attemptId;
    this.sent = 0;
    return { [Symbol.asyncIterator]: () => this.iterate(id) };
  }

  private async *iterate(id: number): AsyncGenerator<Buffer> {
    let index = 0; // absolute chunk index
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.attemptId !== id) throw cairnError('CAIRN_ERR_OBJ_CONNECTION_RESET', 'upload attempt superseded');
      if (index < this.dropped) throw cairnError('CAIRN_ERR_INTERNAL', 'upload body forgot bytes it had not sent');
      const local = index - this.dropped;
      if (local < this.chunks.length) {
        const chunk = this.chunks[local]!;
        index++;
        this.sent += chunk.length;
        yield chunk;
        this.onSent?.(chunk.length);
        if (!this.replayable) this.forgetBefore(index);
        continue;
      }
      if (this.ended) return;
      if (this.source) await this.fill();
      else await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private keep(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.hashing = this.md5.update(chunk) ?? this.hashing;
    this.chunks.push(chunk);
    this.total += chunk.length;
    this.retained += chunk.length;
    if (this.retained > this.retainLimit) this.replayable = false;
    this.wakeAll();
  }

  private forgetBefore(index: number): void {
    while (this.dropped < index && this.chunks.length > 0) {
      this.retained -= this.chunks.shift()!.length;
      this.dropped++;
    }
  }

  private takeHashing(): Promise<void> | undefined {
    const h = this.hashing;
    this.hashing = undefined;
    return h;
  }

  /** Pulls one chunk from the source (single flight: concurrent callers share it), once hashing kept up. */
  private fill(): Promise<void> {
    const source = this.source!;
    const behind = this.takeHashing();
    this.pulling ??= (behind ?? Promise.resolve()).then(() => source.next()).then(
      (r) => {
        if (r.done) this.end();
        else {
          try {
            this.keep(toBuffer(r.value));
          } catch (e) {
            this.fail(e as Error);
          }
        }
      },
      (err: unknown) => this.fail(err instanceof Error ? err : new Error(String(err))),
    ).finally(() => {
      this.pulling = undefined;
    });
    return this.pulling;
  }

  private wakeAll(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** A chunk from a caller's stream as a Buffer (strings as UTF-8); anything else is refused. */
function toBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'a put body chunk is not bytes');
}
