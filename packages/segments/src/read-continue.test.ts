// Read-ahead across segments: a file's reader that tells the cache where its
// bytes continue (readFile's `ahead` steps) has the next segment's GET issued
// before it gets there; what it reads is exactly the file, within the budget,
// and nothing fetched ahead is thrown away or fetched twice.

import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryStore, type GetOptions, type GetResult, type ObjectStore } from '@cairn/objstore';
import { createReadCache } from './read-cache.js';
import { inPieces, wrapStore } from './testing/store.js';
import { readFile } from './read-file.js';
import { readPlan } from './read-plan.js';
import type { Extent, ReadCache, SegmentLocator } from './types.js';

const CONTAINER = 'segs';

interface Get {
  readonly name: string;
  readonly offset: number;
  readonly length: number | undefined;
  /** File offset the reader had asked for when the GET was issued. */
  readonly readerAt: number;
}

/** A store that records every GET (with the reader's position) and answers in delayed pieces. */
function slowStore(inner: ObjectStore, piece: number, readerAt: () => number, beforePiece?: () => void): { store: ObjectStore; gets: Get[] } {
  const gets: Get[] = [];
  const store = wrapStore(inner, 'slow', (t) => ({
    async get(n: string, opts?: GetOptions): Promise<GetResult> {
      gets.push({ name: n, offset: opts?.range?.offset ?? 0, length: opts?.range?.length, readerAt: readerAt() });
      // First-byte latency: a few macrotasks before the answer.
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
      return inPieces(await t.get(n, opts), piece, beforePiece);
    },
  }));
  return { store, gets };
}

/** A file laid out as `pieces` (lengths), each in its own segment object seg-i at offset `skip[i]`. */
async function layout(lengths: readonly number[], skips: readonly number[]): Promise<{ inner: ObjectStore; file: Buffer; extents: Extent[]; locate: SegmentLocator }> {
  const inner = createMemoryStore();
  await inner.container(CONTAINER).create();
  const extents: Extent[] = [];
  const parts: Buffer[] = [];
  let at = 0;
  for (const [i, n] of lengths.entries()) {
    const obj = randomBytes(skips[i]! + n + 37);
    await inner.container(CONTAINER).put(`seg-${i}`, obj);
    parts.push(obj.subarray(skips[i]!, skips[i]! + n));
    extents.push({ fileOffset: at, nonce: BigInt(i), segmentOffset: skips[i]!, length: n });
    at += n;
  }
  const locate: SegmentLocator = (nonce) => ({ nonce, container: CONTAINER, name: `seg-${nonce}` });
  return { inner, file: Buffer.concat(parts), extents, locate };
}

/** Reads the whole file in `step`-byte reads through readFile, each with (or without) the steps after it as `ahead`. */
async function readAll(cache: ReadCache, file: Buffer, extents: readonly Extent[], locate: SegmentLocator, step: number, hints: boolean, at: { value: number }): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let off = 0; off < file.length; off += step) {
    at.value = off;
    const plan = readPlan(extents, off, step, file.length, locate);
    const end = Math.min(file.length, off + step);
    const ahead = hints ? readPlan(extents, end, cache.maxReadAheadBytes, file.length, locate) : undefined;
    parts.push(await readFile(plan, cache, undefined, ahead));
  }
  return Buffer.concat(parts);
}

