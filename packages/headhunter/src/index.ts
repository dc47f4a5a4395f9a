// @cairn/headhunter — the per-volume metadata database.
//
// A volume's metadata (inodes, directory entries, extents, segment usage...)
// lives in named copy-on-write B+Trees. Changes are applied in atomic batches
// that are durable in the replay log before they are acknowledged; changed
// nodes stay in memory until a checkpoint packs them into one new object
// named by a nonce and publishes a record naming every root. Mounting reads
// the newest valid checkpoint and replays the log after it. Snapshots pin the
// roots of a moment; objects nothing references any more are deleted in the
// background. docs/architecture.md "headhunter" numbers the commit, checkpoint
// and mount steps; docs/formats.md describes every byte written.
//
// Keys are byte strings compared bytewise; encodeKey() builds them from tuples
// so composite keys sort by their parts. Values are byte strings; encode them
// with a RecordCodec (defineRecord) per record type.

import type { Container } from '@cairn/objstore';
import type { Logger } from 'pino';
import type { CheckpointInfo } from './checkpoint.js';
import type { MetaLog } from './core.js';
import type { Failpoints } from './failpoints.js';
import type { NodeCache, NodeCacheStats } from './node-cache.js';
import type { CheckpointPublisher } from './publisher.js';
import type { ReclaimStats } from './reclaim.js';
import type { LoaderStats } from './tree-io.js';
import type { Entry, KeyRange } from './tree-read.js';
import type { TxnScanOptions } from './txn.js';

export { encodeKey, decodeKey, compareKeys, keyPrefixRange, type Key, type KeyPart } from './keys.js';
export { defineRecord, type RecordCodec, type RecordSpec } from './records.js';
export { createNodeCache, type NodeCache, type NodeCacheStats } from './node-cache.js';
export { createObjectStorePublisher, type CheckpointPublisher, type ObjectStorePublisherOptions } from './publisher.js';
export { createFailpoints, failpointsFromEnv, FAILPOINT_NAMES, type Failpoints, type FailpointName } from './failpoints.js';
export {
  nodeObjectName, parseNodeObjectName, checkpointObjectName, parseCheckpointObjectName, NODE_OBJECT_PREFIX, CHECKPOINT_OBJECT_PREFIX,
} from './names.js';
export { formatVolume, openVolume } from './mount.js';
export type { MetaLog } from './core.js';
export type { CheckpointInfo } from './checkpoint.js';
export type { Entry, KeyRange } from './tree-read.js';
export type { TxnScanOptions } from './txn.js';
export type { ReclaimStats } from './reclaim.js';
export type { LoaderStats } from './tree-io.js';
export {
  DEFAULT_LEAF_MAX_ENTRIES, DEFAULT_INDEX_MAX_ENTRIES, DEFAULT_MAX_NODE_BYTES, DEFAULT_CACHE_BYTES,
  DEFAULT_CHECKPOINT_INTERVAL_MS, DEFAULT_CHECKPOINT_LOG_BYTES, DEFAULT_CHECKPOINT_DIRTY_BYTES, DEFAULT_NONCE_RANGE, DEFAULT_RETAIN_CHECKPOINTS,
  DEFAULT_DELETES_PER_SECOND, DEFAULT_MAX_BATCH_BYTES, MAX_KEY_BYTES, DEFAULT_COMPACT_BELOW, DEFAULT_COMPACT_BYTES_PER_CHECKPOINT,
} from './format.js';

/** Options of formatVolume(): create an empty volume. */
export interface FormatOptions {
  /** Container that will hold the volume's node objects (and checkpoint records, with the default publisher). */
  readonly container: Container;
  /** Fencing/publishing mechanism; default: create-if-absent records in `container`. */
  readonly publisher?: CheckpointPublisher;
  /** Trees to create (more can be created later with createTree). */
  readonly trees?: readonly string[];
  /** Most entries in a leaf (default 64; at least 5). ProxyFS used 32-256: smaller leaves write less per random change, larger ones need fewer reads per scan. */
  readonly leafMaxEntries?: number;
  /** Most children of an index node (default 128; at least 5). */
  readonly indexMaxEntries?: number;
  /** Most key+value bytes in a node (default 256 KiB; one entry may take 1/8 of it). */
  readonly maxNodeBytes?: number;
  /** Volume id (default: a random UUID). */
  readonly volumeId?: string;
  readonly logger?: Logger;
}

