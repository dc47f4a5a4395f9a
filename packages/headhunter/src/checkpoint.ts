// Checkpoints: write every node changed since the last one into one new node
// object, then publish a record naming every root (docs/architecture.md
// "headhunter", steps C1-C9). Batches keep running while a checkpoint is
// written: nodes never change once a reader or checkpoint can see them.
//
// Requests merge: while one checkpoint runs, all new requests share the next
// one. A failed checkpoint leaves the previous one intact, is reported to its
// requesters and retried in the background with backoff; only losing the
// publish race (fencing) stops the volume.

import { performance } from 'node:perf_hooks';
import { cairnError, isCairnError, toCairnError } from '@cairn/errors';
import { encodeCheckpoint, type CheckpointRecord, type GarbageEntry, type LayoutEntry, type SnapshotRecord, type TreeRootRecord } from './checkpoint-codec.js';
import type { Core } from './core.js';
import { nodeObjectName } from './names.js';
import { encodeNodeObjectHeader, encodeNode, writtenForm } from './node-codec.js';
import { NodeRef, isRef, type InFlightWrite, type Node, type Ptr } from './node.js';
import { compact, type CompactResult } from './compact.js';
import { WRITE_RETRY, withRetry } from './retry.js';
import type { SnapshotState, TreeState } from './state.js';

/** What one checkpoint did. */
export interface CheckpointInfo {
  /** Number of the published record. */
  readonly seq: number;
  /** Last commit it includes. */
  readonly commitSeq: number;
  /** Nodes written. */
  readonly nodes: number;
  /** Nonce of the node object written (undefined when no node changed). */
  readonly nodeObject: bigint | undefined;
  /** Bytes of the node object written (0 when no node changed). */
  readonly nodeBytes: number;
  /** Bytes of the checkpoint record. */
  readonly recordBytes: number;
  /** Live nodes (and their bytes) of sparse node objects rewritten into this one (compaction). */
  readonly compactedNodes: number;
  readonly compactedBytes: number;
  readonly durationMs: number;
}

interface Capture {
  readonly commitSeq: number;
  readonly lsn: bigint;
  readonly trees: Array<[string, TreeState]>;
  readonly snapshots: SnapshotState[];
  readonly live: Map<bigint, { bytes: number; nodes: number }>;
}

interface Pending {
  readonly promise: Promise<CheckpointInfo>;
  resolve(i: CheckpointInfo): void;
  reject(e: unknown): void;
  force: boolean;
}

export interface CheckpointerStats {
  readonly published: number;
  readonly failed: number;
  readonly inFlight: boolean;
  readonly last: CheckpointInfo | undefined;
}

/** Nodes encoded per event-loop turn while building a node object. */
const ENCODE_SLICE = 256;

export class Checkpointer {
  private running = false;
  private queued: Pending | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private published = 0;
  private failed = 0;
  private last: CheckpointInfo | undefined;
  private idle: Promise<void> = Promise.resolve();
  /** A record whose publish ended ambiguously (it may or may not exist). */
  private ambiguous: { rec: CheckpointRecord; bytes: Buffer; cap: Capture | undefined } | undefined;

  constructor(private readonly core: Core) {}

  /** Arms the periodic trigger. */
  start(): void {
    const tick = (): void => {
      this.timer = setTimeout(tick, this.core.o.checkpointIntervalMs);
      this.timer.unref();
      if (this.core.failure === undefined && this.needed()) this.background('interval');
    };
    this.timer = setTimeout(tick, this.core.o.checkpointIntervalMs);
    this.timer.unref();
  }

  /** Stops the triggers and waits for a running checkpoint. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    this.timer = undefined;
    this.retryTimer = undefined;
    await this.idle;
  }

  /** True when the volume changed since the newest published checkpoint (or needs nonces). */
  needed(): boolean {
    const c = this.core;
    return c.state.commitSeq > c.lastRecord.commitSeq || c.nonces.wantedLimit() > c.lastRecord.nonceLimit;
  }

