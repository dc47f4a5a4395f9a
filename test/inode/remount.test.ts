// Everything acknowledged survives: after a clean unmount + mount, and after
// an unclean stop (the instance dropped without unmount: no flush, no final
// checkpoint) followed by a mount from the same store and replay-log
// directory. On the memory store and on the local-directory store.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFsStore, type ObjectStore } from '@cairn/objstore';
import { ROOT_CRED as root, type Filesystem } from '@cairn/inode';
import { afterEach, describe, expect, it } from 'vitest';
import type { FilesystemImpl } from '../../packages/inode/src/fs.js';
import { errnoOf, makeFs, type TestFs } from '../../packages/inode/src/testing/fixture.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fixture(store?: ObjectStore): Promise<TestFs> {
  const t = await makeFs({}, {}, store);
  cleanups.push(() => t.cleanup());
  return t;
}

/** Builds a small tree with every kind of namespace change; returns what to check. */
async function populate(fs: Filesystem): Promise<{ file: number; synced: number; big: Buffer }> {
  const a = await fs.mkdir(root, 1, 'a', 0o750);
  const b = await fs.mkdir(root, a.ino, 'b', 0o700);
  const file = (await fs.create(root, b.ino, 'file', 0o640)).attr.ino;
  await fs.link(root, file, 1, 'hard');
  await fs.symlink(root, 1, 'sym', 'a/b/file');
  await fs.mknod(root, 1, 'fifo', 0o010600);
  await fs.setxattr(root, file, 'user.color', Buffer.from('blue'));
  await fs.setattr(root, file, { uid: 7, gid: 8, mtime: 123_456_789n });
  await fs.mkdir(root, 1, 'gone', 0o755);
  await fs.rmdir(root, 1, 'gone');
  await fs.create(root, 1, 'tmp', 0o644);
  await fs.rename(root, 1, 'tmp', a.ino, 'moved');
  const synced = (await fs.create(root, 1, 'synced', 0o644)).attr.ino;
  const big = Buffer.alloc(200_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  await fs.write(root, synced, 0, big);
  await fs.write(root, synced, 1000, Buffer.from('patched'));
  big.write('patched', 1000);
  await fs.fsync(synced);
  return { file, synced, big };
}

async function verify(fs: Filesystem, p: { file: number; synced: number; big: Buffer }, extra: string[] = []): Promise<void> {
  const names = async (ino: number): Promise<string[]> =>
    (await fs.readdir(root, ino)).entries.map((e) => e.name).filter((n) => n !== '.' && n !== '..').sort();
  expect(await names(1)).toEqual(['a', 'fifo', 'hard', 'sym', 'synced', ...extra].sort());
  const a = await fs.lookup(root, 1, 'a');
  expect(a.mode & 0o7777).toBe(0o750);
  expect(a.nlink).toBe(3);
  expect(await names(a.ino)).toEqual(['b', 'moved']);
  const f = await fs.lookupPath(root, '/sym');
  expect(f.ino).toBe(p.file);
  expect(f).toMatchObject({ nlink: 2, uid: 7, gid: 8, mtimeNs: 123_456_789n });
  expect((await fs.getxattr(root, p.file, 'user.color')).toString()).toBe('blue');
  expect((await fs.lookup(root, 1, 'fifo')).type).toBe('fifo');
  expect((await fs.read(root, p.synced, 0, p.big.length + 10)).equals(p.big)).toBe(true);
  expect((await fs.getattr(root, p.synced)).size).toBe(p.big.length);
}

describe('remount', () => {
  it('clean unmount + mount keeps everything, unsynced writes included', async () => {
    const t = await fixture();
    const p = await populate(t.fs);
    await t.fs.flushFile(p.synced); // fsync may have logged it (intent log): its extents commit here, not at unmount
    const lazy = (await t.fs.create(root, 1, 'lazy', 0o644)).attr.ino;
    await t.fs.write(root, lazy, 0, Buffer.from('flushed by unmount'));
    const cursor = await t.fs.journalCursor();
    await t.remount();
    await verify(t.fs, p, ['lazy']);
    expect((await t.fs.read(root, lazy, 0, 100)).toString()).toBe('flushed by unmount');
    expect(await t.fs.journalCursor()).toBe(cursor + 1);
    // The inode counter continues: no number is handed out twice.
    const n = (await t.fs.create(root, 1, 'new', 0o644)).attr.ino;
    expect(n).toBeGreaterThan(lazy);
    await t.fs.unmount();
    await expect(t.fs.getattr(root, 1)).rejects.toMatchObject({ code: 'CAIRN_ERR_CLOSED' });
    t.fs = await (await import('@cairn/inode')).mountFilesystem({ store: t.store, volume: 'vol', logDir: t.logDir, fsync: false });
  });

  it('after an unclean stop every acknowledged operation and every fsynced byte is back', async () => {
    const t = await fixture();
    const p = await populate(t.fs);
    const stats = await t.fs.statfs();
    // Bytes fsync made durable through the intent log (the synced file, patched inside) count once recovery wrote them back.
    const logged = (await t.fs.stats()).intentLog.heldBytes > 0 ? p.big.length : 0;
    await t.crash();
    await verify(t.fs, p);
    const after = await t.fs.statfs();
    expect(after.inodes).toBe(stats.inodes);
    expect(after.liveBytes).toBe(stats.liveBytes + logged);
    // Twice in a row (the second mount replays the first one's claim too).
    await t.crash();
    await verify(t.fs, p);
  });

  it('unsynced writes may be lost in a crash, but the file stays consistent', async () => {
    const t = await fixture();
    const f = (await t.fs.create(root, 1, 'f', 0o644)).attr.ino;
    await t.fs.write(root, f, 0, Buffer.from('durable'));
    await t.fs.fsync(f);
    await t.fs.write(root, f, 0, Buffer.from('LOST?'));
    await t.fs.write(root, f, 100, Buffer.from('tail'));
    await t.crash();
    const a = await t.fs.getattr(root, f);
    const got = (await t.fs.read(root, f, 0, 200)).toString('latin1');
    // Either the pending writes were never committed, or (committed in the crash window) all of one segment.
    if (a.size === 7) expect(got).toBe('durable');
    else expect(got).toBe(`LOST?le${'\0'.repeat(93)}tail`);
  });

  it('an open-unlinked file left by a crash is reclaimed at mount', async () => {
    const t = await fixture();
    const f = (await t.fs.create(root, 1, 'f', 0o644)).attr.ino;
    await t.fs.write(root, f, 0, Buffer.alloc(5000, 9));
    await t.fs.flushFile(f);
    await t.fs.open(root, f, { read: true });
    await t.fs.unlink(root, 1, 'f');
    expect((await t.fs.statfs()).liveBytes).toBe(5000);
    await t.crash();
    expect(await errnoOf(t.fs.getattr(root, f))).toBe('ESTALE');
    const s = await t.fs.statfs();
    expect([s.inodes, s.liveBytes, s.segments, s.deadSegments]).toEqual([1, 0, 0, 1]);
  });

  it('a trim interrupted by a crash is finished at mount', async () => {
    const t = await fixture();
    const f = (await t.fs.create(root, 1, 'f', 0o644)).attr.ino;
    for (let i = 0; i < 10; i++) await t.fs.write(root, f, i * 10, Buffer.from([i + 1]));
    await t.fs.flushFile(f); // extents committed, as truncate's own flush leaves them
    // What the first transaction of a long truncate leaves: the new size and a 'trim' orphan, extents still there.
    const vol = (t.fs as FilesystemImpl).m.vol;
    await vol.tx((tx) => {
      const rec = tx.mustInode(f);
      tx.putInode(f, { ...rec, size: 15 });
      tx.putOrphan(f, { kind: 'trim', size: 15, since: tx.now });
    });
    await t.crash();
    expect((await t.fs.statfs()).liveBytes).toBe(2);
    await t.fs.setattr(root, f, { size: 100 });
    expect([...(await t.fs.read(root, f, 0, 100))].filter((b) => b !== 0)).toEqual([1, 2]);
  });

  it('works on the local-directory store too (clean and unclean)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-inode-store-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const t = await fixture(createFsStore({ root: dir, fsync: false }));
    const p = await populate(t.fs);
    await t.remount();
    await verify(t.fs, p);
    await t.fs.mkdir(root, 1, 'late', 0o755);
    await t.crash();
    await verify(t.fs, p, ['late']);
    expect((await t.fs.lookup(root, 1, 'late')).type).toBe('dir');
  });
});
