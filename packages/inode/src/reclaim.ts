// Reclaiming space: the data of unlinked inodes nobody has open (at the last
// release, right after the unlink, and at mount for what a crash left), trims
// a crash interrupted, and the deletion of segments no extent references.
//
// Segment deletion rule (invariant 2): a dead segment is deleted only when
// (1) every checkpoint that may still be used to mount was published after it
// died — segmentDeletable(), the policy the cleaner extends — and (2) no
// snapshot, nor an open snapshot handle, shows it alive (heldBySnapshots in
// snapshot.ts: a snapshot's extents may still read it). Until then it waits
// in `deadsegs`.

import { segmentName } from '@cairn/segments';
import { encodeKey, decodeKey } from '@cairn/headhunter';
import type { Vol } from './context.js';
import { TREES, TRIM_CHUNK } from './format.js';
import { finishTrimStep } from './data.js';
import { deadSegCodec, extentCodec, orphanCodec, type DeadSegRec } from './records.js';
import { heldBySnapshots } from './snapshot.js';
import type { FsTx } from './tx.js';
import type { ReclaimReport } from './types.js';

/**
 * One step of reclaiming `ino`: removes up to TRIM_CHUNK extents and xattrs;
 * when nothing is left, the inode and its orphan records. Does nothing for an
 * inode that is linked again, open, or already gone. Returns true when done.
 * An inode that needs more than one step is marked `reclaiming` in the first
 * one, and extent commits skip marked inodes from then on.
 */
export function reclaimStep(t: FsTx, ino: number, isOpen: () => boolean): boolean {
  const o = t.orphan(ino, 'unlinked');
  if (o === undefined) return true;
  const rec = t.inode(ino);
  if (rec === undefined || rec.nlink > 0) {
    t.delOrphan(ino, 'unlinked');
    return true;
  }
  if (isOpen()) return true;
  const range = { gte: encodeKey([ino]), lt: encodeKey([ino + 1]), limit: TRIM_CHUNK + 1 };
  const ext = t.tx.scan(TREES.extents, range);
  const xs = t.tx.scan(TREES.xattrs, range);
  const deltas = new Map<bigint, number>();
  for (const r of ext.slice(0, TRIM_CHUNK)) {
    const e = extentCodec.decode(r.value);
    deltas.set(e.nonce, (deltas.get(e.nonce) ?? 0) - e.length);
    t.tx.del(TREES.extents, r.key);
  }
  for (const r of xs.slice(0, TRIM_CHUNK)) t.tx.del(TREES.xattrs, r.key);
  t.applySegmentDeltas(deltas);
  if (ext.length > TRIM_CHUNK || xs.length > TRIM_CHUNK) {
    if (o.reclaiming !== true) t.putOrphan(ino, { ...o, reclaiming: true });
    return false;
  }
  t.delInode(ino);
  t.delOrphan(ino, 'unlinked');
  t.delOrphan(ino, 'trim');
  return true;
}

/** Reclaims an unlinked inode unless it is open; failures are logged (the orphan record stays for the next mount). */
export async function reclaimInode(v: Vol, ino: number): Promise<void> {
  if (v.isOpen(ino) && !v.closed) {
    // Opened meanwhile (by inode number): its last release reclaims it.
    v.openOrphans.add(ino);
    return;
  }
  if (v.reclaiming.has(ino) || v.closed) return;
  v.reclaiming.add(ino);
  try {
    while (!(await v.tx((t) => reclaimStep(t, ino, () => v.isOpen(ino))))) {
      // more chunks
    }
    // A step that found it open (opened by number meanwhile) left it to the last release.
    if (v.isOpen(ino) && !v.closed) v.openOrphans.add(ino);
    reclaimedInTx(v, ino);
  } catch (err) {
    v.logger.warn({ err, ino }, 'reclaiming an unlinked inode failed; it stays an orphan until the next mount');
  } finally {
    v.reclaiming.delete(ino);
  }
}

