// The in-memory backend: the reference implementation of the ObjectStore
// semantics, used by the unit tests of every layer above. It must behave exactly
// like the durable backends (ranges, create-if-absent, listing order, delimiter
// roll-up, MD5 etags, metadata, segments visible only once closed), only without
// durability: everything lives in this process and is gone when it exits.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { cairnError, isCairnError } from '@cairn/errors';
import { pino, type Logger } from 'pino';
import { ContainerBase, listLimit } from '../container-base.js';
import { checkContainerName, checkMeta, checkObjectName } from '../names.js';
import { resolveRange } from '../range.js';
import type {
  BackendStats, DeleteOptions, GetOptions, GetResult, ListEntry, ListOptions, ListPage, ObjectInfo,
  ObjectStore, OpenSegment, OpenSegmentOptions, PutBody, PutOptions,
} from '../types.js';

export interface MemoryStoreOptions {
  readonly logger?: Logger;
}

/** One stored object. Buffers are never mutated once stored, so readers may share them. */
interface MemObject {
  readonly name: string;
  readonly data: Buffer;
  readonly etag: string;
  readonly mtime: number;
  readonly meta: Readonly<Record<string, string>>;
}

/**
 * Objects of one container, kept sorted by their "byte key": the name's UTF-8
 * bytes as a latin1 string, so that plain JS string comparison (by UTF-16 code
 * unit) is exactly lexical UTF-8 byte order.
 */
class MemContainerData {
  readonly objects = new Map<string, MemObject>();
  /** Sorted byte keys of `objects`. */
  readonly keys: string[] = [];

  set(obj: MemObject): void {
    const k = byteKey(obj.name);
    if (!this.objects.has(k)) this.keys.splice(lowerBound(this.keys, k), 0, k);
    this.objects.set(k, obj);
  }

  remove(name: string): boolean {
    const k = byteKey(name);
    if (!this.objects.delete(k)) return false;
    this.keys.splice(lowerBound(this.keys, k), 1);
    return true;
  }
}

class Counters {
  requests = 0;
  errors = 0;
  bytesIn = 0;
  bytesOut = 0;
}

/**
 * Creates an empty in-memory object store (kind 'memory').
 * stats(): `bytesOut` counts body bytes written into the store (puts, segment
 * appends), `bytesIn` body bytes read out of it (gets); every failed call counts
 * in `errors`; `retries` is always 0.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): ObjectStore {
  return new MemoryStore(options.logger ?? pino({ level: 'silent' }));
}

class MemoryStore implements ObjectStore {
  readonly kind = 'memory';
  readonly containers = new Map<string, MemContainerData>();
  readonly counters = new Counters();
  readonly openSegments = new Set<MemSegment>();
  closed = false;

  constructor(readonly logger: Logger) {}

  container(name: string): MemContainer {
    checkContainerName(name);
    return new MemContainer(this, name);
  }

  async ping(): Promise<void> {
    this.checkOpen();
  }

  stats(): BackendStats {
    const c = this.counters;
    return { requests: c.requests, errors: c.errors, retries: 0, bytesIn: c.bytesIn, bytesOut: c.bytesOut };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of [...this.openSegments]) await s.abort();
  }

  checkOpen(): void {
    if (this.closed) throw cairnError('CAIRN_ERR_CLOSED', 'object store memory');
  }

  /** Runs one counted request; failures count as errors and are rethrown as CairnErrors. */
  async request<T>(fn: () => Promise<T> | T): Promise<T> {
    this.counters.requests++;
    try {
      this.checkOpen();
      return await fn();
    } catch (err) {
      this.counters.errors++;
      throw isCairnError(err) ? err : cairnError('CAIRN_ERR_INTERNAL', String(err), { cause: err });
    }
  }

  data(container: string, create: boolean): MemContainerData | undefined {
    let d = this.containers.get(container);
    if (!d && create) {
      d = new MemContainerData();
      this.containers.set(container, d);
    }
    return d;
  }
}

class MemContainer extends ContainerBase {
  constructor(private readonly store: MemoryStore, name: string) {
    super(name);
  }

  async create(): Promise<void> {
    await this.store.request(() => {
      this.store.data(this.name, true);
    });
  }

