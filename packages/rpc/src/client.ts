// CairnClient: the typed filesystem client a frontend (NFS/SMB gateway, FUSE)
// uses. connect() opens the connection pool and mounts the volume; every
// method takes the RPC's params object (exactly what travels, see docs/rpc.md)
// and per-call options (caller credentials, deadline, abort signal).
//
// Failures reject with CairnErrors: the server's code and errno (err.errno,
// err.errnoNumber: what a FUSE op returns negated), CAIRN_ERR_RPC_TIMEOUT when
// the deadline passed (the outcome is unknown: the operation may have run),
// CAIRN_ERR_CLOSED after close(). Calls survive broken connections: they are
// re-sent with the same request id and execute once.
//
// When the server no longer knows the mount (it restarted, or forgot an idle
// client), the client mounts again once and re-issues the call; file handles
// from before are then gone (EBADF) and onRemount tells the frontend.

import { cairnError, isCairnError } from '@cairn/errors';
import type { MountInfo } from './cairn-server.js';
import type { fsMethods, FsMethodName } from './fs-methods.js';
import type { Infer } from './schema.js';
import type { Credentials } from './protocol.js';
import { RpcClient, type CallOptions, type RpcClientOptions, type RpcClientStats } from './rpc-client.js';

type Table = typeof fsMethods;

/** Binary params may be given as any Uint8Array. */
type Input<T> = T extends Buffer ? Uint8Array : T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]: Input<T[K]> } : T;

/** The params object of filesystem RPC `M`. */
export type FsParams<M extends FsMethodName> = Input<Infer<Table[M]['params']>>;
/** The result of filesystem RPC `M` (void methods resolve with null). */
export type FsResult<M extends FsMethodName> = Awaited<ReturnType<Table[M]['handler']>>;

export interface CairnClientOptions extends RpcClientOptions {
  /** Volume to mount. */
  readonly volume: string;
  /** The volume's secret (token). */
  readonly secret: string | Uint8Array;
  /** Credentials used when a call gives none (default: none, the server treats the caller as nobody). */
  readonly cred?: Credentials;
  /** Called after the client mounted again (the server had forgotten the mount; open handles are gone). */
  readonly onRemount?: (info: MountInfo) => void;
}

type P<M extends FsMethodName> = FsParams<M>;
type R<M extends FsMethodName> = Promise<FsResult<M>>;

export class CairnClient {
  private mountInfo: MountInfo;
  private remounting: Promise<MountInfo> | undefined;
  private closed = false;

  private constructor(
    /** The underlying generic client (stats, raw calls). */
    readonly rpc: RpcClient,
    private readonly options: CairnClientOptions,
    info: MountInfo,
  ) {
    this.mountInfo = info;
  }

  /** Connects and mounts `options.volume`; rejects with EACCES (CAIRN_ERR_RPC_ACCESS_DENIED) on a wrong secret. */
  static async connect(options: CairnClientOptions): Promise<CairnClient> {
    const rpc = new RpcClient(options);
    try {
      const info = await mountWith(rpc, options);
      return new CairnClient(rpc, options, info);
    } catch (err) {
      rpc.close();
      throw err;
    }
  }

  /** The current mount (id, root inode, limits). */
  get mount(): MountInfo {
    return this.mountInfo;
  }

  get clientId(): string {
    return this.rpc.clientId;
  }

  stats(): RpcClientStats {
    return this.rpc.stats();
  }

  /** Calls filesystem RPC `method` (the typed methods below all come here). */
  call<M extends FsMethodName>(method: M, params: FsParams<M>, options: CallOptions = {}): R<M> {
    const opts = options.cred || !this.options.cred ? options : { ...options, cred: this.options.cred };
    const mountId = this.mountInfo.mountId;
    // Not an async function: a call that succeeds costs one promise, not three.
    return this.rpc.call<FsResult<M>>(method, params as Record<string, unknown>, opts, mountId).catch((err: unknown) => {
      if (!isCairnError(err, 'CAIRN_ERR_RPC_NOT_MOUNTED') || this.closed) throw err;
      return this.remount(mountId).then(() => this.rpc.call<FsResult<M>>(method, params as Record<string, unknown>, opts, this.mountInfo.mountId));
    });
  }

