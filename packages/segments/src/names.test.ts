import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkNonce, parseSegmentName, segmentLocator, segmentName } from './names.js';

describe('segment names', () => {
  it('names a nonce with 16 hex digits after the prefix', () => {
    expect(segmentName(42n)).toBe('seg-000000000000002a');
    expect(segmentName((1n << 64n) - 1n)).toBe('seg-ffffffffffffffff');
  });

  it('round-trips and sorts in nonce order', () => {
    fc.assert(
      fc.property(fc.bigInt(1n, (1n << 64n) - 1n), fc.bigInt(1n, (1n << 64n) - 1n), (a, b) => {
        expect(parseSegmentName(segmentName(a))).toBe(a);
        expect(Math.sign(segmentName(a).localeCompare(segmentName(b), 'en'))).toBe(a < b ? -1 : a > b ? 1 : 0);
      }),
    );
  });

  it('refuses nonce 0, negative and too large nonces', () => {
    for (const n of [0n, -1n, 1n << 64n]) {
      expect(() => segmentName(n)).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_INVALID_ARGUMENT' }));
    }
    expect(() => checkNonce(5 as unknown as bigint)).toThrow();
  });

  it('parses only segment names', () => {
    for (const n of ['seg-000000000000000', 'seg-000000000000002A', 'xseg-000000000000002a', 'seg-0000000000000000', 'checkpoint', '']) {
      expect(parseSegmentName(n)).toBeUndefined();
    }
  });
});

describe('segmentLocator', () => {
  it('places nonce n in containers[n mod count] and is stable', () => {
    const locate = segmentLocator(['c-0', 'c-1', 'c-2']);
    expect([1n, 2n, 3n, 4n].map((n) => locate(n).container)).toEqual(['c-1', 'c-2', 'c-0', 'c-1']);
    expect(locate(7n)).toEqual({ nonce: 7n, container: 'c-1', name: segmentName(7n) });
  });

  it('refuses an empty or invalid container list', () => {
    expect(() => segmentLocator([])).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_INVALID_ARGUMENT' }));
    expect(() => segmentLocator(['UPPER'])).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_OBJ_INVALID_NAME' }));
  });
});
