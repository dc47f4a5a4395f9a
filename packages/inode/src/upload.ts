// Whole-file uploads (the object API's PUT): a file's bytes stream into log
// segments first, as pending extents of a fresh inode number that nothing
// names yet; commitUpload() then makes the file exist in ONE metadata
// transaction: the inode record (mode, owner, times, size), its extents, its
// xattrs, its recorded ETag, the segment records and live bytes, and its name
// in the parent directory (replacing a file there the way rename does), with
// the parent's times and the journal entries.
//
// Uploads write through a segment writer of their own, whose onDurable hook
// commits nothing: it only notes where each upload's bytes landed. So the
// bytes of many concurrent uploads share segments (one PUT) and their commits
// share replay-log fsyncs (group commit), while an upload that never commits
// leaves no metadata at all. Invariant 1 holds because commitUpload first
// waits (writer.flush) until every segment holding the upload's bytes was
// stored. A segment no upload committed into yet has no record; while an
// upload still holds it, the writer registered with trackWriter reports it in
// flight, so the orphan sweep and the cleaner leave it alone. A segment none
// of whose uploads commits is an orphan for the sweep.
//
// Inode numbers are reserved in batches (one transaction per UPLOAD_INO_BATCH
// uploads) so that the segment summaries name the inode the bytes will belong
// to, as the cleaner expects. An unused reserved number is simply never used.

import { cairnError, isCairnError } from '@cairn/errors';
import { createSegmentWriter, type DurableSegment, type FailedSegment, type SegmentRef, type SegmentWriter } from '@cairn/segments';
import type { Vol } from './context.js';
import { trackWriter } from './cleaner-inflight.js';
import { newInode } from './dir.js';
import { MAX_FILE_SIZE, PERM_MASK, S_IFREG, TREES, XATTR_LIST_MAX, XATTR_NAME_MAX, XATTR_SIZE_MAX } from './format.js';
import { checkCred, checkIno, checkName, isDir, isDotName, lookupDir, wellFormed } from './namei.js';
import { checkAccess, checkSticky, isRoot, MAY_EXEC, MAY_WRITE } from './perms.js';
import { FsReader } from './reader.js';
import { reclaimedInTx, reclaimInTx, segmentDeletable } from './reclaim.js';
import { deadSegCodec, extentCodec, extentKey, nonceKey, xattrCodec, xattrKey, type InodeRec } from './records.js';
import { attrOf } from './stat.js';
import type { FsTx } from './tx.js';
import type { Attr, Cred } from './types.js';

/** Inode numbers reserved per transaction for uploads. */
export const UPLOAD_INO_BATCH = 64;
/** Segments the upload writer keeps open, and the bytes it may hold before writes wait. */
const UPLOAD_OPEN_SEGMENTS = 32;
const UPLOAD_BUFFERED_BYTES = 160 * 1024 * 1024;
/**
 * Upload segments close at this size: large objects travel in few large PUTs
 * (a backend's cost per object dominates below a few tens of MiB), while small
 * uploads still share one segment, closed by the commit that needs it.
 */
const UPLOAD_SEGMENT_BYTES = 64 * 1024 * 1024;

/** A file being uploaded: append its bytes, then commitUpload() it (or abort()). */
export interface Upload {
  /** The inode number the file gets when committed. */
  readonly ino: number;
  /** Bytes written so far. */
  readonly size: number;
  /** Appends bytes (held by the segment writer when this resolves; durable at commit). */
  write(data: Uint8Array): Promise<void>;
  /** Drops the upload: nothing of it ever becomes visible. Idempotent. */
  abort(): Promise<void>;
}

/** What commitUpload writes with the file. */
export interface CommitUploadOptions {
  /** Permission bits of the new file (default 0o644), less `umask`. */
  readonly mode?: number;
  readonly umask?: number;
  /** Extended attributes of the new file (user., and for root trusted. and security.). */
  readonly xattrs?: Readonly<Record<string, Uint8Array>>;
  /** The object API's ETag, recorded for the file's first dataVersion. */
  readonly etag?: string;
  /** RENAME_NOREPLACE: fail with EEXIST when the name exists (otherwise a file there is replaced). */
  readonly noReplace?: boolean;
}

