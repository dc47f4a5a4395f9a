// In-memory B+Tree nodes, the addresses of written nodes, and the weight rule
// that decides when a node splits or is rebalanced.
//
// A node is immutable once any reader may see it. The one exception is
// replacing a child pointer to an in-memory node by that node's address after
// the node was written (the same node, just no longer held in memory), which
// readers cannot tell apart.
//
// Weight. A node's weight is count/maxEntries + bytes/maxNodeBytes, kept as an
// exact integer scaled by maxEntries*maxNodeBytes. A node overflows above 1 and
// underflows below 1/4 (the root never underflows). One entry weighs at most
// 1/4 (fan-out >= 5 and an entry-size limit, see Shape), which guarantees that
// splitting an overflowing node in two, merging two nodes that fit, or
// redistributing two that do not always leaves every node within [1/4, 1].

import { cairnError } from '@cairn/errors';
import { MAX_KEY_BYTES, MIN_FANOUT, MIN_MAX_NODE_BYTES, REF_WEIGHT_BYTES } from './format.js';
import { compareKeys, upperBound } from './keys.js';
import type { CacheEntry } from './node-cache.js';

/** Where a written node lives: a byte range of a node object named by its nonce. */
export class NodeRef {
  /** Cache key ("nonce:offset"). */
  readonly id: string;
  /** The node cache key last built for this ref (NodeLoader.keyOf), and the volume prefix it was built with. */
  private cacheKey: string | undefined;
  private cachePrefix: string | undefined;
  /**
   * The node cache entry this ref was last found in, and the loader that
   * found it (NodeLoader.peek): a descent follows it instead of hashing the
   * key again. The entry drops its node when it leaves the cache.
   */
  memo: CacheEntry | undefined = undefined;
  memoOwner: object | undefined = undefined;

  constructor(readonly nonce: bigint, readonly offset: number, readonly length: number) {
    this.id = `${nonce}:${offset}`;
  }

  /**
   * prefix + id, built once per ref: every lookup of a cached node goes
   * through it, and a string made once keeps its hash (a fresh concatenation
   * per lookup had to be flattened and hashed each time).
   */
  keyWith(prefix: string): string {
    if (this.cachePrefix !== prefix) {
      this.cacheKey = prefix + this.id;
      this.cachePrefix = prefix;
    }
    return this.cacheKey!;
  }
}

/** Marker a checkpoint puts on nodes it is writing (see reclaim accounting). */
export interface InFlightWrite {
  /** Nodes that left the live tree while the write was in flight. */
  readonly droppedDuringWrite: Node[];
}

/**
 * A leaf. Leaves built in memory hold arrays of keys and values; leaves read
 * from a node object stay packed: the record's bytes plus the offsets of each
 * key and value, so a cached leaf costs its stored size plus 16 bytes per
 * entry and lookups allocate nothing. `keys`/`vals` of a packed leaf are
 * fresh arrays of views (for the write path and checks, not for lookups).
 */
export class LeafNode {
  readonly kind = 1 as const;
  /** Written address, once the node is in a node object. */
  ref: NodeRef | undefined = undefined;
  /** Set while a checkpoint writes this node. */
  write: InFlightWrite | undefined = undefined;
  private k: Buffer[] | undefined;
  private v: Buffer[] | undefined;
  /** Packed form: `buf` and, per entry i, key at [offs[4i], offs[4i+1]) and value at [offs[4i+2], offs[4i+3]). */
  private buf: Buffer | undefined;
  private offs: Uint32Array | undefined;
  private n: number;

  constructor(
    /** Batch attempt that created the node (0: loaded from the store); only that attempt may mutate it. */
    readonly gen: number,
    keys: Buffer[],
    vals: Buffer[],
    /** Sum of key and value lengths. */
    public bytes: number,
  ) {
    this.k = keys;
    this.v = vals;
    this.n = keys.length;
  }

  /** A packed leaf over `buf` (see the class comment). */
  static packed(buf: Buffer, offs: Uint32Array, bytes: number): LeafNode {
    const l = new LeafNode(0, EMPTY, EMPTY, bytes);
    l.k = undefined;
    l.v = undefined;
    l.buf = buf;
    l.offs = offs;
    l.n = offs.length / 4;
    return l;
  }

