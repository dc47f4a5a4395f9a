// The HTTP side of the S3 backend: addressing (path-style or virtual-host style),
// SigV4 signing with aws4, one undici Agent (a connection pool per origin),
// timeouts, retries with capped exponential backoff and full jitter, error
// mapping and counters. Containers and segments call `S3Client.call`.

import { createHash } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { Readable } from 'node:stream';
import aws4 from 'aws4';
import { Agent, type Dispatcher } from 'undici';
import { cairnError, type CairnError } from '@cairn/errors';
import type { BackendStats } from '../types.js';
import { parseS3ErrorBody, s3ResponseError, s3TransportError } from './s3-errors.js';
import type { ResolvedS3Options } from './s3-options.js';
import { sleep } from './swift-retry.js';

export type S3Method = 'GET' | 'PUT' | 'HEAD' | 'DELETE';

/** A streamed body that can hand out a fresh iterable per attempt (see UploadBody). */
export interface BodySource {
  /** The body for one attempt, from the first byte; null when it cannot be sent again. */
  attempt(): AsyncIterable<Uint8Array> | null;
  /** True while another attempt could still be made. */
  readonly canReplay: boolean;
}

export interface S3Call {
  readonly method: S3Method;
  readonly bucket?: string;
  readonly key?: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  /** A buffer (its SHA-256 is signed) or a per-attempt stream (sent as UNSIGNED-PAYLOAD). */
  readonly body?: Buffer | BodySource;
  /** Length of a streamed body when known (else it goes out chunked). */
  readonly contentLength?: number;
  readonly signal?: AbortSignal;
  /** Safe to repeat: reads, deletes, whole-object puts. */
  readonly idempotent: boolean;
  /** Names the request in errors and logs, e.g. "PUT bucket/key". */
  readonly what: string;
  /**
   * Called with a retryable error before the next attempt; returning false stops
   * retrying (e.g. to re-check state that the failure may have changed).
   */
  readonly beforeRetry?: (err: CairnError, attempt: number) => Promise<boolean> | boolean;
}

export interface S3Response {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Undici's body; the caller must consume or destroy it. */
  readonly body: Dispatcher.ResponseData['body'];
  /** Attempts it took (1 = first try). */
  readonly attempts: number;
}

const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');
const MAX_ERROR_BODY = 64 * 1024;

/** RFC 3986 encoding of one path segment or query value (what SigV4 expects). */
export function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Encodes an object key for a URL path, keeping its slashes. */
export function encodeKey(key: string): string {
  return key.split('/').map(encodeRfc3986).join('/');
}

export class S3Client {
  readonly counters = { requests: 0, errors: 0, retries: 0, bytesIn: 0, bytesOut: 0 };
  private readonly agent: Agent;
  private closed = false;

  constructor(readonly options: ResolvedS3Options) {
    const endpointHost = options.endpoint.hostname;
    this.agent = new Agent({
      connections: options.poolSize,
      keepAliveTimeout: 4_000,
      // Virtual-host style: `<bucket>.<endpoint host>` is served at the endpoint
      // host's addresses; resolve it as that host (no wildcard DNS needed).
      connect: options.forcePathStyle ? {} : {
        lookup: (hostname: string, opts: LookupOptions, cb: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
          const name = hostname.endsWith(`.${endpointHost}`) ? endpointHost : hostname;
          dnsLookup(name, opts, cb as never);
        },
      },
    });
  }

