// The slab copier and its pool: copies stay intact while kept, slabs of a
// finished upload are refilled by the next one, the pool empties when idle.

import { afterEach, describe, expect, it } from 'vitest';
import { SLAB_BYTES, SlabCopier, slabPoolForTests } from './slab.js';

const filled = (n: number, v: number): Buffer => Buffer.alloc(n, v);

afterEach(() => slabPoolForTests.clear());

describe('SlabCopier', () => {
  it('copies chunks into slabs, splitting one that crosses a slab boundary; the caller may reuse its buffer', () => {
    const c = new SlabCopier();
    const a = filled(SLAB_BYTES - 10, 1);
    const views = [...c.copy(a), ...c.copy(filled(30, 2))];
    a.fill(9);
    expect(views.map((v) => v.length)).toEqual([SLAB_BYTES - 10, 10, 20]);
    expect(views[0]!.every((x) => x === 1)).toBe(true);
    expect(views[1]!.buffer).toBe(views[0]!.buffer);
    expect(views[2]!.buffer).not.toBe(views[1]!.buffer);
    expect(Buffer.concat(views.slice(1)).every((x) => x === 2)).toBe(true);
  });

  it('recycle() hands the slabs to the next copier, which overwrites them', () => {
    const first = new SlabCopier();
    const old = first.copy(filled(1000, 1))[0]!;
    expect(slabPoolForTests.size()).toBe(0);
    first.recycle();
    expect(slabPoolForTests.size()).toBe(1);
    expect(slabPoolForTests.holds(old)).toBe(true);
    const next = new SlabCopier().copy(filled(1000, 7))[0]!;
    expect(next.buffer).toBe(old.buffer);
    expect(slabPoolForTests.size()).toBe(0);
    expect(next.every((x) => x === 7)).toBe(true);
  });

  it('release() keeps the views valid and gives nothing to the pool', () => {
    const c = new SlabCopier();
    const v = c.copy(filled(100, 3))[0]!;
    c.release();
    expect(slabPoolForTests.size()).toBe(0);
    new SlabCopier().copy(filled(100, 4));
    expect(v.every((x) => x === 3)).toBe(true);
  });

  it('the pool is emptied once no slab was taken from it for an idle period', () => {
    const c = new SlabCopier();
    c.copy(filled(10, 1));
    c.recycle();
    expect(slabPoolForTests.size()).toBe(1);
    slabPoolForTests.checkIdle(); // a whole period (slabPoolForTests.idleMs) without a take
    expect(slabPoolForTests.size()).toBe(0);
  });

  it('a slab taken from the pool keeps it alive for another period', () => {
    for (let i = 0; i < 2; i++) {
      const c = new SlabCopier();
      c.copy(filled(10, 1));
      c.recycle();
    }
    expect(slabPoolForTests.size()).toBe(1);
    slabPoolForTests.checkIdle();
    const c = new SlabCopier();
    c.copy(filled(10, 1)); // a take
    c.recycle();
    slabPoolForTests.checkIdle();
    expect(slabPoolForTests.size()).toBe(1);
  });
});
