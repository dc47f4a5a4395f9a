// HTTP for the Swift backend: one undici Agent (keep-alive pool per origin),
// single attempts (`sendOnce`) and the retry loop (`SwiftHttp.call`) that every
// container operation goes through:
//
//   - a 401 invalidates the token, re-authenticates once and repeats;
//   - a 404 on an object PUT creates the container once and repeats;
//   - idempotent requests (GET, HEAD, DELETE, listing, PUT of a buffer) are
//     repeated on 5xx/408/429/498, resets and timeouts, with capped exponential
//     backoff and full jitter, up to retry.maxAttempts attempts;
//   - a request whose body is a caller's stream is sent once: its failure is
//     reported as a retryable CairnError so that the caller may start over.
//
// Failures are mapped once to CairnErrors (swift-errors.ts). The token goes only
// into the X-Auth-Token header: never into messages, details or logs.

import { Readable } from 'node:stream';
import { cairnError, isCairnError, type CairnError } from '@cairn/errors';
import type { Logger } from 'pino';
import { Agent, type Dispatcher } from 'undici';
import { failedBeforeSending, isRetryableStatus, redact, swiftStatusError, swiftTransportError, type SwiftTarget } from './swift-errors.js';
import type { ResolvedSwiftOptions } from './swift-options.js';
import { backoffDelay, parseRetryAfter, sleep } from './swift-retry.js';

/** Live counters behind ObjectStore.stats(). */
export interface SwiftCounters {
  requests: number;
  errors: number;
  retries: number;
  bytesIn: number;
  bytesOut: number;
}

/** A valid token and the storage URL it is good for. */
export interface SwiftSession {
  readonly token: string;
  readonly storageUrl: URL;
}

/** What the retry loop needs from authentication (implemented by SwiftAuth). */
export interface SessionSource {
  get(signal?: AbortSignal): Promise<SwiftSession>;
  /** Forgets `token` if it is still the current one; the next get() authenticates again. */
  invalidate(token: string): void;
  /** Strings that must never appear in errors or logs. */
  secrets(): readonly string[];
}

export type SwiftMethod = 'GET' | 'HEAD' | 'PUT' | 'DELETE' | 'POST';

export interface SwiftRequest {
  readonly method: SwiftMethod;
  /** Absent: the account itself. */
  readonly container?: string;
  readonly object?: string;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly headers?: Readonly<Record<string, string>>;
  /** A buffer is re-sent on retries; a stream is sent once (see `idempotent`). */
  readonly body?: Uint8Array | AsyncIterable<Uint8Array>;
  /** Statuses handed back to the caller; any other status becomes an error. */
  readonly expect: readonly number[];
  /** The request may be repeated: idempotent and its body (if any) a buffer. */
  readonly idempotent: boolean;
  /** On 404, create the container once and repeat (object PUT). */
  readonly createContainerOn404?: boolean;
  readonly signal?: AbortSignal;
}

export interface SwiftResponse {
  readonly status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** The body; the caller must consume it or call dumpBody(). */
  readonly body: Readable;
  /** An earlier attempt failed after the request may have reached Swift. */
  readonly ambiguous: boolean;
}

/** One attempt's parameters (sendOnce). */
export interface SendParams {
  readonly url: RequestTarget;
  readonly method: SwiftMethod;
  readonly headers: Record<string, string>;
  readonly body?: Uint8Array | AsyncIterable<Uint8Array>;
  /** Message prefix, e.g. "PUT c/o". */
  readonly what: string;
  readonly timeoutMs: number;
  /**
   * The body is a stream: undici's headers timeout (which would run while the body
   * is still being sent) is off; the caller watches progress (ProgressWatch).
   */
  readonly streaming?: boolean;
  readonly signal?: AbortSignal;
  /** Extra abort (e.g. a stalled send); its reason becomes the error. */
  readonly abort?: AbortSignal;
}

export interface SentResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Dispatcher.ResponseData['body'];
}

export function createAgent(o: ResolvedSwiftOptions): Agent {
  return new Agent({
    connections: o.poolSize,
    pipelining: 1,
    keepAliveTimeout: 4_000,
    connect: { timeout: o.requestTimeoutMs },
    headersTimeout: o.requestTimeoutMs,
    bodyTimeout: o.requestTimeoutMs,
  });
}

/** Percent-encodes an object or container name for a URL path ('/' kept in object names). */
export function encodeName(name: string, keepSlash: boolean): string {
  const e = encodeURIComponent(name).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return keepSlash ? e.replace(/%2F/g, '/') : e;
}

/** Where a request goes: an origin and an already-encoded path (with query). */
export interface RequestTarget {
  readonly origin: string;
  readonly path: string;
}

/** The target of a URL as it is (auth endpoints). */
export function targetOf(u: URL): RequestTarget {
  return { origin: u.origin, path: u.pathname + u.search };
}

