// The data path: read-your-writes before durability, holes, truncate/extend,
// append, fallocate, fsync, segment live-byte accounting and dead segments,
// open-unlinked files, shared extents (clone/concat), read plans, statfs.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROOT_CRED as root, type Filesystem } from './index.js';
import type { FilesystemImpl } from './fs.js';
import { errnoOf, makeFs, user, type TestFs } from './testing/fixture.js';

let t: TestFs;
let fs: Filesystem;
beforeEach(async () => {
  t = await makeFs();
  fs = t.fs;
});
afterEach(async () => {
  await t.cleanup();
});

async function file(name = 'f', dir = 1): Promise<number> {
  return (await fs.create(root, dir, name, 0o644)).attr.ino;
}

const text = (b: Buffer): string => b.toString('latin1');

describe('read and write', () => {
  it('reads see pending writes at once (size and bytes), and the same after fsync', async () => {
    const f = await file();
    await fs.write(root, f, 0, Buffer.from('hello'));
    await fs.write(root, f, 3, Buffer.from('p!'));
    expect((await fs.getattr(root, f)).size).toBe(5);
    expect(text(await fs.read(root, f, 0, 100))).toBe('help!');
    expect((await fs.statfs()).dirtyFiles).toBe(1);
    await fs.flushFile(f);
    expect(text(await fs.read(root, f, 0, 100))).toBe('help!');
    expect(text(await fs.read(root, f, 1, 3))).toBe('elp');
    await fs.write(root, f, 1, Buffer.from('E'));
    expect(text(await fs.read(root, f, 0, 100))).toBe('hElp!');
  });

  it('holes read as zeros; reading at or past the end gives nothing', async () => {
    const f = await file();
    await fs.write(root, f, 10, Buffer.from('x'));
    expect((await fs.getattr(root, f)).size).toBe(11);
    expect([...(await fs.read(root, f, 0, 20))]).toEqual([...Buffer.alloc(10), 0x78]);
    await fs.flushFile(f);
    expect([...(await fs.read(root, f, 8, 20))]).toEqual([0, 0, 0x78]);
    expect((await fs.read(root, f, 11, 5)).length).toBe(0);
    expect((await fs.read(root, f, 1000, 5)).length).toBe(0);
  });

  it('write updates mtime and ctime, and bumps dataVersion', async () => {
    const f = await file();
    const a0 = await fs.getattr(root, f);
    await new Promise((r) => setTimeout(r, 5));
    await fs.write(root, f, 0, Buffer.from('x'));
    const a1 = await fs.getattr(root, f);
    expect(a1.mtimeNs).toBeGreaterThan(a0.mtimeNs);
    expect(a1.ctimeNs).toBeGreaterThan(a0.ctimeNs);
    expect(a1.dataVersion).toBeGreaterThan(a0.dataVersion);
    await fs.flushFile(f);
    const a2 = await fs.getattr(root, f);
    expect(a2.mtimeNs).toBe(a1.mtimeNs);
    expect(a2.dataVersion).toBe(a1.dataVersion);
  });

  it('a file closed before its segment is stored keeps the write\'s mtime, and its write state is dropped once stored', async () => {
    const c = await fs.create(root, 1, 'closed', 0o644, { open: { write: true } });
    const a0 = c.attr;
    await new Promise((r) => setTimeout(r, 5));
    await fs.write(root, c.attr.ino, 0, Buffer.from('late'), c.fh);
    const written = (await fs.getattr(root, c.attr.ino)).mtimeNs;
    expect(written).toBeGreaterThan(a0.mtimeNs);
    // Closed while its bytes are still pending: nothing is left to reclaim, and the write's times stay.
    const commits = fs.stats().headhunter.commits;
    await fs.release(c.fh!);
    expect(fs.stats().headhunter.commits).toBe(commits);
    expect(fs.stats().dirtyFiles).toBe(1);
    await fs.flushFile(c.attr.ino);
    // The segment's commit wrote the times into the record and forgot them in memory.
    expect(fs.stats().dirtyFiles).toBe(0);
    expect((await fs.getattr(root, c.attr.ino)).mtimeNs).toBe(written);
    await t.remount();
    fs = t.fs;
    expect((await fs.getattr(root, c.attr.ino)).mtimeNs).toBe(written);
  });

  it('EISDIR for a directory, EINVAL for special files, EFBIG past the size limit, EBADF for a bad handle', async () => {
    const d = await fs.mkdir(root, 1, 'd', 0o755);
    const p = await fs.mknod(root, 1, 'p', 0o010644);
    const f = await file();
    expect(await errnoOf(fs.write(root, d.ino, 0, Buffer.from('x')))).toBe('EISDIR');
    expect(await errnoOf(fs.read(root, d.ino, 0, 1))).toBe('EISDIR');
    expect(await errnoOf(fs.write(root, p.ino, 0, Buffer.from('x')))).toBe('EINVAL');
    expect(await errnoOf(fs.write(root, f, 2 ** 50, Buffer.from('x')))).toBe('EFBIG');
    expect(await errnoOf(fs.write(root, f, -1, Buffer.from('x')))).toBe('EINVAL');
    expect(await errnoOf(fs.read(root, f, 0, 1, 999))).toBe('EBADF');
    const h = await fs.open(root, f, { read: true });
    expect(await errnoOf(fs.write(root, f, 0, Buffer.from('x'), h.fh))).toBe('EBADF');
    await fs.release(h.fh);
  });

  it('append handles write at the end, pending writes included', async () => {
    const f = await file();
    const h = await fs.open(root, f, { write: true, append: true });
    await fs.write(root, f, 0, Buffer.from('ab'), h.fh);
    await fs.write(root, f, 0, Buffer.from('cd'), h.fh);
    expect(text(await fs.read(root, f, 0, 10))).toBe('abcd');
    await fs.release(h.fh);
  });

  it('O_TRUNC on open empties the file', async () => {
    const f = await file();
    await fs.write(root, f, 0, Buffer.from('content'));
    const h = await fs.open(root, f, { write: true, truncate: true });
    expect(h.attr.size).toBe(0);
    expect((await fs.read(root, f, 0, 10)).length).toBe(0);
    await fs.release(h.fh);
  });

  it('large writes spanning several segments read back intact', async () => {
    await t.fs.unmount();
    t.mountOptions = { segments: { maxFlushSize: 64 * 1024, maxFlushTimeMs: 60_000 } };
    const { mountFilesystem } = await import('./index.js');
    fs = t.fs = await mountFilesystem({ store: t.store, volume: 'vol', logDir: t.logDir, fsync: false, segments: { maxFlushSize: 64 * 1024 } });
    const f = await file();
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 8)) & 0xff;
    await fs.write(root, f, 0, data);
    expect((await fs.read(root, f, 0, data.length)).equals(data)).toBe(true);
    await fs.flushFile(f);
    expect((await fs.read(root, f, 0, data.length)).equals(data)).toBe(true);
    expect((await fs.read(root, f, 100_000, 5)).equals(data.subarray(100_000, 100_005))).toBe(true);
    expect((await fs.statfs()).segments).toBeGreaterThanOrEqual(5);
  });
});

