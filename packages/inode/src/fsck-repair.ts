// fsck's repairs. Each fix is built from what a check saw in its read view and
// re-checks the newest state inside its own transaction before it writes (the
// volume keeps serving meanwhile): it does nothing when the entry, record or
// counter it is about changed since. Counters are corrected by deltas (the
// difference the view showed), which stays right whatever commits ran since,
// because every commit that changes an extent changes the live bytes of its
// segment and the volume's total by the same amount in the same transaction.
// Fixes of a file's extents hold its gate and flush its pending writes first,
// like truncate (docs/architecture.md "The data path"). Namespace repairs are
// journaled like the operations they resemble.

import { decodeKey, encodeKey } from '@cairn/headhunter';
import type { Vol } from './context.js';
import { finishTrimStep } from './data.js';
import type { Finding, Fix } from './fsck-findings.js';
import { FIRST_ENTRY_COOKIE, ROOT_INO, S_IFDIR, S_IFMT, S_IFREG, TREES, TRIM_CHUNK } from './format.js';
import { isDir } from './namei.js';
import {
  deadSegCodec, dircookieCodec, dircookieKey, direntCodec, direntKey, extentCodec, extentKey, journalKey, nonceKey, segmentCodec, type InodeRec, type MetaRec,
} from './records.js';
import type { FsTx } from './tx.js';

/** Name of the directory (in the root) unreachable inodes are linked into. */
export const LOST_FOUND = 'lost+found';

/** Fixes per transaction. */
const FIXES_PER_TX = 64;

// ---- helpers -------------------------------------------------------------------

/** The dircookies record of (dir, cookie), undefined when missing or undecodable. */
function cookieRec(t: FsTx, dir: number, cookie: number): { name: string; ino: number; type: number } | undefined {
  const b = t.tx.get(TREES.dircookies, dircookieKey(dir, cookie));
  if (b === undefined) return undefined;
  try {
    return dircookieCodec.decode(b);
  } catch {
    return undefined;
  }
}

/**
 * Removes an entry and its cookie record when that record is the entry's own.
 * The directory's change counter moves (its times too) but not its link
 * count: the next check recomputes that, and a link-count fix computed
 * before this removal is skipped as stale.
 */
function dropEntry(t: FsTx, dir: number, name: string, cookie: number): void {
  t.tx.del(TREES.dirents, direntKey(dir, name));
  const d = t.inode(dir);
  if (d !== undefined) t.putInode(dir, { ...d, size: Math.max(0, d.size - 1), mtime: t.now, ctime: t.now });
  const raw = t.tx.get(TREES.dircookies, dircookieKey(dir, cookie));
  if (raw === undefined) return;
  const ck = cookieRec(t, dir, cookie);
  if (ck === undefined || ck.name === name) t.tx.del(TREES.dircookies, dircookieKey(dir, cookie));
}

/** Returns extent bytes to their segments (segments gone are skipped; live never goes below 0). */
function returnBytes(t: FsTx, deltas: ReadonlyMap<bigint, number>): void {
  const ok = new Map<bigint, number>();
  for (const [nonce, d] of deltas) {
    const rec = t.segment(nonce);
    if (rec !== undefined) ok.set(nonce, Math.max(d, -rec.live));
  }
  t.applySegmentDeltas(ok);
}

/** Flushes a file's pending writes, ignoring a failure (its writes are lost either way). */
async function flushQuiet(v: Vol, ino: number): Promise<void> {
  try {
    await v.writer.flush(BigInt(ino));
  } catch {
    // reported to the file's next fsync
  }
}

/** Runs fn with the file's gate held and its pending writes committed (no extent commit of it can run meanwhile). */
async function withFileQuiet<T>(v: Vol, ino: number, fn: () => Promise<T>): Promise<T> {
  return v.gate.run(ino, async () => {
    await flushQuiet(v, ino);
    try {
      return await fn();
    } finally {
      v.bumpExtents(ino);
    }
  });
}

