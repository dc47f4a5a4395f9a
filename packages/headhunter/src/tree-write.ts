// Copy-on-write B+Tree updates. Everything here is synchronous: a batch
// applies all its changes without yielding, so concurrent readers and batches
// see either none or all of them.
//
// A batch attempt has a generation number. A node of that generation was
// created by this attempt and may be mutated in place; any other node is
// copied first ("made writable"), and the original is "dropped" from the live
// tree (which the space accounting needs to know). Nodes not yet in memory
// throw Missing; the caller loads them and runs the whole attempt again from
// the unchanged roots (see db.ts), so a half-applied batch is never visible.

import { cairnError } from '@cairn/errors';
import { upperBound } from './keys.js';
import { IndexNode, LeafNode, isRef, type Node, type NodeRef, type Ptr, type Shape } from './node.js';
import { REF_WEIGHT_BYTES } from './format.js';

/** Thrown (not an Error: no stack is captured) when a needed node is not in memory. */
export class Missing {
  constructor(readonly ref: NodeRef) {}
}

/** Turns pointers into nodes without waiting; throws Missing for nodes not in memory. */
export interface Resolver {
  resolve(p: Ptr): Node;
}

/** State of one batch attempt. */
export class WriteCtx implements Resolver {
  /** Written nodes that left the live tree (their bytes become dead in their object). */
  readonly freed: NodeRef[] = [];
  /** Unwritten nodes that a checkpoint is writing now and that left the live tree. */
  readonly droppedInFlight: Node[] = [];

  constructor(
    readonly gen: number,
    readonly shape: Shape,
    private readonly lookup: (ref: NodeRef) => Node | undefined,
  ) {}

  /** The last node found missing (kept in case a caller's function swallowed the Missing). */
  missed: NodeRef | undefined;

  resolve(p: Ptr): Node {
    if (!isRef(p)) return p;
    const n = this.lookup(p);
    if (n === undefined) {
      this.missed = p;
      throw new Missing(p);
    }
    return n;
  }

  /** Records that `n` is no longer part of the live tree. */
  drop(n: Node): void {
    if (n.gen === this.gen) return;
    if (n.ref !== undefined) this.freed.push(n.ref);
    else if (n.write !== undefined) this.droppedInFlight.push(n);
    else return;
    // A written (or being written) node replaced by a dirty copy: the dirty set grows.
    this.copiedBytes += n.bytes + 64 * (n.kind === 1 ? n.size : n.kids.length);
  }

  /** Estimated memory this attempt added to the dirty nodes (copies of written nodes, new values). */
  copiedBytes = 0;

  writableLeaf(n: LeafNode): LeafNode {
    if (n.gen === this.gen) return n;
    this.drop(n);
    return new LeafNode(this.gen, n.isPacked ? n.keys : n.keys.slice(), n.isPacked ? n.vals : n.vals.slice(), n.bytes);
  }

  writableIndex(n: IndexNode): IndexNode {
    if (n.gen === this.gen) return n;
    this.drop(n);
    return new IndexNode(this.gen, n.seps.slice(), n.kids.slice(), n.counts.slice(), n.total, n.bytes);
  }
}

/** The child of an index node that holds `key`: the number of separators <= key. */
export const childIndex = upperBound;

export function nodeCount(n: Node): number {
  return n.kind === 1 ? n.size : n.total;
}

/**
 * Change in the number of entries below the node the last modify() returned
 * (a module variable rather than a result object: modify runs once per level
 * of every put, and nothing else runs in between).
 */
let changeDelta = 0;

/**
 * Puts (value defined) or deletes (value undefined) `key` in the tree rooted
 * at `root`. Returns the new root (null for an empty tree) and the change in
 * entry count; the root is unchanged (same pointer) when nothing changed.
 */
export function treeUpdate(ctx: WriteCtx, root: Ptr | null, key: Buffer, value: Buffer | undefined): { root: Ptr | null; delta: number } {
  if (root === null) {
    if (value === undefined) return { root, delta: 0 };
    return { root: new LeafNode(ctx.gen, [key], [value], key.length + value.length), delta: 1 };
  }
  let node = modify(ctx, ctx.resolve(root), key, value);
  if (node === null) return { root, delta: 0 };
  const delta = changeDelta;
  if (ctx.shape.overflows(node)) {
    const s = split(ctx, node);
    node = new IndexNode(ctx.gen, [s.sep], [s.left, s.right], [nodeCount(s.left), nodeCount(s.right)], nodeCount(node),
      s.sep.length + 2 * REF_WEIGHT_BYTES);
  }
  while (node.kind === 2 && node.kids.length === 1) {
    ctx.drop(node);
    node = ctx.resolve(node.kids[0]!);
  }
  if (node.kind === 1 && node.size === 0) {
    ctx.drop(node);
    return { root: null, delta };
  }
  return { root: node, delta };
}