interface Piece {
  readonly fileOffset: number;
  readonly segment: SegmentRef;
  readonly segmentSize: number;
  readonly segmentOffset: number;
  readonly length: number;
}

type UploadPhase = 'open' | 'committing' | 'done';

/** The per-volume upload state: the writer, the uploads in progress, held segments, reserved inode numbers. */
class Uploads {
  readonly writer: SegmentWriter;
  readonly byIno = new Map<number, UploadImpl>();
  /** Segments with bytes of uploads not committed yet: how many uploads hold each. */
  readonly held = new Map<bigint, number>();
  /** Held segments some upload already committed into (their record may have been dropped since). */
  readonly committedInto = new Set<bigint>();
  private readonly untrack: () => void;
  private inos: { next: number; end: number } = { next: 0, end: 0 };
  private reserving: Promise<void> | undefined;
  closed = false;

  constructor(readonly v: Vol, dataContainers: readonly string[]) {
    this.writer = createSegmentWriter({
      store: v.store, containers: dataContainers, nonces: () => v.hh.nextNonce(),
      // Many large uploads at once each stream into a segment of their own.
      maxOpenSegments: UPLOAD_OPEN_SEGMENTS, maxBufferedBytes: UPLOAD_BUFFERED_BYTES, maxFlushSize: UPLOAD_SEGMENT_BYTES,
      onDurable: async (seg) => this.durable(seg),
      onFailed: (f) => this.failed(f),
      logger: v.logger,
    });
    const held = this.held;
    const writer = this.writer;
    // In flight for the orphan sweep and the cleaner: held by the writer, or stored and waiting for an upload's commit.
    this.untrack = trackWriter(v, {
      readPending(seg, offset, length) {
        const got = writer.readPending(seg, offset, length);
        if (got !== undefined) return got;
        const nonce = typeof seg === 'bigint' ? seg : seg.nonce;
        return length === 0 && held.has(nonce) ? Buffer.alloc(0) : undefined;
      },
    });
  }

  /** The writer's hook: notes where the bytes of each live upload landed (no metadata yet). */
  private durable(seg: DurableSegment): void {
    const mine = new Set<UploadImpl>();
    for (const w of seg.writes) {
      const up = this.byIno.get(Number(w.fileKey));
      if (up === undefined || up.phase === 'done' || w.fileOffset === undefined) continue;
      up.pieces.push({ fileOffset: w.fileOffset, segment: seg.segment, segmentSize: seg.size, segmentOffset: w.segmentOffset, length: w.length });
      mine.add(up);
    }
    for (const up of mine) {
      up.segments.add(seg.segment.nonce);
      this.held.set(seg.segment.nonce, (this.held.get(seg.segment.nonce) ?? 0) + 1);
    }
  }

  private failed(f: FailedSegment): void {
    for (const k of f.fileKeys) {
      const up = this.byIno.get(Number(k));
      if (up !== undefined) up.error ??= f.error;
    }
  }

  /** Gives back an upload's holds on its segments. */
  release(up: UploadImpl, committed: boolean): void {
    for (const nonce of up.segments) {
      const n = (this.held.get(nonce) ?? 1) - 1;
      if (n <= 0) {
        this.held.delete(nonce);
        this.committedInto.delete(nonce);
      } else {
        this.held.set(nonce, n);
        if (committed) this.committedInto.add(nonce);
      }
    }
    up.segments.clear();
    this.byIno.delete(up.ino);
  }

