import { describe, expect, it } from 'vitest';
import { chooseSegmentsToClean, cleaningScore } from './cleaner.js';

const seg = (nonce: number, size: number, liveBytes: number, ageMs: number) => ({ nonce: BigInt(nonce), size, liveBytes, ageMs });

describe('cleaningScore', () => {
  it('is Sprite LFS (1-u)·age/(1+u)', () => {
    expect(cleaningScore(0.5, 1000)).toBeCloseTo((0.5 * 1000) / 1.5);
    expect(cleaningScore(1, 1000)).toBe(0);
    expect(cleaningScore(0, 1000)).toBe(1000);
  });
});

describe('chooseSegmentsToClean', () => {
  it('deletes empty segments first, then compacts by descending benefit/cost', () => {
    const out = chooseSegmentsToClean([
      seg(1, 100, 50, 1000), // (0.5*1000)/1.5 = 333
      seg(2, 100, 0, 10), // empty
      seg(3, 100, 10, 200), // (0.9*200)/1.1 = 163
      seg(4, 100, 20, 5000), // (0.8*5000)/1.2 = 3333
      seg(5, 100, 90, 1e9), // above maxUtilization
    ]);
    expect(out.map((c) => [Number(c.nonce), c.action])).toEqual([
      [2, 'delete'],
      [4, 'compact'],
      [1, 'compact'],
      [3, 'compact'],
    ]);
    expect(out[0]!.score).toBe(Infinity);
    expect(out[1]!.utilization).toBeCloseTo(0.2);
  });

  it('prefers a cold half-full segment over a young nearly empty one when the age gap is large', () => {
    const out = chooseSegmentsToClean([seg(1, 100, 10, 100), seg(2, 100, 50, 100_000)]);
    expect(out.map((c) => Number(c.nonce))).toEqual([2, 1]);
  });

  it('respects maxSegments, maxCopyBytes and minAgeMs', () => {
    const segs = [seg(1, 100, 60, 1000), seg(2, 100, 30, 1000), seg(3, 100, 0, 1000), seg(4, 100, 10, 5)];
    expect(chooseSegmentsToClean(segs, { maxSegments: 2 }).map((c) => Number(c.nonce))).toEqual([3, 2]);
    // scores: 2 -> 538, 1 -> 250, 4 -> 4.1; 1 does not fit the copy budget after 2, 4 still does
    expect(chooseSegmentsToClean(segs, { maxCopyBytes: 45 }).map((c) => Number(c.nonce))).toEqual([3, 2, 4]);
    expect(chooseSegmentsToClean(segs, { minAgeMs: 10 }).map((c) => Number(c.nonce))).toEqual([3, 2, 1]);
    const copied = chooseSegmentsToClean(segs, { maxCopyBytes: 45 }).reduce((n, c) => n + c.liveBytes, 0);
    expect(copied).toBeLessThanOrEqual(45);
  });

  it('refuses inconsistent accounting', () => {
    expect(() => chooseSegmentsToClean([seg(1, 10, 11, 0)])).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_INVALID_ARGUMENT' }));
    expect(() => chooseSegmentsToClean([seg(1, 10, 1, -1)])).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_INVALID_ARGUMENT' }));
    expect(() => chooseSegmentsToClean([], { maxUtilization: 2 })).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_INVALID_ARGUMENT' }));
  });
});
