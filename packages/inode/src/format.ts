// Every persistent-format constant and every limit of the filesystem layer, in
// one place. The record layouts are described in docs/formats.md
// ("Filesystem records"); the semantics in docs/architecture.md ("Filesystem
// (inode layer)"). Record versions are never reused: a changed layout gets the
// next number.

/** Layout version of the whole filesystem (the `meta` record's `format`). */
export const FS_FORMAT_VERSION = 1;

/** The headhunter trees of a filesystem volume. */
export const TREES = {
  meta: 'meta',
  inodes: 'inodes',
  dirents: 'dirents',
  dircookies: 'dircookies',
  extents: 'extents',
  segments: 'segments',
  deadsegs: 'deadsegs',
  xattrs: 'xattrs',
  orphans: 'orphans',
  journal: 'journal',
  intents: 'intents',
} as const;

export const TREE_NAMES: readonly string[] = Object.values(TREES);

/** Record tags (one per record type; docs/formats.md lists them). */
export const TAG = {
  meta: 1,
  inode: 2,
  dirent: 3,
  dircookie: 4,
  extent: 5,
  segment: 6,
  deadseg: 7,
  xattr: 8,
  orphan: 9,
  journal: 10,
  intent: 11,
} as const;

/** Inode number of the root directory. Inode numbers start here and are never reused. */
export const ROOT_INO = 1;

// ---- st_mode bits (Linux values) --------------------------------------------

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_ISVTX = 0o1000;
/** Permission bits with setuid, setgid and sticky. */
export const PERM_MASK = 0o7777;

// ---- readdir cookies ------------------------------------------------------------

/** Cookie of "." (readdir lists it first). */
export const COOKIE_DOT = 1;
/** Cookie of "..". */
export const COOKIE_DOTDOT = 2;
/** First cookie a directory entry gets; each directory counts up from here. */
export const FIRST_ENTRY_COOKIE = 3;

// ---- limits --------------------------------------------------------------------

/** Longest name, UTF-8 bytes (NAME_MAX). */
export const NAME_MAX = 255;
/** Longest path lookupPath accepts, bytes (PATH_MAX). */
export const PATH_MAX = 4096;
/** Longest symlink target, bytes. */
export const SYMLINK_MAX = 4095;
/** Symlinks followed by one path lookup (Linux MAXSYMLINKS). */
export const MAX_SYMLINKS = 40;
/** Most hard links of an inode (ext4's limit). */
export const LINK_MAX = 65000;
/** Longest xattr name, bytes (XATTR_NAME_MAX). */
export const XATTR_NAME_MAX = 255;
/** Largest xattr value, bytes (XATTR_SIZE_MAX). */
export const XATTR_SIZE_MAX = 65536;
/** Largest total of xattr names listed for one inode (XATTR_LIST_MAX). */
export const XATTR_LIST_MAX = 65536;
/** Largest file size (2^50 bytes: offsets stay exact in a double). */
export const MAX_FILE_SIZE = 2 ** 50;
/** Most bytes one read returns (Linux's MAX_RW_COUNT). */
export const MAX_RW_COUNT = 0x7ffff000;
/** Block size reported by getattr and statfs. */
export const BLOCK_SIZE = 4096;

/** headhunter node size the volume is formatted with: one entry may take 1/8, enough for a 64 KiB xattr. */
export const FS_MAX_NODE_BYTES = 1024 * 1024;

// ---- batching --------------------------------------------------------------------

/** Extents (or xattrs) removed per transaction by a truncate or a reclaim. */
export const TRIM_CHUNK = 2048;
/** Files committed per transaction when a segment holds very many files. */
export const FILES_PER_COMMIT = 1024;
/** Journal entries deleted per transaction by compaction. */
export const JOURNAL_COMPACT_CHUNK = 4096;

// ---- defaults ----------------------------------------------------------------------

/** Journal entries kept at least (compaction keeps the newest this many). */
export const DEFAULT_JOURNAL_MIN_ENTRIES = 10_000;
/** Journal entries older than this (ms) are compacted (beyond the minimum kept). */
export const DEFAULT_JOURNAL_HORIZON_MS = 7 * 24 * 3600 * 1000;
/** Capacity statfs reports when none is configured (bytes): 1 PiB. */
export const DEFAULT_CAPACITY_BYTES = 2 ** 50;
/** Inodes statfs reports as the maximum when none is configured. */
export const DEFAULT_MAX_INODES = 2 ** 32;
/** fsync through the intent log: pending bytes of one file at most, and bytes held at once (intents.ts). */
export const DEFAULT_INTENT_MAX_FILE_BYTES = 256 * 1024;
export const DEFAULT_INTENT_MAX_BYTES = 64 * 1024 * 1024;
/** relatime: atime is also updated when it is older than this (ns): one day. */
export const RELATIME_MAX_AGE_NS = 24n * 3600n * 1_000_000_000n;
