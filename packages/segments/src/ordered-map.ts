// The in-memory OrderedMap (over sorted-btree): what extent maps live in until
// they are kept in a headhunter tree, and what tests and overlays use.

import sortedBtree from 'sorted-btree';
import type { OrderedMap } from './types.js';

// sorted-btree is CommonJS with `exports.default = BTree`; depending on the
// loader's interop the default import is either the class or the exports object.
type Tree<V> = import('sorted-btree').default<number, V>;
type TreeClass = typeof import('sorted-btree').default;
const BTree: TreeClass = (sortedBtree as unknown as { default?: TreeClass }).default ?? (sortedBtree as unknown as TreeClass);

/** An OrderedMap in memory, with synchronous extras for tests and overlays. */
export interface MemoryOrderedMap<V> extends OrderedMap<V> {
  readonly size: number;
  /** Every entry in ascending key order. */
  entries(): Array<[number, V]>;
  /** A copy that shares no structure visible to writers of either. */
  clone(): MemoryOrderedMap<V>;
}

export function createMemoryOrderedMap<V>(entries: Iterable<readonly [number, V]> = []): MemoryOrderedMap<V> {
  const tree: Tree<V> = new BTree<number, V>(undefined, (a: number, b: number) => a - b);
  for (const [k, v] of entries) tree.set(k, v);
  return new MemoryMap(tree);
}

class MemoryMap<V> implements MemoryOrderedMap<V> {
  constructor(private readonly tree: Tree<V>) {}

  get size(): number {
    return this.tree.size;
  }

  async floor(key: number): Promise<readonly [number, V] | undefined> {
    return this.tree.getPairOrNextLower(key);
  }

  async scan(fromKey: number, toKey: number): Promise<ReadonlyArray<readonly [number, V]>> {
    if (!(fromKey < toKey)) return [];
    return this.tree.getRange(fromKey, toKey, false);
  }

  async put(key: number, value: V): Promise<void> {
    this.tree.set(key, value, true);
  }

  async delete(key: number): Promise<void> {
    this.tree.delete(key);
  }

  entries(): Array<[number, V]> {
    return [...this.tree.entries()];
  }

  clone(): MemoryOrderedMap<V> {
    return new MemoryMap(this.tree.clone());
  }
}
