// Model test of the segment cleaner over the whole filesystem: random writes,
// truncates, reads and fsyncs over several files against byte arrays, with
// segments closing at random (tiny maxFlushSize / maxFlushTime), cleaner passes
// (alone and while writes go on), remounts, crashes (the instance dropped
// without unmount, also in the middle of a pass, then mounted again from the
// same store and replay-log directory), dead-segment deletion and orphan
// sweeps. After every step:
//   - reads return the model (pending writes included);
//   - the space accounting is exact (checkSpaceAccounting: live bytes = the sum
//     of the extents, totals, no extent naming a dead segment);
// after a crash, a file fsynced since its last change reads back exactly, and
// any other file reads as its fsynced contents plus a prefix of the writes
// made since (segments commit per file in write order); at the end every
// segment a record names is still stored.
// CAIRN_TEST_CLEANER_RUNS sets the number of runs (default 60).

import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryStore } from '@cairn/objstore';
import { ROOT_CRED as root } from '@cairn/inode';
import { decodeKey } from '@cairn/headhunter';
import { segmentName } from '@cairn/segments';
import { checkSpaceAccounting } from '../../packages/inode/src/cleaner-accounting.js';
import { cleanSegments, startCleaner, type CleanOptions } from '../../packages/inode/src/cleaner.js';
import type { Vol } from '../../packages/inode/src/context.js';
import type { FilesystemImpl } from '../../packages/inode/src/fs.js';
import { TREES } from '../../packages/inode/src/format.js';
import { sweepOrphans } from '../../packages/inode/src/orphan-sweep.js';
import { FsReader } from '../../packages/inode/src/reader.js';
import { segmentCodec } from '../../packages/inode/src/records.js';
import { makeFs, type TestFs } from '../../packages/inode/src/testing/fixture.js';

const RUNS = Number(process.env['CAIRN_TEST_CLEANER_RUNS'] ?? '60');
const FILES = 4;
const MAX_OFF = 1500;

type Op =
  | { kind: 'write'; file: number; off: number; len: number; seed: number }
  | { kind: 'truncate'; file: number; size: number };

type Cmd =
  | Op
  | { kind: 'read'; file: number; off: number; len: number }
  | { kind: 'fsync'; file: number }
  | { kind: 'sleep'; ms: number }
  | { kind: 'clean'; maxUtilization: number; useSummaries: boolean }
  | { kind: 'burst'; ops: Op[]; fsync: number }
  | { kind: 'cleanConcurrent'; ops: Op[]; inWindow: boolean; bytesPerSecond: number }
  | { kind: 'remount' }
  | { kind: 'crash' }
  | { kind: 'crashDuringClean'; afterMs: number; bytesPerSecond: number }
  | { kind: 'reclaim' }
  | { kind: 'sweep' };

const writeArb = fc.record({
  kind: fc.constant('write' as const), file: fc.nat(FILES - 1), off: fc.nat(MAX_OFF), len: fc.integer({ min: 1, max: 600 }), seed: fc.nat(255),
});
const truncArb = fc.record({ kind: fc.constant('truncate' as const), file: fc.nat(FILES - 1), size: fc.nat(MAX_OFF + 500) });
const opArb: fc.Arbitrary<Op> = fc.oneof({ weight: 4, arbitrary: writeArb }, { weight: 1, arbitrary: truncArb });
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 10, arbitrary: writeArb },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('burst' as const), ops: fc.array(writeArb, { minLength: 2, maxLength: 6 }), fsync: fc.nat(FILES - 1) }) },
  { weight: 2, arbitrary: truncArb },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('read' as const), file: fc.nat(FILES - 1), off: fc.nat(MAX_OFF + 500), len: fc.nat(1500) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('fsync' as const), file: fc.nat(FILES - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('sleep' as const), ms: fc.integer({ min: 0, max: 25 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('clean' as const), maxUtilization: fc.double({ min: 0.3, max: 1, noNaN: true }), useSummaries: fc.boolean() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('cleanConcurrent' as const), ops: fc.array(opArb, { minLength: 1, maxLength: 5 }), inWindow: fc.boolean(),
      bytesPerSecond: fc.constantFrom(Infinity, 100_000, 20_000),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'remount' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'crash' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('crashDuringClean' as const), afterMs: fc.integer({ min: 0, max: 30 }), bytesPerSecond: fc.constantFrom(Infinity, 50_000, 10_000) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'reclaim' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'sweep' as const }) },
);
const configArb = fc.record({
  maxFlushSize: fc.integer({ min: 128, max: 2048 }),
  maxFlushTimeMs: fc.integer({ min: 2, max: 30 }),
  maxOpenSegments: fc.integer({ min: 1, max: 3 }),
  segmentBytes: fc.integer({ min: 256, max: 4096 }),
});

