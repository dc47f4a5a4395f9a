// Pointing extents at the copies of their bytes, atomically and without
// changing what any reader sees.
//
// Segments are immutable, so an extent naming source bytes [a, b) may name the
// copy of those bytes instead, whichever file it belongs to. The rewrite runs
// in one headhunter transaction per batch of moved runs (a run: a file range
// whose extents were found naming the source). Inside the transaction every
// extent of the range is read again and rewritten only if it still names a
// source segment and its bytes were copied into segments that are durable: an
// extent a concurrent write or truncate replaced, cut or removed since is
// taken as it is now (the write wins; the copy of the bytes it replaced is
// simply dead). Live bytes move from the source to the copy in the same
// transaction (applySegmentDeltas), so the source dies in the transaction that
// drops its last reference and then waits in `deadsegs` for the deletion policy.
//
// Extent commits of the data path compute their changes outside their
// transaction (data.ts), correct only while nothing else changes the file's
// extents meanwhile. So a batch holds the gates of its inodes (in ascending
// order, like concatFiles) and first flushes any file that has pending writes:
// with the gate held no write can start, and once a file has no pending
// extents no commit of it is in progress.

import { decodeKey } from '@cairn/headhunter';
import type { Vol } from './context.js';
import type { CopyMap } from './cleaner-copy.js';
import type { LiveExtent } from './cleaner-discover.js';
import type { Throttle } from './cleaner-throttle.js';
import { TREES } from './format.js';
import { extentCodec, extentKey } from './records.js';

/** Extents per moved run, inodes and extents per transaction. */
const RUN_EXTENTS = 512;
const BATCH_INODES = 256;
const BATCH_EXTENTS = 2048;
/** Extents a run may hold at most when read again inside the transaction (splits since discovery). */
const RUN_SCAN_LIMIT = 4 * RUN_EXTENTS;

/** File range [from, to) of one inode whose extents named a source segment. */
export interface MovedRun {
  readonly ino: number;
  readonly from: number;
  readonly to: number;
  readonly count: number;
}

export interface RelocateResult {
  /** Extents rewritten (before splitting across destination segments). */
  readonly moved: number;
  /** Bytes whose references moved. */
  readonly bytes: number;
  /** Transactions committed. */
  readonly transactions: number;
  /** Files flushed first because they had pending writes. */
  readonly flushed: number;
}

/** Moved runs of the found extents: per inode in file order, at most RUN_EXTENTS each. */
export function movedRuns(extents: Iterable<LiveExtent>): MovedRun[] {
  const byIno = new Map<number, LiveExtent[]>();
  for (const e of extents) {
    let l = byIno.get(e.ino);
    if (l === undefined) byIno.set(e.ino, (l = []));
    l.push(e);
  }
  const out: MovedRun[] = [];
  for (const ino of [...byIno.keys()].sort((a, b) => a - b)) {
    const list = byIno.get(ino)!.sort((a, b) => a.fileOffset - b.fileOffset);
    for (let i = 0; i < list.length; i += RUN_EXTENTS) {
      const chunk = list.slice(i, i + RUN_EXTENTS);
      const last = chunk[chunk.length - 1]!;
      out.push({ ino, from: chunk[0]!.fileOffset, to: last.fileOffset + last.length, count: chunk.length });
    }
  }
  return out;
}

/** Runs fn holding the gates of `inos` (ascending order: no deadlock with concatFiles). */
async function withGates<T>(v: Vol, inos: readonly number[], fn: () => Promise<T>): Promise<T> {
  const sorted = [...new Set(inos)].sort((a, b) => a - b);
  const run = (i: number): Promise<T> => (i === sorted.length ? fn() : v.gate.run(sorted[i]!, () => run(i + 1)));
  return run(0);
}

/**
 * Rewrites the extents of `runs` that still name a segment of `maps` to name
 * the durable copies instead. Batches of runs, one transaction each.
 */
export async function relocate(
  v: Vol, runs: readonly MovedRun[], maps: ReadonlyMap<bigint, CopyMap>, durable: ReadonlySet<bigint>, throttle: Throttle,
): Promise<RelocateResult> {
  let moved = 0;
  let bytes = 0;
  let transactions = 0;
  let flushed = 0;
  for (let i = 0; i < runs.length;) {
    const batch: MovedRun[] = [];
    const inos = new Set<number>();
    let n = 0;
    while (i < runs.length) {
      const r = runs[i]!;
      if (batch.length > 0 && (n + r.count > BATCH_EXTENTS || (!inos.has(r.ino) && inos.size >= BATCH_INODES))) break;
      batch.push(r);
      inos.add(r.ino);
      n += r.count;
      i++;
    }
    throttle.check('segment cleaning');
    v.checkOpen();
    const got = await withGates(v, [...inos], async () => {
      let f = 0;
      for (const ino of inos) {
        if (v.writer.pendingExtents(BigInt(ino)).length === 0) continue;
        f++;
        // A failure is the file's own (its writes are lost and its next fsync says so); the commit is over either way.
        await v.writer.flush(BigInt(ino)).catch(() => {});
      }
      const ready = batch.filter((r) => v.writer.pendingExtents(BigInt(r.ino)).length === 0);
      const res = await v.tx((t) => {
        const deltas = new Map<bigint, number>();
        const add = (nonce: bigint, d: number): void => {
          deltas.set(nonce, (deltas.get(nonce) ?? 0) + d);
        };
        const changed = new Set<number>();
        let m = 0;
        let b = 0;
        for (const r of ready) {
          const rows = t.tx.scan(TREES.extents, { gte: extentKey(r.ino, r.from), lt: extentKey(r.ino, r.to), limit: RUN_SCAN_LIMIT });
          for (const row of rows) {
            const e = extentCodec.decode(row.value);
            const parts = maps.get(e.nonce)?.translate(e.segmentOffset, e.length, durable);
            if (parts === undefined) continue;
            let at = decodeKey(row.key)[1] as number;
            for (const p of parts) {
              t.tx.put(TREES.extents, extentKey(r.ino, at), extentCodec.encode({ nonce: p.nonce, segmentOffset: p.segmentOffset, length: p.length }));
              add(p.nonce, p.length);
              at += p.length;
            }
            add(e.nonce, -e.length);
            changed.add(r.ino);
            m++;
            b += e.length;
          }
        }
        t.applySegmentDeltas(deltas);
        return { moved: m, bytes: b, changed: [...changed] };
      });
      for (const ino of res.changed) v.bumpExtents(ino);
      return { ...res, flushed: f };
    });
    moved += got.moved;
    bytes += got.bytes;
    flushed += got.flushed;
    if (got.moved > 0) transactions++;
  }
  return { moved, bytes, transactions, flushed };
}
