// The read cache: fixed-size lines of immutable segment objects, evicted least
// recently used by bytes. A read's missing lines are fetched with one ranged GET
// per contiguous run, streamed into the lines as the bytes arrive, and
// concurrent reads of a line share its GET. A reader that continues where its
// previous read of the object ended is a sequential stream: the lines after it
// are fetched ahead in growing windows (read-ahead.ts); when the caller says
// where the bytes continue (the file's next extents), the window reaches into
// them, so the next segment is on its way before the reader gets there. Segments never change
// once written (a nonce is never reused), so lines never go stale; invalidate()
// only frees memory after a segment was deleted.
//
// Memory: every line the cache holds, filling or complete, counts against
// budgetBytes. Read-ahead holds at most half of it and never evicts a line a
// reader is using or a line fetched ahead for another active stream. A read
// never waits for room: when every line is in use by reads in progress, the
// lines it needs go over the budget until those reads are done.

import { cairnError } from '@cairn/errors';
import type { ObjectStore } from '@cairn/objstore';
import { pino, type Logger } from 'pino';
import { Handoffs, ObjectState, readAheadRange, streamWants, type Stream, type WindowLimits } from './read-ahead.js';
import { Line } from './read-line.js';
import type { DataStep, ObjectRef, ReadCache, ReadCacheOptions, ReadCacheStats } from './types.js';

const MiB = 1024 * 1024;
/** Objects whose size and streams are remembered. */
const MAX_TRACKED_OBJECTS = 4096;

function checkInt(v: number | undefined, what: string, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < min) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `read cache ${what} ${v}`);
  return v;
}

/** Creates a read cache over a store. Options are checked here. */
export function createReadCache(options: ReadCacheOptions): ReadCache {
  if (!options || !options.store || typeof options.store.container !== 'function') {
    throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'read cache store');
  }
  const lineSize = checkInt(options.lineSize, 'lineSize', MiB, 1);
  const budgetBytes = checkInt(options.budgetBytes, 'budgetBytes', 64 * MiB, 0);
  const readAheadLines = checkInt(options.readAheadLines, 'readAheadLines', 4, 0);
  const maxReadAheadBytes = checkInt(options.maxReadAheadBytes, 'maxReadAheadBytes', 16 * MiB, 0);
  const readAheadBytes = Math.floor(budgetBytes / 2);
  const limits: WindowLimits = {
    initialLines: readAheadLines,
    maxLines: readAheadLines === 0 ? 0 : Math.max(readAheadLines, Math.floor(Math.min(maxReadAheadBytes, readAheadBytes) / lineSize)),
  };
  return new Cache(options.store, lineSize, budgetBytes, readAheadBytes, limits, options.logger ?? pino({ level: 'silent' }));
}

/** A run of bytes the reader continues with: contiguous steps of one object merged. */
interface Run {
  readonly ref: ObjectRef;
  readonly offset: number;
  length: number;
}

/** The runs a read of `ref` that ended at `end` continues with: the first continues the read (possibly empty). */
function continuation(ref: ObjectRef, end: number, next: readonly DataStep[]): Run[] {
  const runs: Run[] = [{ ref, offset: end, length: 0 }];
  for (const step of next) {
    const last = runs[runs.length - 1]!;
    if (step.length <= 0) continue;
    if (step.container === last.ref.container && step.object === last.ref.name && step.segmentOffset === last.offset + last.length) {
      last.length += step.length;
    } else {
      runs.push({ ref: { container: step.container, name: step.object }, offset: step.segmentOffset, length: step.length });
    }
  }
  return runs;
}

