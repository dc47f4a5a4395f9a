// Compaction of sparse node objects. A node object keeps all of its bytes as
// long as one of its nodes is live, so after many overwrites most objects hold
// a few live nodes among many dead ones. Before a checkpoint captures the
// roots, compaction copies the live nodes of the sparsest objects (live bytes
// below `compactBelow` of the object's size, sparsest first) into the dirty
// set, as a commit would: the checkpoint writes the copies into its new node
// object, the old objects die and are reclaimed by the normal rule (a
// snapshot that references them keeps them).
//
// The copies hold the same entries: the trees' contents do not change, so no
// commit is logged and a replay needs none. At most `compactBytesPerCheckpoint`
// live bytes are copied per checkpoint; what is left waits for the next one.
//
// Finding an object's live nodes needs their parents: compaction walks the
// index nodes of the live trees (loading and pinning them; leaves are loaded
// only when they are to be copied), then, synchronously and against the
// newest roots, copies every chosen node and the path above it. Nodes that
// commits replaced in the meantime are simply not there any more.

import type { Core } from './core.js';
import { nodeObjectName } from './names.js';
import { isRef, type IndexNode, type Node, type NodeRef, type Ptr } from './node.js';
import { PinnedResolver } from './tree-io.js';
import { WriteCtx } from './tree-write.js';

/** What one compaction pass copied. */
export interface CompactResult {
  readonly nodes: number;
  readonly bytes: number;
}

const NONE: CompactResult = { nodes: 0, bytes: 0 };

/** Objects of unknown size (from a version 1 record) whose size one pass asks the store for. */
const SIZE_PROBES = 8;

/** Copies the live nodes of the sparsest node objects into the dirty set (see the file comment). */
export async function compact(core: Core): Promise<CompactResult> {
  const budget = core.o.compactBytesPerCheckpoint;
  if (budget <= 0 || core.o.compactBelow <= 0) return NONE;
  await learnSizes(core);
  const victims = chooseVictims(core, budget);
  if (victims.size === 0) return NONE;
  const res = new PinnedResolver(core.loader);
  await findLiveNodes(core, res, victims, budget);
  return copyLiveNodes(core, res, victims, budget);
}

/** Asks the store for the size of a few live objects whose size is not known. */
async function learnSizes(core: Core): Promise<void> {
  let asked = 0;
  for (const nonce of [...core.live.objects.keys()]) {
    const o = core.objects.get(nonce);
    if (o === undefined || o.stored > 0) continue;
    if (asked++ >= SIZE_PROBES) return;
    try {
      o.stored = (await core.o.container.head(nodeObjectName(nonce), { signal: AbortSignal.timeout(core.o.requestTimeoutMs) })).size;
    } catch (err) {
      core.logger.debug({ err, nonce }, 'compaction: size of a node object unknown');
    }
  }
}

/** The sparsest live objects below the threshold, up to about `budget` live bytes. */
function chooseVictims(core: Core, budget: number): Set<bigint> {
  const sparse: Array<{ nonce: bigint; ratio: number; bytes: number }> = [];
  for (const [nonce, l] of core.live.objects) {
    const stored = core.objects.get(nonce)?.stored ?? 0;
    if (stored > 0 && l.bytes < core.o.compactBelow * stored) sparse.push({ nonce, ratio: l.bytes / stored, bytes: l.bytes });
  }
  sparse.sort((a, b) => a.ratio - b.ratio);
  const victims = new Set<bigint>();
  let planned = 0;
  for (const s of sparse) {
    if (planned >= budget) break;
    victims.add(s.nonce);
    planned += s.bytes;
  }
  return victims;
}

