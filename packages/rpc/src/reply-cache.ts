// The reply cache that makes retried requests execute exactly once (ProxyFS
// retryrpc's idea). Per client id it remembers:
//
//   - running requests: a retry of one attaches to the running execution and
//     gets its reply, it never starts a second execution;
//   - completed replies of non-idempotent requests: a retry gets the stored
//     reply again;
//   - the floor: the client's `ack` says it has received every reply for ids
//     below it, so entries below the floor are dropped, and a request below the
//     floor (a delayed duplicate from a dead connection) is refused as stale;
//   - evictedMax: the highest id whose stored reply was forgotten by TTL or by
//     the per-client capacity. An unknown non-idempotent request at or below it
//     may already have run, so it is refused (outcome unknown) rather than run
//     a second time.
//
// Idempotent requests (getattr, read...) are deduplicated while running but not
// stored once done: running them again is harmless, and their replies (read
// data) would be the bulk of the cache.

import { DEFAULT_CLIENT_TTL_MS, DEFAULT_MAX_CACHED_REPLIES_PER_CLIENT, DEFAULT_REPLY_TTL_MS } from './format.js';

export interface ReplyCacheOptions {
  /** Completed replies are forgotten after this long (ms) even when not acknowledged. */
  ttlMs?: number;
  /** Most completed replies kept per client. */
  maxRepliesPerClient?: number;
  /** A client with nothing cached or running is forgotten after this long without a request (ms). */
  clientTtlMs?: number;
  /** Clock (ms), for tests. */
  now?: () => number;
}

/** What the server should do with a request. */
export type Admission<R> =
  /** New: run it, then call finish(reply) exactly once (also when it failed: errors are replies too). */
  | { readonly kind: 'execute'; finish(reply: R): void }
  /** A retry of a running request: wait for its reply. */
  | { readonly kind: 'attach'; readonly reply: Promise<R> }
  /** A retry of a completed request: answer with the stored reply. */
  | { readonly kind: 'cached'; readonly reply: R }
  /** Below the client's ack floor: the client already has this reply; never run. */
  | { readonly kind: 'stale' }
  /** Its stored reply may have been forgotten: the outcome is unknown; never run. */
  | { readonly kind: 'expired' }
  /** The client has too many requests running: refuse for now (retryable). */
  | { readonly kind: 'busy' };

export interface ReplyCacheStats {
  clients: number;
  running: number;
  stored: number;
  executed: number;
  attached: number;
  cachedHits: number;
  stale: number;
  expired: number;
  evicted: number;
}

interface Running<R> {
  readonly state: 'running';
  readonly cacheable: boolean;
  waiters: Array<(reply: R) => void> | undefined;
}

interface Done<R> {
  readonly state: 'done';
  readonly reply: R;
  readonly at: number;
}

interface ClientState<R> {
  /** Running and stored entries by request id. */
  readonly entries: Map<number, Running<R> | Done<R>>;
  /** Ids of stored replies in completion (= time) order; may hold ids already dropped. */
  readonly done: IdQueue;
  floor: number;
  evictedMax: number;
  running: number;
  stored: number;
  lastSeen: number;
}