/**
 * Path of an account, container or object under a storage URL. Built as a
 * string and never passed through URL: WHATWG URL parsing would resolve "." and
 * ".." segments (even percent-encoded ones), while Swift keeps them literally in
 * object names.
 */
export function swiftUrl(storageUrl: URL, container?: string, object?: string, query?: SwiftRequest['query']): RequestTarget {
  let path = storageUrl.pathname.replace(/\/+$/, '');
  if (container !== undefined) path += `/${encodeName(container, false)}`;
  if (object !== undefined) path += `/${encodeName(object, true)}`;
  const qs: string[] = [];
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined) qs.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  }
  return { origin: storageUrl.origin, path: (path || '/') + (qs.length ? `?${qs.join('&')}` : '') };
}

function flatHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** Makes exactly one HTTP request; transport failures become CairnErrors. */
export async function sendOnce(agent: Dispatcher, p: SendParams, counters: SwiftCounters): Promise<SentResponse> {
  counters.requests++;
  const signals = [p.signal, p.abort].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
  let body: Dispatcher.RequestOptions['body'];
  if (p.body instanceof Uint8Array) {
    body = p.body;
  } else if (p.body !== undefined) {
    // undici sends an async iterable with chunked transfer encoding when no length is given.
    body = Readable.from(p.body, { objectMode: false });
  }
  try {
    const r = await agent.request({
      origin: p.url.origin,
      path: p.url.path,
      method: p.method,
      headers: p.headers,
      body,
      headersTimeout: p.streaming ? 0 : p.timeoutMs,
      bodyTimeout: p.timeoutMs,
      ...(signal ? { signal } : {}),
    });
    if (p.body instanceof Uint8Array) counters.bytesOut += p.body.length;
    return { status: r.statusCode, headers: flatHeaders(r.headers), body: r.body };
  } catch (err) {
    counters.errors++;
    if (p.signal?.aborted) throw swiftTransportError(err, p.what, true);
    if (p.abort?.aborted && isCairnError(p.abort.reason)) throw p.abort.reason;
    throw swiftTransportError(err, p.what, false);
  }
}