  /** Asks for a checkpoint without waiting; failures are logged and retried. */
  background(reason: string): void {
    this.request(false).catch((err) => {
      if (!isCairnError(err, 'CAIRN_ERR_META_FENCED') && !isCairnError(err, 'CAIRN_ERR_CLOSED')) {
        this.core.logger.warn({ err, reason }, 'background checkpoint failed');
      }
    });
  }

  /**
   * The next checkpoint that starts after this call. `force` writes a record
   * even when nothing changed.
   */
  request(force: boolean): Promise<CheckpointInfo> {
    if (this.queued === undefined) {
      let resolve!: (i: CheckpointInfo) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<CheckpointInfo>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.queued = { promise, resolve, reject, force };
    }
    this.queued.force ||= force;
    const p = this.queued.promise;
    if (!this.running) this.idle = this.pump();
    return p;
  }

  /** Resolves when no checkpoint is running (one may start right after). */
  async whenIdle(): Promise<void> {
    while (this.running) await this.idle;
  }

  stats(): CheckpointerStats {
    return { published: this.published, failed: this.failed, inFlight: this.running, last: this.last };
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      while (this.queued !== undefined) {
        const job = this.queued;
        this.queued = undefined;
        try {
          job.resolve(await this.runOnce(job.force));
          this.failures = 0;
        } catch (err) {
          job.reject(this.onFailure(err));
        }
      }
    } finally {
      this.running = false;
    }
  }

  private onFailure(err: unknown): unknown {
    const core = this.core;
    if (core.failure !== undefined) return core.failure;
    if (isCairnError(err, 'CAIRN_ERR_META_FENCED')) {
      core.fence(err);
      return core.failure;
    }
    this.failed++;
    this.failures++;
    const delay = Math.min(30_000, 1000 * 2 ** Math.min(this.failures - 1, 5));
    core.logger.warn({ err, retryInMs: delay }, 'checkpoint failed; the previous checkpoint stays valid');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (core.failure === undefined && this.needed()) this.background('retry');
    }, delay);
    this.retryTimer.unref();
    return isCairnError(err, 'CAIRN_ERR_META_CHECKPOINT_FAILED') ? err : cairnError('CAIRN_ERR_META_CHECKPOINT_FAILED', toCairnError(err).message, { cause: err });
  }

  /** Steps C1-C9 (docs/architecture.md). */
  private async runOnce(force: boolean): Promise<CheckpointInfo> {
    const core = this.core;
    core.checkServing();
    await this.settleAmbiguous();
    if (!force && !this.needed() && this.last !== undefined) return this.last;
    const t0 = performance.now();

    // Copy the live nodes of the sparsest node objects, so this checkpoint rewrites them (compact.ts).
    let compacted: CompactResult = { nodes: 0, bytes: 0 };
    try {
      compacted = await compact(core);
    } catch (err) {
      if (core.failure !== undefined) throw core.failure;
      core.logger.warn({ err }, 'compaction failed; the checkpoint goes on without it');
    }

    // C1. Capture roots, snapshots and live space (synchronously: one moment).
    core.dirtyBytes = 0;
    const cap: Capture = {
      commitSeq: core.state.commitSeq,
      lsn: core.state.commitLsn,
      trees: [...core.state.trees],
      snapshots: [...core.state.snapshots.values()],
      live: core.live.copy(),
    };

    // C2. Collect the unwritten nodes they reach, children before parents.
    const w: InFlightWrite = { droppedDuringWrite: [] };
    const nodes: Node[] = [];
    for (const [, t] of cap.trees) collect(t.root, w, nodes);
    const liveCount = nodes.length;
    for (const s of cap.snapshots) for (const t of s.trees.values()) collect(t.root, w, nodes);

    let nonce: bigint | undefined;
    let nodeBytes = 0;
    let liveBytes = 0;
    // The nodes written now belong to commits after the last capture whose nodes were written.
    const birth = core.writtenThrough + 1;
    try {
      if (nodes.length > 0) {
        // C3. Name the node object with a durably reserved nonce.
        nonce = core.nonces.tryTake();
        if (nonce === undefined) {
          await this.publishReservation();
          nonce = core.nonces.tryTake();
          if (nonce === undefined) throw cairnError('CAIRN_ERR_INTERNAL', 'no nonce after a reservation');
        }
        // Known (so that it is reclaimed if this checkpoint fails), but no state references it yet.
        core.objects.set(nonce, { birth: 0, death: 0, stored: 0 });
        // C4. Encode every node; a parent records its children's addresses.
        const { body, refs, recs } = await encodeObject(nonce, nodes);
        nodeBytes = body.length;
        await core.failpoint('checkpoint.before-nodes-put');
        // C5. Write the node object (one PUT).
        const name = nodeObjectName(nonce);
        await withRetry(WRITE_RETRY, () => core.o.container.put(name, body, { signal: AbortSignal.timeout(core.o.requestTimeoutMs + Math.ceil(body.length / 10_000)) }));
        await core.failpoint('checkpoint.after-nodes-put');
        // C6. The nodes are written: give them their addresses, count their bytes live.
        for (let i = 0; i < nodes.length; i++) {
          const n = nodes[i]!;
          n.ref = refs[i]!;
          n.write = undefined;
          if (i < liveCount) liveBytes += n.ref.length;
        }
        // Every state up to the newest commit may reference what was dropped while the object was written.
        const death = core.state.commitSeq + 1;
        core.objects.set(nonce, { birth, death: liveCount > 0 ? undefined : death, stored: nodeBytes });
        core.live.add(nonce, liveBytes, liveCount);
        for (const gone of w.droppedDuringWrite) core.freeRef(gone.ref!, death);
        this.detach(nodes);
        for (let i = 0; i < nodes.length; i++) core.loader.remember(writtenForm(nodes[i]!, recs[i]!));
      }
    } catch (err) {
      for (const n of nodes) if (n.write === w) n.write = undefined;
      throw err;
    }
    core.writtenThrough = cap.commitSeq;

    // C7. Build the record: the layout lists the objects the captured roots reach; every other object is garbage.
    const seq = core.nextSeq();
    const layout: LayoutEntry[] = [];
    for (const [k, v] of cap.live) {
      const o = core.objects.get(k);
      layout.push({ nonce: k, bytes: v.bytes, nodes: v.nodes, birth: o?.birth ?? 0, stored: o?.stored ?? 0 });
    }
    if (nonce !== undefined && liveCount > 0) layout.push({ nonce, bytes: liveBytes, nodes: liveCount, birth, stored: nodeBytes });
    const listed = new Set(layout.map((l) => l.nonce));
    const snapshots: SnapshotRecord[] = cap.snapshots.map((s) => ({
      name: s.name, createdAt: s.createdAt, commitSeq: s.commitSeq, trees: treeRecords([...s.trees]),
    }));
    const fresh = new Map<bigint, number>();
    for (const [n, o] of core.objects) if (!listed.has(n) && !core.garbage.has(n) && o.death !== undefined) fresh.set(n, seq);
    const garbage = garbageRecords(core, fresh);
    const inherit = core.inherit.filter((i) => i.through > cap.commitSeq);
    const rec: CheckpointRecord = {
      volumeId: core.volumeId,
      seq,
      epoch: core.epoch,
      writer: core.writer,
      createdAt: Date.now(),
      commitSeq: cap.commitSeq,
      inherit,
      nonceLimit: maxBig(core.lastRecord.nonceLimit, core.nonces.wantedLimit()),
      shape: core.lastRecord.shape,
      trees: treeRecords(cap.trees),
      snapshots,
      layout,
      garbage,
    };

    // C8. Publish it (fenced), then C9: retire what it made obsolete.
    const bytes = await this.publish(rec, cap);
    const info: CheckpointInfo = {
      seq, commitSeq: cap.commitSeq, nodes: nodes.length, nodeObject: nonce, nodeBytes, recordBytes: bytes.length,
      compactedNodes: compacted.nodes, compactedBytes: compacted.bytes, durationMs: performance.now() - t0,
    };
    this.last = info;
    return info;
  }

  /**
   * Publishes a record with the same roots as the newest one but a bigger
   * nonce reservation (used when no nonce is left to name a node object, and
   * by a mount to claim the volume).
   */
  async publishReservation(): Promise<CheckpointInfo> {
    const core = this.core;
    const t0 = performance.now();
    const prev = core.lastRecord;
    const inherit = core.inherit.filter((i) => i.through > prev.commitSeq);
    const rec: CheckpointRecord = {
      ...prev,
      seq: core.nextSeq(),
      epoch: core.epoch,
      writer: core.writer,
      createdAt: Date.now(),
      inherit,
      nonceLimit: maxBig(prev.nonceLimit, core.nonces.wantedLimit()),
      garbage: garbageRecords(core, new Map()),
    };
    const bytes = await this.publish(rec, undefined);
    return {
      seq: rec.seq, commitSeq: rec.commitSeq, nodes: 0, nodeObject: undefined, nodeBytes: 0, recordBytes: bytes.length,
      compactedNodes: 0, compactedBytes: 0, durationMs: performance.now() - t0,
    };
  }

  /** C8-C9 for one record. `cap` is undefined for a reservation-only record. */
  private async publish(rec: CheckpointRecord, cap: Capture | undefined): Promise<Buffer> {
    const core = this.core;
    const bytes = encodeCheckpoint(rec);
    await core.failpoint('checkpoint.before-publish');
    try {
      await core.o.publisher.publish(rec.seq, bytes);
    } catch (err) {
      if (!isCairnError(err, 'CAIRN_ERR_META_FENCED')) this.ambiguous = { rec, bytes, cap };
      throw err;
    }
    let injected: unknown;
    try {
      await core.failpoint('checkpoint.after-publish');
    } catch (err) {
      injected = err;
    }
    await this.afterPublish(rec, cap);
    if (injected !== undefined) throw injected;
    return bytes;
  }

  /** An earlier publish ended in doubt: find out whether that record exists before writing a new one. */
  private async settleAmbiguous(): Promise<void> {
    const a = this.ambiguous;
    if (a === undefined) return;
    let existing: Buffer | undefined;
    try {
      existing = await this.core.o.publisher.read(a.rec.seq);
    } catch (err) {
      if (!isCairnError(err, 'CAIRN_ERR_OBJ_NOT_FOUND')) throw err;
    }
    this.ambiguous = undefined;
    if (existing === undefined) return;
    if (!existing.equals(a.bytes)) throw cairnError('CAIRN_ERR_META_FENCED', `checkpoint ${a.rec.seq} was published by another writer`);
    this.core.logger.info({ seq: a.rec.seq }, 'a checkpoint whose publish seemed to fail was published after all');
    await this.afterPublish(a.rec, a.cap);
  }

  /** C9: the record is published. */
  private async afterPublish(rec: CheckpointRecord, cap: Capture | undefined): Promise<void> {
    const core = this.core;
    core.lastRecord = rec;
    core.storedCheckpoints.add(rec.seq);
    this.published++;
    core.nonces.published(rec.nonceLimit);
    for (const g of rec.garbage) if (!core.garbage.has(g.nonce) && core.objects.has(g.nonce)) core.garbage.set(g.nonce, g.since);
    const prev = core.retained[core.retained.length - 1];
    core.retained.push({
      seq: rec.seq, commitSeq: rec.commitSeq, coverLsn: cap !== undefined ? cap.lsn : (prev?.coverLsn ?? 0n), snapshots: rec.snapshots.map((s) => s.commitSeq),
    });
    while (core.retained.length > core.o.retainCheckpoints) core.retained.shift();
    core.inherit = core.inherit.filter((i) => i.through > rec.commitSeq);
    // The log is kept back to the oldest retained checkpoint, so a fallback mount can replay from there.
    const discard = core.retained[0]!.coverLsn;
    if (discard > core.discarded) {
      await core.log.discardThrough(discard);
      core.discarded = discard;
    }
    await core.failpoint('checkpoint.after-discard');
    core.reclaimPoke?.();
  }

  /** Replaces pointers to the nodes just written by their addresses, so the nodes can leave memory. */
  private detach(written: Node[]): void {
    const core = this.core;
    for (const n of written) if (n.kind === 2) swapKids(n);
    const walk = (p: Ptr | null): Ptr | null => {
      if (p === null || isRef(p)) return p;
      if (p.ref !== undefined) return p.ref;
      if (p.kind === 2) swapKids(p, walk);
      return p;
    };
    for (const [name, t] of core.state.trees) {
      const r = walk(t.root);
      if (r !== t.root) core.state.trees.set(name, { root: r, count: t.count });
    }
    for (const s of core.state.snapshots.values()) {
      for (const [name, t] of s.trees) {
        const r = walk(t.root);
        if (r !== t.root) s.trees.set(name, { root: r, count: t.count });
      }
    }
  }
}

