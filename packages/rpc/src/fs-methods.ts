// The Filesystem (@cairn/inode) bound as an RPC method table. Every handler
// checks nothing itself beyond what the schema did: it passes the caller's
// credentials and the checked params to the Filesystem, whose CairnErrors
// travel back with their errno. docs/rpc.md lists each method's params and
// result.
//
// Idempotency decides whether a reply is kept for retries: operations that
// change the namespace or data (create, mkdir, rename, unlink, link, write,
// setattr, open, release, xattr changes...) are not idempotent and execute
// once per request id; lookups, reads and listings are idempotent.
//
// File handles from open/create belong to the mount that opened them: using
// another mount's handle fails with EBADF, and a released mount releases its
// handles. releaseMany gives back many handles in one call (a frontend that
// does not wait for its releases batches them).
//
// The namespace changes take an optional `withParentAttr`: the reply then also
// carries the attributes of the directory (or, for rename, both directories)
// as they are after the change, so that a frontend caching attributes (FUSE:
// the kernel checks the directory's permissions at the next path walk) does
// not need a getattr round trip after every create or unlink. Without the flag
// the replies are unchanged (unlink, rmdir and rename answer nil).

import { cairnError } from '@cairn/errors';
import type { Attr, Filesystem } from '@cairn/inode';
import { MAX_IO_BYTES } from './format.js';
import { toWireError } from './protocol.js';
import type { CallContext, MethodSpec, MountRecord } from './methods.js';
import { s, type Check } from './schema.js';

/** Most entries one readdir returns (the reply must fit a frame). */
export const MAX_READDIR_ENTRIES = 10_000;
/** Most entries one readdirplus returns (each carries its attributes). */
export const MAX_READDIRPLUS_ENTRIES = 4096;
/** Most changes one listChanges returns. */
export const MAX_CHANGES_PER_CALL = 4096;
/** Longest waitChanges long-poll (ms). */
export const MAX_WAIT_CHANGES_MS = 120_000;
/** Largest window fetchExtentMap covers (bytes). */
export const MAX_EXTENT_WINDOW = 64 * 1024 * 1024;
/** Most file runs one wrote call reports. */
export const MAX_WROTE_RUNS = 4096;
/** Longest run one wrote entry names (bytes): a provisioned segment is at most this big. */
export const MAX_SEGMENT_BYTES = 1024 * 1024 * 1024;
/** Window after the offset fetchExtentMap covers by default (bytes). */
export const DEFAULT_EXTENT_WINDOW = 8 * 1024 * 1024;
/** Most handles one releaseMany gives back. */
export const MAX_RELEASE_BATCH = 1024;

type Ctx = CallContext<Filesystem>;

/**
 * Declares one filesystem method: 'idempotent' (may run again on a retry after
 * it completed; its reply is not stored) or 'once' (its reply is stored: a retry
 * gets it instead of running again). The param type is inferred from the schema.
 */
function fsMethod<P, R>(
  kind: 'idempotent' | 'once',
  params: Check<P>,
  handler: (ctx: Ctx, params: P) => Promise<R> | R,
): MethodSpec<Filesystem, P, R> {
  return { idempotent: kind === 'idempotent', params, handler };
}

const ino = s.ino();
const name = s.str(4096, 1);
const mode = s.u32();
const off = s.uint();
const umask = s.optional(s.uint(0o7777));
const fhOpt = s.optional(s.uint());
const flag = s.optional(s.bool());
const timeSpec: Check<bigint | 'now'> = (v, p) => (v === 'now' ? 'now' : s.i64()(v, p));

/** Open handles per mount, released with the mount. */
const handlesByMount = new WeakMap<MountRecord<Filesystem>, Set<number>>();

function handles(ctx: Ctx): Set<number> {
  let set = handlesByMount.get(ctx.mount);
  if (!set) {
    const fhs = new Set<number>();
    const fs = ctx.fs;
    const log = ctx.logger;
    ctx.mount.cleanups.add(async () => {
      for (const fh of fhs) await fs.release(fh).catch((err: unknown) => log.warn({ err, fh }, 'releasing a handle of a released mount failed'));
      fhs.clear();
    });
    handlesByMount.set(ctx.mount, fhs);
    set = fhs;
  }
  return set;
}

