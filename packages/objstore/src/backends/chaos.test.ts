import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { isCairnError, type CairnErrorCode } from '@cairn/errors';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeConformance } from '../testing/index.js';
import type { ObjectStore } from '../types.js';
import { createChaosStore, type ChaosOptions } from './chaos.js';
import { createPrng } from './chaos-prng.js';
import { createRetryingStore } from './chaos-retry.js';
import { createMemoryStore } from './memory.js';

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

function bytes(seed: number, size: number): Buffer {
  const r = createPrng(seed);
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = Math.floor(r() * 256);
  return b;
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return isCairnError(e) ? e.code : `non-cairn:${String(e)}`;
  }
}

async function readAll(body: Readable): Promise<{ data: Buffer; error?: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of body) chunks.push(c as Buffer);
    return { data: Buffer.concat(chunks) };
  } catch (error) {
    return { data: Buffer.concat(chunks), error };
  }
}

function chaosOverMemory(options: ChaosOptions) {
  const inner = createMemoryStore();
  return { inner, chaos: createChaosStore(inner, options) };
}

describe('chaos: options', () => {
  it('checks options up front with CONFIG_INVALID', () => {
    const inner = createMemoryStore();
    const bad: ChaosOptions[] = [
      { rates: { before: 1.5 } },
      { rates: { after: -0.1 } },
      { ops: { head: { reset: 0.1 } } },
      { rates: { before: 0.6, after: 0.6 } },
      { latencyMs: { min: 10, max: 5 } },
      { stallMs: -1 },
      { seed: 1.5 },
    ];
    for (const o of bad) expect(() => createChaosStore(inner, o), JSON.stringify(o)).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_CONFIG_INVALID' }));
    expect(createChaosStore(inner, { rates: { reset: 0.5 } }).kind).toBe('chaos(memory)');
  });
});

