// The space-accounting invariants the cleaner relies on, checked against one
// read view: every extent names a segment in `segments` (never a dead one)
// and lies inside it; each segment's `live` is the sum of the lengths of the
// extents naming it; the meta record's liveBytes is the sum of `live` and its
// storedBytes the sum of the sizes in `segments` and `deadsegs`; no nonce is
// in both. The cleaner's tests run it after every step.

import { decodeKey } from '@cairn/headhunter';
import type { Vol } from './context.js';
import { TREES } from './format.js';
import { FsReader } from './reader.js';
import { deadSegCodec, extentCodec, segmentCodec } from './records.js';

export interface AccountingReport {
  readonly ok: boolean;
  /** Every violation, in words (at most 100). */
  readonly errors: string[];
  readonly segments: number;
  readonly deadSegments: number;
  readonly extents: number;
  readonly liveBytes: number;
  readonly storedBytes: number;
}

const MAX_ERRORS = 100;

/** Checks the space accounting of the newest commit (reads every extent). */
export async function checkSpaceAccounting(v: Vol): Promise<AccountingReport> {
  return FsReader.with(v, async (r) => {
    const errors: string[] = [];
    const err = (s: string): void => {
      if (errors.length < MAX_ERRORS) errors.push(s);
    };
    const segs = new Map<bigint, { size: number; live: number }>();
    for await (const e of r.view.tree(TREES.segments).range()) {
      const rec = segmentCodec.decode(e.value);
      segs.set(BigInt(decodeKey(e.key)[0] as number | bigint), { size: rec.size, live: rec.live });
    }
    let storedBytes = 0;
    for (const s of segs.values()) storedBytes += s.size;
    let deadSegments = 0;
    for await (const e of r.view.tree(TREES.deadsegs).range()) {
      const nonce = BigInt(decodeKey(e.key)[0] as number | bigint);
      deadSegments++;
      storedBytes += deadSegCodec.decode(e.value).size;
      if (segs.has(nonce)) err(`segment ${nonce} is both live and dead`);
    }
    const sums = new Map<bigint, number>();
    let extents = 0;
    for await (const e of r.view.tree(TREES.extents).range()) {
      extents++;
      const x = extentCodec.decode(e.value);
      const [ino, off] = decodeKey(e.key);
      const seg = segs.get(x.nonce);
      if (seg === undefined) err(`extent (${String(ino)}, ${String(off)}) names segment ${x.nonce}, which has no live record`);
      else if (x.segmentOffset + x.length > seg.size) err(`extent (${String(ino)}, ${String(off)}) ends at ${x.segmentOffset + x.length} past segment ${x.nonce} (${seg.size} bytes)`);
      sums.set(x.nonce, (sums.get(x.nonce) ?? 0) + x.length);
    }
    let liveBytes = 0;
    for (const [nonce, s] of segs) {
      liveBytes += s.live;
      const sum = sums.get(nonce) ?? 0;
      if (s.live !== sum) err(`segment ${nonce}: live ${s.live}, extents sum to ${sum}`);
    }
    const meta = await r.meta();
    if (meta.liveBytes !== liveBytes) err(`meta liveBytes ${meta.liveBytes}, segments sum to ${liveBytes}`);
    if (meta.storedBytes !== storedBytes) err(`meta storedBytes ${meta.storedBytes}, segments and dead segments sum to ${storedBytes}`);
    return { ok: errors.length === 0, errors, segments: segs.size, deadSegments, extents, liveBytes, storedBytes };
  });
}
