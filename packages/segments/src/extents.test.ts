import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyWrite, applyWriteLocation, clearRange, lookup, overlayExtents, truncate } from './extents.js';
import { createMemoryOrderedMap, type MemoryOrderedMap } from './ordered-map.js';
import type { ExtentValue, SegmentDeltas } from './types.js';

type Cell = { nonce: bigint; at: number } | null;

const newMap = (): MemoryOrderedMap<ExtentValue> => createMemoryOrderedMap<ExtentValue>();
const entries = (m: MemoryOrderedMap<ExtentValue>) => m.entries().map(([k, v]) => [k, Number(v.nonce), v.segmentOffset, v.length]);

describe('extent maps', () => {
  it('splits, trims and merges', async () => {
    const m = newMap();
    expect(await applyWrite(m, 0, 100, { nonce: 1n, segmentOffset: 0 })).toEqual(new Map([[1n, 100]]));
    const d = await applyWrite(m, 40, 10, { nonce: 2n, segmentOffset: 500 });
    expect(d).toEqual(new Map([[1n, -10], [2n, 10]]));
    expect(entries(m)).toEqual([[0, 1, 0, 40], [40, 2, 500, 10], [50, 1, 50, 50]]);
    // writing the original bytes back merges all three into one extent
    await applyWrite(m, 40, 10, { nonce: 1n, segmentOffset: 40 });
    expect(entries(m)).toEqual([[0, 1, 0, 100]]);
    // contiguous appends in one segment merge
    await applyWrite(m, 100, 20, { nonce: 1n, segmentOffset: 100 });
    expect(entries(m)).toEqual([[0, 1, 0, 120]]);
    // not contiguous in the segment: no merge
    await applyWrite(m, 120, 5, { nonce: 1n, segmentOffset: 500 });
    expect(entries(m)).toEqual([[0, 1, 0, 120], [120, 1, 500, 5]]);
  });

  it('overwrites several extents at once', async () => {
    const m = newMap();
    for (let i = 0; i < 5; i++) await applyWrite(m, i * 10, 10, { nonce: BigInt(i + 1), segmentOffset: 0 });
    const d = await applyWrite(m, 5, 30, { nonce: 9n, segmentOffset: 0 });
    expect(d).toEqual(new Map([[1n, -5], [2n, -10], [3n, -10], [4n, -5], [9n, 30]]));
    expect(entries(m)).toEqual([[0, 1, 0, 5], [5, 9, 0, 30], [35, 4, 5, 5], [40, 5, 0, 10]]);
  });

  it('truncates and extends: bytes past a truncation read as a hole afterwards', async () => {
    const m = newMap();
    await applyWrite(m, 0, 100, { nonce: 1n, segmentOffset: 0 });
    await applyWrite(m, 200, 100, { nonce: 2n, segmentOffset: 0 });
    expect(await truncate(m, 50)).toEqual(new Map([[1n, -50], [2n, -100]]));
    expect(entries(m)).toEqual([[0, 1, 0, 50]]);
    expect(await truncate(m, 1000)).toEqual(new Map());
    expect(await lookup(m, 0, 1000)).toEqual([{ fileOffset: 0, nonce: 1n, segmentOffset: 0, length: 50 }]);
    expect(await truncate(m, 0)).toEqual(new Map([[1n, -50]]));
    expect(m.size).toBe(0);
  });

  it('lookup clips to the range and leaves holes out', async () => {
    const m = newMap();
    await applyWrite(m, 10, 10, { nonce: 1n, segmentOffset: 100 });
    await applyWrite(m, 30, 10, { nonce: 2n, segmentOffset: 0 });
    expect(await lookup(m, 15, 20)).toEqual([
      { fileOffset: 15, nonce: 1n, segmentOffset: 105, length: 5 },
      { fileOffset: 30, nonce: 2n, segmentOffset: 0, length: 5 },
    ]);
    expect(await lookup(m, 20, 10)).toEqual([]);
    expect(await lookup(m, 0, 0)).toEqual([]);
  });

  it('lookup refuses overlapping extents', async () => {
    const m = newMap();
    await m.put(0, { nonce: 1n, segmentOffset: 0, length: 10 });
    await m.put(5, { nonce: 1n, segmentOffset: 0, length: 10 });
    await expect(lookup(m, 0, 20)).rejects.toMatchObject({ code: 'CAIRN_ERR_SEG_EXTENTS_CORRUPT' });
  });

  it('refuses bad ranges', async () => {
    const m = newMap();
    await expect(applyWrite(m, -1, 1, { nonce: 1n, segmentOffset: 0 })).rejects.toMatchObject({ code: 'CAIRN_ERR_INVALID_ARGUMENT' });
    await expect(applyWrite(m, 0, 1.5, { nonce: 1n, segmentOffset: 0 })).rejects.toMatchObject({ code: 'CAIRN_ERR_INVALID_ARGUMENT' });
    await expect(truncate(m, Number.NaN)).rejects.toMatchObject({ code: 'CAIRN_ERR_INVALID_ARGUMENT' });
    await expect(lookup(m, 0, -1)).rejects.toMatchObject({ code: 'CAIRN_ERR_INVALID_ARGUMENT' });
  });

  it('applyWriteLocation applies every piece at consecutive file offsets', async () => {
    const m = newMap();
    const ref = (nonce: bigint) => ({ nonce, container: 'c', name: 'n' });
    const d = await applyWriteLocation(m, 100, {
      pieces: [
        { segment: ref(1n), segmentOffset: 900, length: 100 },
        { segment: ref(2n), segmentOffset: 0, length: 50 },
      ],
    });
    expect(d).toEqual(new Map([[1n, 100], [2n, 50]]));
    expect(entries(m)).toEqual([[100, 1, 900, 100], [200, 2, 0, 50]]);
  });

  it('overlayExtents lays pending writes over durable extents in order', async () => {
    const out = await overlayExtents(
      [{ fileOffset: 0, nonce: 1n, segmentOffset: 0, length: 100 }],
      [
        { fileOffset: 50, nonce: 2n, segmentOffset: 0, length: 100 },
        { fileOffset: 60, nonce: 3n, segmentOffset: 0, length: 10 },
      ],
    );
    expect(out).toEqual([
      { fileOffset: 0, nonce: 1n, segmentOffset: 0, length: 50 },
      { fileOffset: 50, nonce: 2n, segmentOffset: 0, length: 10 },
      { fileOffset: 60, nonce: 3n, segmentOffset: 0, length: 10 },
      { fileOffset: 70, nonce: 2n, segmentOffset: 20, length: 80 },
    ]);
  });
});

