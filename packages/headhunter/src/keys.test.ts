import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isCairnError } from '@cairn/errors';
import { compareKeys, decodeKey, encodeKey, keyPrefixRange, type KeyPart } from './keys.js';

const MAX_U64 = (1n << 64n) - 1n;

const part: fc.Arbitrary<KeyPart> = fc.oneof(
  fc.nat(),
  fc.bigInt({ min: 0n, max: MAX_U64 }),
  fc.constantFrom(0, 1, 255, 256, 65535, 65536, Number.MAX_SAFE_INTEGER),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.constantFrom('', '\0', 'a\0b', 'a', 'ab', '\uffff', '\u{10000}'),
  fc.uint8Array({ maxLength: 8 }),
  fc.constantFrom(new Uint8Array([0]), new Uint8Array([0, 0xff]), new Uint8Array([0xff])),
);
const tuple = fc.array(part, { maxLength: 4 });

function kind(p: KeyPart): number {
  return p instanceof Uint8Array ? 0 : typeof p === 'string' ? 1 : 2;
}

function cmpPart(a: KeyPart, b: KeyPart): number {
  const ka = kind(a);
  const kb = kind(b);
  if (ka !== kb) return ka - kb;
  if (ka === 2) {
    const x = BigInt(a as number | bigint);
    const y = BigInt(b as number | bigint);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = ka === 1 ? Buffer.from(a as string, 'utf8') : Buffer.from(a as Uint8Array);
  const y = ka === 1 ? Buffer.from(b as string, 'utf8') : Buffer.from(b as Uint8Array);
  return Buffer.compare(x, y);
}

function cmpTuple(a: KeyPart[], b: KeyPart[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = cmpPart(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

function normalize(t: KeyPart[]): unknown[] {
  return t.map((p) => {
    if (typeof p === 'bigint') return p <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(p) : p;
    if (p instanceof Uint8Array) return Buffer.from(p);
    return p;
  });
}

describe('encodeKey fast paths', () => {
  it('write the same bytes as the general encoding of each part', () => {
    const uint = fc.oneof(fc.nat(), fc.constantFrom(0, 1, 255, 256, 65535, 65536, 2 ** 32, Number.MAX_SAFE_INTEGER));
    const second = fc.oneof(uint, fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 8 }), fc.constantFrom('', '\0', 'a\0b', 'x'.repeat(1025), '\u007f', '\u0080'));
    fc.assert(fc.property(uint, second, (a, b) => {
      const general = (p: KeyPart): Buffer => encodeKey([typeof p === 'number' ? BigInt(p) : p]);
      expect(encodeKey([a])).toEqual(general(a));
      expect(encodeKey([a, b])).toEqual(Buffer.concat([general(a), general(b)]));
      expect(decodeKey(encodeKey([a, b]))).toEqual([a, b]);
    }), { numRuns: 1000 });
  });
});

describe('tuple keys', () => {
  it('byte order of encodings equals tuple order', () => {
    fc.assert(fc.property(tuple, tuple, (a, b) => {
      expect(Math.sign(compareKeys(encodeKey(a), encodeKey(b)))).toBe(Math.sign(cmpTuple(a, b)));
    }), { numRuns: 3000 });
  });

  it('decodes what it encodes', () => {
    fc.assert(fc.property(tuple, (t) => {
      expect(decodeKey(encodeKey(t))).toEqual(normalize(t));
    }), { numRuns: 2000 });
  });

  it('decodes integers at every byte length, on both sides of 2^48 and 2^53', () => {
    const edges = [0, 1, 255, 256, 2 ** 40 - 1, 2 ** 40, 2 ** 48 - 1, 2 ** 48, 2 ** 48 + 1, Number.MAX_SAFE_INTEGER];
    for (const n of edges) expect(decodeKey(encodeKey([n, 7]))).toEqual([n, 7]);
    for (const big of [2n ** 53n, 2n ** 56n - 1n, 2n ** 56n, 2n ** 64n - 1n]) expect(decodeKey(encodeKey([big]))).toEqual([big]);
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (b) => {
      expect(decodeKey(encodeKey([b]))).toEqual([b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b]);
    }), { numRuns: 2000 });
  });

  it('prefix ranges hold exactly the extensions of the prefix', () => {
    fc.assert(fc.property(tuple, tuple, (p, rest) => {
      const r = keyPrefixRange(p);
      const inside = encodeKey([...p, ...rest]);
      expect(compareKeys(inside, r.gte) >= 0 && compareKeys(inside, r.lt) < 0).toBe(true);
    }));
    fc.assert(fc.property(tuple, tuple, (p, other) => {
      const r = keyPrefixRange(p);
      const k = encodeKey(other);
      const isExtension = other.length >= p.length && cmpTuple(other.slice(0, p.length), p) === 0;
      expect(compareKeys(k, r.gte) >= 0 && compareKeys(k, r.lt) < 0).toBe(isExtension);
    }), { numRuns: 2000 });
  });

  it('encodes small integers compactly and in order', () => {
    expect(encodeKey([0])).toEqual(Buffer.from([0x14]));
    expect(encodeKey([1])).toEqual(Buffer.from([0x15, 1]));
    expect(encodeKey([256])).toEqual(Buffer.from([0x16, 1, 0]));
    expect(encodeKey([MAX_U64]).length).toBe(9);
    expect(encodeKey(['a\0'])).toEqual(Buffer.from([0x02, 0x61, 0x00, 0xff, 0x00]));
  });

  it('refuses what it cannot order', () => {
    for (const bad of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, -1n, MAX_U64 + 1n, '\ud800', null, {}] as unknown[]) {
      let err: unknown;
      try {
        encodeKey([bad as KeyPart]);
      } catch (e) {
        err = e;
      }
      expect(isCairnError(err, 'CAIRN_ERR_INVALID_ARGUMENT')).toBe(true);
    }
    for (const bytes of [[0x03], [0x02, 0x61], [0x16, 1], [0x15, 0]]) {
      expect(() => decodeKey(Buffer.from(bytes))).toThrow(/key/);
    }
  });
});
