// The data path: write, read, truncate, fallocate, flush, fsync, and the
// extent commit that runs when a segment is durable.
//
// write() hands the bytes to the segment writer and returns once it holds
// them: the extent is pending, and reads and getattr see it at once (the
// writer's pendingExtents laid over the durable extent map). When the
// segment's PUT completed, commitSegment() enters every file's extents in ONE
// transaction per segment (extent maps, sizes and times, segment live bytes,
// journal entries): nothing durable names a segment before it is durable.
//
// Extent commits read a file's extent map, compute the change, then commit:
// correct because nothing else changes that file's extents in between. The
// writer runs the commits of one file one at a time, in write order; truncate
// and fallocate hold the file's gate and flush its pending writes before they
// touch extents (so an earlier write can never commit after a later truncate);
// reclaim marks an inode before removing its extents, and a commit skips
// marked or missing inodes inside its transaction.

import { cairnError, isCairnError } from '@cairn/errors';
import {
  applyWrite, lookup, mergeDeltas, overlayExtents, readFile, readPlan,
  type DurableSegment, type Extent, type FailedSegment, type FileKey, type ReadStep, type SegmentDeltas,
} from '@cairn/segments';
import { attrOf, pendingView } from './stat.js';
import type { Vol } from './context.js';
import { OverlayExtentMap } from './extentmap.js';
import { FILES_PER_COMMIT, MAX_FILE_SIZE, MAX_RW_COUNT, RELATIME_MAX_AGE_NS, S_IFDIR, S_IFMT, S_IFREG, TREES, TRIM_CHUNK } from './format.js';
import { checkCred, checkIno } from './namei.js';
import { checkAccess, MAY_READ, MAY_WRITE, modeAfterWrite, writeClearsPrivs } from './perms.js';
import { FsReader, mustReadInode, treeExtentMap } from './reader.js';
import { extentCodec, extentKey, nonceKey, type InodeRec } from './records.js';
import type { FsTx } from './tx.js';
import type { Attr, Cred } from './types.js';
import { decodeKey, encodeKey } from '@cairn/headhunter';

function key(ino: number): bigint {
  return BigInt(ino);
}

function checkRegular(rec: InodeRec, what: string): void {
  const t = rec.mode & S_IFMT;
  if (t === S_IFDIR) throw cairnError('CAIRN_ERR_FS_IS_DIR', what);
  if (t !== S_IFREG) throw cairnError('CAIRN_ERR_FS_INVALID', `${what} of a special file`);
}

function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw cairnError('CAIRN_ERR_FS_INVALID', `offset ${offset}`);
  if (!Number.isSafeInteger(length) || length < 0) throw cairnError('CAIRN_ERR_FS_INVALID', `length ${length}`);
}

/** The inode for a data operation: ESTALE when gone or unlinked and not open. */
async function liveInode(v: Vol, ino: number): Promise<InodeRec> {
  const rec = await mustReadInode(v, ino);
  if (rec.nlink === 0 && !v.isOpen(ino)) throw cairnError('CAIRN_ERR_FS_STALE', `inode ${ino} (unlinked)`);
  return rec;
}

// ---- write ------------------------------------------------------------------

/**
 * Writes data at offset (at the end with a handle opened for append). Needs
 * write permission unless `fh` is a handle open for writing. Clears setuid /
 * setgid when the caller is not root. Returns the bytes written.
 */
