// Which node objects and checkpoint records may be deleted now: the deletion
// rule of docs/architecture.md "headhunter" (reclaim.ts does the deleting).
//
// A snapshot taken at commit s references only node objects whose life holds
// s (birth <= s < death), so a dead object is kept exactly as long as such a
// snapshot may still be read. Creating a snapshot therefore costs nothing per
// node object, and deleting one releases what only it held.

import type { Core } from './core.js';
import type { ReclaimTask } from './reclaim.js';

/**
 * Commits of every snapshot that may still be read, ascending: the volume's
 * snapshots, those a retained checkpoint lists (a fallback mount would have
 * them), and those an open view reads.
 */
export function heldMoments(core: Core): number[] {
  const s = new Set<number>();
  for (const snap of core.state.snapshots.values()) s.add(snap.commitSeq);
  for (const r of core.retained) for (const c of r.snapshots) s.add(c);
  for (const c of core.snapshotReaders.keys()) s.add(c);
  return [...s].sort((a, b) => a - b);
}

/** True when some moment m (ascending) has birth <= m < death (death undefined: still live). */
export function heldBy(moments: readonly number[], birth: number, death: number | undefined): boolean {
  let lo = 0;
  let hi = moments.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (moments[mid]! < birth) lo = mid + 1;
    else hi = mid;
  }
  return lo < moments.length && (death === undefined || moments[lo]! < death);
}

/** Deletions allowed now. */
export function deletable(core: Core): ReclaimTask[] {
  if (core.failure !== undefined || core.retained.length === 0) return [];
  const oldest = core.retained[0]!.seq;
  const readers = core.views.oldest();
  const moments = heldMoments(core);
  const out: ReclaimTask[] = [];
  for (const [nonce, since] of core.garbage) {
    if (since > oldest || since > readers) continue;
    const life = core.objects.get(nonce);
    if (life === undefined || heldBy(moments, life.birth, life.death)) continue;
    out.push({ kind: 'node', nonce });
  }
  for (const seq of core.storedCheckpoints) if (seq < oldest) out.push({ kind: 'checkpoint', seq });
  return out;
}
