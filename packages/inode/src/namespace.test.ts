// Namespace semantics as the Linux man pages describe them: creat/open(O_CREAT),
// mkdir(2), mknod(2), symlink(2), readlink(2), link(2), unlink(2), rmdir(2),
// path lookup (path_resolution(7)), with every errno case.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROOT_CRED as root, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, type Filesystem } from './index.js';
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

describe('format', () => {
  it('creates the root directory: inode 1, mode 0755, root:root, nlink 2, its own parent', async () => {
    const a = await fs.getattr(root, 1);
    expect(a).toMatchObject({ ino: 1, type: 'dir', mode: S_IFDIR | 0o755, uid: 0, gid: 0, nlink: 2 });
    expect((await fs.lookup(root, 1, '..')).ino).toBe(1);
    expect((await fs.lookup(root, 1, '.')).ino).toBe(1);
  });
});

describe('create / mkdir / mknod / symlink', () => {
  it('create makes a regular file owned by the caller with the mode minus umask', async () => {
    await fs.setattr(root, 1, { mode: 0o777 });
    const r = await fs.create(user(1000, 100), 1, 'f', 0o666, { umask: 0o022 });
    expect(r.created).toBe(true);
    expect(r.attr).toMatchObject({ type: 'file', mode: S_IFREG | 0o644, uid: 1000, gid: 100, nlink: 1, size: 0 });
    expect((await fs.lookup(root, 1, 'f')).ino).toBe(r.attr.ino);
  });

  it('inode numbers come from a counter and are never reused', async () => {
    const a = (await fs.create(root, 1, 'a', 0o644)).attr.ino;
    await fs.unlink(root, 1, 'a');
    const b = (await fs.create(root, 1, 'a', 0o644)).attr.ino;
    expect(b).toBeGreaterThan(a);
  });

  it('exclusive create of an existing name is EEXIST; non-exclusive returns the file; a directory is EISDIR', async () => {
    const f = await fs.create(root, 1, 'f', 0o644);
    expect(await errnoOf(fs.create(root, 1, 'f', 0o644))).toBe('EEXIST');
    const again = await fs.create(root, 1, 'f', 0o600, { exclusive: false });
    expect(again.created).toBe(false);
    expect(again.attr.ino).toBe(f.attr.ino);
    expect(again.attr.mode & 0o777).toBe(0o644);
    await fs.mkdir(root, 1, 'd', 0o755);
    expect(await errnoOf(fs.create(root, 1, 'd', 0o644, { exclusive: false }))).toBe('EISDIR');
    expect(await errnoOf(fs.create(root, 1, 'd', 0o644))).toBe('EEXIST');
  });

  it('mkdir: EEXIST for any existing name and for "." and ".."; the parent gains a link', async () => {
    await fs.mkdir(root, 1, 'd', 0o755);
    await fs.create(root, 1, 'f', 0o644);
    expect(await errnoOf(fs.mkdir(root, 1, 'd', 0o755))).toBe('EEXIST');
    expect(await errnoOf(fs.mkdir(root, 1, 'f', 0o755))).toBe('EEXIST');
    expect(await errnoOf(fs.mkdir(root, 1, '.', 0o755))).toBe('EEXIST');
    expect(await errnoOf(fs.mkdir(root, 1, '..', 0o755))).toBe('EEXIST');
    expect((await fs.getattr(root, 1)).nlink).toBe(3);
    const d = await fs.lookup(root, 1, 'd');
    expect(d.nlink).toBe(2);
    expect((await fs.lookup(root, d.ino, '..')).ino).toBe(1);
  });

  it('ENOENT for a missing parent entry, ENOTDIR when the parent is a file, ESTALE for a gone inode', async () => {
    const f = await fs.create(root, 1, 'f', 0o644);
    expect(await errnoOf(fs.lookup(root, 1, 'nope'))).toBe('ENOENT');
    expect(await errnoOf(fs.mkdir(root, f.attr.ino, 'x', 0o755))).toBe('ENOTDIR');
    expect(await errnoOf(fs.create(root, f.attr.ino, 'x', 0o644))).toBe('ENOTDIR');
    expect(await errnoOf(fs.lookup(root, f.attr.ino, 'x'))).toBe('ENOTDIR');
    expect(await errnoOf(fs.getattr(root, 9999))).toBe('ESTALE');
    expect(await errnoOf(fs.mkdir(root, 9999, 'x', 0o755))).toBe('ESTALE');
  });

  it('names: > 255 bytes is ENAMETOOLONG (255 is fine, also multibyte), "/" or NUL is EINVAL, empty is ENOENT', async () => {
    await fs.create(root, 1, 'x'.repeat(255), 0o644);
    await fs.create(root, 1, 'é'.repeat(127), 0o644); // 254 bytes
    expect(await errnoOf(fs.create(root, 1, 'x'.repeat(256), 0o644))).toBe('ENAMETOOLONG');
    expect(await errnoOf(fs.create(root, 1, 'é'.repeat(128), 0o644))).toBe('ENAMETOOLONG');
    expect(await errnoOf(fs.mkdir(root, 1, 'y'.repeat(300), 0o755))).toBe('ENAMETOOLONG');
    expect(await errnoOf(fs.lookup(root, 1, 'z'.repeat(256)))).toBe('ENAMETOOLONG');
    expect(await errnoOf(fs.create(root, 1, 'a/b', 0o644))).toBe('EINVAL');
    expect(await errnoOf(fs.create(root, 1, 'a\0b', 0o644))).toBe('EINVAL');
    expect(await errnoOf(fs.create(root, 1, '', 0o644))).toBe('ENOENT');
  });

  it('creating in a removed directory is ENOENT', async () => {
    const d = await fs.mkdir(root, 1, 'd', 0o755);
    const h = await fs.open(root, d.ino, { read: true });
    await fs.rmdir(root, 1, 'd');
    expect(await errnoOf(fs.create(root, d.ino, 'x', 0o644))).toBe('ENOENT');
    await fs.release(h.fh);
  });

  it('mknod: fifo and socket for anyone, devices root only (EPERM), S_IFDIR EPERM, other types EINVAL, type 0 a file', async () => {
    await fs.setattr(root, 1, { mode: 0o777 });
    const u = user(1000);
    expect((await fs.mknod(u, 1, 'p', S_IFIFO | 0o644)).type).toBe('fifo');
    expect((await fs.mknod(u, 1, 's', S_IFSOCK | 0o644)).type).toBe('socket');
    expect(await errnoOf(fs.mknod(u, 1, 'c', S_IFCHR | 0o644, 0x0501))).toBe('EPERM');
    const c = await fs.mknod(root, 1, 'c', S_IFCHR | 0o644, 0x0501);
    expect(c).toMatchObject({ type: 'char', rdev: 0x0501 });
    expect((await fs.mknod(root, 1, 'b', 0o060000 | 0o600, 7)).type).toBe('block');
    expect(await errnoOf(fs.mknod(root, 1, 'dd', S_IFDIR | 0o755))).toBe('EPERM');
    expect(await errnoOf(fs.mknod(root, 1, 'll', S_IFLNK | 0o777))).toBe('EINVAL');
    expect((await fs.mknod(u, 1, 'r', 0o644)).type).toBe('file');
    expect(await errnoOf(fs.mknod(root, 1, 'p', S_IFIFO | 0o644))).toBe('EEXIST');
  });

  it('symlink/readlink: the target is kept verbatim, size is its length; readlink of a non-link is EINVAL', async () => {
    const s = await fs.symlink(root, 1, 'l', '../some/where');
    expect(s).toMatchObject({ type: 'symlink', mode: S_IFLNK | 0o777, size: 13 });
    expect(await fs.readlink(root, s.ino)).toBe('../some/where');
    expect(await errnoOf(fs.readlink(root, 1))).toBe('EINVAL');
    expect(await errnoOf(fs.symlink(root, 1, 'l', 'x'))).toBe('EEXIST');
    expect(await errnoOf(fs.symlink(root, 1, 'e', ''))).toBe('ENOENT');
    expect(await errnoOf(fs.symlink(root, 1, 'big', 'a'.repeat(4096)))).toBe('ENAMETOOLONG');
  });
});

