// Checkpoint records of version 1 (docs/formats.md "Checkpoint records",
// "Version 1"), converted to the current layout when a volume is mounted.
//
// Version 1 listed, in every snapshot, the node objects it might reference
// (all objects live when it was taken), and knew nothing of birth and death.
// The conversion gives every object a life that covers every state that may
// reference it:
//   - a live object: birth = the lowest commit of a snapshot listing it, or
//     the record's commit when none does (later snapshots come after it);
//   - an object only snapshots list (dead, kept for them): garbage with
//     birth = the lowest and death = one more than the highest commit of the
//     snapshots listing it, since = this record;
//   - garbage: an empty life (no snapshot lists it; if one did, as above).
// Object sizes were not recorded: stored = 0 (unknown; compaction learns it).

import type { CheckpointRecord, Fields, GarbageEntry, LayoutEntry } from './checkpoint-codec.js';

/** Decodes the body of a version 1 record and converts it. */
export function upgradeV1(o: Record<string, unknown>, f: Fields): CheckpointRecord {
  const common = f.common(o);
  const lo = new Map<bigint, number>();
  const hi = new Map<bigint, number>();
  const snapshots = f.arr(o.snapshots, 'snapshots').map((x) => {
    const a = f.arr(x, 'snapshot');
    const commitSeq = f.int(a[2]);
    for (const n of f.arr(a[4], 'snapshot objects').map((v) => f.big(v))) {
      lo.set(n, Math.min(lo.get(n) ?? commitSeq, commitSeq));
      hi.set(n, Math.max(hi.get(n) ?? commitSeq, commitSeq));
    }
    return { name: f.str(a[0], 'snapshot name'), createdAt: f.int(a[1]), commitSeq, trees: f.trees(a[3]) };
  });
  const layout: LayoutEntry[] = f.arr(o.layout, 'layout').map((x) => {
    const a = f.arr(x, 'layout');
    const nonce = f.big(a[0]);
    return { nonce, bytes: f.int(a[1]), nodes: f.int(a[2]), birth: Math.min(lo.get(nonce) ?? common.commitSeq, common.commitSeq), stored: 0 };
  });
  const garbage: GarbageEntry[] = f.arr(o.garbage, 'garbage').map((x) => {
    const a = f.arr(x, 'garbage');
    const nonce = f.big(a[0]);
    return { nonce, since: f.int(a[1]), birth: lo.get(nonce) ?? 0, death: hi.has(nonce) ? hi.get(nonce)! + 1 : 0, stored: 0 };
  });
  const known = new Set([...layout.map((l) => l.nonce), ...garbage.map((g) => g.nonce)]);
  for (const [nonce, birth] of lo) {
    if (!known.has(nonce)) garbage.push({ nonce, since: common.seq, birth, death: hi.get(nonce)! + 1, stored: 0 });
  }
  return { ...common, snapshots, layout, garbage };
}