export async function write(v: Vol, cred: Cred, ino: number, offset: number, data: Uint8Array, fh?: number): Promise<number> {
  checkCred(cred);
  checkIno(ino);
  if (!(data instanceof Uint8Array)) throw cairnError('CAIRN_ERR_FS_INVALID', 'write data must be a Uint8Array');
  checkRange(offset, data.length);
  if (data.length > MAX_RW_COUNT) throw cairnError('CAIRN_ERR_FS_INVALID', `write of ${data.length} bytes (at most ${MAX_RW_COUNT})`);
  const h = v.handleFor(fh, ino);
  if (h !== undefined && !h.write) throw cairnError('CAIRN_ERR_FS_BAD_HANDLE', `${fh} is not open for writing`);
  return v.gate.run(ino, async () => {
    v.checkOpen();
    const rec = await liveInode(v, ino);
    checkRegular(rec, 'write');
    if (h === undefined) checkAccess(cred, rec, MAY_WRITE, `write inode ${ino}`);
    const at = h?.append === true ? pendingView(v, ino, rec).size : offset;
    if (at + data.length > MAX_FILE_SIZE) throw cairnError('CAIRN_ERR_FS_FILE_TOO_BIG', `inode ${ino}`);
    if (data.length === 0) return 0;
    if (writeClearsPrivs(cred, rec.mode)) {
      await v.tx((t) => {
        const cur = t.mustInode(ino);
        t.putInode(ino, { ...cur, mode: modeAfterWrite(cred, cur.mode), ctime: t.now });
      });
    }
    const now = v.now();
    const d = v.dirty.get(ino);
    if (d === undefined) v.dirty.set(ino, { mtime: now, ctime: now });
    else {
      d.mtime = now;
      d.ctime = now;
    }
    v.writing.set(ino, (v.writing.get(ino) ?? 0) + 1);
    // A new dataVersion before the bytes become visible and another once the
    // writer holds them all: a value seen before or after this write is never
    // seen with other contents.
    v.noteDataChange(ino, rec.dataVersion);
    try {
      await v.writer.write(key(ino), data, { fileOffset: at });
    } finally {
      v.noteDataChange(ino, rec.dataVersion);
      const n = (v.writing.get(ino) ?? 1) - 1;
      if (n <= 0) v.writing.delete(ino);
      else v.writing.set(ino, n);
    }
    return data.length;
  });
}

// ---- read -------------------------------------------------------------------

/** Extents looked up past a sequential read, for the read cache's read-ahead. */
const AHEAD_EXTENTS = 16;
/** Files whose last read end is remembered per volume (sequential readers). */
const READ_ENDS = 1024;
const readEnds = new WeakMap<Vol, Map<number, number>>();

/** Whether a read at `offset` continues the previous read of the file; remembers where this one ends. */
function continuesRead(v: Vol, ino: number, offset: number, end: number): boolean {
  let ends = readEnds.get(v);
  if (ends === undefined) readEnds.set(v, (ends = new Map()));
  const prev = ends.get(ino);
  ends.delete(ino);
  if (ends.size >= READ_ENDS) ends.delete(ends.keys().next().value!);
  ends.set(ino, end);
  return prev === offset;
}

/**
 * Reads up to `length` bytes at `offset` (fewer at the end of the file; holes
 * are zeros). Pending writes are seen at once. Needs read permission unless
 * `fh` is a handle open for reading.
 */
export async function read(v: Vol, cred: Cred, ino: number, offset: number, length: number, fh?: number): Promise<Buffer> {
  checkCred(cred);
  checkIno(ino);
  checkRange(offset, length);
  const h = v.handleFor(fh, ino);
  if (h !== undefined && !h.read) throw cairnError('CAIRN_ERR_FS_BAD_HANDLE', `${fh} is not open for reading`);
  return v.reading(ino, async () => {
    for (let attempt = 0; ; attempt++) {
      const gen = v.extentsVersion(ino);
      // Pending first, then the durable map: a write that commits in between is in one of the two.
      const pending = v.writer.pendingExtents(key(ino));
      const got = await FsReader.with(v, async (r) => {
        const rec = await r.mustInode(ino);
        if (rec.nlink === 0 && !v.isOpen(ino)) throw cairnError('CAIRN_ERR_FS_STALE', `inode ${ino} (unlinked)`);
        checkRegular(rec, 'read');
        if (h === undefined) checkAccess(cred, rec, MAY_READ, `read inode ${ino}`);
        let size = rec.size;
        for (const e of pending) size = Math.max(size, e.fileOffset + e.length);
        const len = Math.max(0, Math.min(length, MAX_RW_COUNT, size - offset));
        const durable = len > 0 ? await lookup(r.extentMap(ino), offset, len) : [];
        // A sequential reader: where the file continues, so the cache fetches the next segment in time.
        const aheadLen = len > 0 && continuesRead(v, ino, offset, offset + len) ? Math.min(v.cache.maxReadAheadBytes, size - offset - len) : 0;
        const ahead = aheadLen > 0 ? await r.extentsAhead(ino, offset + len, offset + len + aheadLen, AHEAD_EXTENTS) : undefined;
        return { rec, size, len, durable, aheadLen, ahead };
      });
      if (v.extentsVersion(ino) !== gen && attempt < 5) continue;
      touchAtime(v, ino, got.rec);
      if (got.len === 0) return Buffer.alloc(0);
      const extents = await overlayExtents(got.durable, pending);
      const plan = readPlan(extents, offset, got.len, got.size, v.locate);
      let ahead: ReadStep[] | undefined;
      if (got.ahead !== undefined) {
        const unstored = new Set(pending.map((e) => e.nonce));
        ahead = readPlan(await overlayExtents(got.ahead, pending), offset + got.len, got.aheadLen, got.size, v.locate)
          .filter((s) => !('zero' in s) && !unstored.has(s.nonce));
      }
      try {
        return await readFile(plan, v.cache, v.writer, ahead);
      } catch (err) {
        throw isCairnError(err) && err.code.startsWith('CAIRN_ERR_FS_') ? err : cairnError('CAIRN_ERR_FS_IO', `read inode ${ino}`, { cause: err });
      }
    }
  });
}