describe('extent maps against a byte model', () => {
  const op = fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('write' as const), off: fc.nat(80), len: fc.integer({ min: 0, max: 40 }), nonce: fc.integer({ min: 1, max: 3 }), segOff: fc.nat(60) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), size: fc.nat(120) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const), off: fc.nat(80), len: fc.nat(40) }) },
  );

  it('matches the model, keeps extents disjoint and maximal, and reports exact live-byte deltas', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const m = newMap();
        let cells: Cell[] = [];
        const live = new Map<bigint, number>();
        const count = (): Map<bigint, number> => {
          const c = new Map<bigint, number>();
          for (const x of cells) if (x) c.set(x.nonce, (c.get(x.nonce) ?? 0) + 1);
          return c;
        };
        const addAll = (d: SegmentDeltas) => {
          for (const [n, v] of d) {
            expect(v).not.toBe(0);
            live.set(n, (live.get(n) ?? 0) + v);
          }
        };
        for (const o of ops) {
          if (o.kind === 'write') {
            addAll(await applyWrite(m, o.off, o.len, { nonce: BigInt(o.nonce), segmentOffset: o.segOff }));
            for (let i = 0; i < o.len; i++) cells[o.off + i] = { nonce: BigInt(o.nonce), at: o.segOff + i };
          } else if (o.kind === 'truncate') {
            addAll(await truncate(m, o.size));
            cells = cells.slice(0, o.size);
          } else {
            addAll(await clearRange(m, o.off, o.len));
            for (let i = o.off; i < Math.min(o.off + o.len, cells.length); i++) cells[i] = null;
          }
          for (const [n, v] of count()) expect(live.get(n) ?? 0).toBe(v);
          for (const [n, v] of live) expect(count().get(n) ?? 0).toBe(v);
        }
        const got: Cell[] = [];
        const ex = await lookup(m, 0, 200);
        for (const e of ex) for (let i = 0; i < e.length; i++) got[e.fileOffset + i] = { nonce: e.nonce, at: e.segmentOffset + i };
        for (let i = 0; i < 200; i++) expect(got[i] ?? null).toEqual(cells[i] ?? null);
        const all = m.entries();
        for (let i = 1; i < all.length; i++) {
          const [pk, pv] = all[i - 1]!;
          const [k, v] = all[i]!;
          expect(pk + pv.length).toBeLessThanOrEqual(k);
          const mergeable = pk + pv.length === k && pv.nonce === v.nonce && pv.segmentOffset + pv.length === v.segmentOffset;
          expect(mergeable).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });
});
