// Space reclamation of node objects and old checkpoint records.
//
// LiveSpace counts, per node object, the bytes and nodes that the live trees
// still reach. A node object whose count reaches zero dies (its death is the
// first commit whose state no longer references it) and becomes garbage at
// the next published checkpoint (the first one whose layout does not list
// it). retention.ts decides when garbage may go: only when
//   1. every retained checkpoint (the newest `retain`) was published after it
//      became garbage, so a fallback mount never needs it;
//   2. no snapshot that may still be read (of the volume now, listed by a
//      retained checkpoint, or read by an open view) was taken within its
//      life: birth <= snapshot commit < death;
//   3. no reader that started before it became garbage is still reading.
// Deletions run in the background, throttled to a rate, and can be paused.

import type { Logger } from 'pino';
import { sleep } from './retry.js';

/** Live bytes and nodes per node object. */
export class LiveSpace {
  readonly objects = new Map<bigint, { bytes: number; nodes: number }>();

  add(nonce: bigint, bytes: number, nodes: number): void {
    if (nodes === 0) return;
    const e = this.objects.get(nonce);
    if (e === undefined) this.objects.set(nonce, { bytes, nodes });
    else {
      e.bytes += bytes;
      e.nodes += nodes;
    }
  }

  /** A written node (at nonce, length bytes) left the live trees; true when it was the object's last one. */
  free(nonce: bigint, length: number): boolean {
    const e = this.objects.get(nonce);
    if (e === undefined) return false;
    e.bytes -= length;
    e.nodes -= 1;
    if (e.nodes > 0) return false;
    this.objects.delete(nonce);
    return true;
  }

  copy(): Map<bigint, { bytes: number; nodes: number }> {
    const m = new Map<bigint, { bytes: number; nodes: number }>();
    for (const [k, v] of this.objects) m.set(k, { bytes: v.bytes, nodes: v.nodes });
    return m;
  }
}

/**
 * Readers in progress, by the number of the newest published checkpoint when
 * they started. An object that became garbage at checkpoint S may still be
 * read by a reader that started before S was published.
 */
export class ViewRegistry {
  private readonly open = new Map<number, number>();

  enter(seq: number): () => void {
    this.open.set(seq, (this.open.get(seq) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = (this.open.get(seq) ?? 1) - 1;
      if (n <= 0) this.open.delete(seq);
      else this.open.set(seq, n);
    };
  }

  /** The numbers open readers registered with. */
  keys(): IterableIterator<number> {
    return this.open.keys();
  }

  /** Smallest start checkpoint of an open reader, or Infinity. */
  oldest(): number {
    let m = Infinity;
    for (const k of this.open.keys()) if (k < m) m = k;
    return m;
  }

  get size(): number {
    let n = 0;
    for (const v of this.open.values()) n += v;
    return n;
  }
}

export type ReclaimTask = { readonly kind: 'node'; readonly nonce: bigint } | { readonly kind: 'checkpoint'; readonly seq: number };

export interface ReclaimStats {
  readonly queued: number;
  readonly deleted: number;
  readonly failed: number;
  readonly paused: boolean;
  readonly deletesPerSecond: number;
}

export interface ReclaimerOptions {
  readonly deletesPerSecond: number;
  readonly paused: boolean;
  readonly logger: Logger;
  /** Performs one deletion (idempotent). */
  readonly remove: (t: ReclaimTask) => Promise<void>;
  /** Tasks that became eligible since the last call. */
  readonly eligible: () => ReclaimTask[];
  /** A deletion completed. */
  readonly done: (t: ReclaimTask) => void;
}

function taskKey(t: ReclaimTask): string {
  return t.kind === 'node' ? `n${t.nonce}` : `c${t.seq}`;
}

/** Deletes eligible objects in the background at a bounded rate. */
export class Reclaimer {
  private readonly queue = new Map<string, ReclaimTask>();
  private deleted = 0;
  private failed = 0;
  private paused: boolean;
  private stopped = false;
  private wake: (() => void) | undefined;
  private pokeable = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly o: ReclaimerOptions) {
    this.paused = o.paused;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Looks for newly eligible work now. */
  poke(): void {
    if (this.pokeable) this.wake?.();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.poke();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  /** Resolves once nothing is queued or eligible (or the reclaimer is paused or stopped); for tests and tools. */
  async settled(): Promise<void> {
    while (!this.stopped && !this.paused && (this.queue.size > 0 || this.o.eligible().length > 0)) {
      this.poke();
      await sleep(2);
    }
  }

  stats(): ReclaimStats {
    return { queued: this.queue.size, deleted: this.deleted, failed: this.failed, paused: this.paused, deletesPerSecond: this.o.deletesPerSecond };
  }

  /** Waits ms; stop() always cuts it short, poke() only when `pokeable`. */
  private async idle(ms: number, pokeable = true): Promise<void> {
    if (this.stopped) return;
    this.pokeable = pokeable;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      t.unref?.();
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    this.wake = undefined;
    this.pokeable = false;
  }

  private async run(): Promise<void> {
    const gap = 1000 / Math.max(0.001, this.o.deletesPerSecond);
    let failures = 0;
    while (!this.stopped) {
      if (this.paused) {
        await this.idle(1000);
        continue;
      }
      for (const t of this.o.eligible()) this.queue.set(taskKey(t), t);
      const next = this.queue.values().next();
      if (next.done) {
        await this.idle(1000);
        continue;
      }
      const t = next.value;
      try {
        await this.o.remove(t);
        this.queue.delete(taskKey(t));
        this.deleted++;
        failures = 0;
        this.o.done(t);
      } catch (err) {
        this.failed++;
        failures++;
        this.o.logger.warn({ err, task: taskKey(t) }, 'reclaim: deletion failed, will retry');
        // Move it to the back and slow down.
        this.queue.delete(taskKey(t));
        this.queue.set(taskKey(t), t);
        await this.idle(Math.min(30_000, 250 * 2 ** Math.min(failures, 7)), false);
        continue;
      }
      if (gap >= 1) await this.idle(gap, false);
      else if (this.deleted % Math.ceil(1 / gap) === 0) await sleep(1);
    }
  }
}
