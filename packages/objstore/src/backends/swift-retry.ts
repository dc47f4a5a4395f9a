// Retry timing for the Swift backend: capped exponential backoff with full
// jitter ("AWS full jitter"): the n-th retry waits a uniformly random time in
// [0, min(maxDelayMs, baseDelayMs * factor^(n-1))]. A Retry-After the server
// sent (429/503) raises the wait to at least that, still capped by maxDelayMs.

import { cairnError } from '@cairn/errors';
import type { ResolvedRetryPolicy } from './swift-options.js';

/** Upper bound of the wait before retry number `retry` (1 = first retry). */
export function backoffCeiling(retry: number, policy: ResolvedRetryPolicy): number {
  const exp = policy.baseDelayMs * Math.pow(policy.factor, Math.max(0, retry - 1));
  return Math.min(policy.maxDelayMs, exp);
}

/** The wait in ms before retry number `retry`; `random` yields [0, 1). */
export function backoffDelay(retry: number, policy: ResolvedRetryPolicy, random: () => number, retryAfterMs?: number): number {
  const jittered = Math.floor(random() * backoffCeiling(retry, policy));
  if (retryAfterMs === undefined) return jittered;
  return Math.min(policy.maxDelayMs, Math.max(jittered, retryAfterMs));
}

/** Parses a Retry-After header (seconds or an HTTP date) into ms; undefined when absent or bad. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** Waits ms milliseconds; rejects with CAIRN_ERR_CANCELED (naming `what`) when signal fires. */
export function sleep(ms: number, signal?: AbortSignal, what = 'retry wait'): Promise<void> {
  if (signal?.aborted) return Promise.reject(cairnError('CAIRN_ERR_CANCELED', what));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cairnError('CAIRN_ERR_CANCELED', what));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves or rejects like p, or rejects with CAIRN_ERR_CANCELED as soon as signal fires. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(cairnError('CAIRN_ERR_CANCELED', 'wait'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(cairnError('CAIRN_ERR_CANCELED', 'wait'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
