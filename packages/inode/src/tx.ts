// FsTx: one filesystem transaction over a headhunter Txn. Every namespace
// operation is one FsTx: it reads the newest state, checks, writes, and
// appends its journal entries, all synchronously and atomically (headhunter
// may run the function again when it needs nodes from the store, so nothing
// here has side effects outside the Txn). The meta record (counters) is read
// once and written back at the end when it changed.

import { cairnError } from '@cairn/errors';
import type { Txn } from '@cairn/headhunter';
import { FIRST_ENTRY_COOKIE, S_IFMT, TREES } from './format.js';
import {
  compact, deadSegCodec, dircookieCodec, dircookieKey, direntCodec, direntKey, direntRange, inodeCodec, inodeKey, journalCodec, journalKey,
  META_KEY, metaCodec, nonceKey, orphanCodec, orphanKey, segmentCodec,
  type DirentRec, type InodeRec, type JournalRec, type MetaRec, type OrphanRec, type SegmentRec,
} from './records.js';

/** Things the transaction needs from outside that must stay fixed across reruns. */
export interface TxEnv {
  /** Commit time, ns. */
  readonly now: bigint;
  /** Newest published checkpoint number (recorded with dead segments). */
  readonly checkpointSeq: number;
}

export class FsTx {
  private meta: MetaRec | undefined;
  private metaDirty = false;
  /** Journal entries written, with their ids (for waiters). */
  readonly journaled: Array<{ jid: number; rec: JournalRec }> = [];
  /** Inodes whose nlink reached 0 in this transaction. */
  readonly unlinked: number[] = [];

  constructor(readonly tx: Txn, readonly env: TxEnv) {}

  get now(): bigint {
    return this.env.now;
  }

  // ---- meta ------------------------------------------------------------------

  getMeta(): MetaRec {
    if (this.meta === undefined) {
      const b = this.tx.get(TREES.meta, META_KEY);
      if (b === undefined) throw cairnError('CAIRN_ERR_FS_IO', 'the volume has no filesystem meta record (not formatted by formatFilesystem?)');
      this.meta = metaCodec.decode(b);
    }
    return this.meta;
  }

  setMeta(patch: Partial<MetaRec>): void {
    this.meta = { ...this.getMeta(), ...patch };
    this.metaDirty = true;
  }

  /** Initializes the meta record (format only). */
  initMeta(meta: MetaRec): void {
    this.meta = meta;
    this.metaDirty = true;
  }

  /** A new inode number (never reused). */
  allocIno(): number {
    const m = this.getMeta();
    this.setMeta({ nextIno: m.nextIno + 1 });
    return m.nextIno;
  }

  /** Writes the meta record back if it changed; called once at the end. */
  finish(): void {
    if (this.metaDirty && this.meta !== undefined) this.tx.put(TREES.meta, META_KEY, metaCodec.encode(this.meta));
  }

  // ---- inodes -----------------------------------------------------------------

  inode(ino: number): InodeRec | undefined {
    const b = this.tx.get(TREES.inodes, inodeKey(ino));
    return b === undefined ? undefined : inodeCodec.decode(b);
  }

  /** The inode, or ESTALE (a handle to an inode that is gone). */
  mustInode(ino: number): InodeRec {
    const r = this.inode(ino);
    if (r === undefined) throw cairnError('CAIRN_ERR_FS_STALE', `inode ${ino}`);
    return r;
  }

  /** The inode a directory entry names: a missing one is corruption. */
  entryInode(dir: number, name: string, e: DirentRec): InodeRec {
    const r = this.inode(e.ino);
    if (r === undefined) throw cairnError('CAIRN_ERR_FS_IO', `entry ${dir}/${name} names missing inode ${e.ino}`);
    return r;
  }

  /** Writes an inode; bumps its change counter. */
  putInode(ino: number, rec: InodeRec): InodeRec {
    const out = compact({ ...rec, change: rec.change + 1 });
    this.tx.put(TREES.inodes, inodeKey(ino), inodeCodec.encode(out));
    return out;
  }

  /** Writes an inode exactly as given (no change bump). */
  putInodeRaw(ino: number, rec: InodeRec): void {
    this.tx.put(TREES.inodes, inodeKey(ino), inodeCodec.encode(compact(rec)));
  }

  delInode(ino: number): void {
    this.tx.del(TREES.inodes, inodeKey(ino));
  }

  // ---- directory entries --------------------------------------------------------

  dirent(dir: number, name: string): DirentRec | undefined {
    const b = this.tx.get(TREES.dirents, direntKey(dir, name));
    return b === undefined ? undefined : direntCodec.decode(b);
  }

  /** True when the directory has at least one entry. */
  hasEntries(dir: number): boolean {
    return this.tx.scan(TREES.dirents, { ...direntRange(dir), limit: 1 }).length > 0;
  }

  private putEntry(dir: number, name: string, e: DirentRec): void {
    this.tx.put(TREES.dirents, direntKey(dir, name), direntCodec.encode(e));
    this.tx.put(TREES.dircookies, dircookieKey(dir, e.cookie), dircookieCodec.encode({ name, ino: e.ino, type: e.type }));
  }

