// The segment cleaner on the memory store: compaction keeps every byte and
// the accounting exact, the old segment goes through the deletion policy, a
// concurrent overwrite and truncate win over the copy, shared extents are
// copied once, pause / resume / cancel, snapshots, pending writes.

import { afterEach, describe, expect, it } from 'vitest';
import { decodeKey } from '@cairn/headhunter';
import { segmentName } from '@cairn/segments';
import { checkSpaceAccounting } from './cleaner-accounting.js';
import { cleanSegments, startCleaner, type CleanProgress } from './cleaner.js';
import type { Vol } from './context.js';
import type { FilesystemImpl } from './fs.js';
import { TREES } from './format.js';
import { ROOT_CRED as root } from './perms.js';
import { FsReader } from './reader.js';
import { segmentCodec } from './records.js';
import { makeFs, type TestFs } from './testing/fixture.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fixture(): Promise<TestFs> {
  const t = await makeFs();
  cleanups.push(() => t.cleanup());
  return t;
}

function vol(t: TestFs): Vol {
  return (t.fs as unknown as FilesystemImpl).m.vol;
}

function pattern(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 131 + i * 7 + (i >> 8)) & 0xff;
  return b;
}

/** Segment records by nonce. */
async function segments(v: Vol): Promise<Map<bigint, { size: number; live: number }>> {
  return FsReader.with(v, async (r) => {
    const out = new Map<bigint, { size: number; live: number }>();
    for await (const e of r.view.tree(TREES.segments).range()) {
      const rec = segmentCodec.decode(e.value);
      out.set(BigInt(decodeKey(e.key)[0] as number), { size: rec.size, live: rec.live });
    }
    return out;
  });
}

async function isDead(v: Vol, nonce: bigint): Promise<boolean> {
  return FsReader.with(v, async (r) => (await r.view.tree(TREES.deadsegs).scan()).some((e) => BigInt(decodeKey(e.key)[0] as number) === nonce));
}

async function expectAccounting(v: Vol): Promise<void> {
  const a = await checkSpaceAccounting(v);
  expect(a.errors).toEqual([]);
}

async function expectContents(t: TestFs, ino: number, want: Buffer): Promise<void> {
  const got = await t.fs.read(root, ino, 0, want.length + 100);
  expect(got.length).toBe(want.length);
  expect(got.equals(want)).toBe(true);
}

/** A file whose first segment is 3/8 live after an overwrite; returns the file, its model and that segment. */
async function partlyDead(t: TestFs, name: string, seed: number): Promise<{ ino: number; model: Buffer; nonce: bigint }> {
  const ino = (await t.fs.create(root, 1, name, 0o644)).attr.ino;
  const model = pattern(64 * 1024, seed);
  await t.fs.write(root, ino, 0, model);
  await t.fs.flushFile(ino);
  const before = new Set((await segments(vol(t))).keys());
  const over = pattern(40 * 1024, seed + 1);
  await t.fs.write(root, ino, 0, over);
  await t.fs.flushFile(ino);
  over.copy(model, 0);
  const segs = await segments(vol(t));
  const old = [...segs.entries()].find(([n, s]) => before.has(n) && s.live === 24 * 1024);
  expect(old).toBeDefined();
  return { ino, model, nonce: old![0] };
}

const FAST = { minAgeMs: 0, bytesPerSecond: Infinity } as const;

