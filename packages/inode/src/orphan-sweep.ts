// The orphan sweep: deletes segment objects that no durable metadata
// references. They are left by a crash between a segment's PUT and its
// metadata commit, by a commit that failed after the PUT, by a provisioned
// segment (direct data path) that was stored but never reported, and by a
// cleaner pass that stopped between storing a copy and recording it. ProxyFS
// never reclaimed them.
//
// An object in a data container is an orphan when all of these hold:
//   O1 its name is a segment name (nothing else is ever touched), in the
//      container the volume's layout puts that nonce in, and its nonce was
//      handed out already (below the allocator's next nonce: a higher one is
//      not this daemon's);
//   O2 it is older than the grace period (default 10 minutes): a PUT that just
//      completed may be about to commit, and a client of the direct data path
//      reports its segment after storing it;
//   O3 no writer of the volume holds it (segmentInFlight: the volume's writer
//      and the cleaner's keep a segment from before its PUT until its commit
//      resolved);
//   O4 neither `segments` nor `deadsegs` has its nonce in a read view taken
//      after O3 (the live state includes every replay-log record; a dead
//      segment is the deletion policy's to delete). Checked after O3 so that a
//      commit cannot slip between them: a segment not held by a writer is
//      either committed already (and in the view) or never will be;
//   O5 no snapshot shows it in its `segments` or `deadsegs` tree.
// Checkpoints need no check of their own: a record leaves `segments` only
// into `deadsegs`, and `deadsegs` only after the object was deleted, so an
// object any retained checkpoint names is still in one of the two (O4).
// Deletions are throttled; a dry run only reports.

import { cairnError } from '@cairn/errors';
import type { ListEntry } from '@cairn/objstore';
import { parseSegmentName, SEGMENT_NAME_PREFIX } from '@cairn/segments';
import type { Vol } from './context.js';
import { segmentInFlight } from './cleaner-inflight.js';
import { Throttle } from './cleaner-throttle.js';
import { TREES } from './format.js';
import { FsReader } from './reader.js';
import { nonceKey } from './records.js';

/** Objects younger than this are never swept by default (ms). */
export const DEFAULT_ORPHAN_GRACE_MS = 10 * 60 * 1000;
/** Deletions per second of a sweep by default. */
export const DEFAULT_ORPHAN_DELETES_PER_SECOND = 50;
/** Listed objects checked per read view. */
const CHECK_BATCH = 500;

export interface SweepOptions {
  /** Only objects older than this are orphans (ms; default 10 minutes). */
  readonly graceMs?: number;
  /** Report what would be deleted, delete nothing. */
  readonly dryRun?: boolean;
  /** Deletions per second (default 50). */
  readonly deletesPerSecond?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: SweepProgress) => void;
  /** Wall clock in ms since the epoch (compared with object mtimes; tests). */
  readonly clock?: () => number;
  /** Orphans named in the report at most (default 100). */
  readonly listLimit?: number;
}

/** Progress of a sweep. done/bytes/unit are the management API's job progress fields. */
export interface SweepProgress {
  readonly containersDone: number;
  readonly containersTotal: number;
  readonly objectsListed: number;
  readonly orphans: number;
  readonly deleted: number;
  readonly done: number;
  readonly bytes: number;
  readonly unit: 'objects';
}

/** What a sweep found and did (JSON-friendly: a plain record the management API returns as is). */
export type SweepReport = {
  readonly dryRun: boolean;
  readonly canceled: boolean;
  readonly containers: number;
  readonly objectsListed: number;
  /** Objects whose names are not segment names, or not where this volume puts that segment (left alone). */
  readonly foreign: number;
  /** Segment objects with a nonce not handed out yet (left alone). */
  readonly future: number;
  /** Segment objects younger than the grace period. */
  readonly young: number;
  /** Segment objects a writer still holds. */
  readonly inFlight: number;
  /** Segment objects metadata or a snapshot references. */
  readonly referenced: number;
  readonly orphans: number;
  readonly orphanBytes: number;
  readonly deleted: number;
  readonly deletedBytes: number;
  /** "container/name" of the first orphans (listLimit). */
  readonly orphanNames: string[];
  readonly durationMs: number;
};

function checkOptions(o: SweepOptions): { graceMs: number; rate: number; listLimit: number } {
  if (o === null || typeof o !== 'object') throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'sweep options');
  const graceMs = o.graceMs ?? DEFAULT_ORPHAN_GRACE_MS;
  if (typeof graceMs !== 'number' || !(graceMs >= 0)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `sweep graceMs ${String(o.graceMs)}`);
  const rate = o.deletesPerSecond ?? DEFAULT_ORPHAN_DELETES_PER_SECOND;
  if (typeof rate !== 'number' || !(rate > 0)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `sweep deletesPerSecond ${String(o.deletesPerSecond)}`);
  const listLimit = o.listLimit ?? 100;
  if (!Number.isSafeInteger(listLimit) || listLimit < 0) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `sweep listLimit ${String(o.listLimit)}`);
  return { graceMs, rate, listLimit };
}

