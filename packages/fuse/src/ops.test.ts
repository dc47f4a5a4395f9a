// The FUSE operations against a fake server (no kernel): which RPCs a create,
// a stat and an unlink cost, and that what the kernel asks right after is
// answered from what the answers carried.

import { cairnError } from '@cairn/errors';
import type { CairnClient } from '@cairn/rpc';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AttrCache, PathCache, XattrMissCache } from './cache.js';
import type { Attr } from './convert.js';
import { O_CREAT, O_EXCL, O_RDONLY, O_WRONLY } from './convert.js';
import { CallerCredentials } from './cred.js';
import type { FuseOperations, FuseStat } from './native.js';
import { OpenFiles } from './open-files.js';
import type { OpsContext } from './ops-context.js';
import { fileOperations } from './ops-files.js';
import { namespaceOperations } from './ops-namespace.js';
import { ReleaseBatcher } from './release-batch.js';
import { Resolver } from './resolver.js';
import { WriteBudget } from './write-behind.js';

interface Node {
  attr: Attr;
  readonly names?: Map<string, number>;
}

/**
 * A one-directory server: the root (inode 1) and the files in it. `legacy`
 * plays a server from before withParentAttr and releaseMany.
 */
function fakeServer(legacy = false) {
  const calls: Record<string, number> = {};
  const released: number[][] = [];
  /** Handles open on the server when each unlink ran. */
  const openAtUnlink: number[] = [];
  const count = (m: string): void => void (calls[m] = (calls[m] ?? 0) + 1);
  let now = 1_000n;
  let nextIno = 2;
  let nextFh = 50;
  const open = new Set<number>();
  const mk = (ino: number, type: Attr['type'], mode: number): Attr =>
    ({ ino, type, mode, nlink: type === 'dir' ? 2 : 1, uid: 0, gid: 0, size: 0, blocks: 0, blksize: 4096, rdev: 0, atimeNs: now, mtimeNs: now, ctimeNs: now, btimeNs: now, change: 1, dataVersion: 1 }) as Attr;
  const root: Node = { attr: mk(1, 'dir', 0o040755), names: new Map() };
  const nodes = new Map<number, Node>([[1, root]]);
  const touchRoot = (): void => {
    now += 1_000n;
    root.attr = { ...root.attr, size: root.names!.size, mtimeNs: now, ctimeNs: now, change: root.attr.change + 1 };
  };
  const parentAttr = (want: boolean | undefined): { parentAttr?: Attr } => (want && !legacy ? { parentAttr: root.attr } : {});
  const client = {
    mount: { rootIno: 1, maxIoBytes: 1 << 20 },
    async getattr({ ino }: { ino: number }) {
      count('getattr');
      const n = nodes.get(ino);
      if (!n) throw cairnError('CAIRN_ERR_FS_STALE', `ino ${ino}`);
      return n.attr;
    },
    async lookup({ name }: { parent: number; name: string }) {
      count('lookup');
      const ino = root.names!.get(name);
      if (ino === undefined) throw cairnError('CAIRN_ERR_FS_NOT_FOUND', name);
      return nodes.get(ino)!.attr;
    },
    async create(p: { name: string; mode: number; open?: object; withParentAttr?: boolean }) {
      count('create');
      if (root.names!.has(p.name)) throw cairnError('CAIRN_ERR_FS_EXISTS', p.name);
      const ino = nextIno++;
      nodes.set(ino, { attr: mk(ino, 'file', 0o100000 | p.mode) });
      root.names!.set(p.name, ino);
      touchRoot();
      const fh = nextFh++;
      open.add(fh);
      return { attr: nodes.get(ino)!.attr, created: true, fh, ...parentAttr(p.withParentAttr) };
    },
    async open() {
      count('open');
      const fh = nextFh++;
      open.add(fh);
      return { fh, attr: root.attr };
    },
    async unlink(p: { name: string; withParentAttr?: boolean }) {
      count('unlink');
      openAtUnlink.push(open.size);
      const ino = root.names!.get(p.name);
      if (ino === undefined) throw cairnError('CAIRN_ERR_FS_NOT_FOUND', p.name);
      root.names!.delete(p.name);
      nodes.delete(ino);
      touchRoot();
      return p.withParentAttr && !legacy ? parentAttr(true) : null;
    },
    async readdir() {
      count('readdir');
      const entries = [...root.names!].map(([name, ino], i) => ({ name, ino, type: nodes.get(ino)!.attr.type, cookie: i + 3 }));
      return { entries, eof: true };
    },
    async read() {
      count('read');
      return { data: Buffer.alloc(0) };
    },
    async release({ fh }: { fh: number }) {
      count('release');
      if (!open.delete(fh)) throw cairnError('CAIRN_ERR_FS_BAD_HANDLE', `fh ${fh}`);
      released.push([fh]);
      return null;
    },
    async releaseMany({ fhs }: { fhs: number[] }) {
      count('releaseMany');
      if (legacy) throw cairnError('CAIRN_ERR_RPC_UNKNOWN_METHOD', 'releaseMany');
      released.push([...fhs]);
      const failed = fhs.filter((fh) => !open.delete(fh)).map((fh) => ({ fh, code: 'CAIRN_ERR_FS_BAD_HANDLE', errno: 'EBADF', errnoNumber: 9, message: `fh ${fh}` }));
      return { failed };
    },
  };
  return { client: client as unknown as CairnClient, calls, released, openAtUnlink, root: () => root.attr, open };
}

