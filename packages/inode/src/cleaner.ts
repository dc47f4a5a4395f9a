// The segment cleaner: compacts partly dead segments so that their space can
// be given back (Sprite LFS cleaning; ProxyFS never compacted them).
//
// A pass, online while the volume serves:
//   C1 choose: every committed segment's live bytes and age go to
//      chooseSegmentsToClean (cost-benefit (1-u)·age/(1+u)); segments a writer
//      still holds, and by default segments a snapshot shows, are left out;
//   C2 records with no live bytes left (a pass that stopped early) move to
//      `deadsegs` at once;
//   C3 the rest, in groups whose live bytes fill about one new segment:
//      find the extents naming each source (cleaner-discover.ts), copy their
//      bytes through a segment writer of the cleaner's own
//      (cleaner-copy.ts), flush it: each new segment's record (live 0) is
//      committed by the writer's onDurable hook, after its PUT (invariant 1);
//   C4 rewrite the extents to name the copies, one transaction per batch of
//      moved runs, re-checked inside the transaction (cleaner-relocate.ts);
//      live bytes move with them, so a source dies in the transaction that
//      drops its last reference; a second round catches references that
//      appeared meanwhile (clones);
//   C5 new segments left without live bytes (every copied byte overwritten
//      meanwhile, or a canceled pass) move to `deadsegs`;
//   C6 dead segments go through the deletion policy (reclaimSegments):
//      deleted only after the checkpoints that drop their last reference,
//      never while a snapshot shows them.
// Reads see the same bytes throughout. Throttled (bytes read per second),
// pausable, cancelable, with progress. One pass per volume at a time.

import { cairnError } from '@cairn/errors';
import { decodeKey, type ReadView } from '@cairn/headhunter';
import {
  chooseSegmentsToClean, createSegmentWriter, type CleanChoice, type CleanerOptions, type DurableSegment, type SegmentUsage, type SegmentWriter,
} from '@cairn/segments';
import type { Vol } from './context.js';
import { copySource, copyUnits, CopyMap } from './cleaner-copy.js';
import { findLiveExtents, type DiscoverTarget, type LiveExtent } from './cleaner-discover.js';
import { segmentInFlight, trackWriter } from './cleaner-inflight.js';
import { movedRuns, relocate } from './cleaner-relocate.js';
import { Throttle } from './cleaner-throttle.js';
import { TREES } from './format.js';
import { FsReader } from './reader.js';
import { reclaimSegments } from './reclaim.js';
import { nonceKey, segmentCodec } from './records.js';
import { heldBySnapshots } from './snapshot.js';

const MiB = 1024 * 1024;
/** Default throttle of a pass: bytes read from old segments per second. */
export const DEFAULT_CLEAN_BYTES_PER_SECOND = 32 * MiB;
/** Segments younger than this are left alone by default (their data is likely still changing). */
export const DEFAULT_CLEAN_MIN_AGE_MS = 60_000;
/** Size the cleaner's new segments close at by default (the writer's default maxFlushSize). */
export const DEFAULT_CLEAN_SEGMENT_BYTES = 10 * MiB;
/** Relocation rounds per group at most (the second catches references that appeared during the first). */
const MAX_ROUNDS = 3;
/** Records per transaction when moving records without live bytes to `deadsegs`. */
const KILL_BATCH = 1000;

export interface CleanOptions extends CleanerOptions {
  /** Bytes read from old segments per second (default 32 MiB/s; Infinity: unthrottled). */
  readonly bytesPerSecond?: number;
  /** The new segments close at this many bytes (default 10 MiB). */
  readonly segmentBytes?: number;
  /** Compact segments a snapshot shows too (their space returns only once the snapshot goes; default false). */
  readonly includeSnapshotted?: boolean;
  /** Run the dead-segment deletion policy at the end (default true). */
  readonly reclaim?: boolean;
  /** Find references through segment summaries first (default true). */
  readonly useSummaries?: boolean;
  /** Aborting it cancels the pass (like cancel()). */
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: CleanProgress) => void;
  /** Wall clock in ms since the epoch (segment ages; tests). */
  readonly clock?: () => number;
  /** Test support: runs once a group's copies are durable, before its extents are rewritten. */
  readonly afterCopy?: (sources: readonly bigint[]) => Promise<void>;
}