type Counts = Omit<SweepReport, 'dryRun' | 'canceled' | 'orphanNames' | 'durationMs'>;

/** Sweeps the volume's data containers once (see the file comment). Safe while the volume serves. */
export async function sweepOrphans(v: Vol, o: SweepOptions = {}): Promise<SweepReport> {
  const { graceMs, rate, listLimit } = checkOptions(o);
  v.checkOpen();
  const started = performance.now();
  const clock = o.clock ?? Date.now;
  const dryRun = o.dryRun === true;
  const throttle = new Throttle({ rate, burst: Math.max(1, Math.min(rate, 10)), ...(o.signal ? { signal: o.signal } : {}) });
  const containers = (await FsReader.with(v, (r) => r.meta())).dataContainers;
  const c: { -readonly [K in keyof Counts]: Counts[K] } = {
    containers: containers.length, objectsListed: 0, foreign: 0, future: 0, young: 0, inFlight: 0, referenced: 0,
    orphans: 0, orphanBytes: 0, deleted: 0, deletedBytes: 0,
  };
  const names: string[] = [];
  let containersDone = 0;
  const emit = (): void => {
    try {
      o.onProgress?.({
        containersDone, containersTotal: containers.length, objectsListed: c.objectsListed, orphans: c.orphans, deleted: c.deleted,
        done: c.objectsListed, bytes: c.deletedBytes, unit: 'objects',
      });
    } catch (err) {
      v.logger.warn({ err }, 'orphan sweep progress callback threw');
    }
  };

  /** O2-O5 for one batch of listed objects, then the deletions. */
  const check = async (container: string, batch: Array<ListEntry & { kind: 'object' }>): Promise<void> => {
    const now = clock();
    const next = v.hh.stats().nonces.next;
    const cand: Array<{ name: string; nonce: bigint; size: number }> = [];
    for (const e of batch) {
      const nonce = parseSegmentName(e.name);
      if (nonce === undefined || v.locate(nonce).container !== container) c.foreign++;
      else if (nonce >= next) c.future++;
      else if (now - e.mtime < graceMs) c.young++;
      else if (segmentInFlight(v, nonce)) c.inFlight++;
      else cand.push({ name: e.name, nonce, size: e.size });
    }
    if (cand.length === 0) return;
    const referenced = new Set<bigint>();
    const views = [v.hh.view(), ...v.hh.listSnapshots().map((s) => v.hh.snapshot(s.name))];
    try {
      for (const view of views) {
        for (const x of cand) {
          if (referenced.has(x.nonce)) continue;
          const k = nonceKey(x.nonce);
          if ((await view.tree(TREES.segments).has(k)) || (await view.tree(TREES.deadsegs).has(k))) referenced.add(x.nonce);
        }
      }
    } finally {
      for (const view of views) view.release();
    }
    for (const x of cand) {
      if (referenced.has(x.nonce)) {
        c.referenced++;
        continue;
      }
      c.orphans++;
      c.orphanBytes += x.size;
      if (names.length < listLimit) names.push(`${container}/${x.name}`);
      if (dryRun) continue;
      await throttle.take(1, 'orphan sweep');
      await v.store.container(container).delete(x.name);
      v.cache.invalidate({ container, name: x.name });
      c.deleted++;
      c.deletedBytes += x.size;
      v.logger.info({ container, object: x.name, size: x.size }, 'orphan sweep: deleted a segment object nothing references');
    }
  };

  let canceled = false;
  try {
    for (const container of containers) {
      let batch: Array<ListEntry & { kind: 'object' }> = [];
      for await (const e of v.store.container(container).listAll({ prefix: SEGMENT_NAME_PREFIX })) {
        throttle.check('orphan sweep');
        if (e.kind !== 'object') continue;
        c.objectsListed++;
        batch.push(e);
        if (batch.length >= CHECK_BATCH) {
          await check(container, batch);
          batch = [];
          emit();
        }
      }
      await check(container, batch);
      containersDone++;
      emit();
    }
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'CAIRN_ERR_CANCELED') throw err;
    canceled = true;
  }
  const report: SweepReport = { ...c, dryRun, canceled, orphanNames: names, durationMs: Math.round(performance.now() - started) };
  v.logger.info({ ...report, orphanNames: undefined }, dryRun ? 'orphan sweep (dry run) finished' : 'orphan sweep finished');
  return report;
}
