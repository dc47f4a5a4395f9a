// FsTx: one filesystem transaction over a headhunter Txn. Every namespace
// operation is one FsTx: it reads the newest state, checks, writes, and
// appends its journal entries, all synchronously and atomically (headhunter
// may run the function again when it needs nodes from the store, so nothing
// here has side effects outside the Txn). The meta record (counters) is read
// once and written back at the end when it changed.

import { cairnError } from '@cairn/errors';
import type { Txn } from '@cairn/headhunter';
import { FIRST_ENTRY_COOKIE, S_IFDIR, S_IFMT, TREES } from './format.js';
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
  /** Decoded inode and meta records shared by the volume's transactions (optional). */
  readonly decoded?: DecodedRecords;
}

/** Inodes remembered by a DecodedRecords at most (then it starts over). */
const DECODED_MAX = 4096;

/**
 * Records decoded (or encoded) before, by the exact Buffer the tree holds
 * for them. Tree values are never changed in place, and a Buffer that some
 * transaction encoded but that never reached the tree (a rerun, a failed
 * attempt) is never handed out by a tree read, so an entry whose Buffer is
 * the one read now is that record: no decode, no validation. Anything else
 * (another Buffer, no entry) decodes as usual.
 */
export class DecodedRecords {
  private readonly inodes = new Map<number, { readonly bytes: Buffer; readonly rec: InodeRec }>();
  private meta: { readonly bytes: Buffer; readonly rec: MetaRec } | undefined;

  inode(ino: number, bytes: Buffer): InodeRec | undefined {
    const e = this.inodes.get(ino);
    return e !== undefined && e.bytes === bytes ? e.rec : undefined;
  }

  /** Keeps directories only: namespace operations read their parent again and again; other inodes rarely. */
  setInode(ino: number, bytes: Buffer, rec: InodeRec): void {
    if ((rec.mode & S_IFMT) !== S_IFDIR) {
      this.inodes.delete(ino);
      return;
    }
    if (this.inodes.size >= DECODED_MAX && !this.inodes.has(ino)) this.inodes.clear();
    this.inodes.set(ino, { bytes, rec });
  }

  getMeta(bytes: Buffer): MetaRec | undefined {
    const e = this.meta;
    return e !== undefined && e.bytes === bytes ? e.rec : undefined;
  }

  setMeta(bytes: Buffer, rec: MetaRec): void {
    this.meta = { bytes, rec };
  }
}

export class FsTx {
  private meta: MetaRec | undefined;
  private metaDirty = false;
  /** `meta` is a copy made by this transaction and not yet handed out (bumpMeta may change it in place). */
  private metaOwned = false;
  /** Journal entries written, with their ids (for waiters). */
  readonly journaled: Array<{ jid: number; rec: JournalRec }> = [];
  /** Inodes whose nlink reached 0 in this transaction. */
  readonly unlinked: number[] = [];

  constructor(readonly tx: Txn, readonly env: TxEnv) {}

  get now(): bigint {
    return this.env.now;
  }

  // ---- meta ------------------------------------------------------------------

  /** The meta record (the caller may keep it: later changes copy it first). */
  getMeta(): MetaRec {
    const m = this.metaRec();
    this.metaOwned = false;
    return m;
  }

  private metaRec(): MetaRec {
    if (this.meta === undefined) {
      const b = this.tx.get(TREES.meta, META_KEY);
      if (b === undefined) throw cairnError('CAIRN_ERR_FS_IO', 'the volume has no filesystem meta record (not formatted by formatFilesystem?)');
      const d = this.env.decoded;
      let m = d?.getMeta(b);
      if (m === undefined) {
        m = metaCodec.decode(b);
        d?.setMeta(b, m);
      }
      this.meta = m;
    }
    return this.meta;
  }

  setMeta(patch: Partial<MetaRec>): void {
    this.meta = { ...this.getMeta(), ...patch };
    this.metaDirty = true;
    this.metaOwned = true;
  }

  /**
   * Adds `by` to a counter of the meta record. The first change copies the
   * record (others may hold the one read); later ones change the copy, which
   * is this transaction's own until finish() hands it out.
   */
  private bumpMeta(field: 'nextIno' | 'nextJid', by: number): void {
    if (!this.metaOwned) {
      this.meta = { ...this.metaRec() };
      this.metaOwned = true;
    }
    (this.meta as { -readonly [K in keyof MetaRec]: MetaRec[K] })[field] += by;
    this.metaDirty = true;
  }

  /** Initializes the meta record (format only). */
  initMeta(meta: MetaRec): void {
    this.meta = meta;
    this.metaDirty = true;
    this.metaOwned = false;
  }

  /** A new inode number (never reused). */
  allocIno(): number {
    const ino = this.metaRec().nextIno;
    this.bumpMeta('nextIno', 1);
    return ino;
  }

