// The state of one mounted filesystem shared by the topic modules (namei,
// dir, rename, attrs, xattr, data, reclaim, journal): the headhunter volume,
// the segment writer, the read cache, and what lives only in memory (open
// handles, pending write times, per-inode locks). Not exported by the package.

import { cairnError } from '@cairn/errors';
import type { Headhunter, ReadView, TreeReader } from '@cairn/headhunter';
import type { ObjectStore } from '@cairn/objstore';
import type { ReplayLog } from '@cairn/replaylog';
import type { ReadCache, SegmentLocator, SegmentWriter } from '@cairn/segments';
import type { Logger } from 'pino';
import { TREES } from './format.js';
import { IntentLog } from './intents.js';
import { KeyedMutex, TaskSet } from './locks.js';
import { DecodedRecords, FsTx } from './tx.js';
import type { Cred } from './types.js';

export interface ResolvedOptions {
  readonly atime: 'relatime' | 'noatime';
  readonly capacityBytes: number;
  readonly maxInodes: number;
  readonly journalMinEntries: number;
  readonly journalHorizonMs: number;
  /** 0 disables the timer. */
  readonly journalCompactIntervalMs: number;
  /** 0 disables the timer. */
  readonly segmentReclaimIntervalMs: number;
  readonly retainCheckpoints: number;
  readonly clock: () => bigint;
  /** fsync through the intent log up to this many pending bytes of a file (0: never). */
  readonly intentMaxFileBytes: number;
  /** Bytes the intent log holds at most (beyond: fsync flushes segments). */
  readonly intentMaxBytes: number;
}

/** An open file handle. */
export interface Handle {
  readonly ino: number;
  readonly cred: Cred;
  readonly read: boolean;
  readonly write: boolean;
  readonly append: boolean;
}

/** Times of writes not yet committed (read-your-writes for getattr; the commit writes them). */
export interface DirtyTimes {
  /** undefined after an explicit mtime set (utimes) since the last write. */
  mtime: bigint | undefined;
  ctime: bigint;
}

export class Vol {
  /** Per-inode lock of the data path (write, truncate, fallocate, concat/clone, wrote). */
  readonly gate = new KeyedMutex<number>();
  /** Background work (atime updates, reclaims) that unmount waits for. */
  readonly tasks = new TaskSet();
  readonly handles = new Map<number, Handle>();
  /** Open handles per inode. */
  readonly opens = new Map<number, number>();
  readonly dirty = new Map<number, DirtyTimes>();
  /** Per inode, a value that changes whenever its extent map changes (readers retry on a change). */
  readonly extentGen = new Map<number, number>();
  /** write() calls between noting their times and the writer holding the bytes (dirty entries stay). */
  readonly writing = new Map<number, number>();
  /** Reads in progress per inode (extentGen entries stay while any runs). */
  readonly readers = new Map<number, number>();
  /** Write failures per inode not yet reported by flush/fsync. */
  readonly writeErrors = new Map<number, Error>();
  /** Inodes with an atime update under way. */
  readonly atimePending = new Set<number>();
  /** Inodes whose data is being reclaimed now. */
  readonly reclaiming = new Set<number>();
  /**
   * Inodes whose last link went while they were open: the release of their
   * last handle reclaims them. Any other release has nothing to reclaim, and
   * skips the transaction that would find that out.
   */
  readonly openOrphans = new Set<number>();
  /** Woken after every commit that wrote journal entries. */
  readonly journalWaiters = new Set<() => void>();
  /**
   * Per inode with content changes not yet reflected in its durable record:
   * the highest dataVersion handed out (noteDataChange). Never below the
   * durable value while present; dropped once that caught up.
   */
  readonly dataVersions = new Map<number, number>();
  /** Views of snapshot-handle calls running now: their segments are kept like a snapshot's (a deleted snapshot's too). */
  readonly snapshotViews = new Set<ReadView>();
  /** Snapshot handles open (openSnapshot). */
  openSnapshots = 0;
  /** Called after a commit left an inode with nlink 0 (reclaims it unless open). */
  onUnlinked: (ino: number) => Promise<void> = async () => {};
  /** The live inode and entry trees: one get reads one commit, no view needed (reader.ts readInode/readDirent). */
  readonly liveInodes: TreeReader;
  readonly liveDirents: TreeReader;
  /** Decoded inode and meta records of recent transactions (tx.ts DecodedRecords). */
  readonly decoded = new DecodedRecords();
  /** fsync of few pending bytes through the replay log (intents.ts). */
  readonly intents: IntentLog;
  /**
   * Files whose record's dataVersion already counts their pending bytes (a
   * small upload, upload.ts; an fsync through the intent log, intents.ts): their
   * segment commit and getattr keep it (until another content change).
   */
  readonly settledContent = new Set<number>();
  /** Small uploads committing now: a segment commit of their bytes waits until the file exists. */
  readonly creating = new Map<number, Promise<unknown>>();
  private nextFh = 1;
  private genCounter = 0;
  closed = false;

  constructor(
    readonly hh: Headhunter,
    readonly store: ObjectStore,
    readonly writer: SegmentWriter,
    readonly cache: ReadCache,
    readonly log: ReplayLog,
    readonly logger: Logger,
    readonly o: ResolvedOptions,
    readonly volumeId: string,
    readonly locate: SegmentLocator,
  ) {
    this.intents = new IntentLog(o.intentMaxFileBytes, o.intentMaxBytes);
    this.liveInodes = hh.tree(TREES.inodes);
    this.liveDirents = hh.tree(TREES.dirents);
  }

  now(): bigint {
    return this.o.clock();
  }