describe('chaos: each fault', () => {
  it('before: fails retryably and never reaches the backend', async () => {
    const { inner, chaos } = chaosOverMemory({ ops: { put: { before: 1 }, delete: { before: 1 } } });
    const err = await chaos.container('box').put('a', Buffer.from('x')).catch((e: unknown) => e);
    expect(isCairnError(err, 'CAIRN_ERR_OBJ_UNAVAILABLE')).toBe(true);
    expect((err as { retryable: boolean }).retryable).toBe(true);
    expect((err as { details: unknown }).details).toEqual({ chaos: 'before', applied: false });
    expect(await outcome(inner.container('box').head('a'))).toBe('CAIRN_ERR_OBJ_NOT_FOUND');
    await inner.container('box').put('b', Buffer.from('y'));
    expect(await outcome(chaos.container('box').delete('b'))).toBe('CAIRN_ERR_OBJ_UNAVAILABLE');
    expect((await inner.container('box').getBuffer('b')).toString()).toBe('y');
    expect(chaos.counters().put).toMatchObject({ calls: 1, before: 1, after: 0 });
    expect(chaos.injected()).toBe(2);
  });

  it('after: the operation takes effect but the caller sees an error', async () => {
    const { inner, chaos } = chaosOverMemory({ ops: { put: { after: 1 }, delete: { after: 1 }, get: { after: 1 } } });
    expect(await outcome(chaos.container('box').put('a', Buffer.from('x')))).toBe('CAIRN_ERR_OBJ_UNAVAILABLE');
    expect((await inner.container('box').getBuffer('a')).toString()).toBe('x');
    expect(await outcome(chaos.container('box').get('a'))).toBe('CAIRN_ERR_OBJ_UNAVAILABLE');
    expect(await outcome(chaos.container('box').delete('a'))).toBe('CAIRN_ERR_OBJ_UNAVAILABLE');
    expect(await outcome(inner.container('box').head('a'))).toBe('CAIRN_ERR_OBJ_NOT_FOUND');
  });

  it('stall: hangs stallMs, then times out without reaching the backend; a signal cancels it', async () => {
    const { inner, chaos } = chaosOverMemory({ ops: { put: { stall: 1 } }, stallMs: 60 });
    const t0 = Date.now();
    const err = await chaos.container('box').put('a', Buffer.from('x')).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(55);
    expect(isCairnError(err, 'CAIRN_ERR_OBJ_TIMEOUT') && err.retryable).toBe(true);
    expect(await outcome(inner.container('box').head('a'))).toBe('CAIRN_ERR_OBJ_NOT_FOUND');
    const slow = createChaosStore(inner, { ops: { put: { stall: 1 } }, stallMs: 60_000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20);
    expect(await outcome(slow.container('box').put('a', Buffer.from('x'), { signal: ac.signal }))).toBe('CAIRN_ERR_CANCELED');
  });

  it('latency: delays by [min, max] ms and counts it', async () => {
    const { chaos } = chaosOverMemory({ latencyMs: { min: 30, max: 40 } });
    const c = chaos.container('box');
    const t0 = Date.now();
    await c.put('a', Buffer.from('x'));
    await c.head('a');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(58);
    expect(chaos.counters().put.latency + chaos.counters().head.latency).toBe(2);
    expect(chaos.injected()).toBe(0);
  });

  it('reset: a GET body errors after a strict prefix of the object, never ending cleanly short', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 200_000 }), fc.nat(), fc.option(fc.record({ offset: fc.nat(1000), length: fc.nat(50_000) }), { nil: undefined }), async (size, seed, range) => {
        const { inner, chaos } = chaosOverMemory({ seed, ops: { get: { reset: 1 } } });
        const data = bytes(seed, size);
        await inner.container('box').put('o', data);
        if (range && (range.offset > size || (range.offset === size && size > 0 && range.length !== 0))) return;
        const r = await chaos.container('box').get('o', range ? { range } : {});
        const got = await readAll(r.body);
        expect(isCairnError(got.error, 'CAIRN_ERR_OBJ_CONNECTION_RESET')).toBe(true);
        expect(got.data.length).toBeLessThan(Math.max(r.length, 1));
        expect(got.data.equals(data.subarray(r.offset, r.offset + got.data.length))).toBe(true);
        expect(await outcome(chaos.container('box').getBuffer('o'))).toBe('CAIRN_ERR_OBJ_CONNECTION_RESET');
      }),
      { numRuns: 40 },
    );
  });

  it('segment reset: nothing becomes visible and the segment stays failed', async () => {
    const { inner, chaos } = chaosOverMemory({ ops: { segment: { reset: 1 } } });
    const s = chaos.container('box').openSegment('seg');
    expect(await outcome(s.append(Buffer.from('abc')))).toBe('CAIRN_ERR_OBJ_CONNECTION_RESET');
    chaos.setEnabled(false);
    expect(await outcome(s.append(Buffer.from('def')))).toBe('CAIRN_ERR_OBJ_CONNECTION_RESET');
    expect(await outcome(s.close())).toBe('CAIRN_ERR_OBJ_CONNECTION_RESET');
    await s.abort();
    expect(await outcome(inner.container('box').head('seg'))).toBe('CAIRN_ERR_OBJ_NOT_FOUND');
  });

  it('segment after-fault on close: the object is visible, the caller sees an error', async () => {
    const { inner, chaos } = chaosOverMemory({ ops: { segment: { after: 1 } } });
    chaos.setEnabled(false);
    const s = chaos.container('box').openSegment('seg');
    await s.append(Buffer.from('abc'));
    chaos.setEnabled(true);
    expect(await outcome(s.close())).toBe('CAIRN_ERR_OBJ_UNAVAILABLE');
    expect((await inner.container('box').getBuffer('seg')).toString()).toBe('abc');
  });

  it('segment appends stay in call order under random latency', async () => {
    const { inner, chaos } = chaosOverMemory({ seed: 7, latencyMs: { min: 0, max: 15 } });
    const s = chaos.container('box').openSegment('seg');
    const parts = Array.from({ length: 30 }, (_, i) => bytes(i, 10 + i));
    await Promise.all(parts.map((p) => s.append(p)));
    const info = await s.close();
    expect(info.etag).toBe(md5(Buffer.concat(parts)));
    expect((await inner.container('box').getBuffer('seg')).equals(Buffer.concat(parts))).toBe(true);
    expect(chaos.counters().segment.calls).toBe(31);
  });

  it('setEnabled(false) makes it a transparent pass-through', async () => {
    const { chaos } = chaosOverMemory({ rates: { before: 1 } });
    chaos.setEnabled(false);
    expect(chaos.enabled).toBe(false);
    const c = chaos.container('box');
    await c.put('a', Buffer.from('x'));
    expect((await c.getBuffer('a')).toString()).toBe('x');
    expect(chaos.injected()).toBe(0);
    chaos.setEnabled(true);
    expect(await outcome(c.head('a'))).toBe('CAIRN_ERR_OBJ_UNAVAILABLE');
    expect(chaos.counters().head).toMatchObject({ calls: 1, before: 1 });
    expect(chaos.counters().put).toMatchObject({ calls: 1, before: 0 });
  });
});