/** A FIFO of ids: an array with a moving head, compacted now and then. */
class IdQueue {
  private items: number[] = [];
  private head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  push(id: number): void {
    this.items.push(id);
  }
  peek(): number | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }
  shift(): void {
    this.head++;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

export class ReplyCache<R> {
  private readonly clients = new Map<string, ClientState<R>>();
  private readonly ttlMs: number;
  private readonly maxReplies: number;
  private readonly clientTtlMs: number;
  private readonly now: () => number;
  private readonly counters = { executed: 0, attached: 0, cachedHits: 0, stale: 0, expired: 0, evicted: 0 };

  constructor(options: ReplyCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? DEFAULT_REPLY_TTL_MS;
    this.maxReplies = options.maxRepliesPerClient ?? DEFAULT_MAX_CACHED_REPLIES_PER_CLIENT;
    this.clientTtlMs = options.clientTtlMs ?? DEFAULT_CLIENT_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  /**
   * Decides what to do with request `id` of `client`, which has received every
   * reply below `ack`. `cacheable` is false for idempotent methods. At most
   * `maxRunning` new executions may run per client at once.
   */
  admit(client: string, id: number, ack: number, cacheable: boolean, maxRunning = Infinity): Admission<R> {
    const now = this.now();
    let st = this.clients.get(client);
    if (!st) {
      st = { entries: new Map(), done: new IdQueue(), floor: 0, evictedMax: 0, running: 0, stored: 0, lastSeen: now };
      this.clients.set(client, st);
    }
    st.lastSeen = now;
    if (ack > st.floor) this.raiseFloor(st, ack);

    if (id < st.floor) {
      this.counters.stale++;
      return { kind: 'stale' };
    }
    const entry = st.entries.get(id);
    if (entry?.state === 'running') {
      this.counters.attached++;
      return { kind: 'attach', reply: new Promise<R>((resolve) => (entry.waiters ??= []).push(resolve)) };
    }
    if (entry?.state === 'done') {
      this.counters.cachedHits++;
      return { kind: 'cached', reply: entry.reply };
    }
    if (cacheable && id <= st.evictedMax) {
      this.counters.expired++;
      return { kind: 'expired' };
    }
    if (st.running >= maxRunning) return { kind: 'busy' };

    const running: Running<R> = { state: 'running', cacheable, waiters: undefined };
    st.entries.set(id, running);
    st.running++;
    this.counters.executed++;
    const state = st;
    let finished = false;
    return {
      kind: 'execute',
      finish: (reply: R) => {
        if (finished) return;
        finished = true;
        state.running--;
        if (cacheable && id >= state.floor && this.clients.get(client) === state) {
          state.entries.set(id, { state: 'done', reply, at: this.now() });
          state.done.push(id);
          state.stored++;
          if (state.stored > this.maxReplies) this.trim(state, (_id, _e) => true, true);
        } else {
          state.entries.delete(id);
        }
        for (const w of running.waiters ?? []) w(reply);
      },
    };
  }

  /** True while the cache holds state for `client`. */
  has(client: string): boolean {
    return this.clients.has(client);
  }

  /** Marks `client` as alive (a keepalive) without admitting a request. */
  touch(client: string): void {
    const st = this.clients.get(client);
    if (st) st.lastSeen = this.now();
  }

  /** Requests of `client` executing now. */
  runningFor(client: string): number {
    return this.clients.get(client)?.running ?? 0;
  }

  /** Forgets expired replies and idle clients; the server calls this periodically. */
  sweep(): void {
    const now = this.now();
    for (const [client, st] of this.clients) {
      this.trim(st, (id, e) => id < st.floor || now - e.at >= this.ttlMs, false);
      if (st.entries.size === 0 && now - st.lastSeen >= this.clientTtlMs) this.clients.delete(client);
    }
  }

  stats(): ReplyCacheStats {
    let running = 0;
    let stored = 0;
    for (const st of this.clients.values()) {
      running += st.running;
      stored += st.stored;
    }
    return { clients: this.clients.size, running, stored, ...this.counters };
  }

  private raiseFloor(st: ClientState<R>, floor: number): void {
    st.floor = floor;
    this.trim(st, (id) => id < floor, false);
  }

  /**
   * Drops stored replies from the oldest (first completed) while `drop` says so;
   * with `once`, drops one at most. A reply dropped at or above the floor was
   * never acknowledged: evictedMax remembers it. A reply that completed out of
   * order behind a newer one waits until that one goes (a later call or sweep).
   */
  private trim(st: ClientState<R>, drop: (id: number, e: Done<R>) => boolean, once: boolean): void {
    for (let id = st.done.peek(); id !== undefined; id = st.done.peek()) {
      const e = st.entries.get(id);
      if (e?.state !== 'done') {
        st.done.shift();
        continue;
      }
      if (!drop(id, e)) return;
      st.done.shift();
      st.entries.delete(id);
      st.stored--;
      if (id >= st.floor) {
        st.evictedMax = Math.max(st.evictedMax, id);
        this.counters.evicted++;
      }
      if (once) return;
    }
  }
}