describe('truncate and fallocate', () => {
  it('shrinking drops the bytes past the new size; growing again shows zeros, never the old bytes', async () => {
    const f = await file();
    await fs.write(root, f, 0, Buffer.from('0123456789'));
    await fs.setattr(root, f, { size: 4 });
    expect(text(await fs.read(root, f, 0, 100))).toBe('0123');
    await fs.setattr(root, f, { size: 8 });
    expect([...(await fs.read(root, f, 0, 100))]).toEqual([...Buffer.from('0123'), 0, 0, 0, 0]);
    await fs.flushFile(f);
    await fs.write(root, f, 10, Buffer.from('z'));
    expect([...(await fs.read(root, f, 0, 100))]).toEqual([...Buffer.from('0123'), 0, 0, 0, 0, 0, 0, 0x7a]);
  });

  it('a truncate after pending writes is never undone by their later commit', async () => {
    const f = await file();
    for (let i = 0; i < 10; i++) await fs.write(root, f, i * 100, Buffer.alloc(100, 0x41 + i));
    await fs.setattr(root, f, { size: 50 });
    await fs.flushFile(f);
    expect((await fs.getattr(root, f)).size).toBe(50);
    expect(text(await fs.read(root, f, 0, 1000))).toBe('A'.repeat(50));
  });

  it('truncating a file with many extents works over several transactions', async () => {
    const f = await file();
    // Every other byte range: thousands of separate extents.
    for (let i = 0; i < 2500; i++) await fs.write(root, f, i * 8, Buffer.from([i & 0xff]));
    await fs.flushFile(f);
    const before = await fs.statfs();
    await fs.setattr(root, f, { size: 8 });
    expect((await fs.getattr(root, f)).size).toBe(8);
    expect([...(await fs.read(root, f, 0, 100))]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    const after = await fs.statfs();
    expect(before.liveBytes - after.liveBytes).toBe(2499);
  });

  it('fallocate extends the size (not with keepSize); EINVAL for length 0', async () => {
    const f = await file();
    await fs.write(root, f, 0, Buffer.from('ab'));
    expect((await fs.fallocate(root, f, 0, 100)).size).toBe(100);
    expect((await fs.fallocate(root, f, 0, 1000, { keepSize: true })).size).toBe(100);
    expect((await fs.fallocate(root, f, 10, 5)).size).toBe(100);
    expect(await errnoOf(fs.fallocate(root, f, 0, 0))).toBe('EINVAL');
    expect(text(await fs.read(root, f, 0, 2))).toBe('ab');
    await fs.flushFile(f);
    expect((await fs.getattr(root, f)).size).toBe(100);
  });
});

describe('space accounting', () => {
  it('overwritten and truncated bytes leave the live count; an empty segment becomes a dead segment', async () => {
    const f = await file();
    await fs.write(root, f, 0, Buffer.alloc(1000, 1));
    await fs.flushFile(f);
    let s = await fs.statfs();
    expect([s.liveBytes, s.storedBytes, s.segments, s.deadSegments]).toEqual([1000, 1000, 1, 0]);
    await fs.write(root, f, 0, Buffer.alloc(400, 2));
    await fs.flushFile(f);
    s = await fs.statfs();
    expect([s.liveBytes, s.storedBytes, s.segments]).toEqual([1000, 1400, 2]);
    await fs.setattr(root, f, { size: 0 });
    s = await fs.statfs();
    expect([s.liveBytes, s.segments, s.deadSegments]).toEqual([0, 0, 2]);
  });

  it('dead segments are deleted only after enough checkpoints, and never while a snapshot shows them alive', async () => {
    const impl = fs as FilesystemImpl;
    const f = await file();
    await fs.write(root, f, 0, Buffer.alloc(100, 1));
    await fs.flushFile(f);
    const snap = await impl.m.vol.hh.createSnapshot('s1');
    expect(snap.name).toBe('s1');
    await fs.unlink(root, 1, 'f');
    expect((await fs.statfs()).deadSegments).toBe(1);
    expect(await fs.reclaimSegments()).toEqual({ deleted: 0, waiting: 1 });
    for (let i = 0; i < 4; i++) await fs.checkpoint();
    expect(await fs.reclaimSegments()).toEqual({ deleted: 0, waiting: 1 });
    await impl.m.vol.hh.deleteSnapshot('s1');
    const objects = async (): Promise<number> => {
      let n = 0;
      for await (const e of t.store.container('vol-data').listAll()) if (e.kind === 'object') n++;
      return n;
    };
    expect(await objects()).toBe(1);
    expect(await fs.reclaimSegments()).toEqual({ deleted: 1, waiting: 0 });
    expect(await objects()).toBe(0);
    const s = await fs.statfs();
    expect([s.deadSegments, s.storedBytes]).toEqual([0, 0]);
  });

  it('a dead segment waits for checkpoints: deletable only once the retained ones all came after its death', async () => {
    const f = await file();
    await fs.write(root, f, 0, Buffer.alloc(10, 1));
    await fs.flushFile(f);
    await fs.unlink(root, 1, 'f');
    expect((await fs.reclaimSegments()).deleted).toBe(0);
    await fs.checkpoint();
    expect((await fs.reclaimSegments()).deleted).toBe(0);
    await fs.checkpoint();
    expect((await fs.reclaimSegments()).deleted).toBe(0);
    await fs.checkpoint();
    expect((await fs.reclaimSegments()).deleted).toBe(1);
  });
});

describe('open-unlinked files', () => {
  it('keep their data while open (reads and writes work) and lose it at the last release', async () => {
    const f = await file();
    await fs.write(root, f, 0, Buffer.from('keep me'));
    await fs.flushFile(f);
    const h1 = await fs.open(root, f, { read: true, write: true });
    const h2 = await fs.open(root, f, { read: true });
    await fs.unlink(root, 1, 'f');
    expect((await fs.getattr(root, f)).nlink).toBe(0);
    expect(text(await fs.read(root, f, 0, 100, h1.fh))).toBe('keep me');
    await fs.write(root, f, 0, Buffer.from('KEEP'), h1.fh);
    await fs.flushFile(f);
    expect(text(await fs.read(root, f, 0, 100, h2.fh))).toBe('KEEP me');
    await fs.release(h1.fh);
    expect(text(await fs.read(root, f, 0, 100, h2.fh))).toBe('KEEP me');
    expect((await fs.statfs()).liveBytes).toBe(7);
    await fs.release(h2.fh);
    expect(await errnoOf(fs.getattr(root, f))).toBe('ESTALE');
    const s = await fs.statfs();
    expect([s.liveBytes, s.inodes]).toEqual([0, 1]);
  });

  it('a file opened by number while its unlink commits is reclaimed at its last release', async () => {
    const f = await file();
    await fs.write(root, f, 0, Buffer.from('race'));
    await fs.flushFile(f);
    // The unlink's commit and an open by inode number race: the open lands before the post-commit reclaim.
    const unlinking = fs.unlink(root, 1, 'f');
    const h = await fs.open(root, f, { read: true });
    await unlinking;
    expect(text(await fs.read(root, f, 0, 10, h.fh))).toBe('race');
    expect((await fs.statfs()).liveBytes).toBe(4);
    await fs.release(h.fh);
    expect(await errnoOf(fs.getattr(root, f))).toBe('ESTALE');
    expect((await fs.statfs()).liveBytes).toBe(0);
  });

  it('pending writes of a file removed before they are durable are counted dead', async () => {
    const f = await file();
    await fs.write(root, f, 0, Buffer.alloc(500, 3));
    await fs.unlink(root, 1, 'f');
    const g = await file('g');
    await fs.write(root, g, 0, Buffer.alloc(20, 4));
    await fs.flushFile(g);
    const s = await fs.statfs();
    expect(s.liveBytes).toBe(20);
    expect(s.storedBytes).toBe(520);
  });
});

describe('shared extents and the object API', () => {
  it('concatFiles joins parts without copying; cloneFile shares; the bytes survive removing the sources', async () => {
    const a = await file('a');
    const b = await file('b');
    const dst = await file('dst');
    await fs.write(root, a, 0, Buffer.from('part-one|'));
    await fs.write(root, b, 0, Buffer.from('part-two'));
    const stored = async (): Promise<number> => (await fs.statfs()).storedBytes;
    const joined = await fs.concatFiles(root, dst, [a, b]);
    expect(joined.size).toBe(17);
    expect(text(await fs.read(root, dst, 0, 100))).toBe('part-one|part-two');
    const c = await file('c');
    await fs.cloneFile(root, dst, c);
    const storedNow = await stored();
    await fs.unlink(root, 1, 'a');
    await fs.unlink(root, 1, 'b');
    await fs.unlink(root, 1, 'dst');
    expect(text(await fs.read(root, c, 0, 100))).toBe('part-one|part-two');
    expect(await stored()).toBe(storedNow);
    expect((await fs.statfs()).liveBytes).toBe(17);
    await fs.unlink(root, 1, 'c');
    expect((await fs.statfs()).liveBytes).toBe(0);
    expect(await errnoOf(fs.cloneFile(root, (await file('x')), (await file('x2'))).then(() => fs.cloneFile(root, 1, 1)))).toBe('EINVAL');
  });

  it('setEtag records an ETag only for the current contents; a later write invalidates it', async () => {
    const f = await file();
    await fs.write(root, f, 0, Buffer.from('v1'));
    expect(await fs.setEtag(root, f, { value: 'e1', dataVersion: (await fs.getattr(root, f)).dataVersion })).toBe(false);
    await fs.flushFile(f);
    const dv = (await fs.getattr(root, f)).dataVersion;
    expect(await fs.setEtag(root, f, { value: 'e1', dataVersion: dv - 1 })).toBe(false);
    expect(await fs.setEtag(root, f, { value: 'e1', dataVersion: dv })).toBe(true);
    expect((await fs.getattr(root, f)).etag).toEqual({ value: 'e1', dataVersion: dv });
    await fs.write(root, f, 0, Buffer.from('v2'));
    expect((await fs.getattr(root, f)).dataVersion).not.toBe(dv);
  });

  it('readPlan names stored segment ranges and holes', async () => {
    const f = await file();
    await fs.write(root, f, 0, Buffer.from('abc'));
    await fs.write(root, f, 10, Buffer.from('xyz'));
    const { size, plan } = await fs.readPlan(root, f, 0, 100);
    expect(size).toBe(13);
    expect(plan.map((s) => ('zero' in s ? `z${s.zero}` : `d${s.length}@${s.segmentOffset}`))).toEqual(['d3@0', 'z7', 'd3@3']);
    const step = plan[0]!;
    if ('zero' in step) throw new Error('expected data');
    const bytes = await t.store.container(step.container).getBuffer(step.object, { range: { offset: step.segmentOffset, length: 3 } });
    expect(bytes.toString()).toBe('abc');
    expect(await errnoOf(fs.readPlan(user(5), f, 0, 1).then(() => fs.readPlan(root, 1, 0, 1)))).toBe('EISDIR');
  });
});

describe('direct data path', () => {
  it('provisionSegment + wrote commits a segment the caller stored; refuses missing, short or repeated segments', async () => {
    const f = await file();
    await fs.write(root, f, 0, Buffer.from('pending-first'));
    const seg = await fs.provisionSegment();
    expect(await errnoOf(fs.wrote(root, f, seg.nonce, [{ fileOffset: 0, segmentOffset: 0, length: 3 }]))).toBe('EINVAL');
    await t.store.container(seg.container).put(seg.name, Buffer.from('0123456789'));
    expect(await errnoOf(fs.wrote(root, f, seg.nonce, [{ fileOffset: 0, segmentOffset: 5, length: 6 }]))).toBe('EINVAL');
    expect(await errnoOf(fs.wrote(user(9), f, seg.nonce, [{ fileOffset: 0, segmentOffset: 0, length: 3 }]))).toBe('EACCES');
    const a = await fs.wrote(root, f, seg.nonce, [{ fileOffset: 4, segmentOffset: 2, length: 3 }, { fileOffset: 20, segmentOffset: 7, length: 3 }]);
    expect(a.size).toBe(23);
    // The earlier pending write committed first; the direct extents lie over it.
    expect(text(await fs.read(root, f, 0, 100))).toBe(`pend234-first${'\0'.repeat(7)}789`);
    expect(await errnoOf(fs.wrote(root, f, seg.nonce, [{ fileOffset: 0, segmentOffset: 0, length: 1 }]))).toBe('EINVAL');
    const s = await fs.statfs();
    expect(s.liveBytes).toBe(13 - 3 + 6);
    await t.remount();
    fs = t.fs;
    expect(text(await fs.read(root, f, 0, 100))).toBe(`pend234-first${'\0'.repeat(7)}789`);
  });
});

describe('statfs', () => {
  it('counts inodes, handles and bytes', async () => {
    const f = await file();
    await fs.mkdir(root, 1, 'd', 0o755);
    const h = await fs.open(root, f, { read: true });
    const s = await fs.statfs();
    expect(s).toMatchObject({ inodes: 3, openHandles: 1, nameMax: 255, blockSize: 4096 });
    expect(s.filesFree).toBe(s.files - 3);
    await fs.release(h.fh);
  });
});
