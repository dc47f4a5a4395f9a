// Internal state shared by the commit path (db.ts), checkpoints
// (checkpoint.ts), mount (mount.ts) and checks (check.ts). Not exported.

import { cairnError, type CairnError } from '@cairn/errors';
import type { Container } from '@cairn/objstore';
import type { Logger } from 'pino';
import type { CheckpointRecord } from './checkpoint-codec.js';
import type { Failpoints, FailpointName } from './failpoints.js';
import type { NodeCache } from './node-cache.js';
import { Shape, type NodeRef } from './node.js';
import type { NonceAllocator } from './nonces.js';
import type { CheckpointPublisher } from './publisher.js';
import { LiveSpace, ViewRegistry } from './reclaim.js';
import { VolumeState } from './state.js';
import { NodeLoader } from './tree-io.js';

/** The replay log as headhunter uses it (structurally @cairn/replaylog's ReplayLog). */
export interface MetaLog {
  /** LSN the next append gets. LSNs start at 1 and continue across restarts. */
  readonly nextLsn: bigint;
  /** Appends a record; the LSN is assigned at call time; resolves once the record is durable. */
  append(payload: Uint8Array): Promise<bigint>;
  /** Lowest LSN the log still holds: replay(firstLsn - 1n) yields every record it has. */
  readonly firstLsn: bigint;
  /** The records after `afterLsn`, in order (fails with CAIRN_ERR_LOG_CORRUPT if some were discarded). */
  replay(afterLsn: bigint): AsyncIterable<{ lsn: bigint; payload: Buffer }>;
  /** A checkpoint covers the records up to `lsn`: they may go. */
  discardThrough(lsn: bigint): Promise<void>;
  /** Bytes the log holds now. */
  liveBytes(): number;
}

export interface CoreOptions {
  readonly container: Container;
  readonly readOnly: boolean;
  readonly log: MetaLog;
  readonly logger: Logger;
  readonly publisher: CheckpointPublisher;
  readonly cache: NodeCache;
  readonly failpoints: Failpoints | undefined;
  readonly checkpointIntervalMs: number;
  readonly checkpointLogBytes: number;
  readonly checkpointDirtyBytes: number;
  readonly nonceRange: number;
  readonly retainCheckpoints: number;
  readonly deletesPerSecond: number;
  readonly reclaimPaused: boolean;
  readonly maxBatchBytes: number;
  readonly requestTimeoutMs: number;
  readonly checkpointOnClose: boolean;
  /** Compaction rewrites the live nodes of objects whose live bytes are below this fraction of their size. */
  readonly compactBelow: number;
  /** Most live bytes compaction rewrites per checkpoint (0: never). */
  readonly compactBytesPerCheckpoint: number;
}

/** A published checkpoint that is still retained for fallback. */
export interface Retained {
  readonly seq: number;
  readonly commitSeq: number;
  /** The log records up to here are covered by this checkpoint. */
  readonly coverLsn: bigint;
  /** Commits of the snapshots the record lists (a mount of it would have them). */
  readonly snapshots: readonly number[];
}

/** A node object's life in commits (see ObjectLife in checkpoint-codec.ts); death is set once. */
export interface NodeObject {
  readonly birth: number;
  death: number | undefined;
  stored: number;
}

export class Core {
  readonly state = new VolumeState();
  readonly live = new LiveSpace();
  readonly views = new ViewRegistry();
  readonly loader: NodeLoader;
  readonly shape: Shape;
  /** Every node object known to exist (live, held by snapshots, garbage not yet deleted) and its life. */
  readonly objects = new Map<bigint, NodeObject>();
  /** Open read views of snapshots, by the snapshot's commit (what they read is held like the snapshot). */
  readonly snapshotReaders = new ViewRegistry();
  /** Node objects no published checkpoint references any more, with the checkpoint that first dropped them. */
  readonly garbage = new Map<bigint, number>();
  /** Retained published checkpoints, oldest first. */
  readonly retained: Retained[] = [];
  /** Checkpoint records known to exist in the store. */
  readonly storedCheckpoints = new Set<number>();
  /** Random id of this instance (written into its checkpoint records). */
  readonly writer: string;
  /** Newest published record. */
  lastRecord: CheckpointRecord;
  /** Ownership epoch: the number of the checkpoint this mount published to claim the volume. */
  epoch = 0;
  /** Log records of these earlier epochs (up to `through`) belong to the history. */
  inherit: Array<{ epoch: number; through: number }> = [];
  nonces!: NonceAllocator;
  /** Why the volume stopped serving (fenced, log failure, closed). */
  failure: CairnError | undefined;
  /** Highest checkpoint number seen in the store (a newer, unusable record may exist beyond lastRecord). */
  highestSeq = 0;
  /** Wakes the reclaimer (set once it runs). */
  reclaimPoke: (() => void) | undefined;
  /** Estimated memory of the nodes changed since the last checkpoint capture. */
  dirtyBytes = 0;
  /** Highest LSN passed to discardThrough. */
  discarded = 0n;
  /**
   * Every node the state of this commit or an earlier one references is
   * written (the commit of the newest capture whose node object was written):
   * a node object written later holds only nodes of later commits.
   */
  writtenThrough = 0;
  private gen = 0;

  constructor(readonly volumeId: string, readonly o: CoreOptions, record: CheckpointRecord, writer: string) {
    this.lastRecord = record;
    this.writer = writer;
    this.shape = new Shape(record.shape);
    this.loader = new NodeLoader(o.container, o.cache, o.cache.ownerPrefix(), o.requestTimeoutMs, o.logger);
  }

  get log(): MetaLog {
    return this.o.log;
  }

  get logger(): Logger {
    return this.o.logger;
  }

  /** A generation number for a new commit attempt. */
  nextGen(): number {
    return ++this.gen;
  }

  /** Throws the reason the volume stopped serving, if it did. */
  checkServing(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** Stops serving for good: every later operation fails with `err`. */
  stop(err: CairnError, why: string): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    if (err.code === 'CAIRN_ERR_CLOSED') this.logger.info({ volumeId: this.volumeId }, 'headhunter closed the volume');
    else this.logger.error({ err, volumeId: this.volumeId }, `headhunter stops serving the volume: ${why}`);
    this.nonces?.fail(err);
  }

  /** Another writer published a checkpoint: this instance must stop serving. */
  fence(cause: unknown): void {
    const msg = cause instanceof Error ? cause.message : String(cause);
    this.stop(cairnError('CAIRN_ERR_META_FENCED', `${this.volumeId}: ${msg}`, { cause }), 'fenced by another writer');
  }

  async failpoint(name: FailpointName): Promise<void> {
    if (this.o.failpoints !== undefined) await this.o.failpoints.hit(name);
  }

  /** Number for the next checkpoint record. */
  nextSeq(): number {
    return Math.max(this.lastRecord.seq, this.highestSeq) + 1;
  }

  /** Number of the newest published checkpoint (readers register against it). */
  get publishedSeq(): number {
    return this.lastRecord.seq;
  }

  /**
   * Records that a written node left the live trees; `death` is the first
   * commit whose state no longer references it. The object dies with its last
   * live node.
   */
  freeRef(ref: NodeRef, death: number): void {
    if (!this.live.free(ref.nonce, ref.length)) return;
    const o = this.objects.get(ref.nonce);
    if (o !== undefined && o.death === undefined) o.death = death;
  }
}