  /** Unmounts (best effort, bounded) and closes the connections; later calls fail with CAIRN_ERR_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.rpc.call('unmount', {}, { deadlineMs: 2000 }, this.mountInfo.mountId).catch(() => undefined);
    this.rpc.close();
  }

  private remount(stale: string): Promise<MountInfo> {
    if (this.mountInfo.mountId !== stale) return Promise.resolve(this.mountInfo);
    this.remounting ??= mountWith(this.rpc, this.options).then(
      (info) => {
        this.mountInfo = info;
        this.remounting = undefined;
        this.options.onRemount?.(info);
        return info;
      },
      (err: unknown) => {
        this.remounting = undefined;
        throw err;
      },
    );
    return this.remounting;
  }

  // ---- names and attributes ------------------------------------------------------------
  /** The attributes of `name` in directory `parent`. */
  lookup(p: P<'lookup'>, o?: CallOptions): R<'lookup'> { return this.call('lookup', p, o); }
  /** Resolves a "/"-separated path (symlinks followed; followLast default true). */
  lookupPath(p: P<'lookupPath'>, o?: CallOptions): R<'lookupPath'> { return this.call('lookupPath', p, o); }
  /** An inode by number without a permission check (NFS file handles); ESTALE when gone. */
  resolveHandle(p: P<'resolveHandle'>, o?: CallOptions): R<'resolveHandle'> { return this.call('resolveHandle', p, o); }
  getattr(p: P<'getattr'>, o?: CallOptions): R<'getattr'> { return this.call('getattr', p, o); }
  /** Changes the given attributes (mode, uid, gid, size, atime, mtime: ns bigint or 'now'). */
  setattr(p: P<'setattr'>, o?: CallOptions): R<'setattr'> { return this.call('setattr', p, o); }
  /** access(2): resolves when every bit of mask (4 read, 2 write, 1 exec; 0 existence) is allowed. */
  access(p: P<'access'>, o?: CallOptions): R<'access'> { return this.call('access', p, o); }

  // ---- namespace changes (each executes exactly once) ---------------------------------------
  /** Creates a regular file (exclusive by default), optionally opening it. */
  create(p: P<'create'>, o?: CallOptions): R<'create'> { return this.call('create', p, o); }
  mkdir(p: P<'mkdir'>, o?: CallOptions): R<'mkdir'> { return this.call('mkdir', p, o); }
  mknod(p: P<'mknod'>, o?: CallOptions): R<'mknod'> { return this.call('mknod', p, o); }
  symlink(p: P<'symlink'>, o?: CallOptions): R<'symlink'> { return this.call('symlink', p, o); }
  readlink(p: P<'readlink'>, o?: CallOptions): R<'readlink'> { return this.call('readlink', p, o); }
  link(p: P<'link'>, o?: CallOptions): R<'link'> { return this.call('link', p, o); }
  unlink(p: P<'unlink'>, o?: CallOptions): R<'unlink'> { return this.call('unlink', p, o); }
  rmdir(p: P<'rmdir'>, o?: CallOptions): R<'rmdir'> { return this.call('rmdir', p, o); }
  rename(p: P<'rename'>, o?: CallOptions): R<'rename'> { return this.call('rename', p, o); }
  /** One page of entries after `cookie` ("." and ".." first); continue with the last entry's cookie until eof. */
  readdir(p: P<'readdir'>, o?: CallOptions): R<'readdir'> { return this.call('readdir', p, o); }
  /** readdir with each entry's attributes. */
  readdirplus(p: P<'readdirplus'>, o?: CallOptions): R<'readdirplus'> { return this.call('readdirplus', p, o); }

