// Snapshots of a filesystem volume: named, read-only moments of every tree
// (headhunter snapshots: O(1), durable when created). Creating one first
// makes every pending write durable, so that a snapshot holds every write
// acknowledged before it. A snapshot keeps the segments its extents name:
// the deletion policy (reclaim.ts) and the cleaner (cleaner.ts) ask
// heldBySnapshots(), which looks at every snapshot's `segments` tree and at
// the views of snapshot-handle calls running now (a snapshot deleted during
// a read keeps its segments until the read ends). Reading a snapshot:
// snapshot-fs.ts.

import { cairnError, isCairnError } from '@cairn/errors';
import type { ReadView, SnapshotInfo as MetaSnapshotInfo } from '@cairn/headhunter';
import type { Vol } from './context.js';
import { TREES } from './format.js';
import { FsReader } from './reader.js';
import { nonceKey } from './records.js';
import type { SnapshotInfo } from './types.js';

/** Snapshot names: what the management API accepts (letters, digits, "._-", 1..128 characters). */
export const SNAPSHOT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function checkSnapshotName(name: unknown): string {
  if (typeof name !== 'string' || !SNAPSHOT_NAME_RE.test(name)) {
    throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `snapshot name ${JSON.stringify(name)?.slice(0, 140)} (letters, digits, ".", "_", "-"; 1..128 characters, not starting with a punctuation mark)`);
  }
  return name;
}

/** The filesystem's view of a headhunter snapshot: its counts and the meta totals at that moment. */
async function infoOf(v: Vol, s: MetaSnapshotInfo): Promise<SnapshotInfo> {
  const view = v.hh.snapshot(s.name);
  try {
    const meta = await new FsReader(view).meta();
    return {
      name: s.name, createdAt: s.createdAt, commitSeq: s.commitSeq, counts: s.counts,
      inodes: s.counts[TREES.inodes] ?? 0, liveBytes: meta.liveBytes, storedBytes: meta.storedBytes,
    };
  } finally {
    view.release();
  }
}

/**
 * Creates snapshot `name` of the volume as of now: pending writes are made
 * durable first (a lost write was reported to its file and is not part of
 * it). CAIRN_ERR_META_SNAPSHOT_EXISTS when the name is taken.
 */
export async function createSnapshot(v: Vol, name: string): Promise<SnapshotInfo> {
  checkSnapshotName(name);
  v.checkOpen();
  if (v.hh.listSnapshots().some((s) => s.name === name)) throw cairnError('CAIRN_ERR_META_SNAPSHOT_EXISTS', name);
  try {
    // Small uploads exist before their bytes' extents do (upload.ts commitSmall): store those too.
    await v.writer.flushAll();
    for (let i = 0; i < 8 && (v.settledContent.size > 0 || v.creating.size > 0 || v.intents.held > 0); i++) await v.writer.flushAll();
  } catch (err) {
    // Files whose writes were lost learn it from flush/fsync (writeErrors); the snapshot goes on without them.
    v.logger.warn({ err, snapshot: name }, 'some pending writes could not be stored before the snapshot');
  }
  const s = await v.hh.createSnapshot(name);
  v.logger.info({ snapshot: name, commitSeq: s.commitSeq }, 'snapshot created');
  return infoOf(v, s);
}

/** Every snapshot, by name. */
export async function listSnapshots(v: Vol): Promise<SnapshotInfo[]> {
  v.checkOpen();
  const out: SnapshotInfo[] = [];
  for (const s of v.hh.listSnapshots()) {
    try {
      out.push(await infoOf(v, s));
    } catch (err) {
      if (!isCairnError(err, 'CAIRN_ERR_META_SNAPSHOT_NOT_FOUND')) throw err; // deleted meanwhile
    }
  }
  return out;
}

/** Deletes a snapshot; its segments become deletable (reclaimSegments) once no running call of a handle reads it. */
export async function deleteSnapshot(v: Vol, name: string): Promise<void> {
  if (typeof name !== 'string' || name.length === 0) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'snapshot name');
  v.checkOpen();
  await v.hh.deleteSnapshot(name);
  v.logger.info({ snapshot: name }, 'snapshot deleted');
}

/**
 * The nonces among `nonces` that a snapshot still shows in its `segments`
 * tree (every extent of a snapshot names a segment recorded there, so those
 * are the segments its files may read), or that a running snapshot-handle call's view shows.
 */
export async function heldBySnapshots(v: Vol, nonces: readonly bigint[]): Promise<Set<bigint>> {
  const held = new Set<bigint>();
  if (nonces.length === 0) return held;
  const check = async (view: ReadView): Promise<void> => {
    const segs = view.tree(TREES.segments);
    for (const n of nonces) if (!held.has(n) && (await segs.has(nonceKey(n)))) held.add(n);
  };
  for (const s of v.hh.listSnapshots()) {
    let view: ReadView;
    try {
      view = v.hh.snapshot(s.name);
    } catch (err) {
      if (isCairnError(err, 'CAIRN_ERR_META_SNAPSHOT_NOT_FOUND')) continue; // deleted meanwhile
      throw err;
    }
    try {
      await check(view);
    } finally {
      view.release();
    }
  }
  for (const view of [...v.snapshotViews]) {
    try {
      await check(view);
    } catch (err) {
      if (!isCairnError(err, 'CAIRN_ERR_CLOSED')) throw err; // the call ended meanwhile: it reads nothing any more
    }
  }
  return held;
}
