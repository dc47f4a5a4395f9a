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
import { encodeCommit, withoutSuperseded, type CommitRecord } from './payload-codec.js';
import type { TreeState } from './state.js';
import { NOT_CACHED, PinnedResolver, countAsync, getAsync, getCached, scanAsync, scanList } from './tree-io.js';
import { toBounds, type Entry, type KeyRange } from './tree-read.js';
import { Missing, WriteCtx } from './tree-write.js';
import { TxnImpl, checkKey, checkLimit } from './txn.js';

/** Most transactions applied in one group attempt. */
const MAX_GROUP = 256;
/** A flush splits in two (see flush) only when each half gets at least this many transactions. */
const PIPELINE_MIN = 8;

/** A queued commit (see HeadhunterImpl.commit). */
interface Member {
  readonly build: (tx: TxnImpl) => unknown;
  readonly prefetch: Array<[string, Uint8Array]> | undefined;
  /** Runs alone (snapshot and tree operations). */
  readonly solo: boolean;
  /** What the promise resolves to (SHAPE_*). */
  readonly shape: number;
  readonly resolve: (r: unknown) => void;
  readonly reject: (err: unknown) => void;
}

/** Commit promises resolve to the CommitInfo (batch and the rest), or to { result, commit } (transact). */
const SHAPE_INFO = 0;
const SHAPE_TRANSACT = 1;

function shaped(shape: number, result: unknown, info: CommitInfo): unknown {
  return shape === SHAPE_TRANSACT ? { result, commit: info } : info;
}

