// Every persistent-format constant of headhunter, in one place. The layouts are
// described in docs/formats.md: "Metadata B+Tree nodes", "Checkpoint records"
// and "Replay-log payloads (headhunter batches)". Version numbers are never
// reused: a changed layout gets the next number.

/** Node object header magic (8 ASCII bytes). */
export const NODE_OBJECT_MAGIC = Buffer.from('CRNHHNOD', 'ascii');
/** Node object header layout version. */
export const NODE_OBJECT_VERSION = 1;
/** Bytes of the node object header. */
export const NODE_OBJECT_HEADER_BYTES = 32;

/** Node record magic (u16, "ND"). */
export const NODE_MAGIC = 0x4e44;
/** Node record layout version. */
export const NODE_VERSION = 1;
/** Bytes of a node record header. */
export const NODE_HEADER_BYTES = 8;
/** Node kinds. Zero is reserved. */
export const NODE_KIND_LEAF = 1;
export const NODE_KIND_INDEX = 2;

/** Checkpoint record magic (8 ASCII bytes). */
export const CHECKPOINT_MAGIC = Buffer.from('CRNHHCKP', 'ascii');
/** Checkpoint record layout version: 2 (node objects carry their life; snapshots list no objects). */
export const CHECKPOINT_VERSION = 2;
/** The previous checkpoint record layout, still read (converted on load). */
export const CHECKPOINT_VERSION_1 = 1;
/** Bytes of the checkpoint record header. */
export const CHECKPOINT_HEADER_BYTES = 20;

/** Replay-log payload magic (u16, "HB"). */
export const PAYLOAD_MAGIC = 0x4842;
/** Replay-log payload layout version. */
export const PAYLOAD_VERSION = 1;
/** Bytes of a payload header. */
export const PAYLOAD_HEADER_BYTES = 8;
/** Payload kinds. Zero is reserved. */
export const PAYLOAD_KIND_COMMIT = 1;

/** Object-name prefixes inside the volume's container (see names.ts). */
export const NODE_OBJECT_PREFIX = 'meta/nodes/';
export const CHECKPOINT_OBJECT_PREFIX = 'meta/checkpoints/';

/** Accounting size of one child reference inside an index node (weight only). */
export const REF_WEIGHT_BYTES = 24;

// ---- defaults (documented in index.ts and docs/architecture.md) ---------------

/** Most entries in a leaf node. */
export const DEFAULT_LEAF_MAX_ENTRIES = 64;
/** Most children of an index node. */
export const DEFAULT_INDEX_MAX_ENTRIES = 128;
/** Most key + value bytes in one node (it splits beyond). */
export const DEFAULT_MAX_NODE_BYTES = 256 * 1024;
/** Smallest allowed maxNodeBytes. */
export const MIN_MAX_NODE_BYTES = 32 * 1024;
/** Smallest allowed fan-out (leaf and index). */
export const MIN_FANOUT = 5;
/** Longest key, in encoded bytes. */
export const MAX_KEY_BYTES = 1024;
/** Node cache budget, bytes (decoded size estimate). */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;
/** Checkpoint every this many ms while anything changed. */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 10_000;
/** Checkpoint when the replay log holds more than this many bytes. */
export const DEFAULT_CHECKPOINT_LOG_BYTES = 64 * 1024 * 1024;
/** Checkpoint when the nodes changed since the last one take about this much memory. */
export const DEFAULT_CHECKPOINT_DIRTY_BYTES = 128 * 1024 * 1024;
/** Nonces reserved per checkpoint record. */
export const DEFAULT_NONCE_RANGE = 1000;
/** Checkpoints kept for fallback (the newest included). */
export const DEFAULT_RETAIN_CHECKPOINTS = 2;
/** Object deletions per second of the reclaimer. */
export const DEFAULT_DELETES_PER_SECOND = 50;
/** Largest encoded commit (one replay-log record). */
export const DEFAULT_MAX_BATCH_BYTES = 8 * 1024 * 1024;
/**
 * Compaction: a node object whose live bytes fall below this fraction of its
 * size has its live nodes rewritten by a checkpoint, so that it dies. Stored
 * node bytes then stay within about 1/fraction of the live ones (4x), plus
 * what snapshots, retained checkpoints and the deletion queue hold.
 */
export const DEFAULT_COMPACT_BELOW = 0.25;
/**
 * Most live bytes compaction rewrites per checkpoint. Keeping up needs about a
 * third of what checkpoints write (an object is rewritten once at most 1/4 of
 * it is live, after 3/4 of it died).
 */
export const DEFAULT_COMPACT_BYTES_PER_CHECKPOINT = 4 * 1024 * 1024;
/** Per-request timeout for object-store calls. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
