// A caller-side retry layer over any ObjectStore: what a careful caller does to
// get exact results through a faulty store (the chaos wrapper, or a backend
// without retries of its own). Retryable CairnErrors (unavailable, timeout,
// connection reset) are retried with capped exponential backoff and full
// jitter, and ambiguous outcomes are resolved instead of reported:
//
// - put: buffers are re-sent; streamed bodies are kept (up to replayBytes) and
//   re-sent. A create-if-absent put that failed ambiguously (the error does not
//   say `details.applied === false`) and then meets PRECONDITION_FAILED reads
//   the object: if it holds exactly our bytes (same MD5) the put succeeded.
//   Two writers putting identical bytes cannot be told apart that way; never
//   fence with identical contents.
// - delete with mustExist: NOT_FOUND after an ambiguous failure is success.
// - get: a body that breaks off is resumed with a ranged GET of the rest,
//   provided the object's etag and size did not change (else the body errors).
// - open segments: every appended byte is kept; a failed append or close opens
//   a new segment of the same name and sends everything again.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { cairnError, isCairnError, isRetryable, type CairnError } from '@cairn/errors';
import { ContainerBase } from '../container-base.js';
import type {
  BackendStats, Container, DeleteOptions, GetOptions, GetResult, ListOptions, ListPage, ObjectInfo,
  ObjectStore, OpenSegment, OpenSegmentOptions, PutBody, PutOptions,
} from '../types.js';
import { UploadBody } from './s3-body.js';
import { sleep } from './swift-retry.js';

export interface RetryingStoreOptions {
  /** Attempts per operation, the first included (default 10). */
  readonly maxAttempts?: number;
  /** Backoff ceiling of the first retry (default 10 ms); doubles per retry. */
  readonly baseDelayMs?: number;
  /** Largest backoff ceiling (default 1000 ms). */
  readonly maxDelayMs?: number;
  /** Bytes of a streamed put body kept so it can be re-sent (default 16 MiB). */
  readonly replayBytes?: number;
  /** Random source in [0, 1) for the jitter (default Math.random). */
  readonly random?: () => number;
}

interface Policy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly replayBytes: number;
  readonly random: () => number;
}

/** Wraps `inner` in the retry layer; kind `retry(<inner kind>)`. */
export function createRetryingStore(inner: ObjectStore, options: RetryingStoreOptions = {}): ObjectStore {
  const num = (k: keyof RetryingStoreOptions, d: number, min: number): number => {
    const v = options[k] ?? d;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw cairnError('CAIRN_ERR_CONFIG_INVALID', `retry option ${k}: ${String(v)}`);
    return v;
  };
  const policy: Policy = {
    maxAttempts: num('maxAttempts', 10, 1),
    baseDelayMs: num('baseDelayMs', 10, 0),
    maxDelayMs: num('maxDelayMs', 1000, 0),
    replayBytes: num('replayBytes', 16 * 1024 * 1024, 0),
    random: options.random ?? Math.random,
  };
  return new RetryingStore(inner, policy);
}

/** True unless the error says the operation certainly did not take effect. */
function ambiguous(err: CairnError): boolean {
  return err.details?.['applied'] !== false;
}

class RetryingStore implements ObjectStore {
  readonly kind: string;
  constructor(readonly inner: ObjectStore, readonly policy: Policy) {
    this.kind = `retry(${inner.kind})`;
  }

  container(name: string): Container {
    return new RetryingContainer(this, this.inner.container(name));
  }

  ping(): Promise<void> {
    return this.retry('ping', undefined, () => this.inner.ping());
  }

  stats(): BackendStats {
    return this.inner.stats();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  backoff(attempt: number): number {
    const ceiling = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
    return Math.floor(this.policy.random() * ceiling);
  }

  /**
   * Runs fn until it succeeds, fails with a non-retryable error or runs out of
   * attempts. `resolve` may turn a final error into a result, knowing whether
   * an earlier attempt failed ambiguously.
   */
  async retry<T>(what: string, signal: AbortSignal | undefined, fn: (attempt: number) => Promise<T>, resolve?: (err: CairnError, wasAmbiguous: boolean) => Promise<{ value: T } | undefined>): Promise<T> {
    let wasAmbiguous = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(attempt);
      } catch (e) {
        const err = isCairnError(e) ? e : cairnError('CAIRN_ERR_INTERNAL', `${what}: ${String(e)}`, { cause: e });
        if (!isRetryable(err) || attempt >= this.policy.maxAttempts || signal?.aborted) {
          const r = resolve ? await resolve(err, wasAmbiguous) : undefined;
          if (r !== undefined) return r.value;
          throw err;
        }
        wasAmbiguous ||= ambiguous(err);
        await sleep(this.backoff(attempt), signal, what);
      }
    }
  }
}