  /** A fresh inode number (reserved durably, UPLOAD_INO_BATCH at a time). */
  async allocIno(): Promise<number> {
    while (this.inos.next >= this.inos.end) {
      this.reserving ??= this.v.tx((t) => {
        const first = t.getMeta().nextIno;
        t.setMeta({ nextIno: first + UPLOAD_INO_BATCH });
        return first;
      }).then((first) => {
        this.inos = { next: first, end: first + UPLOAD_INO_BATCH };
      }).finally(() => {
        this.reserving = undefined;
      });
      await this.reserving;
    }
    return this.inos.next++;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const up of [...this.byIno.values()]) up.phase = 'done';
    try {
      await this.writer.close();
    } catch (err) {
      // Only bytes of uploads never committed were in the writer: nothing acknowledged is lost.
      this.v.logger.warn({ err }, 'closing the upload segment writer failed');
    } finally {
      this.untrack();
      this.byIno.clear();
      this.held.clear();
    }
  }
}

const state = new WeakMap<Vol, Promise<Uploads>>();

async function uploadsOf(v: Vol): Promise<Uploads> {
  let p = state.get(v);
  if (p === undefined) {
    p = FsReader.with(v, (r) => r.meta()).then((meta) => new Uploads(v, meta.dataContainers));
    state.set(v, p);
    p.catch(() => state.delete(v));
  }
  const u = await p;
  if (u.closed) throw cairnError('CAIRN_ERR_CLOSED', `filesystem ${v.volumeId}`);
  return u;
}

class UploadImpl implements Upload {
  phase: UploadPhase = 'open';
  size = 0;
  /**
   * A small upload's bytes, held here while they fit the intent log
   * (commitSmall); undefined once they went to the upload writer.
   */
  small: Buffer[] | undefined;
  readonly pieces: Piece[] = [];
  readonly segments = new Set<bigint>();
  error: Error | undefined;
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly u: Uploads, readonly ino: number) {
    if (u.v.intents.maxFileBytes > 0) this.small = [];
  }

  /** Sends the held small bytes to the upload writer (the upload is not small after all). */
  async unhold(): Promise<void> {
    const held = this.small;
    this.small = undefined;
    if (held === undefined || held.length === 0) return;
    await this.u.writer.write(BigInt(this.ino), Buffer.concat(held), { fileOffset: 0 });
  }

  write(data: Uint8Array): Promise<void> {
    if (!(data instanceof Uint8Array)) return Promise.reject(cairnError('CAIRN_ERR_FS_INVALID', 'upload data must be a Uint8Array'));
    const run = async (): Promise<void> => {
      this.u.v.checkOpen();
      if (this.phase !== 'open') throw cairnError('CAIRN_ERR_FS_INVALID', `upload ${this.ino} is ${this.phase === 'done' ? 'finished' : 'being committed'}`);
      if (data.length === 0) return;
      if (this.size + data.length > MAX_FILE_SIZE) throw cairnError('CAIRN_ERR_FS_FILE_TOO_BIG', `upload ${this.ino}`);
      if (this.small !== undefined) {
        if (this.size + data.length <= this.u.v.intents.maxFileBytes) {
          this.small.push(Buffer.from(data));
          this.size += data.length;
          return;
        }
        await this.unhold();
      }
      const at = this.size;
      this.size += data.length;
      await this.u.writer.write(BigInt(this.ino), data, { fileOffset: at });
    };
    // Writes land in call order even when the caller does not wait for each.
    const p = this.tail.then(run);
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** Waits for the writes in progress (their errors are the writes' callers'). */
  settled(): Promise<void> {
    return this.tail;
  }

  async abort(): Promise<void> {
    if (this.phase === 'done') return;
    this.phase = 'done';
    await this.tail;
    this.u.release(this, false);
  }
}

/** Starts an upload of a new regular file (see commitUpload). */
export async function beginUpload(v: Vol, cred: Cred): Promise<Upload> {
  checkCred(cred);
  v.checkOpen();
  const u = await uploadsOf(v);
  const up = new UploadImpl(u, await u.allocIno());
  u.byIno.set(up.ino, up);
  return up;
}