/** A fixed sequential workload; returns each operation's outcome. */
async function workload(store: ObjectStore, ops: number): Promise<string[]> {
  const c = store.container('box');
  const out: string[] = [];
  for (let i = 0; i < ops; i++) {
    const name = `k${i % 7}`;
    switch (i % 5) {
      case 0: out.push(await outcome(c.put(name, bytes(i, 100 + i)))); break;
      case 1: out.push(await outcome(c.getBuffer(name))); break;
      case 2: out.push(await outcome(c.head(name))); break;
      case 3: out.push(await outcome(c.list({ limit: 3 }))); break;
      default: out.push(await outcome(c.delete(name))); break;
    }
  }
  return out;
}

describe('chaos: reproducibility', () => {
  const options = (seed: number): ChaosOptions => ({ seed, rates: { before: 0.1, after: 0.1, stall: 0.05, reset: 0.2 }, stallMs: 1 });

  it('the same seed gives the same fault sequence; another seed a different one', async () => {
    const a = createChaosStore(createMemoryStore(), options(42));
    const b = createChaosStore(createMemoryStore(), options(42));
    const c = createChaosStore(createMemoryStore(), options(43));
    const [ra, rb, rc] = [await workload(a, 150), await workload(b, 150), await workload(c, 150)];
    expect(ra).toEqual(rb);
    expect(a.counters()).toEqual(b.counters());
    expect(ra).not.toEqual(rc);
    expect(a.injected()).toBeGreaterThan(10);
    for (const code of ['ok', 'CAIRN_ERR_OBJ_UNAVAILABLE', 'CAIRN_ERR_OBJ_TIMEOUT', 'CAIRN_ERR_OBJ_CONNECTION_RESET']) expect(ra).toContain(code);
  });

  it('the PRNG is uniform enough and seed-determined', () => {
    const r = createPrng(123);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const x = r();
      expect(x >= 0 && x < 1).toBe(true);
      buckets[Math.floor(x * 10)]!++;
    }
    for (const n of buckets) expect(Math.abs(n - 10_000)).toBeLessThan(500);
    const s1 = createPrng(5);
    const s2 = createPrng(5);
    expect(Array.from({ length: 5 }, () => s1())).toEqual(Array.from({ length: 5 }, () => s2()));
    expect(createPrng(5)()).not.toBe(createPrng(6)());
  });
});