  // ---- file data --------------------------------------------------------------------------------
  /** Opens a file; the handle belongs to this mount until release. */
  open(p: P<'open'>, o?: CallOptions): R<'open'> { return this.call('open', p, o); }
  release(p: P<'release'>, o?: CallOptions): R<'release'> { return this.call('release', p, o); }
  /** Releases many handles at once; `failed` lists those that could not be (each with its error). */
  releaseMany(p: P<'releaseMany'>, o?: CallOptions): R<'releaseMany'> { return this.call('releaseMany', p, o); }
  /** Up to `length` bytes (at most mount.maxIoBytes) from `offset`; fewer at the end of the file. */
  read(p: P<'read'>, o?: CallOptions): R<'read'> { return this.call('read', p, o); }
  /** Writes `data` at `offset` (at the end with an append handle); durable after fsync. */
  write(p: P<'write'>, o?: CallOptions): R<'write'> { return this.call('write', p, o); }
  /** close(2) semantics: reports a lost earlier write (EIO). */
  flush(p: P<'flush'>, o?: CallOptions): R<'flush'> { return this.call('flush', p, o); }
  /** Every acknowledged write of the file is durable when this resolves. */
  fsync(p: P<'fsync'>, o?: CallOptions): R<'fsync'> { return this.call('fsync', p, o); }
  fallocate(p: P<'fallocate'>, o?: CallOptions): R<'fallocate'> { return this.call('fallocate', p, o); }
  statfs(p: P<'statfs'> = {}, o?: CallOptions): R<'statfs'> { return this.call('statfs', p, o); }

  // ---- extended attributes ------------------------------------------------------------------------
  getxattr(p: P<'getxattr'>, o?: CallOptions): R<'getxattr'> { return this.call('getxattr', p, o); }
  setxattr(p: P<'setxattr'>, o?: CallOptions): R<'setxattr'> { return this.call('setxattr', p, o); }
  listxattr(p: P<'listxattr'>, o?: CallOptions): R<'listxattr'> { return this.call('listxattr', p, o); }
  removexattr(p: P<'removexattr'>, o?: CallOptions): R<'removexattr'> { return this.call('removexattr', p, o); }

  // ---- direct data path ----------------------------------------------------------------------------
  /** The read plan of [offset - before, offset + after): segment ranges and holes (zero steps). */
  fetchExtentMap(p: P<'fetchExtentMap'>, o?: CallOptions): R<'fetchExtentMap'> { return this.call('fetchExtentMap', p, o); }
  /** Names a fresh segment object (container, name, nonce) for the caller to store in the object store itself. */
  provisionObject(p: P<'provisionObject'> = {}, o?: CallOptions): R<'provisionObject'> { return this.call('provisionObject', p, o); }
  /** Records the file runs a stored, provisioned segment holds; returns the file's attributes. Each segment is reported once. */
  wrote(p: P<'wrote'>, o?: CallOptions): R<'wrote'> { return this.call('wrote', p, o); }

  // ---- snapshots (create/delete need uid 0) ---------------------------------------------------------
  snapshotCreate(p: P<'snapshotCreate'>, o?: CallOptions): R<'snapshotCreate'> { return this.call('snapshotCreate', p, o); }
  snapshotList(p: P<'snapshotList'> = {}, o?: CallOptions): R<'snapshotList'> { return this.call('snapshotList', p, o); }
  snapshotDelete(p: P<'snapshotDelete'>, o?: CallOptions): R<'snapshotDelete'> { return this.call('snapshotDelete', p, o); }

  // ---- change journal --------------------------------------------------------------------------------
  /** The id of the newest change: a cursor meaning "now". */
  journalCursor(p: P<'journalCursor'> = {}, o?: CallOptions): R<'journalCursor'> { return this.call('journalCursor', p, o); }
  /** Changes after `cursor` (ESTALE CAIRN_ERR_FS_CURSOR_EXPIRED when compaction dropped some: rescan). */
  listChanges(p: P<'listChanges'>, o?: CallOptions): R<'listChanges'> { return this.call('listChanges', p, o); }
  /** Long-poll: {changed: true} once a change after `cursor` exists, false after timeoutMs (keep the deadline longer). */
  waitChanges(p: P<'waitChanges'>, o?: CallOptions): R<'waitChanges'> { return this.call('waitChanges', p, o); }
}

async function mountWith(rpc: RpcClient, options: CairnClientOptions): Promise<MountInfo> {
  if (typeof options.volume !== 'string' || options.volume.length === 0) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'volume');
  const secret = typeof options.secret === 'string' ? options.secret : Buffer.from(options.secret);
  return rpc.call<MountInfo>('mount', { volume: options.volume, secret });
}