function mount(server: ReturnType<typeof fakeServer>, log = pino({ level: 'silent' }), releaseDelayMs = 0, negativeLookups = false) {
  const o = { entryTtlMs: 60_000, attrTtlMs: 60_000, maxEntries: 1000 };
  const paths = new PathCache({ ...o, attrTtlMs: 0 });
  const attrs = new AttrCache({ ...o, entryTtlMs: 0 });
  const xattrMisses = new XattrMissCache(o);
  const files = new OpenFiles(server.client, new WriteBudget(1 << 20), {
    readAheadBytes: 0, writeChunkBytes: 4096, writeDelayMs: 1, writeBehind: true, onWritten: (ino) => attrs.invalidate(ino),
  });
  const ctx: OpsContext = {
    client: server.client,
    resolver: new Resolver(server.client, paths, attrs, xattrMisses, files, { entryTtlMs: 60_000, attrTtlMs: 60_000, negativeLookups }),
    files,
    releases: new ReleaseBatcher(server.client, { delayMs: releaseDelayMs }),
    creds: new CallerCredentials('mount', undefined),
    log,
    counters: new Map(),
    caller: () => null,
  };
  const ops: FuseOperations = { ...namespaceOperations(ctx), ...fileOperations(ctx) };
  const getattr = (path: string): Promise<[number, FuseStat | undefined]> => new Promise((res) => ops.getattr!(path, (r, st) => res([r, st])));
  const create = (path: string, flags: number): Promise<[number, number | undefined]> => new Promise((res) => ops.create!(path, 0o644, flags, (r, fd) => res([r, fd])));
  const openFile = (path: string, flags: number): Promise<[number, number | undefined]> => new Promise((res) => ops.open!(path, flags, (r, fd) => res([r, fd])));
  const done = (f: (cb: (r: number) => void) => void): Promise<number> => new Promise((res) => f(res));
  return {
    ctx,
    getattr,
    create,
    openFile,
    read: (path: string, fd: number) => done((cb) => ops.read!(path, fd, Buffer.alloc(16), 16, 0, cb)),
    flush: (path: string, fd: number) => done((cb) => ops.flush!(path, fd, cb)),
    release: (path: string, fd: number) => done((cb) => ops.release!(path, fd, cb)),
    unlink: (path: string) => done((cb) => ops.unlink!(path, cb)),
  };
}

