// Filesystem.stats() (synchronous, what metrics scrapes read), checkpoint()
// returning what it wrote, and fsck() / scrub() as operations of the mounted
// filesystem: progress, cancel by signal, canceled by unmount.

import { afterEach, describe, expect, it } from 'vitest';
import { ROOT_CRED as root } from './perms.js';
import type { CleanProgress, FsckProgress, ScrubProgress } from './index.js';
import { makeFs, type TestFs } from './testing/fixture.js';

let t: TestFs | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

describe('stats', () => {
  it('are synchronous and follow commits, writes, reads, handles, failures and a running cleaner', async () => {
    t = await makeFs();
    const fs = t.fs;
    const s0 = fs.stats();
    expect(s0).not.toBeInstanceOf(Promise);
    expect(s0).toMatchObject({ volumeId: fs.volumeId, dirtyFiles: 0, openHandles: 0, openFiles: 0, snapshots: 0, openSnapshots: 0, cleaner: undefined });
    expect(s0.operations).toEqual({ started: 0, failed: 0, running: 0, jobs: 0 });
    const c = await fs.create(root, 1, 'f', 0o644, { open: { read: true, write: true } });
    await fs.write(root, c.attr.ino, 0, Buffer.alloc(5000, 1), c.fh);
    const s1 = fs.stats();
    expect(s1.headhunter.commits).toBeGreaterThan(s0.headhunter.commits);
    expect(s1.segments.bytesWritten - s0.segments.bytesWritten).toBe(5000);
    expect(s1.segments.openSegments).toBe(1);
    expect(s1).toMatchObject({ dirtyFiles: 1, openHandles: 1, openFiles: 1 });
    expect(s1.replayLog.records).toBeGreaterThan(s0.replayLog.records);
    await fs.flushFile(c.attr.ino);
    await fs.release(c.fh!);
    await fs.read(root, c.attr.ino, 0, 100);
    await fs.read(root, c.attr.ino, 100, 100);
    const s2 = fs.stats();
    expect(s2.segments.segmentsDurable).toBe(1);
    expect(s2.readCache.hits + s2.readCache.misses).toBeGreaterThanOrEqual(2);
    expect(s2.readCache.misses).toBeGreaterThanOrEqual(1);
    expect(s2).toMatchObject({ dirtyFiles: 0, openHandles: 0, openFiles: 0 });
    await expect(fs.lookup(root, 1, 'missing')).rejects.toMatchObject({ errno: 'ENOENT' });
    const s3 = fs.stats();
    expect(s3.operations.started).toBe(s2.operations.started + 1);
    expect(s3.operations.failed).toBe(s2.operations.failed + 1);
    expect(s3.operations.running).toBe(0);
    // A running cleaning pass shows its progress (the callback runs inside the pass).
    const during: Array<CleanProgress | undefined> = [];
    await fs.clean({ minAgeMs: 0, onProgress: () => during.push(fs.stats().cleaner) });
    expect(during.length).toBeGreaterThan(0);
    expect(during.every((p) => p !== undefined && p.unit === 'segments')).toBe(true);
    expect(fs.stats().cleaner).toBeUndefined();
    await fs.createSnapshot('s');
    expect(fs.stats().snapshots).toBe(1);
  });
});

describe('checkpoint', () => {
  it('returns what it wrote, as headhunter stats report it', async () => {
    t = await makeFs();
    const fs = t.fs;
    await fs.mkdir(root, 1, 'd', 0o755);
    const t0 = Date.now();
    const c1 = await fs.checkpoint();
    expect(c1.nodes).toBeGreaterThan(0);
    expect(c1.bytes).toBe(c1.nodeBytes + c1.recordBytes);
    expect(c1.publishedAt).toBeGreaterThanOrEqual(t0);
    expect(c1.durationMs).toBeGreaterThanOrEqual(0);
    expect(fs.stats().headhunter.checkpoint.last?.seq).toBe(c1.seq);
    const c2 = await fs.checkpoint();
    expect(c2.seq).toBeGreaterThan(c1.seq);
    expect(c2.commitSeq).toBeGreaterThanOrEqual(c1.commitSeq);
  });
});

describe('fsck and scrub as operations', () => {
  it('run with progress, stop on their signal, and are canceled by unmount', async () => {
    t = await makeFs();
    const fs = t.fs;
    for (let i = 0; i < 5; i++) {
      const f = (await fs.create(root, 1, `f${i}`, 0o644)).attr.ino;
      await fs.write(root, f, 0, Buffer.alloc(1000 * (i + 1), i));
    }
    for (let i = 0; i < 5; i++) await fs.flushFile((await fs.lookup(root, 1, `f${i}`)).ino);
    const fp: FsckProgress[] = [];
    const r = await fs.fsck({ onProgress: (p) => fp.push(p) });
    expect(r).toMatchObject({ ok: true, problemCount: 0 });
    expect(r.counts.files).toBe(5);
    expect(fp.length).toBeGreaterThan(0);
    const sp: ScrubProgress[] = [];
    const s = await fs.scrub({ mode: 'read', onProgress: (p) => sp.push(p) });
    expect(s).toMatchObject({ ok: true, problemCount: 0, extents: 5 });
    expect(sp.some((p) => p.unit === 'extents' && p.done === p.total && p.bytes > 0)).toBe(true);
    const ac = new AbortController();
    ac.abort();
    await expect(fs.fsck({ signal: ac.signal })).rejects.toMatchObject({ code: 'CAIRN_ERR_CANCELED' });
    await expect(fs.scrub({ signal: ac.signal })).rejects.toMatchObject({ code: 'CAIRN_ERR_CANCELED' });
    expect(fs.stats().operations.jobs).toBe(0);
    // Unmount cancels a running check and waits for it.
    const running = fs.fsck();
    expect(fs.stats().operations.jobs).toBe(1);
    const gone = fs.unmount();
    await expect(running).rejects.toMatchObject({ code: expect.stringMatching(/^CAIRN_ERR_(CANCELED|CLOSED)$/) });
    await gone;
    // Nothing was left half done: the next mount checks clean.
    const again = await t.remount();
    expect((await again.fsck()).ok).toBe(true);
  });
});
