// @cairn/inode — the filesystem: volumes, inodes, directories and POSIX
// semantics over headhunter (metadata) and log segments (data).
//
// formatFilesystem() creates a volume (root directory inode 1, mode 0755,
// root:root); mountFilesystem() returns a Filesystem handle that the RPC API,
// the object API and a FUSE mount are thin shells over. Every operation takes
// the caller's credential and checks it like Linux; errors are CairnErrors
// with CAIRN_ERR_FS_* codes (errno via err.errno). Every namespace operation
// is durable when it resolves; file data is durable after fsync (or at most
// maxFlushTime later). Design: docs/architecture.md "Filesystem (inode layer)";
// records: docs/formats.md "Filesystem records".

import type { HeadhunterOptions } from '@cairn/headhunter';
import type { FsckOptions, FsckReport } from './fsck.js';
import type { ScrubOptions, ScrubReport } from './scrub.js';
import type { SnapshotFs } from './snapshot-fs.js';
import type { ObjectStore } from '@cairn/objstore';
import type { ReadCacheOptions, ReadStep, SegmentWriterOptions } from '@cairn/segments';
import type { Logger } from 'pino';
import type { DirectWrite } from './direct.js';
import type { CommitUploadOptions, Upload } from './upload.js';
import { FilesystemImpl } from './fs.js';
import type {
  Attr, ChangePage, CreateFileOptions, CreateOptions, CreateResult, Cred, ListChangesOptions, LookupPathOptions, OpenFlags,
  OpenResult, ReadDirOptions, ReadDirResult, ReclaimReport, RenameFlags, SetAttr, SetXattrFlags, StatFs, WaitChangesOptions,
  CheckpointInfo, FilesystemStats, SnapshotInfo,
} from './types.js';
import { formatFilesystem as format, mount } from './volume.js';

export type * from './types.js';
import type { CleanOptions, CleanReport, CleanerJob } from './cleaner.js';
import type { SweepOptions, SweepReport } from './orphan-sweep.js';
export { ROOT_CRED, MAY_READ, MAY_WRITE, MAY_EXEC } from './perms.js';
export {
  ROOT_INO, NAME_MAX, PATH_MAX, MAX_SYMLINKS, LINK_MAX, XATTR_NAME_MAX, XATTR_SIZE_MAX, MAX_FILE_SIZE,
  S_IFMT, S_IFSOCK, S_IFLNK, S_IFREG, S_IFBLK, S_IFDIR, S_IFCHR, S_IFIFO, S_ISUID, S_ISGID, S_ISVTX,
} from './format.js';
export { segmentDeletable, type DeletionContext } from './reclaim.js';
export type { DirectWrite } from './direct.js';
export type { SnapshotFs } from './snapshot-fs.js';
export { SNAPSHOT_NAME_RE } from './snapshot.js';
export type { CommitUploadOptions, Upload } from './upload.js';
export { UPLOAD_INO_BATCH } from './upload.js';
export type { CleanOptions, CleanProgress, CleanReport, CleanerJob } from './cleaner.js';
export { DEFAULT_CLEAN_BYTES_PER_SECOND, DEFAULT_CLEAN_MIN_AGE_MS, DEFAULT_CLEAN_SEGMENT_BYTES } from './cleaner.js';
export type { SweepOptions, SweepProgress, SweepReport } from './orphan-sweep.js';
export { DEFAULT_ORPHAN_GRACE_MS, DEFAULT_ORPHAN_DELETES_PER_SECOND } from './orphan-sweep.js';

