// A filesystem volume: formatting (headhunter trees, the meta record, the
// root directory), mounting (replay log, headhunter, segment writer, read
// cache, orphan recovery, background timers) and unmounting (flush every
// pending write, final checkpoint, close). docs/architecture.md "Filesystem
// (inode layer)" numbers the steps.

import { randomUUID } from 'node:crypto';
import { cairnError } from '@cairn/errors';
import { formatVolume, openVolume, type Headhunter, type HeadhunterOptions } from '@cairn/headhunter';
import type { ObjectStore } from '@cairn/objstore';
import { openReplayLog, type ReplayLog } from '@cairn/replaylog';
import { createReadCache, createSegmentWriter, segmentLocator, type SegmentWriter } from '@cairn/segments';
import { pino, type Logger } from 'pino';
import { Vol, type ResolvedOptions } from './context.js';
import { commitSegment, segmentFailed } from './data.js';
import {
  DEFAULT_CAPACITY_BYTES, DEFAULT_INTENT_MAX_BYTES, DEFAULT_INTENT_MAX_FILE_BYTES, DEFAULT_JOURNAL_HORIZON_MS, DEFAULT_JOURNAL_MIN_ENTRIES, DEFAULT_MAX_INODES, FIRST_ENTRY_COOKIE,
  FS_FORMAT_VERSION, FS_MAX_NODE_BYTES, PERM_MASK, ROOT_INO, S_IFDIR, TREE_NAMES,
} from './format.js';
import { compactJournal } from './journal.js';
import { recoverIntents } from './intents.js';
import { FsReader } from './reader.js';
import { reclaimInode, reclaimSegments, recoverOrphans } from './reclaim.js';
import { FsTx } from './tx.js';
import type { FormatFilesystemOptions, MountOptions } from './index.js';

const silent = pino({ level: 'silent' });

/** Wall clock in ns (µs resolution). */
export function wallClockNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

function dataContainersOf(volume: string, given: readonly string[] | undefined): string[] {
  const list = given ?? [`${volume}-data`];
  if (!Array.isArray(list) || list.length === 0) throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'dataContainers must be a non-empty list');
  return [...list];
}

function checkCommon(o: { store?: unknown; volume?: unknown; logDir?: unknown }): void {
  if (o === null || typeof o !== 'object') throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'filesystem options');
  if (!o.store || typeof (o.store as ObjectStore).container !== 'function') throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'store');
  if (typeof o.volume !== 'string' || o.volume.length === 0) throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'volume');
  if (typeof o.logDir !== 'string' || o.logDir.length === 0) throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'logDir');
}

/**
 * Formats a new filesystem: an empty headhunter volume with the filesystem's
 * trees in container `volume`, then one transaction writing the meta record
 * and the root directory (inode 1), then a checkpoint.
 */
export async function formatFilesystem(o: FormatFilesystemOptions): Promise<{ volumeId: string }> {
  checkCommon(o);
  const logger = o.logger ?? silent;
  const dataContainers = dataContainersOf(o.volume, o.dataContainers);
  segmentLocator(dataContainers); // checks the names
  const rootMode = o.rootMode ?? 0o755;
  const uid = o.rootUid ?? 0;
  const gid = o.rootGid ?? 0;
  const { volumeId } = await formatVolume({
    container: o.store.container(o.volume),
    trees: TREE_NAMES,
    volumeId: o.volumeId ?? randomUUID(),
    maxNodeBytes: FS_MAX_NODE_BYTES,
    ...(o.leafMaxEntries !== undefined ? { leafMaxEntries: o.leafMaxEntries } : {}),
    ...(o.indexMaxEntries !== undefined ? { indexMaxEntries: o.indexMaxEntries } : {}),
    logger,
  });
  for (const c of dataContainers) await o.store.container(c).create();
  const log = await openReplayLog({ dir: o.logDir, fsync: o.fsync !== false, logger });
  let hh: Headhunter | undefined;
  try {
    hh = await openVolume({ container: o.store.container(o.volume), log, logger, checkpointOnClose: true });
    const now = (o.clock ?? wallClockNs)();
    await hh.transact((tx) => {
      const t = new FsTx(tx, { now, checkpointSeq: 0 });
      t.initMeta({
        format: FS_FORMAT_VERSION, volumeId, dataContainers, created: now,
        nextIno: ROOT_INO + 1, nextJid: 1, journalFloor: 1, liveBytes: 0, storedBytes: 0,
      });
      t.putInodeRaw(ROOT_INO, {
        mode: S_IFDIR | (rootMode & PERM_MASK), uid, gid, nlink: 2, size: 0,
        atime: now, mtime: now, ctime: now, btime: now, change: 1, dataVersion: 0, rdev: 0,
        parent: ROOT_INO, nextCookie: FIRST_ENTRY_COOKIE,
      });
      t.finish();
    });
    await hh.checkpoint({ force: true });
  } finally {
    await hh?.close();
    await log.close();
  }
  logger.info({ volumeId, ...volumeField(logger, o.volume) }, 'filesystem formatted');
  return { volumeId };
}