/** relatime: atime moves when it is not newer than mtime/ctime, or a day old (noatime: never). In the background. */
export function touchAtime(v: Vol, ino: number, rec: InodeRec): void {
  if (v.o.atime === 'noatime' || v.closed) return;
  const now = v.now();
  if (rec.atime > rec.mtime && rec.atime > rec.ctime && now - rec.atime < RELATIME_MAX_AGE_NS) return;
  if (v.atimePending.has(ino)) return;
  v.atimePending.add(ino);
  v.tasks.add(
    v.tx((t) => {
      const cur = t.inode(ino);
      if (cur !== undefined) t.putInodeRaw(ino, { ...cur, atime: now > cur.atime ? now : cur.atime });
    }).catch((err: unknown) => {
      v.logger.debug({ err, ino }, 'atime update failed');
    }).finally(() => {
      v.atimePending.delete(ino);
    }),
  );
}

/** The read plan of a byte range (object API): flushes the file's pending writes first so every step is a stored segment. */
export async function readPlanOf(v: Vol, cred: Cred, ino: number, offset: number, length: number): Promise<{ size: number; plan: ReadStep[] }> {
  checkCred(cred);
  checkIno(ino);
  checkRange(offset, length);
  await flushFile(v, ino);
  return FsReader.with(v, async (r) => {
    const rec = await r.mustInode(ino);
    checkRegular(rec, 'read plan');
    checkAccess(cred, rec, MAY_READ, `read inode ${ino}`);
    const len = Math.max(0, Math.min(length, rec.size - offset));
    const durable = len > 0 ? await lookup(r.extentMap(ino), offset, len) : [];
    return { size: rec.size, plan: readPlan(durable, offset, len, rec.size, v.locate) };
  });
}

// ---- flush / fsync --------------------------------------------------------------

/** close(): reports a write failure of the file not reported yet (does not wait for durability). */
export function flush(v: Vol, ino: number): void {
  checkIno(ino);
  const err = v.writeErrors.get(ino);
  if (err !== undefined) {
    v.writeErrors.delete(ino);
    throw cairnError('CAIRN_ERR_FS_IO', `earlier writes of inode ${ino} were lost`, { cause: err });
  }
}

/**
 * fsync(2): makes every acknowledged write of the file durable (metadata
 * operations already are when they return): through the intent log when its
 * pending bytes are few, else by storing its segments (flushFile).
 */
export async function fsync(v: Vol, ino: number): Promise<void> {
  checkIno(ino);
  v.checkOpen();
  // Few pending bytes: durable through the replay log (intents.ts), no segment PUT to wait for.
  if (!v.writeErrors.has(ino)) {
    const logged = await v.intents.sync(v, ino).catch((err: unknown) => {
      v.logger.debug({ err, ino }, 'fsync through the intent log failed; flushing the segments');
      return false;
    });
    if (logged) {
      flush(v, ino);
      return;
    }
  }
  await flushFile(v, ino);
}