  /** Writes the meta record back if it changed; called once at the end. */
  finish(): void {
    if (!this.metaDirty || this.meta === undefined) return;
    // Handed out from here on (the decoded-records cache): no more changes in place.
    this.metaOwned = false;
    const b = metaCodec.encode(this.meta);
    this.tx.putOwned(TREES.meta, Buffer.from(META_KEY), b);
    this.env.decoded?.setMeta(b, this.meta);
  }

  // ---- inodes -----------------------------------------------------------------

  inode(ino: number): InodeRec | undefined {
    const b = this.tx.get(TREES.inodes, inodeKey(ino));
    if (b === undefined) return undefined;
    const d = this.env.decoded;
    let r = d?.inode(ino, b);
    if (r === undefined) {
      r = inodeCodec.decode(b);
      d?.setInode(ino, b, r);
    }
    return r;
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
    this.writeInode(ino, out);
    return out;
  }

  /** Writes an inode exactly as given (no change bump). */
  putInodeRaw(ino: number, rec: InodeRec): void {
    this.writeInode(ino, compact(rec));
  }

  /** `rec` has no undefined fields (compact). */
  private writeInode(ino: number, rec: InodeRec): void {
    const b = inodeCodec.encode(rec);
    this.tx.putOwned(TREES.inodes, inodeKey(ino), b);
    this.env.decoded?.setInode(ino, b, rec);
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
    this.tx.putOwned(TREES.dirents, direntKey(dir, name), direntCodec.encode(e));
    this.tx.putOwned(TREES.dircookies, dircookieKey(dir, e.cookie), dircookieCodec.encode({ name, ino: e.ino, type: e.type }));
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

  /**
   * addEntry, then writes the directory with its new times and `nlinkDelta`
   * more links (what putInode of `{ ...addEntry(...), mtime, ctime, nlink }`
   * writes, with one copy of the record). Returns the record written.
   */
  addEntryAndTouch(dir: number, dirRec: InodeRec, name: string, ino: number, mode: number, nlinkDelta: number): InodeRec {
    const cookie = dirRec.nextCookie ?? FIRST_ENTRY_COOKIE;
    this.putEntry(dir, name, { ino, type: mode & S_IFMT, cookie });
    const now = this.now;
    const out = compact({
      ...dirRec, nextCookie: cookie + 1, size: dirRec.size + 1, mtime: now, ctime: now, nlink: dirRec.nlink + nlinkDelta, change: dirRec.change + 1,
    });
    this.writeInode(dir, out);
    return out;
  }

  /**
   * removeEntry, then writes the directory with its new times (what putInode
   * of `{ ...removeEntry(...), mtime, ctime }` writes, with one copy of the
   * record). Returns the record written.
   */
  removeEntryAndTouch(dir: number, dirRec: InodeRec, name: string, e: DirentRec): InodeRec {
    this.tx.del(TREES.dirents, direntKey(dir, name));
    this.tx.del(TREES.dircookies, dircookieKey(dir, e.cookie));
    const now = this.now;
    const out = compact({ ...dirRec, size: Math.max(0, dirRec.size - 1), mtime: now, ctime: now, change: dirRec.change + 1 });
    this.writeInode(dir, out);
    return out;
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

  /** An inode dropLink listed that this transaction also reclaimed: nothing is left to do for it after the commit. */
  reclaimedHere(ino: number): void {
    const i = this.unlinked.indexOf(ino);
    if (i >= 0) this.unlinked.splice(i, 1);
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
    return this.putJournal(compact({ ...rec, time: this.now }) as JournalRec);
  }

  /** Writes a complete entry (no undefined fields). */
  private putJournal(full: JournalRec): number {
    const jid = this.metaRec().nextJid;
    this.tx.putOwned(TREES.journal, journalKey(jid), journalCodec.encode(full));
    this.bumpMeta('nextJid', 1);
    this.journaled.push({ jid, rec: full });
    return jid;
  }

  /** Journal entry carrying an inode's new attributes. */
  journalInode(kind: JournalRec['kind'], ino: number, rec: InodeRec | undefined, where: Partial<Pick<JournalRec, 'parent' | 'name' | 'newParent' | 'newName'>> = {}): number {
    // Built in one go, in the field order of `{ kind, ino, ...where, ...attrs, time }`.
    const full: Record<string, unknown> = { kind, ino };
    if (where.parent !== undefined) full.parent = where.parent;
    if (where.name !== undefined) full.name = where.name;
    if (where.newParent !== undefined) full.newParent = where.newParent;
    if (where.newName !== undefined) full.newName = where.newName;
    if (rec !== undefined) {
      full.mode = rec.mode;
      full.uid = rec.uid;
      full.gid = rec.gid;
      full.size = rec.size;
      full.nlink = rec.nlink;
      full.mtime = rec.mtime;
    }
    full.time = this.now;
    return this.putJournal(full as unknown as JournalRec);
  }
}
