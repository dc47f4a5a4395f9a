// The filesystem operations the object API needs from a volume, in one narrow
// interface. `fromFilesystem` (fs-adapter.ts) binds it to an @cairn/inode
// Filesystem; tests may bind it to a model. Every method throws CairnErrors
// with CAIRN_ERR_FS_* codes (NOT_FOUND, EXISTS, NOT_DIR, IS_DIR, NOT_EMPTY...).
//
// Optional methods are fast paths the filesystem may offer; without them the
// object API falls back to copying bytes (see docs/object-api.md "What the
// filesystem provides").

/** Kinds of directory entries the object API distinguishes. */
export type EntryType = 'file' | 'dir' | 'symlink' | 'other';

/** The attributes the object API uses. */
export interface FsAttr {
  readonly ino: number;
  readonly type: EntryType;
  readonly size: number;
  /** Last data modification, ms since the epoch (may have a fraction). */
  readonly mtimeMs: number;
  /** Changes with every change of the contents (never with metadata-only changes). */
  readonly dataVersion: number;
  readonly nlink: number;
  /**
   * The recorded ETag, when the filesystem returns it with the attributes
   * (null: none recorded); absent: ask getEtag.
   */
  readonly etag?: RecordedEtag | null;
  /** Changes with every change of the inode, its entries included (NFSv4 change attribute), when the filesystem has one. */
  readonly change?: number;
}

export interface FsEntry {
  readonly name: string;
  readonly ino: number;
  readonly type: EntryType;
}

/** Where a segment's bytes live: an object of the volume's object store. */
export interface SegmentObject {
  readonly container: string;
  readonly name: string;
}

/** One step of a read plan: bytes of a segment object, or a hole of zeros. */
export type FsPlanStep =
  | { readonly object: SegmentObject; readonly offset: number; readonly length: number }
  | { readonly zero: number };

/** An ETag recorded for an inode, valid while its dataVersion is unchanged. */
export interface RecordedEtag {
  readonly value: string;
  readonly dataVersion: number;
}

/** An open file: reads and writes by offset; always close it. */
export interface FsFile {
  readonly ino: number;
  read(offset: number, length: number): Promise<Buffer>;
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Makes every write durable (fsync). */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** One entry of the filesystem's change journal (what container totals need). */
export interface FsChange {
  /** create, mkdir, mknod, symlink, link, unlink, rmdir, rename, exchange, setattr, write, truncate, xattr. */
  readonly kind: string;
  readonly ino: number;
  readonly parent?: number;
  readonly newParent?: number;
  /** The inode's mode, size and link count after the change (absent when it went away). */
  readonly mode?: number;
  readonly size?: number;
  readonly nlink?: number;
}

/** What an upload's commit writes with the new file. */
export interface UploadCommit {
  /** Extended attributes of the new file (object metadata). */
  readonly xattrs: Readonly<Record<string, Uint8Array>>;
  /** ETag to record for the new contents. */
  readonly etag?: string;
  /** Fail with CAIRN_ERR_FS_EXISTS when the name exists (otherwise a file there is replaced). */
  readonly noReplace?: boolean;
}

/**
 * A new file being written whole, invisible until commit(): the bytes and the
 * metadata become visible together in one filesystem operation.
 */
export interface FsUpload {
  /** Appends bytes; they are copied by the time the promise settles (the caller may then reuse `data`). */
  write(data: Uint8Array): Promise<void>;
  /**
   * Makes the file `name` in directory `dir` (replacing a file there) once its
   * bytes are durable. A directory there is CAIRN_ERR_FS_IS_DIR; a missing
   * `dir` CAIRN_ERR_FS_NOT_FOUND or _STALE. After a refusal the upload may be
   * committed again or aborted.
   */
  commit(dir: number, name: string, o: UploadCommit): Promise<FsAttr>;
  /** Drops the upload (idempotent; nothing becomes visible). */
  abort(): Promise<void>;
}

export interface VolumeFs {
  /** Volume name (logs, X-Cairn-Volume-Name). */
  readonly name: string;
  /** Inode number of the root directory. */
  readonly rootIno: number;

  getattr(ino: number): Promise<FsAttr>;
  lookup(dir: number, name: string): Promise<FsAttr>;
  mkdir(dir: number, name: string): Promise<FsAttr>;
  /** Creates a regular file; fails with CAIRN_ERR_FS_EXISTS when the name exists. */
  createFile(dir: number, name: string): Promise<FsAttr>;
  open(ino: number, mode: { read?: boolean; write?: boolean }): Promise<FsFile>;
  /** Every entry of a directory but "." and "..", in no particular order. */
  readdir(dir: number): AsyncIterable<FsEntry>;
  /**
   * Renames, replacing a file (or an empty directory by a directory) at the
   * target; with noReplace, fails with CAIRN_ERR_FS_EXISTS when the target exists.
   */
  rename(srcDir: number, srcName: string, dstDir: number, dstName: string, flags?: { readonly noReplace?: boolean }): Promise<void>;
  unlink(dir: number, name: string): Promise<void>;
  rmdir(dir: number, name: string): Promise<void>;
  setMtime(ino: number, mtimeMs: number): Promise<void>;

  getxattr(ino: number, name: string): Promise<Buffer | undefined>;
  setxattr(ino: number, name: string, value: Uint8Array): Promise<void>;
  removexattr(ino: number, name: string): Promise<void>;
  listxattr(ino: number): Promise<string[]>;

  /** The ETag the object API recorded, if any (with the dataVersion it was recorded at). */
  getEtag(ino: number): Promise<RecordedEtag | undefined>;
  /** Records an ETag valid for `dataVersion`. */
  setEtag(ino: number, etag: RecordedEtag): Promise<void>;

  /** The read plan of [offset, offset+length) of a file (holes as zero steps). */
  readPlan(ino: number, offset: number, length: number): Promise<FsPlanStep[]>;

  /** Volume totals for account HEAD. */
  usage(): Promise<{ readonly files: number; readonly bytes: number }>;

  // ---- optional fast paths --------------------------------------------------------

  /** Makes `dst` (an empty file) share all extents of `src` (server-side COPY without copying bytes). */
  cloneFile?(src: number, dst: number): Promise<void>;
  /** Appends the extents of `srcs`, in order, to `dst` (COALESCE of multipart/SLO parts). */
  concatFiles?(dst: number, srcs: readonly number[]): Promise<void>;
  /** A new file whose bytes and metadata are committed in one operation (PUT without a temporary file). */
  beginUpload?(): Promise<FsUpload>;
  /** The id of the newest change (container totals are kept current from the journal). */
  journalCursor?(): Promise<number>;
  /** Changes after `cursor`; CAIRN_ERR_FS_CURSOR_EXPIRED when some were dropped already. */
  listChanges?(cursor: number, limit: number): Promise<{ readonly changes: readonly FsChange[]; readonly cursor: number; readonly more: boolean }>;
}
