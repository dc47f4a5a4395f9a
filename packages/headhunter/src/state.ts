// The in-memory state of a mounted volume: tree roots, snapshots, the commit
// position. Changed only by installing a successful commit attempt (db.ts)
// and by a checkpoint swapping written nodes for their addresses.

import type { Ptr } from './node.js';

/** One named tree: its root (null when empty) and entry count. */
export interface TreeState {
  readonly root: Ptr | null;
  readonly count: number;
}

export interface SnapshotState {
  readonly name: string;
  readonly createdAt: number;
  /** The commit that created the snapshot. */
  readonly commitSeq: number;
  /** Roots at that commit. Pointers may be swapped for addresses once written. */
  readonly trees: Map<string, TreeState>;
}

export class VolumeState {
  readonly trees = new Map<string, TreeState>();
  readonly snapshots = new Map<string, SnapshotState>();
  /** Last commit applied. */
  commitSeq = 0;
  /** Replay-log LSN of that commit (0 when it is not in the log). */
  commitLsn = 0n;
}

export const TREE_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const SNAPSHOT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