/** Progress of a pass. done/total/bytes/unit are the management API's job progress fields. */
export interface CleanProgress {
  readonly phase: 'choosing' | 'cleaning' | 'reclaiming' | 'done';
  readonly segmentsDone: number;
  readonly segmentsTotal: number;
  /** Live bytes copied so far, of bytesTotal to copy. */
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly done: number;
  readonly total: number;
  readonly bytes: number;
  readonly unit: 'segments';
}

/** What a pass did (JSON-friendly: a plain record the management API returns as is). */
export type CleanReport = {
  readonly segmentsChosen: number;
  /** Records without live bytes moved to `deadsegs` (C2). */
  readonly segmentsEmptied: number;
  /** Segments compacted: every reference moved, now dead. */
  readonly segmentsCompacted: number;
  /** Chosen segments that still have references (pending writes, new clones, a failed copy). */
  readonly segmentsStillLive: number;
  /** New segments written and committed. */
  readonly segmentsWritten: number;
  /** New segments that ended without references (C5). */
  readonly deadCopies: number;
  readonly bytesRead: number;
  readonly bytesCopied: number;
  readonly extentsMoved: number;
  readonly transactions: number;
  /** Files flushed first because they had pending writes. */
  readonly filesFlushed: number;
  /** Segments left out because a snapshot shows them. */
  readonly skippedSnapshotted: number;
  /** Dead segments the deletion policy deleted at the end, and those still waiting. */
  readonly deleted: number;
  readonly waiting: number;
  readonly canceled: boolean;
  readonly durationMs: number;
};

/** A running pass. */
export interface CleanerJob {
  /** Resolves with the report (canceled: true after cancel()); rejects on failure. */
  readonly done: Promise<CleanReport>;
  readonly paused: boolean;
  /** Stops reading until resume() (a read or transaction under way finishes). */
  pause(): void;
  resume(): void;
  /** Stops at the next read or transaction; what moved stays moved. */
  cancel(): void;
  progress(): CleanProgress;
}

/** The running pass of each volume. */
const running = new WeakMap<Vol, Pass>();

/** Progress of the volume's running cleaning pass, if one runs (stats). */
export function cleanerProgress(v: Vol): CleanProgress | undefined {
  return running.get(v)?.progress();
}

function checkOptions(o: CleanOptions): { rate: number; segmentBytes: number } {
  if (o === null || typeof o !== 'object') throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'cleaner options');
  const rate = o.bytesPerSecond ?? DEFAULT_CLEAN_BYTES_PER_SECOND;
  if (typeof rate !== 'number' || !(rate > 0)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `cleaner bytesPerSecond ${String(o.bytesPerSecond)}`);
  const segmentBytes = o.segmentBytes ?? DEFAULT_CLEAN_SEGMENT_BYTES;
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 1) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `cleaner segmentBytes ${String(o.segmentBytes)}`);
  for (const f of ['onProgress', 'afterCopy', 'clock'] as const) {
    if (o[f] !== undefined && typeof o[f] !== 'function') throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `cleaner ${f}`);
  }
  return { rate, segmentBytes };
}

/** Starts a cleaning pass (CAIRN_ERR_FS_BUSY while another one runs on the volume). */
export function startCleaner(v: Vol, o: CleanOptions = {}): CleanerJob {
  const { rate, segmentBytes } = checkOptions(o);
  v.checkOpen();
  if (running.has(v)) throw cairnError('CAIRN_ERR_FS_BUSY', `a segment cleaning pass is already running on ${v.volumeId}`);
  const abort = new AbortController();
  const onAbort = (): void => abort.abort(o.signal?.reason);
  if (o.signal?.aborted) abort.abort(o.signal.reason);
  else o.signal?.addEventListener('abort', onAbort, { once: true });
  const throttle = new Throttle({ rate, signal: abort.signal });
  const pass = new Pass(v, o, throttle, segmentBytes);
  running.set(v, pass);
  const done = pass.run().finally(() => {
    running.delete(v);
    o.signal?.removeEventListener('abort', onAbort);
  });
  done.catch(() => {});
  return {
    done,
    get paused() {
      return throttle.paused;
    },
    pause: () => throttle.pause(),
    resume: () => throttle.resume(),
    cancel: () => abort.abort(cairnError('CAIRN_ERR_CANCELED', 'segment cleaning')),
    progress: () => pass.progress(),
  };
}

