import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRange } from './ranges.js';

describe('parseRange', () => {
  it('parses single, open, suffix and multiple ranges, clipped to the object', () => {
    expect(parseRange('bytes=0-4', 10)).toEqual({ kind: 'ranges', ranges: [{ start: 0, end: 4 }] });
    expect(parseRange('bytes=5-', 10)).toEqual({ kind: 'ranges', ranges: [{ start: 5, end: 9 }] });
    expect(parseRange('bytes=-3', 10)).toEqual({ kind: 'ranges', ranges: [{ start: 7, end: 9 }] });
    expect(parseRange('bytes=-30', 10)).toEqual({ kind: 'ranges', ranges: [{ start: 0, end: 9 }] });
    expect(parseRange('bytes=8-100', 10)).toEqual({ kind: 'ranges', ranges: [{ start: 8, end: 9 }] });
    expect(parseRange('bytes= 0-1 , 3-4', 10)).toEqual({ kind: 'ranges', ranges: [{ start: 0, end: 1 }, { start: 3, end: 4 }] });
    expect(parseRange('bytes=0-1,50-60', 10)).toEqual({ kind: 'ranges', ranges: [{ start: 0, end: 1 }] });
  });
  it('ignores what it cannot parse (whole object) and reports unsatisfiable ranges', () => {
    for (const h of [undefined, 'items=0-1', 'bytes=', 'bytes=a-b', 'bytes=5-2', 'bytes=-', 'bytes=1-2-3']) expect(parseRange(h, 10)).toEqual({ kind: 'full' });
    expect(parseRange(`bytes=${Array.from({ length: 51 }, (_, i) => `${i}-${i}`).join(',')}`, 100)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=10-20', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=99999999999999999999-', 10)).toEqual({ kind: 'unsatisfiable' });
  });
  it('never returns a span outside the object (fuzz)', () => {
    fc.assert(fc.property(fc.string({ maxLength: 40 }), fc.nat(1000), (s, size) => {
      for (const h of [s, `bytes=${s}`]) {
        const r = parseRange(h, size);
        if (r.kind === 'ranges') {
          for (const x of r.ranges) {
            expect(x.start).toBeGreaterThanOrEqual(0);
            expect(x.end).toBeGreaterThanOrEqual(x.start);
            expect(x.end).toBeLessThan(size);
          }
        }
      }
    }), { numRuns: 500 });
  });
});