  stats(): BackendStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.agent.close();
  }

  /** Origin, Host header and path (with encoded query) of a request. */
  address(bucket: string | undefined, key: string | undefined, query: Readonly<Record<string, string>> | undefined): { origin: string; host: string; path: string } {
    const ep = this.options.endpoint;
    let host = ep.host;
    let path: string;
    if (bucket === undefined) path = '/';
    else if (this.options.forcePathStyle) path = `/${bucket}${key === undefined ? '' : `/${encodeKey(key)}`}`;
    else {
      host = `${bucket}.${ep.host}`;
      path = `/${key === undefined ? '' : encodeKey(key)}`;
    }
    if (query) {
      const q = Object.keys(query).sort().map((k) => `${encodeRfc3986(k)}=${encodeRfc3986(query[k]!)}`);
      if (q.length > 0) path += `?${q.join('&')}`;
    }
    return { origin: `${ep.protocol}//${host}`, host, path };
  }

  /**
   * Sends a request, retrying retryable failures of idempotent requests. Resolves
   * with a 2xx (or 206) response; any other status becomes a CairnError.
   */
  async call(req: S3Call): Promise<S3Response> {
    const { maxAttempts } = this.options.retry;
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw cairnError('CAIRN_ERR_CLOSED', 's3 object store');
      let body: Buffer | AsyncIterable<Uint8Array> | undefined;
      if (req.body !== undefined && !Buffer.isBuffer(req.body)) {
        const b = req.body.attempt();
        if (b === null) throw cairnError('CAIRN_ERR_INTERNAL', `${req.what}: body cannot be re-sent`);
        body = b;
      } else body = req.body;
      try {
        const res = await this.once(req, body);
        return { ...res, attempts: attempt };
      } catch (e) {
        const err = s3TransportError(e, req.what, req.signal?.aborted === true);
        this.counters.errors++;
        const canResend = req.body === undefined || Buffer.isBuffer(req.body) || req.body.canReplay;
        if (!err.retryable || !req.idempotent || attempt >= maxAttempts || !canResend || req.signal?.aborted) throw err;
        if (req.beforeRetry && !(await req.beforeRetry(err, attempt))) throw err;
        this.counters.retries++;
        const delay = this.backoff(attempt);
        this.options.logger.debug({ what: req.what, attempt, delay, code: err.code }, 's3 retry');
        await sleep(delay, req.signal, req.what);
      }
    }
  }

  /** Full jitter: uniform in [0, min(maxDelay, base * 2^(attempt-1))). */
  backoff(attempt: number): number {
    const { baseDelayMs, maxDelayMs } = this.options.retry;
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt - 1, 30));
    return Math.floor(Math.random() * ceiling);
  }

  private async once(req: S3Call, body: Buffer | AsyncIterable<Uint8Array> | undefined): Promise<Omit<S3Response, 'attempts'>> {
    const { origin, host, path } = this.address(req.bucket, req.key, req.query);
    const headers: Record<string, string> = { ...req.headers };
    if (Buffer.isBuffer(body)) {
      headers['X-Amz-Content-Sha256'] = createHash('sha256').update(body).digest('hex');
      headers['Content-Length'] = String(body.length);
    } else if (body !== undefined) {
      headers['X-Amz-Content-Sha256'] = 'UNSIGNED-PAYLOAD';
      if (req.contentLength !== undefined) headers['Content-Length'] = String(req.contentLength);
    } else {
      headers['X-Amz-Content-Sha256'] = EMPTY_SHA256;
      if (req.method === 'PUT') headers['Content-Length'] = '0';
    }
    const signed = aws4.sign(
      { host, method: req.method, path, headers, service: 's3', region: this.options.region },
      this.options.credentials,
    );
    this.counters.requests++;
    let out: Buffer | Readable | undefined;
    if (Buffer.isBuffer(body)) {
      out = body;
      this.counters.bytesOut += body.length;
    } else if (body !== undefined) {
      // A Readable costs undici less CPU per byte than an async iterable.
      out = Readable.from(this.countOut(body), { objectMode: false });
    }
    const res = await this.agent.request({
      origin,
      path: signed.path ?? path,
      method: req.method,
      headers: signed.headers as Record<string, string>,
      // Sent as it comes (chunked when no length is given).
      body: out ?? null,
      signal: req.signal ?? null,
      headersTimeout: this.options.requestTimeoutMs,
      bodyTimeout: this.options.requestTimeoutMs,
    });
    const resHeaders = flattenHeaders(res.headers);
    if (res.statusCode >= 200 && res.statusCode < 300) return { status: res.statusCode, headers: resHeaders, body: res.body };
    const text = await readLimited(res.body, MAX_ERROR_BODY);
    this.counters.bytesIn += text.length;
    throw s3ResponseError(res.statusCode, parseS3ErrorBody(text), req.what, req.key !== undefined);
  }

  private async *countOut(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of body) {
      this.counters.bytesOut += chunk.length;
      yield chunk;
    }
  }
}

function flattenHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** Reads at most `limit` bytes of a body as text and discards the rest. */
export async function readLimited(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of body) {
      const b = c as Buffer;
      if (n < limit) chunks.push(b.subarray(0, limit - n));
      n += b.length;
      if (n >= limit) break;
    }
  } catch {
    // An error body that breaks off still tells us the status.
  } finally {
    if (!body.destroyed) body.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}


/** Strips the quotes S3 puts around an ETag. */
export function unquoteEtag(etag: string | undefined): string {
  if (!etag) return '';
  const e = etag.startsWith('W/') ? etag.slice(2) : etag;
  return e.length >= 2 && e.startsWith('"') && e.endsWith('"') ? e.slice(1, -1) : e;
}

/** Parses an HTTP date header into epoch milliseconds (0 when absent or unreadable). */
export function httpDate(value: string | undefined): number {
  if (!value) return 0;
  const t = Date.parse(value);
  return Number.isFinite(t) ? t : 0;
}

/** Reads and drops a response body so its connection goes back to the pool. */
export async function discard(res: S3Response): Promise<void> {
  const body = res.body as Partial<S3Response['body']> & { destroyed: boolean; destroy(): void };
  if (body.destroyed) return;
  if (typeof body.dump === 'function') await body.dump().catch(() => undefined);
  else body.destroy();
}
