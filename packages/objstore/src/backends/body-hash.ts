// Hashing of object bodies: MD5 (etags, the check against what Swift or S3
// stored, version-1 fs reads) off the event loop, and CRC-32 (the fs body check).
//
// MD5 runs at under 1 GB/s on one core, so hashing a large body on the main
// thread slows down the very loop that moves its bytes. A BodyHasher copies what
// it is given into 1 MiB batches and hands each full batch to a worker thread
// (the ArrayBuffer is transferred, not cloned, and comes back for reuse), so the
// MD5 overlaps the I/O. CRC-32 (several GB/s, cheaper than the copy and the
// messages would be) stays on the calling thread, as the bytes arrive. Small
// bodies never reach the worker: while a body stays under SMALL_BYTES its copies
// are kept and hashed on the calling thread at digest() time, which costs less
// than a message round trip.
//
// The digests are the same MD5 and CRC-32 over the same bytes in the same order
// as createHash('md5') and zlib.crc32 on the main thread would compute: only the
// thread differs. If a worker cannot be started, hashing falls back to the main
// thread; if a worker dies, the digests it owed fail with CAIRN_ERR_INTERNAL.

import { availableParallelism } from 'node:os';
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { cairnError } from '@cairn/errors';

/** Which sums a hasher computes (default: MD5 only). */
export interface BodyHashOptions {
  readonly md5?: boolean;
  readonly crc32?: boolean;
}

/** What digest() resolves to; a sum the hasher was not asked for is empty (md5) or 0 (crc32). */
export interface BodyDigest {
  readonly md5: Buffer;
  readonly crc32: number;
}

/** Bytes per batch handed to a worker. */
const BATCH_BYTES = 1024 * 1024;
/** Bodies up to this size are hashed on the calling thread (no worker round trip). */
const SMALL_BYTES = 256 * 1024;
/** update() asks its caller to wait while more than this many bytes of one body wait for a worker. */
const MAX_IN_FLIGHT = 4 * BATCH_BYTES;
/** Batch buffers kept for reuse once a worker handed them back. */
const FREE_BATCHES = 8;