/** Runs one cleaning pass to its end (startCleaner(v, o).done). */
export async function cleanSegments(v: Vol, o: CleanOptions = {}): Promise<CleanReport> {
  return startCleaner(v, o).done;
}

class Pass {
  private phase: CleanProgress['phase'] = 'choosing';
  private segmentsTotal = 0;
  private segmentsDone = 0;
  private bytesTotal = 0;
  private bytesDone = 0;
  private readonly r = {
    segmentsChosen: 0, segmentsEmptied: 0, segmentsCompacted: 0, segmentsStillLive: 0, segmentsWritten: 0, deadCopies: 0,
    bytesRead: 0, bytesCopied: 0, extentsMoved: 0, transactions: 0, filesFlushed: 0, skippedSnapshotted: 0, deleted: 0, waiting: 0,
  };
  /** New segments committed (their records exist), and all new segments of the pass. */
  private readonly durable = new Set<bigint>();
  /** `created` given to the records of new segments: the youngest source's (the age of the data, not of the copy). */
  private created = 0;
  private readonly clock: () => number;

  constructor(
    private readonly v: Vol,
    private readonly o: CleanOptions,
    private readonly throttle: Throttle,
    private readonly segmentBytes: number,
  ) {
    this.clock = o.clock ?? Date.now;
  }

  progress(): CleanProgress {
    return {
      phase: this.phase, segmentsDone: this.segmentsDone, segmentsTotal: this.segmentsTotal, bytesDone: this.bytesDone, bytesTotal: this.bytesTotal,
      done: this.segmentsDone, total: this.segmentsTotal, bytes: this.bytesDone, unit: 'segments',
    };
  }

  private emit(): void {
    try {
      this.o.onProgress?.(this.progress());
    } catch (err) {
      this.v.logger.warn({ err }, 'cleaner progress callback threw');
    }
  }

  async run(): Promise<CleanReport> {
    const started = performance.now();
    const v = this.v;
    const dataContainers = (await FsReader.with(v, (r) => r.meta())).dataContainers;
    const choices = await this.choose();
    this.r.segmentsChosen = choices.length;
    this.segmentsTotal = choices.length;
    for (const c of choices) if (c.action === 'compact') this.bytesTotal += c.liveBytes;
    this.phase = 'cleaning';
    this.emit();
    let canceled = false;
    const writer = createSegmentWriter({
      store: v.store, containers: dataContainers, nonces: () => v.hh.nextNonce(),
      maxFlushSize: this.segmentBytes, maxFlushTimeMs: 600_000, maxOpenSegments: 1, maxBufferedBytes: 2 * this.segmentBytes,
      onDurable: (seg) => this.recordCopy(seg),
      onFailed: (f) => v.logger.warn({ err: f.error, segment: f.segment.name }, 'cleaner: a new segment failed; its copies are dropped'),
      logger: v.logger,
    });
    const untrack = trackWriter(v, writer);
    try {
      const empty = choices.filter((c) => c.action === 'delete').map((c) => c.nonce);
      for (let i = 0; i < empty.length; i += KILL_BATCH) {
        this.throttle.check('segment cleaning');
        this.r.segmentsEmptied += await this.killEmpty(empty.slice(i, i + KILL_BATCH));
        this.segmentsDone += Math.min(KILL_BATCH, empty.length - i);
        this.emit();
      }
      for (const group of groups(choices.filter((c) => c.action === 'compact'), this.segmentBytes)) {
        this.throttle.check('segment cleaning');
        await this.cleanGroup(group, writer);
        this.segmentsDone += group.length;
        this.emit();
      }
    } catch (err) {
      if (!isCanceled(err)) throw err;
      canceled = true;
    } finally {
      await writer.close().catch((err: unknown) => v.logger.warn({ err }, 'cleaner: closing its segment writer failed'));
      untrack();
    }
    // New segments of a canceled or failed group may have no references: C5 for all of them.
    this.r.deadCopies += await this.killEmpty([...this.durable]);
    if (this.o.reclaim !== false && !canceled) {
      this.phase = 'reclaiming';
      this.emit();
      const rr = await reclaimSegments(v);
      this.r.deleted = rr.deleted;
      this.r.waiting = rr.waiting;
    }
    this.phase = 'done';
    this.emit();
    const report: CleanReport = { ...this.r, canceled, durationMs: Math.round(performance.now() - started) };
    v.logger.info(report, canceled ? 'segment cleaning canceled' : 'segment cleaning finished');
    return report;
  }

