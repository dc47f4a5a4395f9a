import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTempFileName, logFileName, parseLogFileName, tempFileName } from './names.js';

describe('replay log file names', () => {
  it('names a file by its first LSN in 16 hex digits and parses it back', () => {
    expect(logFileName(1n)).toBe('0000000000000001.rlog');
    expect(logFileName(0xffff_ffff_ffff_ffffn)).toBe('ffffffffffffffff.rlog');
    fc.assert(
      fc.property(fc.bigUintN(64), (lsn) => {
        expect(parseLogFileName(logFileName(lsn))).toBe(lsn);
      }),
    );
  });

  it('sorts names in LSN order', () => {
    fc.assert(
      fc.property(fc.bigUintN(64), fc.bigUintN(64), (a, b) => {
        const byName = logFileName(a) < logFileName(b);
        expect(byName).toBe(a < b);
      }),
    );
  });

  it('refuses other names and recognises temporary ones', () => {
    for (const n of ['1.rlog', '000000000000000G.rlog', '0000000000000001.rlog.tmp', '00000000000000001.rlog', '0000000000000001.RLOG', 'README']) {
      expect(parseLogFileName(n), n).toBeUndefined();
    }
    expect(isTempFileName(tempFileName(9n))).toBe(true);
    expect(isTempFileName(logFileName(9n))).toBe(false);
    expect(() => logFileName(-1n)).toThrow(/out of range/);
  });
});
