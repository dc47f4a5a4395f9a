// Formatting and mounting a volume (docs/architecture.md "headhunter", steps
// M1-M5): find the newest valid checkpoint (falling back to older ones), load
// its roots, replay the log after it, claim the volume by publishing the next
// checkpoint number (which fences any previous writer), then serve.

import { randomBytes, randomUUID } from 'node:crypto';
import { cairnError, isCairnError, toCairnError, type CairnError } from '@cairn/errors';
import { pino, type Logger } from 'pino';
import { Checkpointer } from './checkpoint.js';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointRecord } from './checkpoint-codec.js';
import { Core, type CoreOptions, type MetaLog } from './core.js';
import { HeadhunterImpl } from './db.js';
import {
  DEFAULT_CACHE_BYTES, DEFAULT_CHECKPOINT_DIRTY_BYTES, DEFAULT_CHECKPOINT_INTERVAL_MS, DEFAULT_CHECKPOINT_LOG_BYTES, DEFAULT_DELETES_PER_SECOND,
  DEFAULT_INDEX_MAX_ENTRIES, DEFAULT_LEAF_MAX_ENTRIES, DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_NODE_BYTES,
  DEFAULT_NONCE_RANGE, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_RETAIN_CHECKPOINTS, DEFAULT_COMPACT_BELOW, DEFAULT_COMPACT_BYTES_PER_CHECKPOINT,
} from './format.js';
import type { FormatOptions, Headhunter, HeadhunterOptions } from './index.js';
import { NODE_OBJECT_PREFIX, nodeObjectName, parseNodeObjectName } from './names.js';
import { NodeCache } from './node-cache.js';
import { Shape } from './node.js';
import { NonceAllocator } from './nonces.js';
import { decodeCommit, type CommitRecord } from './payload-codec.js';
import { createObjectStorePublisher, type CheckpointPublisher } from './publisher.js';
import { Reclaimer } from './reclaim.js';
import { deletable } from './retention.js';
import { backoffDelay, sleep, WRITE_RETRY } from './retry.js';
import { TREE_NAME_RE } from './state.js';

const silent = pino({ level: 'silent' });

/** The log of a read-only mount without one: empty, refuses appends. */
const NO_LOG: MetaLog = {
  nextLsn: 1n,
  firstLsn: 1n,
  append: () => Promise.reject(cairnError('CAIRN_ERR_META_READ_ONLY', 'read-only mount')),
  replay: async function* () {},
  discardThrough: async () => {},
  liveBytes: () => 0,
};

function publisherOf(o: { container: FormatOptions['container']; publisher?: CheckpointPublisher; logger?: Logger }, timeoutMs: number): CheckpointPublisher {
  return o.publisher ?? createObjectStorePublisher({ container: o.container, timeoutMs, logger: o.logger ?? silent });
}

/** Creates an empty volume: checkpoint record number 1 with empty trees. */
export async function formatVolume(o: FormatOptions): Promise<{ volumeId: string }> {
  const shape = new Shape({
    leafMaxEntries: o.leafMaxEntries ?? DEFAULT_LEAF_MAX_ENTRIES,
    indexMaxEntries: o.indexMaxEntries ?? DEFAULT_INDEX_MAX_ENTRIES,
    maxNodeBytes: o.maxNodeBytes ?? DEFAULT_MAX_NODE_BYTES,
  });
  const names = [...new Set(o.trees ?? [])];
  for (const n of names) {
    if (typeof n !== 'string' || !TREE_NAME_RE.test(n)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `tree name ${JSON.stringify(n)}`);
  }
  const volumeId = o.volumeId ?? randomUUID();
  if (typeof volumeId !== 'string' || volumeId.length === 0 || volumeId.length > 128) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'volumeId');
  await o.container.create();
  const publisher = publisherOf(o, DEFAULT_REQUEST_TIMEOUT_MS);
  if ((await publisher.list(1)).length > 0) throw cairnError('CAIRN_ERR_META_ALREADY_FORMATTED', o.container.name);
  const rec: CheckpointRecord = {
    volumeId, seq: 1, epoch: 1, writer: randomBytes(8).toString('hex'), createdAt: Date.now(), commitSeq: 0, inherit: [],
    // Nonce 0 is never handed out (it can mean "none"); nothing is reserved yet.
    nonceLimit: 1n,
    shape: shape.o,
    trees: names.map((name) => ({ name, root: null, count: 0 })),
    snapshots: [], layout: [], garbage: [],
  };
  try {
    await publisher.publish(1, encodeCheckpoint(rec));
  } catch (err) {
    if (isCairnError(err, 'CAIRN_ERR_META_FENCED')) throw cairnError('CAIRN_ERR_META_ALREADY_FORMATTED', o.container.name, { cause: err });
    throw err;
  }
  (o.logger ?? silent).info({ volumeId, container: o.container.name }, 'volume formatted');
  return { volumeId };
}

