// The chaos wrapper: wraps any ObjectStore and injects faults at configured
// rates, for tests (ProxyFS's "ramswift chaos" settings, at the ObjectStore
// level). A seed makes the sequence of decisions reproducible: every operation
// draws the same number of random values when it is called, so the same calls
// in the same order meet the same faults.
//
// Faults, and what the caller sees:
// - latency: the operation waits a uniform [min, max] ms first.
// - before: fails before reaching the backend (CAIRN_ERR_OBJ_UNAVAILABLE, details
//   { chaos: 'before', applied: false }); nothing happened.
// - after: the operation reaches the backend and takes effect, then the caller
//   gets CAIRN_ERR_OBJ_UNAVAILABLE ({ chaos: 'after', applied: true }) — the case
//   that tests idempotency.
// - stall: the operation hangs stallMs, then fails with CAIRN_ERR_OBJ_TIMEOUT
//   ({ chaos: 'stall', applied: false }); it never reached the backend.
// - reset (get and segment only): a GET body errors with
//   CAIRN_ERR_OBJ_CONNECTION_RESET after some of its bytes (never all of them);
//   an OpenSegment append or close loses its connection: the segment is aborted
//   (nothing becomes visible) and every later append/close fails with that error.
// Injected faults always surface as errors: a cut GET stream errors, it never
// ends cleanly short, and segment appends stay in order.

import { Readable } from 'node:stream';
import { cairnError, type CairnError } from '@cairn/errors';
import { pino, type Logger } from 'pino';
import { ContainerBase } from '../container-base.js';
import type {
  BackendStats, Container, DeleteOptions, GetOptions, GetResult, ListOptions, ListPage, ObjectInfo,
  ObjectStore, OpenSegment, OpenSegmentOptions, PutBody, PutOptions,
} from '../types.js';
import { createPrng } from './chaos-prng.js';

export const CHAOS_OPS = ['put', 'get', 'head', 'delete', 'list', 'segment'] as const;
/** Operation classes with their own rates. `put` also covers container create(); `segment` each append and close. */
export type ChaosOp = (typeof CHAOS_OPS)[number];

/** Probabilities in [0, 1]. before + after + stall + reset must not exceed 1. */
export interface ChaosFaultRates {
  readonly before?: number;
  readonly after?: number;
  readonly stall?: number;
  /** Only for get and segment (ignored elsewhere when set in the shared `rates`). */
  readonly reset?: number;
  /** Probability of added latency (default 1 when latencyMs is set, else 0). */
  readonly latency?: number;
}

export interface ChaosOptions {
  /** Seed of the decision sequence (default 1). */
  readonly seed?: number;
  /** Rates for every operation class. */
  readonly rates?: ChaosFaultRates;
  /** Per-class rates, each field overriding `rates`. */
  readonly ops?: Partial<Record<ChaosOp, ChaosFaultRates>>;
  /** Added latency range in ms (default none). */
  readonly latencyMs?: { readonly min: number; readonly max: number };
  /** How long a stalled operation hangs before failing (default 1000 ms). */
  readonly stallMs?: number;
  /** Start with injection on (default true). */
  readonly enabled?: boolean;
  readonly logger?: Logger;
}

export interface ChaosOpCounters {
  /** Operations decided (while enabled or not). */
  calls: number;
  latency: number;
  before: number;
  after: number;
  stall: number;
  reset: number;
}

export type ChaosCounters = Readonly<Record<ChaosOp, Readonly<ChaosOpCounters>>>;

export interface ChaosStore extends ObjectStore {
  readonly inner: ObjectStore;
  readonly enabled: boolean;
  /** Turns injection on or off (off: a transparent pass-through that draws no random values). */
  setEnabled(enabled: boolean): void;
  /** What was injected so far, per operation class. */
  counters(): ChaosCounters;
  /** Faults injected so far (before + after + stall + reset, all classes; latency not counted). */
  injected(): number;
}

type Fault = 'none' | 'before' | 'after' | 'stall' | 'reset';
const FAULTS = ['before', 'after', 'stall', 'reset'] as const;

interface Decision {
  readonly delayMs: number;
  readonly fault: Fault;
  /** Where a reset cuts, as a fraction of the body in [0, 1). */
  readonly cut: number;
}

