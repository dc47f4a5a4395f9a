// The read cache: fixed-size lines of immutable segment objects, evicted least
// recently used by bytes. Concurrent reads of one line share one ranged GET; a
// reader that continues where its previous read of the object ended is
// sequential, and the next lines are fetched ahead of it. Segments never change
// once written (a nonce is never reused), so lines never go stale; invalidate()
// only frees memory after a segment was deleted.

import { cairnError } from '@cairn/errors';
import type { ObjectStore } from '@cairn/objstore';
import { pino, type Logger } from 'pino';
import type { ObjectRef, ReadCache, ReadCacheOptions, ReadCacheStats } from './types.js';

const MiB = 1024 * 1024;
/** Objects whose sequential-read state is remembered. */
const MAX_TRACKED_OBJECTS = 4096;

interface Line {
  readonly buf: Buffer;
  /** Fetched by read-ahead and not used yet. */
  readAhead: boolean;
}

interface Inflight {
  readonly promise: Promise<Buffer>;
  readAhead: boolean;
}

interface ObjectState {
  /** Whole object size, once a GET told it. */
  size: number | undefined;
  /** Where the previous read of this object ended (-1: none yet). */
  nextOffset: number;
}

function checkPositive(v: number | undefined, what: string, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < min) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `read cache ${what} ${v}`);
  return v;
}

/** Creates a read cache over a store. Options are checked here. */
export function createReadCache(options: ReadCacheOptions): ReadCache {
  if (!options || !options.store || typeof options.store.container !== 'function') {
    throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'read cache store');
  }
  const lineSize = checkPositive(options.lineSize, 'lineSize', MiB, 1);
  const budgetBytes = checkPositive(options.budgetBytes, 'budgetBytes', 64 * MiB, 0);
  const readAheadLines = checkPositive(options.readAheadLines, 'readAheadLines', 4, 0);
  return new Cache(options.store, lineSize, budgetBytes, readAheadLines, options.logger ?? pino({ level: 'silent' }));
}

