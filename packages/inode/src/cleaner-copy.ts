// Copying the live bytes of a segment into new segments.
//
// The live extents of a source segment are turned into copy units: runs of
// source bytes [start, end) that some extent references, overlapping
// references (shared extents) merged so that every byte is copied once. The
// units are read with ranged GETs (neighbours closer than a gap are read
// together, at most a span at a time, one span read ahead) and appended to the
// cleaner's segment writer under the inode and file offset of the extent that
// starts the unit, so the new segment's summary points the next cleaning of it
// at the right files. The CopyMap records where each source range landed; the
// relocation step rewrites extents through it once the new segments are durable.

import type { SegmentWriter } from '@cairn/segments';
import { segmentName } from '@cairn/segments';
import type { ObjectStore } from '@cairn/objstore';
import { cairnError } from '@cairn/errors';
import type { LiveExtent } from './cleaner-discover.js';
import type { Throttle } from './cleaner-throttle.js';

/** Largest read, and largest write handed to the writer (bytes). */
export const COPY_SPAN_BYTES = 1024 * 1024;
/** Units closer than this are read with one GET (the dead bytes between them are read and dropped). */
export const COPY_GAP_BYTES = 64 * 1024;

/** Source bytes [start, end) to copy, filed under the inode and file offset of the extent at `start`. */
export interface CopyUnit {
  readonly start: number;
  readonly end: number;
  readonly ino: number;
  readonly fileOffset: number;
}

/** Part of a destination: `length` bytes at segmentOffset of segment `nonce`. */
export interface CopyPart {
  readonly nonce: bigint;
  readonly segmentOffset: number;
  readonly length: number;
}

interface Piece extends CopyPart {
  /** Source offset of the first byte. */
  readonly start: number;
}

/** Where the copied bytes of one source segment went. Source ranges are recorded in ascending order. */
export class CopyMap {
  private readonly pieces: Piece[] = [];

  /** Records that source bytes [start, +length) are at segmentOffset of `nonce`. */
  add(start: number, length: number, nonce: bigint, segmentOffset: number): void {
    const last = this.pieces[this.pieces.length - 1];
    if (last !== undefined && start < last.start + last.length) {
      throw cairnError('CAIRN_ERR_INTERNAL', `cleaner copy map: source ${start} recorded out of order`);
    }
    if (last !== undefined && last.nonce === nonce && last.start + last.length === start && last.segmentOffset + last.length === segmentOffset) {
      this.pieces[this.pieces.length - 1] = { ...last, length: last.length + length };
      return;
    }
    this.pieces.push({ start, length, nonce, segmentOffset });
  }

  /** Source bytes copied (durable or not). */
  get bytes(): number {
    let n = 0;
    for (const p of this.pieces) n += p.length;
    return n;
  }