export class HeadhunterImpl implements Headhunter {
  private commits = 0;
  private queue: Member[] = [];
  private flushScheduled = false;
  /** Commit records appended and not yet durable (or failed). */
  private appending = 0;
  /** Queued commits not yet answered, and close() waiting for them. */
  private pendingMembers = 0;
  private idleWaiters: Array<() => void> = [];
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
    }, prefetch, SHAPE_INFO) as Promise<CommitInfo>;
  }

  transact<T>(fn: (tx: Txn) => T): Promise<{ result: T; commit: CommitInfo }> {
    if (typeof fn !== 'function') return Promise.reject(cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'transact takes a function'));
    return this.commit(fn, undefined, SHAPE_TRANSACT) as Promise<{ result: T; commit: CommitInfo }>;
  }

  createTree(name: string): Promise<CommitInfo> {
    return this.commit((tx) => tx.createTree(name), undefined, SHAPE_INFO, true) as Promise<CommitInfo>;
  }

  /**
   * B1-B6: prefetch, apply synchronously (rerun when a node must be loaded),
   * append one log record, install, wait until the record is durable.
   *
   * Group commit. Commits are queued and applied on the next tick, as many as
   * arrived, one after the other in one commit attempt (one copy of each
   * changed tree path, one log record; see runGroup). Snapshot and tree
   * operations (`solo`) run alone, in queue order. With failpoints set, each
   * commit runs on its own at once (commitInner), as the failpoints expect.
   * Resolves to what `shape` says (SHAPE_*).
   */
  private commit(build: (tx: TxnImpl) => unknown, prefetch: Array<[string, Uint8Array]> | undefined, shape: number, solo = false): Promise<unknown> {
    if (this.core.o.readOnly) return Promise.reject(cairnError('CAIRN_ERR_META_READ_ONLY', `volume ${this.volumeId} is mounted read-only`));
    if (this.closing) return Promise.reject(this.core.failure ?? cairnError('CAIRN_ERR_CLOSED', `volume ${this.volumeId}`));
    if (this.core.o.failpoints !== undefined) {
      const p = this.commitInner(build, prefetch).then((r) => shaped(shape, r.result, r.info));
      this.running.add(p);
      const done = (): void => {
        this.running.delete(p);
      };
      p.then(done, done);
      return p;
    }
    if (this.core.failure !== undefined) return Promise.reject(this.core.failure);
    return new Promise<unknown>((resolve, reject) => {
      this.queue.push({ build, prefetch, solo, shape, resolve, reject });
      this.pendingMembers++;
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        process.nextTick(this.flush);
      }
    });
  }

  /** Answers a queued commit. */
  private resolveMember(m: Member, result: unknown, info: CommitInfo): void {
    m.resolve(shaped(m.shape, result, info));
    this.memberDone();
  }

  private rejectMember(m: Member, err: unknown): void {
    m.reject(err);
    this.memberDone();
  }

  private memberDone(): void {
    if (--this.pendingMembers > 0 || this.idleWaiters.length === 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** A queued commit on its own (it needs a node loaded, or runs alone). */
  private runAlone(m: Member): void {
    this.commitInner(m.build, m.prefetch).then((r) => this.resolveMember(m, r.result, r.info), (err: unknown) => this.rejectMember(m, err));
  }

  /** Runs the queued commits, in order: groups of transactions, solo operations alone. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    let q = this.queue;
    this.queue = [];
    if (this.appending === 0 && q.length >= 2 * PIPELINE_MIN && !q.some((m) => m.solo)) {
      // Nothing is being made durable: commit the first half now, so that its
      // log write runs while the second half is applied (on the next turn of
      // the event loop, after the log started). The two halves then take
      // turns: one is applied while the other one's fdatasync runs.
      const half = q.length >> 1;
      this.queue = q.slice(half);
      q = q.slice(0, half);
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
    let i = 0;
    while (i < q.length) {
      const m = q[i]!;
      if (m.solo) {
        this.runAlone(m);
        i++;
        continue;
      }
      let j = i + 1;
      while (j < q.length && !q[j]!.solo && j - i < MAX_GROUP) j++;
      this.runGroup(i === 0 && j === q.length ? q : q.slice(i, j));
      i = j;
    }
  };

  /**
   * Applies the members' functions one after the other in one attempt, so
   * they share the copies of the tree paths they change and one log record;
   * each member still commits or fails as a whole. A member that throws
   * fails alone: when it had changed nothing, the attempt goes on; when it
   * had, the attempt starts over without it (the functions are free of side
   * effects, and the state is the same, so the others do the same again). A
   * member that needs a node not in memory leaves the group and commits on
   * its own once the node is loaded (like a transaction that ran alone would,
   * it may commit after ones that came later). Synchronous up to the log
   * append: nothing else commits in between.
   */
  private runGroup(members: Member[]): void {
    const core = this.core;
    try {
      core.checkServing();
    } catch (err) {
      for (const m of members) this.rejectMember(m, err);
      return;
    }
    const res = new PinnedResolver(core.loader);
    let live = members;
    const failed = new Map<Member, unknown>();
    const alone: Member[] = [];
    let tx: TxnImpl;
    let results: unknown[];
    let wrote: boolean[];
    attempts: for (;;) {
      const ctx = new WriteCtx(core.nextGen(), core.shape, (r) => res.lookup(r));
      tx = new TxnImpl(ctx, core.state, core.shape);
      results = [];
      wrote = [];
      const kept: Member[] = [];
      for (let k = 0; k < live.length; k++) {
        const m = live[k]!;
        const before = tx.ops.length;
        let r: unknown;
        let error: unknown;
        let threw = false;
        try {
          r = m.build(tx);
        } catch (err) {
          threw = true;
          error = err;
        }
        const missed = ctx.missed !== undefined || error instanceof Missing;
        if (!missed && !threw) {
          kept.push(m);
          results.push(r);
          wrote.push(tx.ops.length > before);
          continue;
        }
        if (missed) {
          // Loads what it needs and commits on its own (started after this attempt is installed).
          alone.push(m);
        } else {
          failed.set(m, error);
        }
        if (tx.ops.length === before) {
          ctx.missed = undefined;
          continue;
        }
        // It changed the trees before it failed: start over without it.
        live = [...kept, ...live.slice(k + 1)];
        continue attempts;
      }
      live = kept;
      break;
    }
    for (const [m, err] of failed) this.rejectMember(m, err);
    this.installGroup(live, tx, results, wrote);
    // The ones that left: each attempt runs now, on the state just installed.
    for (const m of alone) this.runAlone(m);
  }

  /** Appends and installs a group's attempt (runGroup); answers its members. */
  private installGroup(live: Member[], tx: TxnImpl, results: unknown[], wrote: boolean[]): void {
    const core = this.core;
    if (live.length === 0) return;
    const info0: CommitInfo = { seq: core.state.commitSeq, lsn: 0n };
    if (tx.ops.length === 0) {
      for (let k = 0; k < live.length; k++) this.resolveMember(live[k]!, results[k], info0);
      return;
    }
    const seq = core.state.commitSeq + 1;
    // Members often rewrite the same records (a shared parent directory, counters): log each once.
    const ops = live.length > 1 ? withoutSuperseded(tx.ops) : tx.ops;
    const payload = encodeCommit({ volumeId: core.volumeId, epoch: core.epoch, seq, ops });
    if (payload.length > core.o.maxBatchBytes) {
      // Too large together: each on its own (in order; each attempt runs now).
      for (const m of live) this.runAlone(m);
      return;
    }
    const lsn = core.log.nextLsn;
    const durable = this.append(payload);
    install(core, tx, seq, lsn);
    const info: CommitInfo = { seq, lsn };
    const waiting: number[] = [];
    for (let k = 0; k < live.length; k++) {
      if (wrote[k]) {
        this.commits++;
        waiting.push(k);
      } else {
        // Changed nothing: answered at once, like a transaction without changes.
        this.resolveMember(live[k]!, results[k], info0);
      }
    }
    durable.then((got) => {
      if (got !== lsn) core.logger.warn({ expected: lsn, got }, 'replay log assigned an unexpected LSN');
      for (const k of waiting) this.resolveMember(live[k]!, results[k], info);
      this.afterDurable();
    }, (err: unknown) => {
      const e = toCairnError(err, 'CAIRN_ERR_LOG_IO');
      core.stop(e, 'the replay log failed to make a commit durable');
      for (const k of waiting) this.rejectMember(live[k]!, e);
    });
  }

  /** Appends a commit record to the log, counting it as in flight until it is durable (or failed). */
  private append(payload: Buffer): Promise<bigint> {
    this.appending++;
    const p = this.core.log.append(payload);
    p.then(this.appended, this.appended);
    return p;
  }

  private readonly appended = (): void => {
    this.appending--;
  };

  /** Starts a background checkpoint when the log or the dirty nodes grew past their limits. */
  private afterDurable(): void {
    const core = this.core;
    if (core.log.liveBytes() > core.o.checkpointLogBytes) this.checkpointer.background('log-size');
    else if (core.dirtyBytes > core.o.checkpointDirtyBytes) this.checkpointer.background('dirty-nodes');
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
      const durable = this.append(payload);
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
      this.afterDurable();
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
    await this.commit((tx) => tx.createSnapshot(name, Date.now(), this.core.state.commitSeq + 1), undefined, SHAPE_INFO, true);
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
    await this.commit((tx) => tx.deleteSnapshot(name), undefined, SHAPE_INFO, true);
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
    if (this.pendingMembers > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
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

  get(key: Uint8Array): Promise<Buffer | undefined> {
    let t: TreeState;
    try {
      checkKey(key);
      t = this.source();
      // Every node on the path cached (the usual case): one synchronous descent.
      // It reads no object, so nothing can be deleted under it: no view needed.
      const hit = getCached(this.db.core.loader, t.root, key);
      if (hit !== NOT_CACHED) return Promise.resolve(hit);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.getLoading(t, key);
  }

  private async getLoading(t: TreeState, key: Uint8Array): Promise<Buffer | undefined> {
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
    const b = toBounds(options);
    const limit = checkLimit(options.limit);
    const t = this.source();
    const leave = this.enter();
    try {
      return await scanList(this.db.core.loader, t.root, b, options.reverse === true, limit);
    } finally {
      leave();
    }
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
