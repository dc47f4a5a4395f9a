// Copies of appended chunks for open segments, which must keep every byte (for
// re-sending) but may not keep the caller's buffers (the interface lets a caller
// reuse its buffer once append resolves). Copying into 1 MiB slabs instead of
// allocating a buffer per chunk keeps the allocation count, and so the garbage
// collector's work over a segment's retained bytes, small.
//
// Slabs are recycled (a BufferPool of at most 512 MiB, emptied after 5 to 10 s
// without use): a segment whose upload succeeded hands its slabs back
// (recycle()) and the next segment fills them again. Only segments whose
// upload is over recycle: no attempt can read those bytes any more (an aborted
// or failed upload just forgets its slabs). The fs backend's segments stage
// appends in slabs too, each handed back once its bytes reached the file.

import { BufferPool } from '../buffer-pool.js';

/** Bytes per slab. */
export const SLAB_BYTES = 1024 * 1024;

const pool = new BufferPool(512 * 1024 * 1024, 5_000);

/** A slab from the pool, or a new one: SLAB_BYTES of unspecified content. */
export function takeSlab(): Buffer {
  return pool.take(SLAB_BYTES);
}

/** Hands a whole slab (from takeSlab) back for reuse; nothing may read or write it afterwards. */
export function giveSlab(s: Buffer): void {
  if (s.length === SLAB_BYTES) pool.give(s);
}

/** For tests: the pool's size in slabs, and emptying it. */
export const slabPoolForTests = {
  size: (): number => pool.size / SLAB_BYTES,
  /** True when `b` is a view into a slab the pool holds. */
  holds: (b: Buffer): boolean => pool.holds(b),
  clear: (): void => pool.clear(),
  checkIdle: (): void => pool.checkIdle(),
};

export class SlabCopier {
  private slab: Buffer | undefined;
  private used = 0;
  /** Every slab this copier filled (handed back by recycle()). */
  private slabs: Buffer[] = [];

  /**
   * Copies `chunk` and returns the copy as one or more views, in order (a chunk
   * that does not fit the current slab's rest continues in a new slab). Views
   * never change once returned, until recycle().
   */
  copy(chunk: Uint8Array): Buffer[] {
    if (chunk.length >= SLAB_BYTES) return [Buffer.from(chunk)];
    const out: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.slab === undefined || this.used === SLAB_BYTES) {
        this.slab = takeSlab();
        this.slabs.push(this.slab);
        this.used = 0;
      }
      const n = Math.min(chunk.length - at, SLAB_BYTES - this.used);
      const view = this.slab.subarray(this.used, this.used + n);
      view.set(at === 0 && n === chunk.length ? chunk : chunk.subarray(at, at + n));
      this.used += n;
      at += n;
      out.push(view);
    }
    return out;
  }

  /** Forgets the current slab (its views stay valid; the garbage collector frees them). */
  release(): void {
    this.slab = undefined;
    this.used = 0;
    this.slabs = [];
  }

  /**
   * Hands every slab this copier filled back to the pool, for other copiers to
   * overwrite. Call only once nothing reads the views any more (the upload is
   * over and its chunks are dropped).
   */
  recycle(): void {
    const slabs = this.slabs;
    this.release();
    for (const s of slabs) giveSlab(s);
  }
}
