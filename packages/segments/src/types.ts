// The public types of the data path: where written bytes land (segment refs,
// write locations), what the writer reports when a segment is durable, extent
// maps, read plans, and the read cache. Code lives in the topic files.

import type { ObjectStore } from '@cairn/objstore';
import type { Logger } from 'pino';

// ---- segments ------------------------------------------------------------------

/** A log segment object: its nonce, the container it lives in and its object name. */
export interface SegmentRef {
  readonly nonce: bigint;
  readonly container: string;
  readonly name: string;
}

/** Finds the object of a segment from its nonce (extent maps keep only the nonce). */
export type SegmentLocator = (nonce: bigint) => SegmentRef;

/** Identifies a file to the writer: an inode number or any string key. */
export type FileKey = string | bigint;

/** Why a segment stopped taking writes. */
export type CloseReason = 'size' | 'time' | 'flush' | 'lru' | 'budget' | 'shutdown';

/** One contiguous run of a write inside one segment. */
export interface WritePiece {
  readonly segment: SegmentRef;
  readonly segmentOffset: number;
  readonly length: number;
}

/** Where the bytes of one write() landed, in order: several pieces when it spilled over segments. */
export interface WriteLocation {
  readonly pieces: readonly WritePiece[];
}

/**
 * One file's run of bytes inside a segment, as the durable hook reports it.
 * Consecutive writes of one file that are contiguous in the file and in the
 * segment are reported as one run.
 */
export interface SegmentWrite {
  readonly fileKey: FileKey;
  /** File offset of the first byte, when write() was told it; else undefined. */
  readonly fileOffset: number | undefined;
  readonly segmentOffset: number;
  readonly length: number;
}

/** A segment whose PUT completed: what the volume layer commits to metadata. */
export interface DurableSegment {
  readonly segment: SegmentRef;
  /** Data bytes (the range extents may reference: [0, size)). */
  readonly size: number;
  /** Bytes of the stored object: data plus the summary trailer. */
  readonly objectSize: number;
  readonly etag: string;
  readonly reason: CloseReason;
  /** Every write the segment holds, in append order (so per file in write order). */
  readonly writes: readonly SegmentWrite[];
}

/** A segment that could not be stored: its writes are lost and nothing may reference it. */
export interface FailedSegment {
  readonly segment: SegmentRef;
  readonly size: number;
  readonly fileKeys: readonly FileKey[];
  readonly error: Error;
}

export interface SegmentWriterOptions {
  readonly store: ObjectStore;
  /** Containers segments are spread over (picked by nonce, see segmentLocator). */
  readonly containers: readonly string[];
  /** A fresh nonce for every segment (never 0, never repeated). */
  readonly nonces: () => Promise<bigint>;
  /** Called once per segment after its PUT completed and before its memory is freed. */
  readonly onDurable: (segment: DurableSegment) => Promise<void>;
  /** Called once per segment that failed for good (after the waiters were told). */
  readonly onFailed?: (segment: FailedSegment) => void;
  /** Segments open for appends at once (default 8). */
  readonly maxOpenSegments?: number;
  /** A segment closes when it holds this many data bytes (default 10 MiB). */
  readonly maxFlushSize?: number;
  /** A segment closes this long after it opened (default 10 000 ms). */
  readonly maxFlushTimeMs?: number;
  /** Bytes held in memory for segments not yet durable (default 4 x maxFlushSize). */
  readonly maxBufferedBytes?: number;
  /**
   * Segments closed by flush whose PUTs may be in flight at once (default 2).
   * Further flushes wait for a slot with their segment still open, so that
   * concurrent writers' flushes share one PUT (group commit).
   */
  readonly maxConcurrentFlushes?: number;
  /** Bytes gathered before one append to the backend connection (default 1 MiB). */
  readonly appendChunkSize?: number;
  /** Extra whole-segment re-sends from memory after a retryable failure (default 2). */
  readonly putRetries?: number;
  /** Delay before the first whole-segment re-send, doubled each time up to 64x (default 200 ms). */
  readonly retryDelayMs?: number;
  /** Append the summary trailer to each segment (default true). */
  readonly writeSummary?: boolean;
  readonly logger?: Logger;
}