  /** Number of entries. */
  get size(): number {
    return this.k !== undefined ? this.k.length : this.n;
  }

  get total(): number {
    return this.size;
  }

  get isPacked(): boolean {
    return this.k === undefined;
  }

  /** The keys (for a packed leaf: a fresh array of views). Mutable only on a writable leaf. */
  get keys(): Buffer[] {
    if (this.k !== undefined) return this.k;
    const out = new Array<Buffer>(this.n);
    for (let i = 0; i < this.n; i++) out[i] = this.keyAt(i);
    return out;
  }

  get vals(): Buffer[] {
    if (this.v !== undefined) return this.v;
    const out = new Array<Buffer>(this.n);
    for (let i = 0; i < this.n; i++) out[i] = this.valAt(i);
    return out;
  }

  keyAt(i: number): Buffer {
    if (this.k !== undefined) return this.k[i]!;
    const o = this.offs!;
    return this.buf!.subarray(o[4 * i]!, o[4 * i + 1]!);
  }

  valAt(i: number): Buffer {
    if (this.v !== undefined) return this.v[i]!;
    const o = this.offs!;
    return this.buf!.subarray(o[4 * i + 2]!, o[4 * i + 3]!);
  }

  /** compareKeys(key i, key) without allocating. */
  compareAt(i: number, key: Uint8Array): number {
    if (this.k !== undefined) return compareKeys(this.k[i]!, key);
    const o = this.offs!;
    const b = this.buf!;
    const s = o[4 * i]!;
    const len = o[4 * i + 1]! - s;
    const n = len < key.length ? len : key.length;
    for (let j = 0; j < n; j++) {
      const d = b[s + j]! - key[j]!;
      if (d !== 0) return d;
    }
    return len - key.length;
  }