/** What mountFilesystem builds; FilesystemImpl (fs.ts) wraps it. */
export interface Mounted {
  readonly vol: Vol;
  readonly timers: NodeJS.Timeout[];
}

function resolveOptions(o: MountOptions, retainCheckpoints: number): ResolvedOptions {
  const num = (x: number | undefined, d: number, what: string, min = 0): number => {
    const v = x ?? d;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw cairnError('CAIRN_ERR_CONFIG_INVALID', `${what} ${String(x)}`);
    return v;
  };
  const atime = o.atime ?? 'relatime';
  if (atime !== 'relatime' && atime !== 'noatime') throw cairnError('CAIRN_ERR_CONFIG_INVALID', `atime ${String(atime)}`);
  return {
    atime,
    capacityBytes: num(o.capacityBytes, DEFAULT_CAPACITY_BYTES, 'capacityBytes', 1),
    maxInodes: num(o.maxInodes, DEFAULT_MAX_INODES, 'maxInodes', 1),
    journalMinEntries: num(o.journal?.minEntries, DEFAULT_JOURNAL_MIN_ENTRIES, 'journal.minEntries'),
    journalHorizonMs: num(o.journal?.horizonMs, DEFAULT_JOURNAL_HORIZON_MS, 'journal.horizonMs'),
    journalCompactIntervalMs: num(o.journal?.compactIntervalMs, 60_000, 'journal.compactIntervalMs'),
    segmentReclaimIntervalMs: num(o.segmentReclaimIntervalMs, 60_000, 'segmentReclaimIntervalMs'),
    retainCheckpoints,
    clock: o.clock ?? wallClockNs,
    intentMaxFileBytes: num(o.intentLog?.maxFileBytes, DEFAULT_INTENT_MAX_FILE_BYTES, 'intentLog.maxFileBytes'),
    intentMaxBytes: num(o.intentLog?.maxBytes, DEFAULT_INTENT_MAX_BYTES, 'intentLog.maxBytes'),
  };
}

/**
 * Mounts a formatted filesystem: M1 open the replay log, M2 open the
 * headhunter volume (checkpoint + replay), M3 read the meta record, M4 start
 * the segment writer and the read cache, M5 finish orphans and trims a crash
 * left, M5b write back the intent log's unresolved bytes (intents.ts), M6 start the background timers (journal compaction, segment deletion).
 */
