// check(): verifies every invariant of every tree (live and snapshots) and of
// the space accounting. Reads the whole volume: for tests (after every commit)
// and fsck, not for the hot path.
//
// Tree invariants: keys strictly ascending; every key of a subtree within the
// bounds its parent's separators give; all leaves at one depth; stored counts
// and byte sums equal to what the children hold; every node within the size
// rule (weight <= 1, non-root weight >= 1/4, index nodes with >= 2 children,
// no empty root leaf). Space: the live bytes and nodes counted per node
// object equal those reachable from the live roots; every live object is
// known, alive and not garbage; every object a tree (live, or a snapshot
// taken at commit s) reaches is known and its life holds that commit
// (birth <= s < death), which is what keeps it from being deleted.

import type { Core } from './core.js';
import type { CheckReport } from './index.js';
import { indexBytes, isRef, leafBytes, type Node, type Ptr } from './node.js';

interface Walk {
  count: number;
  height: number;
}

export async function checkVolume(core: Core, checkpointRunning: () => boolean, idle: () => Promise<void>): Promise<CheckReport> {
  await idle();
  const errors: string[] = [];
  const trees: Record<string, { count: number; height: number; nodes: number }> = {};
  // One moment: roots, snapshots and the accounting, taken synchronously.
  const liveRoots = [...core.state.trees];
  const snaps = [...core.state.snapshots.values()].map((s) => ({ name: s.name, commitSeq: s.commitSeq, trees: [...s.trees] }));
  const commitSeq = core.state.commitSeq;
  const live = core.live.copy();
  const publishedAt = core.lastRecord.seq;
  const spaceCheckable = !checkpointRunning();
  const release = core.views.enter(core.publishedSeq);
  const reached = new Map<bigint, { bytes: number; nodes: number }>();
  const snapshotReach: Array<[string, number, Map<bigint, unknown>]> = [];
  try {
    for (const [name, t] of liveRoots) {
      const r = await checkTree(core, `${name}`, t.root, t.count, errors, reached);
      trees[name] = r;
    }
    for (const s of snaps) {
      const mine = new Map<bigint, { bytes: number; nodes: number }>();
      for (const [name, t] of s.trees) {
        trees[`@${s.name}/${name}`] = await checkTree(core, `snapshot ${s.name} tree ${name}`, t.root, t.count, errors, mine);
      }
      snapshotReach.push([s.name, s.commitSeq, mine]);
    }
  } finally {
    release();
  }
  const stable = spaceCheckable && !checkpointRunning() && core.lastRecord.seq === publishedAt;
  if (stable) {
    for (const [n, v] of reached) {
      const l = live.get(n);
      if (l === undefined || l.bytes !== v.bytes || l.nodes !== v.nodes) {
        errors.push(`node object ${n}: live trees reach ${v.nodes} nodes / ${v.bytes} bytes, accounting says ${l?.nodes ?? 0} / ${l?.bytes ?? 0}`);
      }
    }
    for (const [n, l] of live) {
      if (!reached.has(n)) errors.push(`node object ${n}: accounting says ${l.nodes} live nodes, live trees reach none`);
    }
    for (const n of live.keys()) {
      const o = core.objects.get(n);
      if (o === undefined) errors.push(`node object ${n} is live but not known`);
      else if (o.death !== undefined) errors.push(`node object ${n} is live but died at commit ${o.death}`);
      if (core.garbage.has(n)) errors.push(`node object ${n} is live but listed as garbage`);
    }
    const holds = (what: string, n: bigint, at: number): void => {
      const o = core.objects.get(n);
      if (o === undefined) errors.push(`${what} reaches node object ${n}, which is not known (deleted?)`);
      else if (!(o.birth <= at && (o.death === undefined || at < o.death))) {
        errors.push(`${what} (commit ${at}) reaches node object ${n} whose life is [${o.birth}, ${o.death ?? 'live'})`);
      }
    };
    for (const n of reached.keys()) holds('the live trees', n, commitSeq);
    for (const [name, at, mine] of snapshotReach) for (const n of mine.keys()) holds(`snapshot ${name}`, n, at);
  }
  return { ok: errors.length === 0, errors, trees, spaceChecked: stable };
}