type Rates = Required<Omit<ChaosFaultRates, never>>;

function invalid(option: string, why: string): Error {
  return cairnError('CAIRN_ERR_CONFIG_INVALID', `chaos option ${option}: ${why}`);
}

function checkRates(r: ChaosFaultRates | undefined, where: string, resetAllowed: boolean): void {
  if (r === undefined) return;
  if (r === null || typeof r !== 'object') throw invalid(where, 'must be an object');
  for (const k of [...FAULTS, 'latency'] as const) {
    const v = r[k];
    if (v !== undefined && (typeof v !== 'number' || !(v >= 0 && v <= 1))) throw invalid(`${where}.${k}`, `must be in [0, 1], got ${String(v)}`);
  }
  if (!resetAllowed && (r.reset ?? 0) > 0) throw invalid(`${where}.reset`, 'only get and segment can be reset');
}

function resolveRates(options: ChaosOptions): Record<ChaosOp, Rates> {
  checkRates(options.rates, 'rates', true);
  const defaultLatency = options.latencyMs ? 1 : 0;
  const out = {} as Record<ChaosOp, Rates>;
  for (const op of CHAOS_OPS) {
    const resettable = op === 'get' || op === 'segment';
    const own = options.ops?.[op];
    checkRates(own, `ops.${op}`, resettable);
    const pick = (k: keyof ChaosFaultRates, d: number): number => own?.[k] ?? options.rates?.[k] ?? d;
    const r: Rates = {
      before: pick('before', 0),
      after: pick('after', 0),
      stall: pick('stall', 0),
      reset: resettable ? pick('reset', 0) : 0,
      latency: pick('latency', defaultLatency),
    };
    if (r.before + r.after + r.stall + r.reset > 1 + 1e-9) throw invalid(`ops.${op}`, 'before + after + stall + reset exceeds 1');
    out[op] = r;
  }
  return out;
}

/**
 * Wraps `inner` with fault injection. Options are checked now (CAIRN_ERR_CONFIG_INVALID).
 * The wrapper's kind is `chaos(<inner kind>)`; stats() and close() are the inner store's.
 */
export function createChaosStore(inner: ObjectStore, options: ChaosOptions = {}): ChaosStore {
  return new ChaosStoreImpl(inner, options);
}

class ChaosStoreImpl implements ChaosStore {
  readonly kind: string;
  private on: boolean;
  private readonly random: () => number;
  private readonly rates: Record<ChaosOp, Rates>;
  private readonly latency: { min: number; max: number };
  readonly stallMs: number;
  readonly logger: Logger;
  private readonly count: Record<ChaosOp, ChaosOpCounters>;

  constructor(readonly inner: ObjectStore, options: ChaosOptions) {
    if (!inner || typeof inner.container !== 'function') throw invalid('inner', 'must be an ObjectStore');
    const seed = options.seed ?? 1;
    if (!Number.isSafeInteger(seed)) throw invalid('seed', `must be an integer, got ${String(seed)}`);
    this.rates = resolveRates(options);
    const lat = options.latencyMs ?? { min: 0, max: 0 };
    if (!Number.isSafeInteger(lat.min) || !Number.isSafeInteger(lat.max) || lat.min < 0 || lat.max < lat.min) {
      throw invalid('latencyMs', `needs integers 0 <= min <= max, got ${JSON.stringify(lat)}`);
    }
    this.latency = { min: lat.min, max: lat.max };
    this.stallMs = options.stallMs ?? 1000;
    if (!Number.isSafeInteger(this.stallMs) || this.stallMs < 0) throw invalid('stallMs', `must be an integer >= 0, got ${String(options.stallMs)}`);
    this.random = createPrng(seed);
    this.on = options.enabled ?? true;
    this.logger = options.logger ?? pino({ level: 'silent' });
    this.kind = `chaos(${inner.kind})`;
    this.count = Object.fromEntries(CHAOS_OPS.map((op) => [op, { calls: 0, latency: 0, before: 0, after: 0, stall: 0, reset: 0 }])) as Record<ChaosOp, ChaosOpCounters>;
  }

  get enabled(): boolean {
    return this.on;
  }

  setEnabled(enabled: boolean): void {
    this.on = enabled;
  }

