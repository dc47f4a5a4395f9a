// Releases of RPC handles, batched. close(2) does not wait for a release (the
// kernel sends it after flush has answered close), so the handles the mount
// gives back are gathered for a few milliseconds and go out in one releaseMany
// RPC instead of one release each: a tree of small files copied in costs a
// fraction of the round trips and of the server's work per file.
//
// The server reclaims a file's last link in the unlink's own commit only when
// no handle holds it: before removing a name, the mount lets the releases of
// that inode go out and land (settle()), as they would have without batching.
//
// A server that does not know releaseMany (older) answers
// CAIRN_ERR_RPC_UNKNOWN_METHOD; from then on every handle goes out in its own
// release, as before. Each handle's promise settles with its own outcome.

import { isCairnError } from '@cairn/errors';
import { fromWireError, MAX_RELEASE_BATCH, type CairnClient } from '@cairn/rpc';

interface Waiting {
  readonly fh: number;
  readonly ino: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export interface ReleaseBatchOptions {
  /** How long a release may wait for others (ms; 0: the end of the current tick). */
  readonly delayMs: number;
  /** Most handles per RPC (at most MAX_RELEASE_BATCH). */
  readonly maxBatch?: number;
}

export class ReleaseBatcher {
  private waiting: Waiting[] = [];
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  /** False once the server turned out not to know releaseMany. */
  private batching = true;
  private readonly maxBatch: number;
  /** Releases not yet answered (waiting or sent), by inode. */
  private readonly byIno = new Map<number, Set<Promise<void>>>();

  constructor(
    private readonly client: CairnClient,
    private readonly options: ReleaseBatchOptions,
  ) {
    this.maxBatch = Math.max(1, Math.min(options.maxBatch ?? MAX_RELEASE_BATCH, MAX_RELEASE_BATCH));
  }

  /** Handles waiting to go out. */
  get size(): number {
    return this.waiting.length;
  }

  /** Releases `fh` (a handle of inode `ino`) on the server; settles once the RPC that carried it answered. */
  release(fh: number, ino: number): Promise<void> {
    const p = new Promise<void>((resolve, reject) => {
      this.waiting.push({ fh, ino, resolve, reject });
      if (this.waiting.length >= this.maxBatch) this.flush();
      else this.schedule();
    });
    let set = this.byIno.get(ino);
    if (!set) this.byIno.set(ino, (set = new Set()));
    set.add(p);
    const done = (): void => {
      set.delete(p);
      if (set.size === 0 && this.byIno.get(ino) === set) this.byIno.delete(ino);
    };
    p.then(done, done);
    return p;
  }

  /**
   * Sends the waiting releases of inode `ino` now and resolves once every
   * release of it has been answered (whatever the outcome); undefined when
   * there is none.
   */
  settle(ino: number): Promise<void> | undefined {
    const set = this.byIno.get(ino);
    if (!set) return undefined;
    if (this.waiting.some((w) => w.ino === ino)) this.flush();
    return Promise.all([...set].map((p) => p.catch(() => undefined))).then(() => undefined);
  }

  /** Sends what waits now (unmount). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.scheduled = false;
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxBatch);
      void this.send(batch);
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.options.delayMs > 0) this.timer = setTimeout(() => this.flush(), this.options.delayMs);
    else setImmediate(() => this.flush());
  }

  private async send(batch: Waiting[]): Promise<void> {
    if (this.batching && batch.length > 1) {
      try {
        const { failed } = await this.client.releaseMany({ fhs: batch.map((w) => w.fh) });
        const errors = new Map(failed.map((f) => [f.fh, f]));
        for (const w of batch) {
          const f = errors.get(w.fh);
          if (f) w.reject(fromWireError({ ...f, retryable: false }));
          else w.resolve();
        }
        return;
      } catch (err) {
        if (!isCairnError(err, 'CAIRN_ERR_RPC_UNKNOWN_METHOD')) {
          for (const w of batch) w.reject(err);
          return;
        }
        this.batching = false;
      }
    }
    await Promise.all(
      batch.map((w) =>
        this.client.release({ fh: w.fh }).then(
          () => w.resolve(),
          (err: unknown) => w.reject(err),
        ),
      ),
    );
  }
}
