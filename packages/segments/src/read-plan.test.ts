import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { segmentLocator, segmentName } from './names.js';
import { planLength, readPlan } from './read-plan.js';
import type { Extent } from './types.js';

const locate = segmentLocator(['data-0', 'data-1']);
const ext = (fileOffset: number, nonce: number, segmentOffset: number, length: number): Extent => ({ fileOffset, nonce: BigInt(nonce), segmentOffset, length });

describe('readPlan', () => {
  it('covers the range with data steps and zero-filled holes', () => {
    const plan = readPlan([ext(10, 1, 100, 10), ext(30, 2, 0, 10)], 0, 50, 45, locate);
    expect(plan).toEqual([
      { fileOffset: 0, zero: 10 },
      { fileOffset: 10, nonce: 1n, container: 'data-1', object: segmentName(1n), segmentOffset: 100, length: 10 },
      { fileOffset: 20, zero: 10 },
      { fileOffset: 30, nonce: 2n, container: 'data-0', object: segmentName(2n), segmentOffset: 0, length: 10 },
      { fileOffset: 40, zero: 5 },
    ]);
    expect(planLength(plan)).toBe(45);
  });

  it('clips extents that start before or end after the range', () => {
    const plan = readPlan([ext(0, 1, 0, 100)], 20, 10, 100, locate);
    expect(plan).toEqual([{ fileOffset: 20, nonce: 1n, container: 'data-1', object: segmentName(1n), segmentOffset: 20, length: 10 }]);
  });

  it('merges steps contiguous in one segment', () => {
    const plan = readPlan([ext(0, 1, 0, 10), ext(10, 1, 10, 10), ext(20, 1, 50, 10)], 0, 30, 30, locate);
    expect(plan.map((s) => ('zero' in s ? ['z', s.zero] : [s.segmentOffset, s.length]))).toEqual([[0, 20], [50, 10]]);
  });

  it('gives an empty plan at or past the end of the file', () => {
    expect(readPlan([ext(0, 1, 0, 10)], 10, 5, 10, locate)).toEqual([]);
    expect(readPlan([], 100, 5, 10, locate)).toEqual([]);
    expect(readPlan([], 0, 0, 10, locate)).toEqual([]);
  });

  it('refuses overlapping extents and bad arguments', () => {
    expect(() => readPlan([ext(0, 1, 0, 10), ext(5, 1, 0, 10)], 0, 20, 20, locate)).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_SEG_EXTENTS_CORRUPT' }));
    expect(() => readPlan([], -1, 1, 1, locate)).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_INVALID_ARGUMENT' }));
  });

  it('every byte of [offset, min(offset+length, size)) maps to its extent byte or zero', () => {
    const extentsArb = fc.array(fc.record({ gap: fc.nat(10), len: fc.integer({ min: 1, max: 10 }), nonce: fc.integer({ min: 1, max: 3 }), segOff: fc.nat(50) }), { maxLength: 10 });
    fc.assert(
      fc.property(extentsArb, fc.nat(120), fc.nat(120), fc.nat(150), (raw, offset, length, size) => {
        const extents: Extent[] = [];
        let at = 0;
        for (const r of raw) {
          at += r.gap;
          extents.push(ext(at, r.nonce, r.segOff, r.len));
          at += r.len;
        }
        const plan = readPlan(extents, offset, length, size, locate);
        const end = Math.min(offset + length, size);
        expect(planLength(plan)).toBe(Math.max(0, end - offset));
        let pos = offset;
        for (const s of plan) {
          expect(s.fileOffset).toBe(pos);
          const n = 'zero' in s ? s.zero : s.length;
          expect(n).toBeGreaterThan(0);
          for (let i = 0; i < n; i++) {
            const e = extents.find((x) => x.fileOffset <= pos + i && pos + i < x.fileOffset + x.length);
            if ('zero' in s) expect(e).toBeUndefined();
            else expect([e?.nonce, e ? e.segmentOffset + (pos + i - e.fileOffset) : -1]).toEqual([s.nonce, s.segmentOffset + i]);
          }
          pos += n;
        }
        for (let i = 1; i < plan.length; i++) expect('zero' in plan[i]! && 'zero' in plan[i - 1]!).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