/** The garbage list of a record: objects already garbage, plus `fresh` ones (nonce -> since). */
function garbageRecords(core: Core, fresh: Map<bigint, number>): GarbageEntry[] {
  const out: GarbageEntry[] = [];
  const add = (nonce: bigint, since: number): void => {
    const o = core.objects.get(nonce);
    if (o !== undefined) out.push({ nonce, since, birth: o.birth, death: o.death ?? o.birth, stored: o.stored });
  };
  for (const [n, since] of core.garbage) add(n, since);
  for (const [n, since] of fresh) add(n, since);
  return out;
}

function swapKids(n: Node & { kind: 2 }, walk?: (p: Ptr) => Ptr | null): void {
  for (let i = 0; i < n.kids.length; i++) {
    const k = n.kids[i]!;
    if (isRef(k)) continue;
    if (k.ref !== undefined) n.kids[i] = k.ref;
    else if (walk !== undefined) walk(k);
  }
}

function collect(p: Ptr | null, w: InFlightWrite, out: Node[]): void {
  if (p === null || isRef(p) || p.ref !== undefined || p.write === w) return;
  if (p.kind === 2) for (const k of p.kids) collect(k, w, out);
  p.write = w;
  out.push(p);
}

/** The node object for `nodes`, each node's address in it, and each node's record (its bytes in the body). */
async function encodeObject(nonce: bigint, nodes: Node[]): Promise<{ body: Buffer; refs: NodeRef[]; recs: Buffer[] }> {
  const header = encodeNodeObjectHeader(nonce, nodes.length);
  const chunks: Buffer[] = [header];
  const refs: NodeRef[] = [];
  const pending = new Map<Node, NodeRef>();
  let offset = header.length;
  for (let i = 0; i < nodes.length; i++) {
    if (i > 0 && i % ENCODE_SLICE === 0) await new Promise<void>((r) => setImmediate(r));
    const n = nodes[i]!;
    const rec = encodeNode(n, nonce, offset, (c) => pending.get(c));
    const ref = new NodeRef(nonce, offset, rec.length);
    pending.set(n, ref);
    refs.push(ref);
    chunks.push(rec);
    offset += rec.length;
  }
  return { body: Buffer.concat(chunks, offset), refs, recs: chunks.slice(1) };
}

function treeRecords(trees: Array<[string, TreeState]>): TreeRootRecord[] {
  return trees.map(([name, t]) => ({ name, root: refOf(t.root), count: t.count }));
}

function refOf(p: Ptr | null): NodeRef | null {
  if (p === null) return null;
  if (isRef(p)) return p;
  if (p.ref === undefined) throw cairnError('CAIRN_ERR_INTERNAL', 'checkpoint names an unwritten root');
  return p.ref;
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
