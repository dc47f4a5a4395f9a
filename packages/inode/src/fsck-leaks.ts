// fsck, leaked segment objects: `seg-` objects in the data containers that no
// segment record (live or dead) names — a segment whose PUT completed but
// whose commit a crash prevented, or an upload that failed after it landed.
// They hold no data any file can reach; repair deletes them. Only objects
// older than the grace period count (a commit may still be on its way for a
// newer one), only nonces the volume has handed out, and none a snapshot
// shows (invariant 2). Internal to fsck.

import { parseSegmentName, SEGMENT_NAME_PREFIX } from '@cairn/segments';
import type { Vol } from './context.js';
import type { NonceMap, SegInfo } from './fsck-table.js';
import type { FsckLeaks } from './fsck-types.js';
import { TREES } from './format.js';
import { nonceKey } from './records.js';

export interface LeakedObject {
  readonly container: string;
  readonly name: string;
  readonly nonce: bigint;
  readonly size: number;
}

export interface LeakScan {
  readonly leaked: LeakedObject[];
  readonly recent: number;
  /** Objects listed. */
  readonly listed: number;
}

/**
 * Lists the data containers for segment objects that neither `segs` nor
 * `dead` (the records of the view just checked) names. `tick` is called per
 * object listed.
 */
export async function findLeaks(
  v: Vol, containers: readonly string[], segs: NonceMap<SegInfo>, dead: NonceMap<SegInfo>, graceMs: number, tick: () => void, signal?: AbortSignal,
): Promise<LeakScan> {
  const handedOut = v.hh.stats().nonces.next;
  const cutoff = Date.now() - graceMs;
  const leaked: LeakedObject[] = [];
  let recent = 0;
  let listed = 0;
  for (const container of containers) {
    for await (const e of v.store.container(container).listAll({ prefix: SEGMENT_NAME_PREFIX, ...(signal ? { signal } : {}) })) {
      tick();
      listed++;
      if (e.kind !== 'object') continue;
      const nonce = parseSegmentName(e.name);
      if (nonce === undefined || nonce >= handedOut || segs.has(nonce) || dead.has(nonce)) continue;
      if (v.locate(nonce).container !== container) continue; // not where this volume puts it: not ours
      if (e.mtime > cutoff) {
        recent++;
        continue;
      }
      leaked.push({ container, name: e.name, nonce, size: e.size });
    }
  }
  const out: LeakedObject[] = [];
  for (const l of leaked) if (!(await heldBySnapshot(v, l.nonce))) out.push(l);
  return { leaked: out, recent, listed };
}

/** True when some snapshot records the segment (live or dead). */
async function heldBySnapshot(v: Vol, nonce: bigint): Promise<boolean> {
  for (const s of v.hh.listSnapshots()) {
    const view = v.hh.snapshot(s.name);
    try {
      if (await view.tree(TREES.segments).has(nonceKey(nonce))) return true;
      if (await view.tree(TREES.deadsegs).has(nonceKey(nonce))) return true;
    } finally {
      view.release();
    }
  }
  return false;
}

/** Deletes leaked objects that still have no record (checked on the newest commit right before each deletion). */
export async function deleteLeaks(v: Vol, leaked: readonly LeakedObject[]): Promise<number> {
  let deleted = 0;
  for (const l of leaked) {
    v.checkOpen();
    const key = nonceKey(l.nonce);
    if ((await v.hh.tree(TREES.segments).has(key)) || (await v.hh.tree(TREES.deadsegs).has(key)) || (await heldBySnapshot(v, l.nonce))) continue;
    try {
      await v.store.container(l.container).delete(l.name);
      v.cache.invalidate({ container: l.container, name: l.name });
      deleted++;
    } catch (err) {
      v.logger.warn({ err, object: `${l.container}/${l.name}` }, 'fsck: deleting a leaked segment failed');
    }
  }
  return deleted;
}

/** The report's summary of a leak scan. */
export function leakSummary(s: LeakScan | undefined, deleted: number): FsckLeaks {
  if (s === undefined) return { segments: 0, bytes: 0, nonces: [], recent: 0, deleted };
  return {
    segments: s.leaked.length,
    bytes: s.leaked.reduce((n, l) => n + l.size, 0),
    nonces: s.leaked.slice(0, 100).map((l) => l.nonce.toString()),
    recent: s.recent,
    deleted,
  };
}