describe('link / unlink / rmdir', () => {
  it('link adds a name and a link; unlink removes them; the data stays until the last link goes', async () => {
    const f = await fs.create(root, 1, 'f', 0o644);
    await fs.write(root, f.attr.ino, 0, Buffer.from('data'));
    const l = await fs.link(root, f.attr.ino, 1, 'g');
    expect(l.nlink).toBe(2);
    await fs.unlink(root, 1, 'f');
    expect((await fs.getattr(root, f.attr.ino)).nlink).toBe(1);
    expect((await fs.read(root, f.attr.ino, 0, 10)).toString()).toBe('data');
    await fs.unlink(root, 1, 'g');
    expect(await errnoOf(fs.getattr(root, f.attr.ino))).toBe('ESTALE');
    expect(await errnoOf(fs.lookup(root, 1, 'g'))).toBe('ENOENT');
  });

  it('link: EEXIST, EPERM for a directory, ENOENT for a missing source name, ENOTDIR for a file as directory', async () => {
    const f = await fs.create(root, 1, 'f', 0o644);
    const d = await fs.mkdir(root, 1, 'd', 0o755);
    expect(await errnoOf(fs.link(root, f.attr.ino, 1, 'f'))).toBe('EEXIST');
    expect(await errnoOf(fs.link(root, f.attr.ino, 1, '.'))).toBe('EEXIST');
    expect(await errnoOf(fs.link(root, d.ino, 1, 'd2'))).toBe('EPERM');
    expect(await errnoOf(fs.link(root, f.attr.ino, f.attr.ino, 'x'))).toBe('ENOTDIR');
    expect(await errnoOf(fs.link(root, 4242, 1, 'x'))).toBe('ESTALE');
  });

  it('protected_hardlinks: a non-owner may link only a file it can read and write', async () => {
    await fs.setattr(root, 1, { mode: 0o777 });
    const f = await fs.create(root, 1, 'f', 0o644);
    expect(await errnoOf(fs.link(user(1000), f.attr.ino, 1, 'mine'))).toBe('EPERM');
    await fs.setattr(root, f.attr.ino, { mode: 0o666 });
    await fs.link(user(1000), f.attr.ino, 1, 'mine');
  });

  it('unlink: ENOENT, EISDIR for a directory and for "." / "..", ENOTDIR when the parent is a file', async () => {
    const f = await fs.create(root, 1, 'f', 0o644);
    await fs.mkdir(root, 1, 'd', 0o755);
    expect(await errnoOf(fs.unlink(root, 1, 'nope'))).toBe('ENOENT');
    expect(await errnoOf(fs.unlink(root, 1, 'd'))).toBe('EISDIR');
    expect(await errnoOf(fs.unlink(root, 1, '.'))).toBe('EISDIR');
    expect(await errnoOf(fs.unlink(root, f.attr.ino, 'x'))).toBe('ENOTDIR');
  });

  it('rmdir: ENOTEMPTY, ENOTDIR for a file, EINVAL for ".", ENOTEMPTY for "..", ENOENT; the parent loses a link', async () => {
    const d = await fs.mkdir(root, 1, 'd', 0o755);
    await fs.create(root, 1, 'f', 0o644);
    await fs.create(root, d.ino, 'inner', 0o644);
    expect(await errnoOf(fs.rmdir(root, 1, 'd'))).toBe('ENOTEMPTY');
    expect(await errnoOf(fs.rmdir(root, 1, 'f'))).toBe('ENOTDIR');
    expect(await errnoOf(fs.rmdir(root, d.ino, '.'))).toBe('EINVAL');
    expect(await errnoOf(fs.rmdir(root, d.ino, '..'))).toBe('ENOTEMPTY');
    expect(await errnoOf(fs.rmdir(root, 1, 'nope'))).toBe('ENOENT');
    await fs.unlink(root, d.ino, 'inner');
    expect((await fs.getattr(root, 1)).nlink).toBe(3);
    await fs.rmdir(root, 1, 'd');
    expect((await fs.getattr(root, 1)).nlink).toBe(2);
    expect(await errnoOf(fs.getattr(root, d.ino))).toBe('ESTALE');
  });

  it('link/unlink/rename update ctime of the inode and mtime/ctime of the parents', async () => {
    let clock = 1_000_000_000n;
    await t.fs.unmount();
    t.mountOptions = { clock: () => clock };
    fs = t.fs = await (async () => {
      const { mountFilesystem } = await import('./index.js');
      return mountFilesystem({ store: t.store, volume: 'vol', logDir: t.logDir, fsync: false, clock: () => clock, journal: { compactIntervalMs: 0 }, segmentReclaimIntervalMs: 0 });
    })();
    const f = await fs.create(root, 1, 'f', 0o644);
    const d = await fs.mkdir(root, 1, 'd', 0o755);
    clock += 1000n;
    await fs.link(root, f.attr.ino, d.ino, 'g');
    expect((await fs.getattr(root, f.attr.ino)).ctimeNs).toBe(clock);
    expect((await fs.getattr(root, d.ino)).mtimeNs).toBe(clock);
    expect((await fs.getattr(root, 1)).mtimeNs).toBe(clock - 1000n);
    clock += 1000n;
    await fs.rename(root, d.ino, 'g', 1, 'h');
    expect((await fs.getattr(root, f.attr.ino)).ctimeNs).toBe(clock);
    expect((await fs.getattr(root, d.ino)).mtimeNs).toBe(clock);
    expect((await fs.getattr(root, 1)).mtimeNs).toBe(clock);
    clock += 1000n;
    await fs.unlink(root, 1, 'h');
    expect((await fs.getattr(root, f.attr.ino)).ctimeNs).toBe(clock);
    expect((await fs.getattr(root, 1)).ctimeNs).toBe(clock);
  });
});

