// Assembling file bytes from a read plan: holes are zero-filled, steps of
// segments the writer still holds come from its memory, the rest through the
// read cache, copied straight into the result. Steps are read concurrently.
// `ahead`: the steps of the file after the plan (up to the cache's
// maxReadAheadBytes), so that a sequential reader's read-ahead reaches into the
// next segments before the reader does; they are only fetched ahead, never read.

import { planLength } from './read-plan.js';
import type { DataStep, PendingReader, ReadCache, ReadStep } from './types.js';

export async function readFile(plan: readonly ReadStep[], cache: ReadCache, pending?: PendingReader, ahead?: readonly ReadStep[]): Promise<Buffer> {
  const out = Buffer.allocUnsafe(planLength(plan));
  const reads: Promise<void>[] = [];
  const data = (steps: readonly ReadStep[]): DataStep[] => steps.filter((s): s is DataStep => !('zero' in s));
  const after = ahead === undefined ? undefined : data(ahead);
  let at = 0;
  for (const [i, step] of plan.entries()) {
    if ('zero' in step) {
      out.fill(0, at, at + step.zero);
      at += step.zero;
      continue;
    }
    const pos = at;
    const mem = pending?.readPending(step.nonce, step.segmentOffset, step.length);
    if (mem) {
      mem.copy(out, pos);
    } else {
      const next = after === undefined ? undefined : i === plan.length - 1 ? after : [...data(plan.slice(i + 1)), ...after];
      reads.push(cache.readInto({ container: step.container, name: step.object }, step.segmentOffset, step.length, out, pos, next));
    }
    at += step.length;
  }
  await Promise.all(reads);
  return out;
}
