// Assembling file bytes from a read plan: holes are zero-filled, steps of
// segments the writer still holds come from its memory, the rest through the
// read cache, copied straight into the result. Steps are read concurrently.

import { planLength } from './read-plan.js';
import type { PendingReader, ReadCache, ReadStep } from './types.js';

export async function readFile(plan: readonly ReadStep[], cache: ReadCache, pending?: PendingReader): Promise<Buffer> {
  const out = Buffer.allocUnsafe(planLength(plan));
  const reads: Promise<void>[] = [];
  let at = 0;
  for (const step of plan) {
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
      reads.push(cache.readInto({ container: step.container, name: step.object }, step.segmentOffset, step.length, out, pos));
    }
    at += step.length;
  }
  await Promise.all(reads);
  return out;
}
