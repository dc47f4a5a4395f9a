// Uploads (beginUpload + commitUpload): the file appears whole in one
// transaction with its extents, xattrs and ETag; nothing is visible before;
// a file at the name is replaced like rename does it; racing commits to one
// name leave exactly one whole upload (last writer wins); a lost segment PUT
// leaves nothing; uploads share segments; everything acknowledged survives
// remounts and crashes, and fsck finds the volume consistent throughout.

import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { fsck } from './fsck.js';
import { ROOT_CRED as root, type Filesystem, type Upload } from './index.js';
import { errnoOf, instrumentedStore, makeFs, user, type TestFs } from './testing/fixture.js';

let t: TestFs | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});


function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

async function upload(fs: Filesystem, data: Buffer, chunk = 4096): Promise<Upload> {
  const up = await fs.beginUpload(root);
  for (let at = 0; at < data.length; at += chunk) await up.write(data.subarray(at, at + chunk));
  return up;
}

/** A file `name` in the root holding `contents`, its segment stored. */
async function storedFile(fs: Filesystem, name: string, contents: string): Promise<number> {
  const ino = (await fs.create(root, 1, name, 0o644)).attr.ino;
  await fs.write(root, ino, 0, Buffer.from(contents));
  await fs.flushFile(ino);
  return ino;
}

async function readAll(fs: Filesystem, ino: number): Promise<Buffer> {
  const size = (await fs.getattr(root, ino)).size;
  return size === 0 ? Buffer.alloc(0) : fs.read(root, ino, 0, size);
}

async function expectConsistent(fs: Filesystem): Promise<void> {
  const r = await fsck(fs, { findLeaks: false });
  expect(r.problems).toEqual([]);
  expect(r.ok).toBe(true);
}

