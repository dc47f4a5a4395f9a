// The filesystem methods a caching frontend leans on, end to end over a real
// Filesystem on the memory store: namespace changes that answer the
// directory's new attributes when asked (withParentAttr), and releaseMany.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatFilesystem, mountFilesystem, type Filesystem } from '@cairn/inode';
import { createMemoryStore } from '@cairn/objstore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCairnServer } from './cairn-server.js';
import { CairnClient } from './client.js';
import type { Credentials } from './protocol.js';
import type { RpcServer } from './server.js';

const ROOT: Credentials = { uid: 0, gid: 0, groups: [] };
const SECRET = 'fs-methods-test-secret';

let fs: Filesystem;
let logDir: string;
let server: RpcServer;
let client: CairnClient;

beforeAll(async () => {
  const store = createMemoryStore();
  logDir = mkdtempSync(join(tmpdir(), 'cairn-rpc-methods-'));
  await formatFilesystem({ store, volume: 'methodsvol', logDir, fsync: false });
  fs = await mountFilesystem({ store, volume: 'methodsvol', logDir, fsync: false });
  server = createCairnServer({ volumes: [{ name: 'methodsvol', secret: SECRET, fs }] });
  const { port } = await server.start();
  client = await CairnClient.connect({ host: '127.0.0.1', port, volume: 'methodsvol', secret: SECRET, cred: ROOT });
});

afterAll(async () => {
  await client?.close();
  await server?.close();
  await fs?.unmount();
  if (logDir) rmSync(logDir, { recursive: true, force: true });
});

describe('withParentAttr', () => {
  it('create, mkdir, mknod, symlink and link answer the directory as it is after the change', async () => {
    const d = await client.mkdir({ parent: 1, name: 'wpa', mode: 0o755 });
    const before = await client.getattr({ ino: d.ino });

    const c = await client.create({ parent: d.ino, name: 'f', mode: 0o644, withParentAttr: true });
    expect(c.created).toBe(true);
    expect(c.parentAttr).toEqual(await client.getattr({ ino: d.ino }));
    expect(c.parentAttr!.change).toBeGreaterThan(before.change);

    const sub = await client.mkdir({ parent: d.ino, name: 'sub', mode: 0o755, withParentAttr: true });
    expect(sub).toMatchObject({ type: 'dir', mode: 0o040755 });
    expect(sub.parentAttr).toEqual(await client.getattr({ ino: d.ino }));
    expect(sub.parentAttr!.nlink).toBe(before.nlink + 1);

    const node = await client.mknod({ parent: d.ino, name: 'p', mode: 0o010644, withParentAttr: true });
    expect(node.type).toBe('fifo');
    expect(node.parentAttr).toEqual(await client.getattr({ ino: d.ino }));

    const sl = await client.symlink({ parent: sub.ino, name: 's', target: '../f', withParentAttr: true });
    expect(sl.type).toBe('symlink');
    expect(sl.parentAttr).toEqual(await client.getattr({ ino: sub.ino }));

    const ln = await client.link({ ino: c.attr.ino, newParent: sub.ino, newName: 'hard', withParentAttr: true });
    expect(ln.nlink).toBe(2);
    expect(ln.parentAttr).toEqual(await client.getattr({ ino: sub.ino }));
  });

  it('unlink, rmdir and rename answer nil without it, the directories with it', async () => {
    const d = await client.mkdir({ parent: 1, name: 'wpa2', mode: 0o755 });
    const other = await client.mkdir({ parent: 1, name: 'wpa2-other', mode: 0o755 });
    for (const n of ['a', 'b', 'c']) await client.create({ parent: d.ino, name: n, mode: 0o644 });
    await client.mkdir({ parent: d.ino, name: 'x', mode: 0o755 });
    await client.mkdir({ parent: d.ino, name: 'y', mode: 0o755 });

    expect(await client.unlink({ parent: d.ino, name: 'a' })).toBeNull();
    const u = await client.unlink({ parent: d.ino, name: 'b', withParentAttr: true });
    expect(u).toEqual({ parentAttr: await client.getattr({ ino: d.ino }) });

    expect(await client.rmdir({ parent: d.ino, name: 'x' })).toBeNull();
    const r = await client.rmdir({ parent: d.ino, name: 'y', withParentAttr: true });
    expect(r?.parentAttr).toEqual(await client.getattr({ ino: d.ino }));

    expect(await client.rename({ parent: d.ino, name: 'c', newParent: d.ino, newName: 'c2' })).toBeNull();
    const same = await client.rename({ parent: d.ino, name: 'c2', newParent: d.ino, newName: 'c3', withParentAttr: true });
    expect(same).toEqual({ parentAttr: await client.getattr({ ino: d.ino }) });
    const across = await client.rename({ parent: d.ino, name: 'c3', newParent: other.ino, newName: 'c4', withParentAttr: true });
    expect(across).toEqual({ parentAttr: await client.getattr({ ino: d.ino }), newParentAttr: await client.getattr({ ino: other.ino }) });
  });

  it('a failed change still fails with its errno', async () => {
    await expect(client.unlink({ parent: 1, name: 'no-such-name', withParentAttr: true })).rejects.toMatchObject({ errno: 'ENOENT' });
    await client.create({ parent: 1, name: 'dup', mode: 0o644 });
    await expect(client.create({ parent: 1, name: 'dup', mode: 0o644, withParentAttr: true })).rejects.toMatchObject({ errno: 'EEXIST' });
  });
});

describe('releaseMany', () => {
  it('releases every handle of the list and reports the ones it could not', async () => {
    const d = await client.mkdir({ parent: 1, name: 'rel', mode: 0o755 });
    const fhs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await client.create({ parent: d.ino, name: `f${i}`, mode: 0o644, open: { read: true, write: true } });
      fhs.push(c.fh!);
    }
    const opened = (await client.statfs()).openHandles;
    const bogus = 987_654_321;
    const res = await client.releaseMany({ fhs: [fhs[0]!, bogus, fhs[1]!, fhs[2]!] });
    expect(res.failed).toEqual([expect.objectContaining({ fh: bogus, errno: 'EBADF', code: 'CAIRN_ERR_FS_BAD_HANDLE' })]);
    expect((await client.statfs()).openHandles).toBe(opened - 3);
    // Gone: using or releasing them again fails.
    await expect(client.release({ fh: fhs[0]! })).rejects.toMatchObject({ errno: 'EBADF' });
    await expect(client.read({ ino: d.ino, offset: 0, length: 1, fh: fhs[1]! })).rejects.toMatchObject({ errno: 'EBADF' });
  });

  it('refuses more handles than MAX_RELEASE_BATCH in one call', async () => {
    await expect(client.releaseMany({ fhs: Array.from({ length: 1025 }, (_, i) => i + 1) })).rejects.toMatchObject({ errno: 'EINVAL' });
  });
});