  /** C1: the choice over every committed segment not held by a writer (nor by a snapshot unless asked). */
  private async choose(): Promise<CleanChoice[]> {
    const v = this.v;
    const now = this.clock();
    const usages: SegmentUsage[] = [];
    const view = v.hh.view();
    try {
      for await (const e of view.tree(TREES.segments).range()) {
        const nonce = BigInt(decodeKey(e.key)[0] as number | bigint);
        const rec = segmentCodec.decode(e.value);
        if (segmentInFlight(v, nonce) || (rec.size === 0 && rec.live > 0)) continue;
        usages.push({ nonce, size: rec.size, liveBytes: Math.min(rec.live, rec.size), ageMs: Math.max(0, now - rec.created) });
      }
    } finally {
      view.release();
    }
    const maxU = this.o.maxUtilization ?? 0.8;
    let candidates = usages;
    if (this.o.includeSnapshotted !== true && (v.hh.listSnapshots().length > 0 || v.snapshotViews.size > 0)) {
      const held = await heldBySnapshots(v, usages.filter((u) => u.liveBytes > 0 && u.liveBytes / u.size < maxU).map((u) => u.nonce));
      this.r.skippedSnapshotted = held.size;
      candidates = usages.filter((u) => !held.has(u.nonce));
    }
    return chooseSegmentsToClean(candidates, {
      ...(this.o.maxSegments !== undefined ? { maxSegments: this.o.maxSegments } : {}),
      ...(this.o.maxCopyBytes !== undefined ? { maxCopyBytes: this.o.maxCopyBytes } : {}),
      maxUtilization: maxU,
      minAgeMs: this.o.minAgeMs ?? DEFAULT_CLEAN_MIN_AGE_MS,
    });
  }

  /** The writer's onDurable hook: the new segment's record, live 0 until extents move to it. */
  private async recordCopy(seg: DurableSegment): Promise<void> {
    const nonce = seg.segment.nonce;
    const created = this.created;
    await this.v.tx((t) => {
      if (t.segment(nonce) !== undefined || t.tx.has(TREES.deadsegs, nonceKey(nonce))) {
        throw cairnError('CAIRN_ERR_INTERNAL', `cleaner: segment ${nonce} already has a record`);
      }
      t.putSegment(nonce, { container: seg.segment.container, size: seg.size, live: 0, created });
      t.setMeta({ storedBytes: t.getMeta().storedBytes + seg.size });
    });
    this.durable.add(nonce);
    this.r.segmentsWritten++;
  }

  /** C2/C5: moves the records among `nonces` that have no live bytes to `deadsegs`; returns how many. */
  private async killEmpty(nonces: readonly bigint[]): Promise<number> {
    if (nonces.length === 0) return 0;
    return this.v.tx((t) => {
      let n = 0;
      for (const nonce of nonces) {
        const rec = t.segment(nonce);
        if (rec === undefined || rec.live !== 0) continue;
        t.killSegment(nonce, rec);
        n++;
      }
      return n;
    });
  }

