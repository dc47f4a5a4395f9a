// One commit attempt: a synchronous transaction over working copies of the
// tree roots. Reads see the attempt's own writes. Nothing reaches the volume
// state until db.ts installs the finished attempt, so an attempt that throws
// (a Missing node, a bad argument, an error of the caller's function) leaves
// no trace.

import { cairnError } from '@cairn/errors';
import { MAX_KEY_BYTES } from './format.js';
import { OP_DEL, OP_PUT, OP_SNAPSHOT_CREATE, OP_SNAPSHOT_DELETE, OP_TREE_CREATE, type CommitOp } from './payload-codec.js';
import type { Ptr, Shape } from './node.js';
import { SNAPSHOT_NAME_RE, TREE_NAME_RE, type SnapshotState, type TreeState, type VolumeState } from './state.js';
import { countSync, getSync, scanSync, toBounds, type Entry, type KeyRange } from './tree-read.js';
import { treeUpdate, type WriteCtx } from './tree-write.js';

/** Options of a synchronous scan inside a transaction. */
export interface TxnScanOptions extends KeyRange {
  readonly reverse?: boolean;
  /** At most this many entries (default 1000). */
  readonly limit?: number;
}

export class TxnImpl {
  /** The ops to log, in order. */
  readonly ops: CommitOp[] = [];
  /** Trees changed or created by this attempt. */
  readonly work = new Map<string, TreeState>();
  private created: Map<string, SnapshotState> | undefined;
  private deleted: Set<string> | undefined;

  /** Snapshots created by this attempt (made on first use: most attempts have none). */
  get createdSnapshots(): Map<string, SnapshotState> {
    return (this.created ??= new Map());
  }

  get deletedSnapshots(): Set<string> {
    return (this.deleted ??= new Set());
  }

  constructor(
    readonly ctx: WriteCtx,
    private readonly state: VolumeState,
    private readonly shape: Shape,
  ) {}

  private tree(name: string): TreeState {
    const t = this.work.get(name) ?? this.state.trees.get(name);
    if (t === undefined) throw cairnError('CAIRN_ERR_META_NO_SUCH_TREE', String(name));
    return t;
  }

  get(tree: string, key: Uint8Array): Buffer | undefined {
    return getSync(this.ctx, this.tree(tree).root, checkKey(key));
  }

  has(tree: string, key: Uint8Array): boolean {
    return this.get(tree, key) !== undefined;
  }

  scan(tree: string, options: TxnScanOptions = {}): Entry[] {
    const t = this.tree(tree);
    const out: Entry[] = [];
    scanSync(this.ctx, t.root, toBounds(options), options.reverse === true, out, checkLimit(options.limit));
    return out;
  }

  count(tree: string, range: KeyRange = {}): number {
    const t = this.tree(tree);
    return countSync(this.ctx, t.root, toBounds(range), t.count);
  }

  put(tree: string, key: Uint8Array, value: Uint8Array): void {
    this.putChecked(tree, key, value, false);
  }

  putOwned(tree: string, key: Buffer, value: Buffer): void {
    this.putChecked(tree, key, value, true);
  }

