// fsck's memory: what one pass learns about every inode, kept in parallel
// typed arrays (an inode costs about 90 bytes however big the volume is)
// indexed by the inode's position in the `inodes` tree, which a scan visits in
// ascending inode order, so lookups are a binary search. Also the per-segment
// sums of extent lengths. Internal to fsck.

import { S_IFDIR, S_IFMT, S_IFREG } from './format.js';
import type { InodeRec } from './records.js';

/** Flags of one inode. */
export const F_ORPHAN = 1; // an 'unlinked' orphan record exists
export const F_TRIM = 2; // a 'trim' orphan record exists
export const F_MULTI = 4; // more than one entry names it (extra containing directories in `moreDirs`)

/** Grows a typed array to at least `n` elements. */
function grow<T extends Float64Array | Uint32Array | Uint16Array | Uint8Array>(a: T, n: number, make: (n: number) => T): T {
  if (a.length >= n) return a;
  const b = make(Math.max(n, a.length * 2));
  b.set(a);
  return b;
}

/**
 * Inodes seen by a pass, in ascending inode order. `add` must be called in
 * ascending order; `find` returns the position or -1.
 */
export class InodeTable {
  size = 0;
  ino = new Float64Array(1024);
  mode = new Uint16Array(1024);
  nlink = new Uint32Array(1024);
  fileSize = new Float64Array(1024);
  parent = new Float64Array(1024);
  nextCookie = new Float64Array(1024);
  change = new Float64Array(1024);
  /** Entries naming the inode. */
  links = new Uint32Array(1024);
  /** Directories: entries in it naming a directory. */
  subdirs = new Uint32Array(1024);
  /** Directories: entries in it (its size should be this). */
  entries = new Uint32Array(1024);
  /** The directory holding an entry naming it (0: none); for directories the one in `parent` when there is one. */
  namedIn = new Float64Array(1024);
  flags = new Uint8Array(1024);
  /** Other directories naming an inode with F_MULTI. */
  readonly moreDirs = new Map<number, number[]>();
  /** Directories: their name in namedIn (for paths and repairs). */
  readonly dirNames = new Map<number, string>();
  /** Inodes with a 'trim' orphan: the size it trims to. */
  readonly trims = new Map<number, number>();
  /** Highest inode number seen. */
  maxIno = 0;

  add(ino: number, rec: InodeRec): void {
    const n = this.size + 1;
    this.ino = grow(this.ino, n, (k) => new Float64Array(k));
    this.mode = grow(this.mode, n, (k) => new Uint16Array(k));
    this.nlink = grow(this.nlink, n, (k) => new Uint32Array(k));
    this.fileSize = grow(this.fileSize, n, (k) => new Float64Array(k));
    this.parent = grow(this.parent, n, (k) => new Float64Array(k));
    this.nextCookie = grow(this.nextCookie, n, (k) => new Float64Array(k));
    this.change = grow(this.change, n, (k) => new Float64Array(k));
    this.links = grow(this.links, n, (k) => new Uint32Array(k));
    this.subdirs = grow(this.subdirs, n, (k) => new Uint32Array(k));
    this.entries = grow(this.entries, n, (k) => new Uint32Array(k));
    this.namedIn = grow(this.namedIn, n, (k) => new Float64Array(k));
    this.flags = grow(this.flags, n, (k) => new Uint8Array(k));
    const i = this.size;
    this.ino[i] = ino;
    this.mode[i] = rec.mode;
    this.nlink[i] = rec.nlink;
    this.fileSize[i] = rec.size;
    this.parent[i] = rec.parent ?? 0;
    this.nextCookie[i] = rec.nextCookie ?? 0;
    this.change[i] = rec.change;
    this.size = n;
    if (ino > this.maxIno) this.maxIno = ino;
  }

  find(ino: number): number {
    let lo = 0;
    let hi = this.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.ino[mid]!;
      if (v === ino) return mid;
      if (v < ino) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  isDir(i: number): boolean {
    return (this.mode[i]! & S_IFMT) === S_IFDIR;
  }

  isRegular(i: number): boolean {
    return (this.mode[i]! & S_IFMT) === S_IFREG;
  }

  typeBits(i: number): number {
    return this.mode[i]! & S_IFMT;
  }

  /** Records an entry (dir, name) naming the inode at position i. */
  addLink(i: number, dir: number, name: string): void {
    this.links[i]!++;
    const ino = this.ino[i]!;
    if (this.namedIn[i] === 0) {
      this.namedIn[i] = dir;
      if (this.isDir(i)) this.dirNames.set(ino, name);
      return;
    }
    this.flags[i]! |= F_MULTI;
    let more = this.moreDirs.get(ino);
    if (more === undefined) this.moreDirs.set(ino, (more = []));
    // A directory's own entry is the one in its parent: keep that one in namedIn.
    if (this.isDir(i) && dir === this.parent[i] && this.namedIn[i] !== dir) {
      more.push(this.namedIn[i]!);
      this.namedIn[i] = dir;
      this.dirNames.set(ino, name);
    } else {
      more.push(dir);
    }
  }

  /** Every directory holding an entry naming the inode at position i. */
  containingDirs(i: number): number[] {
    const first = this.namedIn[i]!;
    if (first === 0) return [];
    return [first, ...(this.moreDirs.get(this.ino[i]!) ?? [])];
  }

  /** Bytes the arrays take (for the report). */
  bytes(): number {
    const arrays = [this.ino, this.mode, this.nlink, this.fileSize, this.parent, this.nextCookie, this.change, this.links, this.subdirs, this.namedIn, this.flags];
    return arrays.reduce((s, a) => s + a.byteLength, 0);
  }
}

/** Segment records seen by a pass: size and live bytes, by nonce. */
export interface SegInfo {
  readonly size: number;
  readonly live: number;
  readonly container: string;
}

/** A map keyed by segment nonce (nonces are below 2^53 in practice; bigger ones go to a bigint map). */
export class NonceMap<T> {
  private readonly small = new Map<number, T>();
  private readonly big = new Map<bigint, T>();

  set(nonce: bigint, v: T): void {
    if (nonce <= BigInt(Number.MAX_SAFE_INTEGER)) this.small.set(Number(nonce), v);
    else this.big.set(nonce, v);
  }

  get(nonce: bigint): T | undefined {
    return nonce <= BigInt(Number.MAX_SAFE_INTEGER) ? this.small.get(Number(nonce)) : this.big.get(nonce);
  }

  /** Adds n to a numeric value (NonceMap<number>). */
  add(this: NonceMap<number>, nonce: bigint, n: number): void {
    this.set(nonce, (this.get(nonce) ?? 0) + n);
  }

  has(nonce: bigint): boolean {
    return this.get(nonce) !== undefined;
  }

  get size(): number {
    return this.small.size + this.big.size;
  }

  *entries(): IterableIterator<[bigint, T]> {
    for (const [k, v] of this.small) yield [BigInt(k), v];
    yield* this.big;
  }
}
