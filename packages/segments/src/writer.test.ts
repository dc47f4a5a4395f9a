import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { isCairnError } from '@cairn/errors';
import { describe, expect, it } from 'vitest';
import { createMemoryStore, type ObjectStore, type OpenSegment, type OpenSegmentOptions } from '@cairn/objstore';
import { segmentName } from './names.js';
import { readSegmentSummary } from './summary.js';
import type { DurableSegment, SegmentWriterOptions } from './types.js';
import { chunkPoolForTests, MAX_APPEND_PIECE } from './segment.js';
import { createSegmentWriter } from './writer.js';
import { wrapStore } from './testing/store.js';

const C = ['seg-a', 'seg-b'];

function counter(): () => Promise<bigint> {
  let n = 0n;
  return async () => ++n;
}

/** A store whose segment closes can be held back per segment name, and whose closes can be made to fail. */
function gatedStore(inner: ObjectStore) {
  const gates = new Map<string, Promise<void>>();
  const failing = new Set<string>();
  const closed: string[] = [];
  const wrapSegment = (s: OpenSegment): OpenSegment => ({
    get container() {
      return s.container;
    },
    get name() {
      return s.name;
    },
    get bytesAppended() {
      return s.bytesAppended;
    },
    get bytesSent() {
      return s.bytesSent;
    },
    append: (chunk) => s.append(chunk),
    abort: () => s.abort(),
    close: async () => {
      await gates.get(s.name);
      if (failing.has(s.name)) {
        await s.abort();
        throw Object.assign(new Error('injected'), {});
      }
      const info = await s.close();
      closed.push(s.name);
      return info;
    },
  });
  const store = wrapStore(inner, 'gated', (c) => ({
    openSegment: (n: string, o?: OpenSegmentOptions) => wrapSegment(c.openSegment(n, o)),
  }));
  return {
    store,
    closed,
    failing,
    hold(nonce: bigint): () => void {
      let release!: () => void;
      gates.set(segmentName(nonce), new Promise<void>((r) => (release = r)));
      return release;
    },
  };
}

function setup(over: Partial<SegmentWriterOptions> = {}, store: ObjectStore = createMemoryStore()) {
  const durable: DurableSegment[] = [];
  const w = createSegmentWriter({
    store,
    containers: C,
    nonces: counter(),
    onDurable: async (d) => {
      durable.push(d);
    },
    maxFlushTimeMs: 60_000,
    ...over,
  });
  return { w, durable, store };
}

async function object(store: ObjectStore, container: string, name: string): Promise<Buffer> {
  return store.container(container).getBuffer(name);
}

describe('createSegmentWriter options', () => {
  const base = (): SegmentWriterOptions => ({ store: createMemoryStore(), containers: C, nonces: counter(), onDurable: async () => {} });
  it.each([
    ['no store', { store: undefined }],
    ['empty containers', { containers: [] }],
    ['bad container name', { containers: ['Bad_Name'] }],
    ['nonces not a function', { nonces: 5 }],
    ['onDurable missing', { onDurable: undefined }],
    ['maxOpenSegments 0', { maxOpenSegments: 0 }],
    ['maxFlushSize 1.5', { maxFlushSize: 1.5 }],
    ['maxFlushTimeMs 0', { maxFlushTimeMs: 0 }],
    ['maxFlushTimeMs NaN', { maxFlushTimeMs: Number.NaN }],
    ['maxBufferedBytes -1', { maxBufferedBytes: -1 }],
    ['putRetries -1', { putRetries: -1 }],
    ['maxConcurrentFlushes 0', { maxConcurrentFlushes: 0 }],
    ['appendChunkSize 0', { appendChunkSize: 0 }],
  ])('refuses %s', (_n, over) => {
    const code = 'containers' in over && over.containers?.length ? 'CAIRN_ERR_OBJ_INVALID_NAME' : 'CAIRN_ERR_INVALID_ARGUMENT';
    expect(() => createSegmentWriter({ ...base(), ...(over as object) } as SegmentWriterOptions)).toThrow(expect.objectContaining({ code }));
  });
});

