// CairnClient against createCairnServer over a real Filesystem on the memory
// store: every bound method end to end, errno mapping, per-request
// credentials, handle ownership, param checks before the filesystem.

import { isCairnError, type CairnError } from '@cairn/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnClient, type Credentials } from '../../packages/rpc/src/index.js';
import { FS_SECRET, startFsServer } from './helpers/fs.js';
import { TRANSPORTS } from './helpers/transport.js';

const ROOT: Credentials = { uid: 0, gid: 0, groups: [] };
const USER: Credentials = { uid: 1000, gid: 1000, groups: [] };

async function failure(p: Promise<unknown>): Promise<CairnError> {
  try {
    await p;
  } catch (err) {
    if (isCairnError(err)) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

// Every test runs over TCP and over a Unix-domain socket (the server then listens on nothing else).
describe.each(TRANSPORTS)('over %s', (transport) => {
  let env: Awaited<ReturnType<typeof startFsServer>>;
  let client: CairnClient;

  beforeAll(async () => {
    env = await startFsServer({}, transport);
    client = await CairnClient.connect({ ...env.addr, volume: 'rpcvol', secret: FS_SECRET, cred: ROOT });
  });

  afterAll(async () => {
    await client?.close();
    await env?.close();
  });

  describe('mount', () => {
    it('returns the root inode, the volume id and the limits', () => {
      expect(client.mount).toMatchObject({ volume: 'rpcvol', rootIno: 1, volumeId: env.mem.fs.volumeId, maxIoBytes: 4 * 1024 * 1024 });
    });

    it('refuses a wrong secret with EACCES', async () => {
      const err = await failure(CairnClient.connect({ ...env.addr, volume: 'rpcvol', secret: 'nope' }));
      expect(err).toMatchObject({ code: 'CAIRN_ERR_RPC_ACCESS_DENIED', errno: 'EACCES', errnoNumber: 13 });
    });
  });

  describe('namespace', () => {
    it('create, lookup, getattr, lookupPath, rename, link, unlink', async () => {
      const d = await client.mkdir({ parent: 1, name: 'ns', mode: 0o755 });
      expect(d).toMatchObject({ type: 'dir', mode: 0o040755 });
      const c = await client.create({ parent: d.ino, name: 'a.txt', mode: 0o644 });
      expect(c.created).toBe(true);
      expect(typeof c.attr.mtimeNs).toBe('bigint');
      expect(c.fh).toBeUndefined();
      expect((await client.lookup({ parent: d.ino, name: 'a.txt' })).ino).toBe(c.attr.ino);
      expect((await client.lookupPath({ path: '/ns/a.txt' })).ino).toBe(c.attr.ino);
      expect(await client.getattr({ ino: c.attr.ino })).toMatchObject({ ino: c.attr.ino, nlink: 1, size: 0 });
      await client.rename({ parent: d.ino, name: 'a.txt', newParent: d.ino, newName: 'b.txt' });
      expect((await client.link({ ino: c.attr.ino, newParent: d.ino, newName: 'c.txt' })).nlink).toBe(2);
      await client.unlink({ parent: d.ino, name: 'b.txt' });
      const err = await failure(client.lookup({ parent: d.ino, name: 'b.txt' }));
      expect(err).toMatchObject({ code: 'CAIRN_ERR_FS_NOT_FOUND', errno: 'ENOENT', errnoNumber: 2 });
      expect(await failure(client.create({ parent: d.ino, name: 'c.txt', mode: 0o644 }))).toMatchObject({ errno: 'EEXIST' });
      expect(await failure(client.rmdir({ parent: 1, name: 'ns' }))).toMatchObject({ errno: 'ENOTEMPTY' });
    });

    it('symlink/readlink, mknod, setattr, access', async () => {
      const s = await client.symlink({ parent: 1, name: 'ln', target: 'some/where' });
      expect(await client.readlink({ ino: s.ino })).toEqual({ target: 'some/where' });
      const f = await client.mknod({ parent: 1, name: 'fifo', mode: 0o010644 });
      expect(f.type).toBe('fifo');
      const a = await client.setattr({ ino: f.ino, mode: 0o600, mtime: 5_000_000_000n });
      expect(a.mode & 0o7777).toBe(0o600);
      expect(a.mtimeNs).toBe(5_000_000_000n);
      await expect(client.access({ ino: f.ino, mask: 4 })).resolves.toBeNull();
      expect(await failure(client.access({ ino: f.ino, mask: 4 }, { cred: USER }))).toMatchObject({ errno: 'EACCES' });
    });

    it('applies the per-request credentials: a user may not create in a root-owned 0755 directory', async () => {
      const d = await client.mkdir({ parent: 1, name: 'rootonly', mode: 0o755 });
      expect(await failure(client.create({ parent: d.ino, name: 'x', mode: 0o644 }, { cred: USER }))).toMatchObject({ errno: 'EACCES', code: 'CAIRN_ERR_FS_ACCESS' });
      const open = await client.mkdir({ parent: 1, name: 'shared', mode: 0o777 });
      const mine = await client.create({ parent: open.ino, name: 'mine', mode: 0o644 }, { cred: USER });
      expect(mine.attr).toMatchObject({ uid: 1000, gid: 1000 });
    });

    it('pages readdir and readdirplus by cookie', async () => {
      const d = await client.mkdir({ parent: 1, name: 'many', mode: 0o755 });
      for (let i = 0; i < 25; i++) await client.create({ parent: d.ino, name: `f${String(i).padStart(2, '0')}`, mode: 0o644 });
      const names: string[] = [];
      let cookie = 0;
      for (;;) {
        const page = await client.readdir({ ino: d.ino, cookie, limit: 7 });
        expect(page.entries.length).toBeLessThanOrEqual(7);
        names.push(...page.entries.map((e) => e.name));
        if (page.eof) break;
        cookie = page.entries[page.entries.length - 1]!.cookie;
      }
      expect(names).toEqual(['.', '..', ...Array.from({ length: 25 }, (_, i) => `f${String(i).padStart(2, '0')}`)]);
      const plus = await client.readdirplus({ ino: d.ino, limit: 5 });
      expect(plus.entries[2]!.attr).toMatchObject({ type: 'file', nlink: 1 });
      expect(await failure(client.readdir({ ino: d.ino, limit: 1_000_000 }))).toMatchObject({ errno: 'EINVAL', code: 'CAIRN_ERR_RPC_BAD_PARAMS' });
    });
  });

  describe('data', () => {
    it('open, write, read, append, fsync, flush, release; binary payloads intact', async () => {
      const c = await client.create({ parent: 1, name: 'data.bin', mode: 0o644, open: { read: true, write: true } });
      const fh = c.fh!;
      const payload = Buffer.alloc(1024 * 1024 + 17);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + 3) & 0xff;
      expect(await client.write({ ino: c.attr.ino, offset: 0, data: payload, fh })).toEqual({ written: payload.length });
      const back = await client.read({ ino: c.attr.ino, offset: 0, length: payload.length + 100, fh });
      expect(Buffer.isBuffer(back.data)).toBe(true);
      expect(back.data.equals(payload)).toBe(true);
      await client.fsync({ ino: c.attr.ino });
      await client.flush({ ino: c.attr.ino });
      const ap = await client.open({ ino: c.attr.ino, write: true, append: true });
      await client.write({ ino: c.attr.ino, offset: 0, data: Buffer.from('TAIL'), fh: ap.fh });
      expect((await client.getattr({ ino: c.attr.ino })).size).toBe(payload.length + 4);
      const tail = await client.read({ ino: c.attr.ino, offset: payload.length, length: 10 });
      expect(tail.data.toString()).toBe('TAIL');
      await client.release({ fh: ap.fh });
      await client.release({ fh });
      expect(await failure(client.release({ fh }))).toMatchObject({ errno: 'EBADF' });
    });

    it('refuses a payload above maxIoBytes before it reaches the filesystem', async () => {
      const c = await client.create({ parent: 1, name: 'big', mode: 0o644 });
      expect(await failure(client.read({ ino: c.attr.ino, offset: 0, length: 4 * 1024 * 1024 + 1 }))).toMatchObject({ errno: 'EINVAL' });
      expect(await failure(client.write({ ino: c.attr.ino, offset: 0, data: Buffer.alloc(4 * 1024 * 1024 + 1) }))).toMatchObject({ errno: 'EINVAL' });
      expect((await client.getattr({ ino: c.attr.ino })).size).toBe(0);
    });

    it('keeps handles per mount: another client cannot use them; unmount releases them', async () => {
      const c = await client.create({ parent: 1, name: 'owned', mode: 0o644, open: { write: true } });
      const other = await CairnClient.connect({ ...env.addr, volume: 'rpcvol', secret: FS_SECRET, cred: ROOT });
      expect(await failure(other.write({ ino: c.attr.ino, offset: 0, data: Buffer.from('x'), fh: c.fh! }))).toMatchObject({ errno: 'EBADF' });
      expect(await failure(other.release({ fh: c.fh! }))).toMatchObject({ errno: 'EBADF' });
      const before = (await client.statfs()).openHandles;
      const h = await other.open({ ino: c.attr.ino, read: true });
      expect(h.fh).toBeGreaterThan(0);
      expect((await client.statfs()).openHandles).toBe(before + 1);
      await other.close();
      expect((await client.statfs()).openHandles).toBe(before);
      await client.release({ fh: c.fh! });
    });

    it('fetchExtentMap returns data steps and holes for a window', async () => {
      const c = await client.create({ parent: 1, name: 'sparse', mode: 0o644, open: { write: true } });
      await client.write({ ino: c.attr.ino, offset: 0, data: Buffer.alloc(4096, 1), fh: c.fh! });
      await client.write({ ino: c.attr.ino, offset: 65536, data: Buffer.alloc(4096, 2), fh: c.fh! });
      await client.fsync({ ino: c.attr.ino });
      const m = await client.fetchExtentMap({ ino: c.attr.ino, offset: 0, after: 1 << 20 });
      expect(m).toMatchObject({ size: 69632, start: 0, end: 69632 });
      expect(m.steps).toEqual([
        expect.objectContaining({ fileOffset: 0, length: 4096, nonce: expect.any(BigInt), container: expect.any(String), object: expect.any(String) }),
        { fileOffset: 4096, zero: 61440 },
        expect.objectContaining({ fileOffset: 65536, length: 4096 }),
      ]);
      await client.release({ fh: c.fh! });
    });
  });

  describe('xattrs, statfs, journal, unsupported methods', () => {
    it('sets, gets, lists and removes xattrs (binary values)', async () => {
      const c = await client.create({ parent: 1, name: 'xa', mode: 0o644 });
      const value = Buffer.from([0, 1, 2, 255]);
      await client.setxattr({ ino: c.attr.ino, name: 'user.k', value, create: true });
      expect(await failure(client.setxattr({ ino: c.attr.ino, name: 'user.k', value, create: true }))).toMatchObject({ errno: 'EEXIST' });
      expect((await client.getxattr({ ino: c.attr.ino, name: 'user.k' })).value.equals(value)).toBe(true);
      expect(await client.listxattr({ ino: c.attr.ino })).toEqual({ names: ['user.k'] });
      await client.removexattr({ ino: c.attr.ino, name: 'user.k' });
      expect(await failure(client.getxattr({ ino: c.attr.ino, name: 'user.k' }))).toMatchObject({ errno: 'ENODATA' });
    });

    it('statfs reports the volume', async () => {
      expect(await client.statfs()).toMatchObject({ blockSize: 4096, nameMax: 255, inodes: expect.any(Number) });
    });

    it('lists changes after a cursor and long-polls for the next one', async () => {
      const { cursor } = await client.journalCursor();
      const waiting = client.waitChanges({ cursor, timeoutMs: 5000 });
      await client.mkdir({ parent: 1, name: 'journal-dir', mode: 0o755 });
      expect(await waiting).toEqual({ changed: true });
      const page = await client.listChanges({ cursor });
      expect(page.changes.some((ch) => ch.name === 'journal-dir')).toBe(true);
      expect(page.cursor).toBeGreaterThan(cursor);
      const { cursor: now } = await client.journalCursor();
      expect(await client.waitChanges({ cursor: now, timeoutMs: 50 })).toEqual({ changed: false });
    });

    it('creates, lists and deletes snapshots (uid 0 only)', async () => {
      const made = await client.snapshotCreate({ name: 'rpc-snap' });
      expect(made.snapshot).toMatchObject({ name: 'rpc-snap' });
      expect((await client.snapshotList()).snapshots.map((x: any) => x.name)).toContain('rpc-snap');
      expect(await failure(client.snapshotCreate({ name: 'rpc-snap' }))).toMatchObject({ errno: 'EEXIST' });
      expect(await failure(client.snapshotCreate({ name: 'other' }, { cred: USER }))).toMatchObject({ errno: 'EPERM' });
      expect(await failure(client.snapshotDelete({ name: 'rpc-snap' }, { cred: USER }))).toMatchObject({ errno: 'EPERM' });
      await client.snapshotDelete({ name: 'rpc-snap' });
      expect(await failure(client.snapshotDelete({ name: 'rpc-snap' }))).toMatchObject({ errno: 'ENOENT' });
      expect((await client.snapshotList()).snapshots.map((x: any) => x.name)).not.toContain('rpc-snap');
    });

    it('writes a file through the direct data path: provisionObject, a PUT of its own, wrote', async () => {
      const c = await client.create({ parent: 1, name: 'direct.bin', mode: 0o644 });
      const seg = await client.provisionObject();
      expect(typeof seg.nonce).toBe('bigint');
      const second = await client.provisionObject();
      expect(second.nonce).not.toBe(seg.nonce);
      // Not stored yet: wrote refuses and records nothing (invariant 1).
      const early = await failure(client.wrote({ ino: c.attr.ino, nonce: seg.nonce, writes: [{ fileOffset: 0, segmentOffset: 0, length: 4 }] }));
      expect(early.errno).toBe('EINVAL');
      const bytes = Buffer.from('0123456789abcdefghij');
      await env.mem.store.container(seg.container).put(seg.name, bytes);
      // Runs out of order, with a hole between them.
      const attr = await client.wrote({ ino: c.attr.ino, nonce: seg.nonce, writes: [{ fileOffset: 100, segmentOffset: 10, length: 10 }, { fileOffset: 0, segmentOffset: 0, length: 10 }] });
      expect(attr.size).toBe(110);
      const got = (await client.read({ ino: c.attr.ino, offset: 0, length: 200 })).data;
      expect(got.length).toBe(110);
      expect(got.subarray(0, 10).toString()).toBe('0123456789');
      expect(got.subarray(10, 100).equals(Buffer.alloc(90))).toBe(true);
      expect(got.subarray(100).toString()).toBe('abcdefghij');
      const plan = await client.fetchExtentMap({ ino: c.attr.ino, offset: 0 });
      expect(plan.steps.filter((st) => 'object' in st && String(st.object).includes(seg.name)).length).toBe(2);
      // A segment is reported once; runs beyond the stored object are refused.
      expect((await failure(client.wrote({ ino: c.attr.ino, nonce: seg.nonce, writes: [{ fileOffset: 0, segmentOffset: 0, length: 1 }] }))).errno).toBe('EINVAL');
      await env.mem.store.container(second.container).put(second.name, Buffer.from('xy'));
      expect((await failure(client.wrote({ ino: c.attr.ino, nonce: second.nonce, writes: [{ fileOffset: 0, segmentOffset: 0, length: 3 }] }))).errno).toBe('EINVAL');
      expect((await client.getattr({ ino: c.attr.ino })).size).toBe(110);
    });

    it('checks wrote params and permissions before the filesystem', async () => {
      const c = await client.create({ parent: 1, name: 'direct-ro.bin', mode: 0o600 });
      const seg = await client.provisionObject();
      await env.mem.store.container(seg.container).put(seg.name, Buffer.from('data'));
      expect((await failure(client.wrote({ ino: c.attr.ino, nonce: seg.nonce, writes: [] }))).errno).toBe('EINVAL');
      const badNonce = { ino: c.attr.ino, nonce: 'x', writes: [{ fileOffset: 0, segmentOffset: 0, length: 4 }] } as unknown as Parameters<CairnClient['wrote']>[0];
      expect(await failure(client.wrote(badNonce))).toMatchObject({ errno: 'EINVAL', code: 'CAIRN_ERR_RPC_BAD_PARAMS' });
      const denied = await failure(client.wrote({ ino: c.attr.ino, nonce: seg.nonce, writes: [{ fileOffset: 0, segmentOffset: 0, length: 4 }] }, { cred: USER }));
      expect(denied.errno).toBe('EACCES');
      expect((await client.getattr({ ino: c.attr.ino })).size).toBe(0);
    });
  });
});
