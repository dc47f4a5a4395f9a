// Which segments the cleaner should work on, by Sprite LFS cost-benefit:
// cleaning a segment of utilization u reads it (1) and writes its live part (u)
// to free (1-u); the freed space is worth more the colder (older) the data, so
// benefit/cost = (1-u)·age / (1+u). Empty segments need no copying: they are
// deleted first. Pure: the caller supplies the per-segment accounting.

import { cairnError } from '@cairn/errors';
import type { CleanChoice, CleanerOptions, SegmentUsage } from './types.js';

/** Sprite LFS benefit/cost of cleaning a segment of utilization u and age ageMs. */
export function cleaningScore(utilization: number, ageMs: number): number {
  return ((1 - utilization) * ageMs) / (1 + utilization);
}

function checkUsage(s: SegmentUsage): void {
  const ok =
    typeof s.nonce === 'bigint' &&
    Number.isSafeInteger(s.size) && s.size >= 0 &&
    Number.isSafeInteger(s.liveBytes) && s.liveBytes >= 0 && s.liveBytes <= s.size &&
    Number.isFinite(s.ageMs) && s.ageMs >= 0;
  if (!ok) {
    throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `segment usage ${String(s.nonce)}: size ${s.size}, live ${s.liveBytes}, age ${s.ageMs}`);
  }
}

/**
 * The segments to clean, best first: every segment with no live bytes
 * (action 'delete', oldest first), then segments below maxUtilization by
 * descending score (action 'compact'), within maxSegments and maxCopyBytes.
 * A compaction that would exceed maxCopyBytes is skipped; smaller ones after it
 * may still fit.
 */
export function chooseSegmentsToClean(segments: readonly SegmentUsage[], options: CleanerOptions = {}): CleanChoice[] {
  const maxSegments = options.maxSegments ?? Infinity;
  const maxCopyBytes = options.maxCopyBytes ?? Infinity;
  const maxUtilization = options.maxUtilization ?? 0.8;
  const minAgeMs = options.minAgeMs ?? 0;
  if (!(maxSegments >= 0) || !(maxCopyBytes >= 0) || !(maxUtilization >= 0 && maxUtilization <= 1) || !(minAgeMs >= 0)) {
    throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'cleaner options out of range');
  }
  const empty: CleanChoice[] = [];
  const partial: CleanChoice[] = [];
  const ages = new Map<bigint, number>();
  for (const s of segments) {
    checkUsage(s);
    if (s.ageMs < minAgeMs) continue;
    ages.set(s.nonce, s.ageMs);
    if (s.liveBytes === 0) {
      empty.push({ nonce: s.nonce, action: 'delete', utilization: 0, score: Infinity, liveBytes: 0 });
      continue;
    }
    const u = s.liveBytes / s.size;
    if (u >= maxUtilization) continue;
    partial.push({ nonce: s.nonce, action: 'compact', utilization: u, score: cleaningScore(u, s.ageMs), liveBytes: s.liveBytes });
  }
  empty.sort((a, b) => ages.get(b.nonce)! - ages.get(a.nonce)! || cmpNonce(a.nonce, b.nonce));
  partial.sort((a, b) => b.score - a.score || a.utilization - b.utilization || cmpNonce(a.nonce, b.nonce));
  const out: CleanChoice[] = [];
  for (const c of empty) {
    if (out.length >= maxSegments) return out;
    out.push(c);
  }
  let copy = 0;
  for (const c of partial) {
    if (out.length >= maxSegments) break;
    if (copy + c.liveBytes > maxCopyBytes) continue;
    copy += c.liveBytes;
    out.push(c);
  }
  return out;
}

function cmpNonce(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