/** /lost+found, created (0700, root's) when missing; undefined when the name holds something else. */
function lostFound(t: FsTx): { ino: number; rec: InodeRec } | undefined {
  const root = t.inode(ROOT_INO);
  if (root === undefined || !isDir(root)) return undefined;
  const e = t.dirent(ROOT_INO, LOST_FOUND);
  if (e !== undefined) {
    const rec = t.inode(e.ino);
    return rec !== undefined && isDir(rec) ? { ino: e.ino, rec } : undefined;
  }
  const ino = t.allocIno();
  const now = t.now;
  const rec = t.putInode(ino, {
    mode: S_IFDIR | 0o700, uid: 0, gid: 0, nlink: 2, size: 0, atime: now, mtime: now, ctime: now, btime: now,
    change: 0, dataVersion: 0, rdev: 0, parent: ROOT_INO, nextCookie: FIRST_ENTRY_COOKIE,
  });
  const r = t.addEntry(ROOT_INO, root, LOST_FOUND, ino, rec.mode);
  t.putInode(ROOT_INO, { ...r, nlink: r.nlink + 1, mtime: now, ctime: now });
  t.journalInode('mkdir', ino, rec, { parent: ROOT_INO, name: LOST_FOUND });
  return { ino, rec };
}

const tx = (run: (t: FsTx) => boolean): Fix => ({ kind: 'tx', run });

// ---- entries and cookies -----------------------------------------------------------

/** Removes entry (dir, name) if it still names `ino` with `cookie` and `still` holds. */
export function removeEntryFix(dir: number, name: string, ino: number, cookie: number, still: (t: FsTx) => boolean = () => true): Fix {
  return tx((t) => {
    const e = t.dirent(dir, name);
    if (e === undefined || e.ino !== ino || e.cookie !== cookie || !still(t)) return false;
    dropEntry(t, dir, name, cookie);
    t.journal({ kind: 'unlink', ino, parent: dir, name });
    return true;
  });
}

/**
 * Removes one entry of `dir` naming directory `ino` other than `keepName`
 * (a directory is named only by its entry in its parent; the root by none),
 * found by scanning `dir` inside the transaction.
 */
export function extraEntryFix(ino: number, dir: number, keepName: string | undefined): Fix {
  return tx((t) => {
    const rec = t.inode(ino);
    if (rec === undefined || !isDir(rec)) return false;
    let found: { name: string; cookie: number } | undefined;
    let after: Buffer | undefined;
    while (found === undefined) {
      const rows = t.tx.scan(TREES.dirents, { ...(after ? { gt: after } : { gte: encodeKey([dir]) }), lt: encodeKey([dir + 1]), limit: 1000 });
      for (const r of rows) {
        let e;
        try {
          e = direntCodec.decode(r.value);
        } catch {
          continue;
        }
        const name = decodeKey(r.key)[1];
        if (e.ino === ino && typeof name === 'string' && name !== keepName) {
          found = { name, cookie: e.cookie };
          break;
        }
      }
      if (rows.length < 1000) break;
      after = rows[rows.length - 1]!.key;
    }
    if (found === undefined) return false;
    dropEntry(t, dir, found.name, found.cookie);
    t.journal({ kind: 'unlink', ino, parent: dir, name: found.name });
    return true;
  });
}

/** Rewrites an entry (and its cookie record) with its inode's type bits. */
export function entryTypeFix(dir: number, name: string, ino: number): Fix {
  return tx((t) => {
    const e = t.dirent(dir, name);
    const rec = t.inode(ino);
    if (e === undefined || e.ino !== ino || rec === undefined) return false;
    const type = rec.mode & S_IFMT;
    if (e.type === type) return false;
    t.tx.put(TREES.dirents, direntKey(dir, name), direntCodec.encode({ ...e, type }));
    const ck = cookieRec(t, dir, e.cookie);
    if (ck?.name === name) t.tx.put(TREES.dircookies, dircookieKey(dir, e.cookie), dircookieCodec.encode({ ...ck, ino, type }));
    return true;
  });
}

