// scrub: checks that the data the metadata points at is really stored. For
// every live segment of one consistent view it HEADs the object (mode
// 'head'), or reads and verifies its summary trailer (mode 'summary', the
// default: magic, version, CRC, its own nonce, the data length), and then
// checks every extent against what it found: inside the object's data and,
// where the summary lists its writes, within bytes some write put there. Mode
// 'read' also GETs every extent's bytes and checks their length. Read-only:
// scrub repairs nothing (lost data cannot be repaired; fsck's repair turns an
// extent naming a segment that is not recorded into a hole).
//
// A segment found missing is checked again on the newest commit: one that
// died and was deleted while scrub ran is not a problem.

import { cairnError, isCairnError } from '@cairn/errors';
import { decodeKey } from '@cairn/headhunter';
import { readSegmentSummary, segmentName, SUMMARY_FOOTER_BYTES } from '@cairn/segments';
import type { Vol } from './context.js';
import { volumeOf } from './fsck.js';
import { NonceMap } from './fsck-table.js';
import { TREES } from './format.js';
import { extentCodec, nonceKey, segmentCodec } from './records.js';
import type { Filesystem } from './index.js';

export const SCRUB_PROBLEM_KINDS = [
  /** The segment object is not in the store. */
  'segment-missing',
  /** The object's size (or its summary's data length or nonce) disagrees with the segment record. */
  'segment-size',
  /** The summary trailer does not check out (magic, version, CRC, entries). */
  'segment-summary',
  /** An extent names segment bytes past the object's data, or bytes no write in the summary put there. */
  'segment-coverage',
  /** Reading an extent's bytes failed or returned fewer bytes. */
  'segment-read',
] as const;

export type ScrubProblemKind = (typeof SCRUB_PROBLEM_KINDS)[number];

export interface ScrubProblem {
  readonly kind: ScrubProblemKind;
  readonly message: string;
  /** The segment's nonce in decimal (a string, so that reports go through JSON). */
  readonly nonce: string;
  /** Container and object name of the segment. */
  readonly object: string;
  /** For extent problems: the file and the offset of the extent. */
  readonly ino?: number;
  readonly offset?: number;
}

export interface ScrubProgress {
  readonly phase: 'segments' | 'extents';
  readonly done: number;
  readonly total: number;
  readonly problems: number;
  /** Bytes read from the store so far. */
  readonly bytes: number;
  readonly unit: 'segments' | 'extents';
}

export interface ScrubOptions {
  /** 'head': HEAD each segment; 'summary' (default): verify its summary trailer; 'read': also read every extent's bytes. */
  readonly mode?: 'head' | 'summary' | 'read';
  /** Object-store requests in flight (default 4). */
  readonly concurrency?: number;
  /** done/total/bytes/unit are the management API's job progress fields (unit: the phase). */
  readonly onProgress?: (p: ScrubProgress) => void;
  readonly signal?: AbortSignal;
  /** Problems listed at most (default 10 000; all are counted). */
  readonly maxProblems?: number;
}

export interface ScrubReport {
  readonly ok: boolean;
  readonly problems: ScrubProblem[];
  readonly problemCount: number;
  readonly segments: number;
  readonly extents: number;
  /** Bytes read from the store (summaries and, in 'read' mode, extents). */
  readonly bytesRead: number;
  readonly commitSeq: number;
  readonly durationMs: number;
}

/** What one segment's object turned out to hold. */
interface Found {
  /** Data bytes (undefined: the object is missing or unreadable; extents are not checked again). */
  readonly dataLength: number | undefined;
  /** Merged [start, end) byte ranges the summary's writes cover (undefined: no complete summary). */
  readonly covered: Float64Array | undefined;
  readonly object: string;
}

/** Runs `fn` over `items` with at most `n` in flight. */
async function pool<T>(items: AsyncIterable<T>, n: number, fn: (x: T) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: unknown;
  for await (const x of items) {
    if (failure !== undefined) break;
    const p: Promise<void> = fn(x).catch((err: unknown) => {
      failure ??= err;
    }).finally(() => running.delete(p));
    running.add(p);
    if (running.size >= n) await Promise.race(running);
  }
  await Promise.all(running);
  if (failure !== undefined) throw failure;
}

function mergeRanges(ranges: Array<[number, number]>): Float64Array {
  ranges.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [s, e] of ranges) {
    if (out.length > 0 && s <= out[out.length - 1]!) out[out.length - 1] = Math.max(out[out.length - 1]!, e);
    else out.push(s, e);
  }
  return Float64Array.from(out);
}

