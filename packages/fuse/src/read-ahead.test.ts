import { describe, expect, it } from 'vitest';
import { ReadAhead } from './read-ahead.js';

const FILE = Buffer.from(Array.from({ length: 100 }, (_, i) => i));

function fetcher(): { calls: Array<[number, number]>; fetch: (offset: number, length: number) => Promise<Buffer> } {
  const calls: Array<[number, number]> = [];
  return { calls, fetch: async (offset, length) => (calls.push([offset, length]), FILE.subarray(offset, offset + length)) };
}

describe('ReadAhead', () => {
  it('serves a sequential stream from windows and fetches the next one ahead', async () => {
    const f = fetcher();
    const ra = new ReadAhead(f.fetch, 16);
    const out: number[] = [];
    for (let off = 0; off < 100; off += 4) out.push(...(await ra.read(off, 4)));
    expect(Buffer.from(out).equals(FILE)).toBe(true);
    expect(f.calls.every(([, len]) => len === 16)).toBe(true);
    expect(f.calls.length).toBeLessThanOrEqual(8);
  });

  it('reads at random offsets directly', async () => {
    const f = fetcher();
    const ra = new ReadAhead(f.fetch, 16);
    await ra.read(0, 4);
    expect((await ra.read(50, 4)).equals(FILE.subarray(50, 54))).toBe(true);
    expect(f.calls.at(-1)).toEqual([50, 4]);
  });

  it('spans two windows and stops at the end of the file', async () => {
    const f = fetcher();
    const ra = new ReadAhead(f.fetch, 16);
    await ra.read(0, 10);
    expect((await ra.read(10, 10)).equals(FILE.subarray(10, 20))).toBe(true);
    const tail = await ra.read(96, 8);
    expect(tail.equals(FILE.subarray(96))).toBe(true);
  });

  it('forgets its windows when the file changes', async () => {
    const f = fetcher();
    const ra = new ReadAhead(f.fetch, 16);
    await ra.read(0, 4);
    const before = f.calls.length;
    ra.invalidate();
    await ra.read(4, 4);
    expect(f.calls.length).toBe(before + 1);
  });
});
