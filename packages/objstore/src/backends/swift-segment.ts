// OpenSegment for Swift: a chunked PUT that streams bytes to Swift as they are
// appended, the primitive the log-segment writer pools.
//
// Contract (see OpenSegment in types.ts):
//   - The PUT starts at the first append (or at close() when nothing was
//     appended) and sends each chunk as soon as the connection takes it.
//   - append() copies the chunk (into 1 MiB slabs), keeps it, and resolves once at most
//     `windowBytes` appended bytes are still waiting for the connection
//     (backpressure: it waits while the socket is slow or an attempt is being
//     retried). It fails with CAIRN_ERR_OBJ_TOO_LARGE past maxSize (nothing
//     changes) and with the upload's error once the upload failed for good.
//   - Every appended byte is kept until close() resolves, so a failed attempt
//     (reset, timeout, 5xx, 401, missing container, ETag mismatch) is repeated by
//     re-sending the whole segment on a new request, with the store's backoff.
//   - close() ends the body and resolves only when Swift answered 201 with the
//     MD5 of exactly the appended bytes. Called again while that is under way it
//     returns the same promise; after it succeeded, CAIRN_ERR_OBJ_SEGMENT_CLOSED.
//   - abort() cancels the request before the final chunk: Swift discards a
//     chunked PUT whose terminating chunk never came, so nothing becomes visible.
//     Idempotent; a no-op after close() succeeded. Once close() has sent the
//     final chunk, Swift may commit the object even if abort() follows.
//   - Memory: the kept chunks (at most maxSize bytes) are released when close()
//     succeeds or abort() is called (after a success their slabs go back to the
//     pool for the next segment; see slab.ts).

import { cairnError, type CairnError } from '@cairn/errors';
import type { ObjectInfo, OpenSegment } from '../types.js';
import { BodyHasher } from './body-hash.js';
import { isRetryableStatus, redact, swiftStatusError } from './swift-errors.js';
import { describe, drainBody, ProgressWatch, sendOnce, swiftUrl, type SwiftHttp } from './swift-http.js';
import { SlabCopier } from './slab.js';

export interface SwiftSegmentParams {
  readonly http: SwiftHttp;
  readonly container: string;
  readonly name: string;
  readonly maxSize: number;
  readonly windowBytes: number;
  /** X-Object-Meta-* headers, already built. */
  readonly metaHeaders: Readonly<Record<string, string>>;
  readonly meta: Readonly<Record<string, string>>;
  readonly createContainer: (signal?: AbortSignal) => Promise<void>;
}

type State = 'open' | 'closing' | 'closed' | 'aborted' | 'failed';

/** One attempt's view: how far it sent and whether it must stop. */
interface Attempt {
  sent: number;
  stopped: CairnError | undefined;
  watch: ProgressWatch;
}

export class SwiftSegment implements OpenSegment {
  readonly container: string;
  readonly name: string;
  private readonly chunks: Buffer[] = [];
  /** MD5 of every appended byte (large segments: on a worker thread); read once, at the end. */
  private readonly md5 = new BodyHasher();
  private md5Hex: Promise<string> | undefined;
  private readonly copier = new SlabCopier();
  private appended = 0;
  private state: State = 'open';
  private failure: CairnError | undefined;
  private attempt: Attempt | undefined;
  private upload: Promise<ObjectInfo> | undefined;
  private wakers: Array<() => void> = [];
  /** Fires on abort(): cuts a backoff wait or an authentication short. */
  private readonly ac = new AbortController();
  private readonly what: string;

  constructor(private readonly p: SwiftSegmentParams) {
    this.container = p.container;
    this.name = p.name;
    this.what = describe({ method: 'PUT', container: p.container, object: p.name });
  }

  get bytesAppended(): number {
    return this.appended;
  }

  get bytesSent(): number {
    return this.state === 'closed' ? this.appended : (this.attempt?.sent ?? 0);
  }