  /** C3-C5 for one group of sources. */
  private async cleanGroup(group: readonly CleanChoice[], writer: SegmentWriter): Promise<void> {
    const v = this.v;
    const targets: Array<DiscoverTarget & { created: number }> = [];
    let found: Map<bigint, LiveExtent[]>;
    const view = v.hh.view();
    try {
      for (const c of group) {
        const b = await view.tree(TREES.segments).get(nonceKey(c.nonce));
        if (b === undefined || segmentInFlight(v, c.nonce)) continue;
        const rec = segmentCodec.decode(b);
        targets.push({ nonce: c.nonce, container: rec.container, live: rec.live, created: rec.created });
      }
      found = (await findLiveExtents(v, view, targets, this.o.useSummaries !== false)).extents;
    } finally {
      view.release();
    }
    if (targets.length === 0) return;
    this.created = Math.max(...targets.map((t) => t.created));
    const maps = new Map<bigint, CopyMap>();
    const ctx = {
      store: v.store, writer, throttle: this.throttle,
      onCopied: (read: number, copied: number) => {
        this.r.bytesRead += read;
        this.r.bytesCopied += copied;
        this.bytesDone += copied;
        this.emit();
      },
    };
    const before = new Set(this.durable);
    for (const t of targets) {
      const map = new CopyMap();
      maps.set(t.nonce, map);
      await copySource(ctx, t, copyUnits(found.get(t.nonce) ?? []), map);
    }
    await writer.flushAll().catch((err: unknown) => v.logger.warn({ err }, 'cleaner: some copies could not be stored'));
    await this.o.afterCopy?.(targets.map((t) => t.nonce));
    let refs: LiveExtent[] = [...found.values()].flat();
    let left = targets;
    for (let round = 0; round < MAX_ROUNDS && refs.length > 0; round++) {
      const res = await relocate(v, movedRuns(refs), maps, this.durable, this.throttle);
      this.r.extentsMoved += res.moved;
      this.r.transactions += res.transactions;
      this.r.filesFlushed += res.flushed;
      left = await this.stillLive(left);
      if (left.length === 0 || res.moved === 0) break;
      const again = v.hh.view();
      try {
        refs = [...(await findLiveExtents(v, again, await this.stillLive(left, again), this.o.useSummaries !== false)).extents.values()].flat();
      } finally {
        again.release();
      }
    }
    const fresh = [...this.durable].filter((n) => !before.has(n));
    this.r.deadCopies += await this.killEmpty(fresh);
    const remaining = new Set((await this.stillLive(targets)).map((t) => t.nonce));
    for (const t of targets) {
      if (remaining.has(t.nonce)) this.r.segmentsStillLive++;
      else this.r.segmentsCompacted++;
    }
  }

  /** The targets that still have a record in `segments` (with its current live bytes), in `view` or the newest commit. */
  private async stillLive<T extends DiscoverTarget>(targets: readonly T[], view?: ReadView): Promise<T[]> {
    const own = view === undefined ? this.v.hh.view() : undefined;
    const vw = view ?? own!;
    try {
      const out: T[] = [];
      for (const t of targets) {
        const b = await vw.tree(TREES.segments).get(nonceKey(t.nonce));
        if (b !== undefined) out.push({ ...t, live: segmentCodec.decode(b).live });
      }
      return out;
    } finally {
      own?.release();
    }
  }
}

/** Consecutive choices whose live bytes fill about one new segment (at least one each). */
function* groups(choices: readonly CleanChoice[], limit: number): Generator<CleanChoice[]> {
  let g: CleanChoice[] = [];
  let sum = 0;
  for (const c of choices) {
    if (g.length > 0 && sum + c.liveBytes > limit) {
      yield g;
      g = [];
      sum = 0;
    }
    g.push(c);
    sum += c.liveBytes;
  }
  if (g.length > 0) yield g;
}

function isCanceled(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'CAIRN_ERR_CANCELED';
}
