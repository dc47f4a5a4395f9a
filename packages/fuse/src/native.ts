// The typed face of fuse-native (FUSE 2.9 high-level bindings, which ship no
// types), as patched by patches/fuse-native@2.2.6.patch, and its loader.
//
// Conventions of fuse-native: every operation gets a callback whose first
// argument is 0 or a negative errno; read and write pass the byte count (or a
// negative errno) instead. Operations run on the Node main thread while the
// FUSE thread that asked waits, so a handler must never block the event loop
// and must call its callback exactly once.
//
// What the patch adds (docs/fuse.md, "fuse-native and its patch"):
//   - utimens gets both times (upstream passes atime twice) with nanoseconds,
//     as a bigint of ns since the epoch, or 'now' (UTIME_NOW) / 'omit'
//     (UTIME_OMIT); libfuse is told it may pass UTIME_OMIT, so `touch -m` and
//     `touch -a` reach the filesystem instead of being dropped;
//   - stat times may be bigints of ns (upstream keeps milliseconds);
//   - create gets the open(2) flags;
//   - caller() tells the uid/gid/pid of the process behind the request;
//   - extraOptions passes any libfuse -o option (use_ino, big_writes...);
//   - getxattr/listxattr answer ERANGE when the caller's buffer is too small;
//   - the addon is always compiled from the patched source at install.

import { createRequire } from 'node:module';
import { cairnError } from '@cairn/errors';

/** A time fuse-native turns into a timespec: ns since the epoch (bigint), ms (number) or a Date. */
export type FuseTime = bigint | number | Date;

/** What getattr answers (struct stat). */
export interface FuseStat {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly dev?: number;
  readonly nlink: number;
  readonly ino: number;
  readonly rdev: number;
  readonly blksize: number;
  readonly blocks: number;
  readonly atime: FuseTime;
  readonly mtime: FuseTime;
  readonly ctime: FuseTime;
}

/** What statfs answers (struct statvfs; every field is a u32). */
export interface FuseStatfs {
  readonly bsize: number;
  readonly frsize: number;
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail: number;
  readonly files: number;
  readonly ffree: number;
  readonly favail: number;
  readonly fsid: number;
  readonly flag: number;
  readonly namemax: number;
}

/** A utimens time: ns since the epoch, UTIME_NOW or UTIME_OMIT. */
export type FuseTimeArg = bigint | 'now' | 'omit';

/** 0 or a negative errno. */
export type Done = (result: number) => void;

/** The operations table (paths are absolute within the mount, "/" is its root). */
export interface FuseOperations {
  init?(cb: Done): void;
  statfs?(path: string, cb: (result: number, statfs?: FuseStatfs) => void): void;
  getattr?(path: string, cb: (result: number, stat?: FuseStat) => void): void;
  access?(path: string, mode: number, cb: Done): void;
  open?(path: string, flags: number, cb: (result: number, fd?: number) => void): void;
  create?(path: string, mode: number, flags: number, cb: (result: number, fd?: number) => void): void;
  release?(path: string, fd: number, cb: Done): void;
  /** cb(bytes read) or cb(-errno). `buf` is the kernel's buffer: valid until cb. */
  read?(path: string, fd: number, buf: Buffer, length: number, position: number, cb: Done): void;
  /** cb(bytes written) or cb(-errno). `buf` is the kernel's buffer: valid until cb. */
  write?(path: string, fd: number, buf: Buffer, length: number, position: number, cb: Done): void;
  flush?(path: string, fd: number, cb: Done): void;
  fsync?(path: string, datasync: number, fd: number, cb: Done): void;
  fsyncdir?(path: string, datasync: number, fd: number, cb: Done): void;
  truncate?(path: string, size: number, cb: Done): void;
  ftruncate?(path: string, fd: number, size: number, cb: Done): void;
  utimens?(path: string, atime: FuseTimeArg, mtime: FuseTimeArg, cb: Done): void;
  readdir?(path: string, cb: (result: number, names?: string[], stats?: FuseStat[]) => void): void;
  readlink?(path: string, cb: (result: number, target?: string) => void): void;
  chown?(path: string, uid: number, gid: number, cb: Done): void;
  chmod?(path: string, mode: number, cb: Done): void;
  mknod?(path: string, mode: number, dev: number, cb: Done): void;
  unlink?(path: string, cb: Done): void;
  rmdir?(path: string, cb: Done): void;
  mkdir?(path: string, mode: number, cb: Done): void;
  rename?(from: string, to: string, cb: Done): void;
  link?(existing: string, path: string, cb: Done): void;
  /** `target` is the link's contents, `path` the new link. */
  symlink?(target: string, path: string, cb: Done): void;
  /** `value` is the kernel's buffer: copy it before cb. */
  setxattr?(path: string, name: string, value: Buffer, position: number, flags: number, cb: Done): void;
  getxattr?(path: string, name: string, position: number, cb: (result: number, value?: Buffer) => void): void;
  listxattr?(path: string, cb: (result: number, names?: string[]) => void): void;
  removexattr?(path: string, name: string, cb: Done): void;
}

export interface FuseNativeOptions {
  /** Per-operation timeout (ms) after which fuse-native answers ETIMEDOUT itself; false: none. */
  readonly timeout?: number | false;
  readonly debug?: boolean;
  readonly allowOther?: boolean;
  readonly defaultPermissions?: boolean;
  readonly fsname?: string;
  readonly subtype?: string;
  /** Any further libfuse -o options (patched). */
  readonly extraOptions?: readonly string[];
}

/** The calling process of the operation being dispatched (patched). */
export interface FuseCaller {
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
}

/** One mounted (or mountable) fuse-native filesystem. */
export interface FuseInstance {
  mount(cb: (err: Error | null) => void): void;
  unmount(cb: (err: (Error & { unmountFailure?: boolean }) | null) => void): void;
  /** Valid only synchronously at the start of an operation handler; null elsewhere. */
  caller(): FuseCaller | null;
}

export interface FuseNativeModule {
  new (mountpoint: string, ops: FuseOperations, options?: FuseNativeOptions): FuseInstance;
}

const require = createRequire(import.meta.url);
let loaded: FuseNativeModule | undefined;

/**
 * Loads fuse-native (and through it libfuse.so.2). Throws
 * CAIRN_ERR_FUSE_NO_LIBRARY with the reason when the library or the addon is
 * missing, or when the addon is not the patched build.
 */
export function loadFuseNative(): FuseNativeModule {
  if (loaded) return loaded;
  let mod: FuseNativeModule;
  try {
    mod = require('fuse-native') as FuseNativeModule;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const hint = /libfuse\.so/.test(msg) ? ' (install libfuse2: scripts/install-fuse.sh)' : '';
    throw cairnError('CAIRN_ERR_FUSE_NO_LIBRARY', `${msg}${hint}`, { cause: err });
  }
  if (typeof (mod.prototype as Partial<FuseInstance>).caller !== 'function') {
    throw cairnError('CAIRN_ERR_FUSE_NO_LIBRARY', 'fuse-native is not the patched build (patches/fuse-native@2.2.6.patch); reinstall the workspace');
  }
  loaded = mod;
  return mod;
}