describe('lookupPath', () => {
  it('walks components, ".", "..", absolute and relative symlinks; followLast decides the last one', async () => {
    const a = await fs.mkdir(root, 1, 'a', 0o755);
    const b = await fs.mkdir(root, a.ino, 'b', 0o755);
    const f = await fs.create(root, b.ino, 'f', 0o644);
    await fs.symlink(root, 1, 'abs', '/a/b');
    await fs.symlink(root, a.ino, 'rel', 'b/f');
    expect((await fs.lookupPath(root, '/a/b/f')).ino).toBe(f.attr.ino);
    expect((await fs.lookupPath(root, 'a/./b/../b//f')).ino).toBe(f.attr.ino);
    expect((await fs.lookupPath(root, '/../../a')).ino).toBe(a.ino);
    expect((await fs.lookupPath(root, '/abs/f')).ino).toBe(f.attr.ino);
    expect((await fs.lookupPath(root, '/a/rel')).ino).toBe(f.attr.ino);
    const link = await fs.lookupPath(root, '/a/rel', { followLast: false });
    expect(link.type).toBe('symlink');
    expect((await fs.lookupPath(root, 'f', { cwd: b.ino })).ino).toBe(f.attr.ino);
    expect((await fs.lookupPath(root, '/abs/', { followLast: false })).ino).toBe(b.ino);
  });

  it('errors: ENOENT, ENOTDIR (file in the middle, trailing slash on a file), ELOOP past 40 links, ENAMETOOLONG', async () => {
    await fs.create(root, 1, 'f', 0o644);
    expect(await errnoOf(fs.lookupPath(root, '/nope/x'))).toBe('ENOENT');
    expect(await errnoOf(fs.lookupPath(root, '/f/x'))).toBe('ENOTDIR');
    expect(await errnoOf(fs.lookupPath(root, '/f/'))).toBe('ENOTDIR');
    await fs.symlink(root, 1, 'loop', 'loop');
    expect(await errnoOf(fs.lookupPath(root, '/loop'))).toBe('ELOOP');
    expect((await fs.lookupPath(root, '/loop', { followLast: false })).type).toBe('symlink');
    // A chain of exactly 40 links resolves; 41 is ELOOP.
    for (let i = 0; i < 41; i++) await fs.symlink(root, 1, `c${i}`, i === 40 ? 'f' : `c${i + 1}`);
    expect((await fs.lookupPath(root, '/c1')).type).toBe('file');
    expect(await errnoOf(fs.lookupPath(root, '/c0'))).toBe('ELOOP');
    expect(await errnoOf(fs.lookupPath(root, `/${'n'.repeat(256)}`))).toBe('ENAMETOOLONG');
    expect(await errnoOf(fs.lookupPath(root, `/${'a/'.repeat(2100)}`))).toBe('ENAMETOOLONG');
  });
});

