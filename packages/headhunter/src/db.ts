// A mounted volume: the commit path (docs/architecture.md "headhunter",
// steps B1-B6), reads, views and snapshots.

import { cairnError, toCairnError } from '@cairn/errors';
import { checkVolume } from './check.js';
import { MAX_KEY_BYTES } from './format.js';
import type { CheckpointInfo, Checkpointer } from './checkpoint.js';
import type { Core } from './core.js';
import type {
  BatchOp, CheckReport, CommitInfo, Headhunter, HeadhunterStats, RangeOptions, ReadView, SnapshotInfo, TreeReader, Txn,
} from './index.js';
import type { NodeRef } from './node.js';
import type { Reclaimer } from './reclaim.js';
import { encodeCommit, type CommitRecord } from './payload-codec.js';
import type { TreeState } from './state.js';
import { PinnedResolver, countAsync, getAsync, scanAsync } from './tree-io.js';
import { toBounds, type Entry, type KeyRange } from './tree-read.js';
import { Missing, WriteCtx } from './tree-write.js';
import { TxnImpl, checkKey, checkLimit } from './txn.js';

export class HeadhunterImpl implements Headhunter {
  private commits = 0;
  private readonly running = new Set<Promise<unknown>>();
  private closing = false;
  private closed: Promise<void> | undefined;

  constructor(
    readonly core: Core,
    readonly checkpointer: Checkpointer,
    readonly reclaimer: Reclaimer,
  ) {}

  get volumeId(): string {
    return this.core.volumeId;
  }

  get limits(): { maxKeyBytes: number; maxEntryBytes: number } {
    return { maxKeyBytes: MAX_KEY_BYTES, maxEntryBytes: this.core.shape.maxEntryBytes };
  }

  // ---- reads --------------------------------------------------------------

  tree(name: string): TreeReader {
    const core = this.core;
    return new Reader(this, name, () => {
      core.checkServing();
      const t = core.state.trees.get(name);
      if (t === undefined) throw cairnError('CAIRN_ERR_META_NO_SUCH_TREE', String(name));
      return t;
    });
  }

  treeNames(): string[] {
    this.core.checkServing();
    return [...this.core.state.trees.keys()].sort();
  }

  view(): ReadView {
    this.core.checkServing();
    return this.makeView(new Map(this.core.state.trees), this.core.state.commitSeq);
  }

  snapshot(name: string): ReadView {
    this.core.checkServing();
    const s = this.core.state.snapshots.get(name);
    if (s === undefined) throw cairnError('CAIRN_ERR_META_SNAPSHOT_NOT_FOUND', String(name));
    // Holds what the snapshot references even if it is deleted while the view is open.
    return this.makeView(s.trees, s.commitSeq, this.core.snapshotReaders.enter(s.commitSeq));
  }

  private makeView(trees: Map<string, TreeState>, commitSeq: number, releaseMoment: () => void = noop): ReadView {
    const entered = this.core.views.enter(this.core.publishedSeq);
    const release = (): void => {
      entered();
      releaseMoment();
    };
    let released = false;
    const core = this.core;
    return {
      commitSeq,
      tree: (name: string) => new Reader(this, name, () => {
        core.checkServing();
        if (released) throw cairnError('CAIRN_ERR_CLOSED', 'read view');
        const t = trees.get(name);
        if (t === undefined) throw cairnError('CAIRN_ERR_META_NO_SUCH_TREE', String(name));
        return t;
      }, true),
      treeNames: () => [...trees.keys()].sort(),
      release: () => {
        released = true;
        release();
      },
    };
  }

  // ---- the commit path ----------------------------------------------------

