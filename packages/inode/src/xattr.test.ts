// Extended attributes as setxattr(2), getxattr(2), listxattr(2),
// removexattr(2) and xattr(7) describe them.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROOT_CRED as root, type Filesystem } from './index.js';
import { errnoOf, makeFs, user, type TestFs } from './testing/fixture.js';

let t: TestFs;
let fs: Filesystem;
let f: number;
const alice = user(1001);
const bob = user(1002);
beforeEach(async () => {
  t = await makeFs();
  fs = t.fs;
  await fs.setattr(root, 1, { mode: 0o777 });
  f = (await fs.create(alice, 1, 'f', 0o644)).attr.ino;
});
afterEach(async () => {
  await t.cleanup();
});

describe('xattrs', () => {
  it('set, get, list, remove; values are bytes; ctime moves', async () => {
    const c0 = (await fs.getattr(root, f)).ctimeNs;
    await fs.setxattr(alice, f, 'user.a', Buffer.from([0, 1, 2]));
    await fs.setxattr(alice, f, 'user.b', Buffer.alloc(0));
    expect([...(await fs.getxattr(alice, f, 'user.a'))]).toEqual([0, 1, 2]);
    expect((await fs.getxattr(bob, f, 'user.b')).length).toBe(0);
    expect((await fs.listxattr(bob, f)).sort()).toEqual(['user.a', 'user.b']);
    expect((await fs.getattr(root, f)).ctimeNs).toBeGreaterThan(c0);
    await fs.removexattr(alice, f, 'user.a');
    expect(await errnoOf(fs.getxattr(alice, f, 'user.a'))).toBe('ENODATA');
    expect(await errnoOf(fs.removexattr(alice, f, 'user.a'))).toBe('ENODATA');
    expect(await fs.listxattr(alice, f)).toEqual(['user.b']);
  });

  it('XATTR_CREATE: EEXIST when present; XATTR_REPLACE: ENODATA when absent', async () => {
    expect(await errnoOf(fs.setxattr(alice, f, 'user.x', Buffer.from('1'), { replace: true }))).toBe('ENODATA');
    await fs.setxattr(alice, f, 'user.x', Buffer.from('1'), { create: true });
    expect(await errnoOf(fs.setxattr(alice, f, 'user.x', Buffer.from('2'), { create: true }))).toBe('EEXIST');
    await fs.setxattr(alice, f, 'user.x', Buffer.from('3'), { replace: true });
    expect((await fs.getxattr(alice, f, 'user.x')).toString()).toBe('3');
  });

  it('limits: name 1..255 bytes (ERANGE), value up to 64 KiB (E2BIG); unknown namespaces EOPNOTSUPP', async () => {
    await fs.setxattr(alice, f, `user.${'n'.repeat(250)}`, Buffer.alloc(65536, 7));
    expect((await fs.getxattr(alice, f, `user.${'n'.repeat(250)}`)).length).toBe(65536);
    expect(await errnoOf(fs.setxattr(alice, f, `user.${'n'.repeat(251)}`, Buffer.from('x')))).toBe('ERANGE');
    expect(await errnoOf(fs.setxattr(alice, f, '', Buffer.from('x')))).toBe('ERANGE');
    expect(await errnoOf(fs.setxattr(alice, f, 'user.big', Buffer.alloc(65537)))).toBe('E2BIG');
    expect(await errnoOf(fs.setxattr(alice, f, 'nonsense', Buffer.from('x')))).toBe('EOPNOTSUPP');
    expect(await errnoOf(fs.setxattr(root, f, 'system.posix_acl_access', Buffer.from('x')))).toBe('EOPNOTSUPP');
    expect(await errnoOf(fs.getxattr(alice, f, 'weird.x'))).toBe('EOPNOTSUPP');
  });

  it('user.* needs read/write permission and is only for files and directories', async () => {
    expect(await errnoOf(fs.setxattr(bob, f, 'user.x', Buffer.from('1')))).toBe('EACCES');
    await fs.setxattr(alice, f, 'user.x', Buffer.from('1'));
    await fs.setattr(alice, f, { mode: 0o600 });
    expect(await errnoOf(fs.getxattr(bob, f, 'user.x'))).toBe('EACCES');
    const l = await fs.symlink(root, 1, 'l', 'f');
    expect(await errnoOf(fs.setxattr(root, l.ino, 'user.x', Buffer.from('1')))).toBe('EPERM');
    expect(await errnoOf(fs.getxattr(root, l.ino, 'user.x'))).toBe('ENODATA');
    const d = await fs.mkdir(alice, 1, 'sticky', 0o1777);
    expect(await errnoOf(fs.setxattr(bob, d.ino, 'user.x', Buffer.from('1')))).toBe('EPERM');
    await fs.setxattr(alice, d.ino, 'user.x', Buffer.from('1'));
  });

  it('trusted.* is root only: EPERM to set, invisible (ENODATA, not listed) to others', async () => {
    expect(await errnoOf(fs.setxattr(alice, f, 'trusted.t', Buffer.from('1')))).toBe('EPERM');
    await fs.setxattr(root, f, 'trusted.t', Buffer.from('1'));
    await fs.setxattr(root, f, 'security.s', Buffer.from('2'));
    expect(await errnoOf(fs.getxattr(alice, f, 'trusted.t'))).toBe('ENODATA');
    expect((await fs.getxattr(root, f, 'trusted.t')).toString()).toBe('1');
    expect((await fs.getxattr(alice, f, 'security.s')).toString()).toBe('2');
    expect(await errnoOf(fs.setxattr(alice, f, 'security.s', Buffer.from('3')))).toBe('EPERM');
    expect((await fs.listxattr(alice, f)).sort()).toEqual(['security.s']);
    expect((await fs.listxattr(root, f)).sort()).toEqual(['security.s', 'trusted.t']);
  });

  it('listxattr beyond 64 KiB of names is E2BIG; xattrs go with the inode', async () => {
    for (let i = 0; i < 300; i++) await fs.setxattr(root, f, `user.${String(i).padStart(3, '0')}${'x'.repeat(240)}`, Buffer.from('v'));
    expect(await errnoOf(fs.listxattr(root, f))).toBe('E2BIG');
    expect(await errnoOf(fs.getxattr(root, 4242, 'user.a'))).toBe('ESTALE');
    await fs.unlink(root, 1, 'f');
    const g = (await fs.create(root, 1, 'g', 0o644)).attr.ino;
    expect(await fs.listxattr(root, g)).toEqual([]);
  });
});