  async put(name: string, body: PutBody, options: PutOptions = {}): Promise<ObjectInfo> {
    return this.store.request(async () => {
      checkObjectName(name);
      checkMeta(options.meta);
      checkAborted(options.signal, this.name, name);
      const data = await readAll(body, options.signal, `${this.name}/${name}`);
      if (options.contentLength !== undefined && options.contentLength !== data.length) {
        throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `${this.name}/${name}: body has ${data.length} bytes, contentLength says ${options.contentLength}`);
      }
      checkAborted(options.signal, this.name, name);
      this.store.checkOpen();
      const d = this.store.data(this.name, true)!;
      if (options.ifNoneMatch && d.objects.has(byteKey(name))) {
        throw cairnError('CAIRN_ERR_OBJ_PRECONDITION_FAILED', `${this.name}/${name} exists`);
      }
      const obj = makeObject(name, data, options.meta);
      d.set(obj);
      this.store.counters.bytesOut += data.length;
      return infoOf(obj);
    });
  }

  async get(name: string, options: GetOptions = {}): Promise<GetResult> {
    return this.store.request(() => {
      checkObjectName(name);
      checkAborted(options.signal, this.name, name);
      const obj = this.find(name);
      const { offset, length } = resolveRange(options.range, obj.data.length, `${this.name}/${name}`);
      const bytes = obj.data.subarray(offset, offset + length);
      this.store.counters.bytesIn += length;
      return { info: infoOf(obj), offset, length, body: Readable.from(length > 0 ? [bytes] : []) };
    });
  }

  async head(name: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    return this.store.request(() => {
      checkObjectName(name);
      checkAborted(options.signal, this.name, name);
      return infoOf(this.find(name));
    });
  }

  async delete(name: string, options: DeleteOptions = {}): Promise<void> {
    await this.store.request(() => {
      checkObjectName(name);
      checkAborted(options.signal, this.name, name);
      const removed = this.store.data(this.name, false)?.remove(name) ?? false;
      if (!removed && options.mustExist) throw cairnError('CAIRN_ERR_OBJ_NOT_FOUND', `${this.name}/${name}`);
    });
  }

  async list(options: ListOptions = {}): Promise<ListPage> {
    return this.store.request(() => {
      const limit = listLimit(options.limit);
      if (options.delimiter === '') throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'empty list delimiter');
      checkAborted(options.signal, this.name, '');
      const d = this.store.data(this.name, false);
      if (!d) throw cairnError('CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND', this.name);
      return listSorted(d, options, limit);
    });
  }

  openSegment(name: string, options: OpenSegmentOptions = {}): OpenSegment {
    this.store.checkOpen();
    checkObjectName(name);
    checkMeta(options.meta);
    const maxSize = options.maxSize ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(maxSize) || maxSize < 0) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `segment maxSize ${maxSize}`);
    const seg = new MemSegment(this.store, this.name, name, maxSize, options.meta);
    this.store.openSegments.add(seg);
    return seg;
  }

  private find(name: string): MemObject {
    const obj = this.store.data(this.name, false)?.objects.get(byteKey(name));
    if (!obj) throw cairnError('CAIRN_ERR_OBJ_NOT_FOUND', `${this.name}/${name}`);
    return obj;
  }
}

/** Appends accumulate in memory; close() publishes them in one step, abort() drops them. */
class MemSegment implements OpenSegment {
  private chunks: Buffer[] = [];
  private state: 'open' | 'closing' | 'closed' | 'aborted' = 'open';
  bytesAppended = 0;
  bytesSent = 0;

  constructor(
    private readonly store: MemoryStore,
    readonly container: string,
    readonly name: string,
    private readonly maxSize: number,
    private readonly meta: Readonly<Record<string, string>> | undefined,
  ) {}

  async append(chunk: Uint8Array): Promise<void> {
    if (this.state !== 'open') throw cairnError('CAIRN_ERR_OBJ_SEGMENT_CLOSED', `${this.container}/${this.name}`);
    if (this.bytesAppended + chunk.length > this.maxSize) {
      throw cairnError('CAIRN_ERR_OBJ_TOO_LARGE', `${this.container}/${this.name}: segment limit ${this.maxSize} bytes`);
    }
    this.chunks.push(Buffer.from(chunk));
    this.bytesAppended += chunk.length;
    this.bytesSent += chunk.length;
  }

