// Copies of appended chunks for open segments, which must keep every byte (for
// re-sending) but may not keep the caller's buffers (the interface lets a caller
// reuse its buffer once append resolves). Copying into 1 MiB slabs instead of
// allocating a buffer per chunk keeps the allocation count, and so the garbage
// collector's work over a segment's retained bytes, small.

/** Bytes per slab. */
const SLAB_BYTES = 1024 * 1024;

export class SlabCopier {
  private slab: Buffer | undefined;
  private used = 0;

  /**
   * Copies `chunk` and returns the copy as one or more views, in order (a chunk
   * that does not fit the current slab's rest continues in a new slab). Views
   * never change once returned.
   */
  copy(chunk: Uint8Array): Buffer[] {
    if (chunk.length >= SLAB_BYTES) return [Buffer.from(chunk)];
    const out: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.slab === undefined || this.used === SLAB_BYTES) {
        this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
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

  /** Forgets the current slab (its views stay valid). */
  release(): void {
    this.slab = undefined;
    this.used = 0;
  }
}
