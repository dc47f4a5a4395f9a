// @cairn/fuse — a Cairn volume as a local filesystem: a FUSE mount (through
// fuse-native and libfuse 2) whose every operation is an RPC of @cairn/rpc's
// CairnClient, so that real programs (shells, cp, tar, git, compilers) and
// POSIX test suites run against Cairn.
//
// mountFuse() maps each FUSE operation to the RPC API: paths resolve to inode
// numbers through a small cache; files opened by the kernel hold an RPC
// handle; writes go out behind the kernel's back in merged, pipelined RPCs;
// sequential reads fetch ahead; every RPC carries the calling process's
// uid/gid/groups; failures answer the RPC error's errno. What fuse-native gets
// wrong is patched (patches/fuse-native@2.2.6.patch). Guide, options, limits
// and the patch: docs/fuse.md.

import type { CairnClient, Credentials } from '@cairn/rpc';
import type { Logger } from 'pino';
import type { IdentityMode } from './cred.js';
import type { OpCounters } from './ops-context.js';

export { mountFuse, fuseNativeOptions, LIBFUSE2_MAX_WRITE } from './mount.js';
export { checkFuseAvailable, checkMountpoint, forceUnmount, isMounted, mountTypeAt, waitUnmounted } from './system.js';
export { loadFuseNative, type FuseNativeModule, type FuseInstance, type FuseOperations, type FuseNativeOptions, type FuseStat, type FuseStatfs } from './native.js';
export { runMountCommand, parseMountArgs, MOUNT_USAGE, type MountCommandIo, type MountArgs } from './command.js';
export type { IdentityMode } from './cred.js';
export type { OpCounters } from './ops-context.js';

export interface FuseMountOptions {
  /** A connected client of the volume to mount (it stays the caller's to close, after unmount()). */
  readonly client: CairnClient;
  /** An existing, empty directory that is not a mount point. */
  readonly mountpoint: string;
  /**
   * How long this mount trusts attributes it fetched (seconds; default 1). The
   * kernel itself is told 0 and asks the mount (docs/fuse.md, "Caches").
   */
  readonly attrTimeoutSec?: number;
  /**
   * How long the kernel itself caches attributes (seconds; default 0). Above 0
   * saves a kernel-to-mount round trip per stat, but a change made through one
   * name of a hard-linked file then stays invisible through its other names
   * for that long (FUSE 2 gives each name its own kernel inode).
   */
  readonly kernelAttrTimeoutSec?: number;
  /** How long the kernel (and this mount) trust a name → inode entry (seconds; default 1). */
  readonly entryTimeoutSec?: number;
  /** How long the kernel remembers that a name does not exist (seconds; default 0: never). */
  readonly negativeTimeoutSec?: number;
  /**
   * Answer a lookup ENOENT without an RPC when the name is missing from a
   * listing of the whole directory read at most the entry timeout ago (read
   * when lookups of the directory keep finding nothing, e.g. a create storm),
   * kept exact for changes made through this mount. A name created elsewhere
   * is then seen within the entry timeout, as a name removed elsewhere is.
   * Default true; false asks the server for every name not cached.
   */
  readonly negativeLookups?: boolean;
  /**
   * Whose identity each RPC carries: 'caller' (default), the uid/gid/groups of
   * the process behind the request; 'mount', `cred` (or the client's default).
   */
  readonly identity?: IdentityMode;
  /** The identity of 'mount' mode, and of requests that come from no process. */
  readonly cred?: Credentials;
  /** Let other users than the one mounting use the mount (default: true when running as root). */
  readonly allowOther?: boolean;
  /** Let the kernel check permission bits (default true). */
  readonly defaultPermissions?: boolean;
  /** Sequential-read window (bytes; default 1 MiB; 0: none). */
  readonly readAheadBytes?: number;
  /** Largest merged write RPC (bytes; default 1 MiB; at most the server's maxIoBytes). */
  readonly writeChunkBytes?: number;
  /** Bytes of acknowledged writes that may wait for the server, for all files (default 64 MiB; 0: every write waits). */
  readonly writeBehindBytes?: number;
  /** The kernel's largest write request (bytes; default and maximum 128 KiB, libfuse 2's limit). */
  readonly maxWriteBytes?: number;
  /** Path → inode and attribute cache entries (default 65 536 each). */
  readonly cacheEntries?: number;
  /** The mount table's source name (default `cairn:<volume>`). */
  readonly fsname?: string;
  /** libfuse's own request trace on stderr. */
  readonly debug?: boolean;
  /** Give up when the kernel has not started the filesystem by then (ms; default 30 000). */
  readonly mountTimeoutMs?: number;
  /** pino logger (default silent). */
  readonly logger?: Logger;
}

export interface FuseMountStats {
  /** Calls and failures per FUSE operation. */
  readonly ops: Record<string, OpCounters>;
  readonly openFiles: number;
  readonly cachedPaths: number;
  readonly cachedAttrs: number;
  /** Acknowledged write bytes not yet acknowledged by the server. */
  readonly writeBehindBytes: number;
}

/** A mounted volume. */
export interface FuseMount {
  /** The absolute mountpoint. */
  readonly mountpoint: string;
  /**
   * Lets queued writes land, unmounts (lazily when busy), waits until the
   * kernel no longer lists the mount and releases the remaining RPC handles.
   * Rejects with CAIRN_ERR_FUSE_UNMOUNT_FAILED when the mount stays. Calling
   * it again returns the same promise.
   */
  unmount(): Promise<void>;
  stats(): FuseMountStats;
}
