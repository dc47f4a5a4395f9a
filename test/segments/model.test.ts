// Model test of the whole data path: random writes, truncates, reads and
// flushes over several files against plain byte arrays, with segments closing
// at random (tiny maxFlushSize / maxFlushTime, small pools and budgets). The
// extent maps live in in-memory ordered maps and change only in onDurable (and
// truncate, after a flush), as the volume layer will do it. Reads lay the
// writer's pending extents over the durable map and must always match.

import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createChaosStore } from '../../packages/objstore/src/backends/chaos.js';
import { createMemoryStore } from '@cairn/objstore';
import {
  applyWrite, createMemoryOrderedMap, createReadCache, createSegmentWriter, lookup, mergeDeltas, overlayExtents, readFile,
  readPlan, truncate, type ExtentValue, type MemoryOrderedMap, type SegmentDeltas,
} from '@cairn/segments';

const FILES = ['a', 'b', 'c'] as const;

type Cmd =
  | { kind: 'write'; file: number; off: number; len: number; seed: number }
  | { kind: 'burst'; writes: Array<{ file: number; off: number; len: number; seed: number }> }
  | { kind: 'truncate'; file: number; size: number }
  | { kind: 'read'; file: number; off: number; len: number }
  | { kind: 'flush'; file: number }
  | { kind: 'flushAll' }
  | { kind: 'sleep'; ms: number };

const writeArb = fc.record({ file: fc.nat(FILES.length - 1), off: fc.nat(300), len: fc.integer({ min: 1, max: 200 }), seed: fc.nat(255) });
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 8, arbitrary: writeArb.map((w) => ({ kind: 'write' as const, ...w })) },
  { weight: 2, arbitrary: fc.array(writeArb, { minLength: 2, maxLength: 4 }).map((writes) => ({ kind: 'burst' as const, writes })) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), file: fc.nat(FILES.length - 1), size: fc.nat(500) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('read' as const), file: fc.nat(FILES.length - 1), off: fc.nat(500), len: fc.nat(400) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('flush' as const), file: fc.nat(FILES.length - 1) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'flushAll' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('sleep' as const), ms: fc.integer({ min: 0, max: 8 }) }) },
);
const configArb = fc.record({
  maxFlushSize: fc.integer({ min: 64, max: 700 }),
  maxFlushTimeMs: fc.integer({ min: 1, max: 15 }),
  maxOpenSegments: fc.integer({ min: 1, max: 3 }),
  budgetFactor: fc.integer({ min: 1, max: 4 }),
  appendChunkSize: fc.integer({ min: 16, max: 256 }),
  commitDelaysMs: fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 1, maxLength: 8 }),
  storeLatencyMs: fc.integer({ min: 0, max: 3 }),
  seed: fc.nat(1000),
  lineSize: fc.integer({ min: 16, max: 200 }),
});

function bytes(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 31 + i * 7 + 1) & 0xff;
  return b;
}

