// rename(2) / renameat2(2) as the man page describes them, plus concurrent
// directory renames that must never form a cycle or lose a directory.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROOT_CRED as root, type Filesystem } from './index.js';
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

async function names(dir: number): Promise<string[]> {
  return (await fs.readdir(root, dir)).entries.map((e) => e.name).filter((n) => n !== '.' && n !== '..').sort();
}

describe('rename', () => {
  it('moves a file within and across directories', async () => {
    const d = await fs.mkdir(root, 1, 'd', 0o755);
    const f = await fs.create(root, 1, 'f', 0o644);
    await fs.rename(root, 1, 'f', 1, 'g');
    expect(await names(1)).toEqual(['d', 'g']);
    await fs.rename(root, 1, 'g', d.ino, 'h');
    expect(await names(1)).toEqual(['d']);
    expect((await fs.lookup(root, d.ino, 'h')).ino).toBe(f.attr.ino);
  });

  it('replaces an existing file (whose link goes) and an empty directory', async () => {
    const a = await fs.create(root, 1, 'a', 0o644);
    const b = await fs.create(root, 1, 'b', 0o644);
    await fs.rename(root, 1, 'a', 1, 'b');
    expect((await fs.lookup(root, 1, 'b')).ino).toBe(a.attr.ino);
    expect(await errnoOf(fs.getattr(root, b.attr.ino))).toBe('ESTALE');
    const d1 = await fs.mkdir(root, 1, 'd1', 0o755);
    const d2 = await fs.mkdir(root, 1, 'd2', 0o755);
    await fs.create(root, d1.ino, 'inside', 0o644);
    await fs.rename(root, 1, 'd1', 1, 'd2');
    expect((await fs.lookup(root, 1, 'd2')).ino).toBe(d1.ino);
    expect(await errnoOf(fs.getattr(root, d2.ino))).toBe('ESTALE');
    expect((await fs.getattr(root, 1)).nlink).toBe(3);
  });

  it('moving a directory updates ".." and the link counts of both parents', async () => {
    const p = await fs.mkdir(root, 1, 'p', 0o755);
    const q = await fs.mkdir(root, 1, 'q', 0o755);
    const d = await fs.mkdir(root, p.ino, 'd', 0o755);
    expect((await fs.getattr(root, p.ino)).nlink).toBe(3);
    await fs.rename(root, p.ino, 'd', q.ino, 'd');
    expect((await fs.getattr(root, p.ino)).nlink).toBe(2);
    expect((await fs.getattr(root, q.ino)).nlink).toBe(3);
    expect((await fs.lookup(root, d.ino, '..')).ino).toBe(q.ino);
    expect((await fs.lookupPath(root, '/q/d/..')).ino).toBe(q.ino);
  });

  it('errno cases: ENOENT, ENOTDIR, EISDIR, ENOTEMPTY, EINVAL (own subtree), EBUSY (dot names)', async () => {
    const f = await fs.create(root, 1, 'f', 0o644);
    const d = await fs.mkdir(root, 1, 'd', 0o755);
    const full = await fs.mkdir(root, 1, 'full', 0o755);
    await fs.create(root, full.ino, 'x', 0o644);
    const sub = await fs.mkdir(root, d.ino, 'sub', 0o755);
    expect(await errnoOf(fs.rename(root, 1, 'nope', 1, 'x'))).toBe('ENOENT');
    expect(await errnoOf(fs.rename(root, 1, 'd', 1, 'f'))).toBe('ENOTDIR');
    expect(await errnoOf(fs.rename(root, 1, 'f', 1, 'd'))).toBe('EISDIR');
    expect(await errnoOf(fs.rename(root, 1, 'd', 1, 'full'))).toBe('ENOTEMPTY');
    expect(await errnoOf(fs.rename(root, 1, 'd', d.ino, 'x'))).toBe('EINVAL');
    expect(await errnoOf(fs.rename(root, 1, 'd', sub.ino, 'x'))).toBe('EINVAL');
    expect(await errnoOf(fs.rename(root, d.ino, 'sub', sub.ino, 'x'))).toBe('EINVAL');
    // The target an ancestor of the source: ENOTEMPTY (Linux).
    expect(await errnoOf(fs.rename(root, sub.ino, '..', 1, 'x'))).toBe('EBUSY');
    expect(await errnoOf(fs.rename(root, d.ino, 'sub', 1, 'd'))).toBe('ENOTEMPTY');
    expect(await errnoOf(fs.rename(root, 1, 'f', 1, '.'))).toBe('EBUSY');
    expect(await errnoOf(fs.rename(root, 1, 'f', f.attr.ino, 'x'))).toBe('ENOTDIR');
    expect(await errnoOf(fs.rename(root, 1, 'f', 1, 'n'.repeat(256)))).toBe('ENAMETOOLONG');
    expect(await names(1)).toEqual(['d', 'f', 'full']);
  });

  it('renaming onto another link of the same inode does nothing', async () => {
    const f = await fs.create(root, 1, 'f', 0o644);
    await fs.link(root, f.attr.ino, 1, 'g');
    await fs.rename(root, 1, 'f', 1, 'g');
    expect(await names(1)).toEqual(['f', 'g']);
    expect((await fs.getattr(root, f.attr.ino)).nlink).toBe(2);
  });

  it('RENAME_NOREPLACE: EEXIST when the target exists, else a plain rename', async () => {
    await fs.create(root, 1, 'a', 0o644);
    await fs.create(root, 1, 'b', 0o644);
    expect(await errnoOf(fs.rename(root, 1, 'a', 1, 'b', { noReplace: true }))).toBe('EEXIST');
    await fs.rename(root, 1, 'a', 1, 'c', { noReplace: true });
    expect(await names(1)).toEqual(['b', 'c']);
    expect(await errnoOf(fs.rename(root, 1, 'b', 1, 'c', { noReplace: true, exchange: true }))).toBe('EINVAL');
  });

  it('RENAME_EXCHANGE swaps a file and a directory across parents; ENOENT without a target', async () => {
    const p = await fs.mkdir(root, 1, 'p', 0o755);
    const f = await fs.create(root, 1, 'f', 0o644);
    const d = await fs.mkdir(root, p.ino, 'd', 0o755);
    expect(await errnoOf(fs.rename(root, 1, 'f', p.ino, 'none', { exchange: true }))).toBe('ENOENT');
    await fs.rename(root, 1, 'f', p.ino, 'd', { exchange: true });
    expect((await fs.lookup(root, 1, 'f')).ino).toBe(d.ino);
    expect((await fs.lookup(root, p.ino, 'd')).ino).toBe(f.attr.ino);
    expect((await fs.lookup(root, d.ino, '..')).ino).toBe(1);
    expect((await fs.getattr(root, 1)).nlink).toBe(4);
    expect((await fs.getattr(root, p.ino)).nlink).toBe(2);
    // Exchanging a directory with its own ancestor is EINVAL.
    const inner = await fs.mkdir(root, d.ino, 'inner', 0o755);
    expect(await errnoOf(fs.rename(root, d.ino, 'inner', 1, 'f', { exchange: true }))).toBe('EINVAL');
    expect((await fs.lookup(root, d.ino, 'inner')).ino).toBe(inner.ino);
  });

  it('sticky directory: only the owner of the entry or of the directory (or root) may rename or replace it', async () => {
    const tmp = await fs.mkdir(root, 1, 'tmp', 0o1777);
    const alice = user(1001);
    const bob = user(1002);
    await fs.create(alice, tmp.ino, 'a', 0o644);
    await fs.create(bob, tmp.ino, 'b', 0o644);
    expect(await errnoOf(fs.rename(bob, tmp.ino, 'a', tmp.ino, 'x'))).toBe('EPERM');
    expect(await errnoOf(fs.rename(bob, tmp.ino, 'b', tmp.ino, 'a'))).toBe('EPERM');
    expect(await errnoOf(fs.unlink(bob, tmp.ino, 'a'))).toBe('EPERM');
    await fs.rename(alice, tmp.ino, 'a', tmp.ino, 'a2');
    await fs.rename(root, tmp.ino, 'b', tmp.ino, 'b2');
    expect(await names(tmp.ino)).toEqual(['a2', 'b2']);
  });

  it('permissions: write+search on both parents (EACCES); a directory changing parent must be writable', async () => {
    const src = await fs.mkdir(root, 1, 'src', 0o777);
    const ro = await fs.mkdir(root, 1, 'ro', 0o755);
    const rw = await fs.mkdir(root, 1, 'rw', 0o777);
    const u = user(1000);
    await fs.create(u, src.ino, 'f', 0o644);
    expect(await errnoOf(fs.rename(u, src.ino, 'f', ro.ino, 'f'))).toBe('EACCES');
    await fs.mkdir(root, src.ino, 'rootdir', 0o755);
    expect(await errnoOf(fs.rename(u, src.ino, 'rootdir', rw.ino, 'x'))).toBe('EACCES');
    await fs.rename(u, src.ino, 'rootdir', src.ino, 'renamed-in-place');
    await fs.rename(u, src.ino, 'f', rw.ino, 'f');
  });
});