export async function mount(o: MountOptions): Promise<Mounted> {
  checkCommon(o);
  const logger = o.logger ?? silent;
  const hhOpts: Partial<HeadhunterOptions> = o.headhunter ?? {};
  const retain = hhOpts.retainCheckpoints ?? 2;
  const opts = resolveOptions(o, retain);
  const log: ReplayLog = await openReplayLog({ dir: o.logDir, fsync: o.fsync !== false, logger });
  let hh: Headhunter;
  try {
    hh = await openVolume({ ...hhOpts, container: o.store.container(o.volume), log, logger, checkpointOnClose: false });
  } catch (err) {
    await log.close();
    throw err;
  }
  let writer: SegmentWriter | undefined;
  try {
    const view = hh.view();
    let meta;
    try {
      meta = await new FsReader(view).meta().catch((err: unknown) => {
        throw cairnError('CAIRN_ERR_META_NOT_FORMATTED', `${o.volume} has no filesystem`, { cause: err });
      });
    } finally {
      view.release();
    }
    if (meta.format !== FS_FORMAT_VERSION) throw cairnError('CAIRN_ERR_META_BAD_VERSION', `filesystem format ${meta.format} (this build reads ${FS_FORMAT_VERSION})`);
    const locate = segmentLocator(meta.dataContainers);
    const cache = createReadCache({ store: o.store, logger, ...(o.readCache ?? {}) });
    let vol: Vol | undefined;
    writer = createSegmentWriter({
      ...(o.segments ?? {}),
      store: o.store,
      containers: meta.dataContainers,
      nonces: () => hh.nextNonce(),
      onDurable: (seg) => commitSegment(vol!, seg),
      onFailed: (f) => segmentFailed(vol!, f),
      logger,
    });
    vol = new Vol(hh, o.store, writer, cache, log, logger, opts, meta.volumeId, locate);
    const v = vol;
    v.onUnlinked = (ino) => reclaimInode(v, ino);
    await recoverOrphans(v);
    await recoverIntents(v, v.intents);
    const timers: NodeJS.Timeout[] = [];
    const every = (ms: number, what: string, fn: () => Promise<unknown>): void => {
      if (ms <= 0) return;
      let busy = false;
      const t = setInterval(() => {
        if (busy || v.closed) return;
        busy = true;
        v.tasks.add(fn().catch((err: unknown) => logger.warn({ err }, `${what} failed`)).finally(() => {
          busy = false;
        }));
      }, ms);
      t.unref();
      timers.push(t);
    };
    every(opts.journalCompactIntervalMs, 'journal compaction', () => compactJournal(v));
    every(opts.segmentReclaimIntervalMs, 'segment deletion', () => reclaimSegments(v));
    logger.info({ volumeId: meta.volumeId, ...volumeField(logger, o.volume) }, 'filesystem mounted');
    return { vol: v, timers };
  } catch (err) {
    await writer?.close().catch(() => {});
    await hh.close().catch(() => {});
    await log.close().catch(() => {});
    throw err;
  }
}

/**
 * U1 refuse new operations and wait for running ones, U2 flush every pending
 * write (segments durable, extents committed), U3 wait for background work and
 * reclaim open-unlinked inodes, U4 final checkpoint, U5 close headhunter and
 * the replay log.
 */
export async function unmount(m: Mounted, ops: { idle(): Promise<void> }): Promise<void> {
  const v = m.vol;
  for (const t of m.timers) clearInterval(t);
  await ops.idle();
  try {
    await v.writer.close();
  } catch (err) {
    // The writes of failed segments are lost (flush/fsync reported them); everything else is committed.
    v.logger.error({ err }, 'some pending writes could not be stored during unmount');
  }
  const open = [...new Set([...v.handles.values()].map((h) => h.ino))];
  v.handles.clear();
  v.opens.clear();
  for (const ino of open) await reclaimInode(v, ino);
  await v.tasks.idle();
  v.closed = true;
  v.wakeJournal();
  try {
    await v.hh.checkpoint();
  } catch (err) {
    v.logger.warn({ err }, 'final checkpoint failed; the replay log still holds every commit');
  }
  await v.hh.close();
  await v.log.close();
  v.cache.clear();
}

/** Test support: stops everything without flushing or checkpointing (what a crash leaves). */
export async function abandon(m: Mounted): Promise<void> {
  const v = m.vol;
  for (const t of m.timers) clearInterval(t);
  v.closed = true;
  v.wakeJournal();
  await v.log.close().catch(() => {});
  await v.hh.close().catch(() => {});
  await v.writer.close().catch(() => {});
  v.cache.clear();
}

/** The volume name for a log line, unless the logger already carries it (a child logger of the caller). */
function volumeField(logger: Logger, volume: string): { volume?: string } {
  return logger.bindings()['volume'] === undefined ? { volume } : {};
}