/** The handle, when given, must be open on this mount. */
function ownFh(ctx: Ctx, fh: number | undefined): number | undefined {
  if (fh !== undefined && !handles(ctx).has(fh)) throw cairnError('CAIRN_ERR_FS_BAD_HANDLE', `fh ${fh} is not open on this mount`);
  return fh;
}

const openFlags = s.object({ read: flag, write: flag, append: flag, truncate: flag });

/** A handle releaseMany could not release, and why. */
export interface ReleaseFailure {
  readonly fh: number;
  readonly code: string;
  readonly errno: string;
  readonly errnoNumber: number;
  readonly message: string;
}

/** The attributes of directory `ino` after a change (undefined when it is gone meanwhile: the change stands). */
async function dirAttr(ctx: Ctx, ino: number): Promise<Attr | undefined> {
  try {
    return await ctx.fs.getattr(ctx.cred, ino);
  } catch {
    return undefined;
  }
}

/** `attr` with the directory's attributes after the change, when asked for. */
async function withParent<T extends object>(ctx: Ctx, want: boolean | undefined, parent: number, r: T): Promise<T & { parentAttr?: Attr }> {
  if (want !== true) return r;
  const parentAttr = await dirAttr(ctx, parent);
  return parentAttr ? { ...r, parentAttr } : r;
}

/** What unlink and rmdir answer: nil, or the directory's attributes when asked for. */
async function removed(ctx: Ctx, want: boolean | undefined, parent: number): Promise<{ parentAttr?: Attr } | null> {
  return want === true ? withParent(ctx, true, parent, {}) : null;
}

/** Releases one handle of this mount (EBADF when it is not one). */
async function releaseOne(ctx: Ctx, fh: number): Promise<void> {
  ownFh(ctx, fh);
  try {
    await ctx.fs.release(fh);
  } finally {
    handles(ctx).delete(fh);
  }
}

/** Snapshot operations a Filesystem may offer; bound when present, EOPNOTSUPP otherwise. */
interface SnapshotOps {
  createSnapshot(name: string): Promise<unknown>;
  listSnapshots(): unknown[] | Promise<unknown[]>;
  deleteSnapshot(name: string): Promise<void>;
}

function snapshots(ctx: Ctx, what: string): SnapshotOps {
  const f = ctx.fs as Partial<SnapshotOps>;
  if (typeof f.createSnapshot !== 'function' || typeof f.listSnapshots !== 'function' || typeof f.deleteSnapshot !== 'function') {
    throw cairnError('CAIRN_ERR_NOT_SUPPORTED', `${what}: this filesystem does not expose snapshots`);
  }
  return f as SnapshotOps;
}

function requireRoot(ctx: Ctx, what: string): void {
  if (ctx.cred.uid !== 0) throw cairnError('CAIRN_ERR_FS_PERM', `${what} needs uid 0`);
}

