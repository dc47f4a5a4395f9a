// BodyHasher against the plain model: createHash('md5') and zlib.crc32 over the
// concatenated bytes, on the main thread.

import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { isCairnError } from '@cairn/errors';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BodyHasher, hashPoolForTests } from './body-hash.js';

function model(chunks: readonly Uint8Array[]): { md5: string; crc32: number } {
  const h = createHash('md5');
  let c = 0;
  for (const b of chunks) {
    h.update(b);
    c = crc32(b, c);
  }
  return { md5: h.digest('hex'), crc32: c >>> 0 };
}

/** Deterministic bytes (fast-check generates sizes and seeds, not megabytes of data). */
function bytes(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = seed | 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

async function feed(h: BodyHasher, chunks: readonly Uint8Array[]): Promise<void> {
  for (const c of chunks) {
    const wait = h.update(c);
    if (wait !== undefined) await wait;
  }
}

// Chunk sizes around the thresholds: small bodies (inline), the switch past 256 KiB,
// 1 MiB batches and chunks larger than a batch.
const chunkSize = fc.oneof(fc.integer({ min: 0, max: 70_000 }), fc.integer({ min: 1_000_000, max: 1_100_000 }), fc.constantFrom(0, 1, 262_144, 1_048_576, 3_000_001));
/** MD5 only, both, CRC-32 only. */
const sums = fc.constantFrom<[boolean, boolean]>([true, false], [true, true], [false, true]);
const body = fc.array(fc.tuple(chunkSize, fc.integer()), { maxLength: 12 }).map((xs) => xs.map(([n, seed]) => bytes(n, seed)));

describe('BodyHasher', () => {
  it('gives the MD5 and CRC-32 of the bytes, small or large, several bodies at once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(body, { minLength: 1, maxLength: 3 }), sums, async (bodies, [md5, crc]) => {
        const hashers = bodies.map(() => new BodyHasher({ md5, crc32: crc }));
        await Promise.all(bodies.map((b, i) => feed(hashers[i]!, b)));
        const got = await Promise.all(hashers.map((h) => h.digest()));
        bodies.forEach((b, i) => {
          const want = model(b);
          expect(got[i]!.md5.toString('hex')).toBe(md5 ? want.md5 : '');
          expect(got[i]!.crc32).toBe(crc ? want.crc32 : 0);
          expect(hashers[i]!.size).toBe(b.reduce((n, c) => n + c.length, 0));
        });
      }),
      { numRuns: 40 },
    );
  });

  it('hashes large bodies on a worker thread', async () => {
    const h = new BodyHasher();
    const chunks = [bytes(3 << 20, 7)];
    await feed(h, chunks);
    expect(hashPoolForTests.threads()).toBeGreaterThanOrEqual(1);
    expect((await h.digest()).md5.toString('hex')).toBe(model(chunks).md5);
  });

  it('copies what it is given: the caller may reuse its buffer at once', async () => {
    const h = new BodyHasher({ crc32: true });
    const buf = bytes(64 * 1024, 3);
    const want: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      buf.writeUInt32LE(i, 0);
      want.push(Buffer.from(buf));
      const wait = h.update(buf);
      buf.fill(0xee); // what the hasher saw must not change
      if (wait !== undefined) await wait;
    }
    const got = await h.digest();
    expect(got.md5.toString('hex')).toBe(model(want).md5);
    expect(got.crc32).toBe(model(want).crc32);
  });

  it('returns the same digest when asked again, and refuses bytes after it', async () => {
    const h = new BodyHasher();
    await feed(h, [bytes(2 << 20, 5)]);
    const a = await h.digest();
    const b = await h.digest();
    expect(a.md5.equals(b.md5)).toBe(true);
    expect(() => h.update(Buffer.from('x'))).toThrow();
  });

  it('lets discarded hashers go without disturbing others', async () => {
    const kept = new BodyHasher();
    const chunks = [bytes(1_500_000, 11), bytes(900_000, 12)];
    const dropped = Array.from({ length: 5 }, () => new BodyHasher());
    for (const d of dropped) d.update(bytes(2 << 20, 13));
    await feed(kept, chunks.slice(0, 1));
    for (const d of dropped) d.discard();
    await feed(kept, chunks.slice(1));
    expect((await kept.digest()).md5.toString('hex')).toBe(model(chunks).md5);
  });

  it('fails the digests a dead hashing thread owed with CAIRN_ERR_INTERNAL, and later bodies still hash', async () => {
    const h = new BodyHasher();
    h.update(bytes(2 << 20, 21));
    hashPoolForTests.killAll();
    const err = await h.digest().then(() => undefined, (e: unknown) => e);
    expect(isCairnError(err, 'CAIRN_ERR_INTERNAL')).toBe(true);
    const next = new BodyHasher();
    const chunks = [bytes(2 << 20, 22)];
    await feed(next, chunks);
    expect((await next.digest()).md5.toString('hex')).toBe(model(chunks).md5);
  });
});