function coveredBy(c: Float64Array, start: number, end: number): boolean {
  // Binary search for the last range starting at or before `start`.
  let lo = 0;
  let hi = c.length / 2 - 1;
  let at = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (c[mid * 2]! <= start) {
      at = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return at >= 0 && c[at * 2 + 1]! >= end;
}

/** Verifies that every segment and extent of `fs` is stored as recorded (read-only; the volume keeps serving). */
export async function scrub(fs: Filesystem, options: ScrubOptions = {}): Promise<ScrubReport> {
  return scrubVolume(volumeOf(fs), options);
}

/** scrub over the internals of a mounted volume (the package's own callers). */
export async function scrubVolume(v: Vol, options: ScrubOptions = {}): Promise<ScrubReport> {
  const mode = options.mode ?? 'summary';
  if (mode !== 'head' && mode !== 'summary' && mode !== 'read') throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `scrub mode ${String(mode)}`);
  const concurrency = options.concurrency ?? 4;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `scrub concurrency ${concurrency}`);
  const max = options.maxProblems ?? 10_000;
  v.checkOpen();
  const t0 = performance.now();
  const problems: ScrubProblem[] = [];
  let problemCount = 0;
  const add = (p: ScrubProblem): void => {
    problemCount++;
    if (problems.length < max) problems.push(p);
  };
  let bytesRead = 0;
  const view = v.hh.view();
  const found = new NonceMap<Found>();
  let segments = 0;
  let extents = 0;
  try {
    const total = await view.tree(TREES.segments).count();
    const tick = (phase: 'segments' | 'extents', done: number, all: number): void => {
      if (options.signal?.aborted === true) throw cairnError('CAIRN_ERR_CANCELED', 'scrub');
      if (done % 256 === 0 || done === all) options.onProgress?.({ phase, done, total: all, problems: problemCount, bytes: bytesRead, unit: phase });
    };
    const stillLive = async (nonce: bigint): Promise<boolean> => v.hh.tree(TREES.segments).has(nonceKey(nonce));
    const segs = (async function* () {
      for await (const e of view.tree(TREES.segments).range()) yield e;
    })();
    await pool(segs, concurrency, async (e) => {
      const nonce = BigInt(decodeKey(e.key)[0] as number | bigint);
      const rec = segmentCodec.decode(e.value);
      const ref = { container: rec.container, name: segmentName(nonce) };
      const object = `${ref.container}/${ref.name}`;
      const problem = (kind: ScrubProblemKind, message: string): void => add({ kind, message, nonce: nonce.toString(), object });
      let f: Found = { dataLength: undefined, covered: undefined, object };
      try {
        if (mode === 'head') {
          const info = await v.store.container(ref.container).head(ref.name);
          if (info.size < rec.size + SUMMARY_FOOTER_BYTES) problem('segment-size', `object has ${info.size} bytes, the record says ${rec.size} data bytes + a summary`);
          f = { ...f, dataLength: Math.min(rec.size, info.size) };
        } else {
          const s = await readSegmentSummary(v.store, ref);
          bytesRead += SUMMARY_FOOTER_BYTES;
          if (s.nonce !== nonce) problem('segment-size', `the summary names nonce ${s.nonce}`);
          if (s.dataLength !== rec.size) problem('segment-size', `the summary says ${s.dataLength} data bytes, the record ${rec.size}`);
          const covered = s.complete ? mergeRanges(s.entries.map((w) => [w.segmentOffset, w.segmentOffset + w.length])) : undefined;
          f = { ...f, dataLength: s.dataLength, covered };
        }
      } catch (err) {
        const missing = isCairnError(err) && err.code === 'CAIRN_ERR_OBJ_NOT_FOUND';
        if (!missing || (await stillLive(nonce))) {
          if (missing) problem('segment-missing', 'the object is not in the store');
          else if (isCairnError(err) && err.code.startsWith('CAIRN_ERR_SEG_')) problem('segment-summary', err.message);
          else throw err;
        }
      }
      found.set(nonce, f);
      segments++;
      tick('segments', segments, total);
    });
    const allExtents = await view.tree(TREES.extents).count();
    const exts = (async function* () {
      for await (const e of view.tree(TREES.extents).range()) yield e;
    })();
    await pool(exts, mode === 'read' ? concurrency : 1, async (e) => {
      const parts = decodeKey(e.key);
      const ino = parts[0] as number;
      const offset = parts[1] as number;
      const x = extentCodec.decode(e.value);
      extents++;
      tick('extents', extents, allExtents);
      const f = found.get(x.nonce);
      if (f === undefined || f.dataLength === undefined) return; // fsck's problem, or the segment's own is reported
      const end = x.segmentOffset + x.length;
      const problem = (kind: ScrubProblemKind, message: string): void => add({ kind, message, nonce: x.nonce.toString(), object: f.object, ino, offset });
      if (end > f.dataLength) {
        problem('segment-coverage', `extent reads bytes ${x.segmentOffset}..${end}, the object has ${f.dataLength} data bytes`);
        return;
      }
      if (f.covered !== undefined && !coveredBy(f.covered, x.segmentOffset, end)) {
        problem('segment-coverage', `extent reads bytes ${x.segmentOffset}..${end}, which no write in the summary covers`);
      }
      if (mode !== 'read') return;
      const [container, name] = [f.object.slice(0, f.object.indexOf('/')), f.object.slice(f.object.indexOf('/') + 1)];
      try {
        const b = await v.store.container(container).getBuffer(name, { range: { offset: x.segmentOffset, length: x.length } });
        bytesRead += b.length;
        if (b.length !== x.length) problem('segment-read', `read ${b.length} of ${x.length} bytes`);
      } catch (err) {
        if (!(await stillLive(x.nonce))) return;
        problem('segment-read', (err as Error).message);
      }
    });
  } finally {
    view.release();
  }
  return {
    ok: problemCount === 0, problems, problemCount, segments, extents, bytesRead, commitSeq: view.commitSeq,
    durationMs: Math.round(performance.now() - t0),
  };
}
