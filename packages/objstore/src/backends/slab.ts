// Copies of appended chunks for open segments, which must keep every byte (for
// re-sending) but may not keep the caller's buffers (the interface lets a caller
// reuse its buffer once append resolves). Copying into 1 MiB slabs instead of
// allocating a buffer per chunk keeps the allocation count, and so the garbage
// collector's work over a segment's retained bytes, small.
//
// Slabs are recycled: a segment whose upload succeeded hands its slabs back
// (recycle()) and the next segment fills them again. A fresh slab costs more
// than the copy into it: the kernel faults in and zeroes its pages, and every
// new backing store counts as external memory, whose growth makes V8 run extra
// scavenges and mark-compacts. A process writing segment after segment would
// pay that for every byte it uploads; with the pool it pays it once. The pool
// holds at most POOL_MAX_BYTES and is dropped (left to the garbage collector)
// by a check every POOL_IDLE_MS that finds no slab was taken since the previous
// one, so an idle process does not keep the memory (for 5 to 10 s at most).
// Only segments whose upload is over recycle: no attempt can read those bytes
// any more (an aborted or failed upload just forgets its slabs).
// The fs backend's segments stage appends in slabs too, each handed back once
// its bytes reached the file.

/** Bytes per slab. */
export const SLAB_BYTES = 1024 * 1024;
/** Most bytes the pool keeps for reuse. */
const POOL_MAX_BYTES = 512 * 1024 * 1024;
/** Period of the idle check: the pool is emptied when no slab was taken from it in a whole period. */
const POOL_IDLE_MS = 5_000;

const pool: Buffer[] = [];
let takenSinceCheck = false;
let idleTimer: NodeJS.Timeout | undefined;

/** A slab from the pool, or a new one: SLAB_BYTES of unspecified content. */
export function takeSlab(): Buffer {
  const s = pool.pop();
  if (s !== undefined) {
    takenSinceCheck = true;
    return s;
  }
  return Buffer.allocUnsafeSlow(SLAB_BYTES);
}

/** Hands a whole slab (from takeSlab) back for reuse; nothing may read or write it afterwards. */
export function giveSlab(s: Buffer): void {
  if (s.length !== SLAB_BYTES || pool.length * SLAB_BYTES >= POOL_MAX_BYTES) return;
  pool.push(s);
  if (idleTimer === undefined) {
    takenSinceCheck = false;
    idleTimer = setInterval(checkIdle, POOL_IDLE_MS);
    idleTimer.unref();
  }
}

function checkIdle(): void {
  if (takenSinceCheck) {
    takenSinceCheck = false;
    return;
  }
  pool.length = 0;
  clearInterval(idleTimer);
  idleTimer = undefined;
}

/** For tests: the pool's size, and emptying it. */
export const slabPoolForTests = {
  size: (): number => pool.length,
  /** True when `b` is a view into a slab the pool holds. */
  holds: (b: Buffer): boolean => pool.some((s) => s.buffer === b.buffer),
  clear: (): void => {
    pool.length = 0;
    clearInterval(idleTimer);
    idleTimer = undefined;
  },
  idleMs: POOL_IDLE_MS,
  checkIdle,
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
