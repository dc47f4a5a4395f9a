// Extent maps: per file, fileOffset -> { segment nonce, segmentOffset, length },
// kept in any OrderedMap. Extents never overlap; a byte with no extent is a hole
// and reads as zero. Every change reports the live-byte delta per segment so the
// caller can update per-segment space accounting in the same metadata batch.

import { cairnError } from '@cairn/errors';
import { createMemoryOrderedMap } from './ordered-map.js';
import type { Extent, ExtentMap, ExtentValue, SegmentDeltas, WriteLocation } from './types.js';

function checkRange(offset: number, length: number, what: string): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 || !Number.isSafeInteger(offset + length)) {
    throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `${what}: offset ${offset}, length ${length}`);
  }
}

function addDelta(deltas: SegmentDeltas, nonce: bigint, n: number): void {
  const v = (deltas.get(nonce) ?? 0) + n;
  if (v === 0) deltas.delete(nonce);
  else deltas.set(nonce, v);
}

/** Adds every delta of `from` into `into` (returns into). */
export function mergeDeltas(into: SegmentDeltas, from: SegmentDeltas): SegmentDeltas {
  for (const [nonce, n] of from) addDelta(into, nonce, n);
  return into;
}

/**
 * Removes the bytes [offset, offset+length) from the map (a hole punch):
 * extents inside go, extents crossing an edge are trimmed or split.
 * length may be Infinity (everything from offset on).
 */
export async function clearRange(map: ExtentMap, offset: number, length: number): Promise<SegmentDeltas> {
  if (length !== Infinity) checkRange(offset, length, 'clearRange');
  else checkRange(offset, 0, 'clearRange');
  const deltas: SegmentDeltas = new Map();
  if (length === 0) return deltas;
  const end = offset + length;
  const f = await map.floor(offset);
  if (f && f[0] < offset) {
    const [k, v] = f;
    const vEnd = k + v.length;
    if (vEnd > offset) {
      await map.put(k, { nonce: v.nonce, segmentOffset: v.segmentOffset, length: offset - k });
      if (vEnd > end) {
        await map.put(end, { nonce: v.nonce, segmentOffset: v.segmentOffset + (end - k), length: vEnd - end });
        addDelta(deltas, v.nonce, -length);
        return deltas;
      }
      addDelta(deltas, v.nonce, -(vEnd - offset));
    }
  }
  for (const [k, v] of await map.scan(offset, end)) {
    const vEnd = k + v.length;
    await map.delete(k);
    if (vEnd > end) {
      await map.put(end, { nonce: v.nonce, segmentOffset: v.segmentOffset + (end - k), length: vEnd - end });
      addDelta(deltas, v.nonce, -(end - k));
    } else {
      addDelta(deltas, v.nonce, -v.length);
    }
  }
  return deltas;
}

/**
 * Records that file bytes [fileOffset, fileOffset+length) now live in segment
 * `location.nonce` at `location.segmentOffset`. Older extents under the range are
 * trimmed, split or removed; the new extent merges with a neighbour that is
 * contiguous in the same segment.
 */
export async function applyWrite(
  map: ExtentMap,
  fileOffset: number,
  length: number,
  location: { readonly nonce: bigint; readonly segmentOffset: number },
): Promise<SegmentDeltas> {
  checkRange(fileOffset, length, 'applyWrite');
  checkRange(location.segmentOffset, length, 'applyWrite segment');
  const deltas = await clearRange(map, fileOffset, length);
  if (length === 0) return deltas;
  const { nonce, segmentOffset } = location;
  const end = fileOffset + length;
  let key = fileOffset;
  let value: ExtentValue = { nonce, segmentOffset, length };
  if (fileOffset > 0) {
    const left = await map.floor(fileOffset - 1);
    if (left && left[0] + left[1].length === fileOffset && left[1].nonce === nonce && left[1].segmentOffset + left[1].length === segmentOffset) {
      key = left[0];
      value = { nonce, segmentOffset: left[1].segmentOffset, length: left[1].length + length };
    }
  }
  const right = await map.floor(end);
  if (right && right[0] === end && right[1].nonce === nonce && right[1].segmentOffset === segmentOffset + length) {
    await map.delete(end);
    value = { nonce, segmentOffset: value.segmentOffset, length: value.length + right[1].length };
  }
  await map.put(key, value);
  addDelta(deltas, nonce, length);
  return deltas;
}