  /**
   * Where source bytes [start, +length) are now, in order: undefined unless
   * every byte was copied into a segment in `durable`.
   */
  translate(start: number, length: number, durable: ReadonlySet<bigint>): CopyPart[] | undefined {
    const p = this.pieces;
    let lo = 0;
    let hi = p.length - 1;
    let i = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (p[mid]!.start <= start) {
        i = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (i < 0) return undefined;
    const out: CopyPart[] = [];
    let at = start;
    const end = start + length;
    for (; at < end; i++) {
      const piece = p[i];
      if (piece === undefined || piece.start > at || piece.start + piece.length <= at || !durable.has(piece.nonce)) return undefined;
      const skip = at - piece.start;
      const n = Math.min(end - at, piece.length - skip);
      const prev = out[out.length - 1];
      if (prev !== undefined && prev.nonce === piece.nonce && prev.segmentOffset + prev.length === piece.segmentOffset + skip) {
        out[out.length - 1] = { ...prev, length: prev.length + n };
      } else {
        out.push({ nonce: piece.nonce, segmentOffset: piece.segmentOffset + skip, length: n });
      }
      at += n;
    }
    return out;
  }
}

/** The copy units of a segment's live extents, in source order; overlapping references make one unit. */
export function copyUnits(extents: readonly LiveExtent[]): CopyUnit[] {
  const sorted = [...extents].sort((a, b) => a.segmentOffset - b.segmentOffset || b.length - a.length);
  const out: CopyUnit[] = [];
  let cur: { start: number; end: number; ino: number; fileOffset: number } | undefined;
  for (const e of sorted) {
    const end = e.segmentOffset + e.length;
    if (cur !== undefined && e.segmentOffset < cur.end) {
      cur.end = Math.max(cur.end, end);
      continue;
    }
    if (cur !== undefined) out.push(cur);
    cur = { start: e.segmentOffset, end, ino: e.ino, fileOffset: e.fileOffset };
  }
  if (cur !== undefined) out.push(cur);
  return out;
}

/** One ranged read and the unit parts it serves. */
export interface ReadSpan {
  readonly start: number;
  readonly end: number;
  readonly parts: ReadonlyArray<{ readonly unit: CopyUnit; readonly from: number; readonly to: number }>;
}

/** Groups units into reads of at most maxSpan bytes, joining neighbours closer than maxGap. */
export function readSpans(units: readonly CopyUnit[], maxSpan = COPY_SPAN_BYTES, maxGap = COPY_GAP_BYTES): ReadSpan[] {
  const out: ReadSpan[] = [];
  let cur: { start: number; end: number; parts: Array<{ unit: CopyUnit; from: number; to: number }> } | undefined;
  for (const unit of units) {
    for (let from = unit.start; from < unit.end; from += maxSpan) {
      const to = Math.min(unit.end, from + maxSpan);
      if (cur !== undefined && from - cur.end <= maxGap && to - cur.start <= maxSpan) {
        cur.end = to;
        cur.parts.push({ unit, from, to });
        continue;
      }
      if (cur !== undefined) out.push(cur);
      cur = { start: from, end: to, parts: [{ unit, from, to }] };
    }
  }
  if (cur !== undefined) out.push(cur);
  return out;
}

/** What copySource needs. */
export interface CopyContext {
  readonly store: ObjectStore;
  readonly writer: SegmentWriter;
  readonly throttle: Throttle;
  /** Called after each span: source bytes read, live bytes handed to the writer. */
  readonly onCopied: (read: number, copied: number) => void;
}

/**
 * Copies the units of one source segment into the writer and records each
 * destination in `map`. Resolves when the writer holds every byte (the new
 * segments are durable only after the writer's flush). Each read waits for
 * the throttle first (read bytes count), so pause and cancel act between reads.
 */
export async function copySource(
  c: CopyContext, source: { readonly nonce: bigint; readonly container: string }, units: readonly CopyUnit[], map: CopyMap,
): Promise<void> {
  const spans = readSpans(units);
  const obj = c.store.container(source.container);
  const name = segmentName(source.nonce);
  const fetch = async (s: ReadSpan): Promise<Buffer> => {
    await c.throttle.take(s.end - s.start, 'segment cleaning');
    const buf = await obj.getBuffer(name, { range: { offset: s.start, length: s.end - s.start } });
    if (buf.length !== s.end - s.start) {
      throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${source.container}/${name}: read ${buf.length} bytes at ${s.start}, wanted ${s.end - s.start}`);
    }
    return buf;
  };
  let next: Promise<Buffer> | undefined = spans.length > 0 ? fetch(spans[0]!) : undefined;
  try {
    for (let i = 0; i < spans.length; i++) {
      const span = spans[i]!;
      const buf = await next!;
      next = i + 1 < spans.length ? fetch(spans[i + 1]!) : undefined;
      let copied = 0;
      for (const part of span.parts) {
        const data = buf.subarray(part.from - span.start, part.to - span.start);
        const loc = await c.writer.write(BigInt(part.unit.ino), data, { fileOffset: part.unit.fileOffset + (part.from - part.unit.start) });
        let at = part.from;
        for (const p of loc.pieces) {
          map.add(at, p.length, p.segment.nonce, p.segmentOffset);
          at += p.length;
        }
        copied += data.length;
      }
      c.onCopied(span.end - span.start, copied);
    }
  } finally {
    next?.catch(() => {});
  }
}
