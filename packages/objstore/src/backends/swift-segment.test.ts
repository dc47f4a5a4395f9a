// OpenSegment on Swift against a local fake Swift that misbehaves on purpose:
// the segment must stream as it is appended, push back when the connection is
// slow, and re-send everything it kept when an attempt fails.

import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isCairnError, type CairnError } from '@cairn/errors';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ObjectStore, OpenSegment } from '../types.js';
import { FakeSwift } from './swift-fake.js';
import type { SwiftStoreOptions } from './swift-options.js';
import { slabPoolForTests } from './slab.js';
import { createSwiftStore } from './swift.js';

let fake: FakeSwift;
let store: ObjectStore;

function open(extra: Partial<SwiftStoreOptions> = {}): ObjectStore {
  store = createSwiftStore({
    authUrl: fake.authUrl, user: 'test:tester', key: 'testing',
    retry: { baseDelayMs: 1, maxDelayMs: 5 }, requestTimeoutMs: 2000, ...extra,
  });
  return store;
}

beforeEach(async () => {
  fake = await new FakeSwift().start();
  fake.containers.set('segs', new Map());
});

afterEach(async () => {
  slabPoolForTests.clear();
  await fake.stop();
  await store?.close();
});

function bytes(seed: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed * 2654435761 >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

async function appendAll(s: OpenSegment, parts: readonly Buffer[]): Promise<Buffer> {
  for (const p of parts) await s.append(p);
  return Buffer.concat(parts);
}

function puts(): number[] {
  return fake.log.filter((l) => l.method === 'PUT' && l.path.includes('/segs/')).map((l) => l.status);
}

describe('swift OpenSegment', () => {
  it('a segment that closed hands its slabs to the next one, whose bytes arrive intact; an aborted one does not', async () => {
    const c = open().container('segs');
    slabPoolForTests.clear();
    const a = c.openSegment('a');
    const first = await appendAll(a, [bytes(1, 300_000), bytes(2, 300_000)]);
    expect(slabPoolForTests.size()).toBe(0);
    expect((await a.close()).etag).toBe(md5(first));
    const recycled = slabPoolForTests.size();
    expect(recycled).toBeGreaterThan(0);

    const b = c.openSegment('b');
    const second = await appendAll(b, [bytes(3, 100_000), bytes(4, 50_000)]);
    expect(slabPoolForTests.size()).toBe(recycled - 1); // refilled, not newly allocated
    expect((await b.close()).etag).toBe(md5(second));
    expect(fake.object('segs', 'a')!.data.equals(first)).toBe(true);
    expect(fake.object('segs', 'b')!.data.equals(second)).toBe(true);

    slabPoolForTests.clear();
    const d = c.openSegment('d');
    await d.append(bytes(5, 10_000));
    await d.abort();
    expect(slabPoolForTests.size()).toBe(0);
  });

  it('streams bytes to Swift as they are appended, before close', async () => {
    const c = open().container('segs');
    // This server answers the PUT itself, so that it sees the body bytes as they come.
    const parts: Buffer[] = [];
    let received = 0;
    fake.before = ({ method, object, req, res }) => {
      if (method !== 'PUT' || object === undefined) return false;
      req.on('data', (d: Buffer) => {
        parts.push(d);
        received += d.length;
      });
      req.on('end', () => {
        const data = Buffer.concat(parts);
        fake.containers.get('segs')!.set(object, { data, meta: {}, etag: md5(data), timestamp: Date.now() });
        res.writeHead(201, { etag: md5(data) }).end();
      });
      return true;
    };
    const s = c.openSegment('live');
    await s.append(bytes(1, 200_000));
    await s.append(bytes(2, 100_000));
    for (let i = 0; i < 100 && received < 300_000; i++) await new Promise((r) => setTimeout(r, 10));
    expect(received).toBe(300_000);
    expect(s.bytesSent).toBe(300_000);
    expect(fake.object('segs', 'live')).toBeUndefined();
    const info = await s.close();
    const all = Buffer.concat([bytes(1, 200_000), bytes(2, 100_000)]);
    expect([info.size, info.etag]).toEqual([all.length, md5(all)]);
    expect(fake.object('segs', 'live')!.data.equals(all)).toBe(true);
    expect(store.stats().bytesOut).toBeGreaterThanOrEqual(all.length);
  });

  it('re-sends the whole segment on a new connection when the first one is cut', async () => {
    const c = open().container('segs');
    let cut = false;
    fake.before = ({ method, object, req }) => {
      if (method !== 'PUT' || object === undefined || cut) return false;
      cut = true;
      let n = 0;
      req.socket.on('data', (d: Buffer) => {
        n += d.length;
        if (n > 150_000) req.socket.destroy();
      });
      return false;
    };
    const s = c.openSegment('cut', { maxSize: 4 * 1024 * 1024 });
    const all = await appendAll(s, Array.from({ length: 40 }, (_, i) => bytes(i, 25_000)));
    const info = await s.close();
    expect(cut).toBe(true);
    expect(info.etag).toBe(md5(all));
    expect(fake.object('segs', 'cut')!.data.equals(all)).toBe(true);
    expect(store.stats().retries).toBeGreaterThanOrEqual(1);
    expect(puts().filter((st) => st === 201)).toHaveLength(1);
  });

  it('re-sends after a 503, a wrong ETag, a refused token and a missing container', async () => {
    const c = open().container('segs');
    const plan = ['503', 'etag', '401'];
    fake.after = ({ method, object, res }) => {
      if (method !== 'PUT' || object === undefined || plan.length === 0) return false;
      const what = plan.shift();
      if (what === '503') res.writeHead(503).end();
      else if (what === 'etag') res.writeHead(201, { etag: 'deadbeef' }).end();
      else res.writeHead(401).end();
      return true;
    };
    const s = c.openSegment('flaky');
    const all = await appendAll(s, [bytes(7, 1000), bytes(8, 70_000)]);
    const info = await s.close();
    expect(info.etag).toBe(md5(all));
    expect(fake.object('segs', 'flaky')!.data.equals(all)).toBe(true);
    expect(fake.authCount).toBe(2);

    const fresh = store.container('new-box').openSegment('x');
    await fresh.append(bytes(9, 10));
    expect((await fresh.close()).size).toBe(10);
    expect(fake.object('new-box', 'x')!.data.equals(bytes(9, 10))).toBe(true);
  });

  it('a stalled connection times out and the segment is re-sent', async () => {
    const c = open({ requestTimeoutMs: 300 }).container('segs');
    let stalled: IncomingMessage | undefined;
    fake.before = ({ method, object, req }) => {
      if (method !== 'PUT' || object === undefined || stalled) return false;
      stalled = req;
      req.pause(); // never reads: the socket fills up and stops draining
      return true;
    };
    const s = c.openSegment('stall', { maxSize: 16 * 1024 * 1024 });
    const all = await appendAll(s, Array.from({ length: 64 }, (_, i) => bytes(i, 64 * 1024)));
    const info = await s.close();
    expect(stalled).toBeDefined();
    expect(info.etag).toBe(md5(all));
    expect(fake.object('segs', 'stall')!.data.equals(all)).toBe(true);
  });

  it('append waits while the connection is slow (backpressure)', async () => {
    const c = open({ segmentWindowBytes: 256 * 1024, requestTimeoutMs: 20_000 }).container('segs');
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    fake.before = async ({ method, object, req }) => {
      if (method !== 'PUT' || object === undefined) return false;
      req.pause(); // the server stops reading until released
      await released;
      return false;
    };
    const s = c.openSegment('slow', { maxSize: 128 * 1024 * 1024 });
    const chunk = 64 * 1024;
    let resolved = 0;
    let blocked: Promise<void> | undefined;
    // Loopback socket buffers absorb a few MiB; after that append must wait.
    for (let i = 0; i < 1600; i++) {
      const p = s.append(bytes(i, chunk));
      const done = await Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(r, 100, false))]);
      if (!done) {
        blocked = p;
        break;
      }
      resolved++;
    }
    expect(blocked).toBeDefined();
    expect(resolved).toBeLessThan(1600);
    expect(s.bytesAppended - s.bytesSent).toBeGreaterThan(256 * 1024);
    release();
    await blocked;
    expect(s.bytesAppended - s.bytesSent).toBeLessThanOrEqual(256 * 1024);
    const info = await s.close();
    expect(info.size).toBe((resolved + 1) * chunk);
    expect(s.bytesSent).toBe(s.bytesAppended);
  });

  it('abort sends no terminating chunk: nothing is stored, even mid-retry', async () => {
    const c = open({ retry: { baseDelayMs: 5000, maxDelayMs: 5000 } }).container('segs');
    const s = c.openSegment('gone');
    await s.append(bytes(1, 100_000));
    await new Promise((r) => setTimeout(r, 30));
    await s.abort();
    await new Promise((r) => setTimeout(r, 30));
    expect(fake.object('segs', 'gone')).toBeUndefined();
    expect(puts()).not.toContain(201);
    await expect(s.append(bytes(1, 1))).rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_OBJ_SEGMENT_CLOSED'));

    // An abort during a (long) backoff returns at once.
    fake.after = ({ method, res }) => method === 'PUT' && (res.writeHead(503).end(), true);
    const r = c.openSegment('gone2');
    await r.append(bytes(2, 10));
    const closing = r.close().catch((e: unknown) => e);
    await new Promise((res) => setTimeout(res, 50));
    const t0 = Date.now();
    await r.abort();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(isCairnError(await closing, 'CAIRN_ERR_OBJ_SEGMENT_CLOSED')).toBe(true);
    expect(fake.object('segs', 'gone2')).toBeUndefined();
  });

  it('a non-retryable answer fails close and later appends with that error', async () => {
    const c = open().container('segs');
    fake.after = ({ method, res }) => method === 'PUT' && (res.writeHead(403).end(), true);
    const s = c.openSegment('denied');
    await s.append(bytes(1, 10));
    const e = (await s.close().catch((x: unknown) => x)) as CairnError;
    expect(e.code).toBe('CAIRN_ERR_OBJ_FORBIDDEN');
    expect(puts()).toEqual([-2]);
    await expect(s.append(bytes(1, 1))).rejects.toSatisfy((x: unknown) => isCairnError(x, 'CAIRN_ERR_OBJ_FORBIDDEN'));
  });

  it('gives up after retry.maxAttempts with a retryable error', async () => {
    const c = open({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 } }).container('segs');
    fake.after = ({ method, res }) => method === 'PUT' && (res.writeHead(500).end(), true);
    const s = c.openSegment('down');
    await s.append(bytes(1, 10));
    const e = (await s.close().catch((x: unknown) => x)) as CairnError;
    expect([e.code, e.retryable]).toEqual(['CAIRN_ERR_OBJ_UNAVAILABLE', true]);
    expect(puts()).toHaveLength(3);
  });

  it('any split into chunks and any cut point still stores the exact bytes', async () => {
    const c = open({ retry: { maxAttempts: 20, baseDelayMs: 0, maxDelayMs: 1 } }).container('segs');
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 40_000 }), { minLength: 0, maxLength: 12 }),
        fc.integer({ min: 0, max: 300_000 }),
        fc.nat(2),
        async (sizes, cutAt, cuts) => {
          let left = cuts;
          fake.before = ({ method, object, req }) => {
            if (method !== 'PUT' || object === undefined || left === 0) return false;
            left--;
            let n = 0;
            req.socket.on('data', (d: Buffer) => {
              n += d.length;
              if (n >= cutAt) req.socket.destroy();
            });
            if (cutAt === 0) req.socket.destroy();
            return false;
          };
          const name = `p${run++}`;
          const s = c.openSegment(name);
          const all = await appendAll(s, sizes.map((n, i) => bytes(run * 100 + i, n)));
          const info = await s.close();
          expect(info.etag).toBe(md5(all));
          expect(fake.object('segs', name)!.data.equals(all)).toBe(true);
        },
      ),
      { numRuns: 25 },
    );
  });
});
