// The object-store interface: the one way every byte of Cairn reaches storage.
// Backends (fs, memory, swift, s3) implement ObjectStore; the chaos wrapper
// wraps any of them. Errors are CairnErrors with CAIRN_ERR_OBJ_* codes.

import type { Readable } from 'node:stream';

/** What a head/get/put/close learns about a stored object. */
export interface ObjectInfo {
  /** Object name inside its container. */
  readonly name: string;
  /** Size in bytes of the whole object. */
  readonly size: number;
  /** Backend etag (MD5 hex for fs, memory and Swift; S3's quoted etag unquoted). */
  readonly etag: string;
  /** Last-modified time, milliseconds since the epoch. */
  readonly mtime: number;
  /** User metadata (lower-case keys, string values). */
  readonly meta: Readonly<Record<string, string>>;
}

/** A body to put: a buffer, or a stream / async iterable of unknown length. */
export type PutBody = Uint8Array | Readable | AsyncIterable<Uint8Array>;

export interface PutOptions {
  /** Create-if-absent: fail with CAIRN_ERR_OBJ_PRECONDITION_FAILED if the name exists. */
  readonly ifNoneMatch?: boolean;
  /** User metadata to store with the object (keys: [a-z0-9-], values: printable ASCII). */
  readonly meta?: Readonly<Record<string, string>>;
  /** Known length of a streamed body (optional; buffers know theirs). */
  readonly contentLength?: number;
  readonly signal?: AbortSignal;
}

export interface ByteRange {
  /** First byte, from 0. */
  readonly offset: number;
  /** Number of bytes; omitted = to the end of the object. */
  readonly length?: number;
}

export interface GetOptions {
  readonly range?: ByteRange;
  readonly signal?: AbortSignal;
}

export interface GetResult {
  /** Information about the whole object (size is the whole object's size). */
  readonly info: ObjectInfo;
  /** Offset of the first byte in body. */
  readonly offset: number;
  /** Number of bytes body yields. */
  readonly length: number;
  /** The bytes. The caller must consume or destroy it. */
  readonly body: Readable;
}

export interface DeleteOptions {
  /** Fail with CAIRN_ERR_OBJ_NOT_FOUND when the object does not exist (default: idempotent). */
  readonly mustExist?: boolean;
  readonly signal?: AbortSignal;
}

export interface ListOptions {
  /** Only names starting with prefix. */
  readonly prefix?: string;
  /** Only names strictly greater than marker (lexical, by UTF-8 bytes). */
  readonly marker?: string;
  /** Maximum entries in this page (default and cap: 1000). */
  readonly limit?: number;
  /** Roll names up to the first delimiter after the prefix into { prefix } entries. */
  readonly delimiter?: string;
  readonly signal?: AbortSignal;
}

export type ListEntry =
  | { readonly kind: 'object'; readonly name: string; readonly size: number; readonly etag: string; readonly mtime: number }
  | { readonly kind: 'prefix'; readonly prefix: string };

export interface ListPage {
  readonly entries: readonly ListEntry[];
  /** When set, pass as marker to get the next page. Absent on the last page. */
  readonly nextMarker?: string;
}

/**
 * An object being written by streaming appends: the primitive the log-segment
 * writer pools. Bytes appended are sent to the backend as they come (chunked
 * transfer on Swift/S3); they are durable only once close() resolves. The
 * handle keeps what it sent until close so that a failed upload can be
 * re-sent (bounded by maxSize). Always call close() or abort().
 */
export interface OpenSegment {
  readonly container: string;
  readonly name: string;
  /** Bytes accepted by append so far. */
  readonly bytesAppended: number;
  /** Bytes handed to the backend connection so far (<= bytesAppended). */
  readonly bytesSent: number;
  /** Appends bytes. Resolves when they are buffered; waits (backpressure) when the connection is slow. */
  append(chunk: Uint8Array): Promise<void>;
  /** Finishes the upload; resolves when the object is durable. Retries a failed upload by re-sending. */
  close(): Promise<ObjectInfo>;
  /** Gives up the upload; nothing becomes visible. Idempotent. */
  abort(): Promise<void>;
}

export interface OpenSegmentOptions {
  /** Bytes the segment may hold at most (append past it fails with CAIRN_ERR_OBJ_TOO_LARGE). */
  readonly maxSize?: number;
  readonly meta?: Readonly<Record<string, string>>;
}

/** One container (a Swift container, an S3 bucket, a directory of the fs backend). */
export interface Container {
  readonly name: string;
  /** Creates the container if missing (idempotent). Puts auto-create it too. */
  create(): Promise<void>;
  put(name: string, body: PutBody, options?: PutOptions): Promise<ObjectInfo>;
  get(name: string, options?: GetOptions): Promise<GetResult>;
  /** Reads a whole object or range into memory (for small objects). */
  getBuffer(name: string, options?: GetOptions): Promise<Buffer>;
  head(name: string, options?: { signal?: AbortSignal }): Promise<ObjectInfo>;
  delete(name: string, options?: DeleteOptions): Promise<void>;
  list(options?: ListOptions): Promise<ListPage>;
  /** Iterates every entry page by page (lexical order). */
  listAll(options?: Omit<ListOptions, 'marker'>): AsyncIterable<ListEntry>;
  openSegment(name: string, options?: OpenSegmentOptions): OpenSegment;
}

export interface BackendStats {
  readonly requests: number;
  readonly errors: number;
  readonly retries: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

export interface ObjectStore {
  /** Backend kind: 'fs' | 'memory' | 'swift' | 's3' | 'chaos(...)'. */
  readonly kind: string;
  container(name: string): Container;
  /** Checks the backend is reachable and the credentials work. */
  ping(): Promise<void>;
  stats(): BackendStats;
  /** Releases connections and file handles. */
  close(): Promise<void>;
}