/**
 * Inside the transaction that dropped the last link of `ino` (`after` is its
 * record now): when nobody has it open, reclaims it in that same commit,
 * instead of in one more durable commit right after it (unlink, a rename or
 * an upload over a file). Returns `ino` when it is gone entirely: pass that to
 * reclaimedInTx once the commit is durable. An inode with more than one
 * step's worth of extents or xattrs stays an orphan, and the transaction's
 * post-commit reclaim (Vol.tx) continues it as usual.
 */
export function reclaimInTx(v: Vol, t: FsTx, ino: number, after: { nlink: number }): number | undefined {
  if (after.nlink !== 0 || v.closed || v.reclaiming.has(ino) || v.isOpen(ino)) return undefined;
  reclaimStep(t, ino, () => v.isOpen(ino));
  if (t.inode(ino) !== undefined) return undefined;
  t.reclaimedHere(ino);
  return ino;
}

/** After the last reclaim step of `ino` is durable: forgets its in-memory state (a no-op for undefined). */
export function reclaimedInTx(v: Vol, ino: number | undefined): void {
  if (ino === undefined) return;
  v.bumpExtents(ino);
  v.dirty.delete(ino);
  v.writeErrors.delete(ino);
}

/** At mount: finishes every interrupted trim and reclaims every orphan (nothing is open yet). */
export async function recoverOrphans(v: Vol): Promise<{ reclaimed: number; trims: number }> {
  let reclaimed = 0;
  let trims = 0;
  let after: Buffer | undefined;
  for (;;) {
    const rows = await v.hh.tree(TREES.orphans).scan({ ...(after ? { gt: after } : {}), limit: 1000 });
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.key;
    for (const r of rows) {
      const ino = decodeKey(r.key)[0] as number;
      const o = orphanCodec.decode(r.value);
      if (o.kind === 'trim') {
        while (await v.tx((t) => finishTrimStep(t, ino, o.size!))) {
          // more chunks
        }
        trims++;
      } else {
        await reclaimInode(v, ino);
        reclaimed++;
      }
    }
  }
  if (reclaimed + trims > 0) v.logger.info({ reclaimed, trims }, 'finished orphans left by an earlier run');
  return { reclaimed, trims };
}

/** What the deletion policy knows of the volume. */
export interface DeletionContext {
  /** Newest published checkpoint number. */
  readonly checkpointSeq: number;
  /** Published checkpoints kept for fallback mounts. */
  readonly retainCheckpoints: number;
}

/**
 * The deletion policy: a dead segment may go once every retained checkpoint
 * was captured after it died. It died while checkpoint `dead.checkpoint` was
 * the newest; the next one may have been captured before, so the retained
 * window (the newest `retainCheckpoints`) must lie entirely after that one.
 */
export function segmentDeletable(dead: DeadSegRec, c: DeletionContext): boolean {
  return c.checkpointSeq - c.retainCheckpoints + 1 >= dead.checkpoint + 2;
}

/** Deletes the dead segments the policy allows (up to `limit`); the rest keep waiting. */
export async function reclaimSegments(v: Vol, limit = 1000): Promise<ReclaimReport> {
  v.checkOpen();
  const ctx: DeletionContext = { checkpointSeq: v.hh.stats().checkpoint.seq, retainCheckpoints: v.o.retainCheckpoints };
  let deleted = 0;
  let waiting = 0;
  let after: Buffer | undefined;
  for (;;) {
    const rows = await v.hh.tree(TREES.deadsegs).scan({ ...(after ? { gt: after } : {}), limit: 1000 });
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.key;
    for (const r of rows) {
      const nonce = BigInt(decodeKey(r.key)[0] as number | bigint);
      const dead = deadSegCodec.decode(r.value);
      if (deleted >= limit || !segmentDeletable(dead, ctx) || (await heldBySnapshots(v, [nonce])).size > 0) {
        waiting++;
        continue;
      }
      const name = segmentName(nonce);
      await v.store.container(dead.container).delete(name);
      v.cache.invalidate({ container: dead.container, name });
      await v.tx((t) => {
        if (t.tx.get(TREES.deadsegs, r.key) === undefined) return;
        t.tx.del(TREES.deadsegs, r.key);
        t.setMeta({ storedBytes: Math.max(0, t.getMeta().storedBytes - dead.size) });
      });
      deleted++;
    }
  }
  return { deleted, waiting };
}