/** Writes the cookie record of entry (dir, name) from the entry (unless another entry owns that cookie). */
export function writeCookieFix(dir: number, name: string, cookie: number): Fix {
  return tx((t) => {
    const e = t.dirent(dir, name);
    if (e === undefined || e.cookie !== cookie) return false;
    const ck = cookieRec(t, dir, cookie);
    if (ck !== undefined && ck.name === name && ck.ino === e.ino && ck.type === e.type) return false;
    if (ck !== undefined && ck.name !== name && t.dirent(dir, ck.name)?.cookie === cookie) return false;
    t.tx.put(TREES.dircookies, dircookieKey(dir, cookie), dircookieCodec.encode({ name, ino: e.ino, type: e.type }));
    return true;
  });
}

/** Deletes cookie record (dir, cookie) naming `name` when no entry owns it. */
export function deleteCookieFix(dir: number, cookie: number, name: string | undefined, raw: Buffer): Fix {
  return tx((t) => {
    const cur = t.tx.get(TREES.dircookies, dircookieKey(dir, cookie));
    if (cur === undefined || !cur.equals(raw)) return false;
    if (name !== undefined && t.dirent(dir, name)?.cookie === cookie) return false;
    t.tx.del(TREES.dircookies, dircookieKey(dir, cookie));
    return true;
  });
}

/** Gives entry (dir, name) a new cookie (a duplicate, or one below the first entry cookie). */
export function newCookieFix(dir: number, name: string, cookie: number): Fix {
  return tx((t) => {
    const e = t.dirent(dir, name);
    const d = t.inode(dir);
    if (e === undefined || e.cookie !== cookie || d === undefined || !isDir(d)) return false;
    const next = Math.max(d.nextCookie ?? FIRST_ENTRY_COOKIE, FIRST_ENTRY_COOKIE);
    if (cookieRec(t, dir, cookie)?.name === name) t.tx.del(TREES.dircookies, dircookieKey(dir, cookie));
    t.tx.put(TREES.dirents, direntKey(dir, name), direntCodec.encode({ ...e, cookie: next }));
    t.tx.put(TREES.dircookies, dircookieKey(dir, next), dircookieCodec.encode({ name, ino: e.ino, type: e.type }));
    t.putInode(dir, { ...d, nextCookie: next + 1 });
    return true;
  });
}

/** Raises a directory's nextCookie above `maxCookie`. */
export function nextCookieFix(dir: number, maxCookie: number): Fix {
  return tx((t) => {
    const d = t.inode(dir);
    if (d === undefined || !isDir(d) || (d.nextCookie ?? FIRST_ENTRY_COOKIE) > maxCookie) return false;
    t.putInode(dir, { ...d, nextCookie: maxCookie + 1 });
    return true;
  });
}

// ---- inodes --------------------------------------------------------------------

/** Sets a link count computed from a view, if the inode did not change since (every link change bumps `change`). */
export function nlinkFix(ino: number, nlink: number, seenChange: number): Fix {
  return tx((t) => {
    const cur = t.inode(ino);
    if (cur === undefined || cur.change !== seenChange || cur.nlink === nlink) return false;
    const next = t.putInode(ino, { ...cur, nlink });
    if (nlink > 0) t.delOrphan(ino, 'unlinked');
    t.journalInode('setattr', ino, next);
    return true;
  });
}

/**
 * Corrects a directory's size (its number of entries) by `delta`, the
 * difference the scan saw. Relative, so that entries added or removed since the
 * scan (by callers, or by the removal fixes of this run, which lower the size
 * themselves) stay counted.
 */
export function dirSizeFix(dir: number, delta: number): Fix {
  return tx((t) => {
    const cur = t.inode(dir);
    if (cur === undefined || !isDir(cur) || delta === 0) return false;
    t.putInode(dir, { ...cur, size: Math.max(0, cur.size + delta) });
    return true;
  });
}

/** Sets a directory's parent to the directory whose entry `name` names it (the root: itself). */
export function parentFix(dir: number, parent: number, name: string | undefined): Fix {
  return tx((t) => {
    const cur = t.inode(dir);
    if (cur === undefined || !isDir(cur) || cur.parent === parent) return false;
    if (dir !== ROOT_INO && (name === undefined || t.dirent(parent, name)?.ino !== dir)) return false;
    t.putInode(dir, { ...cur, parent });
    return true;
  });
}

