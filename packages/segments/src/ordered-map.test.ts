import { describe, expect, it } from 'vitest';
import { ByteBudget } from './budget.js';
import { createMemoryOrderedMap } from './ordered-map.js';

describe('memory ordered map', () => {
  it('floor, scan (half-open, Infinity), put, delete', async () => {
    const m = createMemoryOrderedMap<string>([[10, 'a'], [20, 'b'], [30, 'c']]);
    expect(await m.floor(5)).toBeUndefined();
    expect(await m.floor(10)).toEqual([10, 'a']);
    expect(await m.floor(29)).toEqual([20, 'b']);
    expect(await m.scan(10, 30)).toEqual([[10, 'a'], [20, 'b']]);
    expect(await m.scan(15, Infinity)).toEqual([[20, 'b'], [30, 'c']]);
    expect(await m.scan(30, 30)).toEqual([]);
    await m.put(20, 'B');
    await m.delete(10);
    expect(m.entries()).toEqual([[20, 'B'], [30, 'c']]);
    const c = m.clone();
    await c.delete(20);
    expect(m.size).toBe(2);
    expect(c.size).toBe(1);
  });
});

describe('byte budget', () => {
  it('grants in FIFO order as bytes are released', async () => {
    const b = new ByteBudget(100);
    expect(b.tryAcquire(60)).toBe(true);
    const order: number[] = [];
    const p1 = b.acquire(50).then(() => order.push(1));
    const p2 = b.acquire(10).then(() => order.push(2));
    expect(b.tryAcquire(10)).toBe(false);
    expect(b.waiting).toBe(2);
    b.release(60);
    await Promise.all([p1, p2]);
    expect(order).toEqual([1, 2]);
    expect(b.used).toBe(60);
    expect(() => b.acquire(101)).toThrow();
    expect(() => b.release(61)).toThrow();
  });
});