class RetryingContainer extends ContainerBase {
  constructor(readonly store: RetryingStore, readonly inner: Container) {
    super(inner.name);
  }

  create(): Promise<void> {
    return this.store.retry(`create ${this.name}`, undefined, () => this.inner.create());
  }

  async put(name: string, body: PutBody, options: PutOptions = {}): Promise<ObjectInfo> {
    const what = `put ${this.name}/${name}`;
    let send: () => PutBody;
    let md5: () => Promise<string | undefined>;
    if (body instanceof Uint8Array) {
      const copy = Buffer.from(body); // the caller may reuse its buffer while we retry
      send = () => copy;
      md5 = async () => createHash('md5').update(copy).digest('hex');
    } else {
      const kept = new UploadBody(this.store.policy.replayBytes, (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]());
      send = () => {
        const attempt = kept.attempt();
        if (!attempt) throw cairnError('CAIRN_ERR_OBJ_CONNECTION_RESET', `${what}: streamed body too large to re-send`);
        return attempt;
      };
      md5 = () => kept.md5hex();
    }
    return this.store.retry(what, options.signal, () => this.inner.put(name, send(), options), async (err, wasAmbiguous) => {
      if (!(options.ifNoneMatch && wasAmbiguous && isCairnError(err, 'CAIRN_ERR_OBJ_PRECONDITION_FAILED'))) return undefined;
      // Did an earlier attempt of ours create it? Same bytes -> yes (see the file comment).
      const mine = await md5();
      const info = mine === undefined ? undefined : await this.head(name).catch(() => undefined);
      return info && info.etag === mine ? { value: info } : undefined;
    });
  }

  async get(name: string, options: GetOptions = {}): Promise<GetResult> {
    const what = `get ${this.name}/${name}`;
    const first = await this.store.retry(what, options.signal, () => this.inner.get(name, options));
    return { ...first, body: this.resuming(name, first, options.signal) };
  }

  head(name: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    return this.store.retry(`head ${this.name}/${name}`, options.signal, () => this.inner.head(name, options));
  }

  delete(name: string, options: DeleteOptions = {}): Promise<void> {
    return this.store.retry(`delete ${this.name}/${name}`, options.signal, () => this.inner.delete(name, options), async (err, wasAmbiguous) =>
      // Our earlier attempt may have deleted it.
      (options.mustExist && wasAmbiguous && isCairnError(err, 'CAIRN_ERR_OBJ_NOT_FOUND') ? { value: undefined } : undefined));
  }

  list(options: ListOptions = {}): Promise<ListPage> {
    return this.store.retry(`list ${this.name}`, options.signal, () => this.inner.list(options));
  }

  openSegment(name: string, options: OpenSegmentOptions = {}): OpenSegment {
    return new RetryingSegment(this, name, options);
  }

  /** The body of `first`, resumed with ranged GETs of the rest when it breaks off. */
  private resuming(name: string, first: GetResult, signal: AbortSignal | undefined): Readable {
    const what = `get ${this.name}/${name}`;
    const store = this.store;
    const inner = this.inner;
    let current: Readable = first.body;
    let closed = false;
    let seen = 0;
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let attempt = 1; ; attempt++) {
        try {
          for await (const c of current) {
            const b = c as Buffer;
            seen += b.length;
            yield b;
          }
          if (seen >= first.length) return;
          throw cairnError('CAIRN_ERR_OBJ_CONNECTION_RESET', `${what}: body ended after ${seen} of ${first.length} bytes`);
        } catch (e) {
          current.destroy();
          if (closed || !isRetryable(e) || attempt >= store.policy.maxAttempts) throw e;
          await sleep(store.backoff(attempt), signal, what);
          const range = { offset: first.offset + seen, length: first.length - seen };
          const next = await store.retry(what, signal, () => inner.get(name, { range, ...(signal ? { signal } : {}) }));
          if (next.info.etag !== first.info.etag || next.info.size !== first.info.size || next.length !== range.length) {
            next.body.destroy();
            throw cairnError('CAIRN_ERR_OBJ_CONNECTION_RESET', `${what}: object changed while resuming a broken read`);
          }
          current = next.body;
        }
      }
    }
    const it = chunks();
    let reading = false;
    const out = new Readable({
      read() {
        if (reading) return;
        reading = true;
        void (async () => {
          try {
            for (;;) {
              const r = await it.next();
              if (r.done) {
                out.push(null);
                return;
              }
              if (!out.push(r.value)) return;
            }
          } catch (e) {
            out.destroy(e as Error);
          } finally {
            reading = false;
          }
        })();
      },
      destroy(err, cb) {
        closed = true;
        current.destroy();
        void it.return(undefined).catch(() => undefined);
        cb(err);
      },
    });
    return out;
  }
}