/**
 * Links an unreachable inode into /lost+found as "#<ino>", if it did not
 * change since the view. `detach` is the entry naming a directory inside an
 * unreachable cycle (removed first). Sets nlink (1 for a file no entry
 * named; a directory's own count), drops a stale 'unlinked' orphan record.
 */
export function attachFix(ino: number, seenChange: number, nlink: number, detach?: { dir: number; name: string }): Fix {
  return tx((t) => {
    const cur = t.inode(ino);
    if (cur === undefined || cur.change !== seenChange) return false;
    const dir = isDir(cur);
    if (detach !== undefined) {
      const e = t.dirent(detach.dir, detach.name);
      if (e !== undefined && e.ino === ino) dropEntry(t, detach.dir, detach.name, e.cookie);
    }
    const lf = lostFound(t);
    if (lf === undefined || lf.ino === ino) return false;
    let name = `#${ino}`;
    for (let k = 1; t.dirent(lf.ino, name) !== undefined; k++) name = `#${ino}.${k}`;
    const lfRec = t.addEntry(lf.ino, lf.rec, name, ino, cur.mode);
    t.putInode(lf.ino, { ...lfRec, nlink: lfRec.nlink + (dir ? 1 : 0), mtime: t.now, ctime: t.now });
    const next = t.putInode(ino, { ...cur, nlink, ctime: t.now, ...(dir ? { parent: lf.ino } : {}) });
    t.delOrphan(ino, 'unlinked');
    t.journalInode('link', ino, next, { parent: lf.ino, name });
    return true;
  });
}

/** Deletes an orphan record when `stale` still holds for the inode's current record. */
export function orphanFix(ino: number, kind: 'unlinked' | 'trim', stale: (rec: InodeRec | undefined) => boolean): Fix {
  return tx((t) => {
    if (t.orphan(ino, kind) === undefined || !stale(t.inode(ino))) return false;
    t.delOrphan(ino, kind);
    return true;
  });
}

/** Recreates a missing root directory (its entries are still keyed by inode 1); `nlink` is read when it runs. */
export function rootFix(nlink: () => number): Fix {
  return tx((t) => {
    if (t.inode(ROOT_INO) !== undefined) return false;
    const now = t.now;
    const [last] = t.tx.scan(TREES.dircookies, { gte: encodeKey([ROOT_INO]), lt: encodeKey([ROOT_INO + 1]), reverse: true, limit: 1 });
    const nextCookie = last === undefined ? FIRST_ENTRY_COOKIE : (decodeKey(last.key)[1] as number) + 1;
    t.putInodeRaw(ROOT_INO, {
      mode: S_IFDIR | 0o755, uid: 0, gid: 0, nlink: nlink(), size: 0, atime: now, mtime: now, ctime: now, btime: now,
      change: 1, dataVersion: 0, rdev: 0, parent: ROOT_INO, nextCookie: Math.max(nextCookie, FIRST_ENTRY_COOKIE),
    });
    return true;
  });
}

/** Deletes the xattrs of an inode that does not exist (chunked). */
export function xattrsFix(ino: number): Fix {
  return {
    kind: 'async',
    async run(v) {
      let did = false;
      for (;;) {
        const more = await v.tx((t) => {
          if (t.inode(ino) !== undefined) return undefined;
          const rows = t.tx.scan(TREES.xattrs, { gte: encodeKey([ino]), lt: encodeKey([ino + 1]), limit: TRIM_CHUNK + 1 });
          for (const r of rows.slice(0, TRIM_CHUNK)) t.tx.del(TREES.xattrs, r.key);
          return rows.length > TRIM_CHUNK;
        });
        if (more === undefined) return did;
        did = true;
        if (!more) return true;
      }
    },
  };
}

// ---- extents and segments ---------------------------------------------------------

