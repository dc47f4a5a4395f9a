// The OpenStack Swift backend: createSwiftStore(options) -> ObjectStore (kind
// 'swift'), over undici with a keep-alive pool. Topic files:
//   swift-options.ts  options, defaults, validation
//   swift-auth.ts     tempauth v1 and Keystone v3 tokens, refresh
//   swift-http.ts     single attempts, the retry loop, streamed-body watchdog
//   swift-read.ts     GET bodies that resume after a broken connection
//   swift-segment.ts  OpenSegment: chunked PUT kept in memory and re-sent on failure
//   swift-errors.ts   statuses and transport failures -> CairnErrors
//
// Object names go into URLs percent-encoded ('/' kept); metadata travels as
// X-Object-Meta-<key>. mtime has Swift's Last-Modified resolution (whole
// seconds, rounded up) everywhere: put, head, get and list agree.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { cairnError, isCairnError, toCairnError } from '@cairn/errors';
import { ContainerBase, listLimit } from '../container-base.js';
import { checkContainerName, checkMeta, checkObjectName } from '../names.js';
import { resolveRange } from '../range.js';
import type {
  BackendStats, DeleteOptions, GetOptions, GetResult, ListEntry, ListOptions, ListPage, ObjectInfo,
  ObjectStore, OpenSegment, OpenSegmentOptions, PutBody, PutOptions,
} from '../types.js';
import { BodyHasher } from './body-hash.js';
import { SwiftAuth } from './swift-auth.js';
import { createAgent, describe, drainBody, readBody, SwiftHttp, type SwiftResponse } from './swift-http.js';
import { resolveSwiftOptions, type ResolvedSwiftOptions, type SwiftStoreOptions } from './swift-options.js';
import { resumableBody } from './swift-read.js';
import { sleep } from './swift-retry.js';
import { SwiftSegment } from './swift-segment.js';

export type { SwiftRetryPolicy, SwiftStoreOptions } from './swift-options.js';

/** Creates a Swift-backed ObjectStore. Options are checked here (CAIRN_ERR_CONFIG_INVALID); nothing connects until first use. */
export function createSwiftStore(options: SwiftStoreOptions): ObjectStore {
  return new SwiftStore(resolveSwiftOptions(options));
}

const META_PREFIX = 'x-object-meta-';
/** Bounds of the wait before a create-if-absent reads its object back (see put()). */
const CREATE_SETTLE_MIN_MS = 20;
const CREATE_SETTLE_MAX_MS = 2_000;

class SwiftStore implements ObjectStore {
  readonly kind = 'swift';
  readonly http: SwiftHttp;
  readonly auth: SwiftAuth;
  private readonly agent;
  private closed = false;
  /** Containers seen to exist, so that a streamed put need not check first. */
  readonly knownContainers = new Set<string>();

  constructor(readonly o: ResolvedSwiftOptions) {
    this.agent = createAgent(o);
    const counters = { requests: 0, errors: 0, retries: 0, bytesIn: 0, bytesOut: 0 };
    this.auth = new SwiftAuth(o, this.agent, counters);
    this.http = new SwiftHttp(this.agent, o, this.auth, (c, signal) => this.createContainer(c, signal), counters);
  }

  container(name: string): SwiftContainer {
    checkContainerName(name);
    return new SwiftContainer(this, name);
  }

  async ping(): Promise<void> {
    this.ensureOpen();
    const res = await this.http.call({ method: 'HEAD', expect: [200, 204], idempotent: true });
    await drainBody(res.body, 0);
  }

  stats(): BackendStats {
    const c = this.http.counters;
    return { requests: c.requests, errors: c.errors, retries: c.retries, bytesIn: c.bytesIn, bytesOut: c.bytesOut };
  }