describe('segment cleaner', () => {
  it('compacts a partly dead segment, keeps every byte, and the old one is deleted after the checkpoints', async () => {
    const t = await fixture();
    const a = await partlyDead(t, 'a', 1);
    const b = await partlyDead(t, 'b', 2);
    const v = vol(t);
    const storedBefore = (await checkSpaceAccounting(v)).storedBytes;
    const progress: CleanProgress[] = [];
    const r = await cleanSegments(v, { ...FAST, onProgress: (p) => progress.push(p) });
    expect(r).toMatchObject({ segmentsChosen: 2, segmentsCompacted: 2, segmentsStillLive: 0, bytesCopied: 48 * 1024, canceled: false });
    expect(r.segmentsWritten).toBe(1); // both fit one new segment
    expect(progress.at(-1)).toMatchObject({ phase: 'done', segmentsDone: 2, segmentsTotal: 2, bytesDone: 48 * 1024, bytesTotal: 48 * 1024 });
    expect(await isDead(v, a.nonce)).toBe(true);
    expect(await isDead(v, b.nonce)).toBe(true);
    await expectAccounting(v);
    await expectContents(t, a.ino, a.model);
    await expectContents(t, b.ino, b.model);
    expect((await checkSpaceAccounting(v)).storedBytes).toBe(storedBefore + 48 * 1024);
    // Deletion waits for the checkpoints that drop the last reference (segmentDeletable).
    expect(r.deleted).toBe(0);
    for (let i = 0; i < 3; i++) await t.fs.checkpoint();
    const rr = await t.fs.reclaimSegments();
    expect(rr.deleted).toBe(2);
    await expect(t.store.container('vol-data').head(segmentName(a.nonce))).rejects.toMatchObject({ code: 'CAIRN_ERR_OBJ_NOT_FOUND' });
    expect((await checkSpaceAccounting(v)).storedBytes).toBe(storedBefore + 48 * 1024 - 2 * 64 * 1024);
    await expectContents(t, a.ino, a.model);
    await t.crash();
    await expectContents(t, a.ino, a.model);
    await expectContents(t, b.ino, b.model);
    await expectAccounting(vol(t));
  });

  it('a concurrent overwrite and truncate win over the copy; the copied bytes they replaced are dead', async () => {
    const t = await fixture();
    const a = await partlyDead(t, 'a', 3);
    const b = await partlyDead(t, 'b', 4);
    const v = vol(t);
    let newSeg: bigint | undefined;
    const r = await cleanSegments(v, {
      ...FAST,
      afterCopy: async () => {
        // The copies are durable; the extents still name the old segments.
        const fresh = [...(await segments(v)).entries()].filter(([, s]) => s.live === 0);
        expect(fresh).toHaveLength(1);
        newSeg = fresh[0]![0];
        const over = pattern(8 * 1024, 9);
        await t.fs.write(root, a.ino, 48 * 1024, over);
        await t.fs.flushFile(a.ino);
        over.copy(a.model, 48 * 1024);
        await t.fs.setattr(root, b.ino, { size: 50 * 1024 });
        b.model = b.model.subarray(0, 50 * 1024);
      },
    });
    expect(r).toMatchObject({ segmentsCompacted: 2, segmentsStillLive: 0 });
    await expectContents(t, a.ino, a.model);
    await expectContents(t, b.ino, b.model);
    await expectAccounting(v);
    // 48 KiB were copied; 8 KiB (a's overwrite) and 14 KiB (b's truncate) of the copy are dead.
    const s = (await segments(v)).get(newSeg!);
    expect(s).toEqual({ size: 48 * 1024, live: 48 * 1024 - 8 * 1024 - 14 * 1024 });
    await t.remount();
    await expectContents(t, a.ino, a.model);
    await expectContents(t, b.ino, b.model);
  });

  it('copies shared extents once and points every file at the copy', async () => {
    const t = await fixture();
    const a = await partlyDead(t, 'a', 5);
    const c = (await t.fs.create(root, 1, 'c', 0o644)).attr.ino;
    await t.fs.cloneFile(root, a.ino, c);
    const cModel = Buffer.from(a.model);
    const v = vol(t);
    expect((await segments(v)).get(a.nonce)!.live).toBe(48 * 1024);
    // The old segment: 48 KiB live (two references to 24 KiB) of 64 KiB. The overwrite's segment: 80 of 40 KiB (u = 1, left alone).
    const r = await cleanSegments(v, FAST);
    expect(r).toMatchObject({ segmentsChosen: 1, segmentsCompacted: 1, bytesCopied: 24 * 1024, extentsMoved: 2 });
    expect(await isDead(v, a.nonce)).toBe(true);
    await expectContents(t, a.ino, a.model);
    await expectContents(t, c, cModel);
    await expectAccounting(v);
  });

  it('flushes a file with pending writes before moving its extents', async () => {
    const t = await fixture();
    const a = await partlyDead(t, 'a', 6);
    const tail = pattern(1000, 7);
    await t.fs.write(root, a.ino, 64 * 1024, tail); // pending, not fsynced
    const model = Buffer.concat([a.model, tail]);
    const r = await cleanSegments(vol(t), FAST);
    expect(r.filesFlushed).toBe(1);
    expect(r.segmentsCompacted).toBe(1);
    await expectContents(t, a.ino, model);
    await expectAccounting(vol(t));
  });

  it('throttles, pauses, resumes and cancels', async () => {
    const t = await fixture();
    const files = [];
    for (let i = 0; i < 6; i++) files.push(await partlyDead(t, `f${i}`, 10 + i));
    const v = vol(t);
    // 144 KiB of live bytes at 96 KiB/s, paused for 300 ms: at least ~1.5 s.
    const job = startCleaner(v, { minAgeMs: 0, bytesPerSecond: 96 * 1024, segmentBytes: 48 * 1024 });
    job.pause();
    expect(job.paused).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(job.progress().bytesDone).toBe(0);
    expect(() => startCleaner(v, FAST)).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_FS_BUSY' }));
    const t0 = performance.now();
    job.resume();
    const r = await job.done;
    const ms = performance.now() - t0;
    expect(r.segmentsCompacted).toBe(6);
    expect(ms).toBeGreaterThan(1200);
    for (const f of files) await expectContents(t, f.ino, f.model);
    await expectAccounting(v);

    // Cancel: overwrite again so that the new segments are partly dead, then stop after the first copy.
    for (const f of files) {
      const over = pattern(12 * 1024, 99);
      await t.fs.write(root, f.ino, 40 * 1024, over);
      await t.fs.flushFile(f.ino);
      over.copy(f.model, 40 * 1024);
    }
    const ac = new AbortController();
    const job2 = startCleaner(v, {
      minAgeMs: 0, bytesPerSecond: 64 * 1024, segmentBytes: 24 * 1024, signal: ac.signal,
      onProgress: (p) => {
        if (p.bytesDone > 0) ac.abort();
      },
    });
    const r2 = await job2.done;
    expect(r2.canceled).toBe(true);
    expect(r2.segmentsChosen).toBeGreaterThan(r2.segmentsCompacted);
    for (const f of files) await expectContents(t, f.ino, f.model);
    await expectAccounting(v);
    // No new segment is left without references.
    for (const s of (await segments(v)).values()) expect(s.live).toBeGreaterThan(0);
    // A new pass finishes the work.
    const r3 = await cleanSegments(v, FAST);
    expect(r3.canceled).toBe(false);
    for (const f of files) await expectContents(t, f.ino, f.model);
    await expectAccounting(v);
  });

  it('leaves segments a snapshot shows alone by default; compacted anyway, they are deleted only after the snapshot', async () => {
    const t = await fixture();
    const a = await partlyDead(t, 'a', 20);
    const v = vol(t);
    await v.hh.createSnapshot('s1');
    const r1 = await cleanSegments(v, FAST);
    expect(r1).toMatchObject({ segmentsChosen: 0, skippedSnapshotted: 1 });
    const r2 = await cleanSegments(v, { ...FAST, includeSnapshotted: true });
    expect(r2.segmentsCompacted).toBe(1);
    expect(await isDead(v, a.nonce)).toBe(true);
    for (let i = 0; i < 3; i++) await t.fs.checkpoint();
    expect(await t.fs.reclaimSegments()).toMatchObject({ deleted: 0, waiting: 1 });
    await t.store.container('vol-data').head(segmentName(a.nonce)); // still there
    await v.hh.deleteSnapshot('s1');
    expect(await t.fs.reclaimSegments()).toMatchObject({ deleted: 1, waiting: 0 });
    await expectContents(t, a.ino, a.model);
    await expectAccounting(v);
  });

  it('moves leftover records without live bytes to the dead segments', async () => {
    const t = await fixture();
    const a = await partlyDead(t, 'a', 30);
    const v = vol(t);
    // What a pass that stopped between storing a copy and moving extents to it leaves.
    await v.tx((tx) => {
      tx.putSegment(999n, { container: 'vol-data', size: 10, live: 0, created: 0 });
      tx.setMeta({ storedBytes: tx.getMeta().storedBytes + 10 });
    });
    const r = await cleanSegments(v, { ...FAST, maxUtilization: 0.1 });
    expect(r).toMatchObject({ segmentsChosen: 1, segmentsEmptied: 1, segmentsCompacted: 0 });
    expect(await isDead(v, 999n)).toBe(true);
    expect(await isDead(v, a.nonce)).toBe(false);
    await expectAccounting(v);
  });

  it('rejects bad options', async () => {
    const t = await fixture();
    expect(() => startCleaner(vol(t), { bytesPerSecond: 0 })).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_INVALID_ARGUMENT' }));
    expect(() => startCleaner(vol(t), { segmentBytes: 0.5 })).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_INVALID_ARGUMENT' }));
  });
});