  async append(chunk: Uint8Array): Promise<void> {
    if (this.state !== 'open') throw this.failure ?? cairnError('CAIRN_ERR_OBJ_SEGMENT_CLOSED', this.what);
    if (!(chunk instanceof Uint8Array)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `${this.what}: append takes a Uint8Array`);
    if (this.appended + chunk.length > this.p.maxSize) {
      throw cairnError('CAIRN_ERR_OBJ_TOO_LARGE', `${this.what}: ${this.appended + chunk.length} bytes exceed the segment's maxSize ${this.p.maxSize}`);
    }
    if (chunk.length === 0) return;
    // The caller may reuse its buffer once append resolves: keep a copy (in slabs).
    let hashing: Promise<void> | undefined;
    for (const copy of this.copier.copy(chunk)) {
      this.chunks.push(copy);
      hashing = this.md5.update(copy) ?? hashing;
    }
    this.appended += chunk.length;
    this.upload ??= this.startUpload();
    this.wake();
    // Backpressure: wait while too much of what was appended is not on the wire yet.
    while (this.state === 'open' && this.appended - (this.attempt?.sent ?? 0) > this.p.windowBytes) {
      await new Promise<void>((resolve) => this.wakers.push(resolve));
    }
    if (hashing !== undefined) await hashing;
    if (this.is('failed') || this.is('aborted')) throw this.failure ?? cairnError('CAIRN_ERR_OBJ_SEGMENT_CLOSED', this.what);
  }

  close(): Promise<ObjectInfo> {
    if (this.state === 'aborted') return Promise.reject(cairnError('CAIRN_ERR_OBJ_SEGMENT_CLOSED', `${this.what} (aborted)`));
    if (this.state === 'closed') return Promise.reject(cairnError('CAIRN_ERR_OBJ_SEGMENT_CLOSED', `${this.what} (already closed)`));
    if (this.state === 'open') {
      this.state = 'closing';
      this.upload ??= this.startUpload();
      this.wake();
    }
    return this.upload!;
  }

  async abort(): Promise<void> {
    if (this.state === 'closed' || this.state === 'aborted') return;
    this.state = 'aborted';
    this.failure = cairnError('CAIRN_ERR_OBJ_SEGMENT_CLOSED', `${this.what} (aborted)`);
    if (this.attempt) this.stopAttempt(this.attempt, cairnError('CAIRN_ERR_CANCELED', `${this.what}: segment aborted`));
    this.ac.abort();
    this.wake();
    await this.upload?.catch(() => undefined);
    this.chunks.length = 0;
    this.copier.release();
    this.md5.discard();
  }

  /** The state, read afresh (it changes while this object awaits). */
  private is(s: State): boolean {
    return this.state === s;
  }

  private wake(): void {
    const w = this.wakers;
    this.wakers = [];
    for (const f of w) f();
  }

  private stopAttempt(a: Attempt, reason: CairnError): void {
    a.stopped ??= reason;
    a.watch.cancel(reason);
    this.wake();
  }

  private startUpload(): Promise<ObjectInfo> {
    const p = this.run().then(
      (info) => {
        this.state = 'closed';
        // The upload is over: no attempt reads the kept bytes any more, so their slabs can be refilled.
        this.chunks.length = 0;
        this.copier.recycle();
        this.wake();
        return info;
      },
      (err: unknown) => {
        if (this.state !== 'aborted') {
          this.state = 'failed';
          this.failure = err as CairnError;
        }
        this.md5.discard();
        this.wake();
        throw this.failure;
      },
    );
    p.catch(() => undefined); // reported through append/close; never an unhandled rejection
    return p;
  }