describe('segment writer', () => {
  it('flush stores the segment, then calls onDurable with every write; the object holds the bytes', async () => {
    const { w, durable, store } = setup();
    const a = randomBytes(1000);
    const b = randomBytes(300);
    const la = await w.write(1n, a, { fileOffset: 0 });
    const lb = await w.write('file-b', b, { fileOffset: 4096 });
    expect(la.pieces).toHaveLength(1);
    const seg = la.pieces[0]!.segment;
    expect(lb.pieces[0]!.segment).toEqual(seg);
    expect(lb.pieces[0]!.segmentOffset).toBe(1000);
    expect(durable).toHaveLength(0);
    await expect(store.container(seg.container).head(seg.name)).rejects.toMatchObject({ code: 'CAIRN_ERR_OBJ_NOT_FOUND' });
    await w.flush(1n);
    expect(durable).toHaveLength(1);
    const d = durable[0]!;
    expect(d.segment).toEqual(seg);
    expect(d.size).toBe(1300);
    expect(d.reason).toBe('flush');
    expect(d.writes).toEqual([
      { fileKey: 1n, fileOffset: 0, segmentOffset: 0, length: 1000 },
      { fileKey: 'file-b', fileOffset: 4096, segmentOffset: 1000, length: 300 },
    ]);
    const obj = await object(store, seg.container, seg.name);
    expect(obj.length).toBe(d.objectSize);
    expect(obj.subarray(0, 1000).equals(a)).toBe(true);
    expect(obj.subarray(1000, 1300).equals(b)).toBe(true);
    const sum = await readSegmentSummary(store, seg);
    expect(sum).toMatchObject({ nonce: seg.nonce, dataLength: 1300, complete: true });
    expect(sum.entries).toEqual(d.writes);
    await w.close();
  });

  it('calls onDurable only once the object is stored (invariant 1)', async () => {
    const store = createMemoryStore();
    const seen: boolean[] = [];
    const w = createSegmentWriter({
      store,
      containers: C,
      nonces: counter(),
      maxFlushSize: 500,
      onDurable: async (d) => {
        const info = await store.container(d.segment.container).head(d.segment.name);
        seen.push(info.size === d.objectSize);
      },
    });
    for (let i = 0; i < 10; i++) await w.write(BigInt(i % 3), randomBytes(180), { fileOffset: i * 180 });
    await w.close();
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.every(Boolean)).toBe(true);
  });

  it('merges consecutive contiguous writes of one file into one run', async () => {
    const { w, durable } = setup();
    for (let i = 0; i < 50; i++) await w.write(7n, randomBytes(100), { fileOffset: i * 100 });
    await w.write(7n, randomBytes(10), { fileOffset: 9000 });
    await w.write(7n, randomBytes(10));
    await w.flush(7n);
    expect(durable[0]!.writes).toEqual([
      { fileKey: 7n, fileOffset: 0, segmentOffset: 0, length: 5000 },
      { fileKey: 7n, fileOffset: 9000, segmentOffset: 5000, length: 10 },
      { fileKey: 7n, fileOffset: undefined, segmentOffset: 5010, length: 10 },
    ]);
  });

  it('closes at maxFlushSize and spills a large write into the next segments', async () => {
    const { w, durable, store } = setup({ maxFlushSize: 1000 });
    const data = randomBytes(2500);
    const loc = await w.write(1n, data, { fileOffset: 0 });
    expect(loc.pieces.map((p) => [p.segment.nonce, p.segmentOffset, p.length])).toEqual([
      [1n, 0, 1000],
      [2n, 0, 1000],
      [3n, 0, 500],
    ]);
    await w.flush(1n);
    expect(w.stats().segmentsClosed).toMatchObject({ size: 2, flush: 1 });
    expect(durable.map((d) => d.segment.nonce)).toEqual([1n, 2n, 3n]);
    const parts = await Promise.all(loc.pieces.map(async (p) => (await object(store, p.segment.container, p.segment.name)).subarray(0, p.length)));
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    expect(durable.map((d) => d.writes[0]!.fileOffset)).toEqual([0, 1000, 2000]);
  });

  it('a write larger than the space left fills the segment and continues in the next one', async () => {
    const { w } = setup({ maxFlushSize: 1000 });
    await w.write('x', randomBytes(600));
    const loc = await w.write('x', randomBytes(600));
    expect(loc.pieces.map((p) => [p.segment.nonce, p.segmentOffset, p.length])).toEqual([
      [1n, 600, 400],
      [2n, 0, 200],
    ]);
    await w.close();
  });

  it('spreads segments over the containers by nonce', async () => {
    const { w, durable } = setup({ maxFlushSize: 100 });
    await w.write(1n, randomBytes(400));
    await w.flushAll();
    expect(durable.map((d) => d.segment.container)).toEqual(['seg-b', 'seg-a', 'seg-b', 'seg-a']);
    expect(durable.map((d) => d.segment.name)).toEqual([1n, 2n, 3n, 4n].map(segmentName));
  });

  it('closes a segment maxFlushTimeMs after it opened, with sub-second times', async () => {
    const { w, durable } = setup({ maxFlushTimeMs: 50 });
    const t0 = performance.now();
    await w.write(1n, randomBytes(100));
    while (durable.length === 0 && performance.now() - t0 < 2000) await sleep(5);
    const took = performance.now() - t0;
    expect(durable).toHaveLength(1);
    expect(durable[0]!.reason).toBe('time');
    expect(took).toBeGreaterThanOrEqual(45);
    expect(took).toBeLessThan(1000);
    expect(w.stats().segmentsClosed.time).toBe(1);
    await w.close();
  });

  it('packs many small files into one segment', async () => {
    const { w, durable } = setup();
    await Promise.all(Array.from({ length: 200 }, (_, i) => w.write(BigInt(i), randomBytes(4096), { fileOffset: 0 })));
    await Promise.all(Array.from({ length: 200 }, (_, i) => w.flush(BigInt(i))));
    expect(durable).toHaveLength(1);
    expect(durable[0]!.writes).toHaveLength(200);
    await w.close();
  });

  it('flush waits only for the segments holding that file', async () => {
    const g = gatedStore(createMemoryStore());
    const { w, durable } = setup({}, g.store);
    const release = g.hold(1n);
    await w.write('other', randomBytes(100));
    const otherFlushed = w.flush('other');
    let otherDone = false;
    void otherFlushed.then(() => (otherDone = true));
    await w.write('mine', randomBytes(100));
    await w.flush('mine');
    expect(durable.map((d) => d.segment.nonce)).toEqual([2n]);
    expect(otherDone).toBe(false);
    release();
    await otherFlushed;
    expect(durable.map((d) => d.segment.nonce)).toEqual([2n, 1n]);
    await w.close();
  });

  it('group commit: flushes beyond maxConcurrentFlushes keep their segment open and share the next PUT', async () => {
    const g = gatedStore(createMemoryStore());
    const { w, durable } = setup({ maxConcurrentFlushes: 1 }, g.store);
    const release = g.hold(1n);
    await w.write('a', randomBytes(10));
    const fa = w.flush('a');
    await w.write('b', randomBytes(10));
    const fb = w.flush('b');
    await w.write('c', randomBytes(10));
    const fc = w.flush('c');
    await sleep(10);
    expect(w.stats()).toMatchObject({ openSegments: 1, closingSegments: 1 });
    await w.write('d', randomBytes(10));
    release();
    await Promise.all([fa, fb, fc]);
    expect(durable.map((d) => d.writes.map((x) => x.fileKey))).toEqual([['a'], ['b', 'c', 'd']]);
    expect(w.stats().segmentsClosed.flush).toBe(2);
    await w.close();
  });

  it('commits the segments of one file in write order even when a newer PUT finishes first', async () => {
    const g = gatedStore(createMemoryStore());
    const { w, durable } = setup({}, g.store);
    const release = g.hold(1n);
    await w.write(9n, Buffer.alloc(100, 1), { fileOffset: 0 });
    const first = w.flush(9n);
    await w.write(9n, Buffer.alloc(100, 2), { fileOffset: 0 });
    const second = w.flush(9n);
    await sleep(20);
    expect(g.closed).toEqual([segmentName(2n)]);
    expect(durable).toHaveLength(0);
    expect(w.pendingExtents(9n).map((e) => e.nonce)).toEqual([1n, 2n]);
    release();
    await Promise.all([first, second]);
    expect(durable.map((d) => d.segment.nonce)).toEqual([1n, 2n]);
    expect(w.pendingExtents(9n)).toEqual([]);
  });

  it('gives a streaming file its own segment; a full pool closes its least recently used segment once idle', async () => {
    const { w, durable } = setup({ maxOpenSegments: 3, maxFlushSize: 4000, maxFlushTimeMs: 4000 });
    const la = await w.write('a', randomBytes(2000));
    const lb = await w.write('b', randomBytes(2000));
    expect([la, lb].map((l) => l.pieces[0]!.segment.nonce)).toEqual([1n, 2n]);
    // A small file does not join a stream's segment while the pool has room.
    expect((await w.write('s', randomBytes(10))).pieces[0]!.segment.nonce).toBe(3n);
    await sleep(1100);
    await w.write('a', randomBytes(10));
    await w.write('s', randomBytes(10));
    // Pool full; b's segment has been idle longer than min(1 s, maxFlushTimeMs / 4): stream c closes it.
    expect((await w.write('c', randomBytes(1500))).pieces[0]!.segment.nonce).toBe(4n);
    // Pool full and nothing idle: stream d joins the most recently used segment instead.
    expect((await w.write('d', randomBytes(1500))).pieces[0]!.segment.nonce).toBe(4n);
    expect(w.stats().segmentsClosed.lru).toBe(1);
    await w.flushAll();
    expect(durable.filter((d) => d.reason === 'lru').map((d) => d.segment.nonce)).toEqual([2n]);
    await w.close();
  });

  it('serves pending bytes from memory until the segment is committed', async () => {
    const g = gatedStore(createMemoryStore());
    const { w } = setup({ appendChunkSize: 64 }, g.store);
    const release = g.hold(1n);
    const data = randomBytes(1000);
    const loc = await w.write(1n, data, { fileOffset: 0 });
    const seg = loc.pieces[0]!.segment;
    expect(w.readPending(seg, 0, 1000)!.equals(data)).toBe(true);
    expect(w.readPending(seg.nonce, 130, 200)!.equals(data.subarray(130, 330))).toBe(true);
    expect(() => w.readPending(seg, 900, 200)).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_INVALID_ARGUMENT' }));
    const flushed = w.flush(1n);
    await sleep(10);
    expect(w.readPending(seg, 0, 10)!.equals(data.subarray(0, 10))).toBe(true);
    release();
    await flushed;
    expect(w.readPending(seg, 0, 10)).toBeUndefined();
    expect(w.readPending(99n, 0, 10)).toBeUndefined();
  });

  it('keeps buffered bytes within maxBufferedBytes: writers wait for durability', async () => {
    const g = gatedStore(createMemoryStore());
    const { w } = setup({ maxFlushSize: 1000, maxBufferedBytes: 2000 }, g.store);
    const release1 = g.hold(1n);
    const release2 = g.hold(2n);
    await w.write(1n, randomBytes(1000));
    await w.write(1n, randomBytes(1000));
    let placed = false;
    const third = w.write(1n, randomBytes(500)).then(() => (placed = true));
    await sleep(20);
    expect(placed).toBe(false);
    expect(w.stats().bytesBuffered).toBe(2000);
    expect(w.stats().waitingWrites).toBe(1);
    release1();
    await third;
    expect(w.stats().bytesBuffered).toBeLessThanOrEqual(2000);
    release2();
    await w.close();
    expect(w.stats().bytesBuffered).toBe(0);
  });

  it('under memory pressure closes open segments instead of waiting for their timer', async () => {
    const { w, durable } = setup({ maxFlushSize: 10_000, maxBufferedBytes: 1000 });
    await w.write(1n, randomBytes(800));
    await w.write(2n, randomBytes(800));
    expect(durable.length).toBeGreaterThanOrEqual(1);
    expect(w.stats().segmentsClosed.budget).toBeGreaterThanOrEqual(1);
    await w.close();
    expect(durable.reduce((n, d) => n + d.size, 0)).toBe(1600);
  });

  it('under memory pressure closes the largest open segment first, not the least recently used', async () => {
    // maxFlushSize 4000: writes of 1000 bytes or more stream into a segment of their own.
    const { w, durable } = setup({ maxFlushSize: 4000, maxBufferedBytes: 1800, appendChunkSize: 256 });
    await w.write(2n, randomBytes(400)); // a shared segment: smaller, least recently used
    await w.write(1n, randomBytes(1200)); // a segment of its own: larger, most recently used
    await w.write(3n, randomBytes(400)); // needs 400 with 1600 of 1800 held: one segment must close
    expect(w.stats().segmentsClosed.budget).toBe(1);
    await w.flush(1n);
    const closedByBudget = durable.filter((d) => d.reason === 'budget');
    expect(closedByBudget.map((d) => d.writes.map((x) => x.fileKey))).toEqual([[1n]]);
    await w.close();
    expect(durable.reduce((n, d) => n + d.size, 0)).toBe(2000);
  });

  it('hands the backend pieces below a 1 MiB slab and reuses the chunk buffers of settled segments', async () => {
    chunkPoolForTests.clear();
    const MiB = 1024 * 1024;
    const appends: number[] = [];
    const store = wrapStore(createMemoryStore(), 'recording', (c) => ({
      openSegment: (n: string, o?: OpenSegmentOptions) => {
        const seg = c.openSegment(n, o);
        return new Proxy(seg, {
          get(t, p) {
            if (p === 'append') return (chunk: Uint8Array) => { appends.push(chunk.length); return t.append(chunk); };
            const v = Reflect.get(t, p, t) as unknown;
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
          },
        });
      },
    }));
    const { w, durable } = setup({ maxFlushSize: 8 * MiB, writeSummary: false }, store);
    const a = randomBytes(3 * MiB);
    await w.write(1n, a, { fileOffset: 0 });
    await w.flush(1n);
    expect(Math.max(...appends)).toBeLessThanOrEqual(MAX_APPEND_PIECE);
    expect(MAX_APPEND_PIECE).toBeLessThan(MiB);
    expect(chunkPoolForTests.bytes()).toBe(3 * MiB); // the settled segment's full chunks
    const b = randomBytes(3 * MiB);
    await w.write(2n, b, { fileOffset: 0 });
    expect(chunkPoolForTests.bytes()).toBe(0); // the next segment filled them again
    await w.flush(2n);
    const [d1, d2] = durable;
    expect((await object(store, d1!.segment.container, d1!.segment.name)).equals(a)).toBe(true);
    expect((await object(store, d2!.segment.container, d2!.segment.name)).equals(b)).toBe(true);
    await w.close();
    chunkPoolForTests.checkIdle();
    chunkPoolForTests.checkIdle();
    expect(chunkPoolForTests.bytes()).toBe(0); // an idle pool is dropped
  });

  it('a failed segment rejects every flush waiting on it, never reaches onDurable, and is reported once later', async () => {
    const g = gatedStore(createMemoryStore());
    const failed: bigint[] = [];
    const { w, durable } = setup({ putRetries: 0, onFailed: (f) => failed.push(f.segment.nonce) }, g.store);
    g.failing.add(segmentName(1n));
    await w.write('f', randomBytes(100), { fileOffset: 0 });
    await w.write('g', randomBytes(100), { fileOffset: 0 });
    const [rf, rg] = await Promise.allSettled([w.flush('f'), w.flush('g')]);
    expect(rf.status).toBe('rejected');
    expect(rg.status).toBe('rejected');
    const err = (rf as PromiseRejectedResult).reason;
    expect(isCairnError(err, 'CAIRN_ERR_SEG_PUT_FAILED')).toBe(true);
    expect(durable).toHaveLength(0);
    expect(failed).toEqual([1n]);
    expect(w.pendingExtents('f')).toEqual([]);
    await expect(w.flush('f')).resolves.toBeUndefined();
    await expect(w.flushAll()).rejects.toMatchObject({ code: 'CAIRN_ERR_SEG_PUT_FAILED' });
    await expect(w.flushAll()).resolves.toBeUndefined();
    expect(w.stats().segmentsFailed).toBe(1);
    expect(w.stats().bytesBuffered).toBe(0);
  });

  it('reports a failure to a later flush of a file that was not waiting', async () => {
    const g = gatedStore(createMemoryStore());
    const { w } = setup({ putRetries: 0, maxFlushTimeMs: 20 }, g.store);
    g.failing.add(segmentName(1n));
    await w.write('f', randomBytes(100));
    await sleep(100);
    expect(w.stats().segmentsFailed).toBe(1);
    await expect(w.flush('f')).rejects.toMatchObject({ code: 'CAIRN_ERR_SEG_PUT_FAILED' });
    await expect(w.flush('f')).resolves.toBeUndefined();
  });

  it('a rejected onDurable fails the segment with CAIRN_ERR_SEG_COMMIT_FAILED', async () => {
    const { w } = setup({ onDurable: async () => Promise.reject(new Error('metadata down')) });
    await w.write(1n, randomBytes(10));
    await expect(w.flush(1n)).rejects.toMatchObject({ code: 'CAIRN_ERR_SEG_COMMIT_FAILED' });
  });

  it('refuses a nonce handed out twice', async () => {
    const { w } = setup({ nonces: async () => 5n, maxFlushSize: 10 });
    await w.write(1n, randomBytes(10));
    await expect(w.write(1n, randomBytes(10))).rejects.toMatchObject({ code: 'CAIRN_ERR_SEG_NONCE_REUSED' });
  });

  it('refuses writes after close, and close is idempotent', async () => {
    const { w, durable } = setup();
    await w.write(1n, randomBytes(10));
    await Promise.all([w.close(), w.close()]);
    expect(durable).toHaveLength(1);
    expect(durable[0]!.reason).toBe('shutdown');
    await expect(w.write(1n, randomBytes(1))).rejects.toMatchObject({ code: 'CAIRN_ERR_CLOSED' });
  });

  it('checks write arguments', async () => {
    const { w } = setup();
    await expect(w.write(-1n, randomBytes(1))).rejects.toMatchObject({ code: 'CAIRN_ERR_INVALID_ARGUMENT' });
    await expect(w.write(1n, 'x' as unknown as Uint8Array)).rejects.toMatchObject({ code: 'CAIRN_ERR_INVALID_ARGUMENT' });
    await expect(w.write(1n, randomBytes(1), { fileOffset: -1 })).rejects.toMatchObject({ code: 'CAIRN_ERR_INVALID_ARGUMENT' });
    expect(await w.write(1n, new Uint8Array(0))).toEqual({ pieces: [] });
    expect(w.stats().segmentsOpened).toBe(0);
  });

  it('re-sends a segment from memory after a transient failure', async () => {
    const store = createMemoryStore();
    let failures = 1;
    const flaky: ObjectStore = {
      ...store,
      kind: 'flaky',
      ping: () => store.ping(),
      stats: () => store.stats(),
      close: () => store.close(),
      container(name) {
        const c = store.container(name);
        return new Proxy(c, {
          get(t, p) {
            if (p === 'openSegment') {
              return (n: string, o?: object) => {
                const s = t.openSegment(n, o);
                return {
                  container: s.container, name: s.name, bytesAppended: 0, bytesSent: 0,
                  append: (b: Uint8Array) => s.append(b),
                  abort: () => s.abort(),
                  close: async () => {
                    if (failures-- > 0) {
                      await s.abort();
                      const { cairnError } = await import('@cairn/errors');
                      throw cairnError('CAIRN_ERR_OBJ_UNAVAILABLE', 'flaky');
                    }
                    return s.close();
                  },
                } satisfies OpenSegment;
              };
            }
            const v = Reflect.get(t, p, t) as unknown;
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
          },
        });
      },
    };
    const { w, durable } = setup({ retryDelayMs: 1 }, flaky);
    const data = randomBytes(3000);
    const loc = await w.write(1n, data);
    await w.flush(1n);
    expect(w.stats().segmentRetries).toBe(1);
    const seg = loc.pieces[0]!.segment;
    expect((await object(store, seg.container, seg.name)).subarray(0, 3000).equals(data)).toBe(true);
    expect(durable).toHaveLength(1);
  });

  it('emits events and keeps stats', async () => {
    const { w } = setup({ maxFlushSize: 100 });
    const events: string[] = [];
    for (const e of ['segment-open', 'segment-close', 'segment-durable', 'drain'] as const) w.on(e, () => events.push(e));
    await w.write(1n, randomBytes(150));
    await w.flushAll();
    expect(events.filter((e) => e === 'segment-open')).toHaveLength(2);
    expect(events.filter((e) => e === 'segment-durable')).toHaveLength(2);
    expect(events[events.length - 1]).toBe('drain');
    const s = w.stats();
    expect(s).toMatchObject({ openSegments: 0, closingSegments: 0, bytesBuffered: 0, bytesWritten: 150, bytesDurable: 150, segmentsDurable: 2 });
    expect(s.putLatency.count).toBe(2);
    expect(s.segmentLifetime.maxMs).toBeGreaterThanOrEqual(s.putLatency.p50Ms);
  });
});