function checkUploadXattrs(cred: Cred, xattrs: Readonly<Record<string, Uint8Array>>): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  let listed = 0;
  for (const [name, value] of Object.entries(xattrs)) {
    const bytes = Buffer.byteLength(name, 'utf8');
    if (bytes === 0 || bytes > XATTR_NAME_MAX) throw cairnError('CAIRN_ERR_FS_XATTR_RANGE', `xattr name of ${bytes} bytes`);
    if (name.includes('\0') || !wellFormed(name)) throw cairnError('CAIRN_ERR_FS_INVALID', 'xattr name');
    const ns = /^(user|trusted|security)\.(.)/s.exec(name)?.[1];
    if (ns === undefined) throw cairnError('CAIRN_ERR_FS_NOT_SUPPORTED', `xattr namespace of ${name.slice(0, 64)}`);
    if (ns !== 'user' && !isRoot(cred)) throw cairnError('CAIRN_ERR_FS_PERM', name);
    if (!(value instanceof Uint8Array)) throw cairnError('CAIRN_ERR_FS_INVALID', 'xattr value must be a Uint8Array');
    if (value.length > XATTR_SIZE_MAX) throw cairnError('CAIRN_ERR_FS_XATTR_TOO_BIG', `xattr value of ${value.length} bytes`);
    listed += bytes + 1;
    out.push([name, Buffer.from(value)]);
  }
  if (listed > XATTR_LIST_MAX) throw cairnError('CAIRN_ERR_FS_XATTR_TOO_BIG', 'attribute names of the upload');
  return out;
}

/** The upload's extents: consecutive pieces continuing each other in one segment are merged. */
function extentsOf(pieces: readonly Piece[]): Piece[] {
  const sorted = [...pieces].sort((a, b) => a.fileOffset - b.fileOffset);
  const out: Piece[] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && last.segment.nonce === p.segment.nonce
      && last.fileOffset + last.length === p.fileOffset && last.segmentOffset + last.length === p.segmentOffset) {
      out[out.length - 1] = { ...last, length: last.length + p.length };
    } else {
      out.push(p);
    }
  }
  return out;
}

/**
 * Commits an upload as `name` in directory `parent`, in one transaction (see
 * the header). Checks like creat + rename(2): search and write permission on
 * the parent (EACCES), the sticky rule for a file it replaces (EPERM), a
 * directory there (EISDIR), with noReplace any entry there (EEXIST), a
 * removed parent (ENOENT). The upload stays open when the commit fails
 * for such a reason (the caller may retry or abort); a lost segment
 * (CAIRN_ERR_FS_IO) ends it.
 */
export async function commitUpload(v: Vol, cred: Cred, parent: number, name: string, upload: Upload, o: CommitUploadOptions = {}): Promise<Attr> {
  checkCred(cred);
  checkIno(parent);
  checkName(name);
  const u = await uploadsOf(v);
  const up = upload instanceof UploadImpl ? upload : undefined;
  if (up === undefined || u.byIno.get(up.ino) !== up) throw cairnError('CAIRN_ERR_FS_INVALID', 'not an upload of this filesystem (or already finished)');
  if (up.phase !== 'open') throw cairnError('CAIRN_ERR_FS_INVALID', `upload ${up.ino} is already being committed`);
  const mode = o.mode ?? 0o644;
  const umask = o.umask ?? 0;
  if (!Number.isSafeInteger(mode) || mode < 0 || mode > PERM_MASK) throw cairnError('CAIRN_ERR_FS_INVALID', `mode ${mode}`);
  if (!Number.isSafeInteger(umask) || umask < 0 || umask > 0o777) throw cairnError('CAIRN_ERR_FS_INVALID', `umask ${umask}`);
  if (o.etag !== undefined && (typeof o.etag !== 'string' || o.etag.length > 256)) throw cairnError('CAIRN_ERR_FS_INVALID', 'etag must be a string (<= 256)');
  const xattrs = checkUploadXattrs(cred, o.xattrs ?? {});
  up.phase = 'committing';
  try {
    await up.settled();
    if (up.small !== undefined) {
      if (v.intents.accepts(up.size)) return await commitSmall(v, u, cred, parent, name, up, xattrs, { mode: mode & ~umask, etag: o.etag, noReplace: o.noReplace === true });
      await up.unhold();
    }
    try {
      await u.writer.flush(BigInt(up.ino));
    } catch (err) {
      up.error ??= err as Error;
    }
    if (up.error !== undefined) throw cairnError('CAIRN_ERR_FS_IO', `the bytes of upload ${up.ino} could not be stored`, { cause: up.error });
    const extents = extentsOf(up.pieces);
    const stored = extents.reduce((n, e) => n + e.length, 0);
    if (stored !== up.size) throw cairnError('CAIRN_ERR_FS_IO', `upload ${up.ino}: ${stored} of ${up.size} bytes were stored`);
    v.checkOpen();
    const { rec, replaced } = await v.tx((t) => commitTx(t, v, u, cred, parent, name, up, extents, xattrs, { mode: mode & ~umask, etag: o.etag, noReplace: o.noReplace === true }));
    reclaimedInTx(v, replaced);
    up.phase = 'done';
    u.release(up, true);
    return attrOf(v, up.ino, rec);
  } catch (err) {
    if (up.phase === 'committing') {
      // A namespace refusal leaves the upload open for another try; lost bytes end it.
      if (isCairnError(err, 'CAIRN_ERR_FS_IO') || isCairnError(err, 'CAIRN_ERR_CLOSED')) {
        up.phase = 'done';
        u.release(up, false);
      } else {
        up.phase = 'open';
      }
    }
    throw err;
  }
}