  counters(): ChaosCounters {
    return Object.fromEntries(CHAOS_OPS.map((op) => [op, { ...this.count[op] }])) as ChaosCounters;
  }

  injected(): number {
    return CHAOS_OPS.reduce((n, op) => n + this.count[op].before + this.count[op].after + this.count[op].stall + this.count[op].reset, 0);
  }

  container(name: string): Container {
    return new ChaosContainer(this, this.inner.container(name));
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  stats(): BackendStats {
    return this.inner.stats();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Draws the decision for one operation now (synchronously, four values, whatever the rates). */
  decide(op: ChaosOp): Decision {
    const c = this.count[op];
    c.calls++;
    if (!this.on) return { delayMs: 0, fault: 'none', cut: 0 };
    const [r1, r2, r3, r4] = [this.random(), this.random(), this.random(), this.random()];
    const rates = this.rates[op];
    let delayMs = 0;
    if (r1 < rates.latency && this.latency.max > 0) {
      delayMs = this.latency.min + Math.floor(r2 * (this.latency.max - this.latency.min + 1));
      c.latency++;
    }
    let fault: Fault = 'none';
    let acc = 0;
    for (const f of FAULTS) {
      acc += rates[f];
      if (r3 < acc) {
        fault = f;
        c[f]++;
        break;
      }
    }
    return { delayMs, fault, cut: r4 };
  }

  /** The error a fault surfaces as. */
  fault(kind: Exclude<Fault, 'none'>, what: string): CairnError {
    this.logger.debug({ what, fault: kind }, 'chaos: injected fault');
    const applied = kind === 'after';
    const details = { chaos: kind, applied };
    if (kind === 'stall') return cairnError('CAIRN_ERR_OBJ_TIMEOUT', `${what} (chaos: stalled ${this.stallMs} ms)`, { details });
    if (kind === 'reset') return cairnError('CAIRN_ERR_OBJ_CONNECTION_RESET', `${what} (chaos: connection reset)`, { details });
    return cairnError('CAIRN_ERR_OBJ_UNAVAILABLE', `${what} (chaos: injected failure ${kind} the operation)`, { details });
  }

  /**
   * Runs one operation under a decision: latency, then before/stall (never
   * calling fn), or fn then an error (after; `drop` disposes of the result).
   */
  async run<T>(op: ChaosOp, what: string, signal: AbortSignal | undefined, fn: () => Promise<T>, drop?: (r: T) => void): Promise<T> {
    if (signal?.aborted) return fn(); // the backend reports the cancellation
    const d = this.decide(op);
    return this.apply(d, what, signal, fn, drop);
  }

  async apply<T>(d: Decision, what: string, signal: AbortSignal | undefined, fn: () => Promise<T>, drop?: (r: T) => void): Promise<T> {
    if (d.delayMs > 0) await wait(d.delayMs, signal, what);
    if (d.fault === 'before') throw this.fault('before', what);
    if (d.fault === 'stall') {
      await wait(this.stallMs, signal, what);
      throw this.fault('stall', what);
    }
    const r = await fn();
    if (d.fault === 'after') {
      drop?.(r);
      throw this.fault('after', what);
    }
    return r;
  }
}

class ChaosContainer extends ContainerBase {
  constructor(private readonly store: ChaosStoreImpl, private readonly inner: Container) {
    super(inner.name);
  }

  private what(op: string, name?: string): string {
    return `${op} ${this.name}${name === undefined ? '' : `/${name}`}`;
  }

  create(): Promise<void> {
    return this.store.run('put', this.what('create'), undefined, () => this.inner.create());
  }

  put(name: string, body: PutBody, options?: PutOptions): Promise<ObjectInfo> {
    return this.store.run('put', this.what('put', name), options?.signal, () => this.inner.put(name, body, options));
  }

  async get(name: string, options?: GetOptions): Promise<GetResult> {
    const what = this.what('get', name);
    if (options?.signal?.aborted) return this.inner.get(name, options);
    const d = this.store.decide('get');
    const r = await this.store.apply(d, what, options?.signal, () => this.inner.get(name, options), (x) => x.body.destroy());
    if (d.fault !== 'reset') return r;
    return { ...r, body: cutBody(r.body, r.length, Math.floor(d.cut * r.length), this.store.fault('reset', what)) };
  }

  head(name: string, options?: { signal?: AbortSignal }): Promise<ObjectInfo> {
    return this.store.run('head', this.what('head', name), options?.signal, () => this.inner.head(name, options));
  }

  delete(name: string, options?: DeleteOptions): Promise<void> {
    return this.store.run('delete', this.what('delete', name), options?.signal, () => this.inner.delete(name, options));
  }

  list(options?: ListOptions): Promise<ListPage> {
    return this.store.run('list', this.what('list'), options?.signal, () => this.inner.list(options));
  }

  openSegment(name: string, options?: OpenSegmentOptions): OpenSegment {
    return new ChaosSegment(this.store, this.inner.openSegment(name, options));
  }
}

/**
 * A segment whose appends and close meet faults. Operations run one at a time in
 * call order (a delayed append never overtakes a later one); each draws its
 * decision when called.
 */
class ChaosSegment implements OpenSegment {
  private tail: Promise<unknown> = Promise.resolve();
  private dead: CairnError | undefined;

  constructor(private readonly store: ChaosStoreImpl, private readonly inner: OpenSegment) {}

  get container(): string {
    return this.inner.container;
  }

  get name(): string {
    return this.inner.name;
  }

  get bytesAppended(): number {
    return this.inner.bytesAppended;
  }

  get bytesSent(): number {
    return this.inner.bytesSent;
  }

  append(chunk: Uint8Array): Promise<void> {
    return this.step(`append ${this.container}/${this.name}`, () => this.inner.append(chunk));
  }

  close(): Promise<ObjectInfo> {
    return this.step(`close ${this.container}/${this.name}`, () => this.inner.close());
  }

  async abort(): Promise<void> {
    this.dead ??= cairnError('CAIRN_ERR_OBJ_SEGMENT_CLOSED', `${this.container}/${this.name} was aborted`);
    await this.inner.abort();
  }

  private step<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const d = this.store.decide('segment');
    const run = async (): Promise<T> => {
      if (this.dead) throw this.dead;
      if (d.delayMs > 0) await wait(d.delayMs, undefined, what);
      if (this.dead) throw this.dead;
      if (d.fault === 'stall') await wait(this.store.stallMs, undefined, what);
      if (d.fault === 'before' || d.fault === 'reset' || d.fault === 'stall') {
        // The connection is gone: the upload is lost, nothing becomes visible.
        const err = this.store.fault(d.fault, what);
        this.dead = err;
        await this.inner.abort();
        throw err;
      }
      const r = await fn();
      if (d.fault === 'after') {
        const err = this.store.fault('after', what);
        this.dead = err;
        await this.inner.abort(); // after close() this is a no-op: the object stays
        throw err;
      }
      return r;
    };
    const p = this.tail.then(run);
    this.tail = p.catch(() => undefined);
    return p;
  }
}

/**
 * Passes `allowed` bytes of body through (allowed < length), then fails with
 * `err`. An empty body fails at once: a cut stream never ends cleanly.
 */
function cutBody(body: Readable, length: number, allowed: number, err: CairnError): Readable {
  let passed = 0;
  let failed = false;
  const fail = (): void => {
    if (failed) return;
    failed = true;
    body.destroy();
    out.destroy(err);
  };
  const out = new Readable({
    read() {
      if (allowed === 0 || length === 0) fail();
      else body.resume();
    },
    destroy(e, cb) {
      if (!body.destroyed) body.destroy();
      cb(e);
    },
  });
  body.on('data', (chunk: Buffer) => {
    if (failed) return;
    const room = allowed - passed;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    passed += part.length;
    if (part.length > 0 && !out.push(part)) body.pause();
    if (passed >= allowed) fail();
  });
  body.on('end', fail); // cannot happen before `allowed` < length bytes, but never end cleanly
  body.on('error', (e) => {
    if (!failed) {
      failed = true;
      out.destroy(e);
    }
  });
  body.pause();
  return out;
}

function wait(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  if (signal?.aborted) return Promise.reject(cairnError('CAIRN_ERR_CANCELED', what));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(t);
      reject(cairnError('CAIRN_ERR_CANCELED', what));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