const EXCL_CREATE = O_WRONLY | O_CREAT | O_EXCL;

describe('FUSE operations: round trips', () => {
  it('create + close: the lookup that finds nothing and the create; what the kernel asks next comes from the answer', async () => {
    const s = fakeServer();
    const m = mount(s);
    expect((await m.getattr('/'))[0]).toBe(0); // the mount's first look at the root
    expect(s.calls).toEqual({ getattr: 1 });

    // open(O_CREAT|O_EXCL) + close, as the kernel drives it.
    expect((await m.getattr('/f'))[0]).toBe(-2);
    const [res, fd] = await m.create('/f', EXCL_CREATE);
    expect(res).toBe(0);
    const [r1, dir] = await m.getattr('/');
    const [r2, file] = await m.getattr('/f');
    expect([r1, r2]).toEqual([0, 0]);
    expect(await m.flush('/f', fd!)).toBe(0);
    expect(await m.release('/f', fd!)).toBe(0);
    await m.ctx.files.idle();

    // The directory as the create left it, the file as it was created.
    expect(dir).toMatchObject({ ino: 1, size: 1, mtime: s.root().mtimeNs });
    expect(file).toMatchObject({ mode: 0o100644, size: 0 });
    expect(s.calls).toEqual({ getattr: 1, lookup: 1, create: 1, release: 1 });

    // A stat right after the close costs no round trip either.
    expect((await m.getattr('/f'))[1]).toMatchObject({ ino: file!.ino, mode: 0o100644 });
    expect(s.calls['getattr']).toBe(1);
  });

  it('the close of a file never written through its handle is answered at once: flush and release before any promise settles', async () => {
    const s = fakeServer();
    const m = mount(s);
    const [, fd] = await m.create('/c', EXCL_CREATE);
    const answers: string[] = [];
    const ops = { ...fileOperations(m.ctx) };
    ops.flush!('/c', fd!, (r) => answers.push(`flush ${r}`));
    ops.release!('/c', fd!, (r) => answers.push(`release ${r}`));
    expect(answers).toEqual(['flush 0', 'release 0']);
    await m.ctx.files.idle();
    expect(m.ctx.files.get(fd!)).toBeUndefined();
    expect([m.ctx.counters.get('flush')?.calls, m.ctx.counters.get('release')?.calls]).toEqual([1, 1]);
  });

  it('a create storm: once a listing shows the names missing, the kernel\'s lookups before the creates are answered at once, without an RPC', async () => {
    const s = fakeServer();
    const m = mount(s, undefined, 0, true);
    for (let i = 0; i < 8; i++) {
      expect((await m.getattr(`/s${i}`))[0]).toBe(-2);
      await m.create(`/s${i}`, EXCL_CREATE);
    }
    await new Promise((res) => setTimeout(res, 0)); // the listing lands
    expect([s.calls['lookup'], s.calls['readdir']]).toEqual([8, 1]);
    const answers: number[] = [];
    namespaceOperations(m.ctx).getattr!('/s8', (r) => answers.push(r));
    expect(answers).toEqual([-2]);
    const [res] = await m.create('/s8', EXCL_CREATE);
    expect(res).toBe(0);
    // Names created through the mount are found, names made before the listing too.
    expect((await m.getattr('/s8'))[0]).toBe(0);
    m.ctx.resolver.paths.clear();
    expect((await m.getattr('/s3'))[0]).toBe(0);
    expect(s.calls['lookup']).toBe(9);
    expect(s.calls['create']).toBe(9);
  });

  it('unlink: the directory comes from the answer', async () => {
    const s = fakeServer();
    const m = mount(s);
    const [, fd] = await m.create('/g', EXCL_CREATE);
    await m.release('/g', fd!);
    await m.ctx.files.idle();
    const before = { ...s.calls };
    expect(await m.unlink('/g')).toBe(0);
    const [r, dir] = await m.getattr('/');
    expect(r).toBe(0);
    expect(dir).toMatchObject({ size: 0, mtime: s.root().mtimeNs });
    expect(s.calls).toEqual({ ...before, unlink: 1 });
  });

  it('a file read or written through the handle is fetched again after its release', async () => {
    const s = fakeServer();
    const m = mount(s);
    const [, fd] = await m.create('/h', EXCL_CREATE);
    await m.release('/h', fd!);
    await m.ctx.files.idle();
    const [, rfd] = await m.openFile('/h', O_RDONLY);
    expect(await m.read('/h', rfd!)).toBe(0);
    await m.release('/h', rfd!);
    await m.ctx.files.idle();
    const n = s.calls['getattr'] ?? 0;
    expect((await m.getattr('/h'))[0]).toBe(0);
    expect(s.calls['getattr']).toBe(n + 1);
  });

  it('an older server: the directory is fetched again after the change, handles go back one by one', async () => {
    const s = fakeServer(true);
    const m = mount(s);
    const fds: number[] = [];
    for (const name of ['/a', '/b']) {
      const [res, fd] = await m.create(name, EXCL_CREATE);
      expect(res).toBe(0);
      fds.push(fd!);
    }
    await m.release('/a', fds[0]!);
    await m.release('/b', fds[1]!);
    await m.ctx.files.idle();
    expect(s.open.size).toBe(0);
    expect(s.calls['releaseMany']).toBe(1);
    expect(s.calls['release']).toBe(2);
    // The refresh after each create, then a stat of the root finds the last one.
    expect(s.calls['getattr']).toBe(2);
    expect((await m.getattr('/'))[1]).toMatchObject({ size: 2, mtime: s.root().mtimeNs });
    expect(s.calls['getattr']).toBe(2);
  });
});