function bytes(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 31 + i * 7 + 1) & 0xff;
  return b;
}

/** Bytes written at off (zero-filled gap), or the buffer cut / zero-extended to size. */
function applyWrite(b: Buffer, off: number, data: Buffer): Buffer {
  const out = Buffer.alloc(Math.max(b.length, off + data.length));
  b.copy(out);
  data.copy(out, off);
  return out;
}

function resize(b: Buffer, size: number): Buffer {
  const out = Buffer.alloc(size);
  b.copy(out, 0, 0, Math.min(size, b.length));
  return out;
}

interface FileModel {
  ino: number;
  /** Contents as of the last fsync (or truncate, remount). */
  synced: Buffer;
  /** Writes since then, in order. */
  unsynced: Array<{ off: number; data: Buffer }>;
  /** What reads return now. */
  cur: Buffer;
}

/** True when `actual` is `synced` with a byte prefix of `writes` applied (a crash keeps whole segments, per file in order). */
function explainable(actual: Buffer, synced: Buffer, writes: ReadonlyArray<{ off: number; data: Buffer }>): boolean {
  let state = synced;
  if (actual.equals(state)) return true;
  for (const w of writes) {
    for (let j = 1; j <= w.data.length; j++) {
      if (actual.length !== Math.max(state.length, w.off + j)) continue;
      if (actual.subarray(w.off, w.off + j).equals(w.data.subarray(0, j)) && applyWrite(state, w.off, w.data.subarray(0, j)).equals(actual)) return true;
    }
    state = applyWrite(state, w.off, w.data);
  }
  return false;
}