class Cache implements ReadCache {
  /** Cached lines, least recently used first. */
  private readonly lines = new Map<string, Line>();
  private readonly inflight = new Map<string, Inflight>();
  /** Per-object state, least recently used first. */
  private readonly objects = new Map<string, ObjectState>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private joined = 0;
  private readAheads = 0;
  private readAheadHits = 0;
  private evictions = 0;
  private gets = 0;
  private bytesFetched = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly lineSize: number,
    private readonly budgetBytes: number,
    private readonly readAheadLines: number,
    private readonly logger: Logger,
  ) {}

  async read(ref: ObjectRef, offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `read cache range [${offset}, +${length})`);
    }
    const objKey = `${ref.container}/${ref.name}`;
    const st = this.state(objKey);
    if (length === 0) return Buffer.alloc(0);
    if (st.size !== undefined && offset + length > st.size) {
      throw cairnError('CAIRN_ERR_SEG_SHORT_READ', `${objKey}: [${offset}, +${length}) of ${st.size} bytes`);
    }
    const L = this.lineSize;
    const first = Math.floor(offset / L);
    const last = Math.floor((offset + length - 1) / L);
    const sequential = offset === st.nextOffset;
    st.nextOffset = offset + length;
    const wanted: Promise<Buffer>[] = [];
    for (let i = first; i <= last; i++) wanted.push(this.line(ref, objKey, i, false));
    if (sequential) this.readAhead(ref, objKey, st, last);
    const bufs = await Promise.all(wanted);
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    for (let k = 0; k < bufs.length; k++) {
      const lineStart = (first + k) * L;
      const from = offset + done - lineStart;
      const take = Math.min(length - done, L - from);
      const buf = bufs[k]!;
      if (from + take > buf.length) {
        throw cairnError('CAIRN_ERR_SEG_SHORT_READ', `${objKey}: [${offset}, +${length}) ends past the object`);
      }
      buf.copy(out, done, from, from + take);
      done += take;
    }
    return out;
  }

  invalidate(ref: ObjectRef): void {
    const prefix = `${ref.container}/${ref.name}#`;
    for (const [k, line] of [...this.lines]) {
      if (k.startsWith(prefix)) {
        this.lines.delete(k);
        this.bytes -= line.buf.length;
      }
    }
    this.objects.delete(`${ref.container}/${ref.name}`);
  }

  clear(): void {
    this.lines.clear();
    this.objects.clear();
    this.bytes = 0;
  }

  stats(): ReadCacheStats {
    return {
      hits: this.hits, misses: this.misses, joined: this.joined, readAheads: this.readAheads,
      readAheadHits: this.readAheadHits, evictions: this.evictions, gets: this.gets, bytesFetched: this.bytesFetched,
      lines: this.lines.size, bytesCached: this.bytes, budgetBytes: this.budgetBytes,
    };
  }

  private state(objKey: string): ObjectState {
    let st = this.objects.get(objKey);
    if (st) {
      this.objects.delete(objKey);
    } else {
      st = { size: undefined, nextOffset: -1 };
      if (this.objects.size >= MAX_TRACKED_OBJECTS) this.objects.delete(this.objects.keys().next().value!);
    }
    this.objects.set(objKey, st);
    return st;
  }

  /** Starts fetching the lines after `last` that are neither cached nor being fetched. */
  private readAhead(ref: ObjectRef, objKey: string, st: ObjectState, last: number): void {
    for (let i = last + 1; i <= last + this.readAheadLines; i++) {
      if (st.size !== undefined && i * this.lineSize >= st.size) break;
      const key = `${objKey}#${i}`;
      if (this.lines.has(key) || this.inflight.has(key)) continue;
      this.line(ref, objKey, i, true).catch((err: unknown) => {
        this.logger.debug({ object: objKey, line: i, err }, 'read-ahead failed');
      });
    }
  }

  private line(ref: ObjectRef, objKey: string, i: number, readAhead: boolean): Promise<Buffer> {
    const key = `${objKey}#${i}`;
    const hit = this.lines.get(key);
    if (hit) {
      if (!readAhead) {
        this.hits++;
        if (hit.readAhead) {
          hit.readAhead = false;
          this.readAheadHits++;
        }
        this.lines.delete(key);
        this.lines.set(key, hit);
      }
      return Promise.resolve(hit.buf);
    }
    const pending = this.inflight.get(key);
    if (pending) {
      if (!readAhead) {
        this.joined++;
        if (pending.readAhead) {
          pending.readAhead = false;
          this.readAheadHits++;
        }
      }
      return pending.promise;
    }
    if (readAhead) this.readAheads++;
    else this.misses++;
    const entry: Inflight = {
      readAhead,
      promise: this.fetch(ref, objKey, i).then(
        (buf) => {
          this.inflight.delete(key);
          this.insert(key, { buf, readAhead: entry.readAhead });
          return buf;
        },
        (err: unknown) => {
          this.inflight.delete(key);
          throw err;
        },
      ),
    };
    this.inflight.set(key, entry);
    return entry.promise;
  }

  private async fetch(ref: ObjectRef, objKey: string, i: number): Promise<Buffer> {
    const st = this.state(objKey);
    const offset = i * this.lineSize;
    const length = st.size === undefined ? this.lineSize : Math.min(this.lineSize, st.size - offset);
    const r = await this.store.container(ref.container).get(ref.name, { range: { offset, length } });
    st.size = r.info.size;
    const buf = Buffer.allocUnsafe(r.length);
    let n = 0;
    for await (const c of r.body) {
      const b = c as Buffer;
      if (n + b.length > buf.length) {
        r.body.destroy();
        throw cairnError('CAIRN_ERR_SEG_SHORT_READ', `${objKey}: GET returned more than ${r.length} bytes`);
      }
      b.copy(buf, n);
      n += b.length;
    }
    if (n !== r.length) throw cairnError('CAIRN_ERR_SEG_SHORT_READ', `${objKey}: GET returned ${n} of ${r.length} bytes`);
    this.gets++;
    this.bytesFetched += n;
    return buf;
  }

  private insert(key: string, line: Line): void {
    if (this.lines.has(key)) return;
    this.lines.set(key, line);
    this.bytes += line.buf.length;
    while (this.bytes > this.budgetBytes && this.lines.size > 0) {
      const [k, old] = this.lines.entries().next().value!;
      this.lines.delete(k);
      this.bytes -= old.buf.length;
      this.evictions++;
    }
  }
}