// The worker: one MD5 state per hasher id. Plain CommonJS source so that it runs
// the same under any loader (tsx, vitest) with no build step.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const states = new Map();
parentPort.on('message', (m) => {
  let s = states.get(m.id);
  if (m.op === 'data') {
    if (s === undefined) { s = createHash('md5'); states.set(m.id, s); }
    s.update(new Uint8Array(m.buf, 0, m.len));
    parentPort.postMessage({ id: m.id, op: 'ack', buf: m.buf, len: m.len }, [m.buf]);
  } else if (m.op === 'end') {
    states.delete(m.id);
    const md5 = (s === undefined ? createHash('md5') : s).digest();
    parentPort.postMessage({ id: m.id, op: 'digest', md5: md5.buffer.slice(md5.byteOffset, md5.byteOffset + md5.length) });
  } else if (m.op === 'drop') {
    states.delete(m.id);
  }
});
`;

interface Reply {
  readonly id: number;
  readonly op: 'ack' | 'digest';
  readonly buf?: ArrayBuffer;
  readonly len?: number;
  readonly md5?: ArrayBuffer;
}

/** What a worker reports back to the hasher that owns an id. */
interface Owner {
  acked(len: number): void;
  digested(md5: Buffer): void;
  failed(err: Error): void;
}

/** One hashing thread; referenced (keeps the process alive) only while it owes replies. */
class HashWorker {
  private readonly worker: Worker;
  private readonly owners = new Map<number, Owner>();
  private owed = 0;
  broken: Error | undefined;

  constructor(private readonly onBroken: (w: HashWorker) => void) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], stdout: false, stderr: false });
    this.worker.unref();
    this.worker.on('message', (m: Reply) => this.onReply(m));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`hash worker exited with code ${code}`)));
  }

  /** Hashers assigned to this worker. */
  get load(): number {
    return this.owners.size;
  }

  attach(id: number, owner: Owner): void {
    this.owners.set(id, owner);
  }

  detach(id: number): void {
    if (this.owners.delete(id) && this.broken === undefined) this.worker.postMessage({ id, op: 'drop' });
  }

  data(id: number, buf: ArrayBuffer, len: number): void {
    this.expect();
    this.worker.postMessage({ id, op: 'data', buf, len }, [buf]);
  }

  end(id: number): void {
    this.expect();
    this.worker.postMessage({ id, op: 'end' });
  }

  private expect(): void {
    if (this.owed++ === 0) this.worker.ref();
  }

  private onReply(m: Reply): void {
    if (--this.owed === 0) this.worker.unref();
    const owner = this.owners.get(m.id);
    if (m.op === 'ack') {
      if (m.buf !== undefined) releaseBatch(m.buf);
      owner?.acked(m.len ?? 0);
    } else {
      this.owners.delete(m.id);
      owner?.digested(Buffer.from(m.md5!));
    }
  }

  /** Stops the thread as if it had died (tests). */
  kill(): void {
    this.fail(new Error('stopped'));
  }

  private fail(err: Error): void {
    if (this.broken !== undefined) return;
    this.broken = cairnError('CAIRN_ERR_INTERNAL', `body hashing thread failed: ${err.message}`, { cause: err });
    this.onBroken(this);
    const owners = [...this.owners.values()];
    this.owners.clear();
    for (const o of owners) o.failed(this.broken);
    void this.worker.terminate().catch(() => undefined);
  }
}

// ---- the pool ----------------------------------------------------------------------

const workers: HashWorker[] = [];
/** Set once starting a worker failed: hash on the main thread from then on. */
let noWorkers = false;
const freeBatches: ArrayBuffer[] = [];
let nextId = 1;

/** Threads in the pool: one per core beyond the main thread's, at least 1, at most 4. */
function poolSize(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

/** The least loaded worker (starting one if the pool is not full), or undefined to hash inline. */
function pickWorker(): HashWorker | undefined {
  if (noWorkers) return undefined;
  let best: HashWorker | undefined;
  for (const w of workers) if (best === undefined || w.load < best.load) best = w;
  if (best !== undefined && (best.load === 0 || workers.length >= poolSize())) return best;
  try {
    const w = new HashWorker((dead) => {
      const i = workers.indexOf(dead);
      if (i >= 0) workers.splice(i, 1);
    });
    workers.push(w);
    return w;
  } catch {
    noWorkers = true;
    return best;
  }
}

/** For tests: how many hashing threads run, and a way to make them all fail. */
export const hashPoolForTests = {
  threads: (): number => workers.length,
  killAll: (): void => {
    for (const w of [...workers]) w.kill();
  },
};

function takeBatch(): ArrayBuffer {
  return freeBatches.pop() ?? new ArrayBuffer(BATCH_BYTES);
}

function releaseBatch(buf: ArrayBuffer): void {
  if (buf.byteLength === BATCH_BYTES && freeBatches.length < FREE_BATCHES) freeBatches.push(buf);
}

// ---- one body ----------------------------------------------------------------------

/**
 * MD5 and/or CRC-32 of one body, fed in order with update() and read once with
 * digest(). update() copies what the MD5 still needs: the caller may reuse its
 * buffer at once. A hasher that will not be digested must be discard()ed (frees
 * its worker state).
 */
export class BodyHasher {
  private readonly id = nextId++;
  private readonly md5: boolean;
  private readonly crc: boolean;
  private crcValue = 0;
  /** Copies of a body still small enough to hash here at digest() time. */
  private small: Buffer[] = [];
  private smallBytes = 0;
  /** Once the body is large: its worker, or (no worker) an MD5 running here. */
  private large = false;
  private worker: HashWorker | undefined;
  private here: Hash | undefined;
  /** The batch being filled for the worker, and bytes sent but not yet hashed. */
  private batch: Uint8Array | undefined;
  private filled = 0;
  private inFlight = 0;
  private drainWaiters: Array<() => void> = [];
  private result: Promise<BodyDigest> | undefined;
  private settle: { resolve: (md5: Buffer) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  private done = false;
  /** Bytes given to update() so far. */
  size = 0;

  constructor(options: BodyHashOptions = {}) {
    this.md5 = options.md5 ?? true;
    this.crc = options.crc32 ?? false;
  }

  /**
   * Adds bytes. Returns a promise when the caller should wait before giving more
   * (a worker is more than MAX_IN_FLIGHT bytes behind), else undefined.
   */
  update(chunk: Uint8Array): Promise<void> | undefined {
    if (this.done) throw cairnError('CAIRN_ERR_INTERNAL', 'body hasher updated after digest');
    if (this.failure !== undefined) throw this.failure;
    if (chunk.length === 0) return undefined;
    this.size += chunk.length;
    if (this.crc) this.crcValue = crc32(chunk, this.crcValue);
    if (!this.md5) return undefined;
    if (!this.large) {
      if (this.smallBytes + chunk.length <= SMALL_BYTES) {
        this.small.push(Buffer.from(chunk));
        this.smallBytes += chunk.length;
        return undefined;
      }
      this.goLarge();
    }
    if (this.here !== undefined) {
      this.here.update(chunk);
      return undefined;
    }
    this.copyIn(chunk);
    return this.inFlight > MAX_IN_FLIGHT ? new Promise<void>((resolve) => this.drainWaiters.push(resolve)) : undefined;
  }

  /** The sums of every byte given. Call once all bytes were given; later calls return the same promise. */
  digest(): Promise<BodyDigest> {
    if (this.result !== undefined) return this.result;
    this.done = true;
    if (this.failure !== undefined) return (this.result = Promise.reject(this.failure));
    const crc = this.crcValue >>> 0;
    if (!this.md5) return (this.result = Promise.resolve({ md5: Buffer.alloc(0), crc32: crc }));
    if (!this.large) {
      this.here = createHash('md5');
      for (const b of this.small) this.here.update(b);
      this.small = [];
    }
    if (this.here !== undefined) return (this.result = Promise.resolve({ md5: this.here.digest(), crc32: crc }));
    this.result = new Promise<BodyDigest>((resolve, reject) => {
      this.settle = { resolve: (md5) => resolve({ md5, crc32: crc }), reject };
    });
    this.result.catch(() => undefined); // the caller observes it; a discarded hasher may not
    this.sendBatch();
    this.worker!.end(this.id);
    return this.result;
  }

  /** Forgets the body (an upload that failed or was aborted, a read given up). Idempotent. */
  discard(): void {
    if (this.done && this.settle === undefined) return;
    this.done = true;
    this.small = [];
    this.batch = undefined;
    this.worker?.detach(this.id);
    this.wakeDrain();
  }

  /** The body outgrew SMALL_BYTES: from now on its MD5 runs on a worker (or here, if none). */
  private goLarge(): void {
    this.large = true;
    this.worker = pickWorker();
    if (this.worker === undefined) this.here = createHash('md5');
    else {
      this.worker.attach(this.id, {
        acked: (len) => {
          this.inFlight -= len;
          if (this.inFlight <= MAX_IN_FLIGHT) this.wakeDrain();
        },
        digested: (md5) => this.settle?.resolve(md5),
        failed: (err) => {
          this.failure = err;
          this.settle?.reject(err);
          this.wakeDrain();
        },
      });
    }
    const small = this.small;
    this.small = [];
    this.smallBytes = 0;
    for (const b of small) {
      if (this.here !== undefined) this.here.update(b);
      else this.copyIn(b);
    }
  }

  private copyIn(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      this.batch ??= new Uint8Array(takeBatch());
      const n = Math.min(chunk.length - at, BATCH_BYTES - this.filled);
      this.batch.set(n === chunk.length ? chunk : chunk.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === BATCH_BYTES) this.sendBatch();
    }
  }

  private sendBatch(): void {
    if (this.batch === undefined || this.filled === 0) return;
    const buf = this.batch.buffer as ArrayBuffer;
    const len = this.filled;
    this.batch = undefined;
    this.filled = 0;
    if (this.failure !== undefined) return;
    this.inFlight += len;
    this.worker!.data(this.id, buf, len);
  }

  private wakeDrain(): void {
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }
}