function resolveOptions(o: HeadhunterOptions, publisher: CheckpointPublisher): CoreOptions {
  const num = (v: number | undefined, d: number, name: string, min: number): number => {
    const x = v ?? d;
    if (typeof x !== 'number' || !(x >= min) || !Number.isFinite(x)) throw cairnError('CAIRN_ERR_CONFIG_INVALID', `${name} ${String(v)}`);
    return x;
  };
  const fraction = (v: number | undefined, d: number, name: string): number => {
    const x = num(v, d, name, 0);
    if (x >= 1) throw cairnError('CAIRN_ERR_CONFIG_INVALID', `${name} ${String(v)} (a fraction below 1)`);
    return x;
  };
  if (o.container === undefined || (o.log === undefined && o.readOnly !== true)) {
    throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'openVolume needs a container and a log');
  }
  return {
    container: o.container,
    readOnly: o.readOnly === true,
    log: o.log ?? NO_LOG,
    logger: o.logger ?? silent,
    publisher,
    cache: o.cache ?? new NodeCache(num(o.cacheBytes, DEFAULT_CACHE_BYTES, 'cacheBytes', 0)),
    failpoints: o.failpoints,
    checkpointIntervalMs: num(o.checkpointIntervalMs, DEFAULT_CHECKPOINT_INTERVAL_MS, 'checkpointIntervalMs', 10),
    checkpointLogBytes: num(o.checkpointLogBytes, DEFAULT_CHECKPOINT_LOG_BYTES, 'checkpointLogBytes', 1),
    checkpointDirtyBytes: num(o.checkpointDirtyBytes, DEFAULT_CHECKPOINT_DIRTY_BYTES, 'checkpointDirtyBytes', 1),
    nonceRange: Math.floor(num(o.nonceRange, DEFAULT_NONCE_RANGE, 'nonceRange', 1)),
    retainCheckpoints: Math.floor(num(o.retainCheckpoints, DEFAULT_RETAIN_CHECKPOINTS, 'retainCheckpoints', 1)),
    deletesPerSecond: num(o.deletesPerSecond, DEFAULT_DELETES_PER_SECOND, 'deletesPerSecond', 0.001),
    reclaimPaused: o.reclaimPaused === true,
    maxBatchBytes: num(o.maxBatchBytes, DEFAULT_MAX_BATCH_BYTES, 'maxBatchBytes', 1024),
    requestTimeoutMs: num(o.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS, 'requestTimeoutMs', 1),
    checkpointOnClose: o.checkpointOnClose !== false,
    compactBelow: fraction(o.compactBelow, DEFAULT_COMPACT_BELOW, 'compactBelow'),
    compactBytesPerCheckpoint: num(o.compactBytesPerCheckpoint, DEFAULT_COMPACT_BYTES_PER_CHECKPOINT, 'compactBytesPerCheckpoint', 0),
  };
}

