// Public types of the filesystem API (re-exported by index.ts): credentials,
// attributes, directory listings, open flags, statfs, the change journal.

import type { CheckpointInfo as MetaCheckpointInfo, HeadhunterStats } from '@cairn/headhunter';
import type { ReplayLogStats } from '@cairn/replaylog';
import type { ReadCacheStats, SegmentWriterStats } from '@cairn/segments';
import type { CleanProgress } from './cleaner.js';
import type { ChangeKind } from './records.js';

export type { ChangeKind } from './records.js';

/** Who calls: checked on every operation like Linux does (uid 0 is root and bypasses permission bits). */
export interface Cred {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups. */
  readonly groups?: readonly number[];
}

export type FileType = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'char' | 'block';

/** What getattr returns (stat). Times are nanoseconds since the epoch. */
export interface Attr {
  readonly ino: number;
  readonly type: FileType;
  /** st_mode: S_IF* type bits | permission bits (with setuid, setgid, sticky). */
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  /** Size in bytes, pending (not yet durable) writes included. */
  readonly size: number;
  /** 512-byte blocks: the size rounded up (holes are not subtracted). */
  readonly blocks: number;
  readonly blksize: number;
  readonly rdev: number;
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly btimeNs: bigint;
  /** Bumped by every change of the inode (NFSv4 change attribute). */
  readonly change: number;
  /**
   * Changes with every change of the contents — each write, truncate,
   * fallocate, concat or clone, at once, before it is durable — and never
   * decreases (a lost write changes it too). The durable value survives a
   * remount and is at least every value shown before a clean unmount.
   */
  readonly dataVersion: number;
  /** The ETag the object API recorded and the dataVersion it is valid for. */
  readonly etag?: { readonly value: string; readonly dataVersion: number };
}

/** A time to set: nanoseconds since the epoch, or 'now' (UTIME_NOW); leave the field out for UTIME_OMIT. */
export type TimeSpec = bigint | 'now';

/** setattr changes; fields left out are not changed. */
export interface SetAttr {
  /** Permission bits (0o7777); the type bits are ignored. */
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** truncate / extend. */
  readonly size?: number;
  readonly atime?: TimeSpec;
  readonly mtime?: TimeSpec;
}

/** Options of create/mkdir/mknod. */
export interface CreateOptions {
  /** Bits cleared from the mode (the caller's umask; default 0). */
  readonly umask?: number;
}

/** Access modes of open(). */
export interface OpenFlags {
  readonly read?: boolean;
  readonly write?: boolean;
  /** Every write goes to the end of the file (O_APPEND). */
  readonly append?: boolean;
  /** Truncate to 0 on open (O_TRUNC; needs write). */
  readonly truncate?: boolean;
}

export interface CreateFileOptions extends CreateOptions {
  /** Fail with EEXIST when the name exists (O_EXCL; default true). */
  readonly exclusive?: boolean;
  /** Open the file too (returns a handle; a new file opens even when its mode denies the access). */
  readonly open?: OpenFlags;
}

export interface CreateResult {
  readonly attr: Attr;
  /** True when the file was created (false: it existed, exclusive was false). */
  readonly created: boolean;
  /** The open handle, when `open` was asked for. */
  readonly fh?: number;
}

export interface OpenResult {
  readonly fh: number;
  readonly attr: Attr;
}

/** One directory entry. Cookies increase per directory in creation order and are never reused. */
export interface DirEntry {
  readonly name: string;
  readonly ino: number;
  readonly type: FileType;
  /** Pass as `cookie` to continue after this entry. */
  readonly cookie: number;
  /** readdirplus only. */
  readonly attr?: Attr;
}

export interface ReadDirOptions {
  /** Continue after this cookie (0: from the start, "." and ".." first). */
  readonly cookie?: number;
  /** At most this many entries (default 1000). */
  readonly limit?: number;
}

export interface ReadDirResult {
  readonly entries: DirEntry[];
  /** True when the listing reached the end. */
  readonly eof: boolean;
}

export interface RenameFlags {
  /** RENAME_NOREPLACE: fail with EEXIST when the target exists. */
  readonly noReplace?: boolean;
  /** RENAME_EXCHANGE: swap the two entries (both must exist). */
  readonly exchange?: boolean;
}

export interface SetXattrFlags {
  /** XATTR_CREATE: fail with EEXIST when the attribute exists. */
  readonly create?: boolean;
  /** XATTR_REPLACE: fail with ENODATA when it does not. */
  readonly replace?: boolean;
}

