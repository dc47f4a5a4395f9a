import { describe, expect, it } from 'vitest';
import { AttrCache, PathCache, splitPath, XattrMissCache } from './cache.js';
import type { Attr } from './convert.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const attr = (ino: number, size = 0): Attr =>
  ({ ino, type: 'file', mode: 0o100644, nlink: 1, uid: 0, gid: 0, size, blocks: 0, blksize: 4096, rdev: 0, atimeNs: 0n, mtimeNs: 0n, ctimeNs: 0n, btimeNs: 0n, change: 1, dataVersion: 1 }) as Attr;

describe('splitPath', () => {
  it('splits into the directory and the last component', () => {
    expect(splitPath('/a')).toEqual(['/', 'a']);
    expect(splitPath('/a/b/c')).toEqual(['/a/b', 'c']);
  });
});

describe('PathCache', () => {
  it('expires entries after the entry timeout', () => {
    const c = clock();
    const p = new PathCache({ entryTtlMs: 100, attrTtlMs: 0, maxEntries: 10, now: c.now });
    p.set('/a', 5, 'file');
    expect(p.get('/a')).toBe(5);
    c.advance(100);
    expect(p.get('/a')).toBeUndefined();
  });

  it('drops a directory and everything below it, but only the path for a file', () => {
    const p = new PathCache({ entryTtlMs: 1000, attrTtlMs: 0, maxEntries: 10 });
    p.set('/d', 2, 'dir');
    p.set('/d/x', 3, 'file');
    p.set('/d/y/z', 4, 'file');
    p.set('/dd', 5, 'file');
    p.invalidate('/d/x');
    expect([p.get('/d'), p.get('/d/x'), p.get('/d/y/z')]).toEqual([2, undefined, 4]);
    p.invalidate('/d');
    expect([p.get('/d'), p.get('/d/y/z'), p.get('/dd')]).toEqual([undefined, undefined, 5]);
  });

  it('drops what is cached below a directory whose own entry is gone (expired), and only that', () => {
    const c = clock();
    const p = new PathCache({ entryTtlMs: 100, attrTtlMs: 0, maxEntries: 10, now: c.now });
    p.set('/d', 2, 'dir');
    c.advance(50);
    p.set('/d/e/f', 4, 'file');
    p.set('/d/g', 5, 'file');
    p.set('/other', 6, 'file');
    c.advance(60);
    expect(p.get('/d')).toBeUndefined();
    p.invalidate('/d/g'); // a file's own path: nothing below it
    expect([p.get('/d/e/f'), p.get('/other')]).toEqual([4, 6]);
    p.invalidate('/d');
    expect([p.get('/d/e/f'), p.get('/other'), p.size]).toEqual([undefined, 6, 1]);
    // Counts stay right through re-sets and evictions.
    p.set('/d/x', 7, 'file');
    p.set('/d/x', 8, 'file');
    p.invalidate('/d/x');
    p.set('/d/y', 9, 'file');
    p.invalidate('/d');
    expect([p.get('/d/y'), p.size]).toEqual([undefined, 1]);
  });

  it('ignores an answer that raced with an invalidation', () => {
    const p = new PathCache({ entryTtlMs: 1000, attrTtlMs: 0, maxEntries: 10 });
    const gen = p.generation;
    p.invalidate('/elsewhere');
    p.set('/a', 7, 'file', gen);
    expect(p.get('/a')).toBeUndefined();
  });

  it('setUnlessChanged drops an answer only when its path or a directory above it changed meanwhile', () => {
    const p = new PathCache({ entryTtlMs: 1000, attrTtlMs: 0, maxEntries: 3 });
    const gen = p.generation;
    p.invalidate('/d/other'); // a concurrent unlink of another name
    p.setUnlessChanged('/d/a', 1, 'file', gen);
    p.invalidate('/d/b');
    p.setUnlessChanged('/d/b', 2, 'file', gen);
    p.invalidate('/e');
    p.setUnlessChanged('/e/f/g', 3, 'file', gen);
    expect([p.get('/d/a'), p.get('/d/b'), p.get('/e/f/g')]).toEqual([1, undefined, undefined]);
    // Invalidations too old to be remembered one by one count for every path.
    const old = p.generation;
    for (let i = 0; i < 4; i++) p.invalidate(`/x${i}`);
    p.setUnlessChanged('/y', 4, 'file', old);
    expect(p.get('/y')).toBeUndefined();
    const g = p.generation;
    p.clear();
    p.setUnlessChanged('/z', 5, 'file', g);
    expect(p.get('/z')).toBeUndefined();
    p.setUnlessChanged('/z', 5, 'file', p.generation);
    expect(p.get('/z')).toBe(5);
  });

  it('keeps at most maxEntries, dropping the oldest', () => {
    const p = new PathCache({ entryTtlMs: 1000, attrTtlMs: 0, maxEntries: 2 });
    p.set('/a', 1, 'file');
    p.set('/b', 2, 'file');
    p.set('/c', 3, 'file');
    expect([p.get('/a'), p.get('/b'), p.get('/c'), p.size]).toEqual([undefined, 2, 3, 2]);
  });
});