/** The new (writable) version of `n` with the change applied, or null when nothing changed; sets changeDelta. */
function modify(ctx: WriteCtx, n: Node, key: Buffer, value: Buffer | undefined): Node | null {
  if (n.kind === 1) {
    const i = n.lowerBound(key);
    const found = i < n.size && n.compareAt(i, key) === 0;
    if (value === undefined) {
      if (!found) return null;
      const w = ctx.writableLeaf(n);
      w.bytes -= w.keys[i]!.length + w.vals[i]!.length;
      w.keys.splice(i, 1);
      w.vals.splice(i, 1);
      changeDelta = -1;
      return w;
    }
    if (found) {
      if (n.valAt(i).equals(value)) return null;
      const w = ctx.writableLeaf(n);
      w.bytes += value.length - w.vals[i]!.length;
      ctx.copiedBytes += value.length;
      w.vals[i] = value;
      changeDelta = 0;
      return w;
    }
    const w = ctx.writableLeaf(n);
    insertAt(w.keys, i, key);
    insertAt(w.vals, i, value);
    w.bytes += key.length + value.length;
    ctx.copiedBytes += key.length + value.length + 64;
    changeDelta = 1;
    return w;
  }
  const i = childIndex(n.seps, key);
  const ch = modify(ctx, ctx.resolve(n.kids[i]!), key, value);
  if (ch === null) return null;
  const delta = changeDelta;
  const w = ctx.writableIndex(n);
  w.kids[i] = ch;
  w.counts[i] = w.counts[i]! + delta;
  w.total += delta;
  fixChild(ctx, w, i);
  changeDelta = delta;
  return w;
}

/** a.splice(i, 0, x) without the array splice returns. */
function insertAt<T>(a: T[], i: number, x: T): void {
  if (i === a.length) {
    a.push(x);
    return;
  }
  a.push(a[a.length - 1]!);
  for (let j = a.length - 2; j > i; j--) a[j] = a[j - 1]!;
  a[i] = x;
}

/** Restores the size rule for kid i (in memory, just changed) of a writable index node. */
function fixChild(ctx: WriteCtx, p: IndexNode, i: number): void {
  const c = p.kids[i] as Node;
  if (ctx.shape.overflows(c)) {
    const s = split(ctx, c);
    p.kids.splice(i, 1, s.left, s.right);
    p.counts.splice(i, 1, nodeCount(s.left), nodeCount(s.right));
    p.seps.splice(i, 0, s.sep);
    p.bytes += s.sep.length + REF_WEIGHT_BYTES;
  } else if (ctx.shape.underflows(c) && p.kids.length > 1) {
    rebalance(ctx, p, i);
  }
}

/** Joins kid i with a neighbour when they fit in one node, else shares entries evenly between the two. */
function rebalance(ctx: WriteCtx, p: IndexNode, i: number): void {
  const c = p.kids[i] as Node;
  if (i > 0) {
    const left = ctx.resolve(p.kids[i - 1]!);
    if (fits(ctx, left, c, p.seps[i - 1]!)) return mergeAt(ctx, p, i - 1, left, c);
  }
  if (i < p.kids.length - 1) {
    const right = ctx.resolve(p.kids[i + 1]!);
    if (fits(ctx, c, right, p.seps[i]!)) return mergeAt(ctx, p, i, c, right);
  }
  if (i > 0) redistributeAt(ctx, p, i - 1, ctx.resolve(p.kids[i - 1]!), c);
  else redistributeAt(ctx, p, i, c, ctx.resolve(p.kids[i + 1]!));
}

function fits(ctx: WriteCtx, a: Node, b: Node, sep: Buffer): boolean {
  if (a.kind === 1 && b.kind === 1) {
    return ctx.shape.leafWeight(a.size + b.size, a.bytes + b.bytes) <= ctx.shape.leafUnit;
  }
  if (a.kind === 2 && b.kind === 2) {
    return ctx.shape.indexWeight(a.kids.length + b.kids.length, a.bytes + b.bytes + sep.length) <= ctx.shape.indexUnit;
  }
  throw cairnError('CAIRN_ERR_META_CORRUPT', 'sibling nodes of different kinds');
}