describe('read-ahead across segments', () => {
  it('a sequential read of a file issues the next segment\'s GET before the reader reaches it', async () => {
    const LINE = 1000;
    const SEG = 12 * LINE;
    const { inner, file, extents, locate } = await layout([SEG, SEG, SEG, SEG, SEG], [0, 0, 0, 0, 0]);
    const run = async (hints: boolean): Promise<Get[]> => {
      const at = { value: 0 };
      const { store, gets } = slowStore(inner, 2000, () => at.value);
      const cache = createReadCache({ store, lineSize: LINE, budgetBytes: 64 * LINE, readAheadLines: 2, maxReadAheadBytes: 8 * LINE });
      expect((await readAll(cache, file, extents, locate, LINE, hints, at)).equals(file)).toBe(true);
      const s = cache.stats();
      expect(s.bytesFetched).toBeLessThanOrEqual(file.length + 5 * 37);
      // With hints, read-ahead stops where the file leaves a segment: the only line fetched
      // ahead and not used is the tail of the last segment, past the end of the file.
      if (hints) expect(s.readAheads - s.readAheadHits).toBeLessThanOrEqual(1);
      return gets;
    };
    const firstGetOf = (gets: Get[], k: number): Get => gets.find((g) => g.name === `seg-${k}`)!;

    const hinted = await run(true);
    for (let k = 1; k < 5; k++) {
      const g = firstGetOf(hinted, k);
      // Issued while the reader was still in segment k-1, for the start of segment k.
      expect(g.offset).toBe(0);
      expect(g.readerAt).toBeLessThan(k * SEG);
      expect(g.readerAt).toBeGreaterThanOrEqual((k - 1) * SEG);
    }
    // Large GETs: no more than a few per segment.
    expect(hinted.length).toBeLessThanOrEqual(5 * 4);

    // Without hints the next segment is only known when the reader gets there.
    const plain = await run(false);
    for (let k = 1; k < 5; k++) expect(firstGetOf(plain, k).readerAt).toBe(k * SEG);
  });

  it('prefetches the next extent at its offset in the segment, also when extents are shorter than the window', async () => {
    const LINE = 100;
    const { inner, file, extents, locate } = await layout([250, 130, 40, 600, 90, 310], [0, 530, 77, 1200, 0, 350]);
    const at = { value: 0 };
    const { store, gets } = slowStore(inner, 64, () => at.value);
    const cache = createReadCache({ store, lineSize: LINE, budgetBytes: 100 * LINE, readAheadLines: 2, maxReadAheadBytes: 8 * LINE });
    expect((await readAll(cache, file, extents, locate, 50, true, at)).equals(file)).toBe(true);
    for (let k = 1; k < extents.length; k++) {
      const e = extents[k]!;
      const g = gets.find((x) => x.name === `seg-${k}`)!;
      expect(g.offset).toBe(Math.floor(e.segmentOffset / LINE) * LINE);
      expect(g.readerAt).toBeLessThan(e.fileOffset);
    }
    const s = cache.stats();
    expect(s.readAheadHits).toBe(s.readAheads);
  });

  it('model: random layouts and read sizes return exactly the file, within the budget, fetching nothing twice', async () => {
    const LINE = 64;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 1200 }), fc.nat(300)), { minLength: 1, maxLength: 7 }),
        fc.integer({ min: 8, max: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 3 * LINE }),
        fc.integer({ min: 1, max: 3 * LINE }),
        async (pieces, budgetLines, readAheadLines, maxReadAheadLines, piece, step) => {
          const { inner, file, extents, locate } = await layout(pieces.map((p) => p[0]), pieces.map((p) => p[1]));
          const budgetBytes = budgetLines * LINE;
          let cache: ReadCache | undefined;
          let over = 0;
          const check = (): void => {
            // One reader, reads of at most 3 lines + 2 boundary lines in use: the only lines that may go over.
            if (cache && cache.stats().bytesCached > Math.max(budgetBytes, 5 * LINE)) over++;
          };
          const at = { value: 0 };
          const { store } = slowStore(inner, piece, () => at.value, check);
          cache = createReadCache({ store, lineSize: LINE, budgetBytes, readAheadLines, maxReadAheadBytes: maxReadAheadLines * LINE });
          const c = cache;
          expect((await readAll(c, file, extents, locate, step, true, at)).equals(file)).toBe(true);
          expect(over).toBe(0);
          expect(c.stats().bytesCached).toBeLessThanOrEqual(Math.max(budgetBytes, 5 * LINE));
          c.clear();
          expect(c.stats()).toMatchObject({ lines: 0, bytesCached: 0 });
        },
      ),
      { numRuns: 80 },
    );
  });
});
