// The node cache: a hit is only marked (no reordering); eviction goes oldest
// first and gives a hit entry a second chance; the byte budget holds; what it
// returns is always what was last set for the key.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Node } from './node.js';
import { NodeCache, type CacheEntry } from './node-cache.js';

const node = (id: number): Node => ({ kind: 1, id } as unknown as Node);

describe('NodeCache', () => {
  it('evicts the oldest entry not hit since it was inserted (second chance for hit ones)', () => {
    const c = new NodeCache(300);
    c.set('a', node(1), 100);
    c.set('b', node(2), 100);
    c.set('c', node(3), 100);
    expect(c.get('a')).toEqual(node(1)); // a is marked: it survives the next eviction, b (oldest unmarked) goes
    c.set('d', node(4), 100);
    expect(c.has('a')).toBe(true);
    expect(c.has('b')).toBe(false);
    expect(c.has('c')).toBe(true);
    // a had its second chance (now unmarked, newest but d); c is the oldest unmarked now.
    c.set('e', node(5), 100);
    expect(c.has('c')).toBe(false);
    expect([c.has('a'), c.has('d'), c.has('e')]).toEqual([true, true, true]);
    expect(c.stats()).toMatchObject({ bytes: 300, nodes: 3, evictions: 2 });
  });

  it('when every entry was hit, one pass unmarks them and the oldest goes', () => {
    const c = new NodeCache(200);
    c.set('a', node(1), 100);
    c.set('b', node(2), 100);
    c.get('a');
    c.get('b');
    c.set('c', node(3), 100);
    expect(c.stats().nodes).toBe(2);
    expect(c.has('c')).toBe(true);
    expect(c.has('a')).toBe(false);
  });

  it('keeps its budget and returns what was last set, against a model', () => {
    type Op = { k: 'set'; key: number; size: number; id: number } | { k: 'get'; key: number } | { k: 'del'; key: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ k: fc.constant('set' as const), key: fc.nat(20), size: fc.integer({ min: 1, max: 400 }), id: fc.nat() }),
      fc.record({ k: fc.constant('get' as const), key: fc.nat(20) }),
      fc.record({ k: fc.constant('del' as const), key: fc.nat(20) }),
    );
    fc.assert(fc.property(fc.integer({ min: 400, max: 3000 }), fc.array(op, { maxLength: 300 }), (max, ops) => {
      const c = new NodeCache(max);
      const model = new Map<string, { id: number; size: number }>();
      let hits = 0;
      for (const o of ops) {
        const key = `k${o.key}`;
        if (o.k === 'set') {
          c.set(key, node(o.id), o.size);
          model.set(key, { id: o.id, size: o.size });
        } else if (o.k === 'del') {
          c.delete(key);
          model.delete(key);
        } else {
          const got = c.get(key);
          if (got !== undefined) {
            hits++;
            expect(got).toEqual(node(model.get(key)!.id));
          }
        }
        // Whatever is cached is the model's latest value; the rest was evicted.
        let bytes = 0;
        for (const [k, v] of model) {
          if (!c.has(k)) {
            model.delete(k);
            continue;
          }
          bytes += v.size;
        }
        const s = c.stats();
        expect(s.bytes).toBe(bytes);
        expect(s.nodes).toBe(model.size);
        expect(s.bytes).toBeLessThanOrEqual(max);
      }
      expect(c.stats().hits).toBe(hits);
    }), { numRuns: 200 });
  });

  it('a kept entry finds its node while the node is cached and lets go of it once evicted, deleted or replaced', () => {
    type Op = { k: 'set'; key: number; size: number } | { k: 'keep'; key: number } | { k: 'hit'; key: number } | { k: 'del'; key: number } | { k: 'drop' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ k: fc.constant('set' as const), key: fc.nat(12), size: fc.integer({ min: 1, max: 400 }) }),
      fc.record({ k: fc.constant('keep' as const), key: fc.nat(12) }),
      fc.record({ k: fc.constant('hit' as const), key: fc.nat(12) }),
      fc.record({ k: fc.constant('del' as const), key: fc.nat(12) }),
      fc.constant({ k: 'drop' as const }),
    );
    fc.assert(fc.property(fc.integer({ min: 400, max: 2000 }), fc.array(op, { maxLength: 300 }), (max, ops) => {
      const c = new NodeCache(max);
      // The node last set per key (a fresh object each time), and entries kept by a caller.
      const current = new Map<string, Node>();
      const kept = new Map<string, { entry: CacheEntry; node: Node }>();
      let id = 0;
      for (const o of ops) {
        const key = o.k === 'drop' ? 'k0' : `k${o.key}`;
        if (o.k === 'set') {
          const n = node(id++);
          c.set(key, n, o.size);
          current.set(key, n);
        } else if (o.k === 'keep') {
          const e = c.entry(key);
          if (e !== undefined) {
            expect(e.node).toBe(current.get(key));
            kept.set(key, { entry: e, node: e.node! });
          }
        } else if (o.k === 'del') {
          c.delete(key);
          current.delete(key);
        } else if (o.k === 'drop') {
          c.deletePrefix('k1');
          for (const k of [...current.keys()]) if (k.startsWith('k1')) current.delete(k);
        } else {
          const k = kept.get(key);
          if (k === undefined) continue;
          // Still the cached entry for its key: the same node. Gone (evicted, deleted, replaced): nothing, and nothing held.
          const stillCached = c.has(key) && current.get(key) === k.node && c.get(key) === k.node;
          expect(c.hit(k.entry)).toBe(stillCached ? k.node : undefined);
          if (!stillCached) expect(k.entry.node).toBeUndefined();
        }
        for (const k of [...current.keys()]) if (!c.has(k)) current.delete(k);
      }
    }), { numRuns: 300 });
  });
});