  /**
   * Adds name -> ino to directory `dir` (whose record is `dirRec`) with a new
   * cookie; returns the directory record with the cookie counter advanced and
   * its size (the number of entries, "." and ".." not counted) one up (the
   * caller writes it).
   */
  addEntry(dir: number, dirRec: InodeRec, name: string, ino: number, mode: number): InodeRec {
    const cookie = dirRec.nextCookie ?? FIRST_ENTRY_COOKIE;
    this.putEntry(dir, name, { ino, type: mode & S_IFMT, cookie });
    return { ...dirRec, nextCookie: cookie + 1, size: dirRec.size + 1 };
  }

  /** Points an existing entry at another inode, keeping its cookie. */
  replaceEntry(dir: number, name: string, old: DirentRec, ino: number, mode: number): void {
    this.putEntry(dir, name, { ino, type: mode & S_IFMT, cookie: old.cookie });
  }

  /** Moves an entry to a new name in the same directory, keeping its cookie (a target entry must be removed first). */
  renameEntry(dir: number, from: string, e: DirentRec, to: string): void {
    this.tx.del(TREES.dirents, direntKey(dir, from));
    this.putEntry(dir, to, e);
  }

  /** Removes an entry; returns the directory record with its size one down (the caller writes it). */
  removeEntry(dir: number, dirRec: InodeRec, name: string, e: DirentRec): InodeRec {
    this.tx.del(TREES.dirents, direntKey(dir, name));
    this.tx.del(TREES.dircookies, dircookieKey(dir, e.cookie));
    return { ...dirRec, size: Math.max(0, dirRec.size - 1) };
  }

  // ---- orphans --------------------------------------------------------------------

  orphan(ino: number, kind: OrphanRec['kind']): OrphanRec | undefined {
    const b = this.tx.get(TREES.orphans, orphanKey(ino, kind));
    return b === undefined ? undefined : orphanCodec.decode(b);
  }

  putOrphan(ino: number, rec: OrphanRec): void {
    this.tx.put(TREES.orphans, orphanKey(ino, rec.kind), orphanCodec.encode(compact(rec)));
  }

  delOrphan(ino: number, kind: OrphanRec['kind']): void {
    this.tx.del(TREES.orphans, orphanKey(ino, kind));
  }

  /** Drops one link of an inode; at nlink 0 it becomes an orphan (its data goes once nobody has it open). */
  dropLink(ino: number, rec: InodeRec, isDir: boolean): InodeRec {
    const nlink = isDir ? 0 : Math.max(0, rec.nlink - 1);
    const out = this.putInode(ino, { ...rec, nlink, ctime: this.now });
    if (nlink === 0) {
      this.putOrphan(ino, { kind: 'unlinked', since: this.now });
      this.unlinked.push(ino);
    }
    return out;
  }

  // ---- segments -----------------------------------------------------------------------

  segment(nonce: bigint): SegmentRec | undefined {
    const b = this.tx.get(TREES.segments, nonceKey(nonce));
    return b === undefined ? undefined : segmentCodec.decode(b);
  }

  putSegment(nonce: bigint, rec: SegmentRec): void {
    this.tx.put(TREES.segments, nonceKey(nonce), segmentCodec.encode(rec));
  }

  /**
   * Applies live-byte changes to segment records and the volume totals. A
   * segment whose live bytes reach 0 (and that is not `keep`, the segment
   * being committed) moves to `deadsegs`, a deletion candidate.
   */
  applySegmentDeltas(deltas: ReadonlyMap<bigint, number>, keep?: bigint): void {
    let liveChange = 0;
    for (const [nonce, d] of deltas) {
      if (d === 0) continue;
      const rec = this.segment(nonce);
      if (rec === undefined) throw cairnError('CAIRN_ERR_FS_IO', `extent references unknown segment ${nonce}`);
      const live = rec.live + d;
      if (live < 0) throw cairnError('CAIRN_ERR_FS_IO', `segment ${nonce} live bytes would become ${live}`);
      liveChange += d;
      if (live === 0 && nonce !== keep) this.killSegment(nonce, rec);
      else this.putSegment(nonce, { ...rec, live });
    }
    if (liveChange !== 0) this.setMeta({ liveBytes: this.getMeta().liveBytes + liveChange });
  }

  /** Moves a segment with no live bytes to the deletion candidates. */
  killSegment(nonce: bigint, rec: SegmentRec): void {
    this.tx.del(TREES.segments, nonceKey(nonce));
    this.tx.put(TREES.deadsegs, nonceKey(nonce), deadSegCodec.encode({
      container: rec.container, size: rec.size, died: Number(this.now / 1_000_000n), checkpoint: this.env.checkpointSeq,
    }));
  }

  // ---- journal ----------------------------------------------------------------------

  /** Appends a change-journal entry; returns its id. */
  journal(rec: Omit<JournalRec, 'time'>): number {
    const m = this.getMeta();
    const jid = m.nextJid;
    const full = compact({ ...rec, time: this.now }) as JournalRec;
    this.tx.put(TREES.journal, journalKey(jid), journalCodec.encode(full));
    this.setMeta({ nextJid: jid + 1 });
    this.journaled.push({ jid, rec: full });
    return jid;
  }

  /** Journal entry carrying an inode's new attributes. */
  journalInode(kind: JournalRec['kind'], ino: number, rec: InodeRec | undefined, where: Partial<Pick<JournalRec, 'parent' | 'name' | 'newParent' | 'newName'>> = {}): number {
    return this.journal({
      kind, ino, ...where,
      ...(rec !== undefined ? { mode: rec.mode, uid: rec.uid, gid: rec.gid, size: rec.size, nlink: rec.nlink, mtime: rec.mtime } : {}),
    });
  }
}
