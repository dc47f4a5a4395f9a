import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createMemoryStore, type GetOptions, type ObjectStore } from '@cairn/objstore';
import { segmentLocator } from './names.js';
import { createReadCache } from './read-cache.js';
import { inPieces, wrapStore } from './testing/store.js';
import { readFile } from './read-file.js';
import { readPlan } from './read-plan.js';
import type { PendingReader } from './types.js';

/** A store that records every ranged GET and can delay them. */
function recordingStore(inner: ObjectStore, delayMs = 0) {
  const gets: Array<{ name: string; offset: number; length: number | undefined }> = [];
  const store = wrapStore(inner, 'recording', (t) => ({
    async get(n: string, o?: GetOptions) {
      gets.push({ name: n, offset: o?.range?.offset ?? 0, length: o?.range?.length });
      if (delayMs) await sleep(delayMs);
      return t.get(n, o);
    },
  }));
  return { store, gets };
}

async function fixture(size: number, delayMs = 0) {
  const mem = createMemoryStore();
  const data = randomBytes(size);
  await mem.container('segs').put('obj', data);
  const { store, gets } = recordingStore(mem, delayMs);
  return { data, store, gets, ref: { container: 'segs', name: 'obj' } };
}

describe('read cache', () => {
  it('reads ranges across lines and serves repeats from the cache', async () => {
    const { data, store, gets, ref } = await fixture(1000);
    const cache = createReadCache({ store, lineSize: 100, budgetBytes: 10_000, readAheadLines: 0 });
    expect((await cache.read(ref, 150, 300)).equals(data.subarray(150, 450))).toBe(true);
    // The four missing lines 1..4 are one run: one GET of exactly those lines.
    expect(gets).toEqual([{ name: 'obj', offset: 100, length: 400 }]);
    expect((await cache.read(ref, 120, 100)).equals(data.subarray(120, 220))).toBe(true);
    expect(gets).toHaveLength(1);
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 4, gets: 1, lines: 4, bytesCached: 400 });
    expect((await cache.read(ref, 950, 50)).equals(data.subarray(950))).toBe(true);
    expect((await cache.read(ref, 0, 0)).length).toBe(0);
  });

  it('shares one GET between concurrent reads of a line', async () => {
    const { data, store, gets, ref } = await fixture(1000, 20);
    const cache = createReadCache({ store, lineSize: 500, budgetBytes: 10_000, readAheadLines: 0 });
    const reads = await Promise.all(Array.from({ length: 10 }, (_, i) => cache.read(ref, i * 40, 40)));
    reads.forEach((r, i) => expect(r.equals(data.subarray(i * 40, i * 40 + 40))).toBe(true));
    expect(gets).toHaveLength(1);
    expect(cache.stats()).toMatchObject({ misses: 1, joined: 9 });
  });

  it('evicts least recently used lines to stay within the byte budget', async () => {
    const { store, gets, ref } = await fixture(1000);
    const cache = createReadCache({ store, lineSize: 100, budgetBytes: 300, readAheadLines: 0 });
    for (const off of [0, 100, 200]) await cache.read(ref, off, 10);
    await cache.read(ref, 0, 10); // line 0 is now most recent
    await cache.read(ref, 300, 10); // evicts line 1
    expect(cache.stats()).toMatchObject({ evictions: 1, bytesCached: 300 });
    const before = gets.length;
    await cache.read(ref, 0, 10);
    expect(gets.length).toBe(before);
    await cache.read(ref, 100, 10);
    expect(gets.length).toBe(before + 1);
  });

  it('reads ahead of a sequential reader, never past the end of the object', async () => {
    const { data, store, gets, ref } = await fixture(1000);
    const cache = createReadCache({ store, lineSize: 100, budgetBytes: 10_000, readAheadLines: 3 });
    let out = Buffer.alloc(0);
    for (let off = 0; off < 1000; off += 50) {
      out = Buffer.concat([out, await cache.read(ref, off, 50)]);
      await sleep(1);
    }
    expect(out.equals(data)).toBe(true);
    const s = cache.stats();
    expect(s.readAheads).toBeGreaterThan(5);
    expect(s.readAheadHits).toBeGreaterThan(5);
    expect(s.misses).toBeLessThanOrEqual(2);
    expect(gets.every((g) => g.offset < 1000)).toBe(true);
    expect(new Set(gets.map((g) => g.offset)).size).toBe(gets.length);
  });

  it('does not read ahead for random access', async () => {
    const { store, ref } = await fixture(10_000);
    const cache = createReadCache({ store, lineSize: 100, budgetBytes: 100_000, readAheadLines: 4 });
    for (const off of [5000, 200, 9000, 3000, 7000]) await cache.read(ref, off, 10);
    expect(cache.stats().readAheads).toBe(0);
  });

  it('fails a read past the end of the object', async () => {
    const { store, ref } = await fixture(250);
    const cache = createReadCache({ store, lineSize: 100, readAheadLines: 0 });
    await expect(cache.read(ref, 200, 100)).rejects.toMatchObject({ code: 'CAIRN_ERR_SEG_SHORT_READ' });
    await expect(cache.read(ref, 240, 20)).rejects.toMatchObject({ code: 'CAIRN_ERR_SEG_SHORT_READ' });
    await expect(cache.read({ container: 'segs', name: 'missing' }, 0, 1)).rejects.toMatchObject({ code: 'CAIRN_ERR_OBJ_NOT_FOUND' });
  });

  it('invalidate and clear drop lines', async () => {
    const { store, gets, ref } = await fixture(300);
    const cache = createReadCache({ store, lineSize: 100, readAheadLines: 0 });
    await cache.read(ref, 0, 300);
    cache.invalidate(ref);
    expect(cache.stats()).toMatchObject({ lines: 0, bytesCached: 0 });
    await cache.read(ref, 0, 300);
    cache.clear();
    expect(cache.stats().lines).toBe(0);
    // Each read of the three lines fetched all of them again (one GET per run of missing lines).
    expect(gets).toEqual([{ name: 'obj', offset: 0, length: 300 }, { name: 'obj', offset: 0, length: 300 }]);
  });

  it('checks its options', () => {
    const store = createMemoryStore();
    expect(() => createReadCache({ store, lineSize: 0 })).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_INVALID_ARGUMENT' }));
    expect(() => createReadCache({ store, budgetBytes: -1 })).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_INVALID_ARGUMENT' }));
    expect(() => createReadCache({} as never)).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_INVALID_ARGUMENT' }));
  });
});

describe('readFile', () => {
  it('assembles stored steps, pending steps and holes', async () => {
    const mem = createMemoryStore();
    const locate = segmentLocator(['data-0', 'data-1']);
    const stored = randomBytes(200);
    const r1 = locate(1n);
    await mem.container(r1.container).put(r1.name, stored);
    const pendingBytes = randomBytes(50);
    const pending: PendingReader = {
      readPending: (seg, offset, length) => ((typeof seg === 'bigint' ? seg : seg.nonce) === 2n ? pendingBytes.subarray(offset, offset + length) : undefined),
    };
    const plan = readPlan(
      [
        { fileOffset: 10, nonce: 1n, segmentOffset: 100, length: 40 },
        { fileOffset: 60, nonce: 2n, segmentOffset: 5, length: 20 },
      ],
      0,
      100,
      90,
      locate,
    );
    const cache = createReadCache({ store: mem, lineSize: 64 });
    const out = await readFile(plan, cache, pending);
    const want = Buffer.concat([Buffer.alloc(10), stored.subarray(100, 140), Buffer.alloc(10), pendingBytes.subarray(5, 25), Buffer.alloc(10)]);
    expect(out.equals(want)).toBe(true);
  });
});