/** Mounts a formatted volume: steps M1-M5. */
export async function openVolume(o: HeadhunterOptions): Promise<Headhunter> {
  const publisher = publisherOf(o, o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
  const opts = resolveOptions(o, publisher);
  const logger = opts.logger;
  const writer = randomBytes(8).toString('hex');

  // M1. Find checkpoint records, newest first.
  let seqs: number[];
  try {
    seqs = await publisher.list(opts.retainCheckpoints + 8);
  } catch (err) {
    if (isCairnError(err, 'CAIRN_ERR_OBJ_CONTAINER_NOT_FOUND')) throw cairnError('CAIRN_ERR_META_NOT_FORMATTED', o.container.name, { cause: err });
    throw err;
  }
  if (seqs.length === 0) throw cairnError('CAIRN_ERR_META_NOT_FORMATTED', o.container.name);

  // M2. Take the newest record that decodes and whose roots load; fall back to older ones.
  let core: Core | undefined;
  let firstError: CairnError | undefined;
  for (const seq of seqs) {
    try {
      const rec = decodeCheckpoint(await publisher.read(seq), `checkpoint ${seq}`);
      if (rec.seq !== seq) throw cairnError('CAIRN_ERR_META_CORRUPT', `checkpoint ${seq} says it is number ${rec.seq}`);
      if (core !== undefined && rec.volumeId !== core.volumeId) throw cairnError('CAIRN_ERR_META_CORRUPT', `checkpoint ${seq} of another volume`);
      const c = new Core(rec.volumeId, opts, rec, writer);
      loadRecord(c, rec);
      for (const t of rec.trees) if (t.root !== null) await c.loader.load(t.root);
      core = c;
      break;
    } catch (err) {
      const e = toCairnError(err);
      if (isRetryable(e)) throw e;
      firstError ??= e;
      logger.error({ err: e, seq }, 'checkpoint record unusable; falling back to the previous one');
    }
  }
  if (core === undefined) throw firstError ?? cairnError('CAIRN_ERR_META_CORRUPT', 'no usable checkpoint');
  for (const s of seqs) core.storedCheckpoints.add(s);
  core.highestSeq = seqs[0]!;
  const rec = core.lastRecord;

  const checkpointer = new Checkpointer(core);
  core.nonces = new NonceAllocator(rec.nonceLimit, rec.nonceLimit, opts.nonceRange, () => checkpointer.background('nonces'));
  const reclaimer = makeReclaimer(core);
  const db = new HeadhunterImpl(core, checkpointer, reclaimer);

  // M3. Replay the log records that belong to this history and follow the checkpoint.
  const replay = await replayLog(core, db);
  await core.failpoint('mount.after-replay');
  core.retained.push({ seq: rec.seq, commitSeq: rec.commitSeq, coverLsn: replay.coverLsn, snapshots: rec.snapshots.map((s) => s.commitSeq) });
  if (opts.readOnly) {
    core.nonces.fail(cairnError('CAIRN_ERR_META_READ_ONLY', `volume ${core.volumeId} is mounted read-only`));
    logger.info({ volumeId: core.volumeId, checkpoint: rec.seq, replayed: replay.replayed }, 'volume mounted read-only');
    return db;
  }

  // M4. Claim the volume: publish the next checkpoint number with a new epoch and nonce reservation.
  const claimSeq = core.nextSeq();
  core.epoch = claimSeq;
  core.inherit = rec.inherit.filter((i) => i.through > rec.commitSeq);
  if (core.state.commitSeq > rec.commitSeq) core.inherit.push({ epoch: rec.epoch, through: core.state.commitSeq });
  for (let attempt = 0; ; attempt++) {
    try {
      await checkpointer.publishReservation();
      break;
    } catch (err) {
      if (isCairnError(err, 'CAIRN_ERR_META_FENCED') || attempt + 1 >= WRITE_RETRY.attempts || !isRetryable(err)) {
        core.stop(toCairnError(err), 'mount could not claim the volume');
        throw err;
      }
      await sleep(backoffDelay(WRITE_RETRY, attempt));
    }
  }
  await core.failpoint('mount.after-claim');
  logger.info({ volumeId: core.volumeId, checkpoint: rec.seq, claim: claimSeq, replayed: replay.replayed, skipped: replay.skipped },
    'volume mounted');

  // M5. Serve: timers, reclamation, and a checkpoint of whatever the replay rebuilt.
  checkpointer.start();
  reclaimer.start();
  core.reclaimPoke = () => reclaimer.poke();
  if (replay.replayed > 0) checkpointer.background('mount');
  void sweepOrphans(core, rec.nonceLimit, claimSeq).catch((err) => logger.warn({ err }, 'orphan sweep failed'));
  return db;
}

function isRetryable(err: unknown): boolean {
  return isCairnError(err) && err.retryable;
}

/** Installs a checkpoint record as the volume state. */
function loadRecord(core: Core, rec: CheckpointRecord): void {
  new Shape(rec.shape);
  for (const t of rec.trees) core.state.trees.set(t.name, { root: t.root, count: t.count });
  for (const s of rec.snapshots) {
    core.state.snapshots.set(s.name, {
      name: s.name, createdAt: s.createdAt, commitSeq: s.commitSeq,
      trees: new Map(s.trees.map((t) => [t.name, { root: t.root, count: t.count }])),
    });
  }
  for (const l of rec.layout) {
    core.live.add(l.nonce, l.bytes, l.nodes);
    core.objects.set(l.nonce, { birth: l.birth, death: undefined, stored: l.stored });
  }
  for (const g of rec.garbage) {
    core.garbage.set(g.nonce, g.since);
    core.objects.set(g.nonce, { birth: g.birth, death: g.death, stored: g.stored });
  }
  core.state.commitSeq = rec.commitSeq;
  // Every node the record's roots and snapshots reach is written.
  core.writtenThrough = rec.commitSeq;
  core.epoch = rec.epoch;
}

/** M3: which log records to apply, and applying them. */
async function replayLog(core: Core, db: HeadhunterImpl): Promise<{ replayed: number; skipped: number; coverLsn: bigint }> {
  const rec = core.lastRecord;
  const belongs = (c: CommitRecord): boolean =>
    c.epoch === rec.epoch || rec.inherit.some((i) => i.epoch === c.epoch && c.seq <= i.through);
  let replayed = 0;
  let skipped = 0;
  let firstLsn: bigint | undefined;
  // Start at the oldest record the log holds; records the checkpoint covers are skipped below.
  for await (const r of core.log.replay(core.log.firstLsn > 0n ? core.log.firstLsn - 1n : 0n)) {
    let c: CommitRecord;
    try {
      c = decodeCommit(r.payload);
    } catch (err) {
      if (isCairnError(err, 'CAIRN_ERR_META_BAD_MAGIC')) {
        skipped++;
        continue;
      }
      throw err;
    }
    if (c.volumeId !== core.volumeId || !belongs(c) || c.seq <= core.state.commitSeq) {
      skipped++;
      continue;
    }
    if (c.seq !== core.state.commitSeq + 1) {
      throw cairnError('CAIRN_ERR_META_CORRUPT', `replay log jumps from commit ${core.state.commitSeq} to ${c.seq} (lsn ${r.lsn})`);
    }
    firstLsn ??= r.lsn;
    await db.replayCommit(c, r.lsn);
    replayed++;
  }
  if (skipped > 0) core.logger.info({ skipped }, 'replay skipped log records covered by the checkpoint or of other writers');
  return { replayed, skipped, coverLsn: firstLsn !== undefined ? firstLsn - 1n : core.log.nextLsn - 1n };
}

function makeReclaimer(core: Core): Reclaimer {
  return new Reclaimer({
    deletesPerSecond: core.o.deletesPerSecond,
    paused: core.o.reclaimPaused,
    logger: core.logger,
    eligible: () => deletable(core),
    remove: async (t) => {
      core.checkServing();
      await core.failpoint('reclaim.before-delete');
      if (t.kind === 'node') await core.o.container.delete(nodeObjectName(t.nonce), { signal: AbortSignal.timeout(core.o.requestTimeoutMs) });
      else await core.o.publisher.remove(t.seq);
    },
    done: (t) => {
      if (t.kind === 'node') {
        core.garbage.delete(t.nonce);
        core.objects.delete(t.nonce);
      } else {
        core.storedCheckpoints.delete(t.seq);
      }
    },
  });
}

/**
 * Node objects a crashed checkpoint wrote but never published: named by a
 * nonce of an earlier reservation and referenced by nothing. They become
 * garbage as of the claim.
 */
async function sweepOrphans(core: Core, below: bigint, claimSeq: number): Promise<void> {
  let found = 0;
  for await (const e of core.o.container.listAll({ prefix: NODE_OBJECT_PREFIX })) {
    if (core.failure !== undefined) return;
    if (e.kind !== 'object') continue;
    const n = parseNodeObjectName(e.name);
    if (n === undefined || n >= below || core.objects.has(n)) continue;
    // No record ever named it, so no state references it: an empty life.
    core.objects.set(n, { birth: 0, death: 0, stored: e.size });
    core.garbage.set(n, claimSeq);
    found++;
  }
  if (found > 0) core.logger.info({ found }, 'unreferenced node objects from an earlier crash will be reclaimed');
}
