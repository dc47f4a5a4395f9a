// Read-ahead of the read cache: a model test (random interleaved sequential and
// random reads of many objects return exactly the stored bytes, and the cache
// never holds more than its budget), and the shape of the requests a sequential
// stream makes (fewer, larger GETs; never past the end; handed on to the next
// object; bytes reach a reader before its line is complete).

import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryStore, type GetOptions, type GetResult, type ObjectStore } from '@cairn/objstore';
import { createReadCache } from './read-cache.js';
import { inPieces, wrapStore } from './testing/store.js';
import type { ReadCache } from './types.js';

interface Get {
  readonly name: string;
  readonly offset: number;
  readonly length: number | undefined;
}

interface SlowStoreOptions {
  /** Body pieces of at most this many bytes, each after a macrotask. */
  readonly piece: number;
  /** Runs before each piece (e.g. to check an invariant, or to hold the body). */
  readonly beforePiece?: () => void | Promise<void>;
}

/** A store that records every GET and hands out bodies in small, delayed pieces. */
function slowStore(inner: ObjectStore, o: SlowStoreOptions): { store: ObjectStore; gets: Get[] } {
  const gets: Get[] = [];
  const store = wrapStore(inner, 'slow', (t) => ({
    async get(n: string, opts?: GetOptions): Promise<GetResult> {
      gets.push({ name: n, offset: opts?.range?.offset ?? 0, length: opts?.range?.length });
      await o.beforePiece?.();
      return inPieces(await t.get(n, opts), o.piece, o.beforePiece);
    },
  }));
  return { store, gets };
}

async function objects(sizes: readonly number[]): Promise<{ inner: ObjectStore; data: Buffer[] }> {
  const inner = createMemoryStore();
  await inner.container('segs').create();
  const data = sizes.map((n) => randomBytes(n));
  for (const [i, d] of data.entries()) await inner.container('segs').put(`obj-${i}`, d);
  return { inner, data };
}

const ref = (i: number) => ({ container: 'segs', name: `obj-${i}` });

/** Reads [offset, offset+length) of object i in `step`-byte reads, one after the other. */
async function readSequential(cache: ReadCache, i: number, offset: number, length: number, step: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let at = offset; at < offset + length; at += step) parts.push(await cache.read(ref(i), at, Math.min(step, offset + length - at)));
  return Buffer.concat(parts);
}