  /** Lets requests in flight finish (up to requestTimeoutMs), then cuts what is left. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.o.requestTimeoutMs);
    });
    const outcome = await Promise.race([this.agent.close().then(() => 'closed' as const), late]);
    clearTimeout(timer);
    if (outcome === 'late') await this.agent.destroy();
  }

  ensureOpen(): void {
    if (this.closed) throw cairnError('CAIRN_ERR_CLOSED', 'swift object store');
  }

  async createContainer(name: string, signal?: AbortSignal): Promise<void> {
    const res = await this.http.call({ method: 'PUT', container: name, expect: [201, 202], idempotent: true, ...(signal ? { signal } : {}) });
    await drainBody(res.body, 0);
    this.knownContainers.add(name);
  }

  /** Makes sure a container exists before a body that cannot be re-sent goes out. */
  async ensureContainer(name: string, signal?: AbortSignal): Promise<void> {
    if (this.knownContainers.has(name)) return;
    const res = await this.http.call({ method: 'HEAD', container: name, expect: [200, 204, 404], idempotent: true, ...(signal ? { signal } : {}) });
    await drainBody(res.body, 0);
    if (res.status !== 404) {
      this.knownContainers.add(name);
      return;
    }
    if (!this.o.autoCreateContainers) throw cairnError('CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND', name);
    await this.createContainer(name, signal);
  }
}

function metaHeaders(meta: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta ?? {})) h[META_PREFIX + k] = v;
  return h;
}

function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/^W\//, '').replace(/"/g, '');
}

/** Swift's Last-Modified resolution: whole seconds, rounded up. */
function ceilSeconds(ms: number): number {
  return Math.ceil(ms / 1000) * 1000;
}

function mtimeOf(h: Readonly<Record<string, string>>): number {
  const ts = Number(h['x-timestamp']);
  if (Number.isFinite(ts) && ts > 0) return ceilSeconds(ts * 1000);
  const lm = Date.parse(h['last-modified'] ?? '');
  return Number.isNaN(lm) ? Date.now() : lm;
}

function infoOf(name: string, h: Readonly<Record<string, string>>, size: number): ObjectInfo {
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (k.startsWith(META_PREFIX)) meta[k.slice(META_PREFIX.length)] = v;
  return { name, size, etag: unquote(h['etag']), mtime: mtimeOf(h), meta };
}

function md5(b: Uint8Array): string {
  return createHash('md5').update(b).digest('hex');
}

interface SwiftListing {
  name?: string;
  subdir?: string;
  bytes?: number;
  hash?: string;
  last_modified?: string;
}

class SwiftContainer extends ContainerBase {
  constructor(private readonly store: SwiftStore, name: string) {
    super(name);
  }

  private get http(): SwiftHttp {
    return this.store.http;
  }

  async create(): Promise<void> {
    this.store.ensureOpen();
    await this.store.createContainer(this.name);
  }

  /**
   * Buffers go out with Content-Length and their MD5 as ETag (Swift refuses a
   * damaged body with 422) and are retried. Streams go out once, chunked (or
   * with options.contentLength), their MD5 checked against Swift's answer; a
   * failure is a retryable CairnError for the caller to start over.
   *
   * ifNoneMatch sends If-None-Match: *. Swift checks it before writing, so
   * uploads racing for the same absent name may all get 201 (the newest one
   * stays). To report at most one of them as created, a 201 is confirmed by
   * reading the object back after a settle time as long as the PUT itself took
   * (by then racing uploads have normally landed): other bytes there mean we
   * lost, CAIRN_ERR_OBJ_PRECONDITION_FAILED. This narrows the race; it cannot
   * close it (an upload much slower than ours can still land later). Fencing
   * must not rely on it alone. A 412 after an attempt whose outcome was unknown
   * is accepted when the stored ETag is the MD5 of our bytes (our own attempt).
   */
  async put(name: string, body: PutBody, options: PutOptions = {}): Promise<ObjectInfo> {
    this.store.ensureOpen();
    checkObjectName(name);
    checkMeta(options.meta);
    const what = describe({ method: 'PUT', container: this.name, object: name });
    const headers: Record<string, string> = { ...metaHeaders(options.meta), 'content-type': 'application/octet-stream' };
    if (options.ifNoneMatch) headers['if-none-match'] = '*';
    // 202: Swift kept a newer concurrent PUT of the name (object timestamps decide).
    const expect = options.ifNoneMatch ? [201, 202, 412] : [201, 202];
    const signal = options.signal;

    if (body instanceof Uint8Array) {
      if (options.contentLength !== undefined && options.contentLength !== body.length) {
        throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `${what}: contentLength ${options.contentLength} but the buffer has ${body.length} bytes`);
      }
      const sum = md5(body);
      headers['etag'] = sum;
      const started = Date.now();
      const res = await this.http.call({
        method: 'PUT', container: this.name, object: name, headers, body, expect, idempotent: true,
        createContainerOn404: true, ...(signal ? { signal } : {}),
      });
      await drainBody(res.body, 0);
      this.store.knownContainers.add(this.name);
      if (res.status === 202) return this.superseded(name, body.length, sum, options);
      if (res.status === 412) {
        if (res.ambiguous) {
          const info = await this.head(name, signal ? { signal } : {}).catch(() => undefined);
          if (info?.etag === sum && info.size === body.length) return info;
        }
        throw cairnError('CAIRN_ERR_OBJ_PRECONDITION_FAILED', `${what}: the object exists`);
      }
      const info = this.putInfo(name, res, body.length, sum, options.meta);
      if (options.ifNoneMatch) await this.confirmCreated(info, Date.now() - started, signal);
      return info;
    }

