// Nonces: unique 64-bit numbers that name new objects (node objects here,
// log segments in the segment writer). Never reused, even across crashes:
// every checkpoint record states a limit below which nonces may have been
// handed out, and a nonce is handed out only when a published (durable)
// record's limit is above it. After a crash the next mount starts at the last
// published limit, skipping whatever of the old range was not used.

import { cairnError } from '@cairn/errors';

interface Waiter {
  resolve(n: bigint): void;
  reject(err: unknown): void;
}

export class NonceAllocator {
  private nextNonce: bigint;
  private durableLimit: bigint;
  private readonly waiters: Waiter[] = [];
  private failure: unknown;

  constructor(
    /** First nonce not yet handed out. */
    next: bigint,
    /** Nonces below this are reserved by a published checkpoint. */
    durableLimit: bigint,
    /** Nonces reserved per record. */
    private readonly range: number,
    /** Asks for a checkpoint that publishes a bigger reservation. */
    private readonly requestReservation: () => void,
  ) {
    this.nextNonce = next;
    this.durableLimit = durableLimit;
  }

  /** A nonce now if one is reserved durably, else undefined. */
  tryTake(): bigint | undefined {
    if (this.nextNonce >= this.durableLimit) return undefined;
    const n = this.nextNonce++;
    if (this.durableLimit - this.nextNonce < BigInt(Math.ceil(this.range / 2))) this.requestReservation();
    return n;
  }

  /** A nonce, waiting for a checkpoint to reserve more when the range is used up. */
  take(): Promise<bigint> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const n = this.waiters.length === 0 ? this.tryTake() : undefined;
    if (n !== undefined) return Promise.resolve(n);
    const p = new Promise<bigint>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.requestReservation();
    return p;
  }

  /** The limit the next checkpoint record should state (never below the current one). */
  wantedLimit(): bigint {
    const ahead = this.durableLimit - this.nextNonce;
    if (ahead >= BigInt(Math.ceil(this.range / 2)) && this.waiters.length === 0) return this.durableLimit;
    return this.nextNonce + BigInt(this.range + this.waiters.length);
  }

  /** A record stating `limit` was published. */
  published(limit: bigint): void {
    if (limit > this.durableLimit) this.durableLimit = limit;
    while (this.waiters.length > 0) {
      const n = this.tryTakeRaw();
      if (n === undefined) break;
      this.waiters.shift()!.resolve(n);
    }
    if (this.waiters.length > 0) this.requestReservation();
  }

  private tryTakeRaw(): bigint | undefined {
    if (this.nextNonce >= this.durableLimit) return undefined;
    return this.nextNonce++;
  }

  /** Fails every waiter and later call (the volume stopped serving). */
  fail(err: unknown): void {
    this.failure = err ?? cairnError('CAIRN_ERR_CLOSED', 'nonce allocator');
    for (const w of this.waiters.splice(0)) w.reject(this.failure);
  }

  stats(): { next: bigint; durableLimit: bigint; waiting: number } {
    return { next: this.nextNonce, durableLimit: this.durableLimit, waiting: this.waiters.length };
  }
}
