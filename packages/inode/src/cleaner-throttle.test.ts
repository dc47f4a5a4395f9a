// The pacing of background jobs: the long-run rate holds for any unit size
// (fake clock), pause holds takes back until resume, an abort rejects waiting
// and later takes with CAIRN_ERR_CANCELED.

import { describe, expect, it } from 'vitest';
import { Throttle } from './cleaner-throttle.js';

function fakeClock(): { now: () => number; sleep: (ms: number) => Promise<void>; slept: number[] } {
  let t = 0;
  const slept: number[] = [];
  return {
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms);
      t += ms;
    },
    slept,
  };
}

describe('Throttle', () => {
  it('holds the rate over many small takes', async () => {
    const c = fakeClock();
    const th = new Throttle({ rate: 1000, burst: 100, now: c.now, sleep: c.sleep });
    for (let i = 0; i < 30; i++) await th.take(100);
    // 3000 units at 1000/s with 100 in the bucket at the start: 2.9 s.
    expect(c.now()).toBeGreaterThanOrEqual(2900);
    expect(c.now()).toBeLessThan(2950);
  });

  it('lets one take exceed the burst and makes the next ones pay the debt', async () => {
    const c = fakeClock();
    const th = new Throttle({ rate: 1000, burst: 10, now: c.now, sleep: c.sleep });
    await th.take(5000);
    expect(c.now()).toBeGreaterThanOrEqual(4990);
    const at = c.now();
    await th.take(1000);
    expect(c.now() - at).toBeGreaterThanOrEqual(990);
  });

  it('never waits without a rate', async () => {
    const c = fakeClock();
    const th = new Throttle({ now: c.now, sleep: c.sleep });
    for (let i = 0; i < 100; i++) await th.take(1e9);
    expect(c.slept).toEqual([]);
  });

  it('holds takes while paused and releases them on resume', async () => {
    const th = new Throttle({ rate: Infinity });
    th.pause();
    expect(th.paused).toBe(true);
    let done = false;
    const p = th.take(1).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(done).toBe(false);
    th.resume();
    await p;
    expect(done).toBe(true);
    expect(th.paused).toBe(false);
  });

  it('a pause earns no tokens', async () => {
    const c = fakeClock();
    const th = new Throttle({ rate: 100, burst: 1, now: c.now, sleep: c.sleep });
    await th.take(1);
    th.pause();
    void c.sleep(10_000); // time passes while paused
    th.resume();
    const at = c.now();
    await th.take(100);
    expect(c.now() - at).toBeGreaterThanOrEqual(990);
  });

  it('cancels a paused take, a waiting take and every later one', async () => {
    const ac = new AbortController();
    const th = new Throttle({ rate: 1, burst: 1, signal: ac.signal });
    await th.take(1);
    const waiting = th.take(1000); // ~1000 s
    th.pause();
    const paused = th.take(1);
    const t0 = performance.now();
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'CAIRN_ERR_CANCELED' });
    await expect(paused).rejects.toMatchObject({ code: 'CAIRN_ERR_CANCELED' });
    await expect(th.take(0)).rejects.toMatchObject({ code: 'CAIRN_ERR_CANCELED' });
    expect(() => th.check()).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_CANCELED' }));
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('rejects bad settings', () => {
    expect(() => new Throttle({ rate: 0 })).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_INVALID_ARGUMENT' }));
    expect(() => new Throttle({ rate: 10, burst: -1 })).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_INVALID_ARGUMENT' }));
  });
});
