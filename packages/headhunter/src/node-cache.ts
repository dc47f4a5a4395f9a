// The cache of clean (written) nodes, with a byte budget, evicting the least
// recently used by the CLOCK (second chance) rule: a hit only marks its entry,
// and eviction walks entries oldest first, giving a marked one a second chance
// (unmarked, moved to the newest end) and evicting an unmarked one. A hit
// changes no structure: moving the entry on every hit (delete + set of the Map)
// cost more than the rest of a lookup. One cache serves
// every tree and snapshot of a volume, and may be shared by several volumes
// (keys carry a per-volume prefix). Dirty nodes never live here: they are held
// by their parents until a checkpoint writes them.
//
// Concurrent loads of one node share one read (see NodeLoader in tree-io.ts).

import { cairnError } from '@cairn/errors';
import type { Node } from './node.js';

/** Fixed in-memory cost of a decoded node, bytes (an estimate). */
const NODE_OVERHEAD = 256;
/** In-memory cost per entry of a decoded node (array slots, Buffer views), bytes. */
const ENTRY_OVERHEAD = 120;

/** In-memory cost per entry of a packed leaf (its four offsets), bytes. */
const PACKED_ENTRY = 16;

/** Estimated memory of a decoded node read from `length` stored bytes. */
export function nodeMemory(node: Node, length: number): number {
  if (node.kind === 1) return NODE_OVERHEAD + length + node.size * (node.isPacked ? PACKED_ENTRY : 2 * ENTRY_OVERHEAD);
  return NODE_OVERHEAD + length + node.kids.length * 3 * ENTRY_OVERHEAD;
}

export interface NodeCacheStats {
  /** Budget, bytes. */
  readonly maxBytes: number;
  /** Estimated bytes held now. */
  readonly bytes: number;
  readonly nodes: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
}

/**
 * A cached node. A caller may keep the entry (see entry() and hit()) to find
 * the node again without the keyed lookup; `node` is cleared when the entry
 * leaves the cache, so a kept entry never holds an evicted node in memory.
 */
export interface CacheEntry {
  node: Node | undefined;
  readonly size: number;
  /** Hit since it was inserted or last given its second chance. */
  used: boolean;
}
type Entry = CacheEntry;

/** An LRU map from node keys to decoded nodes, evicting beyond a byte budget. */
export class NodeCache {
  private readonly map = new Map<string, Entry>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private nextOwner = 1;

  constructor(readonly maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw cairnError('CAIRN_ERR_CONFIG_INVALID', `node cache maxBytes ${maxBytes}`);
  }

  /** A fresh key prefix for one volume sharing this cache. */
  ownerPrefix(): string {
    return `${this.nextOwner++}/`;
  }

  /** The cached node, marking it recently used; undefined on a miss. */
  get(key: string): Node | undefined {
    return this.entry(key)?.node;
  }

  /** Like get(), but returns the entry, for a caller that keeps it to skip this lookup next time (see hit()). */
  entry(key: string): CacheEntry | undefined {
    const e = this.map.get(key);
    if (e === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    e.used = true;
    return e;
  }

  /** The node of an entry kept from entry(), marking it recently used; undefined once it has left the cache. */
  hit(e: CacheEntry): Node | undefined {
    if (e.node === undefined) return undefined;
    this.hits++;
    e.used = true;
    return e.node;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /** Adds (or refreshes) a node and evicts the least recently used beyond the budget. */
  set(key: string, node: Node, size: number): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.bytes -= old.size;
      this.map.delete(key);
      old.node = undefined;
    }
    this.map.set(key, { node, size, used: false });
    this.bytes += size;
    this.evict(key);
  }

  delete(key: string): void {
    const e = this.map.get(key);
    if (e === undefined) return;
    this.map.delete(key);
    this.bytes -= e.size;
    e.node = undefined;
  }

  /** Drops every node whose key starts with `prefix` (a closed volume). */
  deletePrefix(prefix: string): void {
    for (const [k, e] of this.map) {
      if (k.startsWith(prefix)) {
        this.map.delete(k);
        this.bytes -= e.size;
        e.node = undefined;
      }
    }
  }

  stats(): NodeCacheStats {
    return { maxBytes: this.maxBytes, bytes: this.bytes, nodes: this.map.size, hits: this.hits, misses: this.misses, evictions: this.evictions };
  }

  /**
   * Oldest first (Map order is insertion order): a marked entry gets a second
   * chance, an unmarked one goes. `added`, the entry just set, is met last; if
   * the walk comes round to it, it is passed over once more (it is the newest).
   */
  private evict(added?: string): void {
    if (this.bytes <= this.maxBytes) return;
    // Entries moved to the end are met again later in this walk; after one pass every entry is unmarked.
    let chances = this.map.size + 1;
    let spare = added;
    for (const [k, e] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      if ((e.used || k === spare) && chances-- > 0) {
        if (k === spare) spare = undefined;
        e.used = false;
        this.map.delete(k);
        this.map.set(k, e);
        continue;
      }
      this.map.delete(k);
      this.bytes -= e.size;
      e.node = undefined;
      this.evictions++;
    }
  }
}

/** Creates a node cache with a budget of `maxBytes` (estimated decoded size). */
export function createNodeCache(options: { maxBytes: number }): NodeCache {
  return new NodeCache(options.maxBytes);
}