/**
 * commitUpload of a small upload: its bytes go to the filesystem's segment
 * writer as pending writes of the new inode, then ONE transaction makes the
 * file exist (commitTx, no extents yet) and stores the bytes as intents
 * (intents.ts): durable without waiting for a segment PUT. The segment's
 * commit later adds the extents and resolves the intents; it keeps the
 * dataVersion (settledContent), so the ETag stays valid.
 */
async function commitSmall(
  v: Vol, u: Uploads, cred: Cred, parent: number, name: string, up: UploadImpl,
  xattrs: ReadonlyArray<[string, Buffer]>, o: { mode: number; etag: string | undefined; noReplace: boolean },
): Promise<Attr> {
  const ino = up.ino;
  const data = Buffer.concat(up.small ?? []);
  let created!: () => void;
  v.creating.set(ino, new Promise<void>((r) => { created = r; }));
  try {
    v.checkOpen();
    const loc = data.length > 0 ? await v.writer.write(BigInt(ino), data, { fileOffset: 0 }) : { pieces: [] };
    if (data.length > 0) v.settledContent.add(ino);
    const { rec, replaced } = await v.intents.commitPlaced(v, ino, loc.pieces, data, data.length > 0 ? 1 : 0,
      (t) => commitTx(t, v, u, cred, parent, name, up, [], xattrs, o));
    reclaimedInTx(v, replaced);
    up.phase = 'done';
    u.release(up, true);
    return attrOf(v, ino, rec);
  } catch (err) {
    // The placed bytes belong to no file: their segment's commit skips them. The upload stays open (commitUpload).
    v.settledContent.delete(ino);
    throw err;
  } finally {
    v.creating.delete(ino);
    created();
  }
}

/**
 * The transaction of commitUpload (synchronous; may run more than once).
 * Returns the new file's record, and the file it replaced when that one was
 * reclaimed in the same commit (reclaimInTx).
 */