describe('AttrCache', () => {
  it('an inode invalidated again and again stays known as changed, also once the oldest invalidations are forgotten', () => {
    const a = new AttrCache({ entryTtlMs: 0, attrTtlMs: 1000, maxEntries: 2 });
    a.invalidate(1);
    a.invalidate(2);
    const s2 = a.stamp();
    a.invalidate(1); // again: the directory of every create
    a.invalidate(3); // forgets the oldest
    expect([a.changedSince(1, s2), a.changedSince(2, s2), a.changedSince(3, s2)]).toEqual([true, false, true]);
    a.invalidate(4); // forgets the next
    expect(a.changedSince(1, s2)).toBe(true);
    a.set(attr(1), s2);
    expect(a.get(1)).toBeUndefined();
  });

  it('answers within the attribute timeout and forgets on invalidate', () => {
    const c = clock();
    const a = new AttrCache({ entryTtlMs: 0, attrTtlMs: 50, maxEntries: 10, now: c.now });
    a.set(attr(9, 42));
    expect(a.get(9)?.size).toBe(42);
    a.invalidate(9);
    expect(a.get(9)).toBeUndefined();
    a.set(attr(9, 43));
    c.advance(50);
    expect(a.get(9)).toBeUndefined();
  });

  it('does not cache an answer whose inode was invalidated after the request left', () => {
    const a = new AttrCache({ entryTtlMs: 0, attrTtlMs: 1000, maxEntries: 10 });
    const before = a.stamp();
    a.invalidate(9);
    a.set(attr(9, 1), before);
    expect(a.get(9)).toBeUndefined();
    a.set(attr(8, 2), before);
    expect(a.get(8)?.size).toBe(2);
    expect([a.changedSince(9, before), a.changedSince(8, before), a.changedSince(9, a.stamp())]).toEqual([true, false, false]);
  });

  it('stays conservative about invalidations it no longer remembers', () => {
    const a = new AttrCache({ entryTtlMs: 0, attrTtlMs: 1000, maxEntries: 2 });
    const before = a.stamp();
    a.invalidate(1);
    a.invalidate(2);
    a.invalidate(3);
    a.set(attr(1), before);
    expect(a.get(1)).toBeUndefined();
    a.set(attr(1), a.stamp());
    expect(a.get(1)).toBeDefined();
  });

  it('caches nothing with a zero timeout', () => {
    const a = new AttrCache({ entryTtlMs: 0, attrTtlMs: 0, maxEntries: 10 });
    a.set(attr(1));
    expect(a.get(1)).toBeUndefined();
  });
});

describe('XattrMissCache', () => {
  it('is fresh for one timeout, stale for another, then unknown', () => {
    const c = clock();
    const x = new XattrMissCache({ entryTtlMs: 0, attrTtlMs: 100, maxEntries: 10, now: c.now });
    expect(x.state(1, 'user.a')).toBe('unknown');
    x.remember(1, 'user.a');
    expect(x.state(1, 'user.a')).toBe('fresh');
    expect(x.state(1, 'user.b')).toBe('unknown');
    c.advance(150);
    expect(x.state(1, 'user.a')).toBe('stale');
    c.advance(100);
    expect(x.state(1, 'user.a')).toBe('unknown');
  });

  it('knows a new inode has no attribute at all until one is set', () => {
    const x = new XattrMissCache({ entryTtlMs: 0, attrTtlMs: 100, maxEntries: 10 });
    x.rememberNone(3);
    expect(x.state(3, 'security.capability')).toBe('fresh');
    x.invalidate(3);
    expect(x.state(3, 'security.capability')).toBe('unknown');
  });
});
