// Permissions and attributes as path_resolution(7), chmod(2), chown(2),
// utimensat(2), truncate(2), access(2) and inode(7) describe them: owner /
// group / other bits, root's bypass, search permission on every directory,
// sticky directories, setgid directories, setuid/setgid clearing.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAY_EXEC, MAY_READ, MAY_WRITE, ROOT_CRED as root, S_IFDIR, S_IFREG, S_ISGID, type Filesystem } from './index.js';
import { errnoOf, makeFs, user, type TestFs } from './testing/fixture.js';

let t: TestFs;
let fs: Filesystem;
const alice = user(1001, 100);
const bob = user(1002, 200);
const carol = user(1003, 300, [100]); // in alice's group
beforeEach(async () => {
  t = await makeFs();
  fs = t.fs;
  await fs.setattr(root, 1, { mode: 0o777 });
});
afterEach(async () => {
  await t.cleanup();
});

describe('access checks', () => {
  it('owner, group (primary and supplementary) and other bits; root bypasses read/write', async () => {
    const f = (await fs.create(alice, 1, 'f', 0o640)).attr.ino;
    await fs.write(alice, f, 0, Buffer.from('secret'));
    expect((await fs.read(carol, f, 0, 10)).toString()).toBe('secret');
    expect(await errnoOf(fs.write(carol, f, 0, Buffer.from('x')))).toBe('EACCES');
    expect(await errnoOf(fs.read(bob, f, 0, 10))).toBe('EACCES');
    expect((await fs.read(user(1004, 100), f, 0, 10)).toString()).toBe('secret');
    await fs.setattr(alice, f, { mode: 0o000 });
    expect(await errnoOf(fs.read(alice, f, 0, 10))).toBe('EACCES');
    expect((await fs.read(root, f, 0, 10)).toString()).toBe('secret');
    await fs.write(root, f, 0, Buffer.from('S'));
    // The owner's bits apply to the owner even when "other" would allow more.
    await fs.setattr(alice, f, { mode: 0o007 });
    expect(await errnoOf(fs.read(alice, f, 0, 10))).toBe('EACCES');
    expect((await fs.read(bob, f, 0, 10)).toString()).toBe('Secret');
  });

  it('search permission on every directory of a path, for lookups and lookupPath', async () => {
    const d = await fs.mkdir(alice, 1, 'd', 0o700);
    const inner = await fs.mkdir(alice, d.ino, 'inner', 0o777);
    await fs.create(alice, inner.ino, 'f', 0o666);
    expect(await errnoOf(fs.lookup(bob, d.ino, 'inner'))).toBe('EACCES');
    expect(await errnoOf(fs.lookupPath(bob, '/d/inner/f'))).toBe('EACCES');
    expect(await errnoOf(fs.create(bob, d.ino, 'x', 0o644))).toBe('EACCES');
    // Reaching the inner directory by handle still works (it is searchable).
    expect((await fs.lookup(bob, inner.ino, 'f')).type).toBe('file');
    expect((await fs.lookupPath(root, '/d/inner/f')).type).toBe('file');
    // A directory with x but no r: lookups work, listing does not.
    await fs.setattr(alice, d.ino, { mode: 0o711 });
    expect((await fs.lookupPath(bob, '/d/inner/f')).type).toBe('file');
    expect(await errnoOf(fs.readdir(bob, d.ino))).toBe('EACCES');
  });

  it('root may execute only what has an execute bit; directories are always searchable for root', async () => {
    const f = (await fs.create(alice, 1, 'f', 0o644)).attr.ino;
    expect(await errnoOf(fs.access(root, f, MAY_EXEC))).toBe('EACCES');
    await fs.access(root, f, MAY_READ | MAY_WRITE);
    await fs.setattr(alice, f, { mode: 0o001 });
    await fs.access(root, f, MAY_EXEC);
    const d = await fs.mkdir(alice, 1, 'd', 0o000);
    await fs.access(root, d.ino, MAY_EXEC | MAY_READ);
    expect(await errnoOf(fs.access(bob, f, MAY_READ))).toBe('EACCES');
    await fs.access(bob, f, MAY_EXEC);
    await fs.access(bob, f, 0);
  });

  it('creating and removing needs write and search permission on the directory', async () => {
    const d = await fs.mkdir(alice, 1, 'd', 0o755);
    await fs.create(alice, d.ino, 'f', 0o666);
    expect(await errnoOf(fs.create(bob, d.ino, 'g', 0o644))).toBe('EACCES');
    expect(await errnoOf(fs.mkdir(bob, d.ino, 'g', 0o755))).toBe('EACCES');
    expect(await errnoOf(fs.symlink(bob, d.ino, 'g', 'x'))).toBe('EACCES');
    expect(await errnoOf(fs.unlink(bob, d.ino, 'f'))).toBe('EACCES');
    // EEXIST is reported before EACCES (the name exists).
    expect(await errnoOf(fs.mkdir(bob, d.ino, 'f', 0o755))).toBe('EEXIST');
  });

  it('a new file opens for writing even when its mode denies it (O_CREAT); an existing one does not', async () => {
    const r = await fs.create(alice, 1, 'ro', 0o444, { open: { write: true } });
    expect(r.fh).toBeDefined();
    await fs.write(alice, r.attr.ino, 0, Buffer.from('ok'), r.fh);
    await fs.release(r.fh!);
    expect(await errnoOf(fs.create(alice, 1, 'ro', 0o444, { exclusive: false, open: { write: true } }))).toBe('EACCES');
    expect(await errnoOf(fs.open(alice, r.attr.ino, { write: true }))).toBe('EACCES');
    expect(await errnoOf(fs.write(alice, r.attr.ino, 0, Buffer.from('x')))).toBe('EACCES');
  });

  it('a handle keeps the access it was opened with after a chmod', async () => {
    const f = (await fs.create(alice, 1, 'f', 0o644)).attr.ino;
    const h = await fs.open(alice, f, { read: true, write: true });
    await fs.setattr(alice, f, { mode: 0o000 });
    await fs.write(alice, f, 0, Buffer.from('still'), h.fh);
    expect((await fs.read(alice, f, 0, 5, h.fh)).toString()).toBe('still');
    expect(await errnoOf(fs.read(alice, f, 0, 5))).toBe('EACCES');
    await fs.release(h.fh);
    expect(await errnoOf(fs.release(h.fh))).toBe('EBADF');
  });
});