describe('segment data path model', () => {
  it('reads always match a byte-array model while segments close at random', async () => {
    await fc.assert(
      fc.asyncProperty(configArb, fc.array(cmdArb, { minLength: 1, maxLength: 40 }), async (cfg, cmds) => {
        // Store latency and commit delays vary per segment, so PUTs and commits finish out of order.
        const store = cfg.storeLatencyMs
          ? createChaosStore(createMemoryStore(), { seed: cfg.seed, latencyMs: { min: 0, max: cfg.storeLatencyMs } })
          : createMemoryStore();
        let commits = 0;
        const maps = new Map<string, MemoryOrderedMap<ExtentValue>>(FILES.map((f) => [f, createMemoryOrderedMap<ExtentValue>()]));
        const liveBytes: SegmentDeltas = new Map();
        const stored = new Set<string>();
        let nonce = 0n;
        const w = createSegmentWriter({
          store,
          containers: ['data-0', 'data-1', 'data-2'],
          nonces: async () => ++nonce,
          maxFlushSize: cfg.maxFlushSize,
          maxFlushTimeMs: cfg.maxFlushTimeMs,
          maxOpenSegments: cfg.maxOpenSegments,
          maxBufferedBytes: cfg.maxFlushSize * cfg.budgetFactor,
          appendChunkSize: cfg.appendChunkSize,
          onDurable: async (d) => {
            // Invariant 1: the object is stored before any extent names it.
            const info = await store.container(d.segment.container).head(d.segment.name);
            expect(info.size).toBe(d.objectSize);
            stored.add(`${d.segment.container}/${d.segment.name}`);
            const delay = cfg.commitDelaysMs[commits++ % cfg.commitDelaysMs.length]!;
            if (delay) await sleep(delay);
            for (const wr of d.writes) {
              const map = maps.get(wr.fileKey as string)!;
              mergeDeltas(liveBytes, await applyWrite(map, wr.fileOffset!, wr.length, { nonce: d.segment.nonce, segmentOffset: wr.segmentOffset }));
            }
          },
        });
        const cache = createReadCache({ store, lineSize: cfg.lineSize, budgetBytes: cfg.lineSize * 8, readAheadLines: 2 });
        const model = new Map<string, Buffer>(FILES.map((f) => [f, Buffer.alloc(0)]));

        const applyModel = (file: string, off: number, data: Buffer): void => {
          let m = model.get(file)!;
          if (m.length < off + data.length) m = Buffer.concat([m, Buffer.alloc(off + data.length - m.length)]);
          data.copy(m, off);
          model.set(file, m);
        };
        const read = async (file: string, off: number, len: number, durableOnly: boolean): Promise<Buffer> => {
          const size = model.get(file)!.length;
          const pending = durableOnly ? [] : w.pendingExtents(file);
          const durable = await lookup(maps.get(file)!, 0, Math.max(size, 1));
          const extents = await overlayExtents(durable, pending);
          return readFile(readPlan(extents, off, len, size, (n) => w.locate(n)), cache, durableOnly ? undefined : w);
        };
        const check = async (file: string, off: number, len: number, durableOnly = false): Promise<void> => {
          const m = model.get(file)!;
          const want = m.subarray(Math.min(off, m.length), Math.min(off + len, m.length));
          const got = await read(file, off, len, durableOnly);
          expect(got.equals(want), `${file} [${off}, +${len}) durableOnly=${durableOnly}`).toBe(true);
        };

        for (const c of cmds) {
          switch (c.kind) {
            case 'write': {
              const data = bytes(c.len, c.seed);
              const file = FILES[c.file]!;
              await w.write(file, data, { fileOffset: c.off });
              applyModel(file, c.off, data);
              break;
            }
            case 'burst': {
              const datas = c.writes.map((x) => bytes(x.len, x.seed));
              await Promise.all(c.writes.map((x, i) => w.write(FILES[x.file]!, datas[i]!, { fileOffset: x.off })));
              c.writes.forEach((x, i) => applyModel(FILES[x.file]!, x.off, datas[i]!));
              break;
            }
            case 'truncate': {
              const file = FILES[c.file]!;
              await w.flush(file);
              mergeDeltas(liveBytes, await truncate(maps.get(file)!, c.size));
              const m = model.get(file)!;
              model.set(file, c.size <= m.length ? Buffer.from(m.subarray(0, c.size)) : Buffer.concat([m, Buffer.alloc(c.size - m.length)]));
              break;
            }
            case 'read':
              await check(FILES[c.file]!, c.off, c.len);
              break;
            case 'flush': {
              const file = FILES[c.file]!;
              await w.flush(file);
              expect(w.pendingExtents(file)).toEqual([]);
              await check(file, 0, 1000, true);
              break;
            }
            case 'flushAll':
              await w.flushAll();
              break;
            case 'sleep':
              await sleep(c.ms);
              break;
          }
        }
        await w.close();
        expect(w.stats()).toMatchObject({ bytesBuffered: 0, openSegments: 0, closingSegments: 0, segmentsFailed: 0 });
        const extentBytes = new Map<bigint, number>();
        for (const f of FILES) {
          await check(f, 0, 1000, true);
          for (const [, v] of maps.get(f)!.entries()) {
            extentBytes.set(v.nonce, (extentBytes.get(v.nonce) ?? 0) + v.length);
            const ref = w.locate(v.nonce);
            expect(stored.has(`${ref.container}/${ref.name}`)).toBe(true);
          }
        }
        // Per-segment accounting from the deltas equals what the extent maps reference.
        expect(new Map([...liveBytes].filter(([, n]) => n !== 0))).toEqual(extentBytes);
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});