class Cache implements ReadCache {
  /** Every line held (filling or complete), least recently used first. */
  private readonly lines = new Map<string, Line>();
  /** Per-object size and streams, least recently used first. */
  private readonly objects = new Map<string, ObjectState>();
  private readonly handoffs = new Handoffs();
  /** Slabs (full-line buffers) of evicted lines, for new lines; with those lines hold, they stay within the budget. */
  private readonly slabs: Buffer[] = [];
  private slabsHeld = 0;
  /** Bytes of the lines held, and of those among them fetched ahead and not used yet. */
  private bytes = 0;
  private readAheadHeld = 0;
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
    /** Bytes read-ahead may hold. */
    private readonly readAheadBytes: number,
    private readonly limits: WindowLimits,
    private readonly logger: Logger,
  ) {}

  get maxReadAheadBytes(): number {
    return this.limits.maxLines * this.lineSize;
  }

  async read(ref: ObjectRef, offset: number, length: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length >= 0 && Number.isSafeInteger(length) ? length : 0);
    await this.readInto(ref, offset, length, out, 0);
    return out;
  }

  async readInto(ref: ObjectRef, offset: number, length: number, target: Buffer, targetOffset: number, next?: readonly DataStep[]): Promise<void> {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `read cache range [${offset}, +${length})`);
    }
    if (!Number.isSafeInteger(targetOffset) || targetOffset < 0 || targetOffset + length > target.length) {
      throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `read cache target [${targetOffset}, +${length}) of ${target.length} bytes`);
    }
    const objKey = `${ref.container}/${ref.name}`;
    const obj = this.object(objKey);
    if (length === 0) return;
    if (obj.size !== undefined && offset + length > obj.size) {
      throw cairnError('CAIRN_ERR_SEG_SHORT_READ', `${objKey}: [${offset}, +${length}) of ${obj.size} bytes`);
    }
    const L = this.lineSize;
    const first = Math.floor(offset / L);
    const last = Math.floor((offset + length - 1) / L);
    const now = performance.now();
    const { stream, sequential } = obj.track(offset, length, last, now);
    let continues = sequential;
    if (!sequential && this.limits.initialLines > 0 && offset % L === 0 && !this.lines.has(`${objKey}#${first}`)) {
      const window = this.handoffs.take(now);
      if (window !== undefined) {
        stream.window = window;
        continues = true;
      }
    }
    if (next === undefined && continues && !stream.handedOn && stream.window > 0 && obj.size !== undefined && obj.size - stream.next < L) {
      stream.handedOn = true;
      this.handoffs.offer(stream.window, now);
    }
    // Where the reader's bytes jump elsewhere (known from `next`), read-ahead in this object stops.
    const runs = continues && next !== undefined ? continuation(ref, offset + length, next) : undefined;
    const stop = runs !== undefined && runs.length > 1 ? runs[0]!.offset + runs[0]!.length : undefined;
    const wanted = this.demand(ref, objKey, obj, first, last, continues ? stream : undefined, stop);
    if (runs !== undefined && runs.length > 1 && stream.window > 0) this.continueAhead(runs, stream.window, now);
    try {
      let done = 0;
      for (const line of wanted) {
        const lineStart = line.index * L;
        const from = offset + done - lineStart;
        const take = Math.min(length - done, L - from);
        await line.until(from + take);
        if (from + take > line.length) {
          throw cairnError('CAIRN_ERR_SEG_SHORT_READ', `${objKey}: [${offset}, +${length}) ends past the object`);
        }
        line.copyTo(target, targetOffset + done, from, from + take);
        done += take;
      }
    } finally {
      for (const line of wanted) line.users--;
      this.trim();
    }
  }

  invalidate(ref: ObjectRef): void {
    const prefix = `${ref.container}/${ref.name}#`;
    for (const [k, line] of [...this.lines]) if (k.startsWith(prefix)) this.drop(line);
    this.objects.delete(`${ref.container}/${ref.name}`);
  }

  clear(): void {
    for (const line of [...this.lines.values()]) this.drop(line);
    this.objects.clear();
    this.slabs.length = 0;
  }

  stats(): ReadCacheStats {
    return {
      hits: this.hits, misses: this.misses, joined: this.joined, readAheads: this.readAheads,
      readAheadHits: this.readAheadHits, evictions: this.evictions, gets: this.gets, bytesFetched: this.bytesFetched,
      lines: this.lines.size, bytesCached: this.bytes, budgetBytes: this.budgetBytes,
    };
  }

  private object(objKey: string): ObjectState {
    let obj = this.objects.get(objKey);
    if (obj) {
      this.objects.delete(objKey);
    } else {
      obj = new ObjectState();
      if (this.objects.size >= MAX_TRACKED_OBJECTS) this.objects.delete(this.objects.keys().next().value!);
    }
    this.objects.set(objKey, obj);
    return obj;
  }

  /**
   * The lines first..last of a read, pinned (the caller unpins them), and for a
   * sequential read the lines its stream should fetch ahead; starts one GET per
   * contiguous run of missing lines.
   */
  private demand(ref: ObjectRef, objKey: string, obj: ObjectState, first: number, last: number, stream: Stream | undefined, stop: number | undefined): Line[] {
    const wanted: Line[] = [];
    let run: Line[] = [];
    let missed = false;
    for (let i = first; i <= last; i++) {
      const key = `${objKey}#${i}`;
      const line = this.lines.get(key);
      if (line) {
        this.use(key, line);
        line.users++;
        wanted.push(line);
        if (run.length > 0) run = this.fetch(ref, objKey, obj, run);
        continue;
      }
      missed = true;
      this.misses++;
      const fresh = new Line(key, i, this.expectedLength(obj, i), false, undefined);
      this.makeRoom(fresh.length, false);
      this.add(fresh);
      fresh.users++;
      wanted.push(fresh);
      run.push(fresh);
    }
    let endLine = obj.size === undefined ? undefined : Math.ceil(obj.size / this.lineSize) - 1;
    if (stop !== undefined) endLine = Math.min(endLine ?? Infinity, Math.ceil(stop / this.lineSize) - 1);
    const ahead = stream ? readAheadRange(stream, last, this.limits, endLine, missed) : undefined;
    if (stream && ahead) run = this.fetchAhead(ref, objKey, obj, stream, ahead.from, ahead.to, run);
    if (run.length > 0) this.fetch(ref, objKey, obj, run);
    return wanted;
  }

  /**
   * Fetches lines [from, to) of an object ahead for `stream` (after the lines
   * of `run`, which the caller fetches with them); lines held already split
   * the GETs. Stops (moving the frontier back) where read-ahead finds no room.
   * Returns the run still to fetch.
   */
  private fetchAhead(ref: ObjectRef, objKey: string, obj: ObjectState, stream: Stream, from: number, to: number, run: Line[]): Line[] {
    for (let i = from; i < to; i++) {
      const key = `${objKey}#${i}`;
      if (this.lines.has(key)) {
        if (run.length > 0) run = this.fetch(ref, objKey, obj, run);
        continue;
      }
      const length = this.expectedLength(obj, i);
      if (!this.makeRoom(length, true)) {
        stream.frontier = i;
        break;
      }
      const line = new Line(key, i, length, true, stream);
      this.readAheads++;
      this.add(line);
      run.push(line);
    }
    return run;
  }

  /**
   * A sequential reader continues with `runs` (continuation()). While the
   * bytes left before a jump (to another object, or elsewhere in this one)
   * are fewer than the stream's window, the start of the range after the jump
   * is fetched ahead, up to the window, for the stream its reader will
   * continue there; in steps of at least half a window, so that the GETs stay
   * large.
   */
  private continueAhead(runs: readonly Run[], window: number, now: number): void {
    const L = this.lineSize;
    const reach = window * L;
    let left = runs[0]!.length;
    for (let k = 1; k < runs.length && left < reach; k++) {
      const r = runs[k]!;
      const want = Math.min(r.length, reach - left);
      left += r.length;
      const objKey = `${r.ref.container}/${r.ref.name}`;
      const obj = this.object(objKey);
      const firstLine = Math.floor(r.offset / L);
      let to = Math.ceil((r.offset + want) / L);
      if (obj.size !== undefined) to = Math.min(to, Math.ceil(obj.size / L));
      const stream = obj.expect(r.offset, firstLine, window, now);
      const from = Math.max(stream.frontier, firstLine);
      // A fresh stream fetches what it wants at once; a prepared one grows in steps of half a
      // window, or up to the end of its range when a later range shows that it ends there.
      const rangeDone = k < runs.length - 1 && to >= Math.ceil((r.offset + r.length) / L);
      if (to <= from || (from > firstLine && (to - from) * 2 < window && !rangeDone)) continue;
      stream.frontier = to;
      const run = this.fetchAhead(r.ref, objKey, obj, stream, from, to, []);
      if (run.length > 0) this.fetch(r.ref, objKey, obj, run);
    }
  }

  /** A cached line a read uses: counted, and moved to the most recently used end. */
  private use(key: string, line: Line): void {
    if (line.done) this.hits++;
    else this.joined++;
    if (line.readAhead) {
      line.readAhead = false;
      this.readAheadHeld -= line.length;
      this.readAheadHits++;
    }
    this.lines.delete(key);
    this.lines.set(key, line);
  }

  private expectedLength(obj: ObjectState, i: number): number {
    return obj.size === undefined ? this.lineSize : Math.max(0, Math.min(this.lineSize, obj.size - i * this.lineSize));
  }

  /** Fetches a run of consecutive new lines with one ranged GET; returns an empty run. */
  private fetch(ref: ObjectRef, objKey: string, obj: ObjectState, run: Line[]): Line[] {
    const offset = run[0]!.index * this.lineSize;
    const length = run.reduce((n, l) => n + l.length, 0);
    this.stream(ref, objKey, obj, run, offset, length).catch((err: unknown) => {
      for (const line of run) {
        if (line.done) continue;
        line.fail(err);
        this.drop(line);
      }
      this.logger.debug({ object: objKey, line: run[0]!.index, lines: run.length, err }, 'read-ahead failed');
    });
    return [];
  }

  private async stream(ref: ObjectRef, objKey: string, obj: ObjectState, run: Line[], offset: number, length: number): Promise<void> {
    const r = await this.store.container(ref.container).get(ref.name, { range: { offset, length } });
    obj.size = r.info.size;
    this.gets++;
    for (const line of run) {
      const real = Math.max(0, Math.min(this.lineSize, r.offset + r.length - line.index * this.lineSize));
      this.account(line, real);
      line.start(real, real === 0 ? undefined : this.slab(real));
      if (real === 0) this.drop(line);
    }
    let k = 0;
    let n = 0;
    for await (const c of r.body) {
      const chunk = c as Buffer;
      if (n + chunk.length > r.length) {
        r.body.destroy();
        throw cairnError('CAIRN_ERR_SEG_SHORT_READ', `${objKey}: GET returned more than ${r.length} bytes`);
      }
      n += chunk.length;
      this.bytesFetched += chunk.length;
      for (let at = 0; at < chunk.length;) {
        while (run[k]!.done) k++;
        at += run[k]!.fill(chunk, at);
      }
    }
    if (n !== r.length) throw cairnError('CAIRN_ERR_SEG_SHORT_READ', `${objKey}: GET returned ${n} of ${r.length} bytes`);
    this.trim();
  }

  private add(line: Line): void {
    this.lines.set(line.key, line);
    this.bytes += line.length;
    if (line.readAhead) this.readAheadHeld += line.length;
  }

  /** A line's real length is known (it was accounted at its expected length). */
  private account(line: Line, length: number): void {
    if (line.dropped) return;
    this.bytes += length - line.length;
    if (line.readAhead) this.readAheadHeld += length - line.length;
  }

  /** Takes a line out of the cache; its slab is reused unless a read or its GET still uses it. */
  private drop(line: Line): void {
    if (line.dropped) return;
    line.dropped = true;
    if (this.lines.get(line.key) === line) this.lines.delete(line.key);
    this.bytes -= line.length;
    if (line.readAhead) this.readAheadHeld -= line.length;
    if (line.slab !== undefined && line.slab.length === this.lineSize) {
      this.slabsHeld--;
      const free = line.done && line.users === 0;
      if (free && (this.slabsHeld + this.slabs.length + 1) * this.lineSize <= this.budgetBytes) this.slabs.push(line.slab);
      if (free) line.slab = undefined;
    }
  }

  /** A buffer for a line of `length` bytes: a recycled slab for a full line. */
  private slab(length: number): Buffer {
    if (length < this.lineSize) return Buffer.allocUnsafe(length);
    this.slabsHeld++;
    return this.slabs.pop() ?? Buffer.allocUnsafeSlow(this.lineSize);
  }

  /**
   * Evicts least recently used lines until `n` more bytes fit. Read-ahead only
   * takes room that no reader and no other active stream needs, within its
   * share; it gets false when there is none. A read always proceeds.
   */
  private makeRoom(n: number, readAhead: boolean): boolean {
    const now = performance.now();
    const evictable = (l: Line): boolean => l.done && l.users === 0 && !(readAhead && l.readAhead && l.stream !== undefined &&
      streamWants(l.stream, (l.index + 1) * this.lineSize, now));
    if (readAhead) {
      while (this.readAheadHeld + n > this.readAheadBytes) {
        if (!this.evictOne((l) => l.readAhead && evictable(l))) return false;
      }
    }
    while (this.bytes + n > this.budgetBytes) {
      if (!this.evictOne(evictable)) return !readAhead;
    }
    return true;
  }

  /** Lines held beyond the budget (by reads that found no room) are evicted once they are free. */
  private trim(): void {
    while (this.bytes > this.budgetBytes && this.evictOne((l) => l.done && l.users === 0)) {
      // evictOne made progress
    }
  }

  private evictOne(ok: (l: Line) => boolean): boolean {
    for (const line of this.lines.values()) {
      if (!ok(line)) continue;
      this.drop(line);
      this.evictions++;
      return true;
    }
    return false;
  }
}