/** Stores the segments holding the file's pending writes and commits their extents (what truncate, clone and read plans need). */
export async function flushFile(v: Vol, ino: number): Promise<void> {
  checkIno(ino);
  v.checkOpen();
  try {
    await v.writer.flush(key(ino));
  } catch (err) {
    v.writeErrors.delete(ino);
    throw cairnError('CAIRN_ERR_FS_IO', `fsync of inode ${ino}`, { cause: err });
  }
  flush(v, ino);
}

// ---- truncate / fallocate -----------------------------------------------------------

/**
 * Sets the size of a regular file (the caller checked permissions). Shrinking
 * below what readers see first flushes the pending writes (an earlier write
 * must never commit after the truncate), then removes the extents past the new
 * size, TRIM_CHUNK per transaction; more than one chunk is recorded as a 'trim'
 * orphan so that a crash in between is finished at mount.
 */
export async function truncateFile(v: Vol, cred: Cred, ino: number, size: number, check?: (rec: InodeRec) => void): Promise<void> {
  await v.gate.run(ino, () => truncateLocked(v, cred, ino, size, check));
}

/** truncateFile with the gate of `ino` held; `check` runs first on the current record. */
async function truncateLocked(v: Vol, cred: Cred, ino: number, size: number, check?: (rec: InodeRec) => void): Promise<void> {
  v.checkOpen();
  const rec = await liveInode(v, ino);
  check?.(rec);
  checkRegular(rec, 'truncate');
  const visible = pendingView(v, ino, rec).size;
  if (size < visible && v.writer.pendingExtents(key(ino)).length > 0) await flushFile(v, ino);
  let more = await v.tx((t) => {
    const cur = t.mustInode(ino);
    const next = t.putInode(ino, {
      ...cur, size, mtime: t.now, ctime: t.now, dataVersion: v.changedDataVersion(ino, cur.dataVersion), mode: modeAfterWrite(cred, cur.mode),
    });
    const left = trimChunk(t, ino, size);
    if (left) t.putOrphan(ino, { kind: 'trim', size, since: t.now });
    t.journalInode('truncate', ino, next);
    return left;
  });
  while (more) more = await v.tx((t) => finishTrimStep(t, ino, size));
  v.bumpExtents(ino);
}

/** One step of a multi-transaction trim (also used at mount). Returns true while extents remain. */
export function finishTrimStep(t: FsTx, ino: number, size: number): boolean {
  const left = t.inode(ino) !== undefined && trimChunk(t, ino, size);
  if (!left) t.delOrphan(ino, 'trim');
  return left;
}

/**
 * Removes up to TRIM_CHUNK extents at or past `size` (trimming one that
 * crosses it) and applies the live-byte changes. Returns true when more
 * extents past `size` remain.
 */
export function trimChunk(t: FsTx, ino: number, size: number): boolean {
  const deltas: SegmentDeltas = new Map();
  const add = (nonce: bigint, n: number): void => {
    deltas.set(nonce, (deltas.get(nonce) ?? 0) + n);
  };
  if (size > 0) {
    const [f] = t.tx.scan(TREES.extents, { gte: encodeKey([ino]), lt: extentKey(ino, size), reverse: true, limit: 1 });
    if (f !== undefined) {
      const off = decodeKey(f.key)[1] as number;
      const e = extentCodec.decode(f.value);
      if (off + e.length > size) {
        t.tx.put(TREES.extents, f.key, extentCodec.encode({ ...e, length: size - off }));
        add(e.nonce, -(off + e.length - size));
      }
    }
  }
  const rows = t.tx.scan(TREES.extents, { gte: extentKey(ino, size), lt: encodeKey([ino + 1]), limit: TRIM_CHUNK + 1 });
  const now = rows.slice(0, TRIM_CHUNK);
  for (const r of now) {
    const e = extentCodec.decode(r.value);
    t.tx.del(TREES.extents, r.key);
    add(e.nonce, -e.length);
  }
  t.applySegmentDeltas(deltas);
  return rows.length > TRIM_CHUNK;
}

