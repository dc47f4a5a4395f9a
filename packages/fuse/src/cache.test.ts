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

  it('ignores an answer that raced with an invalidation', () => {
    const p = new PathCache({ entryTtlMs: 1000, attrTtlMs: 0, maxEntries: 10 });
    const gen = p.generation;
    p.invalidate('/elsewhere');
    p.set('/a', 7, 'file', gen);
    expect(p.get('/a')).toBeUndefined();
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