/** applyWrite for every piece of a write made at fileOffset, in order. */
export async function applyWriteLocation(map: ExtentMap, fileOffset: number, location: WriteLocation): Promise<SegmentDeltas> {
  const deltas: SegmentDeltas = new Map();
  let at = fileOffset;
  for (const p of location.pieces) {
    mergeDeltas(deltas, await applyWrite(map, at, p.length, { nonce: p.segment.nonce, segmentOffset: p.segmentOffset }));
    at += p.length;
  }
  return deltas;
}

/**
 * Cuts the file to newSize: extents past it go, one crossing it is trimmed.
 * Growing a file changes nothing here (the new bytes are a hole); the file size
 * itself is the inode's.
 */
export async function truncate(map: ExtentMap, newSize: number): Promise<SegmentDeltas> {
  checkRange(newSize, 0, 'truncate');
  return clearRange(map, newSize, Infinity);
}

/**
 * The extents covering [offset, offset+length), clipped to it, in file order.
 * Holes are absent from the list. Throws CAIRN_ERR_SEG_EXTENTS_CORRUPT if the
 * map holds overlapping extents.
 */
export async function lookup(map: ExtentMap, offset: number, length: number): Promise<Extent[]> {
  checkRange(offset, length, 'lookup');
  const out: Extent[] = [];
  if (length === 0) return out;
  const end = offset + length;
  const f = await map.floor(offset);
  if (f && f[0] < offset && f[0] + f[1].length > offset) {
    const [k, v] = f;
    const from = offset;
    const to = Math.min(end, k + v.length);
    out.push({ fileOffset: from, nonce: v.nonce, segmentOffset: v.segmentOffset + (from - k), length: to - from });
  }
  for (const [k, v] of await map.scan(offset, end)) {
    const last = out[out.length - 1];
    if (last && last.fileOffset + last.length > k) {
      throw cairnError('CAIRN_ERR_SEG_EXTENTS_CORRUPT', `extent at ${k} overlaps the one at ${last.fileOffset}`);
    }
    if (v.length <= 0) throw cairnError('CAIRN_ERR_SEG_EXTENTS_CORRUPT', `extent at ${k} has length ${v.length}`);
    out.push({ fileOffset: k, nonce: v.nonce, segmentOffset: v.segmentOffset, length: Math.min(end, k + v.length) - k });
  }
  return out;
}

/**
 * The extents of a file as readers see them: `durable` (from the extent map)
 * with `pending` (the writer's pendingExtents, oldest first) laid over it.
 * Both inputs in file order for durable, write order for pending.
 */
export async function overlayExtents(durable: readonly Extent[], pending: readonly Extent[]): Promise<Extent[]> {
  if (pending.length === 0) return [...durable];
  const map = createMemoryOrderedMap<ExtentValue>();
  let lo = Infinity;
  let hi = 0;
  for (const e of durable) {
    await map.put(e.fileOffset, { nonce: e.nonce, segmentOffset: e.segmentOffset, length: e.length });
    lo = Math.min(lo, e.fileOffset);
    hi = Math.max(hi, e.fileOffset + e.length);
  }
  for (const e of pending) {
    await applyWrite(map, e.fileOffset, e.length, e);
    lo = Math.min(lo, e.fileOffset);
    hi = Math.max(hi, e.fileOffset + e.length);
  }
  return hi > lo ? lookup(map, lo, hi - lo) : [];
}
