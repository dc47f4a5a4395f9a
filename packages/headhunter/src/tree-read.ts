// Reading a tree: point lookups, ordered scans in both directions, counts.
// Synchronous over a Resolver (nodes not in memory throw Missing); the async
// callers in tree-io.ts load what is missing and resume. A reader holds the
// root it started from, and nodes never change, so a read sees one moment.

import { cairnError } from '@cairn/errors';
import { compareKeys } from './keys.js';
import type { Ptr } from './node.js';
import { childIndex, type Resolver } from './tree-write.js';

/** Bounds of a range; each side optional, inclusive or exclusive. */
export interface KeyRange {
  readonly gt?: Uint8Array;
  readonly gte?: Uint8Array;
  readonly lt?: Uint8Array;
  readonly lte?: Uint8Array;
}

/** One bound, normalized. */
export interface Bound {
  readonly key: Uint8Array;
  readonly inclusive: boolean;
}

export interface Bounds {
  readonly lo: Bound | undefined;
  readonly hi: Bound | undefined;
}

export function toBounds(r: KeyRange): Bounds {
  if (r.gt !== undefined && r.gte !== undefined) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'range has both gt and gte');
  if (r.lt !== undefined && r.lte !== undefined) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'range has both lt and lte');
  for (const k of [r.gt, r.gte, r.lt, r.lte]) {
    if (k !== undefined && !(k instanceof Uint8Array)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'range bound must be a Uint8Array key');
  }
  const lo = r.gt !== undefined ? { key: r.gt, inclusive: false } : r.gte !== undefined ? { key: r.gte, inclusive: true } : undefined;
  const hi = r.lt !== undefined ? { key: r.lt, inclusive: false } : r.lte !== undefined ? { key: r.lte, inclusive: true } : undefined;
  return { lo, hi };
}

function aboveHi(key: Uint8Array, hi: Bound | undefined): boolean {
  if (hi === undefined) return false;
  const c = compareKeys(key, hi.key);
  return hi.inclusive ? c > 0 : c >= 0;
}

function belowLo(key: Uint8Array, lo: Bound | undefined): boolean {
  if (lo === undefined) return false;
  const c = compareKeys(key, lo.key);
  return lo.inclusive ? c < 0 : c <= 0;
}

/** The value stored under `key`, or undefined. */
export function getSync(res: Resolver, root: Ptr | null, key: Uint8Array): Buffer | undefined {
  if (root === null) return undefined;
  let n = res.resolve(root);
  while (n.kind === 2) n = res.resolve(n.kids[n.childFor(key)]!);
  const i = n.lowerBound(key);
  return i < n.size && n.compareAt(i, key) === 0 ? n.valAt(i) : undefined;
}

export interface Entry {
  readonly key: Buffer;
  readonly value: Buffer;
}

/**
 * Appends entries within `b` to `out`, ascending (or descending when
 * `reverse`), until `out` holds `limit` entries. Returns true when it stopped
 * at the limit or at the end of the range, which is always (Missing escapes).
 */
export function scanSync(res: Resolver, root: Ptr | null, b: Bounds, reverse: boolean, out: Entry[], limit: number): void {
  if (root === null || out.length >= limit) return;
  if (reverse) scanBack(res, root, b, out, limit, true);
  else scanFwd(res, root, b, out, limit, true);
}

function scanFwd(res: Resolver, p: Ptr, b: Bounds, out: Entry[], limit: number, edge: boolean): boolean {
  const n = res.resolve(p);
  if (n.kind === 1) {
    let i = edge && b.lo ? (b.lo.inclusive ? n.lowerBound(b.lo.key) : n.upperBound(b.lo.key)) : 0;
    for (; i < n.size; i++) {
      const k = n.keyAt(i);
      if (aboveHi(k, b.hi)) return true;
      out.push({ key: k, value: n.valAt(i) });
      if (out.length >= limit) return true;
    }
    return false;
  }
  const start = edge && b.lo ? childIndex(n.seps, b.lo.key) : 0;
  for (let i = start; i < n.kids.length; i++) {
    if (i > 0 && aboveHi(n.seps[i - 1]!, b.hi)) return true;
    if (scanFwd(res, n.kids[i]!, b, out, limit, edge && i === start)) return true;
  }
  return false;
}

function scanBack(res: Resolver, p: Ptr, b: Bounds, out: Entry[], limit: number, edge: boolean): boolean {
  const n = res.resolve(p);
  if (n.kind === 1) {
    let i = edge && b.hi ? (b.hi.inclusive ? n.upperBound(b.hi.key) : n.lowerBound(b.hi.key)) - 1 : n.size - 1;
    for (; i >= 0; i--) {
      const k = n.keyAt(i);
      if (belowLo(k, b.lo)) return true;
      out.push({ key: k, value: n.valAt(i) });
      if (out.length >= limit) return true;
    }
    return false;
  }
  const start = edge && b.hi ? childIndex(n.seps, b.hi.key) : n.kids.length - 1;
  for (let i = start; i >= 0; i--) {
    if (scanBack(res, n.kids[i]!, b, out, limit, edge && i === start)) return true;
    // Keys under kids[< i] are below seps[i-1]; once that is <= lo, all of them are out of range.
    if (i > 0 && b.lo !== undefined && compareKeys(n.seps[i - 1]!, b.lo.key) <= 0) return true;
  }
  return false;
}

/** Number of entries with key < k (or <= k when inclusive). */
export function rankSync(res: Resolver, root: Ptr | null, key: Uint8Array, inclusive: boolean): number {
  if (root === null) return 0;
  let n = res.resolve(root);
  let r = 0;
  while (n.kind === 2) {
    const i = childIndex(n.seps, key);
    for (let j = 0; j < i; j++) r += n.counts[j]!;
    n = res.resolve(n.kids[i]!);
  }
  return r + (inclusive ? n.upperBound(key) : n.lowerBound(key));
}

/** Number of entries within `b`; `total` is the tree's entry count. */
export function countSync(res: Resolver, root: Ptr | null, b: Bounds, total: number): number {
  if (root === null) return 0;
  const hi = b.hi === undefined ? total : rankSync(res, root, b.hi.key, b.hi.inclusive);
  const lo = b.lo === undefined ? 0 : rankSync(res, root, b.lo.key, !b.lo.inclusive);
  return Math.max(0, hi - lo);
}