  /**
   * The body of one attempt: every kept chunk from the start, then new ones as
   * they are appended, until close() (normal end) or the attempt is stopped (an
   * error, so that the request never sends its terminating chunk).
   */
  private async *body(a: Attempt): AsyncGenerator<Uint8Array> {
    let i = 0;
    for (;;) {
      if (a.stopped) throw a.stopped;
      if (i < this.chunks.length) {
        yield this.chunks[i++]!;
        continue;
      }
      if (this.state === 'closing') return;
      await new Promise<void>((resolve) => this.wakers.push(resolve));
    }
  }

  private async run(): Promise<ObjectInfo> {
    const { http } = this.p;
    const { counters } = http;
    const max = http.options.retry.maxAttempts;
    let failures = 0;
    let reauthed = false;
    let created = false;
    let last: CairnError | undefined;
    for (;;) {
      if (this.state === 'aborted') throw this.failure!;
      if (last) await http.backoff(failures, this.what, last.message, this.ac.signal);
      const session = await http.session.get(this.ac.signal);
      if (this.is('aborted')) throw this.failure!;
      const a: Attempt = { sent: 0, stopped: undefined, watch: new ProgressWatch(this.what, http.options.requestTimeoutMs) };
      this.attempt = a;
      this.wake();
      let res;
      try {
        res = await sendOnce(http.agent, {
          url: swiftUrl(session.storageUrl, this.container, this.name),
          method: 'PUT',
          headers: { ...this.p.metaHeaders, 'x-auth-token': session.token },
          body: a.watch.wrap(this.body(a), (n) => {
            a.sent += n;
            counters.bytesOut += n;
            this.wake();
          }),
          what: this.what,
          timeoutMs: http.options.requestTimeoutMs,
          streaming: true,
          abort: a.watch.signal,
        }, counters);
      } catch (err) {
        this.stopAttempt(a, err as CairnError);
        if (this.is('aborted')) throw this.failure!;
        last = err as CairnError;
        failures++;
        if (!last.retryable || failures >= max) throw last;
        continue;
      }
      // An answer arrived: this attempt is over, whatever was still to be sent.
      const complete = this.state === 'closing' && a.sent === this.appended;
      if (res.status === 201 && complete) {
        a.watch.disarm();
        await drainBody(res.body, 0);
        const etag = (res.headers['etag'] ?? '').replace(/"/g, '');
        this.md5Hex ??= this.md5.digest().then((d) => d.md5.toString('hex'));
        const want = await this.md5Hex;
        if (etag === want) {
          const lm = Date.parse(res.headers['last-modified'] ?? '');
          return { name: this.name, size: this.appended, etag, mtime: Number.isNaN(lm) ? Date.now() : lm, meta: { ...this.p.meta } };
        }
        counters.errors++;
        last = cairnError('CAIRN_ERR_OBJ_CORRUPT', `${this.what}: Swift stored ETag ${etag || '(none)'}, sent ${want}`);
        failures++;
        if (failures >= max) throw last;
        continue;
      }
      this.stopAttempt(a, cairnError('CAIRN_ERR_OBJ_BACKEND', `${this.what}: answered before the body ended`));
      counters.errors++;
      const text = redact(await drainBody(res.body), http.session.secrets());
      const transId = res.headers['x-trans-id'];
      const failure = swiftStatusError(this.what, 'object', { status: res.status, body: text, ...(transId ? { transId } : {}) });
      if (res.status === 401 && !reauthed) {
        reauthed = true;
        http.session.invalidate(session.token);
        counters.retries++;
        last = undefined;
        continue;
      }
      if (res.status === 404 && !created && http.options.autoCreateContainers) {
        created = true;
        await this.p.createContainer();
        counters.retries++;
        last = undefined;
        continue;
      }
      if (isRetryableStatus(res.status) || res.status === 422 || (res.status === 201 && !complete)) {
        last = res.status === 201 ? cairnError('CAIRN_ERR_OBJ_BACKEND', `${this.what}: 201 before the body ended`) : failure;
        failures++;
        if (failures < max) continue;
      }
      throw failure;
    }
  }
}