  private putChecked(tree: string, key: Uint8Array, value: Uint8Array, owned: boolean): void {
    checkKey(key);
    if (!(value instanceof Uint8Array)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'value must be a Uint8Array');
    if (key.length + value.length > this.shape.maxEntryBytes) {
      throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `entry of ${key.length + value.length} bytes (key + value at most ${this.shape.maxEntryBytes})`);
    }
    const t = this.tree(tree);
    // Owned buffers are the caller's to give away (never changed afterwards): the tree keeps them as they are.
    const k = owned && Buffer.isBuffer(key) ? key : Buffer.from(key);
    const v = owned && Buffer.isBuffer(value) ? value : Buffer.from(value);
    const r = treeUpdate(this.ctx, t.root, k, v);
    this.setRoot(tree, t, r.root, r.delta);
    this.ops.push({ op: OP_PUT, tree, key: k, value: v });
  }

  /**
   * The tree's new root and count. The TreeState objects in `work` are this
   * attempt's own (made here, copied by createSnapshot), so they change in place.
   */
  private setRoot(tree: string, t: TreeState, root: Ptr | null, delta: number): void {
    if (this.work.get(tree) === t) {
      const w = t as { root: Ptr | null; count: number };
      w.root = root;
      w.count += delta;
    } else {
      this.work.set(tree, { root, count: t.count + delta });
    }
  }

  del(tree: string, key: Uint8Array): void {
    checkKey(key);
    const t = this.tree(tree);
    const k = Buffer.from(key);
    const r = treeUpdate(this.ctx, t.root, k, undefined);
    if (r.root !== t.root || r.delta !== 0) this.setRoot(tree, t, r.root, r.delta);
    this.ops.push({ op: OP_DEL, tree, key: k });
  }

  createTree(name: string): void {
    if (typeof name !== 'string' || !TREE_NAME_RE.test(name)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `tree name ${JSON.stringify(name)} (a-z 0-9 . _ -, up to 64)`);
    if (this.work.has(name) || this.state.trees.has(name)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `tree ${name} exists`);
    this.work.set(name, { root: null, count: 0 });
    this.ops.push({ op: OP_TREE_CREATE, tree: name });
  }

  hasSnapshot(name: string): boolean {
    if (this.created?.has(name) === true) return true;
    return this.state.snapshots.has(name) && this.deleted?.has(name) !== true;
  }

  /** True when the attempt created or deleted a snapshot. */
  get touchedSnapshots(): boolean {
    return this.created !== undefined || this.deleted !== undefined;
  }

  createSnapshot(name: string, createdAt: number, commitSeq: number): void {
    if (typeof name !== 'string' || !SNAPSHOT_NAME_RE.test(name)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `snapshot name ${JSON.stringify(name)}`);
    if (this.hasSnapshot(name)) throw cairnError('CAIRN_ERR_META_SNAPSHOT_EXISTS', name);
    const trees = new Map<string, TreeState>();
    for (const n of this.state.trees.keys()) trees.set(n, this.tree(n));
    // Copies: the attempt's own TreeStates keep changing (setRoot).
    for (const [n, t] of this.work) trees.set(n, { root: t.root, count: t.count });
    // O(trees): the roots are the snapshot; the node objects it references are
    // held through their lives (retention.ts), not listed.
    this.createdSnapshots.set(name, { name, createdAt, commitSeq, trees });
    this.ops.push({ op: OP_SNAPSHOT_CREATE, name, createdAt });
  }

  deleteSnapshot(name: string): void {
    if (!this.hasSnapshot(name)) throw cairnError('CAIRN_ERR_META_SNAPSHOT_NOT_FOUND', String(name));
    if (!this.createdSnapshots.delete(name)) this.deletedSnapshots.add(name);
    this.ops.push({ op: OP_SNAPSHOT_DELETE, name });
  }

  /** Applies a decoded op (replay); `commitSeq` is the commit being replayed. */
  applyOp(o: CommitOp, commitSeq: number): void {
    switch (o.op) {
      case OP_PUT: return this.put(o.tree, o.key, o.value);
      case OP_DEL: return this.del(o.tree, o.key);
      case OP_TREE_CREATE: return this.createTree(o.tree);
      case OP_SNAPSHOT_CREATE: return this.createSnapshot(o.name, o.createdAt, commitSeq);
      case OP_SNAPSHOT_DELETE: return this.deleteSnapshot(o.name);
    }
  }
}

export function checkKey(key: Uint8Array): Uint8Array {
  if (!(key instanceof Uint8Array)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'key must be a Uint8Array (see encodeKey)');
  if (key.length > MAX_KEY_BYTES) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `key of ${key.length} bytes (at most ${MAX_KEY_BYTES})`);
  return key;
}

export function checkLimit(limit: number | undefined, dflt = 1000): number {
  if (limit === undefined) return dflt;
  if (!Number.isSafeInteger(limit) || limit < 0) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `limit ${limit}`);
  return limit;
}