/** Reads at most `limit` bytes of a body as text and discards the rest; never throws. */
export async function drainBody(body: Readable, limit = 1024): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of body) {
      const b = c as Buffer;
      if (n < limit) parts.push(b.subarray(0, limit - n));
      n += b.length;
      if (n >= 64 * 1024) break; // an error body this large is not worth reading
    }
  } catch {
    // the body of a failed response is only informative
  } finally {
    body.destroy();
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Reads a whole (small) body into memory, counting it; `limit` guards against surprises. */
export async function readBody(body: Readable, what: string, counters: SwiftCounters, limit = 64 * 1024 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of body) {
      const b = c as Buffer;
      n += b.length;
      counters.bytesIn += b.length;
      if (n > limit) throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: response larger than ${limit} bytes`);
      parts.push(b);
    }
  } catch (err) {
    body.destroy();
    counters.errors++;
    throw swiftTransportError(err, what, false);
  }
  return Buffer.concat(parts, n);
}

/**
 * Watches a streamed request body: fails the attempt when the connection takes
 * no bytes for timeoutMs while a chunk is waiting (a stalled socket), or when no
 * answer comes within timeoutMs after the last byte was sent. Waiting for the
 * *source* (a slow caller) is not a stall.
 */
export class ProgressWatch {
  private readonly ac = new AbortController();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly what: string, private readonly timeoutMs: number) {}

  /** Abort signal for sendOnce's `abort`. */
  get signal(): AbortSignal {
    return this.ac.signal;
  }

  /** Call before handing a chunk to the connection. */
  arm(phase: 'send' | 'answer'): void {
    this.disarm();
    const why = phase === 'send' ? 'the connection took no bytes' : 'no answer after the body was sent';
    this.timer = setTimeout(() => {
      this.ac.abort(cairnError('CAIRN_ERR_OBJ_TIMEOUT', `${this.what}: ${why} for ${this.timeoutMs} ms`));
    }, this.timeoutMs);
  }

  disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Stops the attempt now (e.g. the segment was aborted). */
  cancel(reason: CairnError): void {
    this.disarm();
    if (!this.ac.signal.aborted) this.ac.abort(reason);
  }

  /** Wraps a body iterable: arms while a chunk waits for the socket, and after the end. */
  async *wrap(source: AsyncIterable<Uint8Array>, onSent: (n: number) => void): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      if (chunk.length === 0) continue;
      this.arm('send');
      yield chunk;
      this.disarm();
      onSent(chunk.length);
    }
    this.arm('answer');
  }
}

/**
 * The retry loop over sendOnce. One instance per store; it owns the Agent.
 */
export class SwiftHttp {
  constructor(
    readonly agent: Dispatcher,
    readonly options: ResolvedSwiftOptions,
    readonly session: SessionSource,
    private readonly createContainer: (container: string, signal?: AbortSignal) => Promise<void>,
    readonly counters: SwiftCounters = { requests: 0, errors: 0, retries: 0, bytesIn: 0, bytesOut: 0 },
  ) {}

  get log(): Logger {
    return this.options.logger;
  }

  /** Waits before retry number `retry`, counting it and logging why. */
  async backoff(retry: number, what: string, why: string, signal?: AbortSignal, retryAfterMs?: number): Promise<void> {
    const delay = backoffDelay(retry, this.options.retry, this.options.random, retryAfterMs);
    this.counters.retries++;
    this.log.warn({ what, retry, delayMs: delay, why: redact(why, this.session.secrets()) }, 'swift: retrying');
    await sleep(delay, signal);
  }

  /** Sends a request through auth, container auto-create and retries; see the file comment. */
  async call(req: SwiftRequest): Promise<SwiftResponse> {
    const what = describe(req);
    const target: SwiftTarget = req.object !== undefined ? 'object' : req.container !== undefined ? 'container' : 'account';
    const replayable = req.idempotent && (req.body === undefined || req.body instanceof Uint8Array);
    const max = replayable ? this.options.retry.maxAttempts : 1;
    let reauthed = false;
    let created = false;
    let ambiguous = false;
    // Attempts that failed in a retryable way; re-auth and container creation do not count.
    let failures = 0;
    let lastError: CairnError | undefined;
    for (;;) {
      if (lastError !== undefined) await this.backoff(failures, what, lastError.message, req.signal, retryAfter(lastError));
      const session = await this.session.get(req.signal);
      const headers: Record<string, string> = { ...req.headers, 'x-auth-token': session.token };
      // A streamed body (sent once) is watched for stalls instead of undici's headers timeout.
      let watch: ProgressWatch | undefined;
      let body = req.body;
      if (body !== undefined && !(body instanceof Uint8Array)) {
        watch = new ProgressWatch(what, this.options.requestTimeoutMs);
        body = watch.wrap(body, (n) => {
          this.counters.bytesOut += n;
        });
      }
      let res: SentResponse;
      try {
        res = await sendOnce(this.agent, {
          url: swiftUrl(session.storageUrl, req.container, req.object, req.query),
          method: req.method,
          headers,
          ...(body !== undefined ? { body } : {}),
          what,
          timeoutMs: this.options.requestTimeoutMs,
          ...(req.signal ? { signal: req.signal } : {}),
          ...(watch ? { streaming: true, abort: watch.signal } : {}),
        }, this.counters);
      } catch (err) {
        watch?.disarm();
        const e = err as CairnError;
        if (!failedBeforeSending(e)) ambiguous = true;
        failures++;
        if (!e.retryable || !replayable || failures >= max) throw e;
        lastError = e;
        continue;
      }
      watch?.disarm();
      if (req.expect.includes(res.status)) return { status: res.status, headers: res.headers, body: res.body, ambiguous };

      this.counters.errors++;
      const text = redact(await drainBody(res.body), this.session.secrets());
      const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
      const transId = res.headers['x-trans-id'];
      const failure = swiftStatusError(what, target, {
        status: res.status, body: text, ...(transId ? { transId } : {}), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });

      if (res.status === 401 && !reauthed) {
        reauthed = true;
        this.session.invalidate(session.token);
        if (!replayable) throw cairnError('CAIRN_ERR_OBJ_UNAVAILABLE', `${what}: token expired during a streamed request; try again`);
        this.log.debug({ what }, 'swift: token refused, re-authenticating');
        this.counters.retries++;
        lastError = undefined;
        continue;
      }
      if (res.status === 404 && req.createContainerOn404 && !created && req.container !== undefined && this.options.autoCreateContainers) {
        created = true;
        await this.createContainer(req.container, req.signal);
        if (!replayable) throw cairnError('CAIRN_ERR_OBJ_UNAVAILABLE', `${what}: the container was missing and is now created; try again`);
        this.counters.retries++;
        lastError = undefined;
        continue;
      }
      // 422: the body was damaged on the way (MD5 mismatch with our ETag); re-sending cures it.
      if (isRetryableStatus(res.status) || res.status === 422) {
        failures++;
        if (replayable && failures < max) {
          lastError = failure;
          continue;
        }
      }
      throw failure;
    }
  }
}

function retryAfter(e: CairnError): number | undefined {
  const v = e.details?.['retryAfterMs'];
  return typeof v === 'number' ? v : undefined;
}

/** "PUT container/object" for messages and logs. */
export function describe(req: { method: string; container?: string; object?: string }): string {
  if (req.container === undefined) return `${req.method} account`;
  return req.object === undefined ? `${req.method} ${req.container}` : `${req.method} ${req.container}/${req.object}`;
}