export interface FormatFilesystemOptions {
  readonly store: ObjectStore;
  /** Volume name: the container of its metadata (and of the default data container `<volume>-data`). */
  readonly volume: string;
  /** Directory of the volume's replay log on local disk (the same at every mount). */
  readonly logDir: string;
  /** Containers segments are spread over (default [`<volume>-data`]); fixed for the volume's life. */
  readonly dataContainers?: readonly string[];
  readonly volumeId?: string;
  /** Root directory permissions (default 0o755), owner (default 0:0). */
  readonly rootMode?: number;
  readonly rootUid?: number;
  readonly rootGid?: number;
  /** B+Tree fan-out (tests use small ones for deep trees). */
  readonly leafMaxEntries?: number;
  readonly indexMaxEntries?: number;
  /** fdatasync the replay log (default true; false only for tests). */
  readonly fsync?: boolean;
  readonly clock?: () => bigint;
  readonly logger?: Logger;
}

export interface MountOptions {
  readonly store: ObjectStore;
  readonly volume: string;
  readonly logDir: string;
  /** fdatasync the replay log (default true; false only for tests). */
  readonly fsync?: boolean;
  /** headhunter tuning (checkpoint interval, cache, nonces, retained checkpoints...). */
  readonly headhunter?: Partial<Omit<HeadhunterOptions, 'container' | 'log' | 'logger' | 'checkpointOnClose'>>;
  /** Segment writer tuning (maxFlushSize, maxFlushTimeMs, maxOpenSegments, maxBufferedBytes...). */
  readonly segments?: Partial<Omit<SegmentWriterOptions, 'store' | 'containers' | 'nonces' | 'onDurable' | 'onFailed' | 'logger'>>;
  readonly readCache?: Partial<Omit<ReadCacheOptions, 'store' | 'logger'>>;
  /** atime policy: 'relatime' (default) or 'noatime'. */
  readonly atime?: 'relatime' | 'noatime';
  /** Capacity statfs reports (default 1 PiB) and its inode limit (default 2^32). */
  readonly capacityBytes?: number;
  readonly maxInodes?: number;
  readonly journal?: {
    /** Keep at least the newest this many changes (default 10 000). */
    readonly minEntries?: number;
    /** Compact changes older than this (default 7 days). */
    readonly horizonMs?: number;
    /** Compaction timer (default 60 000 ms; 0: off). */
    readonly compactIntervalMs?: number;
  };
  /** Dead-segment deletion timer (default 60 000 ms; 0: off). */
  readonly segmentReclaimIntervalMs?: number;
  /**
   * fsync of a file with few pending bytes: they are written to the replay log
   * (tree `intents`) instead of waiting for their segment's PUT.
   */
  readonly intentLog?: {
    /** At most this many pending bytes of one file go through the log (default 256 KiB; 0: off). */
    readonly maxFileBytes?: number;
    /** Bytes held in the log at once at most (default 64 MiB). */
    readonly maxBytes?: number;
  };
  /** Time source in ns since the epoch (tests). */
  readonly clock?: () => bigint;
  readonly logger?: Logger;
}

/**
 * A mounted filesystem. Inode numbers are never reused; `fh` arguments are
 * handles from open()/create() (reads and writes through a handle skip the
 * per-call permission check, like Linux after open). Times are ns bigints.
 */
export interface Filesystem {
  readonly volumeId: string;
  readonly rootIno: number;

