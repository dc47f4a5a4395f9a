// What every FUSE operation handler shares, and run(): the one place that
// takes the caller's identity (synchronously, while fuse-native still knows
// who asked), runs the handler, turns a failure into -errno, counts the
// operation and logs it. A handler answers success itself through its typed
// callback; run() guarantees the callback is called exactly once.

import type { CairnClient, Credentials } from '@cairn/rpc';
import type { Logger } from 'pino';
import type { CallerCredentials } from './cred.js';
import { errnoOf, isExpectedErrno } from './errno.js';
import type { FuseCaller } from './native.js';
import type { OpenFiles } from './open-files.js';
import type { ReleaseBatcher } from './release-batch.js';
import type { Resolver } from './resolver.js';

/** Calls and failures of one FUSE operation. */
export interface OpCounters {
  calls: number;
  errors: number;
  /** Time from the request reaching Node to the answer, summed (ms). */
  totalMs: number;
}

export interface OpsContext {
  readonly client: CairnClient;
  readonly resolver: Resolver;
  readonly files: OpenFiles;
  /** Handles given back to the server, batched (nobody waits for a release). */
  readonly releases: ReleaseBatcher;
  readonly creds: CallerCredentials;
  readonly log: Logger;
  readonly counters: Map<string, OpCounters>;
  /** The process behind the request being dispatched (fuse-native; valid synchronously only). */
  caller(): FuseCaller | null;
}

/** Wraps a fuse-native callback so that only its first call counts. */
export function once<A extends unknown[]>(cb: (result: number, ...rest: A) => void): (result: number, ...rest: A) => void {
  let called = false;
  return (result, ...rest) => {
    if (called) return;
    called = true;
    cb(result, ...rest);
  };
}

/** Counts a call answered at once from the caches (no identity, no promise: see getattr); `failed`: with an error (a name known missing). */
export function countHit(ctx: OpsContext, op: string, failed = false): void {
  let c = ctx.counters.get(op);
  if (!c) ctx.counters.set(op, (c = { calls: 0, errors: 0, totalMs: 0 }));
  c.calls++;
  if (failed) c.errors++;
}

/**
 * Runs one operation: `body` answers success through its own (once-wrapped)
 * callback; a rejection answers -errno through `reply`. A body that resolves
 * without answering answers 0.
 */
export function run(ctx: OpsContext, op: string, path: string, reply: (result: number) => void, body: (cred: Credentials | undefined) => Promise<void>): void {
  let c = ctx.counters.get(op);
  if (!c) ctx.counters.set(op, (c = { calls: 0, errors: 0, totalMs: 0 }));
  c.calls++;
  const counters = c;
  const started = performance.now();
  const cred = ctx.creds.of(ctx.caller());
  Promise.resolve(cred)
    .then(body)
    .finally(() => {
      counters.totalMs += performance.now() - started;
    })
    .then(
      () => reply(0),
      (err: unknown) => {
        const errno = errnoOf(err);
        counters.errors++;
        // Expected failures (a lookup's ENOENT before every create) build no log record unless debug is on.
        if (!isExpectedErrno(errno)) ctx.log.warn({ op, path, errno, err }, 'fuse operation failed');
        else if (ctx.log.isLevelEnabled('debug')) ctx.log.debug({ op, path, errno, err }, 'fuse operation failed');
        reply(-errno);
      },
    );
}