describe('commitUpload', () => {
  it('makes the whole file visible at once with its mode, owner, xattrs, ETag and journal entry', async () => {
    t = await makeFs();
    const fs = t.fs;
    const dir = (await fs.mkdir(root, 1, 'c', 0o777)).ino;
    const cred = user(1000, 100);
    const data = bytes(70_000, 1);
    const up = await fs.beginUpload(cred);
    await up.write(data.subarray(0, 30_000));
    await up.write(data.subarray(30_000));
    expect(up.size).toBe(70_000);
    // Nothing is visible before the commit.
    expect(await errnoOf(fs.lookup(root, dir, 'obj'))).toBe('ENOENT');
    expect(await errnoOf(fs.resolveHandle(up.ino))).toBe('ESTALE');
    const before = await fs.getattr(root, dir);
    const cursor = await fs.journalCursor();
    await new Promise((r) => setTimeout(r, 2));
    const a = await fs.commitUpload(cred, dir, 'obj', up, {
      mode: 0o666, umask: 0o022, etag: 'abc123', xattrs: { 'user.swift.meta.color': Buffer.from('blue'), 'user.swift.content-type': Buffer.from('text/plain') },
    });
    expect(a.ino).toBe(up.ino);
    expect(a.size).toBe(70_000);
    expect(a.mode).toBe(0o100644);
    expect([a.uid, a.gid, a.nlink]).toEqual([1000, 100, 1]);
    expect(a.etag).toEqual({ value: 'abc123', dataVersion: a.dataVersion });
    expect((await fs.lookup(root, dir, 'obj')).ino).toBe(up.ino);
    expect((await readAll(fs, up.ino)).equals(data)).toBe(true);
    expect((await fs.getxattr(root, up.ino, 'user.swift.meta.color')).toString()).toBe('blue');
    expect((await fs.listxattr(root, up.ino)).sort()).toEqual(['user.swift.content-type', 'user.swift.meta.color']);
    expect((await fs.getattr(root, up.ino)).etag).toEqual({ value: 'abc123', dataVersion: a.dataVersion });
    const after = await fs.getattr(root, dir);
    expect(after.mtimeNs).toBeGreaterThan(before.mtimeNs);
    expect(after.ctimeNs).toBeGreaterThan(before.ctimeNs);
    const changes = (await fs.listChanges(cursor)).changes;
    expect(changes.map((c) => [c.kind, c.ino, c.parent, c.name, c.size])).toEqual([['create', up.ino, dir, 'obj', 70_000]]);
    // A write through the filesystem afterwards makes the recorded ETag stale, as for any file.
    await fs.write(root, up.ino, 0, Buffer.from('x'));
    expect((await fs.getattr(root, up.ino)).dataVersion).not.toBe(a.dataVersion);
    await expectConsistent(fs);
    // Committed once: the upload is finished.
    expect(await errnoOf(fs.commitUpload(root, dir, 'again', up))).toBe('EINVAL');
    expect(await errnoOf(up.write(Buffer.from('more')))).toBe('EINVAL');
  });

  it('commits an empty upload as an empty file', async () => {
    t = await makeFs();
    const up = await t.fs.beginUpload(root);
    const a = await t.fs.commitUpload(root, 1, 'empty', up, { etag: 'd41d8cd98f00b204e9800998ecf8427e' });
    expect(a.size).toBe(0);
    expect((await t.fs.getattr(root, a.ino)).etag?.value).toBe('d41d8cd98f00b204e9800998ecf8427e');
    await expectConsistent(t.fs);
  });

  it('replaces an existing file (the old inode goes), refuses a directory (EISDIR) and, with noReplace, any entry (EEXIST)', async () => {
    t = await makeFs();
    const fs = t.fs;
    const old = await storedFile(fs, 'f', 'old contents');
    await fs.setxattr(root, old, 'user.keep', Buffer.from('no'));
    await fs.mkdir(root, 1, 'd', 0o755);
    const up = await upload(fs, Buffer.from('new'));
    expect(await errnoOf(fs.commitUpload(root, 1, 'd', up))).toBe('EISDIR');
    expect(await errnoOf(fs.commitUpload(root, 1, 'f', up, { noReplace: true }))).toBe('EEXIST');
    // Still open after a refusal: the commit can be retried.
    const a = await fs.commitUpload(root, 1, 'f', up);
    expect(a.ino).not.toBe(old);
    expect((await fs.read(root, a.ino, 0, 100)).toString()).toBe('new');
    expect(await fs.listxattr(root, a.ino)).toEqual([]);
    expect(await errnoOf(fs.resolveHandle(old))).toBe('ESTALE');
    expect((await fs.readdir(root, 1)).entries.filter((e) => e.name === 'f').map((e) => e.ino)).toEqual([a.ino]);
    await fs.flushFile(a.ino); // a small upload's bytes are durable in the intent log; their extents commit with the segment
    const st = await fs.statfs();
    expect(st.liveBytes).toBe(3);
    await expectConsistent(fs);
  });

  it('replacing a file that nobody has open reclaims it in the same commit (one durable commit, not two)', async () => {
    t = await makeFs();
    const fs = t.fs;
    const old = await storedFile(fs, 'f', 'old contents');
    await fs.setxattr(root, old, 'user.a', Buffer.from('1'));
    const up = await upload(fs, Buffer.from('new'));
    const seq0 = fs.stats().headhunter.commitSeq;
    const a = await fs.commitUpload(root, 1, 'f', up);
    expect(fs.stats().headhunter.commitSeq - seq0).toBe(1);
    expect(await errnoOf(fs.resolveHandle(old))).toBe('ESTALE');
    // Renamed over, the same.
    const b = await storedFile(fs, 'g', 'g contents');
    const seq1 = fs.stats().headhunter.commitSeq;
    await fs.rename(root, 1, 'g', 1, 'f');
    expect(fs.stats().headhunter.commitSeq - seq1).toBe(1);
    expect(await errnoOf(fs.resolveHandle(a.ino))).toBe('ESTALE');
    expect((await fs.read(root, b, 0, 100)).toString()).toBe('g contents');
    await fs.flushFile(b);
    expect((await fs.statfs()).liveBytes).toBe(10);
    await expectConsistent(fs);
    // And it stays so across a crash.
    const again = await t.crash();
    expect((await again.lookup(root, 1, 'f')).ino).toBe(b);
    expect(await errnoOf(again.resolveHandle(old))).toBe('ESTALE');
    expect(await errnoOf(again.resolveHandle(a.ino))).toBe('ESTALE');
    await expectConsistent(again);
  });

  it('an open file that is replaced stays readable until released (like rename over it)', async () => {
    t = await makeFs();
    const fs = t.fs;
    const r = await fs.create(root, 1, 'f', 0o644, { open: { read: true, write: true } });
    await fs.write(root, r.attr.ino, 0, Buffer.from('old'), r.fh);
    await fs.fsync(r.attr.ino);
    await fs.commitUpload(root, 1, 'f', await upload(fs, Buffer.from('new!')));
    expect((await fs.read(root, r.attr.ino, 0, 10, r.fh)).toString()).toBe('old');
    await fs.release(r.fh!);
    expect(await errnoOf(fs.resolveHandle(r.attr.ino))).toBe('ESTALE');
    await expectConsistent(fs);
  });

  it('checks permissions like creat + rename: EACCES without write permission, EPERM in a sticky directory', async () => {
    t = await makeFs();
    const fs = t.fs;
    const ro = (await fs.mkdir(root, 1, 'ro', 0o755)).ino;
    const up = await upload(fs, Buffer.from('x'));
    expect(await errnoOf(fs.commitUpload(user(1000), ro, 'f', up))).toBe('EACCES');
    const sticky = (await fs.mkdir(root, 1, 'tmp', 0o1777)).ino;
    await fs.create(root, sticky, 'roots', 0o666);
    expect(await errnoOf(fs.commitUpload(user(1000), sticky, 'roots', up))).toBe('EPERM');
    expect(await errnoOf(fs.commitUpload(user(1000), 1, 'f', up, { xattrs: { 'trusted.x': Buffer.from('1') } }))).toBe('EPERM');
    expect(await errnoOf(fs.commitUpload(root, 1, 'f', up, { xattrs: { 'system.x': Buffer.from('1') } }))).toBe('EOPNOTSUPP');
    const a = await fs.commitUpload(user(1000), sticky, 'mine', up);
    expect(a.uid).toBe(1000);
    await expectConsistent(fs);
  });

  it('aborted and never committed uploads leave nothing (and fsck finds nothing)', async () => {
    t = await makeFs();
    const fs = t.fs;
    const a = await upload(fs, bytes(10_000, 3));
    await a.abort();
    await a.abort();
    expect(await errnoOf(fs.commitUpload(root, 1, 'a', a))).toBe('EINVAL');
    const b = await upload(fs, bytes(10_000, 4));
    void b;
    expect((await fs.readdir(root, 1)).entries.map((e) => e.name)).toEqual(['.', '..']);
    expect((await fs.statfs()).liveBytes).toBe(0);
    await expectConsistent(fs);
    await t.remount();
    expect((await t.fs.readdir(root, 1)).entries.map((e) => e.name)).toEqual(['.', '..']);
    await expectConsistent(t.fs);
  });

  it('a failed segment PUT fails the commit with EIO and leaves nothing visible', async () => {
    const s = instrumentedStore();
    t = await makeFs({}, { intentLog: { maxFileBytes: 0 } }, s.store); // the segment path (small uploads go through the intent log: below)
    const fs = t.fs;
    const up = await upload(fs, bytes(20_000, 5));
    s.failSegments(true);
    expect(await errnoOf(fs.commitUpload(root, 1, 'f', up))).toBe('EIO');
    s.failSegments(false);
    expect(await errnoOf(fs.lookup(root, 1, 'f'))).toBe('ENOENT');
    expect(await errnoOf(fs.resolveHandle(up.ino))).toBe('ESTALE');
    expect((await fs.statfs()).liveBytes).toBe(0);
    expect((await fs.statfs()).segments).toBe(0);
    // The volume goes on working.
    const ok = await fs.commitUpload(root, 1, 'f', await upload(fs, Buffer.from('fine')));
    expect((await fs.read(root, ok.ino, 0, 10)).toString()).toBe('fine');
    await expectConsistent(fs);
  });

  it('concurrent uploads share segments: 32 small files cost a few segment PUTs, not 32', async () => {
    const s = instrumentedStore(20);
    t = await makeFs({}, { intentLog: { maxFileBytes: 0 } }, s.store);
    const fs = t.fs;
    const before = s.segments();
    const files = Array.from({ length: 32 }, (_, i) => bytes(4096, i));
    const attrs = await Promise.all(files.map(async (data, i) => fs.commitUpload(root, 1, `f${i}`, await upload(fs, data))));
    const puts = s.segments() - before;
    expect(puts).toBeLessThanOrEqual(6);
    for (const [i, a] of attrs.entries()) expect((await fs.read(root, a.ino, 0, 8192)).equals(files[i]!)).toBe(true);
    expect((await fs.statfs()).liveBytes).toBe(32 * 4096);
    await expectConsistent(fs);
  });

  it('racing commits to one name: the last writer wins, never a torn file, and the losers are reclaimed', async () => {
    t = await makeFs();
    const fs = t.fs;
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ size: fc.integer({ min: 0, max: 40_000 }), chunk: fc.integer({ min: 500, max: 9000 }) }), { minLength: 2, maxLength: 8 }),
      async (specs) => {
        const contents = specs.map((s, i) => bytes(s.size, i + s.size));
        const ups = await Promise.all(specs.map((s, i) => upload(fs, contents[i]!, s.chunk)));
        const cursor = await fs.journalCursor();
        await Promise.all(ups.map((u) => fs.commitUpload(root, 1, 'same', u)));
        // The last writer is the last commit in the journal's order.
        const creates = (await fs.listChanges(cursor)).changes.filter((c) => c.kind === 'create' && c.name === 'same');
        expect(creates.length).toBe(ups.length);
        const winner = ups.findIndex((u) => u.ino === creates[creates.length - 1]!.ino);
        const a = await fs.lookup(root, 1, 'same');
        expect(a.ino).toBe(ups[winner]!.ino);
        expect((await readAll(fs, a.ino)).equals(contents[winner]!)).toBe(true);
        for (const u of ups) if (u !== ups[winner]) expect(await errnoOf(fs.resolveHandle(u.ino))).toBe('ESTALE');
        await fs.flushFile(a.ino); // small ones are durable in the intent log; their extents commit with the segment
        expect((await fs.statfs()).liveBytes).toBe(contents[winner]!.length);
        await expectConsistent(fs);
      },
    ), { numRuns: 15 });
  });

  it('a segment shared with a file deleted meanwhile is alive again for the next commit', async () => {
    t = await makeFs({}, { intentLog: { maxFileBytes: 0 } });
    const fs = t.fs;
    const a = await upload(fs, bytes(1000, 1));
    const b = await upload(fs, bytes(1000, 2));
    const fa = await fs.commitUpload(root, 1, 'a', a);
    // b's bytes are in the same (now stored) segment; a's file goes, the segment dies.
    await fs.unlink(root, 1, 'a');
    expect((await fs.statfs()).deadSegments).toBe(1);
    const fb = await fs.commitUpload(root, 1, 'b', b);
    expect(fb.ino).not.toBe(fa.ino);
    expect((await fs.read(root, fb.ino, 0, 5000)).equals(bytes(1000, 2))).toBe(true);
    expect((await fs.statfs()).deadSegments).toBe(0);
    expect((await fs.statfs()).liveBytes).toBe(1000);
    await expectConsistent(fs);
  });

  it('a small upload is durable through the intent log: no segment PUT before the commit returns, ETag kept after the segment commits and after a crash', async () => {
    const s = instrumentedStore(20);
    t = await makeFs({}, {}, s.store);
    const data = bytes(4096, 9);
    const a = await t.fs.commitUpload(root, 1, 'small', await upload(t.fs, data), { etag: 'md5-of-small' });
    expect(s.stored()).toBe(0);
    expect(a.size).toBe(4096);
    expect(a.etag).toEqual({ value: 'md5-of-small', dataVersion: a.dataVersion });
    expect((await t.fs.read(root, a.ino, 0, 8192)).equals(data)).toBe(true);
    expect((await t.fs.stats()).intentLog.held).toBe(1);
    // An upload past maxFileBytes takes the segment path.
    const big = bytes(300 * 1024, 3);
    await t.fs.commitUpload(root, 1, 'big', await upload(t.fs, big, 64 * 1024));
    expect(s.stored()).toBe(1);
    await t.fs.flushFile(a.ino);
    const after = await t.fs.getattr(root, a.ino);
    expect(after.dataVersion).toBe(a.dataVersion);
    expect(after.etag).toEqual({ value: 'md5-of-small', dataVersion: after.dataVersion });
    expect((await t.fs.stats()).intentLog.held).toBe(0);
    // Crash before the segment commit: recovered, same bytes, same dataVersion and ETag.
    const c = await t.fs.commitUpload(root, 1, 'crashy', await upload(t.fs, data), { etag: 'md5-again' });
    const fs2 = await t.crash();
    expect((await fs2.stats()).intentLog.recovered).toBe(1);
    expect((await fs2.read(root, c.ino, 0, 8192)).equals(data)).toBe(true);
    const c2 = await fs2.getattr(root, c.ino);
    expect(c2.dataVersion).toBe(c.dataVersion);
    expect(c2.etag).toEqual({ value: 'md5-again', dataVersion: c.dataVersion });
    expect((await fs2.read(root, a.ino, 0, 8192)).equals(data)).toBe(true);
    await expectConsistent(fs2);
  });

  it('a small upload refused by the namespace stays open and commits on retry', async () => {
    t = await makeFs();
    await t.fs.mkdir(root, 1, 'd', 0o755);
    const up = await upload(t.fs, Buffer.from('retry me'));
    expect(await errnoOf(t.fs.commitUpload(root, 1, 'd', up))).toBe('EISDIR');
    const a = await t.fs.commitUpload(root, 1, 'f', up);
    expect((await t.fs.read(root, a.ino, 0, 100)).toString()).toBe('retry me');
    await t.fs.flushFile(a.ino);
    expect((await t.fs.statfs()).liveBytes).toBe(8);
    await expectConsistent(t.fs);
    const fs2 = await t.crash();
    expect((await fs2.read(root, a.ino, 0, 100)).toString()).toBe('retry me');
  });

  it('keeps every acknowledged upload across a remount and a crash; an upload in progress at a crash leaves nothing', async () => {
    t = await makeFs();
    let fs = t.fs;
    const big = bytes(3 * 1024 * 1024 + 17, 9);
    const a = await fs.commitUpload(root, 1, 'big', await upload(fs, big, 1024 * 1024), { etag: 'e1', xattrs: { 'user.a': Buffer.from('1') } });
    fs = await t.remount();
    expect((await readAll(fs, a.ino)).equals(big)).toBe(true);
    expect((await fs.getattr(root, a.ino)).etag?.value).toBe('e1');
    expect((await fs.getxattr(root, a.ino, 'user.a')).toString()).toBe('1');
    const b = await fs.commitUpload(root, 1, 'small', await upload(fs, Buffer.from('small')), { etag: 'e2' });
    const pending = await upload(fs, bytes(5000, 1));
    void pending;
    fs = await t.crash();
    expect((await fs.read(root, b.ino, 0, 100)).toString()).toBe('small');
    expect((await fs.getattr(root, b.ino)).etag?.value).toBe('e2');
    expect((await readAll(fs, a.ino)).equals(big)).toBe(true);
    expect((await fs.readdir(root, 1)).entries.map((e) => e.name).sort()).toEqual(['.', '..', 'big', 'small']);
    // New uploads after the crash get fresh inode numbers.
    const c = await fs.commitUpload(root, 1, 'c', await upload(fs, Buffer.from('c')));
    expect([a.ino, b.ino]).not.toContain(c.ino);
    await expectConsistent(fs);
  });
});
