// Which extents still reference a segment the cleaner is about to compact.
//
// Fast path: the segment's summary trailer lists the file ranges it was
// written for (inode, file offset, length); the extents derived from a write
// keep their inode and start inside its file range (overwrites, truncates and
// splits only shorten or cut them), so scanning those ranges of the files'
// extent maps finds them. Shared extents (cloneFile, concatFiles) live under
// other inodes and offsets, and segments stored by the direct data path may
// list other keys or nothing; so the fast path is trusted only when the bytes
// it found add up exactly to the segment's live bytes in the same read view
// (accounting is exact: live = the sum of the lengths of the extents naming
// the segment). Otherwise one scan over every extent collects the references
// of all the remaining segments at once.

import { decodeKey, encodeKey, type ReadView } from '@cairn/headhunter';
import { readSegmentSummary, segmentName } from '@cairn/segments';
import type { Vol } from './context.js';
import { TREES } from './format.js';
import { extentCodec, extentKey } from './records.js';

/** One extent that references a segment being cleaned (as of one read view). */
export interface LiveExtent {
  readonly ino: number;
  readonly fileOffset: number;
  readonly segmentOffset: number;
  readonly length: number;
}

/** A segment to find the references of: its record as the view shows it. */
export interface DiscoverTarget {
  readonly nonce: bigint;
  readonly container: string;
  /** Live bytes of the segment record in the same view. */
  readonly live: number;
}

export interface DiscoverResult {
  /** References per segment (every target has an entry). */
  readonly extents: Map<bigint, LiveExtent[]>;
  /** Segments whose summary accounted for every live byte. */
  readonly bySummary: number;
  /** True when the whole extent tree was scanned. */
  readonly scanned: boolean;
}

/**
 * Finds every extent naming one of `targets` in `view`. With useSummaries,
 * each segment's summary is tried first (see the file comment).
 */
export async function findLiveExtents(
  v: Vol, view: ReadView, targets: readonly DiscoverTarget[], useSummaries = true,
): Promise<DiscoverResult> {
  const extents = new Map<bigint, LiveExtent[]>();
  const rest = new Map<bigint, DiscoverTarget>();
  let bySummary = 0;
  for (const t of targets) {
    extents.set(t.nonce, []);
    if (t.live === 0) continue;
    const found = useSummaries ? await fromSummary(v, view, t) : undefined;
    if (found !== undefined) {
      extents.set(t.nonce, found);
      bySummary++;
    } else {
      rest.set(t.nonce, t);
    }
  }
  if (rest.size === 0) return { extents, bySummary, scanned: false };
  for await (const e of view.tree(TREES.extents).range()) {
    const val = extentCodec.decode(e.value);
    if (!rest.has(val.nonce)) continue;
    const [ino, off] = decodeKey(e.key) as [number, number];
    extents.get(val.nonce)!.push({ ino, fileOffset: off, segmentOffset: val.segmentOffset, length: val.length });
  }
  return { extents, bySummary, scanned: true };
}

/** The references of one segment found through its summary, or undefined when they do not add up to its live bytes. */
async function fromSummary(v: Vol, view: ReadView, t: DiscoverTarget): Promise<LiveExtent[] | undefined> {
  let entries;
  try {
    const s = await readSegmentSummary(v.store, { container: t.container, name: segmentName(t.nonce) });
    if (!s.complete || s.nonce !== t.nonce) return undefined;
    entries = s.entries;
  } catch (err) {
    v.logger.debug({ err, nonce: t.nonce }, 'cleaner: no usable segment summary; scanning the extents');
    return undefined;
  }
  // File ranges per inode, merged.
  const ranges = new Map<number, Array<[number, number]>>();
  for (const w of entries) {
    if (typeof w.fileKey !== 'bigint' || w.fileOffset === undefined || w.fileKey > BigInt(Number.MAX_SAFE_INTEGER)) continue;
    const ino = Number(w.fileKey);
    let l = ranges.get(ino);
    if (l === undefined) ranges.set(ino, (l = []));
    l.push([w.fileOffset, w.fileOffset + w.length]);
  }
  const out: LiveExtent[] = [];
  let sum = 0;
  const tree = view.tree(TREES.extents);
  for (const [ino, list] of ranges) {
    list.sort((a, b) => a[0] - b[0]);
    const merged: Array<[number, number]> = [];
    for (const r of list) {
      const last = merged[merged.length - 1];
      if (last !== undefined && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    for (const [from, to] of merged) {
      // Common case: one extent, untouched since it was written, covers the range.
      const first = await tree.get(extentKey(ino, from));
      if (first !== undefined) {
        const val = extentCodec.decode(first);
        if (from + val.length === to) {
          if (val.nonce === t.nonce) {
            out.push({ ino, fileOffset: from, segmentOffset: val.segmentOffset, length: val.length });
            sum += val.length;
          }
          continue;
        }
      }
      for await (const e of tree.range({ gte: extentKey(ino, from), lt: to >= Number.MAX_SAFE_INTEGER ? encodeKey([ino + 1]) : extentKey(ino, to) })) {
        const val = extentCodec.decode(e.value);
        if (val.nonce !== t.nonce) continue;
        const off = decodeKey(e.key)[1] as number;
        out.push({ ino, fileOffset: off, segmentOffset: val.segmentOffset, length: val.length });
        sum += val.length;
      }
    }
  }
  return sum === t.live ? out : undefined;
}