describe('concurrent renames', () => {
  it('never create a cycle or lose a directory', async () => {
    // a/b and c/d; rename a into c/d and c into a/b at the same time: one must fail with EINVAL.
    for (let round = 0; round < 20; round++) {
      const a = await fs.mkdir(root, 1, `a${round}`, 0o755);
      const b = await fs.mkdir(root, a.ino, 'b', 0o755);
      const c = await fs.mkdir(root, 1, `c${round}`, 0o755);
      const d = await fs.mkdir(root, c.ino, 'd', 0o755);
      const results = await Promise.allSettled([
        fs.rename(root, 1, `a${round}`, d.ino, 'a'),
        fs.rename(root, 1, `c${round}`, b.ino, 'c'),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled').length).toBe(1);
      const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect((failed.reason as { errno: string }).errno).toBe('EINVAL');
      // Every directory still reaches the root through "..".
      for (const ino of [a.ino, b.ino, c.ino, d.ino]) {
        let cur = ino;
        for (let i = 0; i < 10 && cur !== 1; i++) cur = (await fs.lookup(root, cur, '..')).ino;
        expect(cur).toBe(1);
      }
    }
  });

  it('many concurrent renames of files keep every file exactly once', async () => {
    const dirs = [];
    for (let i = 0; i < 4; i++) dirs.push((await fs.mkdir(root, 1, `d${i}`, 0o755)).ino);
    for (let i = 0; i < 20; i++) await fs.create(root, dirs[0]!, `f${i}`, 0o644);
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      for (let k = 0; k < 3; k++) ops.push(fs.rename(root, dirs[k]!, `f${i}`, dirs[k + 1]!, `f${i}`).catch(() => undefined));
    }
    await Promise.all(ops);
    const all: string[] = [];
    for (const d of dirs) all.push(...(await names(d)));
    expect(all.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `f${i}`).sort());
  });
});