/**
 * fallocate mode 0 / FALLOC_FL_KEEP_SIZE: nothing to reserve in an object
 * store, so it only extends the size (unless keepSize). EINVAL for a length of
 * 0, EFBIG past the size limit, write permission as for write.
 */
export async function fallocate(v: Vol, cred: Cred, ino: number, offset: number, length: number, keepSize: boolean, fh?: number): Promise<Attr> {
  checkCred(cred);
  checkIno(ino);
  checkRange(offset, length);
  if (length === 0) throw cairnError('CAIRN_ERR_FS_INVALID', 'fallocate length 0');
  const h = v.handleFor(fh, ino);
  if (h !== undefined && !h.write) throw cairnError('CAIRN_ERR_FS_BAD_HANDLE', `${fh} is not open for writing`);
  const end = offset + length;
  if (end > MAX_FILE_SIZE) throw cairnError('CAIRN_ERR_FS_FILE_TOO_BIG', `inode ${ino}`);
  return v.gate.run(ino, async () => {
    const rec = await liveInode(v, ino);
    checkRegular(rec, 'fallocate');
    if (h === undefined) checkAccess(cred, rec, MAY_WRITE, `fallocate inode ${ino}`);
    if (keepSize || end <= pendingView(v, ino, rec).size) return attrOf(v, ino, rec);
    // Growing only: pending writes end below `end`, so they can still commit after this.
    const next = await v.tx((t) => {
      const cur = t.mustInode(ino);
      if (end <= cur.size) return cur;
      const n = t.putInode(ino, { ...cur, size: end, mtime: t.now, ctime: t.now, dataVersion: v.changedDataVersion(ino, cur.dataVersion) });
      t.journalInode('truncate', ino, n);
      return n;
    });
    return attrOf(v, ino, next);
  });
}

// ---- segment commit ---------------------------------------------------------------------

interface FileCommit {
  readonly ino: number;
  readonly changes: Array<[number, { nonce: bigint; segmentOffset: number; length: number } | null]>;
  readonly deltas: SegmentDeltas;
  readonly end: number;
  readonly times: { mtime: bigint | undefined; ctime: bigint } | undefined;
}

/**
 * The writer's onDurable hook: commits the extents of every file the segment
 * holds. One transaction per segment (per FILES_PER_COMMIT files when it holds
 * more): extents, inode size/times/dataVersion, live bytes of this and of the
 * overwritten segments, one journal entry per file.
 */