/** Deletes every extent of an inode that is missing or not a regular file (chunked), returning their bytes. */
export function dropExtentsFix(ino: number): Fix {
  return {
    kind: 'async',
    async run(v) {
      let did = false;
      for (;;) {
        const more = await v.tx((t) => {
          const rec = t.inode(ino);
          if (rec !== undefined && (rec.mode & S_IFMT) === S_IFREG) return undefined;
          const rows = t.tx.scan(TREES.extents, { gte: encodeKey([ino]), lt: encodeKey([ino + 1]), limit: TRIM_CHUNK + 1 });
          const deltas = new Map<bigint, number>();
          for (const r of rows.slice(0, TRIM_CHUNK)) {
            t.tx.del(TREES.extents, r.key);
            try {
              const e = extentCodec.decode(r.value);
              deltas.set(e.nonce, (deltas.get(e.nonce) ?? 0) - e.length);
            } catch {
              // an undecodable extent references nothing we can count
            }
          }
          returnBytes(t, deltas);
          return rows.length > TRIM_CHUNK;
        });
        if (more === undefined) return did;
        did = true;
        if (!more) return true;
      }
    },
  };
}

/**
 * Shortens (newLength > 0) or removes one extent of a regular file if it
 * still holds `seen`, returning the bytes to its segment; with `hole` the
 * file's contents changed (dataVersion is bumped).
 */
export function extentFix(ino: number, offset: number, seen: Buffer, newLength: number, hole = false): Fix {
  return {
    kind: 'async',
    run: (v) => withFileQuiet(v, ino, () => v.tx((t) => {
      const key = extentKey(ino, offset);
      const cur = t.tx.get(TREES.extents, key);
      if (cur === undefined || !cur.equals(seen)) return false;
      const e = extentCodec.decode(cur);
      const keep = Math.max(0, Math.min(newLength, e.length));
      if (keep === 0) t.tx.del(TREES.extents, key);
      else t.tx.put(TREES.extents, key, extentCodec.encode({ ...e, length: keep }));
      returnBytes(t, new Map([[e.nonce, keep - e.length]]));
      const rec = t.inode(ino);
      if (hole && rec !== undefined) t.putInode(ino, { ...rec, dataVersion: rec.dataVersion + 1 });
      return true;
    })),
  };
}

/** Removes the extents past a regular file's size when no truncate is pending for it. */
export function pastSizeFix(ino: number): Fix {
  return {
    kind: 'async',
    run: (v) => withFileQuiet(v, ino, async () => {
      let did = false;
      for (;;) {
        const more = await v.tx((t) => {
          const rec = t.inode(ino);
          if (rec === undefined || (rec.mode & S_IFMT) !== S_IFREG || t.orphan(ino, 'trim') !== undefined) return undefined;
          // finishTrimStep trims to the size and drops a 'trim' record (none here).
          return finishTrimStep(t, ino, rec.size);
        });
        if (more === undefined) return did;
        did = true;
        if (!more) return true;
      }
    }),
  };
}

/** Moves a dead segment that extents still name back to `segments`, with the live bytes the view counted. */
export function reviveFix(nonce: bigint, liveOf: () => number): Fix {
  return tx((t) => {
    const live = liveOf();
    if (t.segment(nonce) !== undefined) return false;
    const raw = t.tx.get(TREES.deadsegs, nonceKey(nonce));
    if (raw === undefined) return false;
    const d = deadSegCodec.decode(raw);
    t.tx.del(TREES.deadsegs, nonceKey(nonce));
    t.putSegment(nonce, { container: d.container, size: d.size, live, created: d.died });
    t.setMeta({ liveBytes: t.getMeta().liveBytes + live });
    return true;
  });
}

/**
 * Corrects a segment's live bytes by `delta` (and the volume total). A
 * segment left at 0 stays a record (the cleaner moves such records to
 * `deadsegs`; one of its own new segments may be about to receive extents).
 */
export function liveFix(nonce: bigint, delta: number): Fix {
  return tx((t) => {
    const rec = t.segment(nonce);
    if (rec === undefined || delta === 0) return false;
    const live = rec.live + delta;
    if (live < 0) return false;
    t.putSegment(nonce, { ...rec, live });
    t.setMeta({ liveBytes: t.getMeta().liveBytes + delta });
    return true;
  });
}

/** Drops the deadsegs record of a segment that is also live. */
export function deadRecordFix(nonce: bigint): Fix {
  return tx((t) => {
    if (t.segment(nonce) === undefined || t.tx.get(TREES.deadsegs, nonceKey(nonce)) === undefined) return false;
    t.tx.del(TREES.deadsegs, nonceKey(nonce));
    return true;
  });
}