function commitTx(
  t: FsTx, v: Vol, u: Uploads, cred: Cred, parent: number, name: string, up: UploadImpl, extents: readonly Piece[],
  xattrs: ReadonlyArray<[string, Buffer]>, o: { mode: number; etag: string | undefined; noReplace: boolean },
): { rec: InodeRec; replaced: number | undefined } {
  const dirRec = lookupDir(t, cred, parent);
  if (isDotName(name)) throw cairnError(o.noReplace ? 'CAIRN_ERR_FS_EXISTS' : 'CAIRN_ERR_FS_IS_DIR', name);
  const ino = up.ino;
  if (t.inode(ino) !== undefined) throw cairnError('CAIRN_ERR_FS_INVALID', `upload ${ino} was committed already`);
  const e = t.dirent(parent, name);
  if (e !== undefined && o.noReplace) throw cairnError('CAIRN_ERR_FS_EXISTS', name);
  const victim = e === undefined ? undefined : t.entryInode(parent, name, e);
  checkAccess(cred, dirRec, MAY_WRITE | MAY_EXEC, `create in inode ${parent}`);
  if (dirRec.nlink === 0) throw cairnError('CAIRN_ERR_FS_NOT_FOUND', `inode ${parent} was removed`);
  if (victim !== undefined) {
    checkSticky(cred, dirRec, victim, name);
    if (isDir(victim)) throw cairnError('CAIRN_ERR_FS_IS_DIR', name);
  }
  const now = t.now;
  // Segment records: created by the first commit into a segment, live bytes added by each.
  const bySeg = new Map<bigint, { ref: SegmentRef; size: number; live: number }>();
  for (const x of extents) {
    const s = bySeg.get(x.segment.nonce);
    if (s === undefined) bySeg.set(x.segment.nonce, { ref: x.segment, size: x.segmentSize, live: x.length });
    else s.live += x.length;
  }
  let stored = 0;
  let live = 0;
  for (const [nonce, s] of bySeg) {
    let rec = t.segment(nonce);
    if (rec === undefined) {
      const dead = t.tx.get(TREES.deadsegs, nonceKey(nonce));
      if (dead !== undefined) {
        // An upload committed into it earlier and that file is gone already: alive again, unless it may be deleted by now.
        const d = deadSegCodec.decode(dead);
        if (segmentDeletable(d, { checkpointSeq: t.env.checkpointSeq, retainCheckpoints: v.o.retainCheckpoints })) {
          throw cairnError('CAIRN_ERR_FS_IO', `segment ${nonce} of upload ${ino} was reclaimed meanwhile`);
        }
        t.tx.del(TREES.deadsegs, nonceKey(nonce));
        rec = { container: d.container, size: d.size, live: 0, created: Number(now / 1_000_000n) };
      } else {
        if (u.committedInto.has(nonce)) throw cairnError('CAIRN_ERR_FS_IO', `segment ${nonce} of upload ${ino} was reclaimed meanwhile`);
        rec = { container: s.ref.container, size: s.size, live: 0, created: Number(now / 1_000_000n) };
        stored += s.size;
      }
    }
    t.putSegment(nonce, { ...rec, live: rec.live + s.live });
    live += s.live;
  }
  const m = t.getMeta();
  if (live !== 0 || stored !== 0) t.setMeta({ liveBytes: m.liveBytes + live, storedBytes: m.storedBytes + stored });
  for (const x of extents) {
    t.tx.put(TREES.extents, extentKey(ino, x.fileOffset), extentCodec.encode({ nonce: x.segment.nonce, segmentOffset: x.segmentOffset, length: x.length }));
  }
  for (const [n, value] of xattrs) t.tx.put(TREES.xattrs, xattrKey(ino, n), xattrCodec.encode({ value }));
  const dataVersion = up.size > 0 ? 1 : 0;
  const rec = t.putInode(ino, newInode(t, cred, dirRec, S_IFREG | (o.mode & PERM_MASK), {
    size: up.size, dataVersion, ...(o.etag !== undefined ? { etag: { value: o.etag, dataVersion } } : {}),
  }));
  let d = dirRec;
  let replaced: number | undefined;
  if (e !== undefined && victim !== undefined) {
    t.replaceEntry(parent, name, e, ino, rec.mode);
    const gone = t.dropLink(e.ino, victim, false);
    t.journalInode('unlink', e.ino, gone, { parent, name });
    replaced = reclaimInTx(v, t, e.ino, gone);
  } else {
    d = t.addEntry(parent, dirRec, name, ino, rec.mode);
  }
  t.putInode(parent, { ...d, mtime: now, ctime: now });
  t.journalInode('create', ino, rec, { parent, name });
  return { rec, replaced };
}

/** Unmount: closes the uploads' writer (uploads not committed are dropped). */
export async function closeUploads(v: Vol): Promise<void> {
  const p = state.get(v);
  if (p === undefined) return;
  const u = await p.catch(() => undefined);
  await u?.close();
}
