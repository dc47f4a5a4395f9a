// Retrying object-store calls that failed in a way a later try may fix.

import { isCairnError, isRetryable } from '@cairn/errors';

export interface RetryPolicy {
  /** Tries in all (>= 1). */
  readonly attempts: number;
  /** First pause, ms; doubles each time up to maxDelayMs, with +-25% jitter. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const READ_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 20, maxDelayMs: 2000 };
export const WRITE_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 50, maxDelayMs: 4000 };

/** True for failures worth another try: transient store errors and checksum mismatches (a damaged transfer). */
export function transient(err: unknown): boolean {
  return isRetryable(err) || isCairnError(err, 'CAIRN_ERR_META_BAD_CHECKSUM') || isCairnError(err, 'CAIRN_ERR_OBJ_CORRUPT') ||
    isCairnError(err, 'CAIRN_ERR_CANCELED');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function backoffDelay(policy: RetryPolicy, attempt: number): number {
  const d = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return d * (0.75 + Math.random() * 0.5);
}

/** Runs fn until it succeeds, fails permanently, or the tries run out (then the last error is thrown). */
export async function withRetry<T>(policy: RetryPolicy, fn: (attempt: number) => Promise<T>, retryIf: (err: unknown) => boolean = transient): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt + 1 >= policy.attempts || !retryIf(err)) throw err;
      await sleep(backoffDelay(policy, attempt));
    }
  }
}