  lookup(cred: Cred, parent: number, name: string): Promise<Attr>;
  /** Resolves a "/"-separated path (symlinks followed, at most 40; followLast default true). */
  lookupPath(cred: Cred, path: string, options?: LookupPathOptions): Promise<Attr>;
  /** An inode by number (NFS-style handle); ESTALE when gone. */
  resolveHandle(ino: number): Promise<Attr>;
  getattr(cred: Cred, ino: number): Promise<Attr>;
  setattr(cred: Cred, ino: number, changes: SetAttr, fh?: number): Promise<Attr>;
  /** access(2): mask of MAY_READ | MAY_WRITE | MAY_EXEC (0: existence). */
  access(cred: Cred, ino: number, mask: number): Promise<void>;
  create(cred: Cred, parent: number, name: string, mode: number, options?: CreateFileOptions): Promise<CreateResult>;
  mkdir(cred: Cred, parent: number, name: string, mode: number, options?: CreateOptions): Promise<Attr>;
  /** Regular files, fifos, sockets; char/block devices (root only) as metadata. */
  mknod(cred: Cred, parent: number, name: string, mode: number, rdev?: number, options?: CreateOptions): Promise<Attr>;
  symlink(cred: Cred, parent: number, name: string, target: string): Promise<Attr>;
  readlink(cred: Cred, ino: number): Promise<string>;
  link(cred: Cred, ino: number, newParent: number, newName: string): Promise<Attr>;
  unlink(cred: Cred, parent: number, name: string): Promise<void>;
  rmdir(cred: Cred, parent: number, name: string): Promise<void>;
  rename(cred: Cred, parent: number, name: string, newParent: number, newName: string, flags?: RenameFlags): Promise<void>;
  /** "." and ".." first, then entries in cookie order; continue with the last cookie. */
  readdir(cred: Cred, ino: number, options?: ReadDirOptions): Promise<ReadDirResult>;
  readdirplus(cred: Cred, ino: number, options?: ReadDirOptions): Promise<ReadDirResult>;

  open(cred: Cred, ino: number, flags?: OpenFlags): Promise<OpenResult>;
  release(fh: number): Promise<void>;
  read(cred: Cred, ino: number, offset: number, length: number, fh?: number): Promise<Buffer>;
  /** Returns once the segment writer holds the bytes (durable after fsync); reads see them at once. */
  write(cred: Cred, ino: number, offset: number, data: Uint8Array, fh?: number): Promise<number>;
  /** close(): reports a lost earlier write (EIO) without waiting for durability. */
  flush(ino: number): Promise<void>;
  /** Every acknowledged write of the file is durable when this resolves. */
  /**
   * fsync(2): the file's acknowledged writes are durable when it resolves —
   * through the intent log (the replay log) when they are few, else stored in
   * the object store (flushFile).
   */
  fsync(ino: number): Promise<void>;
  /** Stores the file's pending writes in the object store and commits their extents (fsync may log them instead). */
  flushFile(ino: number): Promise<void>;
  /** Extends the size (unless keepSize); no space to reserve in an object store. */
  fallocate(cred: Cred, ino: number, offset: number, length: number, options?: { keepSize?: boolean; fh?: number }): Promise<Attr>;
  /** Appends the contents of `srcs` to `dst` by sharing their extents (no bytes copied). */
  concatFiles(cred: Cred, dst: number, srcs: readonly number[]): Promise<Attr>;
  /** Makes the empty file `dst` share every extent of `src`. */
  cloneFile(cred: Cred, src: number, dst: number): Promise<Attr>;
  /** Records the object API's ETag for `dataVersion`; false (nothing recorded) when the contents changed since. */
  setEtag(cred: Cred, ino: number, etag: { value: string; dataVersion: number }): Promise<boolean>;
  /** Direct data path: a fresh segment object for the caller to store, then report with wrote(). */
  provisionSegment(): Promise<{ nonce: bigint; container: string; name: string }>;
  /** Commits file ranges of a provisioned segment the caller stored (checked to exist and be long enough). */
  wrote(cred: Cred, ino: number, nonce: bigint, writes: readonly DirectWrite[]): Promise<Attr>;
  /** Starts an upload: a new file whose bytes stream into segments, invisible until commitUpload (object API PUT). */
  beginUpload(cred: Cred): Promise<Upload>;
  /** Makes an upload the file `name` in `parent` in one transaction: inode, extents, xattrs, ETag, entry (replacing a file). */
  commitUpload(cred: Cred, parent: number, name: string, upload: Upload, options?: CommitUploadOptions): Promise<Attr>;
  /** The segment ranges holding a byte range (object API): flushes pending writes first. */
  readPlan(cred: Cred, ino: number, offset: number, length: number): Promise<{ size: number; plan: ReadStep[] }>;