/** Rewrites a segment record's container. */
export function containerFix(nonce: bigint, container: string): Fix {
  return tx((t) => {
    const rec = t.segment(nonce);
    if (rec === undefined || rec.container === container) return false;
    t.tx.put(TREES.segments, nonceKey(nonce), segmentCodec.encode({ ...rec, container }));
    return true;
  });
}

// ---- meta and journal ----------------------------------------------------------------

/** Adds `delta` to a meta counter (liveBytes, storedBytes). */
export function metaDeltaFix(field: 'liveBytes' | 'storedBytes', delta: number): Fix {
  return tx((t) => {
    if (delta === 0) return false;
    const m = t.getMeta();
    t.setMeta({ [field]: Math.max(0, m[field] + delta) } as Partial<MetaRec>);
    return true;
  });
}

/** Raises a meta counter (nextIno, nextJid) to at least `min`. */
export function metaRaiseFix(field: 'nextIno' | 'nextJid', min: number): Fix {
  return tx((t) => {
    if (t.getMeta()[field] >= min) return false;
    t.setMeta({ [field]: min } as Partial<MetaRec>);
    return true;
  });
}

/** Raises the journal floor to `floor` (when given) and deletes the entries below the floor (chunked). */
export function journalFloorFix(floor: number | undefined): Fix {
  return {
    kind: 'async',
    async run(v) {
      let did = false;
      if (floor !== undefined) {
        did = await v.tx((t) => {
          if (t.getMeta().journalFloor >= floor) return false;
          t.setMeta({ journalFloor: floor });
          return true;
        });
      }
      for (;;) {
        const n = await v.tx((t) => {
          const rows = t.tx.scan(TREES.journal, { lt: journalKey(t.getMeta().journalFloor), limit: TRIM_CHUNK });
          for (const r of rows) t.tx.del(TREES.journal, r.key);
          return rows.length;
        });
        if (n > 0) did = true;
        if (n < TRIM_CHUNK) return did;
      }
    },
  };
}

// ---- applying -----------------------------------------------------------------------

/**
 * Applies the fixes of `findings` (marking each problem repaired or not):
 * transaction fixes FIXES_PER_TX to a transaction (one by one when a batch
 * fails), then the others one at a time. Returns how many were applied.
 */
export async function applyFixes(v: Vol, findings: readonly Finding[], tick: () => void): Promise<number> {
  let applied = 0;
  const mark = (f: Finding, ok: boolean): void => {
    f.problem.repaired = ok;
    if (ok) applied++;
    tick();
  };
  const txs = findings.filter((f) => f.fix?.kind === 'tx');
  for (let i = 0; i < txs.length; i += FIXES_PER_TX) {
    v.checkOpen();
    const batch = txs.slice(i, i + FIXES_PER_TX);
    const run = (f: Finding, t: FsTx): boolean => (f.fix as Extract<Fix, { kind: 'tx' }>).run(t);
    let results: boolean[] | undefined;
    try {
      results = await v.tx((t) => batch.map((f) => run(f, t)));
    } catch (err) {
      v.logger.debug({ err }, 'fsck: a batch of fixes failed; applying them one by one');
    }
    if (results !== undefined) {
      batch.forEach((f, k) => mark(f, results![k]!));
      continue;
    }
    for (const f of batch) {
      let ok = false;
      try {
        ok = await v.tx((t) => run(f, t));
      } catch (err) {
        v.logger.warn({ err, problem: f.problem }, 'fsck: a fix failed');
      }
      mark(f, ok);
    }
  }
  for (const f of findings) {
    if (f.fix?.kind !== 'async') continue;
    v.checkOpen();
    let ok = false;
    try {
      ok = await f.fix.run(v);
    } catch (err) {
      v.logger.warn({ err, problem: f.problem }, 'fsck: a fix failed');
    }
    mark(f, ok);
  }
  for (const f of findings) if (f.fix === undefined) f.problem.repaired = false;
  return applied;
}