describe('resolveHandle', () => {
  it('finds a live inode, ESTALE once it is gone, but not while it is open', async () => {
    const f = await fs.create(root, 1, 'f', 0o644);
    expect((await fs.resolveHandle(f.attr.ino)).ino).toBe(f.attr.ino);
    const h = await fs.open(root, f.attr.ino, { read: true });
    await fs.unlink(root, 1, 'f');
    expect((await fs.resolveHandle(f.attr.ino)).nlink).toBe(0);
    await fs.release(h.fh);
    expect(await errnoOf(fs.resolveHandle(f.attr.ino))).toBe('ESTALE');
    expect(await errnoOf(fs.resolveHandle(123456))).toBe('ESTALE');
  });
});

describe('readdir', () => {
  it('lists ".", ".." then entries in creation order with increasing cookies; readdirplus adds attrs', async () => {
    const d = await fs.mkdir(root, 1, 'd', 0o755);
    for (const n of ['z', 'a', 'm']) await fs.create(root, d.ino, n, 0o644);
    const r = await fs.readdir(root, d.ino);
    expect(r.eof).toBe(true);
    expect(r.entries.map((e) => [e.name, e.type])).toEqual([['.', 'dir'], ['..', 'dir'], ['z', 'file'], ['a', 'file'], ['m', 'file']]);
    expect(r.entries[1]!.ino).toBe(1);
    const cookies = r.entries.map((e) => e.cookie);
    expect([...cookies].sort((x, y) => x - y)).toEqual(cookies);
    const p = await fs.readdirplus(root, d.ino);
    expect(p.entries[2]!.attr).toMatchObject({ type: 'file', mode: S_IFREG | 0o644 });
    expect(p.entries[0]!.attr!.ino).toBe(d.ino);
  });

  it('pages by cookie without skipping or repeating; a rename within the directory keeps the cookie; new entries come last', async () => {
    const d = await fs.mkdir(root, 1, 'd', 0o755);
    for (let i = 0; i < 25; i++) await fs.create(root, d.ino, `f${i}`, 0o644);
    const seen: string[] = [];
    let cookie = 0;
    for (;;) {
      const page = await fs.readdir(root, d.ino, { cookie, limit: 4 });
      expect(page.entries.length).toBeLessThanOrEqual(4);
      seen.push(...page.entries.map((e) => e.name));
      if (page.entries.length > 0) cookie = page.entries[page.entries.length - 1]!.cookie;
      if (page.eof) break;
      if (seen.length === 8) {
        // Changes in the middle: a rename of an entry not yet listed keeps its place; a new entry comes last.
        await fs.rename(root, d.ino, 'f20', d.ino, 'renamed');
        await fs.create(root, d.ino, 'late', 0o644);
      }
    }
    expect(seen.slice(0, 2)).toEqual(['.', '..']);
    const names = seen.slice(2);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual([...Array.from({ length: 20 }, (_, i) => `f${i}`), 'renamed', 'f21', 'f22', 'f23', 'f24', 'late']);
  });

  it('ENOTDIR for a file; EACCES without read permission', async () => {
    const f = await fs.create(root, 1, 'f', 0o644);
    expect(await errnoOf(fs.readdir(root, f.attr.ino))).toBe('ENOTDIR');
    const d = await fs.mkdir(root, 1, 'd', 0o311);
    expect(await errnoOf(fs.readdir(user(1000), d.ino))).toBe('EACCES');
  });

  it('type bits of entries match the inodes', async () => {
    await fs.mkdir(root, 1, 'd', 0o755);
    await fs.symlink(root, 1, 'l', 'x');
    await fs.mknod(root, 1, 'p', S_IFIFO | 0o644);
    const r = await fs.readdirplus(root, 1);
    for (const e of r.entries) expect(e.attr!.mode & S_IFMT).toBe(({ dir: S_IFDIR, symlink: S_IFLNK, fifo: S_IFIFO } as Record<string, number>)[e.type]);
  });
});