describe('FUSE operations: logs', () => {
  it('logs an expected failure (ENOENT) at debug level only', async () => {
    const lines: string[] = [];
    const stream = { write: (l: string) => void lines.push(l) };
    for (const level of ['info', 'debug'] as const) {
      lines.length = 0;
      const m = mount(fakeServer(), pino({ level }, stream));
      expect((await m.getattr('/missing'))[0]).toBe(-2);
      const records = lines.map((l) => JSON.parse(l) as { msg: string; op: string; errno: number; path: string });
      if (level === 'info') expect(records).toEqual([]);
      else expect(records).toEqual([expect.objectContaining({ msg: 'fuse operation failed', op: 'getattr', path: '/missing', errno: 2 })]);
    }
  });
});

describe('FUSE operations: releases', () => {
  it('gathers the releases of one moment into one releaseMany', async () => {
    const s = fakeServer();
    const m = mount(s);
    const fds: number[] = [];
    for (let i = 0; i < 5; i++) fds.push((await m.create(`/r${i}`, EXCL_CREATE))[1]!);
    await Promise.all(fds.map((fd, i) => m.release(`/r${i}`, fd)));
    expect(m.ctx.files.size).toBe(0); // the kernel's handles are gone at once
    await m.ctx.files.idle();
    expect(s.calls['releaseMany']).toBe(1);
    expect(s.calls['release']).toBeUndefined();
    expect(s.released).toEqual([[50, 51, 52, 53, 54]]); // the server's handles, in one call
    expect(s.open.size).toBe(0);
  });

  it('the releases of a file go out and land before its name is removed', async () => {
    const s = fakeServer();
    const m = mount(s, undefined, 60_000);
    const [, a] = await m.create('/a', EXCL_CREATE);
    const [, b] = await m.create('/b', EXCL_CREATE);
    await m.release('/a', a!);
    await m.release('/b', b!);
    expect(s.open.size).toBe(2); // both waiting for the batch
    expect(await m.unlink('/a')).toBe(0);
    expect(s.openAtUnlink).toEqual([0]); // /a's release (and /b's, in the same batch) landed first
    expect(s.released).toEqual([[50, 51]]);
    await m.ctx.files.idle();
  });
});