  getxattr(cred: Cred, ino: number, name: string): Promise<Buffer>;
  setxattr(cred: Cred, ino: number, name: string, value: Uint8Array, flags?: SetXattrFlags): Promise<void>;
  listxattr(cred: Cred, ino: number): Promise<string[]>;
  removexattr(cred: Cred, ino: number, name: string): Promise<void>;

  statfs(): Promise<StatFs>;
  /** Counters and gauges for metrics, from memory (no I/O): cheap enough for every scrape. */
  stats(): FilesystemStats;
  /** Writes a headhunter checkpoint now; says what it wrote. */
  checkpoint(): Promise<CheckpointInfo>;
  /** Deletes dead segments the deletion policy allows. */
  reclaimSegments(limit?: number): Promise<ReclaimReport>;

  /** The id of the newest change (a cursor meaning "now"). */
  journalCursor(): Promise<number>;
  /** Changes after `cursor`; CAIRN_ERR_FS_CURSOR_EXPIRED when compaction already dropped some of them. */
  listChanges(cursor: number, options?: ListChangesOptions): Promise<ChangePage>;
  /** Long-poll: true once a change after `cursor` exists, false on timeout. */
  waitForChanges(cursor: number, options?: WaitChangesOptions): Promise<boolean>;
  /** Drops changes older than the horizon (keeping the newest minEntries); returns how many. */
  compactJournal(options?: { horizonMs?: number; minEntries?: number }): Promise<number>;

  /** Starts a segment cleaning pass; CAIRN_ERR_FS_BUSY while one runs. */
  startCleaner(options?: CleanOptions): CleanerJob;
  /** One cleaning pass to its end (the management API's "clean" job). */
  clean(options?: CleanOptions): Promise<CleanReport>;
  /** Deletes segment objects no metadata references (the "orphan-sweep" job). */
  sweepOrphans(options?: SweepOptions): Promise<SweepReport>;
  /** Checks (options.repair: and fixes) every invariant while the volume serves (the "fsck" job); unmount cancels it. */
  fsck(options?: FsckOptions): Promise<FsckReport>;
  /** Verifies that the data the metadata points at is stored (the "scrub" job); unmount cancels it. */
  scrub(options?: ScrubOptions): Promise<ScrubReport>;

  /**
   * Snapshot `name` of the volume as of now (pending writes made durable
   * first); CAIRN_ERR_INVALID_ARGUMENT for a bad name, CAIRN_ERR_META_SNAPSHOT_EXISTS when taken.
   */
  createSnapshot(name: string): Promise<SnapshotInfo>;
  listSnapshots(): Promise<SnapshotInfo[]>;
  /** CAIRN_ERR_META_SNAPSHOT_NOT_FOUND when there is none; its space goes at the next reclaimSegments. */
  deleteSnapshot(name: string): Promise<void>;
  /** Read-only access to a snapshot's contents; close() the handle when done. */
  openSnapshot(name: string): Promise<SnapshotFs>;

  /** Waits for running operations, makes every write durable, checkpoints, closes. */
  unmount(): Promise<void>;
}

/** Formats a new filesystem volume in `store` (fails with CAIRN_ERR_META_ALREADY_FORMATTED if one exists). */
export function formatFilesystem(options: FormatFilesystemOptions): Promise<{ volumeId: string }> {
  return format(options);
}

/** Mounts a formatted volume (replays its log, finishes what a crash left). */
export async function mountFilesystem(options: MountOptions): Promise<Filesystem> {
  return new FilesystemImpl(await mount(options));
}
export {
  fsck, FSCK_PROBLEM_KINDS, LOST_FOUND,
  type FsckCounts, type FsckLeaks, type FsckOptions, type FsckPhase, type FsckProblem, type FsckProblemKind, type FsckProgress, type FsckReport,
} from './fsck.js';
export { scrub, SCRUB_PROBLEM_KINDS, type ScrubOptions, type ScrubProblem, type ScrubProblemKind, type ScrubProgress, type ScrubReport } from './scrub.js';