export interface WriteOptions {
  /** File offset of data[0]; carried into DurableSegment.writes and pendingExtents. */
  readonly fileOffset?: number;
}

/** Latency summary in milliseconds over the most recent samples. */
export interface LatencyStats {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface SegmentWriterStats {
  readonly openSegments: number;
  /** Segments closed but not yet durable and committed. */
  readonly closingSegments: number;
  /** Bytes held in memory for segments not yet durable and committed. */
  readonly bytesBuffered: number;
  readonly maxBufferedBytes: number;
  /** write() calls not placed yet (queued behind other writes or waiting for buffer space). */
  readonly waitingWrites: number;
  readonly bytesWritten: number;
  readonly bytesDurable: number;
  readonly segmentsOpened: number;
  readonly segmentsClosed: Readonly<Record<CloseReason, number>>;
  readonly segmentsDurable: number;
  readonly segmentsFailed: number;
  /** Whole-segment re-sends from memory. */
  readonly segmentRetries: number;
  /** From close to completed PUT. */
  readonly putLatency: LatencyStats;
  /** From the segment's opening (its first write) to completed PUT. */
  readonly segmentLifetime: LatencyStats;
}

/** Serves bytes of segments not yet durable from memory (read-your-writes). */
export interface PendingReader {
  /**
   * The bytes [offset, offset+length) of a segment that is still pending, or
   * undefined when the writer no longer holds it (then it is durable or failed).
   */
  readPending(segment: SegmentRef | bigint, offset: number, length: number): Buffer | undefined;
}

/** The segment writer pool. Created by createSegmentWriter(options). */
export interface SegmentWriter extends PendingReader {
  /**
   * Appends data of a file to an open segment and says where it landed. Resolves
   * once the bytes are held by the writer (not durable yet). The caller must not
   * modify data until the promise settles. Waits when maxBufferedBytes are held.
   */
  write(fileKey: FileKey, data: Uint8Array, options?: WriteOptions): Promise<WriteLocation>;
  /**
   * Closes the segments holding the file's pending bytes and resolves when each
   * is durable and its onDurable hook resolved. Rejects with the first failure
   * (also one that happened before this call and was not reported yet).
   */
  flush(fileKey: FileKey): Promise<void>;
  /** flush() for every file; rejects if any segment failed since the last flushAll. */
  flushAll(): Promise<void>;
  /** Refuses new writes, waits for writes in progress, then flushAll(). Idempotent. */
  close(): Promise<void>;
  /**
   * Pending writes of a file (made with a fileOffset) in the order they were
   * written: overlay them on the durable extent map to read the file's newest bytes.
   * A write leaves this list only after its segment's onDurable hook resolved.
   */
  pendingExtents(fileKey: FileKey): Extent[];
  /** The object of a segment nonce (same layout the writer uses). */
  locate(nonce: bigint): SegmentRef;
  stats(): SegmentWriterStats;
  on(event: SegmentWriterEvent, listener: (info: Record<string, unknown>) => void): this;
  off(event: SegmentWriterEvent, listener: (info: Record<string, unknown>) => void): this;
}

export type SegmentWriterEvent =
  | 'segment-open'
  | 'segment-close'
  | 'segment-durable'
  | 'segment-failed'
  | 'backpressure'
  | 'drain';

// ---- extent maps ----------------------------------------------------------------

/** What an extent map stores under a file offset. */
export interface ExtentValue {
  readonly nonce: bigint;
  readonly segmentOffset: number;
  readonly length: number;
}

/** An extent with its file offset. */
export interface Extent extends ExtentValue {
  readonly fileOffset: number;
}

/**
 * The ordered map an extent map lives in: number keys (file offsets, safe
 * integers) in ascending order. An in-memory one comes from
 * createMemoryOrderedMap(); a headhunter tree satisfies it too.
 */
export interface OrderedMap<V> {
  /** The entry with the greatest key <= key, if any. */
  floor(key: number): Promise<readonly [number, V] | undefined>;
  /** The entries with fromKey <= key < toKey in ascending order (toKey may be Infinity). */
  scan(fromKey: number, toKey: number): Promise<ReadonlyArray<readonly [number, V]>>;
  put(key: number, value: V): Promise<void>;
  delete(key: number): Promise<void>;
}

export type ExtentMap = OrderedMap<ExtentValue>;

/** Live-byte change per segment nonce caused by one extent-map change (never 0 entries). */
export type SegmentDeltas = Map<bigint, number>;

// ---- read plans and the read cache ---------------------------------------------------

/** Read `length` bytes of a segment object at segmentOffset. */
export interface DataStep {
  readonly fileOffset: number;
  readonly nonce: bigint;
  readonly container: string;
  readonly object: string;
  readonly segmentOffset: number;
  readonly length: number;
}

/** A hole: `zero` bytes of zeros. */
export interface ZeroStep {
  readonly fileOffset: number;
  readonly zero: number;
}

export type ReadStep = DataStep | ZeroStep;

export interface ReadCacheOptions {
  readonly store: ObjectStore;
  /** Bytes per cache line (default 1 MiB). */
  readonly lineSize?: number;
  /** Bytes of lines kept (default 64 MiB). */
  readonly budgetBytes?: number;
  /**
   * Lines fetched ahead of a sequential reader at first (default 4; 0 disables
   * read-ahead); the window doubles while the reader keeps up.
   */
  readonly readAheadLines?: number;
  /** Largest read-ahead window per stream in bytes (default 16 MiB; read-ahead holds at most budgetBytes/2 in all). */
  readonly maxReadAheadBytes?: number;
  readonly logger?: Logger;
}

export interface ReadCacheStats {
  /** Lines found in the cache. */
  readonly hits: number;
  /** Lines that needed a GET. */
  readonly misses: number;
  /** Lines another read was already fetching (shared GET). */
  readonly joined: number;
  /** Lines fetched by read-ahead. */
  readonly readAheads: number;
  /** Read-ahead lines that a later read used. */
  readonly readAheadHits: number;
  readonly evictions: number;
  readonly gets: number;
  readonly bytesFetched: number;
  readonly lines: number;
  readonly bytesCached: number;
  readonly budgetBytes: number;
}

/** A segment object to read: SegmentRef satisfies it. */
export interface ObjectRef {
  readonly container: string;
  readonly name: string;
}

export interface ReadCache {
  /** The bytes [offset, offset+length) of an immutable object. */
  read(ref: ObjectRef, offset: number, length: number): Promise<Buffer>;
  /**
   * The same bytes, copied into target at targetOffset. `next`: where the
   * reader's bytes continue after this range, in order (the following data
   * steps of its file, e.g. `maxReadAheadBytes` of them). A sequential stream
   * whose window reaches past the end of the range fetches the start of those
   * steps ahead, so the next segment's GET is under way before the reader gets
   * there. Only a hint: it never changes what the read returns.
   */
  readInto(ref: ObjectRef, offset: number, length: number, target: Buffer, targetOffset: number, next?: readonly DataStep[]): Promise<void>;
  /** The largest read-ahead window of a stream in bytes: how far ahead `next` is useful. */
  readonly maxReadAheadBytes: number;
  /** Drops the cached lines of an object (after it was deleted). */
  invalidate(ref: ObjectRef): void;
  /** Drops every line. */
  clear(): void;
  stats(): ReadCacheStats;
}

// ---- cleaner ----------------------------------------------------------------------------

export interface SegmentUsage {
  readonly nonce: bigint;
  /** Data bytes of the segment. */
  readonly size: number;
  /** Bytes still referenced by some extent. */
  readonly liveBytes: number;
  /** Age of the youngest data in the segment (ms); older segments are colder. */
  readonly ageMs: number;
}

export interface CleanChoice {
  readonly nonce: bigint;
  /** delete: nothing live; compact: copy the live bytes, then delete. */
  readonly action: 'delete' | 'compact';
  readonly utilization: number;
  /** Sprite LFS benefit/cost (1-u)·age/(1+u); Infinity for empty segments. */
  readonly score: number;
  readonly liveBytes: number;
}

export interface CleanerOptions {
  /** At most this many choices (default unlimited). */
  readonly maxSegments?: number;
  /** At most this many live bytes to copy over all compactions (default unlimited). */
  readonly maxCopyBytes?: number;
  /** Segments at or above this utilization are never compacted (default 0.8). */
  readonly maxUtilization?: number;
  /** Segments younger than this are left alone (default 0). */
  readonly minAgeMs?: number;
}