  /** Throws CAIRN_ERR_CLOSED once unmount started (every API call checks first). */
  checkOpen(): void {
    if (this.closed) throw cairnError('CAIRN_ERR_CLOSED', `filesystem ${this.volumeId}`);
  }

  /**
   * Runs fn as one atomic, durable transaction (fn may run more than once;
   * keep it free of side effects). After the commit: wakes journal waiters,
   * reclaims inodes whose last link went (unless open).
   */
  async tx<T>(fn: (t: FsTx) => T): Promise<T> {
    const now = this.now();
    const hh = this.hh;
    const env = {
      now,
      decoded: this.decoded,
      get checkpointSeq(): number {
        return hh.stats().checkpoint.seq;
      },
    };
    const { result } = await hh.transact((tx) => {
      const t = new FsTx(tx, env);
      const r = fn(t);
      t.finish();
      return { r, journaled: t.journaled.length, unlinked: t.unlinked };
    });
    if (result.journaled > 0) this.wakeJournal();
    for (const ino of result.unlinked) {
      if (this.isOpen(ino)) this.openOrphans.add(ino);
      else await this.onUnlinked(ino);
    }
    return result.r;
  }

  wakeJournal(): void {
    for (const w of [...this.journalWaiters]) w();
  }

  isOpen(ino: number): boolean {
    return (this.opens.get(ino) ?? 0) > 0;
  }

  addHandle(h: Handle): number {
    const fh = this.nextFh++;
    this.handles.set(fh, h);
    this.opens.set(h.ino, (this.opens.get(h.ino) ?? 0) + 1);
    return fh;
  }

  /** Removes a handle; returns its inode and whether that was the inode's last handle. */
  dropHandle(fh: number): { ino: number; last: boolean } {
    const h = this.handles.get(fh);
    if (h === undefined) throw cairnError('CAIRN_ERR_FS_BAD_HANDLE', String(fh));
    this.handles.delete(fh);
    const n = (this.opens.get(h.ino) ?? 1) - 1;
    if (n <= 0) this.opens.delete(h.ino);
    else this.opens.set(h.ino, n);
    return { ino: h.ino, last: n <= 0 };
  }

  /** The handle `fh` if it is open on `ino`. */
  handleFor(fh: number | undefined, ino: number): Handle | undefined {
    if (fh === undefined) return undefined;
    const h = this.handles.get(fh);
    if (h === undefined || h.ino !== ino) throw cairnError('CAIRN_ERR_FS_BAD_HANDLE', `${fh} (inode ${ino})`);
    return h;
  }

  /** Notes that the extent map of `ino` changed. */
  bumpExtents(ino: number): void {
    this.extentGen.set(ino, ++this.genCounter);
  }

  extentsVersion(ino: number): number {
    return this.extentGen.get(ino) ?? 0;
  }

  /**
   * Forgets in-memory write state of an inode with no pending writes (none but
   * those of segment `committed`, whose commit just wrote them into the record).
   */
  pruneIfClean(ino: number, committed?: bigint): boolean {
    if (this.writing.has(ino)) return false;
    const pending = this.writer.pendingExtents(BigInt(ino));
    if (pending.length > 0 && (committed === undefined || pending.some((e) => e.nonce !== committed))) return false;
    this.dirty.delete(ino);
    if (!this.readers.has(ino)) this.extentGen.delete(ino);
    return true;
  }

  /**
   * A content change of `ino` (write, truncate, fallocate, a lost write):
   * hands out a dataVersion above every value shown or stored before.
   * `durable` is the record's value as the caller read it; commits raise the
   * tracked value to what they store (committedDataVersion), so the two together
   * bound everything seen so far.
   */
  noteDataChange(ino: number, durable: number): number {
    const next = Math.max(this.dataVersions.get(ino) ?? 0, durable) + 1;
    this.dataVersions.set(ino, next);
    return next;
  }

  /**
   * Inside a transaction that makes pending content durable (a segment
   * commit): the dataVersion to store, at least every value handed out (the
   * contents readers saw do not change). Reruns are harmless.
   */
  committedDataVersion(ino: number, durable: number): number {
    const h = this.dataVersions.get(ino);
    // Settled: the record already counts the pending bytes; only changes noted since (h) move it.
    const next = this.settledContent.has(ino) ? Math.max(durable, h ?? 0) : Math.max(durable + 1, h ?? 0);
    if (h !== undefined) this.dataVersions.set(ino, next);
    return next;
  }

  /**
   * Inside a transaction that changes the contents itself (truncate,
   * fallocate): a dataVersion above the record's and every value handed out.
   * Reruns only make it larger.
   */
  changedDataVersion(ino: number, durable: number): number {
    const h = this.dataVersions.get(ino);
    const next = Math.max(durable, h ?? 0) + 1;
    if (h !== undefined) this.dataVersions.set(ino, next);
    return next;
  }

  /**
   * The dataVersion getattr shows: the durable one, or while content changes
   * are not yet durable the highest handed out (one more than the durable
   * one when none was). Drops the tracked value once the record caught up.
   */
  shownDataVersion(ino: number, durable: number, pending: boolean): number {
    const h = this.dataVersions.get(ino);
    if (h === undefined) return pending && !this.settledContent.has(ino) ? durable + 1 : durable;
    if (!pending && h <= durable && !this.writing.has(ino)) {
      this.dataVersions.delete(ino);
      return durable;
    }
    return Math.max(h, durable);
  }

  /** Runs a read of `ino` (pruneIfClean keeps its extent version meanwhile). */
  async reading<T>(ino: number, fn: () => Promise<T>): Promise<T> {
    this.readers.set(ino, (this.readers.get(ino) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      const n = (this.readers.get(ino) ?? 1) - 1;
      if (n <= 0) this.readers.delete(ino);
      else this.readers.set(ino, n);
    }
  }
}
