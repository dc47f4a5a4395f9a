// Loading written nodes (ranged GETs into the shared node cache) and the async
// read operations built on the synchronous ones in tree-read.ts.

import type { Logger } from 'pino';
import type { Container } from '@cairn/objstore';
import { nodeObjectName } from './names.js';
import { nodeMemory, type NodeCache } from './node-cache.js';
import { decodeNode } from './node-codec.js';
import { isRef, type Node, type NodeRef, type Ptr } from './node.js';
import { READ_RETRY, withRetry } from './retry.js';
import { countSync, getSync, scanSync, type Bounds, type Entry } from './tree-read.js';
import { Missing, type Resolver } from './tree-write.js';

/** Entries per step of an async scan (each step re-descends from the root). */
const SCAN_CHUNK = 256;

export interface LoaderStats {
  /** Node reads from the object store. */
  readonly loads: number;
  /** Loads that joined a read already in flight. */
  readonly sharedLoads: number;
  readonly loadedBytes: number;
}

/** Reads written nodes through the cache; concurrent loads of one node share one GET. */
export class NodeLoader {
  private readonly inflight = new Map<string, Promise<Node>>();
  private loads = 0;
  private sharedLoads = 0;
  private loadedBytes = 0;

  constructor(
    private readonly container: Container,
    readonly cache: NodeCache,
    private readonly prefix: string,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  /** The node if it is cached (marks it recently used). */
  peek(ref: NodeRef): Node | undefined {
    const m = ref.memo;
    if (m !== undefined && ref.memoOwner === this) {
      const n = this.cache.hit(m);
      if (n !== undefined) return n;
    }
    const e = this.cache.entry(ref.keyWith(this.prefix));
    if (e === undefined) return undefined;
    ref.memo = e;
    ref.memoOwner = this;
    return e.node;
  }

  load(ref: NodeRef): Promise<Node> {
    const key = ref.keyWith(this.prefix);
    const hit = this.cache.get(key);
    if (hit !== undefined) return Promise.resolve(hit);
    const pending = this.inflight.get(key);
    if (pending !== undefined) {
      this.sharedLoads++;
      return pending;
    }
    const p = this.fetch(ref, key).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** Puts a node that was just written into the cache (it is clean now). */
  remember(node: Node): void {
    if (node.ref === undefined) return;
    this.cache.set(node.ref.keyWith(this.prefix), node, nodeMemory(node, node.ref.length));
  }

  /** Drops this volume's nodes from the (possibly shared) cache. */
  forgetAll(): void {
    this.cache.deletePrefix(this.prefix);
  }

  stats(): LoaderStats {
    return { loads: this.loads, sharedLoads: this.sharedLoads, loadedBytes: this.loadedBytes };
  }

  private async fetch(ref: NodeRef, key: string): Promise<Node> {
    const name = nodeObjectName(ref.nonce);
    const node = await withRetry(READ_RETRY, async (attempt) => {
      if (attempt > 0) this.logger.debug({ name, offset: ref.offset, attempt }, 'retrying node read');
      this.loads++;
      const buf = await this.container.getBuffer(name, {
        range: { offset: ref.offset, length: ref.length },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      this.loadedBytes += buf.length;
      // A cached node keeps its bytes: never let it pin a much larger read buffer.
      return decodeNode(buf.buffer.byteLength > buf.length + 4096 ? Buffer.from(buf) : buf, ref);
    });
    this.cache.set(key, node, nodeMemory(node, ref.length));
    return node;
  }
}

/** A Resolver over the cache plus nodes pinned by the current operation (so eviction cannot undo its loads). */
export class PinnedResolver implements Resolver {
  private readonly pins = new Map<string, Node>();

  constructor(readonly loader: NodeLoader) {}

  resolve(p: Ptr): Node {
    if (!isRef(p)) return p;
    // Most operations pin nothing (every node was cached): skip that lookup then.
    const n = (this.pins.size > 0 ? this.pins.get(p.id) : undefined) ?? this.loader.peek(p);
    if (n === undefined) throw new Missing(p);
    return n;
  }

  lookup(ref: NodeRef): Node | undefined {
    return (this.pins.size > 0 ? this.pins.get(ref.id) : undefined) ?? this.loader.peek(ref);
  }

  async fetch(ref: NodeRef): Promise<void> {
    this.pins.set(ref.id, await this.loader.load(ref));
  }

  /** Loads the nodes on the path to `key` ahead of a synchronous attempt (best effort). */
  async prefetchPath(root: Ptr | null, key: Uint8Array): Promise<void> {
    for (let i = 0; i < 64; i++) {
      try {
        getSync(this, root, key);
        return;
      } catch (err) {
        if (!(err instanceof Missing)) return;
        await this.fetch(err.ref);
      }
    }
  }
}

/** Runs a synchronous read, loading missing nodes and rerunning until it completes. */
export async function withLoads<T>(res: PinnedResolver, fn: (res: Resolver) => T): Promise<T> {
  for (;;) {
    try {
      return fn(res);
    } catch (err) {
      if (!(err instanceof Missing)) throw err;
      await res.fetch(err.ref);
    }
  }
}

export function getAsync(loader: NodeLoader, root: Ptr | null, key: Uint8Array): Promise<Buffer | undefined> {
  return withLoads(new PinnedResolver(loader), (res) => getSync(res, root, key));
}

/** The value under `key` if every node on its path is cached, read in one synchronous descent; NOT_CACHED otherwise. */
export function getCached(loader: NodeLoader, root: Ptr | null, key: Uint8Array): Buffer | undefined | typeof NOT_CACHED {
  if (root === null) return undefined;
  let p: Ptr = root;
  for (;;) {
    const n: Node | undefined = isRef(p) ? loader.peek(p) : p;
    if (n === undefined) return NOT_CACHED;
    if (n.kind === 1) {
      const i = n.lowerBound(key);
      return i < n.size && n.compareAt(i, key) === 0 ? n.valAt(i) : undefined;
    }
    p = n.kids[n.childFor(key)]!;
  }
}

export const NOT_CACHED: unique symbol = Symbol('not cached');

export function countAsync(loader: NodeLoader, root: Ptr | null, b: Bounds, total: number): Promise<number> {
  if (b.lo === undefined && b.hi === undefined) return Promise.resolve(total);
  return withLoads(new PinnedResolver(loader), (res) => countSync(res, root, b, total));
}

function after(b: Bounds, key: Buffer, reverse: boolean): Bounds {
  return reverse ? { lo: b.lo, hi: { key, inclusive: false } } : { lo: { key, inclusive: false }, hi: b.hi };
}

/**
 * Appends to `out` up to `want` entries within `b` (in order, or reversed),
 * loading nodes as needed; resolves to how many it appended.
 */
async function scanChunk(loader: NodeLoader, root: Ptr, b: Bounds, reverse: boolean, out: Entry[], want: number): Promise<number> {
  const start = out.length;
  const res = new PinnedResolver(loader);
  let cur = b;
  for (;;) {
    try {
      scanSync(res, root, cur, reverse, out, start + want);
      return out.length - start;
    } catch (err) {
      if (!(err instanceof Missing)) throw err;
      if (out.length > start) cur = after(b, out[out.length - 1]!.key, reverse);
      await res.fetch(err.ref);
    }
  }
}

/** The entries within `bounds`, at most `limit`, as one array (a scan: no promise per entry). */
export async function scanList(loader: NodeLoader, root: Ptr | null, bounds: Bounds, reverse: boolean, limit: number): Promise<Entry[]> {
  const out: Entry[] = [];
  let b = bounds;
  while (out.length < limit && root !== null) {
    const want = Math.min(limit - out.length, SCAN_CHUNK);
    if ((await scanChunk(loader, root, b, reverse, out, want)) < want) break;
    b = after(b, out[out.length - 1]!.key, reverse);
  }
  return out;
}

/** The entries within `bounds`, at most `limit`, one by one (a range: loaded a chunk at a time). */
export async function* scanAsync(loader: NodeLoader, root: Ptr | null, bounds: Bounds, reverse: boolean, limit: number): AsyncGenerator<Entry> {
  let b = bounds;
  let remaining = limit;
  while (remaining > 0 && root !== null) {
    const want = Math.min(remaining, SCAN_CHUNK);
    const out: Entry[] = [];
    await scanChunk(loader, root, b, reverse, out, want);
    for (const e of out) yield e;
    remaining -= out.length;
    if (out.length < want) return;
    b = after(b, out[out.length - 1]!.key, reverse);
  }
}