describe('sticky and setgid directories', () => {
  it('sticky: others cannot remove or rename entries; the directory owner can', async () => {
    const tmp = await fs.mkdir(alice, 1, 'tmp', 0o1777);
    await fs.create(bob, tmp.ino, 'b', 0o666);
    await fs.mkdir(bob, tmp.ino, 'bd', 0o777);
    expect(await errnoOf(fs.unlink(carol, tmp.ino, 'b'))).toBe('EPERM');
    expect(await errnoOf(fs.rmdir(carol, tmp.ino, 'bd'))).toBe('EPERM');
    await fs.unlink(alice, tmp.ino, 'b');
    await fs.rmdir(bob, tmp.ino, 'bd');
  });

  it('setgid: new entries take the directory group, new subdirectories inherit setgid', async () => {
    const d = await fs.mkdir(alice, 1, 'shared', 0o2777);
    expect((await fs.getattr(root, d.ino)).mode).toBe(S_IFDIR | 0o2777);
    const f = await fs.create(bob, d.ino, 'f', 0o644);
    expect(f.attr.gid).toBe(100);
    const sub = await fs.mkdir(bob, d.ino, 'sub', 0o755);
    expect(sub.gid).toBe(100);
    expect(sub.mode).toBe(S_IFDIR | S_ISGID | 0o755);
    const deeper = await fs.create(bob, sub.ino, 'g', 0o644);
    expect(deeper.attr.gid).toBe(100);
    // A group-executable setgid file made by a non-member loses setgid.
    const x = await fs.create(bob, d.ino, 'x', 0o2755);
    expect(x.attr.mode).toBe(S_IFREG | 0o755);
  });
});