  /** Index of the first key >= key. */
  lowerBound(key: Uint8Array): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compareAt(mid, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the first key > key. */
  upperBound(key: Uint8Array): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compareAt(mid, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

const EMPTY: Buffer[] = [];

export class IndexNode {
  readonly kind = 2 as const;
  ref: NodeRef | undefined = undefined;
  write: InFlightWrite | undefined = undefined;
  constructor(
    readonly gen: number,
    /** seps[i] separates kids[i] and kids[i+1]: keys of kids[i+1] are >= seps[i], keys of kids[i] are below. */
    public seps: Buffer[],
    public kids: Ptr[],
    /** Entries under each kid. */
    public counts: number[],
    /** Sum of counts. */
    public total: number,
    /** Sum of separator lengths plus REF_WEIGHT_BYTES per kid. */
    public bytes: number,
  ) {}

  /** The separators in one buffer, separator i at [sepOffs[i], sepOffs[i+1]) (see freeze()). */
  private sepBuf: Buffer | undefined = undefined;
  private sepOffs: Uint32Array | undefined = undefined;

  /**
   * Packs the separators into one buffer for lookups (childFor), which then
   * compare within it instead of following one Buffer per separator. Only for
   * a clean node — loaded, or written by a checkpoint — which no batch
   * attempt changes again (a change makes a writable copy).
   */
  freeze(): void {
    const seps = this.seps;
    const offs = new Uint32Array(seps.length + 1);
    let n = 0;
    for (let i = 0; i < seps.length; i++) {
      offs[i] = n;
      n += seps[i]!.length;
    }
    offs[seps.length] = n;
    const buf = Buffer.allocUnsafeSlow(n);
    for (let i = 0; i < seps.length; i++) buf.set(seps[i]!, offs[i]!);
    this.sepBuf = buf;
    this.sepOffs = offs;
  }

  /** The child that holds `key`: the number of separators <= key. */
  childFor(key: Uint8Array): number {
    const b = this.sepBuf;
    if (b === undefined) return upperBound(this.seps, key);
    const o = this.sepOffs!;
    let lo = 0;
    let hi = o.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = o[mid]!;
      const len = o[mid + 1]! - s;
      const m = len < key.length ? len : key.length;
      let c = len - key.length;
      for (let j = 0; j < m; j++) {
        const d = b[s + j]! - key[j]!;
        if (d !== 0) {
          c = d;
          break;
        }
      }
      if (c <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export type Node = LeafNode | IndexNode;
/** A child pointer: an in-memory node, or the address of a written one. */
export type Ptr = Node | NodeRef;

export function isRef(p: Ptr): p is NodeRef {
  return p instanceof NodeRef;
}

/** Sum of key and value lengths of a leaf's entries. */
export function leafBytes(keys: readonly Buffer[], vals: readonly Buffer[]): number {
  let n = 0;
  for (let i = 0; i < keys.length; i++) n += keys[i]!.length + vals[i]!.length;
  return n;
}

export function indexBytes(seps: readonly Buffer[], kids: number): number {
  let n = kids * REF_WEIGHT_BYTES;
  for (const s of seps) n += s.length;
  return n;
}

/** Node-size limits of one volume (fixed at format time, stored in every checkpoint). */
export interface TreeShapeOptions {
  readonly leafMaxEntries: number;
  readonly indexMaxEntries: number;
  readonly maxNodeBytes: number;
}

/** The weight arithmetic for one set of limits. */
export class Shape {
  readonly leafUnit: number;
  readonly indexUnit: number;
  /** Largest key + value of one leaf entry, bytes. */
  readonly maxEntryBytes: number;
  /** Largest value, bytes (for the longest key). */
  readonly maxValueBytes: number;

  constructor(readonly o: TreeShapeOptions) {
    for (const [k, v] of [['leafMaxEntries', o.leafMaxEntries], ['indexMaxEntries', o.indexMaxEntries]] as const) {
      if (!Number.isSafeInteger(v) || v < MIN_FANOUT || v > 65536) {
        throw cairnError('CAIRN_ERR_CONFIG_INVALID', `${k} ${v} (${MIN_FANOUT}..65536)`);
      }
    }
    if (!Number.isSafeInteger(o.maxNodeBytes) || o.maxNodeBytes < MIN_MAX_NODE_BYTES || o.maxNodeBytes > 64 * 1024 * 1024) {
      throw cairnError('CAIRN_ERR_CONFIG_INVALID', `maxNodeBytes ${o.maxNodeBytes} (${MIN_MAX_NODE_BYTES}..64 MiB)`);
    }
    this.leafUnit = o.leafMaxEntries * o.maxNodeBytes;
    this.indexUnit = o.indexMaxEntries * o.maxNodeBytes;
    this.maxEntryBytes = Math.floor(o.maxNodeBytes * entryShare(o.leafMaxEntries));
    const indexEntryBytes = Math.floor(o.maxNodeBytes * entryShare(o.indexMaxEntries));
    if (indexEntryBytes < MAX_KEY_BYTES + REF_WEIGHT_BYTES || this.maxEntryBytes < MAX_KEY_BYTES + 64) {
      throw cairnError('CAIRN_ERR_CONFIG_INVALID', `maxNodeBytes ${o.maxNodeBytes} too small for these fan-outs`);
    }
    this.maxValueBytes = this.maxEntryBytes - MAX_KEY_BYTES;
  }

  leafWeight(count: number, bytes: number): number {
    return count * this.o.maxNodeBytes + bytes * this.o.leafMaxEntries;
  }

  indexWeight(kids: number, bytes: number): number {
    return kids * this.o.maxNodeBytes + bytes * this.o.indexMaxEntries;
  }

  weight(n: Node): number {
    return n.kind === 1 ? this.leafWeight(n.size, n.bytes) : this.indexWeight(n.kids.length, n.bytes);
  }

  unit(n: Node): number {
    return n.kind === 1 ? this.leafUnit : this.indexUnit;
  }

  overflows(n: Node): boolean {
    return this.weight(n) > this.unit(n) && (n.kind === 1 ? n.size > 1 : n.kids.length > 2);
  }

  underflows(n: Node): boolean {
    return 4 * this.weight(n) < this.unit(n);
  }
}

/** Share of a node one entry may take in bytes, so that one entry weighs <= 1/4. */
function entryShare(fanout: number): number {
  return Math.min(1 / 8, 1 / 4 - 1 / fanout);
}