export interface LookupPathOptions {
  /** Follow a symlink in the last component (default true). */
  readonly followLast?: boolean;
  /** Directory relative paths start from (default the root). */
  readonly cwd?: number;
}

export interface StatFs {
  readonly blockSize: number;
  readonly blocks: number;
  readonly blocksFree: number;
  readonly files: number;
  readonly filesFree: number;
  readonly nameMax: number;
  /** Inodes in use. */
  readonly inodes: number;
  /** Bytes referenced by extents. */
  readonly liveBytes: number;
  /** Data bytes of stored segments (live or dead, not yet deleted). */
  readonly storedBytes: number;
  /** Segments holding live data. */
  readonly segments: number;
  /** Dead segments waiting for deletion. */
  readonly deadSegments: number;
  /** Files with writes not yet durable. */
  readonly dirtyFiles: number;
  readonly openHandles: number;
}

/** One committed change (change journal). */
export interface Change {
  /** Journal id: increases by one per change of the volume. */
  readonly jid: number;
  readonly kind: ChangeKind;
  readonly ino: number;
  readonly parent?: number;
  readonly name?: string;
  readonly newParent?: number;
  readonly newName?: string;
  /** The inode's attributes after the change (absent when it went away). */
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly size?: number;
  readonly nlink?: number;
  readonly mtimeNs?: bigint;
  /** Commit time, ns since the epoch. */
  readonly timeNs: bigint;
}

export interface ChangePage {
  readonly changes: Change[];
  /** Pass as the next cursor: the jid of the last change returned (or the cursor given when none). */
  readonly cursor: number;
  /** More changes follow right away. */
  readonly more: boolean;
}

export interface ListChangesOptions {
  /** At most this many changes (default 1000). */
  readonly limit?: number;
}

export interface WaitChangesOptions {
  /** Give up after this long (default 30 000 ms); resolves false then. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** Segment reclamation: what one pass did. */
export interface ReclaimReport {
  /** Dead segments deleted from the object store. */
  readonly deleted: number;
  /** Dead segments still waiting (checkpoints or snapshots hold them). */
  readonly waiting: number;
}

/** A snapshot of the volume (createSnapshot, listSnapshots). */
export interface SnapshotInfo {
  readonly name: string;
  /** Creation time, ms since the epoch. */
  readonly createdAt: number;
  /** The metadata commit it captured (it holds every change up to this one); its id. */
  readonly commitSeq: number;
  /** Entries per metadata tree at that moment. */
  readonly counts: Readonly<Record<string, number>>;
  /** Inodes at that moment. */
  readonly inodes: number;
  /** Bytes referenced by its files, and data bytes of the segments stored then. */
  readonly liveBytes: number;
  readonly storedBytes: number;
}

/** What checkpoint() wrote: headhunter's checkpoint summary, with when and how much. */
export interface CheckpointInfo extends MetaCheckpointInfo {
  /** When it was published, ms since the epoch. */
  readonly publishedAt: number;
  /** Bytes written: node object + record. */
  readonly bytes: number;
}

/**
 * stats(): counters and gauges of a mounted filesystem, read without I/O (for
 * metrics scrapes). headhunter / replayLog / segments / readCache are those
 * packages' own stats, unchanged.
 */
export interface FilesystemStats {
  readonly volumeId: string;
  readonly headhunter: HeadhunterStats;
  readonly replayLog: ReplayLogStats;
  /** The segment writer of file data. */
  readonly segments: SegmentWriterStats;
  readonly readCache: ReadCacheStats;
  /**
   * fsyncs made durable through the replay log (intent log): intents held now
   * and their bytes; since mount, intents logged (and bytes), resolved by their
   * segment's commit, written again after a segment failed, written back at mount.
   */
  readonly intentLog: {
    readonly held: number;
    readonly heldBytes: number;
    readonly logged: number;
    readonly loggedBytes: number;
    readonly resolved: number;
    readonly rewritten: number;
    readonly recovered: number;
  };
  /** The running segment cleaning pass, if one runs. */
  readonly cleaner: CleanProgress | undefined;
  /** Files with writes not yet durable. */
  readonly dirtyFiles: number;
  readonly openHandles: number;
  /** Inodes with at least one open handle. */
  readonly openFiles: number;
  /** Snapshots of the volume, and snapshot handles open now. */
  readonly snapshots: number;
  readonly openSnapshots: number;
  /** Filesystem calls since mount: started, failed (any error), running now; and background jobs (clean, fsck, scrub...) running. */
  readonly operations: { readonly started: number; readonly failed: number; readonly running: number; readonly jobs: number };
}