  batch(ops: readonly BatchOp[]): Promise<CommitInfo> {
    if (!Array.isArray(ops)) return Promise.reject(cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'batch takes an array of ops'));
    const prefetch: Array<[string, Uint8Array]> = [];
    for (const o of ops) {
      if (o === null || typeof o !== 'object' || (o.type !== 'put' && o.type !== 'del')) {
        return Promise.reject(cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'batch op must be {type: "put"|"del", tree, key[, value]}'));
      }
      prefetch.push([o.tree, o.key]);
    }
    return this.commit((tx) => {
      for (const o of ops) {
        if (o.type === 'put') tx.put(o.tree, o.key, o.value);
        else tx.del(o.tree, o.key);
      }
    }, prefetch).then((r) => r.info);
  }

  async transact<T>(fn: (tx: Txn) => T): Promise<{ result: T; commit: CommitInfo }> {
    if (typeof fn !== 'function') throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'transact takes a function');
    const r = await this.commit((tx) => fn(tx));
    return { result: r.result, commit: r.info };
  }

  createTree(name: string): Promise<CommitInfo> {
    return this.commit((tx) => tx.createTree(name)).then((r) => r.info);
  }

  /**
   * B1-B6: prefetch, apply synchronously (rerun when a node must be loaded),
   * append one log record, install, wait until the record is durable.
   */
  private commit<T>(build: (tx: TxnImpl) => T, prefetch?: Array<[string, Uint8Array]>): Promise<{ result: T; info: CommitInfo }> {
    if (this.core.o.readOnly) return Promise.reject(cairnError('CAIRN_ERR_META_READ_ONLY', `volume ${this.volumeId} is mounted read-only`));
    if (this.closing) return Promise.reject(this.core.failure ?? cairnError('CAIRN_ERR_CLOSED', `volume ${this.volumeId}`));
    const p = this.commitInner(build, prefetch);
    this.running.add(p);
    const done = (): void => {
      this.running.delete(p);
    };
    p.then(done, done);
    return p;
  }

  private async commitInner<T>(build: (tx: TxnImpl) => T, prefetch?: Array<[string, Uint8Array]>): Promise<{ result: T; info: CommitInfo }> {
    const core = this.core;
    core.checkServing();
    const res = new PinnedResolver(core.loader);
    if (core.o.failpoints !== undefined) await core.failpoint('batch.before-log-append');
    let prefetched = false;
    for (;;) {
      core.checkServing();
      // B1-B2. Apply every change to copies of the roots, without yielding. When
      // a node is not in memory, load the paths of all the ops at once, then rerun.
      const { tx, result, missing } = attempt(core, res, build);
      if (tx === undefined) {
        if (!prefetched && prefetch !== undefined && prefetch.length > 1) {
          prefetched = true;
          await Promise.all(prefetch.map(([t, k]) => {
            const tree = typeof t === 'string' ? core.state.trees.get(t) : undefined;
            return tree === undefined || !(k instanceof Uint8Array) ? undefined : res.prefetchPath(tree.root, k);
          }));
        }
        await res.fetch(missing!);
        continue;
      }
      if (tx.ops.length === 0) return { result: result as T, info: { seq: core.state.commitSeq, lsn: 0n } };
      // B3. Encode the commit record.
      const seq = core.state.commitSeq + 1;
      const payload = encodeCommit({ volumeId: core.volumeId, epoch: core.epoch, seq, ops: tx.ops });
      if (payload.length > core.o.maxBatchBytes) {
        throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `commit of ${payload.length} bytes (at most ${core.o.maxBatchBytes}); split the batch`);
      }
      // B4. Append (the LSN is taken now, in commit order) and B5 install, in the same turn.
      const lsn = core.log.nextLsn;
      const durable = core.log.append(payload);
      install(core, tx, seq, lsn);
      this.commits++;
      if (core.o.failpoints !== undefined) await core.failpoint('batch.after-log-append');
      // B6. Acknowledge once the record is durable.
      let got: bigint;
      try {
        got = await durable;
      } catch (err) {
        const e = toCairnError(err, 'CAIRN_ERR_LOG_IO');
        core.stop(e, 'the replay log failed to make a commit durable');
        throw e;
      }
      if (got !== lsn) core.logger.warn({ expected: lsn, got }, 'replay log assigned an unexpected LSN');
      if (core.o.failpoints !== undefined) await core.failpoint('batch.after-durable');
      if (core.log.liveBytes() > core.o.checkpointLogBytes) this.checkpointer.background('log-size');
      else if (core.dirtyBytes > core.o.checkpointDirtyBytes) this.checkpointer.background('dirty-nodes');
      return { result: result as T, info: { seq, lsn } };
    }
  }

  /** Re-applies a commit read from the replay log (mount). */
  async replayCommit(rec: CommitRecord, lsn: bigint): Promise<void> {
    const core = this.core;
    const res = new PinnedResolver(core.loader);
    for (;;) {
      const { tx, missing } = attempt(core, res, (t) => {
        for (const o of rec.ops) t.applyOp(o, rec.seq);
      });
      if (tx === undefined) {
        await res.fetch(missing!);
        continue;
      }
      install(core, tx, rec.seq, lsn);
      return;
    }
  }

  // ---- nonces, checkpoints, snapshots --------------------------------------

  nextNonce(): Promise<bigint> {
    try {
      this.core.checkServing();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.core.nonces.take();
  }

  checkpoint(options: { force?: boolean } = {}): Promise<CheckpointInfo> {
    try {
      this.core.checkServing();
      if (this.core.o.readOnly) throw cairnError('CAIRN_ERR_META_READ_ONLY', `volume ${this.volumeId} is mounted read-only`);
      if (this.closing) throw cairnError('CAIRN_ERR_CLOSED', `volume ${this.volumeId}`);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.checkpointer.request(options.force === true);
  }

  async createSnapshot(name: string): Promise<SnapshotInfo> {
    await this.commit((tx) => tx.createSnapshot(name, Date.now(), this.core.state.commitSeq + 1));
    return this.snapshotInfo(name);
  }

  listSnapshots(): SnapshotInfo[] {
    this.core.checkServing();
    return [...this.core.state.snapshots.keys()].sort().map((n) => this.snapshotInfo(n));
  }

  private snapshotInfo(name: string): SnapshotInfo {
    const s = this.core.state.snapshots.get(name);
    if (s === undefined) throw cairnError('CAIRN_ERR_META_SNAPSHOT_NOT_FOUND', name);
    const counts: Record<string, number> = {};
    for (const [t, st] of s.trees) counts[t] = st.count;
    return { name: s.name, createdAt: s.createdAt, commitSeq: s.commitSeq, counts };
  }

  async deleteSnapshot(name: string): Promise<void> {
    await this.commit((tx) => tx.deleteSnapshot(name));
  }

  pauseReclaim(): void {
    this.reclaimer.pause();
  }

  resumeReclaim(): void {
    this.reclaimer.resume();
  }

  // ---- checks, stats, close ----------------------------------------------

  async check(): Promise<CheckReport> {
    this.core.checkServing();
    return checkVolume(this.core, () => this.checkpointer.stats().inFlight, () => this.checkpointer.whenIdle());
  }

  stats(): HeadhunterStats {
    const core = this.core;
    const cp = this.checkpointer.stats();
    let liveBytes = 0;
    for (const v of core.live.objects.values()) liveBytes += v.bytes;
    let storedBytes = 0;
    for (const o of core.objects.values()) storedBytes += o.stored;
    return {
      volumeId: core.volumeId,
      commitSeq: core.state.commitSeq,
      commits: this.commits,
      epoch: core.epoch,
      checkpoint: { seq: core.lastRecord.seq, published: cp.published, failed: cp.failed, inFlight: cp.inFlight, last: cp.last },
      cache: core.loader.cache.stats(),
      loader: core.loader.stats(),
      nonces: core.nonces.stats(),
      reclaim: this.reclaimer.stats(),
      liveObjects: core.live.objects.size,
      liveBytes,
      garbageObjects: core.garbage.size,
      storedBytes,
      openReaders: core.views.size,
      logBytes: core.log.liveBytes(),
      stopped: core.failure?.message,
    };
  }

  close(): Promise<void> {
    this.closed ??= this.doClose();
    return this.closed;
  }

  private async doClose(): Promise<void> {
    const core = this.core;
    this.closing = true;
    await Promise.allSettled([...this.running]);
    if (core.o.checkpointOnClose && !core.o.readOnly && core.failure === undefined && this.checkpointer.needed()) {
      try {
        await this.checkpointer.request(false);
      } catch (err) {
        core.logger.warn({ err }, 'final checkpoint failed; the replay log still holds every commit');
      }
    }
    await this.checkpointer.stop();
    await this.reclaimer.stop();
    core.stop(cairnError('CAIRN_ERR_CLOSED', `volume ${core.volumeId}`), 'closed');
    core.loader.forgetAll();
  }
}

/** One synchronous commit attempt; tx is undefined when node `missing` must be loaded first. */
function attempt<T>(core: Core, res: PinnedResolver, build: (tx: TxnImpl) => T): { tx: TxnImpl | undefined; result: T | undefined; missing?: NodeRef } {
  const ctx = new WriteCtx(core.nextGen(), core.shape, (r) => res.lookup(r));
  const tx = new TxnImpl(ctx, core.state, core.shape);
  let result: T;
  try {
    result = build(tx);
  } catch (err) {
    if (err instanceof Missing) return { tx: undefined, result: undefined, missing: err.ref };
    // An error raised after swallowing a Missing may be a consequence of it: load and rerun.
    if (ctx.missed !== undefined) return { tx: undefined, result: undefined, missing: ctx.missed };
    throw err;
  }
  if (ctx.missed !== undefined) {
    // The caller's function swallowed a Missing: its result is not trustworthy.
    return { tx: undefined, result: undefined, missing: ctx.missed };
  }
  return { tx, result };
}

/** Makes a finished attempt the volume's state (synchronous). */
function install(core: Core, tx: TxnImpl, seq: number, lsn: bigint): void {
  const st = core.state;
  for (const [name, t] of tx.work) st.trees.set(name, t);
  if (tx.touchedSnapshots) {
    for (const name of tx.deletedSnapshots) st.snapshots.delete(name);
    for (const [name, s] of tx.createdSnapshots) st.snapshots.set(name, s);
  }
  for (const ref of tx.ctx.freed) core.freeRef(ref, seq);
  for (const n of tx.ctx.droppedInFlight) n.write!.droppedDuringWrite.push(n);
  core.dirtyBytes += tx.ctx.copiedBytes;
  st.commitSeq = seq;
  st.commitLsn = lsn;
}

/** TreeReader over a root source; every call reads one moment and holds the objects it may read. */
class Reader implements TreeReader {
  constructor(
    private readonly db: HeadhunterImpl,
    readonly name: string,
    private readonly source: () => TreeState,
    private readonly inView = false,
  ) {}

  private enter(): () => void {
    return this.inView ? noop : this.db.core.views.enter(this.db.core.publishedSeq);
  }

  async get(key: Uint8Array): Promise<Buffer | undefined> {
    checkKey(key);
    const t = this.source();
    const leave = this.enter();
    try {
      return await getAsync(this.db.core.loader, t.root, key);
    } finally {
      leave();
    }
  }

  async has(key: Uint8Array): Promise<boolean> {
    return (await this.get(key)) !== undefined;
  }

  async *range(options: RangeOptions = {}): AsyncIterable<Entry> {
    const b = toBounds(options);
    const limit = checkLimit(options.limit, Infinity);
    const t = this.source();
    const leave = this.enter();
    try {
      yield* scanAsync(this.db.core.loader, t.root, b, options.reverse === true, limit);
    } finally {
      leave();
    }
  }

  async scan(options: RangeOptions = {}): Promise<Entry[]> {
    const out: Entry[] = [];
    for await (const e of this.range({ ...options, limit: checkLimit(options.limit) })) out.push(e);
    return out;
  }

  async count(range: KeyRange = {}): Promise<number> {
    const b = toBounds(range);
    const t = this.source();
    const leave = this.enter();
    try {
      return await countAsync(this.db.core.loader, t.root, b, t.count);
    } finally {
      leave();
    }
  }

  async first(): Promise<Entry | undefined> {
    return (await this.scan({ limit: 1 }))[0];
  }

  async last(): Promise<Entry | undefined> {
    return (await this.scan({ limit: 1, reverse: true }))[0];
  }
}

function noop(): void {}
