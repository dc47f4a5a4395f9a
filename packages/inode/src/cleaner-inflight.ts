// Segments that are stored or being stored but not committed yet: they belong
// to a segment writer until its onDurable hook has entered them in metadata.
// The volume's own writer is always asked; background jobs that write
// segments through a writer of their own (the cleaner) register it here for
// the time they run. The orphan sweep must never delete such a segment, and
// the cleaner never picks one.

import type { PendingReader } from '@cairn/segments';
import type { Vol } from './context.js';

/** Writers of background jobs per mounted volume (held weakly: an unmounted volume drops its entry). */
const extraWriters = new WeakMap<Vol, Set<PendingReader>>();

/** Registers a job's writer until the returned function is called. */
export function trackWriter(v: Vol, w: PendingReader): () => void {
  let set = extraWriters.get(v);
  if (set === undefined) extraWriters.set(v, (set = new Set()));
  set.add(w);
  return () => {
    set.delete(w);
  };
}

/**
 * True while a writer of the volume still holds the segment: its PUT may be
 * in progress, or done with the metadata commit still to come.
 */
export function segmentInFlight(v: Vol, nonce: bigint): boolean {
  if (v.writer.readPending(nonce, 0, 0) !== undefined) return true;
  for (const w of extraWriters.get(v) ?? []) if (w.readPending(nonce, 0, 0) !== undefined) return true;
  return false;
}