export async function commitSegment(v: Vol, seg: DurableSegment, o: { mustBeNew?: boolean } = {}): Promise<void> {
  const nonce = seg.segment.nonce;
  const byFile = new Map<FileKey, Array<{ fileOffset: number; segmentOffset: number; length: number }>>();
  for (const w of seg.writes) {
    if (w.fileOffset === undefined) continue;
    let l = byFile.get(w.fileKey);
    if (l === undefined) byFile.set(w.fileKey, (l = []));
    l.push({ fileOffset: w.fileOffset, segmentOffset: w.segmentOffset, length: w.length });
  }
  const files = [...byFile.entries()];
  // A small upload still committing holds bytes here: its file must exist first.
  const creating = files.map(([fk]) => v.creating.get(Number(fk))).filter((p) => p !== undefined);
  if (creating.length > 0) await Promise.allSettled(creating);
  const created = Date.now();
  for (let i = 0; i < files.length || i === 0; i += FILES_PER_COMMIT) {
    const group = files.slice(i, i + FILES_PER_COMMIT);
    const first = i === 0;
    const last = i + FILES_PER_COMMIT >= files.length;
    const commits: FileCommit[] = [];
    for (const [fk, runs] of group) {
      const ino = Number(fk);
      const map = new OverlayExtentMap(treeExtentMap(v.hh.tree(TREES.extents), ino));
      const deltas: SegmentDeltas = new Map();
      let end = 0;
      for (const r of runs) {
        mergeDeltas(deltas, await applyWrite(map, r.fileOffset, r.length, { nonce, segmentOffset: r.segmentOffset }));
        end = Math.max(end, r.fileOffset + r.length);
      }
      const d = v.dirty.get(ino);
      commits.push({ ino, changes: map.changes(), deltas, end, times: d === undefined ? undefined : { mtime: d.mtime, ctime: d.ctime } });
    }
    let resolved: ReturnType<typeof v.intents.resolveInTx> = [];
    const applied = await v.tx((t) => {
      const done: number[] = [];
      let own = 0;
      resolved = [];
      for (const c of commits) {
        // The file's intents for these bytes are resolved by this commit (or moot: the file is gone).
        resolved.push(...v.intents.resolveInTx(t, c.ino, nonce));
        const rec = t.inode(c.ino);
        if (rec === undefined || t.orphan(c.ino, 'unlinked')?.reclaiming === true) continue;
        for (const [off, val] of c.changes) {
          if (val === null) t.tx.del(TREES.extents, extentKey(c.ino, off));
          else t.tx.put(TREES.extents, extentKey(c.ino, off), extentCodec.encode(val));
        }
        const others = new Map(c.deltas);
        own += others.get(nonce) ?? 0;
        others.delete(nonce);
        t.applySegmentDeltas(others);
        let mtime = rec.mtime;
        let ctime = rec.ctime;
        if (c.times !== undefined) {
          if (c.times.mtime !== undefined && c.times.mtime > mtime) mtime = c.times.mtime;
          if (c.times.ctime > ctime) ctime = c.times.ctime;
        }
        const dataVersion = v.committedDataVersion(c.ino, rec.dataVersion);
        const next = t.putInode(c.ino, { ...rec, size: Math.max(rec.size, c.end), mtime, ctime, dataVersion });
        t.journalInode('write', c.ino, next);
        done.push(c.ino);
      }
      const prev = t.segment(nonce);
      if (first && o.mustBeNew === true && (prev !== undefined || t.tx.has(TREES.deadsegs, nonceKey(nonce)))) {
        throw cairnError('CAIRN_ERR_FS_INVALID', `segment ${nonce} was already reported`);
      }
      const segRec = prev ?? { container: seg.segment.container, size: seg.size, live: 0, created };
      const live = segRec.live + own;
      const m = t.getMeta();
      t.setMeta({ liveBytes: m.liveBytes + own, storedBytes: m.storedBytes + (first ? seg.size : 0) });
      if (last && live === 0) t.killSegment(nonce, { ...segRec, live: 0 });
      else t.putSegment(nonce, { ...segRec, live });
      return done;
    });
    v.intents.settle(v, resolved, nonce);
    for (const ino of applied) {
      v.bumpExtents(ino);
      // Its times are in the record now: forget them unless more writes are pending.
      v.pruneIfClean(ino, nonce);
    }
    for (const [fk] of group) {
      const ino = Number(fk);
      if (v.settledContent.has(ino) && v.writer.pendingExtents(fk).every((e) => e.nonce === nonce)) v.settledContent.delete(ino);
    }
    if (files.length === 0) break;
  }
}

/**
 * The writer's onFailed hook: the writes are lost; flush/fsync of those files
 * report EIO once. The contents readers saw change back, so each file gets a
 * new dataVersion at once, made durable in the background.
 */
export function segmentFailed(v: Vol, f: FailedSegment): void {
  // Bytes fsync acknowledged through the intent log are not lost: written again.
  if (!v.closed) v.intents.rewriteFailed(v, f);
  for (const k of f.fileKeys) {
    const ino = Number(k);
    v.writeErrors.set(ino, f.error);
    v.bumpExtents(ino);
    v.noteDataChange(ino, 0);
    if (v.closed) continue;
    v.tasks.add(v.tx((t) => {
      const cur = t.inode(ino);
      if (cur !== undefined) t.putInodeRaw(ino, { ...cur, dataVersion: v.committedDataVersion(ino, cur.dataVersion) });
    }).catch((err: unknown) => v.logger.warn({ err, ino }, 'recording the dataVersion of a file with lost writes failed')));
  }
}

/** Pending extents of a file (for fsck and tests). */
export function pendingExtents(v: Vol, ino: number): Extent[] {
  return v.writer.pendingExtents(key(ino));
}