export const fsMethods = {
  // ---- names and attributes ------------------------------------------------------
  lookup: fsMethod(
    'idempotent',
    s.object({ parent: ino, name }),
    (ctx, p) => ctx.fs.lookup(ctx.cred, p.parent, p.name),
  ),
  lookupPath: fsMethod(
    'idempotent',
    s.object({ path: s.str(4096, 1), followLast: flag, cwd: s.optional(ino) }),
    (ctx, p) => ctx.fs.lookupPath(ctx.cred, p.path, { ...(p.followLast !== undefined ? { followLast: p.followLast } : {}), ...(p.cwd !== undefined ? { cwd: p.cwd } : {}) }),
  ),
  resolveHandle: fsMethod(
    'idempotent',
    s.object({ ino }),
    (ctx, p) => ctx.fs.resolveHandle(p.ino),
  ),
  getattr: fsMethod(
    'idempotent',
    s.object({ ino }),
    (ctx, p) => ctx.fs.getattr(ctx.cred, p.ino),
  ),
  setattr: fsMethod(
    'once',
    s.object({
      ino, mode: s.optional(mode), uid: s.optional(s.u32()), gid: s.optional(s.u32()), size: s.optional(off),
      atime: s.optional(timeSpec), mtime: s.optional(timeSpec), fh: fhOpt,
    }),
    (ctx, p) => {
      const { ino: i, fh, ...changes } = p;
      return ctx.fs.setattr(ctx.cred, i, changes, ownFh(ctx, fh));
    },
  ),
  access: fsMethod(
    'idempotent',
    s.object({ ino, mask: s.uint(7) }),
    (ctx, p) => ctx.fs.access(ctx.cred, p.ino, p.mask),
  ),

  // ---- namespace changes -------------------------------------------------------------
  create: fsMethod(
    'once',
    s.object({ parent: ino, name, mode, umask, exclusive: flag, open: s.optional(openFlags), withParentAttr: flag }),
    async (ctx, p) => {
      const r = await ctx.fs.create(ctx.cred, p.parent, p.name, p.mode, {
        ...(p.umask !== undefined ? { umask: p.umask } : {}),
        ...(p.exclusive !== undefined ? { exclusive: p.exclusive } : {}),
        ...(p.open ? { open: p.open } : {}),
      });
      if (r.fh !== undefined) handles(ctx).add(r.fh);
      return withParent(ctx, p.withParentAttr, p.parent, r);
    },
  ),
  mkdir: fsMethod(
    'once',
    s.object({ parent: ino, name, mode, umask, withParentAttr: flag }),
    async (ctx, p) =>
      withParent(ctx, p.withParentAttr, p.parent, await ctx.fs.mkdir(ctx.cred, p.parent, p.name, p.mode, p.umask !== undefined ? { umask: p.umask } : {})),
  ),
  mknod: fsMethod(
    'once',
    s.object({ parent: ino, name, mode, rdev: s.optional(s.u32()), umask, withParentAttr: flag }),
    async (ctx, p) =>
      withParent(ctx, p.withParentAttr, p.parent, await ctx.fs.mknod(ctx.cred, p.parent, p.name, p.mode, p.rdev, p.umask !== undefined ? { umask: p.umask } : {})),
  ),
  symlink: fsMethod(
    'once',
    s.object({ parent: ino, name, target: s.str(8192, 1), withParentAttr: flag }),
    async (ctx, p) => withParent(ctx, p.withParentAttr, p.parent, await ctx.fs.symlink(ctx.cred, p.parent, p.name, p.target)),
  ),
  readlink: fsMethod(
    'idempotent',
    s.object({ ino }),
    async (ctx, p) => ({ target: await ctx.fs.readlink(ctx.cred, p.ino) }),
  ),
  link: fsMethod(
    'once',
    s.object({ ino, newParent: ino, newName: name, withParentAttr: flag }),
    async (ctx, p) => withParent(ctx, p.withParentAttr, p.newParent, await ctx.fs.link(ctx.cred, p.ino, p.newParent, p.newName)),
  ),
  unlink: fsMethod(
    'once',
    s.object({ parent: ino, name, withParentAttr: flag }),
    async (ctx, p) => {
      await ctx.fs.unlink(ctx.cred, p.parent, p.name);
      return removed(ctx, p.withParentAttr, p.parent);
    },
  ),
  rmdir: fsMethod(
    'once',
    s.object({ parent: ino, name, withParentAttr: flag }),
    async (ctx, p) => {
      await ctx.fs.rmdir(ctx.cred, p.parent, p.name);
      return removed(ctx, p.withParentAttr, p.parent);
    },
  ),
  rename: fsMethod(
    'once',
    s.object({ parent: ino, name, newParent: ino, newName: name, noReplace: flag, exchange: flag, withParentAttr: flag }),
    async (ctx, p): Promise<{ parentAttr?: Attr; newParentAttr?: Attr } | null> => {
      await ctx.fs.rename(ctx.cred, p.parent, p.name, p.newParent, p.newName, {
        ...(p.noReplace !== undefined ? { noReplace: p.noReplace } : {}),
        ...(p.exchange !== undefined ? { exchange: p.exchange } : {}),
      });
      if (p.withParentAttr !== true) return null;
      const parentAttr = await dirAttr(ctx, p.parent);
      const newParentAttr = p.newParent === p.parent ? undefined : await dirAttr(ctx, p.newParent);
      return { ...(parentAttr ? { parentAttr } : {}), ...(newParentAttr ? { newParentAttr } : {}) };
    },
  ),
  readdir: fsMethod(
    'idempotent',
    s.object({ ino, cookie: s.optional(s.uint()), limit: s.optional(s.uint(MAX_READDIR_ENTRIES)) }),
    (ctx, p) => ctx.fs.readdir(ctx.cred, p.ino, { cookie: p.cookie ?? 0, limit: p.limit ?? 1000 }),
  ),
  readdirplus: fsMethod(
    'idempotent',
    s.object({ ino, cookie: s.optional(s.uint()), limit: s.optional(s.uint(MAX_READDIRPLUS_ENTRIES)) }),
    (ctx, p) => ctx.fs.readdirplus(ctx.cred, p.ino, { cookie: p.cookie ?? 0, limit: p.limit ?? 1000 }),
  ),

  // ---- file data ---------------------------------------------------------------------
  open: fsMethod(
    'once',
    s.object({ ino, read: flag, write: flag, append: flag, truncate: flag }),
    async (ctx, p) => {
      const { ino: i, ...flags } = p;
      const r = await ctx.fs.open(ctx.cred, i, flags);
      handles(ctx).add(r.fh);
      return r;
    },
  ),
  release: fsMethod(
    'once',
    s.object({ fh: s.uint() }),
    (ctx, p) => releaseOne(ctx, p.fh),
  ),
  releaseMany: fsMethod(
    'once',
    s.object({ fhs: s.array(s.uint(), MAX_RELEASE_BATCH) }),
    async (ctx, p) => {
      // Each handle on its own: one that fails (EBADF...) does not keep the others.
      const failed: ReleaseFailure[] = [];
      for (const fh of p.fhs) {
        try {
          await releaseOne(ctx, fh);
        } catch (err) {
          const w = toWireError(err);
          failed.push({ fh, code: w.code, errno: w.errno, errnoNumber: w.errnoNumber, message: w.message });
        }
      }
      return { failed };
    },
  ),
  read: fsMethod(
    'idempotent',
    s.object({ ino, offset: off, length: s.uint(MAX_IO_BYTES), fh: fhOpt }),
    async (ctx, p) => ({ data: await ctx.fs.read(ctx.cred, p.ino, p.offset, p.length, ownFh(ctx, p.fh)) }),
  ),
  write: fsMethod(
    'once',
    s.object({ ino, offset: off, data: s.bytes(MAX_IO_BYTES), fh: fhOpt }),
    async (ctx, p) => ({ written: await ctx.fs.write(ctx.cred, p.ino, p.offset, p.data, ownFh(ctx, p.fh)) }),
  ),
  flush: fsMethod(
    'idempotent',
    s.object({ ino }),
    (ctx, p) => ctx.fs.flush(p.ino),
  ),
  fsync: fsMethod(
    'idempotent',
    s.object({ ino }),
    (ctx, p) => ctx.fs.fsync(p.ino),
  ),
  fallocate: fsMethod(
    'once',
    s.object({ ino, offset: off, length: off, keepSize: flag, fh: fhOpt }),
    (ctx, p) =>
      ctx.fs.fallocate(ctx.cred, p.ino, p.offset, p.length, {
        ...(p.keepSize !== undefined ? { keepSize: p.keepSize } : {}),
        ...(p.fh !== undefined ? { fh: ownFh(ctx, p.fh)! } : {}),
      }),
  ),
  statfs: fsMethod(
    'idempotent',
    s.object({}),
    (ctx) => ctx.fs.statfs(),
  ),

  // ---- extended attributes --------------------------------------------------------------
  getxattr: fsMethod(
    'idempotent',
    s.object({ ino, name }),
    async (ctx, p) => ({ value: await ctx.fs.getxattr(ctx.cred, p.ino, p.name) }),
  ),
  setxattr: fsMethod(
    'once',
    s.object({ ino, name, value: s.bytes(1024 * 1024), create: flag, replace: flag }),
    (ctx, p) =>
      ctx.fs.setxattr(ctx.cred, p.ino, p.name, p.value, {
        ...(p.create !== undefined ? { create: p.create } : {}),
        ...(p.replace !== undefined ? { replace: p.replace } : {}),
      }),
  ),
  listxattr: fsMethod(
    'idempotent',
    s.object({ ino }),
    async (ctx, p) => ({ names: await ctx.fs.listxattr(ctx.cred, p.ino) }),
  ),
  removexattr: fsMethod(
    'once',
    s.object({ ino, name }),
    (ctx, p) => ctx.fs.removexattr(ctx.cred, p.ino, p.name),
  ),

  // ---- direct data path ----------------------------------------------------------------------
  fetchExtentMap: fsMethod(
    'idempotent',
    s.object({ ino, offset: off, before: s.optional(s.uint(MAX_EXTENT_WINDOW)), after: s.optional(s.uint(MAX_EXTENT_WINDOW)) }),
    async (ctx, p) => {
      const before = p.before ?? 0;
      const after = p.after ?? DEFAULT_EXTENT_WINDOW;
      if (before + after > MAX_EXTENT_WINDOW) throw cairnError('CAIRN_ERR_RPC_BAD_PARAMS', `before + after must be at most ${MAX_EXTENT_WINDOW}`);
      const start = Math.max(0, p.offset - before);
      const { size, plan } = await ctx.fs.readPlan(ctx.cred, p.ino, start, p.offset + after - start);
      return { size, start, end: Math.min(size, p.offset + after), steps: plan };
    },
  ),
  provisionObject: fsMethod(
    'once',
    s.object({}),
    async (ctx) => {
      const got = await ctx.fs.provisionSegment();
      return { nonce: got.nonce, container: got.container, name: got.name };
    },
  ),
  wrote: fsMethod(
    'once',
    s.object({
      ino,
      nonce: s.i64(),
      writes: s.array(s.object({ fileOffset: off, segmentOffset: off, length: s.uint(MAX_SEGMENT_BYTES) }), MAX_WROTE_RUNS),
    }),
    (ctx, p) => ctx.fs.wrote(ctx.cred, p.ino, p.nonce, p.writes),
  ),

  // ---- snapshots ---------------------------------------------------------------------------------
  snapshotCreate: fsMethod(
    'once',
    s.object({ name: s.str(255, 1) }),
    async (ctx, p) => {
      const ops = snapshots(ctx, 'snapshotCreate');
      requireRoot(ctx, 'snapshotCreate');
      return { snapshot: await ops.createSnapshot(p.name) };
    },
  ),
  snapshotList: fsMethod(
    'idempotent',
    s.object({}),
    async (ctx) => ({ snapshots: await snapshots(ctx, 'snapshotList').listSnapshots() }),
  ),
  snapshotDelete: fsMethod(
    'once',
    s.object({ name: s.str(255, 1) }),
    async (ctx, p) => {
      const ops = snapshots(ctx, 'snapshotDelete');
      requireRoot(ctx, 'snapshotDelete');
      await ops.deleteSnapshot(p.name);
    },
  ),

  // ---- change journal --------------------------------------------------------------------------------
  journalCursor: fsMethod(
    'idempotent',
    s.object({}),
    async (ctx) => ({ cursor: await ctx.fs.journalCursor() }),
  ),
  listChanges: fsMethod(
    'idempotent',
    s.object({ cursor: s.uint(), limit: s.optional(s.uint(MAX_CHANGES_PER_CALL)) }),
    (ctx, p) => ctx.fs.listChanges(p.cursor, { limit: p.limit ?? 1000 }),
  ),
  waitChanges: fsMethod(
    'idempotent',
    s.object({ cursor: s.uint(), timeoutMs: s.optional(s.uint(MAX_WAIT_CHANGES_MS)) }),
    async (ctx, p) => ({ changed: await ctx.fs.waitForChanges(p.cursor, { timeoutMs: p.timeoutMs ?? 30_000, signal: ctx.signal }) }),
  ),
};

/** The wire method names of the filesystem API. */
export type FsMethodName = keyof typeof fsMethods;