describe('read-ahead: model', () => {
  it('interleaved sequential and random readers of many objects get exactly the stored bytes, within the budget', async () => {
    const LINE = 64;
    // A reader never needs more than 3 lines at once (reads of at most 2 lines), and at
    // most 4 readers run together: 12 lines in use. Read-ahead holds at most half the
    // budget, so with a budget of 24 lines or more the cache never goes over it.
    const reader = fc.oneof(
      fc.record({ kind: fc.constant('seq' as const), obj: fc.nat(5), start: fc.nat(1500), length: fc.integer({ min: 1, max: 1500 }), step: fc.integer({ min: 1, max: 2 * LINE }) }),
      fc.record({ kind: fc.constant('random' as const), obj: fc.nat(5), reads: fc.array(fc.tuple(fc.nat(1500), fc.integer({ min: 1, max: 2 * LINE })), { minLength: 1, maxLength: 8 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 1500 }), { minLength: 6, maxLength: 6 }),
        fc.integer({ min: 24, max: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 3 * LINE }),
        fc.array(fc.array(reader, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
        async (sizes, budgetLines, readAheadLines, maxReadAheadLines, piece, batches) => {
          const { inner, data } = await objects(sizes);
          const budgetBytes = budgetLines * LINE;
          let cache: ReadCache | undefined;
          let over = 0;
          const check = (): void => {
            if (cache && cache.stats().bytesCached > budgetBytes) over++;
          };
          const { store } = slowStore(inner, { piece, beforePiece: check });
          cache = createReadCache({ store, lineSize: LINE, budgetBytes, readAheadLines, maxReadAheadBytes: maxReadAheadLines * LINE });
          const c = cache;
          for (const batch of batches) {
            // The readers of a batch run concurrently.
            await Promise.all(batch.map(async (r) => {
              const d = data[r.obj]!;
              if (r.kind === 'seq') {
                const start = Math.min(r.start, d.length - 1);
                const length = Math.min(r.length, d.length - start);
                const got = await readSequential(c, r.obj, start, length, r.step);
                check();
                expect(got.equals(d.subarray(start, start + length))).toBe(true);
              } else {
                for (const [at, len] of r.reads) {
                  const start = Math.min(at, d.length - 1);
                  const n = Math.min(len, d.length - start);
                  const got = await c.read(ref(r.obj), start, n);
                  check();
                  expect(got.equals(d.subarray(start, start + n))).toBe(true);
                }
              }
            }));
          }
          expect(over).toBe(0);
          const s = c.stats();
          expect(s.bytesCached).toBeLessThanOrEqual(budgetBytes);
          // Nothing left pinned or filling: the whole cache can be emptied.
          c.clear();
          expect(c.stats()).toMatchObject({ lines: 0, bytesCached: 0 });
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('read-ahead: requests', () => {
  it('a sequential stream issues fewer, larger GETs, none past the end of the object', async () => {
    const LINE = 1024;
    const size = 64 * LINE + 100;
    const { inner, data } = await objects([size]);
    const plain = slowStore(inner, { piece: 4096 });
    const noAhead = createReadCache({ store: plain.store, lineSize: LINE, budgetBytes: 64 * LINE, readAheadLines: 0 });
    expect((await readSequential(noAhead, 0, 0, size, LINE)).equals(data[0]!)).toBe(true);
    expect(plain.gets).toHaveLength(65);

    const ahead = slowStore(inner, { piece: 4096 });
    const cache = createReadCache({ store: ahead.store, lineSize: LINE, budgetBytes: 64 * LINE, readAheadLines: 2, maxReadAheadBytes: 16 * LINE });
    expect((await readSequential(cache, 0, 0, size, LINE)).equals(data[0]!)).toBe(true);
    const lengths = ahead.gets.map((g) => g.length!);
    expect(ahead.gets.length).toBeLessThanOrEqual(12);
    expect(Math.max(...lengths)).toBeGreaterThanOrEqual(8 * LINE);
    expect(ahead.gets.every((g) => g.offset < size)).toBe(true);
    // Every byte was fetched exactly once.
    const covered = ahead.gets.map((g) => [g.offset, Math.min(size, g.offset + g.length!)] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < covered.length; i++) expect(covered[i]![0]).toBe(covered[i - 1]![1]);
    expect(covered[covered.length - 1]![1]).toBe(size);
    expect(cache.stats().bytesFetched).toBe(size);
    expect(cache.stats().readAheadHits).toBe(cache.stats().readAheads);
  });

  it('the window grows while the reader keeps up and never passes maxReadAheadBytes', async () => {
    const LINE = 100;
    const size = 200 * LINE;
    const { inner } = await objects([size]);
    const { store, gets } = slowStore(inner, { piece: 1000 });
    const cache = createReadCache({ store, lineSize: LINE, budgetBytes: 1000 * LINE, readAheadLines: 1, maxReadAheadBytes: 32 * LINE });
    await readSequential(cache, 0, 0, size, LINE);
    const lengths = gets.map((g) => g.length! / LINE);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(32);
    // The first read fetches its line; the second continues it and fetches one more line
    // with it; then the window doubles each time the reader used half of it.
    expect(lengths.slice(0, 5)).toEqual([1, 2, 2, 3, 6]);
    expect(lengths.filter((n) => n >= 16).length).toBeGreaterThan(5);
  });

  it('a stream that reaches the end of its object starts the next object with its window', async () => {
    const LINE = 1000;
    const { inner, data } = await objects([20 * LINE + 50, 20 * LINE + 50]);
    const { store, gets } = slowStore(inner, { piece: 4000 });
    const cache = createReadCache({ store, lineSize: LINE, budgetBytes: 100 * LINE, readAheadLines: 2, maxReadAheadBytes: 8 * LINE });
    expect((await readSequential(cache, 0, 0, 20 * LINE, LINE)).equals(data[0]!.subarray(0, 20 * LINE))).toBe(true);
    const before = gets.length;
    expect((await readSequential(cache, 1, 0, 20 * LINE, LINE)).equals(data[1]!.subarray(0, 20 * LINE))).toBe(true);
    const next = gets.slice(before);
    expect(next[0]).toMatchObject({ name: 'obj-1', offset: 0 });
    expect(next[0]!.length).toBeGreaterThan(LINE);
    expect(next.length).toBeLessThan(gets.slice(0, before).length);
  });

  it('a random reader does not read ahead and does not take a stream\'s window', async () => {
    const LINE = 100;
    const { inner } = await objects([5000, 5000]);
    const { store, gets } = slowStore(inner, { piece: 1000 });
    const cache = createReadCache({ store, lineSize: LINE, budgetBytes: 100_000, readAheadLines: 2 });
    for (const off of [4000, 150, 3333, 2010, 777]) await cache.read(ref(1), off, 10);
    expect(gets.every((g) => g.length === LINE)).toBe(true);
    expect(cache.stats().readAheads).toBe(0);
  });

  it('concurrent streams on one object each read ahead, and share what they both need', async () => {
    const LINE = 100;
    const size = 100 * LINE;
    const { inner, data } = await objects([size]);
    const { store, gets } = slowStore(inner, { piece: 250 });
    const cache = createReadCache({ store, lineSize: LINE, budgetBytes: 200 * LINE, readAheadLines: 2, maxReadAheadBytes: 16 * LINE });
    const [a, b] = await Promise.all([readSequential(cache, 0, 0, size / 2, 50), readSequential(cache, 0, size / 2, size / 2, 50)]);
    expect(Buffer.concat([a, b]).equals(data[0]!)).toBe(true);
    expect(gets.length).toBeLessThan(30);
    expect(cache.stats().bytesFetched).toBe(size);
  });

  it('read-ahead does not evict what another active stream fetched ahead', async () => {
    const LINE = 100;
    const { inner, data } = await objects([60 * LINE, 60 * LINE, 60 * LINE]);
    const { store } = slowStore(inner, { piece: 300 });
    // Read-ahead may hold 15 lines; three streams with windows of up to 8 lines compete for them.
    const cache = createReadCache({ store, lineSize: LINE, budgetBytes: 30 * LINE, readAheadLines: 2, maxReadAheadBytes: 8 * LINE });
    const got = await Promise.all([0, 1, 2].map((i) => readSequential(cache, i, 0, 60 * LINE, LINE)));
    got.forEach((g, i) => expect(g.equals(data[i]!)).toBe(true));
    const s = cache.stats();
    // Lines fetched ahead were used, not thrown away and fetched again.
    expect(s.bytesFetched).toBe(3 * 60 * LINE);
    expect(s.readAheadHits).toBe(s.readAheads);
  });

  it('read-ahead leaves half the budget to readers: lines it is still fetching never push a read over the budget', async () => {
    const LINE = 100;
    const { inner, data } = await objects([20 * LINE, 20 * LINE]);
    let gate: Promise<void> | undefined;
    let open: () => void = () => {};
    let pieces = 0;
    // Object 0's second GET (line 1 and what is fetched ahead with it) stops after line 1.
    const { store } = slowStore(inner, { piece: LINE, beforePiece: () => (gate && ++pieces > 2 ? gate : undefined) });
    const budgetBytes = 8 * LINE;
    const cache = createReadCache({ store, lineSize: LINE, budgetBytes, readAheadLines: 8, maxReadAheadBytes: 8 * LINE });
    await cache.read(ref(0), 0, LINE);
    gate = new Promise<void>((resolve) => { open = resolve; });
    expect((await cache.read(ref(0), LINE, LINE)).equals(data[0]!.subarray(LINE, 2 * LINE))).toBe(true);
    // A reader of three lines of another object while the read-ahead lines are still filling.
    const other = cache.read(ref(1), 0, 3 * LINE);
    let peak = 0;
    const watch = setInterval(() => { peak = Math.max(peak, cache.stats().bytesCached); }, 0);
    try {
      const slow = sleep(20).then(() => open());
      expect((await other).equals(data[1]!.subarray(0, 3 * LINE))).toBe(true);
      peak = Math.max(peak, cache.stats().bytesCached);
      await slow;
      expect((await readSequential(cache, 0, 2 * LINE, 18 * LINE, LINE)).equals(data[0]!.subarray(2 * LINE))).toBe(true);
    } finally {
      clearInterval(watch);
      open();
    }
    expect(peak).toBeLessThanOrEqual(budgetBytes);
  });

  it('hands the first bytes of a line to its reader before the rest arrived', async () => {
    const LINE = 1000;
    const { inner, data } = await objects([LINE]);
    let gate: (() => void) | undefined;
    let pieces = 0;
    const { store } = slowStore(inner, {
      piece: 100,
      beforePiece: () => (++pieces > 3 ? new Promise<void>((resolve) => { gate = resolve; }) : undefined),
    });
    const cache = createReadCache({ store, lineSize: LINE, readAheadLines: 0 });
    // The GET call and the first two pieces pass; the rest waits for the gate.
    const first = await cache.read(ref(0), 0, 150);
    expect(first.equals(data[0]!.subarray(0, 150))).toBe(true);
    await sleep(5);
    // The line is still incomplete: its GET waits at the gate.
    expect(gate).toBeDefined();
    expect(cache.stats().bytesFetched).toBe(200);
    const rest = cache.read(ref(0), 150, LINE - 150);
    await sleep(5);
    const release = (): void => {
      const g = gate;
      gate = undefined;
      g?.();
    };
    const pump = setInterval(release, 1);
    try {
      expect((await rest).equals(data[0]!.subarray(150))).toBe(true);
    } finally {
      clearInterval(pump);
    }
  });

  it('a GET that fails part-way fails its readers and leaves nothing behind; the next read fetches again', async () => {
    const LINE = 100;
    const { inner, data } = await objects([1000]);
    let failNext = true;
    let pieces = 0;
    const { store, gets } = slowStore(inner, {
      piece: 50,
      beforePiece: () => {
        if (failNext && ++pieces === 4) {
          failNext = false;
          throw new Error('connection reset');
        }
      },
    });
    const cache = createReadCache({ store, lineSize: LINE, budgetBytes: 10_000, readAheadLines: 0 });
    await expect(cache.read(ref(0), 0, 300)).rejects.toThrow('connection reset');
    expect(cache.stats()).toMatchObject({ lines: 1, bytesCached: LINE });
    expect((await cache.read(ref(0), 0, 300)).equals(data[0]!.subarray(0, 300))).toBe(true);
    expect(gets).toHaveLength(2);
    expect(gets[1]).toMatchObject({ offset: LINE, length: 2 * LINE });
  });

  it('checks maxReadAheadBytes', () => {
    const store = createMemoryStore();
    expect(() => createReadCache({ store, maxReadAheadBytes: -1 })).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_INVALID_ARGUMENT' }));
  });
});