/** Options of openVolume(): mount a formatted volume. */
export interface HeadhunterOptions {
  readonly container: Container;
  /** The volume's replay log, opened by the caller; close it after close() resolved. Optional with readOnly. */
  readonly log?: MetaLog;
  /**
   * Mount without claiming the volume (inspection, fsck): no replay-log writes,
   * no checkpoints, no deletions, the current owner is not fenced; commits,
   * checkpoint() and nextNonce() fail with CAIRN_ERR_META_READ_ONLY. With a log,
   * its records are replayed in memory. Objects the owner deletes meanwhile may
   * make reads fail.
   */
  readonly readOnly?: boolean;
  readonly logger?: Logger;
  readonly publisher?: CheckpointPublisher;
  /** A node cache to use (may be shared by volumes); default: a private one of cacheBytes. */
  readonly cache?: NodeCache;
  /** Budget of the private node cache, bytes (default 64 MiB). */
  readonly cacheBytes?: number;
  /** Checkpoint this often while anything changed (default 10 000 ms). */
  readonly checkpointIntervalMs?: number;
  /** Checkpoint when the replay log holds more than this (default 64 MiB). */
  readonly checkpointLogBytes?: number;
  /** Checkpoint when the nodes changed since the last one take about this much memory (default 64 MiB). */
  readonly checkpointDirtyBytes?: number;
  /** Nonces reserved per checkpoint record (default 1000). */
  readonly nonceRange?: number;
  /** Published checkpoints kept for fallback, the newest included (default 2). */
  readonly retainCheckpoints?: number;
  /** Object deletions per second of the reclaimer (default 50). */
  readonly deletesPerSecond?: number;
  /** Start with the reclaimer paused. */
  readonly reclaimPaused?: boolean;
  /** Largest encoded commit, bytes (default 8 MiB). */
  readonly maxBatchBytes?: number;
  /** Timeout per object-store request (default 30 000 ms). */
  readonly requestTimeoutMs?: number;
  /** Write a checkpoint in close() (default true). */
  readonly checkpointOnClose?: boolean;
  /**
   * Compaction threshold: a checkpoint rewrites the live nodes of node objects
   * whose live bytes are below this fraction of their size, so the rest of
   * the object can be deleted (default 0.25; 0 turns compaction off).
   */
  readonly compactBelow?: number;
  /** Most live bytes compaction rewrites per checkpoint, sparsest objects first (default 4 MiB; 0 turns it off). */
  readonly compactBytesPerCheckpoint?: number;
  /** Armed failpoints (tests). */
  readonly failpoints?: Failpoints;
}

/** One change of a batch. */
export type BatchOp =
  | { readonly type: 'put'; readonly tree: string; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: 'del'; readonly tree: string; readonly key: Uint8Array };

/** Where a commit went. */
export interface CommitInfo {
  /** Commit sequence number (one more per commit of the volume). */
  readonly seq: number;
  /** Replay-log LSN of its record (0n for a transaction that changed nothing). */
  readonly lsn: bigint;
}

/** Options of a scan: bounds, direction and a limit. */
export interface RangeOptions extends KeyRange {
  /** Descending order (from the upper bound down). */
  readonly reverse?: boolean;
  /** At most this many entries (scan default 1000; range default unlimited). */
  readonly limit?: number;
}

/**
 * Read access to one tree at one moment per call (live trees) or at one fixed
 * moment (views and snapshots). Returned buffers are shared: never modify them.
 */
export interface TreeReader {
  readonly name: string;
  get(key: Uint8Array): Promise<Buffer | undefined>;
  has(key: Uint8Array): Promise<boolean>;
  /** Streams entries in key order (reverse: descending); one consistent moment for the whole iteration. */
  range(options?: RangeOptions): AsyncIterable<Entry>;
  /** Collects up to `limit` (default 1000) entries: one page of a paginated listing (continue with gt/lt). */
  scan(options?: RangeOptions): Promise<Entry[]>;
  /** Entries within the range (the whole tree: O(1)). */
  count(range?: KeyRange): Promise<number>;
  first(): Promise<Entry | undefined>;
  last(): Promise<Entry | undefined>;
}

/** A consistent, read-only moment of every tree. Call release() when done (it holds the objects it may read). */
export interface ReadView {
  /** The last commit the view includes. */
  readonly commitSeq: number;
  tree(name: string): TreeReader;
  treeNames(): string[];
  release(): void;
}

/**
 * A synchronous transaction (transact()). Reads see its own writes. The
 * function may run more than once (when it needs nodes that are not in
 * memory): keep it free of side effects and never swallow its exceptions.
 */