  async close(): Promise<ObjectInfo> {
    if (this.state !== 'open') throw cairnError('CAIRN_ERR_OBJ_SEGMENT_CLOSED', `${this.container}/${this.name}`);
    this.state = 'closing';
    try {
      return await this.store.request(() => {
        const obj = makeObject(this.name, Buffer.concat(this.chunks, this.bytesAppended), this.meta);
        this.store.data(this.container, true)!.set(obj);
        this.store.counters.bytesOut += obj.data.length;
        return infoOf(obj);
      });
    } finally {
      this.state = 'closed';
      this.chunks = [];
      this.store.openSegments.delete(this);
    }
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.chunks = [];
    this.store.openSegments.delete(this);
  }
}

// ---- helpers ------------------------------------------------------------------

function makeObject(name: string, data: Buffer, meta: Readonly<Record<string, string>> | undefined): MemObject {
  return {
    name,
    data,
    etag: createHash('md5').update(data).digest('hex'),
    mtime: Date.now(),
    meta: Object.freeze({ ...(meta ?? {}) }),
  };
}

function infoOf(o: MemObject): ObjectInfo {
  return { name: o.name, size: o.data.length, etag: o.etag, mtime: o.mtime, meta: { ...o.meta } };
}

function checkAborted(signal: AbortSignal | undefined, container: string, name: string): void {
  if (signal?.aborted) throw cairnError('CAIRN_ERR_CANCELED', `${container}/${name}`);
}

/** Reads a put body into one buffer (the memory backend holds it anyway). */
async function readAll(body: PutBody, signal: AbortSignal | undefined, what: string): Promise<Buffer> {
  if (body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body as AsyncIterable<unknown>) {
    if (signal?.aborted) throw cairnError('CAIRN_ERR_CANCELED', what);
    const b = toBuffer(c, what);
    chunks.push(b);
    n += b.length;
  }
  return Buffer.concat(chunks, n);
}

function toBuffer(c: unknown, what: string): Buffer {
  if (Buffer.isBuffer(c)) return Buffer.from(c);
  if (c instanceof Uint8Array) return Buffer.from(c);
  if (typeof c === 'string') return Buffer.from(c, 'utf8');
  throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `${what}: body chunk is not bytes`);
}

/** The name's UTF-8 bytes as a latin1 string: JS string order == UTF-8 byte order. */
function byteKey(name: string): string {
  return Buffer.from(name, 'utf8').toString('latin1');
}

/** First index i with keys[i] >= k. */
function lowerBound(keys: readonly string[], k: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A byte key greater than every key starting with k and smaller than any other key above k. */
function pastPrefix(k: string): string {
  return `${k}\u0100`;
}

/**
 * Lists a sorted container. Entries (objects, and with a delimiter the rolled-up
 * prefixes) come in byte order and are all strictly greater than the marker; a
 * roll-up equal to or below the marker is not repeated, which is what makes a
 * page's nextMarker (the last entry) resume exactly after it.
 */
function listSorted(d: MemContainerData, options: ListOptions, limit: number): ListPage {
  const prefix = byteKey(options.prefix ?? '');
  const marker = options.marker === undefined ? undefined : byteKey(options.marker);
  const delim = options.delimiter === undefined ? undefined : byteKey(options.delimiter);
  const keys = d.keys;
  let i = lowerBound(keys, prefix);
  if (marker !== undefined) {
    let j = lowerBound(keys, marker);
    if (keys[j] === marker) j++;
    i = Math.max(i, j);
  }
  const entries: ListEntry[] = [];
  let last = '';
  for (; i < keys.length; ) {
    const k = keys[i]!;
    if (!k.startsWith(prefix)) break;
    const at = delim === undefined ? -1 : k.indexOf(delim, prefix.length);
    if (at >= 0) {
      const rolled = k.slice(0, at + delim!.length);
      i = lowerBound(keys, pastPrefix(rolled));
      if (marker !== undefined && rolled <= marker) continue;
      if (entries.length === limit) return { entries, nextMarker: last };
      entries.push({ kind: 'prefix', prefix: Buffer.from(rolled, 'latin1').toString('utf8') });
      last = (entries[entries.length - 1] as { prefix: string }).prefix;
      continue;
    }
    if (entries.length === limit) return { entries, nextMarker: last };
    const o = d.objects.get(k)!;
    entries.push({ kind: 'object', name: o.name, size: o.data.length, etag: o.etag, mtime: o.mtime });
    last = o.name;
    i++;
  }
  return { entries };
}