function vol(t: TestFs): Vol {
  return (t.fs as unknown as FilesystemImpl).m.vol;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function expectAccounting(t: TestFs, step: string): Promise<void> {
  const a = await checkSpaceAccounting(vol(t));
  expect(a.errors, step).toEqual([]);
}

/** Every segment a record names is stored (nothing referenced was deleted). */
async function expectSegmentsStored(t: TestFs): Promise<void> {
  const v = vol(t);
  const recs = await FsReader.with(v, async (r) => {
    const out: Array<[bigint, string]> = [];
    for await (const e of r.view.tree(TREES.segments).range()) out.push([BigInt(decodeKey(e.key)[0] as number), segmentCodec.decode(e.value).container]);
    return out;
  });
  for (const [nonce, container] of recs) await t.store.container(container).head(segmentName(nonce));
}

describe('segment cleaner model', () => {
  it('acknowledged data and exact accounting through cleaning, remounts, crashes, deletion and sweeps', { timeout: Math.max(60_000, RUNS * 4000) }, async () => {
    // Totals over all runs: the property would hold vacuously if the cleaner never moved anything.
    const total = { passes: 0, compacted: 0, moved: 0, flushed: 0, deadCopies: 0, orphans: 0, crashedPasses: 0, windows: 0 };
    await fc.assert(
      fc.asyncProperty(configArb, fc.array(cmdArb, { minLength: 10, maxLength: 40 }), async (cfg, cmds) => {
        const t = await makeFs({}, {
          segments: { maxFlushSize: cfg.maxFlushSize, maxFlushTimeMs: cfg.maxFlushTimeMs, maxOpenSegments: cfg.maxOpenSegments },
        }, createMemoryStore());
        cleanups.push(() => t.cleanup());
        const files: FileModel[] = [];
        for (let i = 0; i < FILES; i++) {
          const ino = (await t.fs.create(root, 1, `f${i}`, 0o644)).attr.ino;
          files.push({ ino, synced: Buffer.alloc(0), unsynced: [], cur: Buffer.alloc(0) });
        }
        const cleanOpts = (over: Partial<CleanOptions> = {}): CleanOptions => ({ minAgeMs: 0, bytesPerSecond: Infinity, segmentBytes: cfg.segmentBytes, ...over });

        const runOp = async (op: Op): Promise<void> => {
          const f = files[op.file]!;
          if (op.kind === 'write') {
            const data = bytes(op.len, op.seed);
            await t.fs.write(root, f.ino, op.off, data);
            f.cur = applyWrite(f.cur, op.off, data);
            f.unsynced.push({ off: op.off, data });
          } else {
            // fsync first: a truncate is durable at once, the writes before it only after their segments.
            await t.fs.fsync(f.ino);
            await t.fs.setattr(root, f.ino, { size: op.size });
            f.cur = resize(f.cur, op.size);
            f.synced = f.cur;
            f.unsynced = [];
          }
        };
        const readAll = async (step: string): Promise<void> => {
          for (const f of files) {
            const got = await t.fs.read(root, f.ino, 0, MAX_OFF + 2000);
            expect(got.equals(f.cur), `${step}: f${files.indexOf(f)}`).toBe(true);
          }
        };
        /** After a crash: check each file against what may have survived, then take what did as the new model. */
        const afterCrash = async (step: string): Promise<void> => {
          for (const f of files) {
            const got = await t.fs.read(root, f.ino, 0, MAX_OFF + 2000);
            if (f.unsynced.length === 0) expect(got.equals(f.synced), `${step}: fsynced f${files.indexOf(f)}`).toBe(true);
            else expect(explainable(got, f.synced, f.unsynced), `${step}: f${files.indexOf(f)} is not its fsynced contents plus a prefix of its writes`).toBe(true);
            f.synced = got;
            f.cur = got;
            f.unsynced = [];
          }
        };

        for (const [i, c] of cmds.entries()) {
          const step = `step ${i} ${c.kind}`;
          switch (c.kind) {
            case 'write':
            case 'truncate':
              await runOp(c);
              break;
            case 'burst': {
              for (const op of c.ops) await runOp(op);
              const f = files[c.fsync]!;
              await t.fs.fsync(f.ino);
              f.synced = f.cur;
              f.unsynced = [];
              break;
            }
            case 'read': {
              const f = files[c.file]!;
              const got = await t.fs.read(root, f.ino, c.off, c.len);
              const want = f.cur.subarray(Math.min(c.off, f.cur.length), Math.min(c.off + c.len, f.cur.length));
              expect(got.equals(want), step).toBe(true);
              break;
            }
            case 'fsync': {
              const f = files[c.file]!;
              await t.fs.fsync(f.ino);
              f.synced = f.cur;
              f.unsynced = [];
              break;
            }
            case 'sleep':
              await new Promise((r) => setTimeout(r, c.ms));
              break;
            case 'clean': {
              const r = await cleanSegments(vol(t), cleanOpts({ maxUtilization: c.maxUtilization, useSummaries: c.useSummaries }));
              total.passes++;
              total.compacted += r.segmentsCompacted;
              total.moved += r.extentsMoved;
              await readAll(step);
              break;
            }
            case 'cleanConcurrent': {
              // The ops run between a group's copy and its extent rewrite, or alongside the whole pass.
              let window: Promise<void> | undefined;
              const job = startCleaner(vol(t), cleanOpts({
                maxUtilization: 1, bytesPerSecond: c.bytesPerSecond,
                ...(c.inWindow ? { afterCopy: async () => {
                  window ??= (async () => {
                    for (const op of c.ops) await runOp(op);
                  })();
                  await window;
                } } : {}),
              }));
              if (!c.inWindow) for (const op of c.ops) await runOp(op);
              const r = await job.done;
              if (c.inWindow && window === undefined) for (const op of c.ops) await runOp(op); // the pass had nothing to copy
              total.passes++;
              total.compacted += r.segmentsCompacted;
              total.moved += r.extentsMoved;
              total.flushed += r.filesFlushed;
              total.deadCopies += r.deadCopies;
              if (window !== undefined) total.windows++;
              await readAll(step);
              break;
            }
            case 'remount':
              await t.remount();
              for (const f of files) {
                f.synced = f.cur;
                f.unsynced = [];
              }
              await readAll(step);
              break;
            case 'crash':
              await t.crash();
              await afterCrash(step);
              break;
            case 'crashDuringClean': {
              const job = startCleaner(vol(t), cleanOpts({ maxUtilization: 1, bytesPerSecond: c.bytesPerSecond }));
              await new Promise((r) => setTimeout(r, c.afterMs));
              await (t.fs as unknown as FilesystemImpl).abandon();
              if (await job.done.then(() => false, () => true)) total.crashedPasses++;
              await t.crash();
              await afterCrash(step);
              break;
            }
            case 'reclaim':
              for (let k = 0; k < 3; k++) await t.fs.checkpoint();
              await t.fs.reclaimSegments();
              await readAll(step);
              break;
            case 'sweep':
              total.orphans += (await sweepOrphans(vol(t), { graceMs: 0, deletesPerSecond: 1e6 })).deleted;
              await readAll(step);
              break;
          }
          await expectAccounting(t, step);
        }
        await readAll('end');
        await t.remount();
        await readAll('end, remounted');
        await expectAccounting(t, 'end, remounted');
        await expectSegmentsStored(t);
      }),
      { numRuns: RUNS },
    );
    console.log('cleaner model totals', total);
    expect(total.compacted).toBeGreaterThan(0);
    expect(total.moved).toBeGreaterThan(0);
  });
});