describe('chaos with a retrying caller: data round-trips exactly', () => {
  const faulty = (seed: number): ChaosOptions => ({
    seed, rates: { before: 0.08, after: 0.08, stall: 0.04, reset: 0.1 }, stallMs: 1, latencyMs: { min: 0, max: 2 }, ops: { segment: { before: 0.03, after: 0.03, reset: 0.03 } },
  });

  it('random operations agree with a Map model', async () => {
    const cmd = fc.oneof(
      fc.record({ op: fc.constant('put' as const), k: fc.nat(5), size: fc.nat(5000), seed: fc.nat(), stream: fc.boolean(), ifNoneMatch: fc.boolean() }),
      fc.record({ op: fc.constant('get' as const), k: fc.nat(5), offset: fc.nat(6000), length: fc.option(fc.nat(6000), { nil: undefined }) }),
      fc.record({ op: fc.constant('delete' as const), k: fc.nat(5), mustExist: fc.boolean() }),
      fc.record({ op: fc.constant('list' as const), limit: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ op: fc.constant('segment' as const), k: fc.nat(5), parts: fc.array(fc.nat(3000), { maxLength: 6 }), seed: fc.nat() }),
    );
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.array(cmd, { minLength: 1, maxLength: 30 }), async (seed, cmds) => {
        const chaos = createChaosStore(createMemoryStore(), faulty(seed));
        const c = createRetryingStore(chaos, { baseDelayMs: 0, maxDelayMs: 1, maxAttempts: 50 }).container('box');
        await c.create();
        const model = new Map<string, Buffer>();
        for (const x of cmds) {
          if (x.op === 'put') {
            const name = `k${x.k}`;
            const data = bytes(x.seed, x.size);
            const body = x.stream ? Readable.from([data.subarray(0, 1000), data.subarray(1000)]) : data;
            if (x.ifNoneMatch && model.has(name) && !model.get(name)!.equals(data)) {
              expect(await outcome(c.put(name, body, { ifNoneMatch: true }))).toBe('CAIRN_ERR_OBJ_PRECONDITION_FAILED');
            } else if (!(x.ifNoneMatch && model.has(name))) {
              expect((await c.put(name, body, { ifNoneMatch: x.ifNoneMatch })).etag).toBe(md5(data));
              model.set(name, data);
            }
          } else if (x.op === 'get') {
            const want = model.get(`k${x.k}`);
            const range = x.length === undefined ? { offset: x.offset } : { offset: x.offset, length: x.length };
            const expected: CairnErrorCode | Buffer = !want ? 'CAIRN_ERR_OBJ_NOT_FOUND'
              : x.offset > want.length || (x.offset === want.length && want.length > 0 && x.length !== 0) ? 'CAIRN_ERR_OBJ_RANGE_NOT_SATISFIABLE'
                : want.subarray(x.offset, x.length === undefined ? undefined : x.offset + x.length);
            if (Buffer.isBuffer(expected)) expect((await c.getBuffer(`k${x.k}`, { range })).equals(expected)).toBe(true);
            else expect(await outcome(c.get(`k${x.k}`, { range }))).toBe(expected);
          } else if (x.op === 'delete') {
            const name = `k${x.k}`;
            const r = await outcome(c.delete(name, { mustExist: x.mustExist }));
            expect(r).toBe(x.mustExist && !model.has(name) ? 'CAIRN_ERR_OBJ_NOT_FOUND' : 'ok');
            model.delete(name);
          } else if (x.op === 'list') {
            const names: string[] = [];
            for await (const e of c.listAll({ limit: x.limit })) if (e.kind === 'object') names.push(e.name);
            expect(names).toEqual([...model.keys()].sort());
          } else {
            const parts = x.parts.map((n, i) => bytes(x.seed + i, n));
            const s = c.openSegment(`k${x.k}`);
            for (const p of parts) await s.append(p);
            const all = Buffer.concat(parts);
            expect((await s.close()).etag).toBe(md5(all));
            model.set(`k${x.k}`, all);
          }
        }
        chaos.setEnabled(false);
        for (const [name, data] of model) expect((await c.getBuffer(name)).equals(data)).toBe(true);
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it('a broken GET stream is resumed and the bytes are exact', async () => {
    const inner = createMemoryStore();
    const data = bytes(99, 300_000);
    await inner.container('box').put('big', data);
    const chaos = createChaosStore(inner, { seed: 3, ops: { get: { reset: 0.7 } } });
    const c = createRetryingStore(chaos, { baseDelayMs: 0, maxAttempts: 60 }).container('box');
    for (let i = 0; i < 10; i++) expect((await c.getBuffer('big')).equals(data)).toBe(true);
    expect(chaos.counters().get.reset).toBeGreaterThan(5);
  });

  it('without retries, the same faults surface to the caller', async () => {
    const chaos = createChaosStore(createMemoryStore(), faulty(1));
    const results = await workload(chaos, 100);
    expect(results.filter((r) => r !== 'ok' && r !== 'CAIRN_ERR_OBJ_NOT_FOUND').length).toBeGreaterThan(5);
  });
});

// The whole conformance suite through a faulty store and the retrying caller.
describeConformance(
  'retry(chaos(memory))',
  async () => ({
    store: createRetryingStore(createChaosStore(createMemoryStore(), {
      seed: 2024,
      rates: { before: 0.03, after: 0.03, stall: 0.01, reset: 0.03 },
      stallMs: 5,
      latencyMs: { min: 0, max: 1 },
      ops: { segment: { before: 0.01, after: 0.01, reset: 0.01 } },
    }), { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 30, replayBytes: 8 * 1024 * 1024 }),
    container: 'conformance',
  }),
  { relaxed: true, largeBytes: 4 * 1024 * 1024 },
);