/** Loads and pins the index nodes of the live trees and the victims' live leaves (until `budget` bytes are found). */
async function findLiveNodes(core: Core, res: PinnedResolver, victims: Set<bigint>, budget: number): Promise<void> {
  let wanted = 0;
  for (const n of victims) wanted += core.live.objects.get(n)?.nodes ?? 0;
  let found = 0;
  let bytes = 0;
  const enough = (): boolean => found >= wanted || bytes >= budget;
  const note = (r: NodeRef): void => {
    found++;
    bytes += r.length;
  };
  const load = async (p: Ptr): Promise<Node> => {
    if (!isRef(p)) return p;
    await res.fetch(p);
    return res.resolve(p);
  };
  const visit = async (p: Ptr, depth: number, leafDepth: number): Promise<void> => {
    const n = await load(p);
    if (isRef(p) && victims.has(p.nonce)) note(p);
    if (n.kind === 1) return;
    if (depth + 1 === leafDepth) {
      const mine = n.kids.filter((k): k is NodeRef => isRef(k) && victims.has(k.nonce));
      await Promise.all(mine.map((k) => res.fetch(k)));
      for (const k of mine) note(k);
      return;
    }
    for (const k of n.kids) {
      if (enough()) return;
      await visit(k, depth + 1, leafDepth);
    }
  };
  for (const [, t] of [...core.state.trees]) {
    if (t.root === null || enough()) continue;
    let leafDepth = 0;
    for (let n = await load(t.root); n.kind === 2; n = await load(n.kids[0]!)) leafDepth++;
    await visit(t.root, 0, leafDepth);
  }
}

/** Synchronously copies the pinned live nodes of the victims, and the paths above them, in the newest roots. */
function copyLiveNodes(core: Core, res: PinnedResolver, victims: Set<bigint>, budget: number): CompactResult {
  const ctx = new WriteCtx(core.nextGen(), core.shape, (r) => res.lookup(r));
  const left = { bytes: budget, nodes: 0, copied: 0 };
  const get = (p: Ptr): Node | undefined => (isRef(p) ? res.lookup(p) : p);
  const copy = (p: Ptr, depth: number, leafDepth: number): Ptr => {
    if (left.bytes <= 0) return p;
    const mine = isRef(p) && victims.has(p.nonce);
    // Leaves of other objects are never looked at (not loaded, not counted as cache misses).
    if (depth === leafDepth && !mine) return p;
    const n = get(p);
    if (n === undefined) return p;
    const take = (): void => {
      left.bytes -= (p as NodeRef).length;
      left.nodes++;
      left.copied += (p as NodeRef).length;
    };
    if (n.kind === 1) {
      if (!mine) return p;
      take();
      return ctx.writableLeaf(n);
    }
    let w: IndexNode | undefined;
    for (let i = 0; i < n.kids.length; i++) {
      const k = n.kids[i]!;
      const r = copy(k, depth + 1, leafDepth);
      if (r === k) continue;
      w ??= ctx.writableIndex(n);
      w.kids[i] = r;
    }
    if (mine) {
      w ??= ctx.writableIndex(n);
      take();
    }
    return w ?? p;
  };
  const st = core.state;
  for (const [name, t] of st.trees) {
    if (t.root === null) continue;
    // The height now (the tree may have grown since the walk); skip it if its left edge is not in memory.
    const leafDepth = leafDepthOf(get, t.root);
    if (leafDepth === undefined) continue;
    const root = copy(t.root, 0, leafDepth);
    if (root !== t.root) st.trees.set(name, { root, count: t.count });
  }
  // The state of the newest commit now references copies the next checkpoint writes: their object's
  // life must start at that commit, not after it.
  if (left.nodes > 0) core.writtenThrough = Math.min(core.writtenThrough, st.commitSeq - 1);
  // Every state up to the newest commit (and a snapshot of it) may still reference the copied nodes.
  const death = st.commitSeq + 1;
  for (const ref of ctx.freed) core.freeRef(ref, death);
  for (const n of ctx.droppedInFlight) n.write!.droppedDuringWrite.push(n);
  core.dirtyBytes += ctx.copiedBytes;
  return { nodes: left.nodes, bytes: left.copied };
}

/** Index levels above the leaves (0: the root is a leaf), or undefined when a node of the left edge is not in memory. */
function leafDepthOf(get: (p: Ptr) => Node | undefined, root: Ptr): number | undefined {
  let depth = 0;
  for (let n = get(root); n !== undefined; n = get(n.kids[0]!)) {
    if (n.kind === 1) return depth;
    depth++;
  }
  return undefined;
}