async function checkTree(
  core: Core, what: string, root: Ptr | null, count: number, errors: string[], reached: Map<bigint, { bytes: number; nodes: number }>,
): Promise<{ count: number; height: number; nodes: number }> {
  let nodes = 0;
  const load = async (p: Ptr): Promise<Node> => (isRef(p) ? core.loader.load(p) : p);
  const walk = async (p: Ptr, lo: Buffer | undefined, hi: Buffer | undefined, isRoot: boolean, path: string): Promise<Walk> => {
    const n = await load(p);
    nodes++;
    if (n.ref !== undefined) {
      const e = reached.get(n.ref.nonce) ?? { bytes: 0, nodes: 0 };
      e.bytes += n.ref.length;
      e.nodes += 1;
      reached.set(n.ref.nonce, e);
    }
    const err = (m: string): void => {
      if (errors.length < 200) errors.push(`${what} ${path}: ${m}`);
    };
    const shape = core.shape;
    if (shape.weight(n) > shape.unit(n) && (n.kind === 1 ? n.size > 1 : n.kids.length > 2)) err('node overflows');
    if (!isRoot && shape.underflows(n)) err(`node underflows (weight ${(shape.weight(n) / shape.unit(n)).toFixed(3)})`);
    const inBounds = (k: Buffer): boolean => (lo === undefined || Buffer.compare(k, lo) >= 0) && (hi === undefined || Buffer.compare(k, hi) < 0);
    if (n.kind === 1) {
      const keys = n.keys;
      const vals = n.vals;
      if (keys.length === 0) err(isRoot ? 'empty root leaf (should be no root)' : 'empty leaf');
      if (keys.length !== vals.length || keys.length !== n.size) err('keys and values differ in number');
      for (let i = 0; i < keys.length; i++) {
        if (!inBounds(keys[i]!)) err(`key ${i} outside its separators`);
        if (i > 0 && Buffer.compare(keys[i - 1]!, keys[i]!) >= 0) err(`keys ${i - 1} and ${i} out of order`);
        if (n.compareAt(i, keys[i]!) !== 0 || !n.valAt(i).equals(vals[i]!)) err(`entry ${i} reads back differently`);
      }
      if (n.bytes !== leafBytes(keys, vals)) err('byte sum is wrong');
      return { count: keys.length, height: 1 };
    }
    if (n.kids.length < 2) err(`index node with ${n.kids.length} children`);
    if (n.seps.length !== n.kids.length - 1 || n.counts.length !== n.kids.length) err('separator, child and count arrays disagree');
    for (let i = 0; i < n.seps.length; i++) {
      const s = n.seps[i]!;
      if (lo !== undefined && Buffer.compare(s, lo) <= 0) err(`separator ${i} not above the lower bound`);
      if (hi !== undefined && Buffer.compare(s, hi) >= 0) err(`separator ${i} not below the upper bound`);
      if (i > 0 && Buffer.compare(n.seps[i - 1]!, s) >= 0) err(`separators ${i - 1} and ${i} out of order`);
    }
    if (n.bytes !== indexBytes(n.seps, n.kids.length)) err('byte sum is wrong');
    let total = 0;
    let height = -1;
    for (let i = 0; i < n.kids.length; i++) {
      const r = await walk(n.kids[i]!, i === 0 ? lo : n.seps[i - 1], i === n.kids.length - 1 ? hi : n.seps[i], false, `${path}/${i}`);
      if (r.count !== n.counts[i]) err(`count of child ${i} is ${n.counts[i]}, it holds ${r.count}`);
      if (height === -1) height = r.height;
      else if (height !== r.height) err(`children at different depths (${height} and ${r.height})`);
      total += r.count;
    }
    if (total !== n.total) err(`total ${n.total}, children hold ${total}`);
    return { count: total, height: height + 1 };
  };
  if (root === null) {
    if (count !== 0) errors.push(`${what}: empty tree with count ${count}`);
    return { count: 0, height: 0, nodes: 0 };
  }
  const r = await walk(root, undefined, undefined, true, 'root');
  if (r.count !== count) errors.push(`${what}: tree count ${count}, it holds ${r.count}`);
  return { count: r.count, height: r.height, nodes };
}