    if (options.contentLength !== undefined) {
      if (!Number.isSafeInteger(options.contentLength) || options.contentLength < 0) {
        throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `${what}: contentLength ${options.contentLength}`);
      }
      headers['content-length'] = String(options.contentLength);
    }
    await this.store.ensureContainer(this.name, signal);
    // MD5 of what is sent, for the check against Swift's ETag (large bodies: on a worker thread).
    const hash = new BodyHasher();
    let size = 0;
    let sourceError: unknown;
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        for await (const c of body as AsyncIterable<Uint8Array | string>) {
          const b = typeof c === 'string' ? Buffer.from(c) : c;
          const behind = hash.update(b);
          size += b.length;
          yield b;
          if (behind !== undefined) await behind;
        }
      } catch (err) {
        sourceError = err;
        throw err;
      }
    }
    let res: SwiftResponse;
    const started = Date.now();
    try {
      // A container deleted since it was seen: created again, and the caller is told to retry.
      res = await this.http.call({
        method: 'PUT', container: this.name, object: name, headers, body: source(), expect, idempotent: false,
        createContainerOn404: true, ...(signal ? { signal } : {}),
      });
    } catch (err) {
      hash.discard();
      if (sourceError !== undefined) {
        throw isCairnError(sourceError) ? sourceError : toCairnError(sourceError, 'CAIRN_ERR_CANCELED');
      }
      throw err;
    }
    await drainBody(res.body, 0);
    if (res.status === 202) return this.superseded(name, size, (await hash.digest()).md5.toString('hex'), options);
    if (res.status === 412) {
      hash.discard();
      throw cairnError('CAIRN_ERR_OBJ_PRECONDITION_FAILED', `${what}: the object exists`);
    }
    const info = this.putInfo(name, res, size, (await hash.digest()).md5.toString('hex'), options.meta);
    if (options.ifNoneMatch) await this.confirmCreated(info, Date.now() - started, signal);
    return info;
  }

  /**
   * Swift answered 202: a concurrent PUT of the same name with a newer
   * timestamp is what the object holds. For a plain put that is last-writer-wins
   * with ours first (our bytes were whole and are now replaced); a
   * create-if-absent lost the race.
   */
  private superseded(name: string, size: number, sum: string, options: PutOptions): ObjectInfo {
    if (options.ifNoneMatch) throw cairnError('CAIRN_ERR_OBJ_PRECONDITION_FAILED', `PUT ${this.name}/${name}: a concurrent write of the name won`);
    return { name, size, etag: sum, mtime: ceilSeconds(Date.now()), meta: { ...options.meta } };
  }

  /** See put(): after a create-if-absent got 201, are our bytes the ones that stayed? */
  private async confirmCreated(info: ObjectInfo, putMs: number, signal?: AbortSignal): Promise<void> {
    const settle = Math.min(Math.max(putMs, CREATE_SETTLE_MIN_MS), CREATE_SETTLE_MAX_MS);
    await sleep(settle, signal);
    let now: ObjectInfo;
    try {
      now = await this.head(info.name, signal ? { signal } : {});
    } catch (err) {
      if (isCairnError(err, 'CAIRN_ERR_OBJ_NOT_FOUND')) return; // created, then deleted by someone
      throw err;
    }
    if (now.etag !== info.etag || now.size !== info.size) {
      throw cairnError('CAIRN_ERR_OBJ_PRECONDITION_FAILED', `PUT ${this.name}/${info.name}: a concurrent create won`);
    }
  }

  private putInfo(name: string, res: SwiftResponse, size: number, sum: string, meta: PutOptions['meta']): ObjectInfo {
    const etag = unquote(res.headers['etag']);
    if (etag !== sum) {
      throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `PUT ${this.name}/${name}: Swift stored ETag ${etag || '(none)'} for bytes with MD5 ${sum}`);
    }
    const lm = Date.parse(res.headers['last-modified'] ?? '');
    return { name, size, etag, mtime: Number.isNaN(lm) ? ceilSeconds(Date.now()) : lm, meta: { ...meta } };
  }

  async get(name: string, options: GetOptions = {}): Promise<GetResult> {
    this.store.ensureOpen();
    checkObjectName(name);
    const what = describe({ method: 'GET', container: this.name, object: name });
    const { range, signal } = options;
    // Validates the numbers only; the object's size is not known yet.
    if (range) resolveRange(range, Number.MAX_SAFE_INTEGER, what);
    if (range && range.length === 0) return this.emptyRange(name, options);
    const headers: Record<string, string> = {};
    if (range) headers['range'] = `bytes=${range.offset}-${range.length === undefined ? '' : range.offset + range.length - 1}`;
    let res: SwiftResponse;
    try {
      res = await this.http.call({
        method: 'GET', container: this.name, object: name, headers, expect: [200, 206], idempotent: true, ...(signal ? { signal } : {}),
      });
    } catch (err) {
      // 416: Swift's notion of satisfiable differs at the edges (empty objects); the size decides.
      if (range && isCairnError(err, 'CAIRN_ERR_OBJ_RANGE_NOT_SATISFIABLE')) return this.emptyRange(name, options);
      throw err;
    }
    let size: number;
    let offset = 0;
    let skip = 0;
    if (res.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers['content-range'] ?? '');
      if (!m) {
        await drainBody(res.body, 0);
        throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: 206 without a usable Content-Range (multipart?)`);
      }
      offset = Number(m[1]);
      size = Number(m[3]);
    } else {
      size = Number(res.headers['content-length']);
      if (range) {
        // Swift sent the whole object in spite of the Range: cut it here.
        skip = range.offset;
        offset = range.offset;
      }
    }
    if (!Number.isSafeInteger(size) || size < 0) {
      await drainBody(res.body, 0);
      throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: no usable object size in the answer`);
    }
    let want: { offset: number; length: number };
    try {
      want = resolveRange(range, size, what);
    } catch (err) {
      await drainBody(res.body, 0);
      throw err;
    }
    if (res.status === 206 && offset !== want.offset) {
      await drainBody(res.body, 0);
      throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: asked for byte ${want.offset}, got ${offset}`);
    }
    const info = infoOf(name, res.headers, size);
    const body = resumableBody(res.body, {
      http: this.http, container: this.name, object: name, offset: want.offset, length: want.length,
      etagHeader: res.headers['etag'], skip, what, ...(signal ? { signal } : {}),
    });
    return { info, offset: want.offset, length: want.length, body };
  }

  /** A zero-length read: HEAD decides whether the range is satisfiable. */
  private async emptyRange(name: string, options: GetOptions): Promise<GetResult> {
    const info = await this.head(name, options.signal ? { signal: options.signal } : {});
    const want = resolveRange(options.range, info.size, `GET ${this.name}/${name}`);
    if (want.length !== 0) throw cairnError('CAIRN_ERR_OBJ_BACKEND', `GET ${this.name}/${name}: Swift refused a satisfiable range`);
    return { info, offset: want.offset, length: 0, body: Readable.from([], { objectMode: false }) };
  }

  async head(name: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    this.store.ensureOpen();
    checkObjectName(name);
    const res = await this.http.call({
      method: 'HEAD', container: this.name, object: name, expect: [200], idempotent: true, ...(options.signal ? { signal: options.signal } : {}),
    });
    await drainBody(res.body, 0);
    const size = Number(res.headers['content-length']);
    if (!Number.isSafeInteger(size) || size < 0) throw cairnError('CAIRN_ERR_OBJ_BACKEND', `HEAD ${this.name}/${name}: no Content-Length`);
    return infoOf(name, res.headers, size);
  }

  /** 404 is success unless mustExist; after an attempt with unknown outcome, 404 counts as our own delete. */
  async delete(name: string, options: DeleteOptions = {}): Promise<void> {
    this.store.ensureOpen();
    checkObjectName(name);
    const res = await this.http.call({
      method: 'DELETE', container: this.name, object: name, expect: [200, 204, 404], idempotent: true,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await drainBody(res.body, 0);
    if (res.status === 404 && options.mustExist && !res.ambiguous) {
      throw cairnError('CAIRN_ERR_OBJ_NOT_FOUND', `${this.name}/${name}`);
    }
  }

  async list(options: ListOptions = {}): Promise<ListPage> {
    this.store.ensureOpen();
    const limit = listLimit(options.limit);
    const what = describe({ method: 'GET', container: this.name });
    if (options.delimiter !== undefined && options.delimiter.length !== 1) {
      throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `${what}: delimiter must be one character`);
    }
    // One more than asked for tells whether another page exists.
    const res = await this.http.call({
      method: 'GET', container: this.name, expect: [200, 204], idempotent: true,
      query: { format: 'json', limit: limit + 1, prefix: options.prefix, marker: options.marker, delimiter: options.delimiter },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    this.store.knownContainers.add(this.name);
    let raw: Buffer = Buffer.alloc(0);
    if (res.status === 204) await drainBody(res.body, 0);
    else raw = await readBody(res.body, what, this.http.counters);
    let items: SwiftListing[];
    try {
      items = raw.length === 0 ? [] : (JSON.parse(raw.toString('utf8')) as SwiftListing[]);
      if (!Array.isArray(items)) throw new Error('not an array');
    } catch (err) {
      throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${what}: listing is not a JSON array`, { cause: err });
    }
    const entries: ListEntry[] = [];
    for (const it of items.slice(0, limit)) {
      if (typeof it.subdir === 'string') {
        entries.push({ kind: 'prefix', prefix: it.subdir });
      } else if (typeof it.name === 'string') {
        const lm = Date.parse(`${it.last_modified ?? ''}Z`);
        entries.push({
          kind: 'object', name: it.name, size: Number(it.bytes ?? 0), etag: unquote(it.hash?.split(';')[0]),
          mtime: Number.isNaN(lm) ? 0 : ceilSeconds(lm),
        });
      }
    }
    if (items.length <= limit || entries.length === 0) return { entries };
    const lastEntry = entries[entries.length - 1]!;
    return { entries, nextMarker: lastEntry.kind === 'prefix' ? lastEntry.prefix : lastEntry.name };
  }

  openSegment(name: string, options: OpenSegmentOptions = {}): OpenSegment {
    this.store.ensureOpen();
    checkObjectName(name);
    checkMeta(options.meta);
    const maxSize = options.maxSize ?? this.store.o.segmentMaxSize;
    if (!Number.isSafeInteger(maxSize) || maxSize < 0) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `segment maxSize ${maxSize}`);
    return new SwiftSegment({
      http: this.http,
      container: this.name,
      name,
      maxSize,
      windowBytes: this.store.o.segmentWindowBytes,
      metaHeaders: { ...metaHeaders(options.meta), 'content-type': 'application/octet-stream' },
      meta: { ...options.meta },
      createContainer: (signal) => this.store.createContainer(this.name, signal),
    });
  }
}
