// Read plans: which segment byte ranges (and which zero-filled holes) make up a
// byte range of a file. The same plan serves reads through the read cache and
// the object API's "give me the plan" GET.

import { cairnError } from '@cairn/errors';
import type { DataStep, Extent, ReadStep, SegmentLocator } from './types.js';

/**
 * The steps covering exactly [offset, min(offset+length, fileSize)) of a file,
 * in order: data steps from `extents` (file order, non-overlapping; they may
 * extend past the range and are clipped) and zero steps for holes. Adjacent
 * steps that continue each other (same segment, contiguous; or two holes) are
 * merged. Extents past fileSize are ignored. An offset at or past the end gives
 * an empty plan.
 */
export function readPlan(
  extents: readonly Extent[],
  offset: number,
  length: number,
  fileSize: number,
  locate: SegmentLocator,
): ReadStep[] {
  for (const [what, v] of [['offset', offset], ['length', length], ['fileSize', fileSize]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `readPlan ${what} ${v}`);
  }
  const end = Math.min(offset + length, fileSize);
  const steps: ReadStep[] = [];
  if (end <= offset) return steps;
  let at = offset;
  let prevEnd = -1;
  const zero = (n: number): void => {
    const last = steps[steps.length - 1];
    if (last && 'zero' in last) steps[steps.length - 1] = { fileOffset: last.fileOffset, zero: last.zero + n };
    else steps.push({ fileOffset: at, zero: n });
    at += n;
  };
  for (const e of extents) {
    if (e.fileOffset < prevEnd) {
      throw cairnError('CAIRN_ERR_SEG_EXTENTS_CORRUPT', `extent at ${e.fileOffset} overlaps or precedes the one ending at ${prevEnd}`);
    }
    prevEnd = e.fileOffset + e.length;
    const from = Math.max(e.fileOffset, at);
    const to = Math.min(prevEnd, end);
    if (to <= from) {
      if (e.fileOffset >= end) break;
      continue;
    }
    if (from > at) zero(from - at);
    const segmentOffset = e.segmentOffset + (from - e.fileOffset);
    const last = steps[steps.length - 1];
    if (last && !('zero' in last) && last.nonce === e.nonce && last.segmentOffset + last.length === segmentOffset) {
      steps[steps.length - 1] = { ...last, length: last.length + (to - from) };
    } else {
      const ref = locate(e.nonce);
      const step: DataStep = { fileOffset: from, nonce: e.nonce, container: ref.container, object: ref.name, segmentOffset, length: to - from };
      steps.push(step);
    }
    at = to;
  }
  if (at < end) zero(end - at);
  return steps;
}

/** Bytes a plan yields. */
export function planLength(plan: readonly ReadStep[]): number {
  let n = 0;
  for (const s of plan) n += 'zero' in s ? s.zero : s.length;
  return n;
}