/** Keeps every appended byte; a failure re-opens the segment and sends them all again. */
class RetryingSegment implements OpenSegment {
  private readonly chunks: Buffer[] = [];
  private appended = 0;
  private inner: OpenSegment | undefined;
  /** Chunks the current inner segment has accepted. */
  private fed = 0;
  private state: 'open' | 'closing' | 'closed' | 'aborted' | 'failed' = 'open';
  private failure: CairnError | undefined;
  private tail: Promise<void> = Promise.resolve();
  private readonly maxSize: number;

  constructor(private readonly owner: RetryingContainer, readonly name: string, private readonly options: OpenSegmentOptions) {
    this.maxSize = options.maxSize ?? Number.MAX_SAFE_INTEGER;
    this.inner = owner.inner.openSegment(name, options); // validates name and options now
  }

  get container(): string {
    return this.owner.name;
  }

  get bytesAppended(): number {
    return this.appended;
  }

  get bytesSent(): number {
    if (this.state === 'closed') return this.appended;
    return Math.min(this.inner?.bytesSent ?? 0, this.appended);
  }

  append(chunk: Uint8Array): Promise<void> {
    if (this.state === 'failed') return Promise.reject(this.failure!);
    if (this.state !== 'open') return Promise.reject(cairnError('CAIRN_ERR_OBJ_SEGMENT_CLOSED', `${this.container}/${this.name}`));
    if (this.appended + chunk.length > this.maxSize) {
      return Promise.reject(cairnError('CAIRN_ERR_OBJ_TOO_LARGE', `${this.container}/${this.name}: segment limit ${this.maxSize} bytes`));
    }
    if (chunk.length > 0) {
      this.chunks.push(Buffer.from(chunk));
      this.appended += chunk.length;
    }
    return this.serial(() => this.feed());
  }

  async close(): Promise<ObjectInfo> {
    if (this.state === 'failed') throw this.failure!;
    if (this.state !== 'open') throw cairnError('CAIRN_ERR_OBJ_SEGMENT_CLOSED', `${this.container}/${this.name}`);
    this.state = 'closing';
    let info: ObjectInfo | undefined;
    await this.serial(async () => {
      if (this.failure) throw this.failure;
      info = await this.owner.store.retry(`close ${this.container}/${this.name}`, undefined, async (attempt) => {
        if (attempt > 1) await this.reopen();
        await this.feedOnce();
        return this.inner!.close();
      });
    }).catch((e: unknown) => {
      this.fail(e);
      throw e;
    });
    this.state = 'closed';
    return info!;
  }

  async abort(): Promise<void> {
    if (this.state !== 'open' && this.state !== 'failed') return;
    this.state = 'aborted';
    await this.inner?.abort();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn);
    this.tail = p.then(() => undefined, () => undefined);
    return p;
  }

  /** Hands every kept chunk to the inner segment, re-opening it after failures. */
  private async feed(): Promise<void> {
    if (this.state === 'aborted') return;
    await this.owner.store.retry(`append ${this.container}/${this.name}`, undefined, async (attempt) => {
      if (attempt > 1) await this.reopen();
      await this.feedOnce();
    }).catch((e: unknown) => {
      this.fail(e);
      throw e;
    });
  }

  private async feedOnce(): Promise<void> {
    if (this.state === 'aborted') throw cairnError('CAIRN_ERR_OBJ_SEGMENT_CLOSED', `${this.container}/${this.name} was aborted`);
    this.inner ??= this.owner.inner.openSegment(this.name, this.options);
    while (this.fed < this.chunks.length) {
      await this.inner.append(this.chunks[this.fed]!);
      this.fed++;
    }
  }

  private async reopen(): Promise<void> {
    await this.inner?.abort().catch(() => undefined);
    this.inner = undefined;
    this.fed = 0;
  }

  private fail(e: unknown): void {
    if (this.state === 'aborted') return;
    this.state = 'failed';
    this.failure = isCairnError(e) ? e : cairnError('CAIRN_ERR_INTERNAL', String(e), { cause: e });
  }
}