describe('chmod / chown', () => {
  it('chmod by the owner or root only (EPERM); setgid dropped for a caller outside the group', async () => {
    const f = (await fs.create(alice, 1, 'f', 0o644)).attr.ino;
    expect(await errnoOf(fs.setattr(bob, f, { mode: 0o777 }))).toBe('EPERM');
    expect((await fs.setattr(alice, f, { mode: 0o4755 })).mode).toBe(S_IFREG | 0o4755);
    await fs.setattr(root, f, { gid: 300 });
    expect((await fs.setattr(alice, f, { mode: 0o2755 })).mode).toBe(S_IFREG | 0o755);
    expect((await fs.setattr(root, f, { mode: 0o2755 })).mode).toBe(S_IFREG | 0o2755);
    // The type bits never change.
    expect((await fs.setattr(root, f, { mode: S_IFDIR | 0o700 })).mode).toBe(S_IFREG | 0o700);
  });

  it('chown: only root changes the owner; the owner may change the group to one it is in', async () => {
    const f = (await fs.create(alice, 1, 'f', 0o644)).attr.ino;
    expect(await errnoOf(fs.setattr(alice, f, { uid: 1002 }))).toBe('EPERM');
    expect(await errnoOf(fs.setattr(bob, f, { gid: 200 }))).toBe('EPERM');
    expect(await errnoOf(fs.setattr(alice, f, { gid: 200 }))).toBe('EPERM');
    await fs.setattr(user(1001, 100, [200]), f, { gid: 200 });
    await fs.setattr(alice, f, { uid: 1001 });
    const a = await fs.setattr(root, f, { uid: 1002, gid: 300 });
    expect([a.uid, a.gid]).toEqual([1002, 300]);
  });

  it('chown clears setuid, and setgid when group-executable (also by root); not on directories', async () => {
    const f = (await fs.create(root, 1, 'f', 0o6755)).attr.ino;
    expect((await fs.setattr(root, f, { uid: 5 })).mode).toBe(S_IFREG | 0o755);
    await fs.setattr(root, f, { mode: 0o6745 });
    expect((await fs.setattr(root, f, { gid: 5 })).mode).toBe(S_IFREG | 0o2745);
    const d = await fs.mkdir(root, 1, 'd', 0o2755);
    expect((await fs.setattr(root, d.ino, { uid: 5 })).mode).toBe(S_IFDIR | 0o2755);
  });

  it('write and truncate by a non-root caller clear setuid/setgid; by root they stay', async () => {
    const f = (await fs.create(alice, 1, 'f', 0o6777)).attr.ino;
    await fs.write(root, f, 0, Buffer.from('x'));
    expect((await fs.getattr(root, f)).mode).toBe(S_IFREG | 0o6777);
    await fs.write(alice, f, 0, Buffer.from('y'));
    expect((await fs.getattr(root, f)).mode).toBe(S_IFREG | 0o777);
    await fs.setattr(alice, f, { mode: 0o6777 });
    await fs.setattr(bob, f, { size: 0 });
    expect((await fs.getattr(root, f)).mode).toBe(S_IFREG | 0o777);
  });
});

describe('utimes', () => {
  it('explicit times: owner or root (EPERM); "now": also anyone who may write (EACCES otherwise); omitted fields stay', async () => {
    const f = (await fs.create(alice, 1, 'f', 0o646)).attr.ino;
    const before = await fs.getattr(root, f);
    expect(await errnoOf(fs.setattr(bob, f, { mtime: 5n }))).toBe('EPERM');
    expect(await errnoOf(fs.setattr(carol, f, { atime: 'now', mtime: 'now' }))).toBe('EACCES');
    await fs.setattr(bob, f, { atime: 'now', mtime: 'now' });
    expect(await errnoOf(fs.setattr(bob, f, { mtime: 'now' }))).toBe('EPERM');
    const a = await fs.setattr(alice, f, { mtime: 1_000_000_000_123n });
    expect(a.mtimeNs).toBe(1_000_000_000_123n);
    expect(a.atimeNs).toBeGreaterThanOrEqual(before.atimeNs);
    expect(a.ctimeNs).toBeGreaterThanOrEqual(before.ctimeNs);
    const b = await fs.setattr(alice, f, { atime: 7n });
    expect(b.atimeNs).toBe(7n);
    expect(b.mtimeNs).toBe(1_000_000_000_123n);
  });

  it('an explicit mtime after a pending write is not overwritten when the write commits', async () => {
    const f = (await fs.create(alice, 1, 'f', 0o644)).attr.ino;
    await fs.write(alice, f, 0, Buffer.from('data'));
    await fs.setattr(alice, f, { mtime: 42n });
    await fs.fsync(f);
    const a = await fs.getattr(root, f);
    expect(a.mtimeNs).toBe(42n);
    expect(a.size).toBe(4);
  });
});

describe('truncate checks', () => {
  it('EISDIR for a directory, EINVAL for a special file or a negative size, EACCES without write, EFBIG past the limit', async () => {
    const d = await fs.mkdir(alice, 1, 'd', 0o755);
    const p = await fs.mknod(alice, 1, 'p', 0o010644);
    const f = (await fs.create(alice, 1, 'f', 0o644)).attr.ino;
    expect(await errnoOf(fs.setattr(alice, d.ino, { size: 0 }))).toBe('EISDIR');
    expect(await errnoOf(fs.setattr(alice, p.ino, { size: 0 }))).toBe('EINVAL');
    expect(await errnoOf(fs.setattr(alice, f, { size: -1 }))).toBe('EINVAL');
    expect(await errnoOf(fs.setattr(bob, f, { size: 0 }))).toBe('EACCES');
    expect(await errnoOf(fs.setattr(alice, f, { size: 2 ** 51 }))).toBe('EFBIG');
    // A refused part refuses the whole setattr: nothing changed.
    expect(await errnoOf(fs.setattr(bob, f, { size: 0, mode: 0o777 }))).toBe('EACCES');
    expect((await fs.getattr(root, f)).mode).toBe(S_IFREG | 0o644);
  });
});