/** Concatenates two siblings (and, for index nodes, the separator between them) into a new node. */
function concat(ctx: WriteCtx, a: Node, b: Node, sep: Buffer): Node {
  ctx.drop(a);
  ctx.drop(b);
  if (a.kind === 1 && b.kind === 1) {
    return new LeafNode(ctx.gen, a.keys.concat(b.keys), a.vals.concat(b.vals), a.bytes + b.bytes);
  }
  if (a.kind === 2 && b.kind === 2) {
    return new IndexNode(ctx.gen, [...a.seps, sep, ...b.seps], a.kids.concat(b.kids), a.counts.concat(b.counts),
      a.total + b.total, a.bytes + b.bytes + sep.length);
  }
  throw cairnError('CAIRN_ERR_META_CORRUPT', 'sibling nodes of different kinds');
}

/** Replaces kids j and j+1 of p by their merge. */
function mergeAt(ctx: WriteCtx, p: IndexNode, j: number, a: Node, b: Node): void {
  const sep = p.seps[j]!;
  const m = concat(ctx, a, b, sep);
  p.kids.splice(j, 2, m);
  p.counts.splice(j, 2, nodeCount(m));
  p.seps.splice(j, 1);
  p.bytes -= sep.length + REF_WEIGHT_BYTES;
}

/** Replaces kids j and j+1 of p by an even split of their entries. */
function redistributeAt(ctx: WriteCtx, p: IndexNode, j: number, a: Node, b: Node): void {
  const oldSep = p.seps[j]!;
  const s = split(ctx, concat(ctx, a, b, oldSep));
  p.kids.splice(j, 2, s.left, s.right);
  p.counts.splice(j, 2, nodeCount(s.left), nodeCount(s.right));
  p.seps[j] = s.sep;
  p.bytes += s.sep.length - oldSep.length;
}

/**
 * Splits a writable node in two at the point that makes the heavier half as
 * light as possible. Returns the halves and the separator (the first key
 * under the right half).
 */
export function split(ctx: WriteCtx, n: Node): { left: Node; sep: Buffer; right: Node } {
  const shape = ctx.shape;
  if (n.kind === 1) {
    const cnt = n.size;
    let best = 1;
    let bestW = Infinity;
    const keys = n.keys;
    const vals = n.vals;
    let acc = 0;
    for (let m = 1; m < cnt; m++) {
      acc += keys[m - 1]!.length + vals[m - 1]!.length;
      const w = Math.max(shape.leafWeight(m, acc), shape.leafWeight(cnt - m, n.bytes - acc));
      if (w < bestW) {
        bestW = w;
        best = m;
      }
    }
    const lk = keys.slice(0, best);
    const lv = vals.slice(0, best);
    const rk = keys.slice(best);
    const rv = vals.slice(best);
    let lb = 0;
    for (let k = 0; k < best; k++) lb += lk[k]!.length + lv[k]!.length;
    ctx.drop(n);
    return { left: new LeafNode(ctx.gen, lk, lv, lb), sep: rk[0]!, right: new LeafNode(ctx.gen, rk, rv, n.bytes - lb) };
  }
  // Index node: left takes kids [0, m) and seps [0, m-1), seps[m-1] goes up, right takes the rest.
  const kids = n.kids.length;
  let best = 2;
  let bestW = Infinity;
  const sepTotal = n.bytes - kids * REF_WEIGHT_BYTES;
  let accL = 0; // separator bytes of seps[0 .. m-2]
  for (let m = 2; m <= kids - 2; m++) {
    accL += n.seps[m - 2]!.length;
    const rightSeps = sepTotal - accL - n.seps[m - 1]!.length;
    const w = Math.max(shape.indexWeight(m, accL + m * REF_WEIGHT_BYTES), shape.indexWeight(kids - m, rightSeps + (kids - m) * REF_WEIGHT_BYTES));
    if (w < bestW) {
      bestW = w;
      best = m;
    }
  }
  if (kids < 4) best = 1;
  const sep = n.seps[best - 1]!;
  const lseps = n.seps.slice(0, best - 1);
  const rseps = n.seps.slice(best);
  const lcounts = n.counts.slice(0, best);
  const rcounts = n.counts.slice(best);
  let lt = 0;
  for (const c of lcounts) lt += c;
  ctx.drop(n);
  const left = new IndexNode(ctx.gen, lseps, n.kids.slice(0, best), lcounts, lt, indexBytesOf(lseps, best));
  const right = new IndexNode(ctx.gen, rseps, n.kids.slice(best), rcounts, n.total - lt, indexBytesOf(rseps, kids - best));
  return { left, sep, right };
}

function indexBytesOf(seps: readonly Buffer[], kids: number): number {
  let b = kids * REF_WEIGHT_BYTES;
  for (const s of seps) b += s.length;
  return b;
}