export interface Txn {
  get(tree: string, key: Uint8Array): Buffer | undefined;
  has(tree: string, key: Uint8Array): boolean;
  scan(tree: string, options?: TxnScanOptions): Entry[];
  count(tree: string, range?: KeyRange): number;
  put(tree: string, key: Uint8Array, value: Uint8Array): void;
  /**
   * put() without the defensive copies: the tree keeps `key` and `value`
   * themselves, so the caller must never change them afterwards (for buffers
   * it just encoded and hands over). get() may return `value` itself.
   */
  putOwned(tree: string, key: Buffer, value: Buffer): void;
  del(tree: string, key: Uint8Array): void;
}

export interface SnapshotInfo {
  readonly name: string;
  /** Creation time, ms since the epoch. */
  readonly createdAt: number;
  /** The commit that created it (it holds everything before). */
  readonly commitSeq: number;
  /** Entries per tree. */
  readonly counts: Readonly<Record<string, number>>;
}

export interface CheckReport {
  readonly ok: boolean;
  /** Every violated invariant, in words. */
  readonly errors: string[];
  readonly trees: Readonly<Record<string, { count: number; height: number; nodes: number }>>;
  /** False when a checkpoint ran during the check, so the space accounting could not be compared. */
  readonly spaceChecked: boolean;
}

export interface HeadhunterStats {
  readonly volumeId: string;
  readonly commitSeq: number;
  readonly commits: number;
  readonly epoch: number;
  readonly checkpoint: { readonly seq: number; readonly published: number; readonly failed: number; readonly inFlight: boolean; readonly last: CheckpointInfo | undefined };
  readonly cache: NodeCacheStats;
  readonly loader: LoaderStats;
  readonly nonces: { readonly next: bigint; readonly durableLimit: bigint; readonly waiting: number };
  readonly reclaim: ReclaimStats;
  /** Node objects holding live nodes, and their live bytes. */
  readonly liveObjects: number;
  readonly liveBytes: number;
  /** Node objects waiting for deletion (held by snapshots, retained checkpoints or readers, or queued). */
  readonly garbageObjects: number;
  /** Bytes of every node object not yet deleted (0 counted for objects of unknown size). */
  readonly storedBytes: number;
  readonly openReaders: number;
  readonly logBytes: number;
  /** Why the volume stopped serving, if it did. */
  readonly stopped: string | undefined;
}

/** A mounted volume. */
export interface Headhunter {
  readonly volumeId: string;
  /** Size limits of this volume: longest key, and longest key + value of one entry (bytes). */
  readonly limits: { readonly maxKeyBytes: number; readonly maxEntryBytes: number };
  /** The live tree `name`: each call reads the newest commit. */
  tree(name: string): TreeReader;
  treeNames(): string[];
  /** Applies the ops in order, atomically; resolves once the commit is durable (replay log). */
  batch(ops: readonly BatchOp[]): Promise<CommitInfo>;
  /** Runs `fn` against the newest state and commits its writes atomically; resolves once durable. */
  transact<T>(fn: (tx: Txn) => T): Promise<{ result: T; commit: CommitInfo }>;
  /** Creates an empty tree (durable when resolved). */
  createTree(name: string): Promise<CommitInfo>;
  /** A consistent read view of the newest commit (O(1)). */
  view(): ReadView;
  /** A nonce never handed out before (for naming new objects); waits only when a reservation must be published. */
  nextNonce(): Promise<bigint>;
  /** Writes a checkpoint now (merges with one in progress); `force` even when nothing changed. */
  checkpoint(options?: { force?: boolean }): Promise<CheckpointInfo>;
  /**
   * Creates a named snapshot of every tree at this commit (durable when
   * resolved). O(1) in volume size: it pins the roots; the node objects it
   * references are kept through their birth and death commits, not listed.
   */
  createSnapshot(name: string): Promise<SnapshotInfo>;
  listSnapshots(): SnapshotInfo[];
  deleteSnapshot(name: string): Promise<void>;
  /** Read-only view of a snapshot; release() when done. */
  snapshot(name: string): ReadView;
  pauseReclaim(): void;
  resumeReclaim(): void;
  /** Verifies every invariant of every tree and of the space accounting (reads the whole volume). */
  check(): Promise<CheckReport>;
  stats(): HeadhunterStats;
  /** Waits for running commits, writes a final checkpoint (unless disabled), stops background work. */
  close(): Promise<void>;
}
