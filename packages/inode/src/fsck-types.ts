// Public types of fsck (re-exported by fsck.ts): options, progress, the report
// and the kinds of problems it names. docs/operations.md "fsck and scrub"
// describes each kind and what repair does about it.

/**
 * What fsck can find. Each kind names one broken invariant of
 * docs/architecture.md "Invariants (what fsck checks)".
 */
export const FSCK_PROBLEM_KINDS = [
  /** A record that does not decode (its tree and key in the message). */
  'bad-record',
  /** The meta record is missing or unreadable. */
  'meta',
  /** The root inode is missing or not a directory. */
  'root',
  /** An entry in a directory that does not exist or is not a directory. */
  'dirent-dir',
  /** An entry naming an inode that does not exist. */
  'dirent-dangling',
  /** An entry whose type bits differ from its inode's. */
  'dirent-type',
  /** An entry without its `dircookies` record (missing or different). */
  'dirent-cookie',
  /** A `dircookies` record without its entry. */
  'cookie-orphan',
  /** Two entries of a directory with one cookie. */
  'cookie-duplicate',
  /** A cookie below 3 or not below the directory's nextCookie. */
  'cookie-range',
  /** A link count that differs from the entries (directories: 2 + subdirectories). */
  'nlink',
  /** A directory whose size is not its number of entries. */
  'dir-size',
  /** A directory whose `parent` is not the directory naming it (the root's: itself). */
  'dir-parent',
  /** A directory named by more than one entry, or the root named by one. */
  'dir-links',
  /** An inode no path from the root reaches that is not a recorded open-unlinked orphan. */
  'unreachable',
  /** An orphan record of a missing inode, or an 'unlinked' one of an inode with links. */
  'orphan-stale',
  /** Extents of a missing inode or of one that is not a regular file. */
  'extent-inode',
  /** Two extents of a file that overlap. */
  'extent-overlap',
  /** An extent ending past the file's size (no truncate pending). */
  'extent-past-size',
  /** An extent naming a segment that is not live (dead or unknown). */
  'extent-segment',
  /** An extent reaching past its segment's data bytes. */
  'extent-segment-range',
  /** A segment whose live bytes differ from the sum of the extents naming it. */
  'segment-live',
  /** A segment recorded both live and dead. */
  'segment-dead',
  /** A segment recorded in another container than the volume's layout puts it. */
  'segment-container',
  /** The meta record's liveBytes differs from the sum over segments. */
  'meta-live-bytes',
  /** The meta record's storedBytes differs from the sum over live and dead segments. */
  'meta-stored-bytes',
  /** The meta record's nextIno is not above every inode number. */
  'meta-next-ino',
  /** Journal ids outside [journalFloor, nextJid). */
  'journal-range',
  /** Journal ids missing between journalFloor and nextJid. */
  'journal-gap',
  /** Extended attributes of an inode that does not exist. */
  'xattr-inode',
  /** A headhunter tree invariant (check()) does not hold. */
  'tree',
] as const;

export type FsckProblemKind = (typeof FSCK_PROBLEM_KINDS)[number];

/** One problem fsck found. */
export interface FsckProblem {
  readonly kind: FsckProblemKind;
  /** What is wrong, in words. */
  readonly message: string;
  /** The inode concerned (for entries: the inode the entry names). */
  readonly ino?: number;
  /** A path to it ("/a/b"; "<inode 17>/b" below a directory no path reaches) when one is known. */
  readonly path?: string;
  /** The segment concerned: its nonce in decimal (a string, so that reports go through JSON). */
  readonly nonce?: string;
  /** True when repair knows how to fix it. */
  readonly repairable: boolean;
  /** After a repair: true when its fix was applied (false: skipped, failed or not repairable). */
  readonly repaired?: boolean;
}

/** Phases reported through onProgress. */
export type FsckPhase = 'scan' | 'trees' | 'segments' | 'repair';

export interface FsckProgress {
  readonly phase: FsckPhase;
  /** 1 for the first check; repair adds one verifying check per round. */
  readonly pass: number;
  /** Items done and the total of this phase (records scanned, fixes applied, objects listed). */
  readonly done: number;
  readonly total: number;
  /** Problems found so far in this pass. */
  readonly problems: number;
}

export interface FsckOptions {
  /** Fix what can be fixed (crash-safe transactions that re-check before they write), then check again. */
  readonly repair?: boolean;
  /** Called every few thousand items and at the end of each phase. */
  readonly onProgress?: (p: FsckProgress) => void;
  /** Stops the run (CAIRN_ERR_CANCELED). */
  readonly signal?: AbortSignal;
  /** Run headhunter's check() of every tree (default true). */
  readonly checkTrees?: boolean;
  /** List the data containers for segment objects no record names (an orphan sweep's dry run; default true). */
  readonly findLeaks?: boolean;
  /** A leaked segment object must be at least this old to count (and to be deleted by repair); default 600 000 ms. */
  readonly leakGraceMs?: number;
  /** Problems listed in the report at most (default 10 000; all are counted and repaired). */
  readonly maxProblems?: number;
  /** Repair rounds at most (each one a repair and a verifying check; default 4). */
  readonly maxRounds?: number;
}

/** What one check counted. */
export interface FsckCounts {
  readonly inodes: number;
  readonly directories: number;
  readonly files: number;
  readonly entries: number;
  readonly extents: number;
  readonly segments: number;
  readonly deadSegments: number;
  readonly xattrs: number;
  readonly orphans: number;
  readonly journal: number;
  /** Bytes referenced by extents. */
  readonly liveBytes: number;
}

/** Segment objects in the data containers that no record names (space a crash or a failed upload left). */
export interface FsckLeaks {
  readonly segments: number;
  readonly bytes: number;
  /** The first 100 nonces, in decimal. */
  readonly nonces: string[];
  /** Segment objects not examined further because they are newer than leakGraceMs or a writer holds them (a commit may still name them). */
  readonly recent: number;
  /** Deleted by repair. */
  readonly deleted: number;
}

export interface FsckReport {
  /** True when the last check found no problem. */
  readonly ok: boolean;
  /** Problems the first check found (at most maxProblems; repaired set after a repair). */
  readonly problems: FsckProblem[];
  /** How many problems the first check found. */
  readonly problemCount: number;
  /** Problems the last check found (the same as problems without repair). */
  readonly remaining: FsckProblem[];
  readonly remainingCount: number;
  /** Fixes applied over all repair rounds. */
  readonly repairs: number;
  /** Checks run (1 without repair). */
  readonly passes: number;
  readonly counts: FsckCounts;
  readonly leaks: FsckLeaks;
  /** The headhunter commit the first check read (a consistent view of it). */
  readonly commitSeq: number;
  readonly durationMs: number;
}
