import { isCairnError } from '@cairn/errors';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ResolvedRetryPolicy } from './swift-options.js';
import { abortable, backoffCeiling, backoffDelay, parseRetryAfter, sleep } from './swift-retry.js';

const policyArb = fc
  .record({
    maxAttempts: fc.integer({ min: 1, max: 20 }),
    baseDelayMs: fc.integer({ min: 0, max: 2000 }),
    extra: fc.integer({ min: 0, max: 60_000 }),
    factor: fc.double({ min: 1, max: 4, noNaN: true }),
  })
  .map(({ extra, ...p }): ResolvedRetryPolicy => ({ ...p, maxDelayMs: p.baseDelayMs + extra }));

describe('swift backoff', () => {
  it('waits a jittered time in [0, min(max, base * factor^(n-1))]', () => {
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (p, n, r) => {
        const ceiling = Math.min(p.maxDelayMs, p.baseDelayMs * Math.pow(p.factor, n - 1));
        expect(backoffCeiling(n, p)).toBeCloseTo(ceiling, 6);
        const d = backoffDelay(n, p, () => r);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(ceiling);
        expect(d).toBe(Math.floor(r * ceiling));
      }),
    );
  });

  it('the ceiling never shrinks and stops at maxDelayMs', () => {
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 1, max: 60 }), (p, n) => {
        expect(backoffCeiling(n + 1, p)).toBeGreaterThanOrEqual(backoffCeiling(n, p));
        expect(backoffCeiling(n, p)).toBeLessThanOrEqual(p.maxDelayMs);
      }),
    );
    const p = { maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 5000, factor: 2 };
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffCeiling(n, p))).toEqual([100, 200, 400, 800, 1600, 3200, 5000]);
  });

  it('honours Retry-After up to maxDelayMs', () => {
    const p = { maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 5000, factor: 2 };
    expect(backoffDelay(1, p, () => 0, 2000)).toBe(2000);
    expect(backoffDelay(1, p, () => 0, 60_000)).toBe(5000);
    expect(backoffDelay(7, p, () => 0.99, 10)).toBe(4950);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(parseRetryAfter('Mon, 01 Jan 2024 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Mon, 01 Jan 2023 00:00:05 GMT', now)).toBe(0);
  });

  it('sleep and abortable stop with CAIRN_ERR_CANCELED when the signal fires', async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    const p = sleep(10_000, ac.signal);
    setTimeout(() => ac.abort(), 10);
    await expect(p).rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_CANCELED'));
    expect(Date.now() - t0).toBeLessThan(2000);
    await expect(sleep(5, AbortSignal.abort())).rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_CANCELED'));
    const never = new Promise<number>(() => undefined);
    const ac2 = new AbortController();
    const q = abortable(never, ac2.signal);
    ac2.abort();
    await expect(q).rejects.toSatisfy((e: unknown) => isCairnError(e, 'CAIRN_ERR_CANCELED'));
    await expect(abortable(Promise.resolve(7), new AbortController().signal)).resolves.toBe(7);
  });
});
